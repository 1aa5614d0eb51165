/* test_norm.c — GroupNorm: forward against a double-precision reference, finite-difference
 * gradients for dinp / dgamma / dbeta, accumulation, and thread-count independence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "opcheck.h"
#include "norm.h"
#include "testutil.h"
#include "threads.h"

/* Straightforward reference in double: out (B, C, HW), mean / rstd (B, G). */
static void ref_groupnorm(double *out, double *mean, double *rstd, const float *x,
                          const float *gamma, const float *beta, int B, int C, int HW, int G) {
    const int Cg = C / G;
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            double s = 0.0, ss = 0.0;
            const int N = Cg * HW;
            for (int c = g * Cg; c < (g + 1) * Cg; c++)
                for (int p = 0; p < HW; p++) s += x[((size_t)b * C + c) * HW + p];
            const double mu = s / N;
            for (int c = g * Cg; c < (g + 1) * Cg; c++)
                for (int p = 0; p < HW; p++) {
                    double d = x[((size_t)b * C + c) * HW + p] - mu;
                    ss += d * d;
                }
            const double rs = 1.0 / sqrt(ss / N + 1e-5);
            mean[b * G + g] = mu;
            rstd[b * G + g] = rs;
            for (int c = g * Cg; c < (g + 1) * Cg; c++)
                for (int p = 0; p < HW; p++) {
                    size_t i = ((size_t)b * C + c) * HW + p;
                    out[i] = (x[i] - mu) * rs * gamma[c] + beta[c];
                }
        }
}

typedef struct {
    int B, C, HW, G;
    float *x, *gamma, *beta, *out, *mean, *rstd, *dinp, *dgamma, *dbeta, *R;
} gn_case;

static void gn_alloc(gn_case *t, int B, int C, int HW, int G, uint64_t seed, float offset) {
    size_t n = (size_t)B * C * HW;
    t->B = B, t->C = C, t->HW = HW, t->G = G;
    t->x = malloc(n * sizeof(float));
    t->out = malloc(n * sizeof(float));
    t->dinp = calloc(n, sizeof(float));
    t->R = malloc(n * sizeof(float));
    t->gamma = malloc(C * sizeof(float));
    t->beta = malloc(C * sizeof(float));
    t->dgamma = calloc(C, sizeof(float));
    t->dbeta = calloc(C, sizeof(float));
    t->mean = malloc((size_t)B * G * sizeof(float));
    t->rstd = malloc((size_t)B * G * sizeof(float));
    drl_oc_normal(t->x, n, 1.5f, seed);
    for (size_t i = 0; i < n; i++) t->x[i] += offset;
    drl_oc_normal(t->gamma, C, 0.5f, seed + 1);
    for (int c = 0; c < C; c++) t->gamma[c] += 1.0f;
    drl_oc_normal(t->beta, C, 0.5f, seed + 2);
    drl_oc_normal(t->R, n, 1.0f, seed + 3);
}

static void gn_free(gn_case *t) {
    free(t->x), free(t->out), free(t->dinp), free(t->R), free(t->gamma), free(t->beta);
    free(t->dgamma), free(t->dbeta), free(t->mean), free(t->rstd);
}

static void gn_fwd(gn_case *t) {
    drl_groupnorm_forward(t->out, t->mean, t->rstd, t->x, t->gamma, t->beta, t->B, t->C, t->HW,
                          t->G);
}

static void gn_bwd(gn_case *t) {
    drl_groupnorm_backward(t->dinp, t->dgamma, t->dbeta, t->R, t->x, t->mean, t->rstd, t->gamma,
                           t->B, t->C, t->HW, t->G);
}

static double gn_loss(void *ctx) {
    gn_case *t = ctx;
    gn_fwd(t);
    return drl_oc_dot(t->out, t->R, (size_t)t->B * t->C * t->HW);
}

