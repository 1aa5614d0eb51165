/* linear.c — fully connected layer as cblas_sgemm calls (PyTorch layout: w is (OC, C)).
 *
 *   forward   out (B, OC)  = inp (B, C) · w^T + b
 *   backward  dinp (B, C) += dout (B, OC) · w;   dw (OC, C) += dout^T · inp;   db += sums of dout
 *
 * As in conv.c, OpenBLAS runs single-threaded for the duration of an op (a multi-threaded call
 * leaves its workers spinning, which slows down the OpenMP loops that follow) and the op splits
 * the work itself: each GEMM is cut along the columns of its output, so every output element is
 * one full dot product computed by one thread and results do not depend on the thread count.
 */
#include "linear.h"

#include <cblas.h>
#include <omp.h>
#include <stddef.h>

#include "threads.h"

/* Below this many multiply-adds an op runs on the calling thread only. */
#define PAR_MIN_FLOPS 200000.0


void drl_linear_forward(float *out, const float *inp, const float *w, const float *b, int B, int C,
                        int OC) {
    if (B <= 0 || OC <= 0) return;
    const int nt0 = drl_threads_blas_serial_begin();
#pragma omp parallel num_threads(drl_threads_team((double)B * C * OC, PAR_MIN_FLOPS))
    {
        int o0, o1;
        drl_threads_split(OC, omp_get_thread_num(), omp_get_num_threads(), &o0, &o1);
        if (o1 > o0) {
            for (int i = 0; i < B; i++)
                for (int o = o0; o < o1; o++) out[(size_t)i * OC + o] = b ? b[o] : 0.0f;
            /* out[:, o0:o1] += inp · w[o0:o1]^T */
            if (C > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, o1 - o0, C, 1.0f, inp, C,
                            w + (size_t)o0 * C, C, 1.0f, out + o0, OC);
        }
    }
    drl_threads_blas_serial_end(nt0);
}

void drl_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, int B, int C, int OC) {
    if (B <= 0 || OC <= 0) return;
    const int nt0 = drl_threads_blas_serial_begin();
#pragma omp parallel num_threads(drl_threads_team(2.0 * B * C * OC, PAR_MIN_FLOPS))
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int o0, o1, c0, c1;
        drl_threads_split(OC, t, nt, &o0, &o1);
        drl_threads_split(C, t, nt, &c0, &c1);
        if (db) {
            for (int o = o0; o < o1; o++) {
                double s = 0.0;
                for (int i = 0; i < B; i++) s += dout[(size_t)i * OC + o];
                db[o] += (float)s;
            }
        }
        /* dw[o0:o1] (rows, C) += dout[:, o0:o1]^T · inp */
        if (o1 > o0 && C > 0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, C, B, 1.0f, dout + o0, OC,
                        inp, C, 1.0f, dw + (size_t)o0 * C, C);
        /* dinp[:, c0:c1] += dout · w[:, c0:c1] */
        if (dinp && c1 > c0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, c1 - c0, OC, 1.0f, dout, OC,
                        w + c0, C, 1.0f, dinp + c0, C);
    }
    drl_threads_blas_serial_end(nt0);
}
