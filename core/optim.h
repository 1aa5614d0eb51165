/* optim.h — Adam / AdamW over one flat parameter block, learning-rate warm-up, gradient-norm
 * clipping, and an exponential moving average of the weights.
 *
 * A model keeps all parameters in one contiguous array (and gradients, m, v likewise), so the
 * optimiser is a loop over n floats, never per-layer code. */
#ifndef DRL_OPTIM_H
#define DRL_OPTIM_H

#include <stddef.h>

typedef struct {
    float lr;           /* peak learning rate */
    float beta1, beta2; /* 0.9, 0.999 */
    float eps;          /* 1e-8 */
    float weight_decay; /* decoupled (AdamW) when > 0 */
    int warmup;         /* linear warm-up steps (0 = none) */
    float clip;         /* max global gradient L2 norm (<= 0: no clipping) */
    long decay_steps;   /* cooldown: lr falls linearly towards 0 over the last decay_steps steps */
    long decay_end;     /*   before step decay_end (the run's length); either 0: constant lr */
} drl_adam_cfg;

/* Defaults: lr 2e-4, betas (0.9, 0.999), eps 1e-8, no weight decay, warm-up 0, no clipping, no
 * cooldown. */
drl_adam_cfg drl_adam_defaults(void);

/* Learning rate at optimiser step `step` (0-based): lr * min(1, (step+1)/warmup), times
 * (decay_end - step) / decay_steps in the cooldown, the last decay_steps steps before decay_end
 * (lr on its first step, lr / decay_steps on the last, 0 from decay_end on)
 * (warm-up, constant, then linear decay: a run can be cooled down late by resuming it with a
 * final length and a cooldown). */
float drl_adam_lr_at(const drl_adam_cfg *cfg, long step);

/* Global L2 norm of g (n floats), accumulated in double. */
double drl_grad_norm(const float *g, size_t n);

/* One update of params (n) from grads, with moments m, v (n, zero at start). step is the 0-based
 * count of previous updates (bias correction uses step+1). Clips g by cfg->clip using its global
 * norm first (g is scaled in place). Returns the gradient norm before clipping. */
double drl_adam_step(const drl_adam_cfg *cfg, float *params, float *grads, float *m, float *v,
                     size_t n, long step);

/* ema = decay * ema + (1 - decay) * params. */
void drl_ema_update(float *ema, const float *params, size_t n, float decay);
/* EMA decay with warm-up: min(max_decay, (1 + n) / (10 + n)) after n updates. */
float drl_ema_decay_at(float max_decay, long n);

#endif
