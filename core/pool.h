/* pool.h — global average pooling over the spatial dims. */
#ifndef DRL_POOL_H
#define DRL_POOL_H

/* out (B, C) = mean over HW of inp (B, C, HW). */
void drl_avgpool_forward(float *out, const float *inp, int B, int C, int HW);
/* dinp (B, C, HW) += dout (B, C) / HW. */
void drl_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW);

#endif
