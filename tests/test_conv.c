/* test_conv.c — conv2d and upsample2x against direct-loop references and finite differences.
 *
 * The references are the textbook loops, accumulated in double. Gradient checks use the
 * projection loss L = sum(out * Rp) for a fixed random Rp, so dL/dout = Rp, and compare the
 * analytic gradients with central differences (eps = 1e-3, loss summed in double; 1e-2 for the
 * larger Winograd-shaped layers, whose sampled elements move a loss of ~10^5 terms).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "rng.h"
#include "tensor.h"
#include "testutil.h"
#include "threads.h"

typedef struct {
    int B, C, H, W, OC, K, stride, pad;
} cshape;

/* Odd sizes, stride 2 and 3, K = 1 / 3 / 4 / 5, pad 0 .. 3, C = 1, B = 1 / 3. */
static const cshape SHAPES[] = {
    {1, 1, 5, 5, 1, 3, 1, 1},    {3, 2, 7, 6, 4, 3, 2, 1},    {2, 3, 8, 8, 5, 1, 1, 0},
    {3, 4, 9, 9, 3, 3, 1, 0},    {1, 3, 7, 7, 2, 1, 2, 0},    {3, 5, 6, 6, 8, 5, 1, 2},
    {2, 4, 10, 10, 6, 3, 2, 1},  {2, 3, 11, 11, 4, 4, 3, 2},  {1, 2, 5, 5, 3, 1, 1, 1},
    {2, 2, 4, 4, 3, 3, 1, 3},    {3, 1, 28, 28, 8, 3, 1, 1},  {1, 32, 14, 14, 16, 3, 1, 1},
    {3, 16, 13, 13, 32, 3, 2, 1}, {3, 64, 7, 7, 32, 1, 1, 0}, {2, 1, 9, 7, 1, 3, 1, 1},
    {3, 8, 2, 20, 16, 5, 1, 2},
};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

typedef struct {
    cshape s;
    int OH, OW;
    size_t ni, no, nw;
    float *inp, *w, *b, *out, *work;
} conv_case;

static conv_case case_make(const cshape *s, uint64_t seed) {
    conv_case c = {*s, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL};
    drl_rng r;
    drl_rng_seed(&r, seed);
    c.OH = drl_conv2d_out_size(s->H, s->K, s->stride, s->pad);
    c.OW = drl_conv2d_out_size(s->W, s->K, s->stride, s->pad);
    c.ni = (size_t)s->B * s->C * s->H * s->W;
    c.no = (size_t)s->B * s->OC * c.OH * c.OW;
    c.nw = (size_t)s->OC * s->C * s->K * s->K;
    c.inp = drl_test_randn(&r, c.ni, 1.0f);
    c.w = drl_test_randn(&r, c.nw, 0.5f);
    c.b = drl_test_randn(&r, (size_t)s->OC, 1.0f);
    c.out = drl_test_zeros(c.no);
    c.work = drl_test_zeros(drl_conv2d_work_size(s->B, s->C, s->H, s->W, s->OC, s->K, s->stride, s->pad));
    return c;
}

static void case_free(conv_case *c) {
    free(c->inp), free(c->w), free(c->b), free(c->out), free(c->work);
}

static void fwd(conv_case *c, const float *inp, const float *w, const float *b, float *out) {
    const cshape *s = &c->s;
    drl_conv2d_forward(out, inp, w, b, c->work, s->B, s->C, s->H, s->W, s->OC, s->K, s->stride,
                       s->pad);
}

static void bwd(conv_case *c, float *dinp, float *dw, float *db, const float *dout) {
    const cshape *s = &c->s;
    drl_conv2d_backward(dinp, dw, db, dout, c->inp, c->w, c->work, s->B, s->C, s->H, s->W, s->OC,
                        s->K, s->stride, s->pad);
}

