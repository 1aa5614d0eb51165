/* act.c — SiLU, ReLU and inverted dropout (see act.h).
 *
 * Elementwise loops: every element is independent, so the OpenMP split cannot change results.
 * Dropout draws its mask serially from the caller's generator, so the mask depends only on the
 * seed, never on the thread count.
 */
#include "act.h"

#include <math.h>
#include <string.h>

#include "fastmath.h"

/* SiLU uses drl_expf (fastmath.h) so that its loops vectorise. */

/* Below this many elements an OpenMP loop runs on the calling thread only. */
#define PAR_MIN 32768

static inline float sigmoidf(float x) { return 1.0f / (1.0f + drl_expf(-x)); }

void drl_silu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i];
        out[i] = x * sigmoidf(x);
    }
}

/* d/dx x·s(x) = s + x·s·(1 - s) = s·(1 + x·(1 - s)). */
void drl_silu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i], s = sigmoidf(x);
        dinp[i] += dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

void drl_relu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void drl_relu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        if (inp[i] > 0.0f) dinp[i] += dout[i];
}

void drl_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                         drl_rng *rng) {
    if (p <= 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        for (size_t i = 0; i < n; i++) mask[i] = 1.0f;
        return;
    }
    /* p >= 1 is outside the contract; drop everything rather than divide by zero. */
    const float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < n; i++) {
        mask[i] = drl_rng_uniform(rng) < p ? 0.0f : keep;
        out[i] = inp[i] * mask[i];
    }
}

void drl_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}
