/* sde.h — the forward diffusions of Song et al. 2021, as used by DRL.
 *
 * VE:  dx = sqrt(d σ²(t)/dt) dw,  σ(t) = σ_min (σ_max/σ_min)^t,  x_t = x0 + σ(t) ε.
 * VP:  dx = -½ β(t) x dt + sqrt(β(t)) dw,  β(t) = β_min + t (β_max - β_min),
 *      x_t = α(t) x0 + s(t) ε with α(t) = exp(-¼ t² (β_max-β_min) - ½ t β_min), s² = 1 - α².
 * The score network predicts h ≈ -ε and the score is h / s(t), so the weighted loss
 * λ(t)‖s_θ - ∇log p‖² with λ = s(t)² is ‖h + ε‖². */
#ifndef DRL_SDE_H
#define DRL_SDE_H

#include "config.h"
#include "rng.h"

/* Mean coefficient α(t) of x_t given x0 (1 for VE). */
double drl_sde_alpha(const drl_config *c, double t);
/* Marginal standard deviation s(t) of x_t given x0 (σ(t) for VE). */
double drl_sde_std(const drl_config *c, double t);
/* Drift coefficient: f(x, t) = drl_sde_drift(c, t) * x. */
double drl_sde_drift(const drl_config *c, double t);
/* Diffusion coefficient g(t). */
double drl_sde_diffusion(const drl_config *c, double t);
/* The scalar fed to the Fourier time embedding: log σ(t) for VE, t for VP. */
float drl_sde_noise_input(const drl_config *c, double t);
/* Time t with std s(t) = s (inverse of drl_sde_std), clamped to [t_eps, 1]. */
double drl_sde_t_of_std(const drl_config *c, double s);
/* The loss weight at t relative to λ(t) = s(t)² (the config's weighting): 1 for "sigma2",
 * min(1, γ s²/α²) for "min_snr", max(1, s²/α²) for "truncated_snr". */
double drl_sde_loss_weight(const drl_config *c, double t);
/* Draws one training time from the configured distribution over [t_min, t_max]. */
double drl_sde_sample_t(const drl_config *c, drl_rng *rng);

#endif