/* Direct loops: out (and, given dout, dinp / dw / db) in double. */
static void ref_conv(const conv_case *c, const float *inp, const float *w, const float *b,
                     float *out, const float *dout, float *dinp, float *dw, float *db) {
    const cshape *s = &c->s;
    const int K = s->K;
    double *gi = calloc(c->ni, sizeof(double)), *gw = calloc(c->nw, sizeof(double));
    double *gb = calloc((size_t)s->OC, sizeof(double));
    ck_assert(gi && gw && gb);
    for (int n = 0; n < s->B; n++)
        for (int o = 0; o < s->OC; o++)
            for (int y = 0; y < c->OH; y++)
                for (int x = 0; x < c->OW; x++) {
                    const size_t oi = (((size_t)n * s->OC + o) * c->OH + y) * c->OW + x;
                    double acc = b ? b[o] : 0.0;
                    const double g = dout ? dout[oi] : 0.0;
                    gb[o] += g;
                    for (int ci = 0; ci < s->C; ci++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                const int ih = y * s->stride - s->pad + kh;
                                const int iw = x * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                const size_t ii = (((size_t)n * s->C + ci) * s->H + ih) * s->W + iw;
                                const size_t wi = (((size_t)o * s->C + ci) * K + kh) * K + kw;
                                acc += (double)w[wi] * inp[ii];
                                gi[ii] += (double)w[wi] * g;
                                gw[wi] += (double)inp[ii] * g;
                            }
                    if (out) out[oi] = (float)acc;
                }
    if (dinp)
        for (size_t i = 0; i < c->ni; i++) dinp[i] = (float)gi[i];
    if (dw)
        for (size_t i = 0; i < c->nw; i++) dw[i] = (float)gw[i];
    if (db)
        for (int i = 0; i < s->OC; i++) db[i] = (float)gb[i];
    free(gi), free(gw), free(gb);
}

static double proj_loss(const float *out, const float *R, size_t n) {
    double L = 0.0;
    for (size_t i = 0; i < n; i++) L += (double)out[i] * R[i];
    return L;
}

/* ------------------------------------------------------------------------------------------ */

START_TEST(test_conv_forward_reference) {
    for (size_t k = 0; k < NSHAPES; k++) {
        conv_case c = case_make(&SHAPES[k], 100 + k);
        float *want = drl_test_zeros(c.no), *want_nb = drl_test_zeros(c.no);
        ref_conv(&c, c.inp, c.w, c.b, want, NULL, NULL, NULL, NULL);
        ref_conv(&c, c.inp, c.w, NULL, want_nb, NULL, NULL, NULL, NULL);
        char what[96];
        snprintf(what, sizeof what, "conv fwd shape %zu", k);
        fwd(&c, c.inp, c.w, c.b, c.out);
        ck_assert_close(c.out, want, c.no, 1e-5, what);
        fwd(&c, c.inp, c.w, NULL, c.out);
        ck_assert_close(c.out, want_nb, c.no, 1e-5, what);
        free(want), free(want_nb);
        case_free(&c);
    }
}
END_TEST

/* Several batch chunks (B above the chunk size) for a model-sized layer, and B = 1. */
START_TEST(test_conv_chunks_reference) {
    const cshape big[] = {{11, 32, 28, 28, 32, 3, 1, 1}, {1, 32, 28, 28, 64, 3, 2, 1},
                          {50, 32, 14, 14, 64, 3, 2, 1}, {37, 64, 7, 7, 128, 3, 1, 1},
                          {20, 16, 12, 10, 24, 3, 1, 1}, {16, 16, 23, 25, 24, 3, 1, 1},
                          {16, 16, 13, 14, 24, 3, 1, 1}, {16, 24, 28, 28, 16, 3, 1, 1},
                          {64, 16, 14, 14, 16, 3, 1, 1}, {16, 16, 3, 3, 16, 3, 1, 1},
                          {17, 16, 5, 1, 16, 3, 1, 1},  {16, 16, 5, 30, 16, 3, 1, 1},
                          {16, 16, 6, 33, 16, 3, 1, 1}, {16, 16, 5, 36, 16, 3, 1, 1}};
    /* shapes 3.. take Winograd F(4×4) (forward, dinp, dw); 4, 5, 6, 9 and 10 have partial tiles
     * (widths or heights not a multiple of 4); 8 has 5 tile blocks of the filter gradient (more
     * than its threads: each sums several); 9 and 10 are narrower than a tile (W = 3, 1);
     * 11..13 are wider than the rows the AVX-512 gathers take (4*TW + 2 > 32: W = 30, 33, 36),
     * so they run the scalar gathers and output interleave, as every width does in a build
     * without AVX-512 */
    for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
        conv_case c = case_make(&big[k], 200 + k);
        float *want = drl_test_zeros(c.no), *dout = drl_test_zeros(c.no);
        float *wi = drl_test_zeros(c.ni), *ww = drl_test_zeros(c.nw), *wb = drl_test_zeros((size_t)c.s.OC);
        float *gi = drl_test_zeros(c.ni), *gw = drl_test_zeros(c.nw), *gb = drl_test_zeros((size_t)c.s.OC);
        drl_rng r;
        drl_rng_seed(&r, 7);
        drl_rng_normal_fill(&r, dout, c.no);
        ref_conv(&c, c.inp, c.w, c.b, want, dout, wi, ww, wb);
        fwd(&c, c.inp, c.w, c.b, c.out);
        bwd(&c, gi, gw, gb, dout);
        char what[96];
        snprintf(what, sizeof what, "big shape %zu fwd", k);
        ck_assert_close(c.out, want, c.no, 1e-5, what);
        snprintf(what, sizeof what, "big shape %zu dinp", k);
        ck_assert_close(gi, wi, c.ni, 1e-5, what);
        snprintf(what, sizeof what, "big shape %zu dw", k);
        ck_assert_close(gw, ww, c.nw, 1e-5, what);
        snprintf(what, sizeof what, "big shape %zu db", k);
        ck_assert_close(gb, wb, (size_t)c.s.OC, 1e-5, what);
        memset(gw, 0, c.nw * sizeof(float)); /* dw alone (dinp = db = NULL) */
        bwd(&c, NULL, gw, NULL, dout);
        snprintf(what, sizeof what, "big shape %zu dw alone", k);
        ck_assert_close(gw, ww, c.nw, 1e-5, what);
        free(want), free(dout), free(wi), free(ww), free(wb), free(gi), free(gw), free(gb);
        case_free(&c);
    }
}
END_TEST