static void check_forward(int B, int C, int HW, int G, float offset) {
    gn_case t;
    gn_alloc(&t, B, C, HW, G, 11, offset);
    size_t n = (size_t)B * C * HW;
    double *ro = malloc(n * sizeof(double)), rm[64], rr[64];
    ck_assert_int_le(B * G, 64);
    ref_groupnorm(ro, rm, rr, t.x, t.gamma, t.beta, B, C, HW, G);
    gn_fwd(&t);
    float *rof = malloc(n * sizeof(float)), rmf[64], rrf[64];
    for (size_t i = 0; i < n; i++) rof[i] = (float)ro[i];
    for (int i = 0; i < B * G; i++) rmf[i] = (float)rm[i], rrf[i] = (float)rr[i];
    char what[96];
    snprintf(what, sizeof what, "groupnorm out (%d,%d,%d) G=%d offset %g", B, C, HW, G, offset);
    printf("%s: max rel diff %.3g\n", what, drl_oc_rel_err(t.out, rof, n));
    ck_assert_close(t.out, rof, n, offset != 0.0f ? 1e-4 : 2e-6, what);
    ck_assert_close(t.mean, rmf, (size_t)B * G, 1e-6, "groupnorm mean");
    ck_assert_close(t.rstd, rrf, (size_t)B * G, 1e-6, "groupnorm rstd");
    free(ro), free(rof);
    gn_free(&t);
}

START_TEST(test_forward_reference) {
    check_forward(2, 6, 5, 3, 0.0f);
    check_forward(3, 8, 16, 1, 0.0f);  /* LayerNorm-like */
    check_forward(2, 8, 9, 8, 0.0f);   /* InstanceNorm-like */
    check_forward(2, 8, 49, 4, 1000.0f); /* a large common offset: two-pass statistics */
}
END_TEST

/* Groups of constant input: variance 0, so out = beta (rstd = 1/sqrt(eps), finite). */
START_TEST(test_forward_constant) {
    float x[2 * 4 * 3], out[24], mean[4], rstd[4];
    const float gamma[4] = {1, 2, 3, 4}, beta[4] = {.5f, -1, 0, 2};
    for (int i = 0; i < 24; i++) x[i] = 3.25f;
    drl_groupnorm_forward(out, mean, rstd, x, gamma, beta, 2, 4, 3, 2);
    for (int i = 0; i < 24; i++) ck_assert_float_eq_tol(out[i], beta[(i / 3) % 4], 1e-6);
    ck_assert_float_eq_tol(rstd[0], 1.0 / sqrt(1e-5), 1e-2);
}
END_TEST

static void check_grads(int B, int C, int HW, int G) {
    gn_case t;
    gn_alloc(&t, B, C, HW, G, 21, 0.0f);
    size_t n = (size_t)B * C * HW;
    gn_fwd(&t);
    gn_bwd(&t);
    float *num = malloc(n * sizeof(float));
    const float h = 1e-2f;
    char what[96];

    drl_oc_numeric(num, t.x, n, h, gn_loss, &t);
    double e = drl_oc_rel_err(t.dinp, num, n);
    snprintf(what, sizeof what, "groupnorm dinp (%d,%d,%d) G=%d", B, C, HW, G);
    printf("%s: max rel err %.3g\n", what, e);
    ck_assert_close(t.dinp, num, n, 1e-3, what);

    drl_oc_numeric(num, t.gamma, C, h, gn_loss, &t);
    e = drl_oc_rel_err(t.dgamma, num, C);
    snprintf(what, sizeof what, "groupnorm dgamma (%d,%d,%d) G=%d", B, C, HW, G);
    printf("%s: max rel err %.3g\n", what, e);
    ck_assert_close(t.dgamma, num, C, 1e-3, what);

    drl_oc_numeric(num, t.beta, C, h, gn_loss, &t);
    e = drl_oc_rel_err(t.dbeta, num, C);
    snprintf(what, sizeof what, "groupnorm dbeta (%d,%d,%d) G=%d", B, C, HW, G);
    printf("%s: max rel err %.3g\n", what, e);
    ck_assert_close(t.dbeta, num, C, 1e-3, what);
    free(num);
    gn_free(&t);
}

START_TEST(test_backward_fd) {
    check_grads(2, 6, 5, 3);
    check_grads(3, 4, 7, 1);
    check_grads(2, 4, 6, 4);
}
END_TEST

