/* bench_conv.c — GFLOP/s of conv2d forward / backward against a plain cblas_sgemm of the same
 * M = OC, N = B*OH*OW, K = C*K*K, on the convolution shapes of the encoder and U-Net.
 *
 * Usage: bench_conv [--threads N] [--reps N] [--batch B]   (default: B = 64 and 256, 5 rounds)
 * Backward counts both products (dw and dinp): 4*M*N*K flops against 2*M*N*K for forward;
 * except for the first layers ("in", whose input is the data), where it runs as in the models:
 * dw and db only (dinp = NULL), 2*M*N*K flops. "prep" is the forward with prepared filters
 * (drl_conv2d_forward_prepared: what inference runs), for the shapes that have them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "conv.h"
#include "threads.h"

typedef struct {
    const char *name;
    int C, H, OC, K, stride, pad;
    int first; /* the input is data: backward computes no dinp (encoder.c, unet.c) */
} shape;

static const shape SHAPES[] = {
    {"in 1->32 28 (dw only)", 1, 28, 32, 3, 1, 1, 1}, {"32->32 28", 32, 28, 32, 3, 1, 1, 0},
    {"down 32->64 s2 28", 32, 28, 64, 3, 2, 1, 0}, {"64->64 14", 64, 14, 64, 3, 1, 1, 0},
    {"down 64->128 s2 14", 64, 14, 128, 3, 2, 1, 0}, {"128->128 7", 128, 7, 128, 3, 1, 1, 0},
    {"up 256->128 7", 256, 7, 128, 3, 1, 1, 0},    {"up 128->64 14", 128, 14, 64, 3, 1, 1, 0},
    {"up 64->32 28", 64, 28, 32, 3, 1, 1, 0},      {"out 32->1 28", 32, 28, 1, 3, 1, 1, 0},
    {"skip1x1 64->32 28", 64, 28, 32, 1, 1, 0, 0}, {"skip1x1 128->64 14", 128, 14, 64, 1, 1, 0, 0},
    {"skip1x1 256->128 7", 256, 7, 128, 1, 1, 0, 0},
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static float *alloc_fill(size_t n, unsigned seed) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    if (!x) {
        fprintf(stderr, "bench_conv: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return x;
}

static void run(const shape *s, int B, int reps) {
    const int C = s->C, H = s->H, W = s->H, OC = s->OC, K = s->K;
    const int OH = drl_conv2d_out_size(H, K, s->stride, s->pad);
    const int OW = drl_conv2d_out_size(W, K, s->stride, s->pad);
    const size_t M = (size_t)OC, N = (size_t)B * OH * OW, KK = (size_t)C * K * K;
    float *inp = alloc_fill((size_t)B * C * H * W, 1), *w = alloc_fill(M * KK, 2);
    float *bias = alloc_fill(M, 3), *out = alloc_fill(M * N, 4), *dout = alloc_fill(M * N, 5);
    float *dinp = alloc_fill((size_t)B * C * H * W, 6), *dw = alloc_fill(M * KK, 7);
    float *db = alloc_fill(M, 8);
    float *work = alloc_fill(drl_conv2d_work_size(B, C, H, W, OC, K, s->stride, s->pad), 9);
    float *gb = alloc_fill(KK * N, 10);
    const size_t np = drl_conv2d_prepared_size(C, OC, K, s->stride, s->pad);
    float *pw = np ? alloc_fill(np, 11) : NULL;
    drl_conv2d_prepare(pw, w, C, OC, K, s->stride, s->pad);
    const double flops = 2.0 * (double)M * (double)N * (double)KK;
    double tf = 1e30, tb = 1e30, tg = 1e30, tp = 1e30;
    /* Rounds of: sgemm twice, pause, forward twice, backward twice; the best time of each kind
     * counts, so every kind is timed warm (the second call finds its threads awake and its
     * operands cached) and bursts of load from other processes are skipped. The pause lets the
     * OpenBLAS workers, left spinning by the multi-threaded sgemm, go to sleep before the
     * convolution, which runs OpenBLAS single-threaded inside its own OpenMP team. */
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < 2; k++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)KK, 1.0f,
                        w, (int)KK, gb, (int)N, 0.0f, out, (int)N);
            double t = now() - t0;
            if (t < tg) tg = t;
        }
        pause_ms(200);
        for (int k = 0; k < 2; k++) {
            double t0 = now();
            drl_conv2d_forward(out, inp, w, bias, work, B, C, H, W, OC, K, s->stride, s->pad);
            double t = now() - t0;
            if (t < tf) tf = t;
        }
        for (int k = 0; k < 2 && pw; k++) {
            double t0 = now();
            drl_conv2d_forward_prepared(out, inp, w, pw, bias, work, B, C, H, W, OC, K, s->stride,
                                        s->pad);
            double t = now() - t0;
            if (t < tp) tp = t;
        }
        for (int k = 0; k < 2; k++) {
            double t0 = now();
            drl_conv2d_backward(s->first ? NULL : dinp, dw, db, dout, inp, w, work, B, C, H, W,
                                OC, K, s->stride, s->pad);
            double t = now() - t0;
            if (t < tb) tb = t;
        }
    }
    const double gg = flops / tg * 1e-9, gf = flops / tf * 1e-9;
    const double gbw = (s->first ? 1.0 : 2.0) * flops / tb * 1e-9, gp = flops / tp * 1e-9;
    printf("%-22s B=%-3d M=%-4zu N=%-7zu K=%-5zu  sgemm %6.1f  fwd %6.1f (%4.0f%%)  bwd %6.1f "
           "(%4.0f%%)",
           s->name, B, M, N, KK, gg, gf, 100.0 * gf / gg, gbw, 100.0 * gbw / gg);
    if (pw) printf("  prep %6.1f (%4.0f%%)\n", gp, 100.0 * gp / gg);
    else printf("\n");
    fflush(stdout);
    free(inp), free(w), free(bias), free(out), free(dout), free(dinp), free(dw), free(db);
    free(work), free(gb), free(pw);
}

int main(int argc, char **argv) {
    int threads = 0, reps = 5, batch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps N] [--batch B]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    drl_threads_set(threads);
    printf("threads %d, best of %d rounds, GFLOP/s (conv %% of sgemm with the same M, N, K)\n",
           drl_threads_get(), reps);
    const int batches[2] = {64, 256};
    for (int bi = 0; bi < 2; bi++) {
        int B = batch > 0 ? batch : batches[bi];
        for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) run(&SHAPES[i], B, reps);
        if (batch > 0) break;
    }
    return 0;
}