START_TEST(test_conv_backward_reference) {
    for (size_t k = 0; k < NSHAPES; k++) {
        conv_case c = case_make(&SHAPES[k], 300 + k);
        drl_rng r;
        drl_rng_seed(&r, 400 + k);
        float *dout = drl_test_randn(&r, c.no, 1.0f);
        float *wi = drl_test_zeros(c.ni), *ww = drl_test_zeros(c.nw), *wb = drl_test_zeros((size_t)c.s.OC);
        float *gi = drl_test_zeros(c.ni), *gw = drl_test_zeros(c.nw), *gb = drl_test_zeros((size_t)c.s.OC);
        ref_conv(&c, c.inp, c.w, c.b, NULL, dout, wi, ww, wb);
        bwd(&c, gi, gw, gb, dout);
        char what[96];
        snprintf(what, sizeof what, "conv dinp shape %zu", k);
        ck_assert_close(gi, wi, c.ni, 1e-5, what);
        snprintf(what, sizeof what, "conv dw shape %zu", k);
        ck_assert_close(gw, ww, c.nw, 1e-5, what);
        snprintf(what, sizeof what, "conv db shape %zu", k);
        ck_assert_close(gb, wb, (size_t)c.s.OC, 1e-5, what);
        /* dinp and db may be NULL: dw alone is still right */
        memset(gw, 0, c.nw * sizeof(float));
        bwd(&c, NULL, gw, NULL, dout);
        ck_assert_close(gw, ww, c.nw, 1e-5, "dw with dinp = db = NULL");
        free(dout), free(wi), free(ww), free(wb), free(gi), free(gw), free(gb);
        case_free(&c);
    }
}
END_TEST

/* dL/dx[i] of L = sum(out * Rp) by central differences, x one of c's input, weights, bias. */
static float central_diff(conv_case *c, float *x, size_t i, const float *Rp, float eps) {
    const float x0 = x[i];
    x[i] = x0 + eps;
    fwd(c, c->inp, c->w, c->b, c->out);
    const double lp = proj_loss(c->out, Rp, c->no);
    x[i] = x0 - eps;
    fwd(c, c->inp, c->w, c->b, c->out);
    const double lm = proj_loss(c->out, Rp, c->no);
    x[i] = x0;
    return (float)((lp - lm) / (2.0 * eps));
}

