/* combine.c — channel concat, residual add and per-(sample, channel) bias broadcast
 * (see combine.h).
 *
 * All of these are copies or sums over independent rows of HW floats; the OpenMP loops run over
 * those rows, so each output element is written by exactly one thread.
 */
#include "combine.h"

#include <string.h>

/* Below this many floats of work an OpenMP loop runs on the calling thread only. */
#define PAR_MIN 32768

void drl_concat_forward(float *out, const float *a, const float *b, int B, int Ca, int Cb, int HW) {
    const int Co = Ca + Cb;
#pragma omp parallel for schedule(static) if ((size_t)B * Co * HW >= PAR_MIN)
    for (long r = 0; r < (long)B * Co; r++) {
        const int n = (int)(r / Co), c = (int)(r % Co);
        const float *src = c < Ca ? a + ((size_t)n * Ca + c) * HW
                                  : b + ((size_t)n * Cb + c - Ca) * HW;
        memcpy(out + (size_t)r * HW, src, (size_t)HW * sizeof(float));
    }
}

void drl_concat_backward(float *da, float *db, const float *dout, int B, int Ca, int Cb, int HW) {
    const int Co = Ca + Cb;
#pragma omp parallel for schedule(static) if ((size_t)B * Co * HW >= PAR_MIN)
    for (long r = 0; r < (long)B * Co; r++) {
        const int n = (int)(r / Co), c = (int)(r % Co);
        float *dst = c < Ca ? (da ? da + ((size_t)n * Ca + c) * HW : NULL)
                            : (db ? db + ((size_t)n * Cb + c - Ca) * HW : NULL);
        if (!dst) continue;
        const float *g = dout + (size_t)r * HW;
        for (int p = 0; p < HW; p++) dst[p] += g[p];
    }
}

void drl_add_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void drl_add_backward(float *da, float *db, const float *dout, size_t n) {
    if (da) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) db[i] += dout[i];
    }
}

void drl_bias_bcast_forward(float *x, const float *bias, int B, int C, int HW) {
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW >= PAR_MIN)
    for (long r = 0; r < (long)B * C; r++) {
        float *row = x + (size_t)r * HW;
        const float v = bias[r];
        for (int p = 0; p < HW; p++) row[p] += v;
    }
}

void drl_bias_bcast_backward(float *dbias, const float *dout, int B, int C, int HW) {
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW >= PAR_MIN)
    for (long r = 0; r < (long)B * C; r++) {
        const float *g = dout + (size_t)r * HW;
        double s = 0.0;
        for (int p = 0; p < HW; p++) s += g[p];
        dbias[r] += (float)s;
    }
}
