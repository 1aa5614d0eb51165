/* test_act.c — SiLU, ReLU and inverted dropout: forward against double references,
 * finite-difference gradients, accumulation, in-place use and thread-count independence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "opcheck.h"
#include "testutil.h"
#include "threads.h"

enum { N = 257 };

typedef struct {
    int kind; /* 0 silu, 1 relu, 2 dropout with fixed mask */
    float *x, *out, *R, *mask;
    size_t n;
} act_ctx;

static void act_fwd(act_ctx *c) {
    if (c->kind == 0) drl_silu_forward(c->out, c->x, c->n);
    else if (c->kind == 1) drl_relu_forward(c->out, c->x, c->n);
    else
        for (size_t i = 0; i < c->n; i++) c->out[i] = c->x[i] * c->mask[i];
}

static double act_loss(void *ctx) {
    act_ctx *c = ctx;
    act_fwd(c);
    return drl_oc_dot(c->out, c->R, c->n);
}

START_TEST(test_silu_forward) {
    float x[N], out[N], ref[N];
    drl_oc_normal(x, N, 4.0f, 1);
    x[0] = -100.0f, x[1] = 100.0f, x[2] = 0.0f, x[3] = -1e-3f;
    for (int i = 0; i < N; i++) ref[i] = (float)(x[i] / (1.0 + exp(-(double)x[i])));
    drl_silu_forward(out, x, N);
    printf("silu forward: max rel diff %.3g\n", drl_oc_rel_err(out, ref, N));
    ck_assert_close(out, ref, N, 1e-6, "silu forward");
    ck_assert(isfinite(out[0]) && fabsf(out[0]) < 1e-30f);
    drl_silu_forward(x, x, N); /* in place */
    ck_assert(memcmp(x, out, sizeof out) == 0);
}
END_TEST

START_TEST(test_relu_forward) {
    float x[N], out[N];
    drl_oc_normal(x, N, 1.0f, 2);
    drl_relu_forward(out, x, N);
    for (int i = 0; i < N; i++) ck_assert(out[i] == (x[i] > 0 ? x[i] : 0.0f));
    drl_relu_forward(x, x, N);
    ck_assert(memcmp(x, out, sizeof out) == 0);
}
END_TEST

static void check_grad(int kind, const char *what, double tol) {
    float x[N], out[N], R[N], mask[N], d[N] = {0}, num[N];
    drl_oc_normal(x, N, 3.0f, 10 + kind);
    drl_oc_normal(R, N, 1.0f, 20 + kind);
    const float h = 1e-2f;
    if (kind == 1) /* keep away from the kink at 0 */
        for (int i = 0; i < N; i++)
            if (fabsf(x[i]) < 4 * h) x[i] = x[i] < 0 ? x[i] - 4 * h : x[i] + 4 * h;
    drl_rng r;
    drl_rng_seed(&r, 5);
    float tmp[N];
    drl_dropout_forward(tmp, mask, x, N, 0.4f, &r);
    act_ctx c = {kind, x, out, R, mask, N};
    if (kind == 0) drl_silu_backward(d, R, x, N);
    else if (kind == 1) drl_relu_backward(d, R, x, N);
    else drl_dropout_backward(d, R, mask, N);
    drl_oc_numeric(num, x, N, h, act_loss, &c);
    printf("%s: max rel err %.3g\n", what, drl_oc_rel_err(d, num, N));
    ck_assert_close(d, num, N, tol, what);
    /* accumulation: a second call doubles the buffer exactly */
    float d1[N];
    memcpy(d1, d, sizeof d);
    if (kind == 0) drl_silu_backward(d, R, x, N);
    else if (kind == 1) drl_relu_backward(d, R, x, N);
    else drl_dropout_backward(d, R, mask, N);
    for (int i = 0; i < N; i++) ck_assert(d[i] == 2.0f * d1[i]);
}

START_TEST(test_silu_grad) { check_grad(0, "silu dinp", 1e-4); }
END_TEST

START_TEST(test_relu_grad) { check_grad(1, "relu dinp", 1e-4); }
END_TEST

START_TEST(test_dropout_grad) { check_grad(2, "dropout dinp (fixed mask)", 1e-4); }
END_TEST