/* Two backward calls into zeroed buffers give exactly twice one call; NULL dgamma/dbeta is ok. */
START_TEST(test_backward_accumulates) {
    gn_case t;
    gn_alloc(&t, 2, 8, 10, 4, 31, 0.0f);
    size_t n = 2 * 8 * 10;
    gn_fwd(&t);
    gn_bwd(&t);
    float *d1 = malloc(n * sizeof(float)), g1[8], b1[8];
    memcpy(d1, t.dinp, n * sizeof(float));
    memcpy(g1, t.dgamma, sizeof g1);
    memcpy(b1, t.dbeta, sizeof b1);
    gn_bwd(&t);
    for (size_t i = 0; i < n; i++) ck_assert(t.dinp[i] == 2.0f * d1[i]);
    for (int c = 0; c < 8; c++)
        ck_assert(t.dgamma[c] == 2.0f * g1[c] && t.dbeta[c] == 2.0f * b1[c]);

    memset(t.dinp, 0, n * sizeof(float));
    drl_groupnorm_backward(t.dinp, NULL, NULL, t.R, t.x, t.mean, t.rstd, t.gamma, 2, 8, 10, 4);
    for (size_t i = 0; i < n; i++) ck_assert(t.dinp[i] == d1[i]);
    free(d1);
    gn_free(&t);
}
END_TEST

/* The fused GroupNorm+SiLU ops give the same numbers as the two ops one after the other (the
 * separate ops are checked against references above and in test_act / the PyTorch parity test),
 * on a size that takes the OpenMP paths, with and without dinp; dinp / dgamma / dbeta
 * accumulate and dout is overwritten. */
START_TEST(test_fused_silu) {
    const int B = 3, C = 16, HW = 400, G = 4;
    const size_t n = (size_t)B * C * HW;
    float *x = malloc(n * sizeof(float)), *da = malloc(n * sizeof(float));
    float *y1 = malloc(n * sizeof(float)), *a1 = malloc(n * sizeof(float));
    float *y2 = malloc(n * sizeof(float)), *a2 = malloc(n * sizeof(float));
    float *dy1 = calloc(n, sizeof(float)), *dy2 = malloc(n * sizeof(float));
    float *dx1 = calloc(n, sizeof(float)), *dx2 = malloc(n * sizeof(float));
    float gam[16], bet[16], m1[12], r1[12], m2[12], r2[12];
    float dg1[16], db1[16], dg2[16], db2[16];
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = 3.0f * ((float)(s >> 8) / 16777216.0f - 0.5f) + 0.5f;
        s = s * 1664525u + 1013904223u;
        da[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        dx2[i] = dy2[i] = 7.0f; /* dout is overwritten, dinp accumulates */
    }
    for (int c = 0; c < C; c++) {
        gam[c] = 0.5f + 0.1f * c, bet[c] = 0.2f - 0.05f * c;
        dg1[c] = db1[c] = 0.0f, dg2[c] = db2[c] = 1.0f;
    }
    drl_groupnorm_forward(y1, m1, r1, x, gam, bet, B, C, HW, G);
    drl_silu_forward(a1, y1, n);
    drl_groupnorm_silu_forward(y2, a2, m2, r2, x, gam, bet, B, C, HW, G);
    ck_assert_close(y2, y1, n, 0.0, "fused gn out");
    ck_assert_close(a2, a1, n, 0.0, "fused silu out");
    ck_assert_close(m2, m1, 12, 0.0, "fused mean");
    ck_assert_close(r2, r1, 12, 0.0, "fused rstd");

    drl_silu_backward(dy1, da, y1, n);
    drl_groupnorm_backward(dx1, dg1, db1, dy1, x, m1, r1, gam, B, C, HW, G);
    drl_groupnorm_silu_backward(dx2, dg2, db2, dy2, da, y2, x, m2, r2, gam, B, C, HW, G);
    for (size_t i = 0; i < n; i++) dx2[i] -= 7.0f;
    for (int c = 0; c < C; c++) dg2[c] -= 1.0f, db2[c] -= 1.0f;
    ck_assert_close(dy2, dy1, n, 0.0, "fused dout");
    ck_assert_close(dx2, dx1, n, 1e-6, "fused dinp");
    ck_assert_close(dg2, dg1, 16, 1e-6, "fused dgamma");
    ck_assert_close(db2, db1, 16, 1e-6, "fused dbeta");

    /* without dinp: dout and the parameter gradients all the same */
    for (int c = 0; c < C; c++) dg2[c] = db2[c] = 0.0f;
    memset(dy2, 0, n * sizeof(float));
    drl_groupnorm_silu_backward(NULL, dg2, db2, dy2, da, y2, x, m2, r2, gam, B, C, HW, G);
    ck_assert_close(dy2, dy1, n, 0.0, "fused dout (no dinp)");
    ck_assert_close(dg2, dg1, 16, 0.0, "fused dgamma (no dinp)");
    ck_assert_close(db2, db1, 16, 0.0, "fused dbeta (no dinp)");
    free(x), free(da), free(y1), free(a1), free(y2), free(a2), free(dy1), free(dy2), free(dx1),
        free(dx2);
}
END_TEST

