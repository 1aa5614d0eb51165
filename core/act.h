/* act.h — elementwise activations and dropout. Backward accumulates into dinp. */
#ifndef DRL_ACT_H
#define DRL_ACT_H

#include <stddef.h>

#include "rng.h"

/* out = x * sigmoid(x); out may alias inp. */
void drl_silu_forward(float *out, const float *inp, size_t n);
void drl_silu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* out = max(x, 0); out may alias inp. */
void drl_relu_forward(float *out, const float *inp, size_t n);
void drl_relu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* Inverted dropout with drop probability p in [0, 1): mask[i] = 0 or 1/(1-p), out = inp * mask.
 * p == 0 copies and sets mask to 1 (use it at inference). out may alias inp. */
void drl_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                         drl_rng *rng);
void drl_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n);

#endif
