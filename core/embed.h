/* embed.h — Gaussian Fourier features of a scalar (Song et al. 2021, Tancik et al. 2020).
 *
 * out (B, 2F) = [sin(2π x_b W_f), cos(2π x_b W_f)] with fixed random frequencies W (F) drawn
 * once as N(0, scale²) and stored with the model (not trained). The input x is log σ(t) for the
 * VE SDE and t for the VP SDE; the caller chooses. No backward: the input is not learned. */
#ifndef DRL_EMBED_H
#define DRL_EMBED_H

#include "rng.h"

void drl_fourier_init(float *W, int F, float scale, drl_rng *rng);
void drl_fourier_forward(float *out, const float *x, const float *W, int B, int F);

#endif
