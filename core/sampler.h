/* sampler.h — reverse-time samplers for the VE and VP SDEs (Song et al. 2021).
 *
 * The score ∇x log p_t(x) comes from a callback, so the same samplers run on a trained model
 * (score = h(x, t, z) / s(t), model.h) and on analytic scores in the tests.
 *   em   Euler–Maruyama on the reverse SDE  dx = [f(x,t) − g(t)² ∇log p_t(x)] dt + g(t) dw̄
 *   pc   predictor–corrector: the EM predictor, then `corrector_steps` annealed Langevin steps
 *        whose size is set by the signal-to-noise ratio `snr`
 *   ode  the probability-flow ODE  dx/dt = f(x,t) − ½ g(t)² ∇log p_t(x), Heun's 2nd-order method
 *        (deterministic: the only randomness is the initial noise)
 * Time runs from t_init (1: start from the prior; < 1: start from x0 noised to t_init, for
 * reconstruction and editing) down to t_eps, in `steps` equal steps; with `denoise` a final
 * Tweedie step x ← (x + s(t)² ∇log p)/α(t) removes the last noise. All randomness comes from
 * `seed`: the same seed gives the same samples. With `shared_noise` every sample of the batch
 * gets the same noise (the draws of the first), so samples differ only by what their score
 * callback conditions on (a grid of codes, say). */
#ifndef DRL_SAMPLER_H
#define DRL_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/* score (B, n) = ∇x log p_t(x) at x (B, n), one time t for the whole batch. Returns 0 or a
 * DRL_E* code (e.g. DRL_ECANCELLED when the caller wants to stop). */
typedef int (*drl_score_fn)(void *user, const float *x, float t, float *score, int B);

typedef enum { DRL_SAMPLER_EM = 0, DRL_SAMPLER_PC = 1, DRL_SAMPLER_ODE = 2 } drl_sampler_kind;

typedef struct {
    drl_sampler_kind kind;
    int steps;           /* number of time steps (>= 1) */
    float t_init;        /* in (t_eps, 1] */
    float snr;           /* Langevin corrector signal-to-noise ratio (pc), 0.16 */
    int corrector_steps; /* Langevin steps per time step (pc), 1 */
    int denoise;         /* final Tweedie step */
    uint64_t seed;
    int shared_noise;    /* every row gets row 0's noise (default 0: independent rows) */
} drl_sampler_cfg;

drl_sampler_cfg drl_sampler_defaults(void);
/* "em" / "pc" / "ode" → kind; returns -1 for an unknown name. */
int drl_sampler_parse(const char *name);
const char *drl_sampler_name(drl_sampler_kind k);
int drl_sampler_validate(drl_err *err, const drl_config *sde, const drl_sampler_cfg *cfg);

/* Draws B samples of n floats into x. When cfg->t_init < 1, x0 (B, n) is the data noised to
 * t_init as the starting point (required then; ignored otherwise). work holds 3·B·n floats. */
int drl_sample(drl_err *err, const drl_config *sde, const drl_sampler_cfg *cfg, drl_score_fn score,
               void *user, const float *x0, float *x, int B, size_t n, float *work);

#endif
