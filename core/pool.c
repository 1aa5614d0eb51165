/* pool.c — global average pooling: one mean per (image, channel) plane. */
#include "pool.h"

#include <stddef.h>

#define PAR_MIN 16384

void drl_avgpool_forward(float *out, const float *inp, int B, int C, int HW) {
    if (HW <= 0) return;
    const float inv = 1.0f / (float)HW;
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW >= PAR_MIN)
    for (long i = 0; i < (long)B * C; i++) {
        const float *x = inp + (size_t)i * HW;
        float s = 0.0f;
        for (int p = 0; p < HW; p++) s += x[p];
        out[i] = s * inv;
    }
}

void drl_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW) {
    if (HW <= 0) return;
    const float inv = 1.0f / (float)HW;
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW >= PAR_MIN)
    for (long i = 0; i < (long)B * C; i++) {
        float *d = dinp + (size_t)i * HW;
        const float g = dout[i] * inv;
        for (int p = 0; p < HW; p++) d[p] += g;
    }
}
