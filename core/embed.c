/* embed.c — Gaussian Fourier features of a scalar (see embed.h).
 *
 * Layout as in Song et al.'s GaussianFourierProjection, torch.cat([sin, cos], -1):
 *   out[b, f] = sin(2π x_b W_f),  out[b, F + f] = cos(2π x_b W_f).
 * The phase is formed in double: with scale 16 it reaches ~1e3 radians, where a float32 phase
 * would already be off by ~1e-4.
 */
#include "embed.h"

#include <math.h>
#include <stddef.h>

#define TWO_PI 6.283185307179586

void drl_fourier_init(float *W, int F, float scale, drl_rng *rng) {
    for (int f = 0; f < F; f++) W[f] = scale * drl_rng_normal(rng);
}

void drl_fourier_forward(float *out, const float *x, const float *W, int B, int F) {
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * 2 * F;
        const double xb = TWO_PI * (double)x[b];
        for (int f = 0; f < F; f++) {
            const double ph = xb * (double)W[f];
            o[f] = (float)sin(ph);
            o[F + f] = (float)cos(ph);
        }
    }
}