/* Central differences of L = sum(out * Rp) for every input, weight and bias element. */
START_TEST(test_conv_gradcheck) {
    const float eps = 1e-3f;
    double worst = 0.0;
    for (size_t k = 0; k < NSHAPES; k++) {
        if (SHAPES[k].B * SHAPES[k].C * SHAPES[k].H * SHAPES[k].W > 1200) continue;
        conv_case c = case_make(&SHAPES[k], 500 + k);
        drl_rng r;
        drl_rng_seed(&r, 600 + k);
        float *Rp = drl_test_randn(&r, c.no, 1.0f);
        float *gi = drl_test_zeros(c.ni), *gw = drl_test_zeros(c.nw), *gb = drl_test_zeros((size_t)c.s.OC);
        float *ni = drl_test_zeros(c.ni), *nw = drl_test_zeros(c.nw), *nb = drl_test_zeros((size_t)c.s.OC);
        bwd(&c, gi, gw, gb, Rp);
        struct { float *x, *num; size_t n; } vars[3] = {
            {c.inp, ni, c.ni}, {c.w, nw, c.nw}, {c.b, nb, (size_t)c.s.OC}};
        for (int v = 0; v < 3; v++) {
            for (size_t i = 0; i < vars[v].n; i++)
                vars[v].num[i] = central_diff(&c, vars[v].x, i, Rp, eps);
        }
        const double e[3] = {drl_max_rel_diff(gi, ni, c.ni), drl_max_rel_diff(gw, nw, c.nw),
                             drl_max_rel_diff(gb, nb, (size_t)c.s.OC)};
        printf("conv gradcheck shape %zu: max rel err dinp %.2e dw %.2e db %.2e\n", k, e[0], e[1],
               e[2]);
        char what[96];
        snprintf(what, sizeof what, "conv gradcheck dinp shape %zu", k);
        ck_assert_close(gi, ni, c.ni, 2e-3, what);
        snprintf(what, sizeof what, "conv gradcheck dw shape %zu", k);
        ck_assert_close(gw, nw, c.nw, 2e-3, what);
        snprintf(what, sizeof what, "conv gradcheck db shape %zu", k);
        ck_assert_close(gb, nb, (size_t)c.s.OC, 2e-3, what);
        for (int v = 0; v < 3; v++)
            if (e[v] > worst) worst = e[v];
        free(Rp), free(gi), free(gw), free(gb), free(ni), free(nw), free(nb);
        case_free(&c);
    }
    printf("conv gradcheck: worst max rel err %.2e\n", worst);
}
END_TEST

/* Winograd-shaped convolutions (batch >= 16, 16+ channels: forward, dinp and dw all take the
 * Winograd path) are too large to perturb every element: central differences of 40 sampled
 * input and 40 sampled weight elements, and every bias. Odd 9×9 images (tiles past the edge)
 * and 12×24 ones (3 by 6 whole tiles). */
START_TEST(test_conv_gradcheck_winograd) {
    const cshape wino[2] = {{16, 16, 9, 9, 24, 3, 1, 1}, {16, 16, 12, 24, 16, 3, 1, 1}};
    const float eps = 1e-2f;
    for (size_t k = 0; k < 2; k++) {
        conv_case c = case_make(&wino[k], 1100 + k);
        drl_rng r;
        drl_rng_seed(&r, 1200 + k);
        float *Rp = drl_test_randn(&r, c.no, 1.0f);
        float *gi = drl_test_zeros(c.ni), *gw = drl_test_zeros(c.nw), *gb = drl_test_zeros((size_t)c.s.OC);
        bwd(&c, gi, gw, gb, Rp);
        struct { float *x, *g; size_t n; const char *name; } vars[3] = {
            {c.inp, gi, c.ni, "dinp"}, {c.w, gw, c.nw, "dw"}, {c.b, gb, (size_t)c.s.OC, "db"}};
        for (int v = 0; v < 3; v++) {
            const size_t m = v == 2 ? vars[v].n : 40;
            float *ana = drl_test_zeros(m), *num = drl_test_zeros(m);
            for (size_t s = 0; s < m; s++) {
                const size_t i =
                    v == 2 ? s : (size_t)(drl_rng_uniform(&r) * (double)vars[v].n) % vars[v].n;
                num[s] = central_diff(&c, vars[v].x, i, Rp, eps);
                ana[s] = vars[v].g[i];
            }
            printf("conv gradcheck winograd shape %zu: max rel err %s %.2e\n", k, vars[v].name,
                   drl_max_rel_diff(ana, num, m));
            char what[96];
            snprintf(what, sizeof what, "winograd gradcheck shape %zu %s", k, vars[v].name);
            ck_assert_close(ana, num, m, 2e-3, what);
            free(ana), free(num);
        }
        free(Rp), free(gi), free(gw), free(gb);
        case_free(&c);
    }
}
END_TEST