/* Big enough to take the OpenMP paths: 1 and 2 threads give bit-identical results. */
START_TEST(test_threads_identical) {
    gn_case a, b;
    const int B = 4, C = 64, HW = 256, G = 8;
    size_t n = (size_t)B * C * HW;
    gn_alloc(&a, B, C, HW, G, 41, 0.3f);
    gn_alloc(&b, B, C, HW, G, 41, 0.3f);
    drl_threads_set(1);
    gn_fwd(&a);
    gn_bwd(&a);
    drl_threads_set(2);
    gn_fwd(&b);
    gn_bwd(&b);
    ck_assert(memcmp(a.out, b.out, n * sizeof(float)) == 0);
    ck_assert(memcmp(a.mean, b.mean, (size_t)B * G * sizeof(float)) == 0);
    ck_assert(memcmp(a.rstd, b.rstd, (size_t)B * G * sizeof(float)) == 0);
    ck_assert(memcmp(a.dinp, b.dinp, n * sizeof(float)) == 0);
    ck_assert(memcmp(a.dgamma, b.dgamma, C * sizeof(float)) == 0);
    ck_assert(memcmp(a.dbeta, b.dbeta, C * sizeof(float)) == 0);
    gn_free(&a);
    gn_free(&b);
}
END_TEST

/* For tests/py/test_ops_torch.py (only with DRL_OPS_DUMP set): inputs, outputs and gradients
 * for dout = R, compared there against torch.nn.functional.group_norm and autograd. */
START_TEST(test_torch_dump) {
    const int B = 3, C = 12, HW = 20, G = 4;
    size_t n = (size_t)B * C * HW;
    gn_case t;
    gn_alloc(&t, B, C, HW, G, 51, 0.5f);
    gn_fwd(&t);
    gn_bwd(&t);
    const float shape[4] = {B, C, HW, G};
    drl_oc_dump("gn", "shape", shape, 4);
    drl_oc_dump("gn", "x", t.x, n);
    drl_oc_dump("gn", "gamma", t.gamma, C);
    drl_oc_dump("gn", "beta", t.beta, C);
    drl_oc_dump("gn", "dout", t.R, n);
    drl_oc_dump("gn", "out", t.out, n);
    drl_oc_dump("gn", "mean", t.mean, (size_t)B * G);
    drl_oc_dump("gn", "rstd", t.rstd, (size_t)B * G);
    drl_oc_dump("gn", "dinp", t.dinp, n);
    drl_oc_dump("gn", "dgamma", t.dgamma, C);
    drl_oc_dump("gn", "dbeta", t.dbeta, C);
    gn_free(&t);
}
END_TEST

int main(void) {
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_add_test(tc, test_forward_reference);
    tcase_add_test(tc, test_forward_constant);
    tcase_add_test(tc, test_backward_fd);
    tcase_add_test(tc, test_backward_accumulates);
    tcase_add_test(tc, test_threads_identical);
    tcase_add_test(tc, test_fused_silu);
    suite_add_tcase(s, tc);
    drl_oc_add_torch_case(s, test_torch_dump);
    return drl_test_run(s);
}
