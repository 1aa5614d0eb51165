/* conv.h — 2-D convolution (any square kernel, stride, zero padding) and nearest ×2 upsampling.
 *
 * Layout NCHW. Convolution is lowered to matrix products (im2col + cblas_sgemm; same-size
 * stride-1 convolutions: one GEMM per kernel tap over a zero-padded copy of the input). Ops allocate
 * nothing: the caller provides `work`, a scratch buffer of drl_conv2d_work_size() floats.
 * Backward accumulates (+=) into dinp, dw, db; any of dinp / db may be NULL to skip it.
 * Output size: OH = (H + 2*pad - K) / stride + 1, OW likewise.
 */
#ifndef DRL_CONV_H
#define DRL_CONV_H

#include <stddef.h>

int drl_conv2d_out_size(int H, int K, int stride, int pad);
/* Floats of scratch needed by forward and backward for these shapes (the larger of the two), for
 * any batch of up to B images: activations sized for B also serve smaller batches. */
size_t drl_conv2d_work_size(int B, int C, int H, int W, int OC, int K, int stride, int pad);

/* out (B, OC, OH, OW) = conv(inp (B, C, H, W), w (OC, C, K, K)) + b (OC); b may be NULL. */
void drl_conv2d_forward(float *out, const float *inp, const float *w, const float *b, float *work,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad);
/* Inference with fixed weights: the filters of 3×3 stride-1 pad-1 convolutions of 16+ input and
 * output channels have a prepared (Winograd-transformed) form that makes the forward faster at
 * every batch size, most at batch 1, where the per-call transform would cost more than it saves.
 * drl_conv2d_prepared_size gives its floats (0: these shapes have none), drl_conv2d_prepare
 * fills pw from w, and drl_conv2d_forward_prepared uses it (pw NULL or shapes without a prepared
 * form: exactly drl_conv2d_forward). Results equal drl_conv2d_forward's up to float rounding. */
size_t drl_conv2d_prepared_size(int C, int OC, int K, int stride, int pad);
void drl_conv2d_prepare(float *pw, const float *w, int C, int OC, int K, int stride, int pad);
void drl_conv2d_forward_prepared(float *out, const float *inp, const float *w, const float *pw,
                                 const float *b, float *work, int B, int C, int H, int W, int OC,
                                 int K, int stride, int pad);
/* dinp (B, C, H, W) += ..., dw (OC, C, K, K) += ..., db (OC) += ... from dout (B, OC, OH, OW). */
void drl_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, float *work, int B, int C, int H, int W, int OC, int K,
                         int stride, int pad);

/* out (B, C, 2H, 2W): nearest-neighbour ×2. */
void drl_upsample2x_forward(float *out, const float *inp, int B, int C, int H, int W);
/* dinp (B, C, H, W) += sum of the 4 children in dout (B, C, 2H, 2W). */
void drl_upsample2x_backward(float *dinp, const float *dout, int B, int C, int H, int W);

#endif