/* Backward accumulates: starting from g0, two calls give g0 + 2 * (one call's gradient). The
 * extra shapes take the Winograd path for dinp and dw. */
START_TEST(test_conv_accumulates) {
    const cshape wino[2] = {{17, 16, 9, 9, 24, 3, 1, 1}, {16, 16, 12, 24, 16, 3, 1, 1}};
    for (size_t k = 0; k < NSHAPES + 2; k++) { /* the second runs the row-wise transforms */
        conv_case c = case_make(k < NSHAPES ? &SHAPES[k] : &wino[k - NSHAPES], 700 + k);
        drl_rng r;
        drl_rng_seed(&r, 800 + k);
        float *dout = drl_test_randn(&r, c.no, 1.0f);
        float *g0i = drl_test_randn(&r, c.ni, 1.0f), *g0w = drl_test_randn(&r, c.nw, 1.0f);
        float *g0b = drl_test_randn(&r, (size_t)c.s.OC, 1.0f);
        float *gi = drl_test_zeros(c.ni), *gw = drl_test_zeros(c.nw), *gb = drl_test_zeros((size_t)c.s.OC);
        bwd(&c, gi, gw, gb, dout);
        for (size_t i = 0; i < c.ni; i++) gi[i] = g0i[i] + 2.0f * gi[i];
        for (size_t i = 0; i < c.nw; i++) gw[i] = g0w[i] + 2.0f * gw[i];
        for (int i = 0; i < c.s.OC; i++) gb[i] = g0b[i] + 2.0f * gb[i];
        bwd(&c, g0i, g0w, g0b, dout);
        bwd(&c, g0i, g0w, g0b, dout);
        ck_assert_close(g0i, gi, c.ni, 1e-6, "dinp accumulates");
        ck_assert_close(g0w, gw, c.nw, 1e-6, "dw accumulates");
        ck_assert_close(g0b, gb, (size_t)c.s.OC, 1e-6, "db accumulates");
        free(dout), free(g0i), free(g0w), free(g0b), free(gi), free(gw), free(gb);
        case_free(&c);
    }
}
END_TEST

/* 1 and 2 threads agree to float rounding (OpenBLAS rounds differently when a product is cut
 * into different pieces and the Winograd filter gradient groups its per-thread sums
 * differently; nothing else may differ), and a repeated run with the same thread count
 * is bit-identical (no racy accumulation). Model-sized layers, so the team really splits. */
START_TEST(test_conv_threads_identical) {
    const cshape sh[] = {{5, 32, 28, 28, 32, 3, 1, 1}, {9, 32, 28, 28, 64, 3, 2, 1},
                         {6, 64, 14, 14, 64, 1, 1, 0}, {1, 64, 7, 7, 128, 3, 1, 1},
                         {40, 128, 7, 7, 128, 3, 1, 1}, {16, 16, 12, 24, 16, 3, 1, 1},
                         {3, 5, 9, 9, 7, 3, 1, 1},
                         {3, 8, 2, 20, 16, 5, 1, 2}};
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
        conv_case c = case_make(&sh[k], 900 + k);
        drl_rng r;
        drl_rng_seed(&r, 1000 + k);
        float *dout = drl_test_randn(&r, c.no, 1.0f);
        const size_t n[4] = {c.no, c.ni, c.nw, (size_t)c.s.OC};
        const char *names[4] = {"out", "dinp", "dw", "db"};
        float *res[3][4];
        for (int run = 0; run < 3; run++) {
            drl_threads_set(run == 0 ? 1 : 2);
            for (int j = 0; j < 4; j++) res[run][j] = drl_test_zeros(n[j]);
            fwd(&c, c.inp, c.w, c.b, res[run][0]);
            bwd(&c, res[run][1], res[run][2], res[run][3], dout);
        }
        for (int j = 0; j < 4; j++) {
            char what[96];
            snprintf(what, sizeof what, "shape %zu: %s, 1 vs 2 threads", k, names[j]);
            ck_assert_close(res[1][j], res[0][j], n[j], 2e-6, what);
            ck_assert_msg(memcmp(res[1][j], res[2][j], n[j] * sizeof(float)) == 0,
                          "shape %zu: %s differs between two runs with 2 threads", k, names[j]);
            for (int run = 0; run < 3; run++) free(res[run][j]);
        }
        free(dout);
        case_free(&c);
    }
    drl_threads_set(0);
}
END_TEST

