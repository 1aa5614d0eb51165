/* sde.c — VE and VP diffusion coefficients and the training-time distribution (see sde.h). */
#include "sde.h"

#include <math.h>

static double vp_log_alpha(const drl_config *c, double t) {
    return -0.25 * t * t * (c->beta_max - c->beta_min) - 0.5 * t * c->beta_min;
}

double drl_sde_alpha(const drl_config *c, double t) {
    return c->sde == DRL_SDE_VE ? 1.0 : exp(vp_log_alpha(c, t));
}

double drl_sde_std(const drl_config *c, double t) {
    if (c->sde == DRL_SDE_VE) return c->sigma_min * pow((double)c->sigma_max / c->sigma_min, t);
    return sqrt(-expm1(2.0 * vp_log_alpha(c, t)));
}

double drl_sde_drift(const drl_config *c, double t) {
    if (c->sde == DRL_SDE_VE) return 0.0;
    return -0.5 * (c->beta_min + t * (c->beta_max - c->beta_min));
}

double drl_sde_diffusion(const drl_config *c, double t) {
    if (c->sde == DRL_SDE_VE) {
        double s = drl_sde_std(c, t);
        return s * sqrt(2.0 * log((double)c->sigma_max / c->sigma_min));
    }
    return sqrt(c->beta_min + t * (c->beta_max - c->beta_min));
}

float drl_sde_noise_input(const drl_config *c, double t) {
    return c->sde == DRL_SDE_VE ? (float)log(drl_sde_std(c, t)) : (float)t;
}

double drl_sde_t_of_std(const drl_config *c, double s) {
    double t;
    if (c->sde == DRL_SDE_VE) {
        t = log(s / c->sigma_min) / log((double)c->sigma_max / c->sigma_min);
    } else {
        /* Solve -¼ t² Δβ - ½ t β_min = ½ log(1 - s²) for t >= 0. */
        double db = c->beta_max - c->beta_min, rhs = 0.5 * log1p(-s * s);
        double a = 0.25 * db, b = 0.5 * c->beta_min;
        t = a > 0 ? (-b + sqrt(b * b - 4.0 * a * rhs)) / (2.0 * a) : -rhs / b;
    }
    if (!(t >= c->t_eps)) t = c->t_eps;
    if (t > 1.0) t = 1.0;
    return t;
}

double drl_sde_sample_t(const drl_config *c, drl_rng *rng) {
    double u = drl_rng_uniform(rng);
    if (c->tdist == DRL_TDIST_SIGMA_UNIFORM) {
        double s0 = drl_sde_std(c, c->t_min), s1 = drl_sde_std(c, c->t_max);
        return drl_sde_t_of_std(c, s0 + u * (s1 - s0));
    }
    return c->t_min + u * (c->t_max - c->t_min);
}

double drl_sde_loss_weight(const drl_config *c, double t) {
    if (c->weighting == DRL_WEIGHT_SIGMA2) return 1.0;
    double al = drl_sde_alpha(c, t), sd = drl_sde_std(c, t);
    double inv_snr = sd * sd / (al * al);
    if (c->weighting == DRL_WEIGHT_TRUNC_SNR) return inv_snr > 1.0 ? inv_snr : 1.0;
    double w = c->snr_gamma * inv_snr; /* γ / SNR */
    return w < 1.0 ? w : 1.0;
}
