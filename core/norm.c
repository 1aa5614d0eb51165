/* norm.c — GroupNorm over NCHW with PyTorch's semantics (see norm.h).
 *
 * A group (b, g) is C/G consecutive channels of one image, i.e. N = (C/G)·HW contiguous floats.
 * Its mean and biased variance are accumulated in double (two passes, so a large common offset
 * costs no precision; the sums run in vector lanes, in an order fixed by the build); mean and
 * rstd are saved as floats and backward uses exactly those.
 *
 * Backward, per group, with xhat = (x - mean)·rstd and dy = dout·gamma:
 *   dinp  += rstd · (dy - mean(dy) - xhat · mean(dy · xhat))
 *   dgamma[c] += Σ_{b,hw} dout · xhat        dbeta[c] += Σ_{b,hw} dout
 * dinp is parallel over groups; dgamma/dbeta over channels with the batch looped inside in a fixed
 * order, so each output element is written by one thread in one order whatever the thread count.
 */
#include "norm.h"

#include <math.h>
#include <stddef.h>

#include "fastmath.h"

/* Below this many floats of work an OpenMP loop runs on the calling thread only. */
#define PAR_MIN 16384

/* SiLU and its derivative written as in act.c, so the fused ops give the same bits. */
static inline float sigmoidf(float x) { return 1.0f / (1.0f + drl_expf(-x)); }

/* Forward of GroupNorm; act (may be NULL) additionally receives SiLU of the output; out may be
 * NULL when act is given (inference: only SiLU(out) is needed, and is computed from the same
 * float values). */
static void gn_forward(float *out, float *act, float *mean, float *rstd, const float *inp,
                       const float *gamma, const float *beta, int B, int C, int HW, int G) {
    if (B <= 0 || C <= 0 || HW <= 0 || G <= 0) return;
    const int Cg = C / G;
    const size_t N = (size_t)Cg * HW; /* floats per group */
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW >= PAR_MIN)
    for (long bg = 0; bg < (long)B * G; bg++) {
        const int g = (int)(bg % G);
        const float *x = inp + (size_t)bg * N;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < N; i++) s += x[i];
        const double mu = s / (double)N;
        double ss = 0.0;
#pragma omp simd reduction(+ : ss)
        for (size_t i = 0; i < N; i++) {
            double d = (double)x[i] - mu;
            ss += d * d;
        }
        const double rs = 1.0 / sqrt(ss / (double)N + (double)DRL_GROUPNORM_EPS);
        const float m = (float)mu, r = (float)rs;
        mean[bg] = m;
        rstd[bg] = r;
        for (int c = 0; c < Cg; c++) {
            const int ch = g * Cg + c;
            const float gam = gamma[ch], bet = beta[ch];
            const float *xc = x + (size_t)c * HW;
            float *ac = act ? act + (size_t)bg * N + (size_t)c * HW : NULL;
            if (!out) {
                for (int p = 0; p < HW; p++) {
                    const float v = (xc[p] - m) * r * gam + bet;
                    ac[p] = v * sigmoidf(v);
                }
                continue;
            }
            float *yc = out + (size_t)bg * N + (size_t)c * HW;
            for (int p = 0; p < HW; p++) yc[p] = (xc[p] - m) * r * gam + bet;
            if (act)
                for (int p = 0; p < HW; p++) ac[p] = yc[p] * sigmoidf(yc[p]);
        }
    }
}

void drl_groupnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *gamma, const float *beta, int B, int C, int HW, int G) {
    gn_forward(out, NULL, mean, rstd, inp, gamma, beta, B, C, HW, G);
}

void drl_groupnorm_silu_forward(float *out, float *act, float *mean, float *rstd, const float *inp,
                                const float *gamma, const float *beta, int B, int C, int HW, int G) {
    gn_forward(out, act, mean, rstd, inp, gamma, beta, B, C, HW, G);
}