/* Prepared filters (the inference path): against the reference at batch 1, 2, 3 and 17, with 1,
 * 2, 4 and 8 threads (with fewer tile blocks than threads, and 16+ channels per thread, the team
 * shares each block: 64→64 14×14 and 128→128 7×7 at batch 1 have one block, 128→128 14×14 two),
 * and bit-identical twice with 4 threads. Shapes without a prepared form have prepared_size 0
 * and give drl_conv2d_forward's result exactly. Then the unprepared forward and backward of a
 * batch-16 layer of one block (the training path's shared block: filters transformed in the
 * call, dinp accumulating) with 4 threads. */
START_TEST(test_conv_prepared) {
    const cshape sh[] = {{1, 32, 28, 28, 32, 3, 1, 1}, {1, 64, 14, 14, 64, 3, 1, 1},
                         {1, 128, 7, 7, 128, 3, 1, 1}, {1, 128, 14, 14, 128, 3, 1, 1},
                         {2, 16, 9, 9, 24, 3, 1, 1},
                         {3, 24, 12, 24, 16, 3, 1, 1}, {17, 16, 7, 7, 32, 3, 1, 1},
                         {1, 16, 3, 3, 16, 3, 1, 1},   {2, 16, 1, 1, 16, 3, 1, 1},
                         {1, 32, 28, 28, 64, 3, 2, 1}, {1, 1, 28, 28, 32, 3, 1, 1},
                         {2, 64, 7, 7, 32, 1, 1, 0}};
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
        const cshape *s = &sh[k];
        conv_case c = case_make(s, 1300 + k);
        const size_t np = drl_conv2d_prepared_size(s->C, s->OC, s->K, s->stride, s->pad);
        const int has = s->K == 3 && s->stride == 1 && s->pad == 1 && s->C >= 16 && s->OC >= 16;
        ck_assert_uint_eq(np, has ? 36 * (size_t)s->OC * s->C : 0); /* F(4×4, 3×3) filters */
        float *pw = np ? drl_test_zeros(np) : NULL;
        drl_conv2d_prepare(pw, c.w, s->C, s->OC, s->K, s->stride, s->pad);
        float *want = drl_test_zeros(c.no), *plain = drl_test_zeros(c.no), *res[5];
        ref_conv(&c, c.inp, c.w, c.b, want, NULL, NULL, NULL, NULL);
        drl_threads_set(1); /* compared bit for bit with the 1-thread run below */
        fwd(&c, c.inp, c.w, c.b, plain);
        const int threads[5] = {1, 2, 4, 8, 4};
        for (int run = 0; run < 5; run++) {
            drl_threads_set(threads[run]);
            res[run] = drl_test_zeros(c.no);
            drl_conv2d_forward_prepared(res[run], c.inp, c.w, pw, c.b, c.work, s->B, s->C, s->H,
                                        s->W, s->OC, s->K, s->stride, s->pad);
        }
        char what[96];
        for (int run = 0; run < 4; run++) {
            snprintf(what, sizeof what, "prepared shape %zu, %d thread(s)", k, threads[run]);
            ck_assert_close(res[run], want, c.no, 1e-5, what);
        }
        ck_assert_msg(memcmp(res[2], res[4], c.no * sizeof(float)) == 0,
                      "prepared shape %zu differs between two runs with 4 threads", k);
        if (!np)
            ck_assert_msg(memcmp(res[0], plain, c.no * sizeof(float)) == 0,
                          "shape %zu has no prepared form but differs from the plain forward", k);
        for (int run = 0; run < 5; run++) free(res[run]);
        free(want), free(plain), free(pw);
        case_free(&c);
    }
    const cshape one = {16, 64, 3, 3, 64, 3, 1, 1};
    conv_case c = case_make(&one, 1400);
    drl_rng r;
    drl_rng_seed(&r, 1401);
    float *dout = drl_test_randn(&r, c.no, 1.0f), *want = drl_test_zeros(c.no);
    float *wi = drl_test_zeros(c.ni), *ww = drl_test_zeros(c.nw), *wb = drl_test_zeros(64);
    float *gi = drl_test_zeros(c.ni), *gw = drl_test_zeros(c.nw), *gb = drl_test_zeros(64);
    ref_conv(&c, c.inp, c.w, c.b, want, dout, wi, ww, wb);
    drl_threads_set(4);
    fwd(&c, c.inp, c.w, c.b, c.out);
    bwd(&c, gi, gw, gb, dout);
    ck_assert_close(c.out, want, c.no, 1e-5, "batch-16 one-block layer, 4 threads: out");
    ck_assert_close(gi, wi, c.ni, 1e-5, "batch-16 one-block layer, 4 threads: dinp");
    ck_assert_close(gw, ww, c.nw, 1e-5, "batch-16 one-block layer, 4 threads: dw");
    free(dout), free(want), free(wi), free(ww), free(wb), free(gi), free(gw), free(gb);
    case_free(&c);
    drl_threads_set(0);
}
END_TEST

