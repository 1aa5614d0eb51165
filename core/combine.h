/* combine.h — ops that join tensors: channel concat (U-Net skips), residual add, and a
 * per-(sample, channel) bias broadcast over space (how conditioning enters a residual block). */
#ifndef DRL_COMBINE_H
#define DRL_COMBINE_H

#include <stddef.h>

/* out (B, Ca+Cb, HW) = [a (B, Ca, HW), b (B, Cb, HW)] along channels. */
void drl_concat_forward(float *out, const float *a, const float *b, int B, int Ca, int Cb, int HW);
/* da += first Ca channels of dout, db += the rest; da / db may be NULL. */
void drl_concat_backward(float *da, float *db, const float *dout, int B, int Ca, int Cb, int HW);

/* out = a + b; out may alias a or b. */
void drl_add_forward(float *out, const float *a, const float *b, size_t n);
/* da += dout, db += dout; either may be NULL. */
void drl_add_backward(float *da, float *db, const float *dout, size_t n);

/* x (B, C, HW) += bias (B, C) broadcast over HW, in place. */
void drl_bias_bcast_forward(float *x, const float *bias, int B, int C, int HW);
/* dbias (B, C) += sum over HW of dout (B, C, HW). */
void drl_bias_bcast_backward(float *dbias, const float *dout, int B, int C, int HW);

#endif