/* GroupNorm backward from dout; when dact is given, dout is first written, per group, as
 * dact · SiLU'(y) (y the saved GroupNorm output) by the thread that then reads it. */
static void gn_backward(float *dinp, float *dgamma, float *dbeta, float *dout_w, const float *dact,
                        const float *y, const float *dout, const float *inp, const float *mean,
                        const float *rstd, const float *gamma, int B, int C, int HW, int G) {
    if (B <= 0 || C <= 0 || HW <= 0 || G <= 0) return;
    const int Cg = C / G;
    const size_t N = (size_t)Cg * HW;
    const int par = (size_t)B * C * HW >= PAR_MIN;

    if (dinp || dact) {
#pragma omp parallel for schedule(static) if (par)
        for (long bg = 0; bg < (long)B * G; bg++) {
            const int g = (int)(bg % G);
            const float m = mean[bg], r = rstd[bg];
            const float *x = inp + (size_t)bg * N;
            const float *dy = dout + (size_t)bg * N;
            if (dact) { /* d/dx x·s(x) = s·(1 + x·(1 - s)), as in act.c */
                const float *da = dact + (size_t)bg * N, *yy = y + (size_t)bg * N;
                float *dw = dout_w + (size_t)bg * N;
                for (size_t i = 0; i < N; i++) {
                    const float v = yy[i], s = sigmoidf(v);
                    dw[i] = da[i] * s * (1.0f + v * (1.0f - s));
                }
            }
            if (!dinp) continue;
            float *dx = dinp + (size_t)bg * N;
            double sdy = 0.0, sdyx = 0.0;
            for (int c = 0; c < Cg; c++) {
                const float gam = gamma[g * Cg + c];
#pragma omp simd reduction(+ : sdy, sdyx)
                for (int p = 0; p < HW; p++) {
                    const size_t i = (size_t)c * HW + p;
                    const double d = (double)dy[i] * gam;
                    sdy += d;
                    sdyx += d * ((x[i] - m) * r);
                }
            }
            const float mdy = (float)(sdy / (double)N), mdyx = (float)(sdyx / (double)N);
            for (int c = 0; c < Cg; c++) {
                const float gam = gamma[g * Cg + c];
                for (int p = 0; p < HW; p++) {
                    const size_t i = (size_t)c * HW + p;
                    const float xhat = (x[i] - m) * r;
                    dx[i] += r * (dy[i] * gam - mdy - xhat * mdyx);
                }
            }
        }
    }

    if (dgamma || dbeta) {
#pragma omp parallel for schedule(static) if (par)
        for (int c = 0; c < C; c++) {
            const int g = c / Cg;
            double sg = 0.0, sb = 0.0;
            for (int b = 0; b < B; b++) {
                const float m = mean[(size_t)b * G + g], r = rstd[(size_t)b * G + g];
                const float *x = inp + ((size_t)b * C + c) * HW;
                const float *dy = dout + ((size_t)b * C + c) * HW;
#pragma omp simd reduction(+ : sg, sb)
                for (int p = 0; p < HW; p++) {
                    sg += (double)dy[p] * ((x[p] - m) * r);
                    sb += dy[p];
                }
            }
            if (dgamma) dgamma[c] += (float)sg;
            if (dbeta) dbeta[c] += (float)sb;
        }
    }
}

void drl_groupnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                            const float *inp, const float *mean, const float *rstd,
                            const float *gamma, int B, int C, int HW, int G) {
    gn_backward(dinp, dgamma, dbeta, NULL, NULL, NULL, dout, inp, mean, rstd, gamma, B, C, HW, G);
}

void drl_groupnorm_silu_backward(float *dinp, float *dgamma, float *dbeta, float *dout,
                                 const float *dact, const float *out, const float *inp,
                                 const float *mean, const float *rstd, const float *gamma, int B,
                                 int C, int HW, int G) {
    gn_backward(dinp, dgamma, dbeta, dout, dact, out, dout, inp, mean, rstd, gamma, B, C, HW, G);
}
