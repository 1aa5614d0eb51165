/* linear.c — fully connected layer as cblas_sgemm calls (PyTorch layout: w is (OC, C)).
 *
 * forward  out (B, OC)  = inp (B, C) · w^T + b
 * backward dinp (B, C) += dout (B, OC) · w        dw (OC, C) += dout^T · inp
 *          db (OC)     += column sums of dout (fixed order, independent of threads)
 */
#include "linear.h"

#include <cblas.h>
#include <stddef.h>

void drl_linear_forward(float *out, const float *inp, const float *w, const float *b, int B, int C,
                        int OC) {
    if (B <= 0 || OC <= 0) return;
    if (b) {
        for (int i = 0; i < B; i++)
            for (int o = 0; o < OC; o++) out[(size_t)i * OC + o] = b[o];
    }
    if (C <= 0) {
        if (!b)
            for (size_t i = 0; i < (size_t)B * OC; i++) out[i] = 0.0f;
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OC, C, 1.0f, inp, C, w, C,
                b ? 1.0f : 0.0f, out, OC);
}

void drl_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int B, int C, int OC) {
    if (B <= 0 || OC <= 0) return;
    if (db) {
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int i = 0; i < B; i++) s += dout[(size_t)i * OC + o];
            db[o] += (float)s;
        }
    }
    if (C <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, B, 1.0f, dout, OC, inp, C, 1.0f,
                dw, C);
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, OC, 1.0f, dout, OC, w, C,
                    1.0f, dinp, C);
}