START_TEST(test_conv_work_size) {
    /* 1×1 stride-1 pad-0 needs none; same-size 3×3 at least a padded input and output image;
     * otherwise at least the columns of one image. */
    ck_assert_uint_eq(drl_conv2d_work_size(64, 64, 14, 14, 32, 1, 1, 0), 0);
    ck_assert_uint_ge(drl_conv2d_work_size(1, 32, 28, 28, 32, 3, 1, 1), (size_t)(32 + 32) * 784);
    ck_assert_uint_ge(drl_conv2d_work_size(256, 32, 28, 28, 64, 3, 2, 1), (size_t)288 * 196);
    ck_assert_int_eq(drl_conv2d_out_size(28, 3, 2, 1), 14);
    ck_assert_int_eq(drl_conv2d_out_size(7, 3, 1, 1), 7);
    ck_assert_int_eq(drl_conv2d_out_size(11, 4, 3, 2), 4);
    ck_assert_int_eq(drl_conv2d_out_size(1, 3, 1, 1), 1);
    /* the kernel does not fit: no output, and the ops leave everything alone */
    ck_assert_int_eq(drl_conv2d_out_size(2, 3, 2, 0), 0);
    ck_assert_int_eq(drl_conv2d_out_size(5, 3, 0, 1), 0);
    float x[4] = {1, 2, 3, 4}, w[9] = {0}, g[4] = {0}, gw[9] = {0};
    ck_assert_uint_eq(drl_conv2d_work_size(1, 1, 2, 2, 1, 3, 2, 0), 0);
    drl_conv2d_forward(NULL, x, w, NULL, NULL, 1, 1, 2, 2, 1, 3, 2, 0);
    drl_conv2d_backward(g, gw, NULL, NULL, x, w, NULL, 1, 1, 2, 2, 1, 3, 2, 0);
    for (int i = 0; i < 4; i++) ck_assert(g[i] == 0.0f);
}
END_TEST

/* Scratch sized for B serves every smaller batch (the server's batcher runs partial batches on
 * activations made for --max-batch): forward, backward and the prepared forward never write past
 * work_size(B), with 8 threads (the most scratch slots). */
