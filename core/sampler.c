/* sampler.c — Euler–Maruyama, predictor–corrector and probability-flow ODE samplers (see
 * sampler.h). The SDE coefficients come from sde.c; the score from the caller. */
#include "sampler.h"

#include <math.h>
#include <string.h>

#include "rng.h"
#include "sde.h"

drl_sampler_cfg drl_sampler_defaults(void) {
    drl_sampler_cfg c = {DRL_SAMPLER_PC, 500, 1.0f, 0.16f, 1, 1, 0, 0};
    return c;
}

int drl_sampler_parse(const char *name) {
    if (!strcmp(name, "em")) return DRL_SAMPLER_EM;
    if (!strcmp(name, "pc")) return DRL_SAMPLER_PC;
    if (!strcmp(name, "ode")) return DRL_SAMPLER_ODE;
    return -1;
}

const char *drl_sampler_name(drl_sampler_kind k) {
    return k == DRL_SAMPLER_EM ? "em" : k == DRL_SAMPLER_ODE ? "ode" : "pc";
}

int drl_sampler_validate(drl_err *err, const drl_config *sde, const drl_sampler_cfg *c) {
    if (c->kind < DRL_SAMPLER_EM || c->kind > DRL_SAMPLER_ODE) return drl_errf(err, DRL_EINVAL, "sampler: unknown kind");
    if (c->steps < 1 || c->steps > 100000) return drl_errf(err, DRL_EINVAL, "sampler: steps %d out of range 1..100000", c->steps);
    if (!(c->t_init > sde->t_eps && c->t_init <= 1.0f))
        return drl_errf(err, DRL_EINVAL, "sampler: t_init %g must be in (t_eps = %g, 1]", c->t_init, sde->t_eps);
    if (!(c->snr > 0.0f && c->snr < 10.0f)) return drl_errf(err, DRL_EINVAL, "sampler: snr must be in (0, 10)");
    if (c->corrector_steps < 0 || c->corrector_steps > 100) return drl_errf(err, DRL_EINVAL, "sampler: corrector_steps must be 0..100");
    return 0;
}

/* dx/dt of the probability-flow ODE into d. */
static int ode_drift(const drl_config *sde, drl_score_fn score, void *user, const float *x, double t,
                     float *d, int B, size_t n) {
    int rc = score(user, x, (float)t, d, B);
    if (rc) return rc;
    float f = (float)drl_sde_drift(sde, t), g2 = (float)(drl_sde_diffusion(sde, t) * drl_sde_diffusion(sde, t));
    for (size_t i = 0; i < (size_t)B * n; i++) d[i] = f * x[i] - 0.5f * g2 * d[i];
    return 0;
}

/* B rows of n standard normals into z: independent draws, or row 0's draws copied to every row.
 * Without sharing the draws come in the order of a plain loop over z. */
static void normals(drl_rng *rng, float *z, int B, size_t n, int shared) {
    size_t rows = shared ? 1 : (size_t)B;
    for (size_t i = 0; i < rows * n; i++) z[i] = drl_rng_normal(rng);
    for (int b = 1; shared && b < B; b++) memcpy(z + (size_t)b * n, z, n * sizeof(float));
}

static double sq_norm(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return s;
}

int drl_sample(drl_err *err, const drl_config *sde, const drl_sampler_cfg *cfg, drl_score_fn score,
               void *user, const float *x0, float *x, int B, size_t n, float *work) {
    int rc = drl_sampler_validate(err, sde, cfg);
    if (rc) return rc;
    if (cfg->t_init < 1.0f && !x0) return drl_errf(err, DRL_EINVAL, "sampler: t_init < 1 needs the images to noise");
    size_t N = (size_t)B * n;
    float *s = work, *d1 = work + N, *xp = work + 2 * N;
    drl_rng rng;
    drl_rng_seed(&rng, cfg->seed);
    double T = cfg->t_init, eps = sde->t_eps, h = (T - eps) / cfg->steps;

    /* start: the prior at t = 1, or the data noised to t_init */
    normals(&rng, xp, B, n, cfg->shared_noise);
    if (cfg->t_init >= 1.0f) {
        float sd = (float)drl_sde_std(sde, 1.0);
        for (size_t i = 0; i < N; i++) x[i] = sd * xp[i];
    } else {
        float al = (float)drl_sde_alpha(sde, T), sd = (float)drl_sde_std(sde, T);
        for (size_t i = 0; i < N; i++) x[i] = al * x0[i] + sd * xp[i];
    }

    for (int k = 0; k < cfg->steps; k++) {
        double t = T - k * h, tn = t - h;
        if (cfg->kind == DRL_SAMPLER_ODE) {
            /* Heun: Euler predictor, trapezoidal corrector (skipped on the last step, where the
             * end point t_eps is not evaluated twice). */
            if ((rc = ode_drift(sde, score, user, x, t, d1, B, n))) return rc;
            for (size_t i = 0; i < N; i++) xp[i] = x[i] - (float)h * d1[i];
            if (k + 1 < cfg->steps) {
                if ((rc = ode_drift(sde, score, user, xp, tn, s, B, n))) return rc;
                for (size_t i = 0; i < N; i++) x[i] -= (float)(0.5 * h) * (d1[i] + s[i]);
            } else {
                memcpy(x, xp, N * sizeof(float));
            }
            continue;
        }
        /* predictor: Euler–Maruyama on the reverse SDE */
        if ((rc = score(user, x, (float)t, s, B))) return rc;
        float f = (float)drl_sde_drift(sde, t), g = (float)drl_sde_diffusion(sde, t);
        float sq = (float)sqrt(h) * g;
        int last = k + 1 == cfg->steps;
        if (!last) normals(&rng, d1, B, n, cfg->shared_noise);
        for (size_t i = 0; i < N; i++) {
            float mean = x[i] - (float)h * (f * x[i] - g * g * s[i]);
            x[i] = last ? mean : mean + sq * d1[i];
        }
        if (cfg->kind != DRL_SAMPLER_PC || last) continue;
        /* corrector: Langevin MCMC at the new time, step from the signal-to-noise ratio */
        for (int c = 0; c < cfg->corrector_steps; c++) {
            if ((rc = score(user, x, (float)tn, s, B))) return rc;
            double alpha = 1.0;
            if (sde->sde == DRL_SDE_VP) alpha = 1.0 - (sde->beta_min + tn * (sde->beta_max - sde->beta_min)) * h;
            normals(&rng, d1, B, n, cfg->shared_noise);
            for (int b = 0; b < B; b++) {
                double gn = sqrt(sq_norm(s + (size_t)b * n, n)), zn = sqrt(sq_norm(d1 + (size_t)b * n, n));
                double step = gn > 0 ? 2.0 * alpha * (cfg->snr * zn / gn) * (cfg->snr * zn / gn) : 0.0;
                float st = (float)step, ns = (float)sqrt(2.0 * step);
                for (size_t i = (size_t)b * n; i < (size_t)(b + 1) * n; i++) x[i] += st * s[i] + ns * d1[i];
            }
        }
    }
    if (cfg->denoise) {
        if ((rc = score(user, x, (float)eps, s, B))) return rc;
        float al = (float)drl_sde_alpha(sde, eps), sd = (float)drl_sde_std(sde, eps);
        for (size_t i = 0; i < N; i++) x[i] = (x[i] + sd * sd * s[i]) / al;
    }
    return 0;
}