START_TEST(test_dropout_mask) {
    enum { M = 100000 };
    float *x = malloc(M * sizeof(float)), *out = malloc(M * sizeof(float));
    float *mask = malloc(M * sizeof(float)), *mask2 = malloc(M * sizeof(float));
    drl_oc_normal(x, M, 1.0f, 3);
    drl_rng r;

    /* p = 0: a copy, mask all ones */
    drl_rng_seed(&r, 9);
    drl_dropout_forward(out, mask, x, M, 0.0f, &r);
    ck_assert(memcmp(out, x, M * sizeof(float)) == 0);
    for (int i = 0; i < M; i++) ck_assert(mask[i] == 1.0f);

    const float p = 0.3f, keep = 1.0f / (1.0f - p);
    drl_rng_seed(&r, 9);
    drl_dropout_forward(out, mask, x, M, p, &r);
    int dropped = 0;
    double sum_mask = 0.0;
    for (int i = 0; i < M; i++) {
        ck_assert(mask[i] == 0.0f || mask[i] == keep);
        ck_assert(out[i] == x[i] * mask[i]);
        dropped += mask[i] == 0.0f;
        sum_mask += mask[i];
    }
    printf("dropout p=%.1f: dropped fraction %.4f, mean mask %.4f\n", p, (double)dropped / M,
           sum_mask / M);
    ck_assert_msg(fabs((double)dropped / M - p) < 0.01, "dropped %d of %d", dropped, M);
    ck_assert_msg(fabs(sum_mask / M - 1.0) < 0.02, "mean mask %g", sum_mask / M);

    /* same seed, same mask; in place gives the same output */
    drl_rng_seed(&r, 9);
    float *y = malloc(M * sizeof(float));
    memcpy(y, x, M * sizeof(float));
    drl_dropout_forward(y, mask2, y, M, p, &r);
    ck_assert(memcmp(mask, mask2, M * sizeof(float)) == 0);
    ck_assert(memcmp(y, out, M * sizeof(float)) == 0);
    free(x), free(out), free(mask), free(mask2), free(y);
}
END_TEST

/* Sizes above the OpenMP threshold: 1 and 2 threads give bit-identical results. */
START_TEST(test_threads_identical) {
    enum { M = 1 << 17 };
    float *x = malloc(M * sizeof(float)), *R = malloc(M * sizeof(float));
    float *mask = malloc(M * sizeof(float));
    float *o[2], *d[2];
    drl_oc_normal(x, M, 3.0f, 7);
    drl_oc_normal(R, M, 1.0f, 8);
    for (int t = 0; t < 2; t++) {
        drl_threads_set(t + 1);
        o[t] = malloc(3 * M * sizeof(float));
        d[t] = calloc(3 * M, sizeof(float));
        drl_rng r;
        drl_rng_seed(&r, 77);
        drl_silu_forward(o[t], x, M);
        drl_silu_backward(d[t], R, x, M);
        drl_relu_forward(o[t] + M, x, M);
        drl_relu_backward(d[t] + M, R, x, M);
        drl_dropout_forward(o[t] + 2 * M, mask, x, M, 0.2f, &r);
        drl_dropout_backward(d[t] + 2 * M, R, mask, M);
    }
    ck_assert(memcmp(o[0], o[1], 3 * M * sizeof(float)) == 0);
    ck_assert(memcmp(d[0], d[1], 3 * M * sizeof(float)) == 0);
    for (int t = 0; t < 2; t++) free(o[t]), free(d[t]);
    free(x), free(R), free(mask);
}
END_TEST

/* For tests/py/test_ops_torch.py (only with DRL_OPS_DUMP set): SiLU / ReLU outputs and input
 * gradients for dout = R, and a dropout mask, compared there against torch. */
START_TEST(test_torch_dump) {
    enum { M = 4096 };
    float *x = malloc(M * sizeof(float)), *R = malloc(M * sizeof(float));
    float *o = malloc(M * sizeof(float));
    float *d = calloc(M, sizeof(float)), *mask = malloc(M * sizeof(float));
    drl_oc_normal(x, M, 4.0f, 61);
    drl_oc_normal(R, M, 1.0f, 62);
    x[0] = -100.0f, x[1] = 100.0f, x[2] = 0.0f, x[3] = -20.0f, x[4] = 20.0f;
    drl_oc_dump("act", "x", x, M);
    drl_oc_dump("act", "dout", R, M);
    drl_silu_forward(o, x, M);
    drl_silu_backward(d, R, x, M);
    drl_oc_dump("act", "silu", o, M);
    drl_oc_dump("act", "dsilu", d, M);
    memset(d, 0, M * sizeof(float));
    drl_relu_forward(o, x, M);
    drl_relu_backward(d, R, x, M);
    drl_oc_dump("act", "relu", o, M);
    drl_oc_dump("act", "drelu", d, M);
    drl_rng r;
    drl_rng_seed(&r, 63);
    const float p[1] = {0.3f};
    drl_dropout_forward(o, mask, x, M, p[0], &r);
    drl_oc_dump("act", "dropout_p", p, 1);
    drl_oc_dump("act", "dropout_mask", mask, M);
    drl_oc_dump("act", "dropout", o, M);
    free(x), free(R), free(o), free(d), free(mask);
}
END_TEST

int main(void) {
    Suite *s = suite_create("act");
    TCase *tc = tcase_create("act");
    tcase_add_test(tc, test_silu_forward);
    tcase_add_test(tc, test_relu_forward);
    tcase_add_test(tc, test_silu_grad);
    tcase_add_test(tc, test_relu_grad);
    tcase_add_test(tc, test_dropout_grad);
    tcase_add_test(tc, test_dropout_mask);
    tcase_add_test(tc, test_threads_identical);
    suite_add_tcase(s, tc);
    drl_oc_add_torch_case(s, test_torch_dump);
    return drl_test_run(s);
}