START_TEST(test_conv_work_size_partial_batches) {
    const int shapes[][6] = {/* C, H, OC, K, stride, pad */
                             {1, 28, 32, 3, 1, 1}, {32, 28, 64, 3, 2, 1}, {64, 14, 128, 3, 2, 1},
                             {32, 28, 32, 3, 1, 1}, {64, 14, 64, 3, 1, 1}, {32, 14, 64, 3, 1, 1}};
    const int Bmax = 64, guard = 4096;
    const int bs[] = {1, 2, 15, 16, 17, 33, 41, 42, 50, 63, 64};
    drl_rng r;
    drl_rng_seed(&r, 11);
    drl_threads_set(8);
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const int C = shapes[si][0], H = shapes[si][1], OC = shapes[si][2], K = shapes[si][3];
        const int st = shapes[si][4], pad = shapes[si][5], OH = drl_conv2d_out_size(H, K, st, pad);
        size_t ws = drl_conv2d_work_size(Bmax, C, H, H, OC, K, st, pad);
        float *work = malloc((ws + guard) * sizeof(float));
        float *x = malloc((size_t)Bmax * C * H * H * sizeof(float)), *w = malloc((size_t)OC * C * K * K * sizeof(float));
        float *y = malloc((size_t)Bmax * OC * OH * OH * sizeof(float)), *dx = calloc((size_t)Bmax * C * H * H, sizeof(float));
        float *dw = calloc((size_t)OC * C * K * K, sizeof(float));
        drl_rng_normal_fill(&r, x, (size_t)Bmax * C * H * H);
        drl_rng_normal_fill(&r, w, (size_t)OC * C * K * K);
        const size_t np = drl_conv2d_prepared_size(C, OC, K, st, pad);
        float *pw = np ? malloc(np * sizeof(float)) : NULL;
        drl_conv2d_prepare(pw, w, C, OC, K, st, pad);
        for (size_t bi = 0; bi < sizeof bs / sizeof *bs; bi++) {
            const int b = bs[bi];
            ck_assert_uint_le(drl_conv2d_work_size(b, C, H, H, OC, K, st, pad), ws);
            for (int i = 0; i < guard; i++) work[ws + i] = 12345.0f;
            drl_conv2d_forward(y, x, w, NULL, work, b, C, H, H, OC, K, st, pad);
            drl_conv2d_backward(dx, dw, NULL, y, x, w, work, b, C, H, H, OC, K, st, pad);
            if (pw) drl_conv2d_forward_prepared(y, x, w, pw, NULL, work, b, C, H, H, OC, K, st, pad);
            for (int i = 0; i < guard; i++)
                ck_assert_msg(work[ws + i] == 12345.0f, "shape %zu batch %d wrote past work_size(%d)", si, b, Bmax);
        }
        free(work), free(x), free(w), free(y), free(dx), free(dw), free(pw);
    }
    drl_threads_set(0);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

START_TEST(test_upsample) {
    const int B = 2, C = 3, H = 5, W = 4;
    const size_t ni = (size_t)B * C * H * W, no = 4 * ni;
    drl_rng r;
    drl_rng_seed(&r, 11);
    float *x = drl_test_randn(&r, ni, 1.0f), *y = drl_test_zeros(no), *Rp = drl_test_randn(&r, no, 1.0f);
    drl_upsample2x_forward(y, x, B, C, H, W);
    for (int p = 0; p < B * C; p++)
        for (int h = 0; h < 2 * H; h++)
            for (int w = 0; w < 2 * W; w++)
                ck_assert(y[((size_t)p * 2 * H + h) * 2 * W + w] ==
                          x[((size_t)p * H + h / 2) * W + w / 2]);
    /* gradient: analytic vs central differences; then accumulation */
    float *g = drl_test_zeros(ni), *num = drl_test_zeros(ni);
    drl_upsample2x_backward(g, Rp, B, C, H, W);
    const float eps = 1e-3f;
    for (size_t i = 0; i < ni; i++) {
        const float x0 = x[i];
        x[i] = x0 + eps;
        drl_upsample2x_forward(y, x, B, C, H, W);
        const double lp = proj_loss(y, Rp, no);
        x[i] = x0 - eps;
        drl_upsample2x_forward(y, x, B, C, H, W);
        const double lm = proj_loss(y, Rp, no);
        x[i] = x0;
        num[i] = (float)((lp - lm) / (2.0 * eps));
    }
    printf("upsample2x gradcheck: max rel err %.2e\n", (double)drl_max_rel_diff(g, num, ni));
    ck_assert_close(g, num, ni, 1e-3, "upsample2x gradcheck");
    float *g2 = drl_test_zeros(ni);
    for (size_t i = 0; i < ni; i++) g2[i] = 1.0f + 2.0f * g[i];
    for (size_t i = 0; i < ni; i++) g[i] = 1.0f;
    drl_upsample2x_backward(g, Rp, B, C, H, W);
    drl_upsample2x_backward(g, Rp, B, C, H, W);
    ck_assert_close(g, g2, ni, 1e-6, "upsample2x accumulates");
    free(x), free(y), free(Rp), free(g), free(num), free(g2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_conv_forward_reference);
    tcase_add_test(tc, test_conv_chunks_reference);
    tcase_add_test(tc, test_conv_backward_reference);
    tcase_add_test(tc, test_conv_gradcheck);
    tcase_add_test(tc, test_conv_gradcheck_winograd);
    tcase_add_test(tc, test_conv_accumulates);
    tcase_add_test(tc, test_conv_threads_identical);
    tcase_add_test(tc, test_conv_prepared);
    tcase_add_test(tc, test_conv_work_size);
    tcase_add_test(tc, test_conv_work_size_partial_batches);
    tcase_add_test(tc, test_upsample);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
