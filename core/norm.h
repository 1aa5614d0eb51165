/* norm.h — GroupNorm over NCHW (G groups of C/G channels, eps = 1e-5 like PyTorch). */
#ifndef DRL_NORM_H
#define DRL_NORM_H

#define DRL_GROUPNORM_EPS 1e-5f

/* out (B, C, HW) = (inp - mean) * rstd * gamma (C) + beta (C); saves mean (B, G), rstd (B, G)
 * for backward. Statistics are biased (divide by group size), accumulated in double. */
void drl_groupnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *gamma, const float *beta, int B, int C, int HW, int G);
/* Accumulates dinp (B, C, HW), dgamma (C), dbeta (C). */
void drl_groupnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                            const float *inp, const float *mean, const float *rstd,
                            const float *gamma, int B, int C, int HW, int G);

/* GroupNorm followed by SiLU in one pass: out as drl_groupnorm_forward, act = SiLU(out) (the
 * same values as drl_silu_forward(act, out)). out may be NULL (inference: act alone). */
void drl_groupnorm_silu_forward(float *out, float *act, float *mean, float *rstd, const float *inp,
                                const float *gamma, const float *beta, int B, int C, int HW, int G);
/* Backward of act = SiLU(GroupNorm(inp)) given dact and the saved GroupNorm output out: writes
 * (does not accumulate) dout (B, C, HW) = dact · SiLU'(out), the gradient at the GroupNorm
 * output, then accumulates dinp, dgamma, dbeta exactly as drl_groupnorm_backward from dout. */
void drl_groupnorm_silu_backward(float *dinp, float *dgamma, float *dbeta, float *dout,
                                 const float *dact, const float *out, const float *inp,
                                 const float *mean, const float *rstd, const float *gamma, int B,
                                 int C, int HW, int G);

#endif
