/* linear.h — fully connected layer, PyTorch nn.Linear convention (w is (OC, C)). */
#ifndef DRL_LINEAR_H
#define DRL_LINEAR_H

/* out (B, OC) = inp (B, C) · w^T + b (OC); b may be NULL. */
void drl_linear_forward(float *out, const float *inp, const float *w, const float *b, int B, int C,
                        int OC);
/* Accumulates dinp (B, C), dw (OC, C), db (OC); dinp / db may be NULL. */
void drl_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int B, int C, int OC);

#endif
