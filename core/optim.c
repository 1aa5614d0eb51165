/* optim.c — Adam / AdamW, warm-up, gradient clipping and weight EMA (see optim.h).
 *
 * The update is PyTorch's (torch.optim.Adam / AdamW, single-tensor path), step t = step + 1:
 *   p *= 1 - lr·wd                                   (AdamW only, before the moment update)
 *   m  = β1 m + (1-β1) g        v = β2 v + (1-β2) g²
 *   p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps)
 * which is lr · mhat / (sqrt(vhat) + eps) with mhat = m/(1-β1^t), vhat = v/(1-β2^t).
 * Clipping follows torch.nn.utils.clip_grad_norm_: scale = clip / (norm + 1e-6), applied if < 1.
 *
 * The gradient norm is summed in a fixed number of fixed-size chunks, then the chunk sums are added
 * in order, so it is the same for any thread count. Updates are elementwise.
 */
#include "optim.h"

#include <math.h>

/* Below this many elements an OpenMP loop runs on the calling thread only. */
#define PAR_MIN 32768
/* Chunks of the gradient-norm reduction (fixed, independent of the thread count). */
#define NORM_CHUNKS 64

drl_adam_cfg drl_adam_defaults(void) {
    drl_adam_cfg c = {
        .lr = 2e-4f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
        .weight_decay = 0.0f,
        .warmup = 0,
        .clip = 0.0f,
        .decay_steps = 0,
        .decay_end = 0,
    };
    return c;
}

float drl_adam_lr_at(const drl_adam_cfg *cfg, long step) {
    if (step < 0) step = 0;
    double lr = cfg->lr;
    if (cfg->warmup > 0 && step + 1 < cfg->warmup) lr = lr * (double)(step + 1) / (double)cfg->warmup;
    if (cfg->decay_steps > 0 && cfg->decay_end > 0 && step >= cfg->decay_end - cfg->decay_steps) {
        const double left = (double)(cfg->decay_end - step) / (double)cfg->decay_steps;
        lr *= left > 0.0 ? left : 0.0;
    }
    return (float)lr;
}

double drl_grad_norm(const float *g, size_t n) {
    double part[NORM_CHUNKS];
    const size_t chunk = (n + NORM_CHUNKS - 1) / NORM_CHUNKS;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int c = 0; c < NORM_CHUNKS; c++) {
        const size_t lo = (size_t)c * chunk;
        const size_t hi = lo + chunk < n ? lo + chunk : n;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)g[i] * (double)g[i];
        part[c] = s;
    }
    double s = 0.0;
    for (int c = 0; c < NORM_CHUNKS; c++) s += part[c];
    return sqrt(s);
}

double drl_adam_step(const drl_adam_cfg *cfg, float *params, float *grads, float *m, float *v,
                     size_t n, long step) {
    const double norm = drl_grad_norm(grads, n);
    if (cfg->clip > 0.0f) {
        const double coef = (double)cfg->clip / (norm + 1e-6);
        if (coef < 1.0) {
            const float s = (float)coef;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
            for (size_t i = 0; i < n; i++) grads[i] *= s;
        }
    }
    const double lr = drl_adam_lr_at(cfg, step);
    const double t = (double)step + 1.0;
    const double bc1 = 1.0 - pow((double)cfg->beta1, t);
    const double bc2 = 1.0 - pow((double)cfg->beta2, t);
    const float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    const float omb1 = (float)(1.0 - (double)b1), omb2 = (float)(1.0 - (double)b2);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay = cfg->weight_decay > 0.0f ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float g = grads[i];
        m[i] = b1 * m[i] + omb1 * g;
        v[i] = b2 * v[i] + omb2 * g * g;
        const float p = params[i] * decay;
        params[i] = p - step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
    return norm;
}

void drl_ema_update(float *ema, const float *params, size_t n, float decay) {
    const float a = decay, b = (float)(1.0 - (double)decay);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) ema[i] = a * ema[i] + b * params[i];
}

float drl_ema_decay_at(float max_decay, long n) {
    if (n < 0) n = 0;
    const double d = (1.0 + (double)n) / (10.0 + (double)n);
    return d < (double)max_decay ? (float)d : max_decay;
}
