/* test_combine.c — channel concat, residual add, bias broadcast: forward against naive loops,
 * finite-difference gradients, NULL gradients, accumulation and thread-count independence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "combine.h"
#include "opcheck.h"
#include "testutil.h"
#include "threads.h"

enum { B = 3, CA = 4, CB = 2, HW = 5 };

START_TEST(test_concat_forward) {
    float a[B * CA * HW], b[B * CB * HW], out[B * (CA + CB) * HW];
    drl_oc_normal(a, sizeof a / 4, 1.0f, 1);
    drl_oc_normal(b, sizeof b / 4, 1.0f, 2);
    drl_concat_forward(out, a, b, B, CA, CB, HW);
    for (int n = 0; n < B; n++)
        for (int c = 0; c < CA + CB; c++)
            for (int p = 0; p < HW; p++) {
                float want = c < CA ? a[(n * CA + c) * HW + p] : b[(n * CB + c - CA) * HW + p];
                ck_assert(out[(n * (CA + CB) + c) * HW + p] == want);
            }
}
END_TEST

typedef struct {
    int kind; /* 0 concat, 1 add, 2 bias broadcast */
    float *a, *b, *out, *R;
} cb_ctx;

static double cb_loss(void *ctx) {
    cb_ctx *c = ctx;
    size_t n;
    if (c->kind == 0) {
        drl_concat_forward(c->out, c->a, c->b, B, CA, CB, HW);
        n = B * (CA + CB) * HW;
    } else if (c->kind == 1) {
        drl_add_forward(c->out, c->a, c->b, B * CA * HW);
        n = B * CA * HW;
    } else {
        memcpy(c->out, c->a, B * CA * HW * sizeof(float));
        drl_bias_bcast_forward(c->out, c->b, B, CA, HW);
        n = B * CA * HW;
    }
    return drl_oc_dot(c->out, c->R, n);
}

static void fd(float *num, float *x, size_t n, cb_ctx *c, float *ana, const char *what) {
    drl_oc_numeric(num, x, n, 1e-2f, cb_loss, c);
    printf("%s: max rel err %.3g\n", what, drl_oc_rel_err(ana, num, n));
    ck_assert_close(ana, num, n, 1e-4, what);
}

START_TEST(test_grads_fd) {
    enum { NO = B * (CA + CB) * HW, NA = B * CA * HW, NB = B * CB * HW };
    float a[NA], b[NA], out[NO], R[NO], da[NA], db[NA], num[NO];
    drl_oc_normal(a, NA, 1.0f, 3);
    drl_oc_normal(b, NA, 1.0f, 4);
    drl_oc_normal(R, NO, 1.0f, 5);
    cb_ctx c = {0, a, b, out, R};

    memset(da, 0, sizeof da), memset(db, 0, sizeof db);
    drl_concat_backward(da, db, R, B, CA, CB, HW);
    fd(num, a, NA, &c, da, "concat da");
    fd(num, b, NB, &c, db, "concat db");

    c.kind = 1;
    memset(da, 0, sizeof da), memset(db, 0, sizeof db);
    drl_add_backward(da, db, R, NA);
    fd(num, a, NA, &c, da, "add da");
    fd(num, b, NA, &c, db, "add db");

    c.kind = 2;
    memset(db, 0, sizeof db);
    drl_bias_bcast_backward(db, R, B, CA, HW);
    fd(num, b, B * CA, &c, db, "bias_bcast dbias");
}
END_TEST

START_TEST(test_add_bias_forward) {
    enum { NA = B * CA * HW };
    float a[NA], b[NA], out[NA], bias[B * CA];
    drl_oc_normal(a, NA, 1.0f, 6);
    drl_oc_normal(b, NA, 1.0f, 7);
    drl_oc_normal(bias, B * CA, 1.0f, 8);
    drl_add_forward(out, a, b, NA);
    for (int i = 0; i < NA; i++) ck_assert(out[i] == a[i] + b[i]);
    float a2[NA];
    memcpy(a2, a, sizeof a);
    drl_add_forward(a2, a2, b, NA); /* out aliases a */
    ck_assert(memcmp(a2, out, sizeof out) == 0);
    memcpy(a2, a, sizeof a);
    drl_bias_bcast_forward(a2, bias, B, CA, HW);
    for (int i = 0; i < NA; i++) ck_assert(a2[i] == a[i] + bias[i / HW]);
}
END_TEST

/* Backward accumulates (two calls = exactly twice one) and skips NULL gradients. */
START_TEST(test_accumulate_and_null) {
    enum { NO = B * (CA + CB) * HW, NA = B * CA * HW, NB = B * CB * HW };
    float R[NO], da[NA] = {0}, db[NB] = {0}, d1[NA], e1[NB];
    drl_oc_normal(R, NO, 1.0f, 9);
    drl_concat_backward(da, db, R, B, CA, CB, HW);
    memcpy(d1, da, sizeof da), memcpy(e1, db, sizeof db);
    drl_concat_backward(da, db, R, B, CA, CB, HW);
    for (int i = 0; i < NA; i++) ck_assert(da[i] == 2.0f * d1[i]);
    for (int i = 0; i < NB; i++) ck_assert(db[i] == 2.0f * e1[i]);
    drl_concat_backward(NULL, db, R, B, CA, CB, HW);
    for (int i = 0; i < NB; i++) ck_assert(db[i] == 3.0f * e1[i]);
    drl_concat_backward(da, NULL, R, B, CA, CB, HW);
    for (int i = 0; i < NA; i++) ck_assert(da[i] == 3.0f * d1[i]);

    float x[NA] = {0};
    drl_add_backward(NULL, x, R, NA);
    drl_add_backward(x, NULL, R, NA);
    for (int i = 0; i < NA; i++) ck_assert(x[i] == 2.0f * R[i]);

    float g[B * CA] = {0}, g1[B * CA];
    drl_bias_bcast_backward(g, R, B, CA, HW);
    memcpy(g1, g, sizeof g);
    drl_bias_bcast_backward(g, R, B, CA, HW);
    for (int i = 0; i < B * CA; i++) ck_assert(g[i] == 2.0f * g1[i]);
}
END_TEST

/* Shapes above the OpenMP threshold: 1 and 2 threads give bit-identical results. */
START_TEST(test_threads_identical) {
    const int Bn = 4, Ca = 32, Cb = 16, P = 400;
    const size_t na = (size_t)Bn * Ca * P, nb = (size_t)Bn * Cb * P, no = na + nb;
    float *a = malloc(na * 4), *b = malloc(nb * 4), *R = malloc(no * 4);
    float *bias = malloc(Bn * Ca * 4);
    drl_oc_normal(a, na, 1.0f, 10);
    drl_oc_normal(b, nb, 1.0f, 11);
    drl_oc_normal(R, no, 1.0f, 12);
    drl_oc_normal(bias, Bn * Ca, 1.0f, 13);
    float *res[2];
    for (int t = 0; t < 2; t++) {
        drl_threads_set(t + 1);
        float *r = res[t] = calloc(3 * no + Bn * Ca, 4);
        drl_concat_forward(r, a, b, Bn, Ca, Cb, P);
        drl_concat_backward(r + no, r + no + na, R, Bn, Ca, Cb, P);
        drl_add_forward(r + 2 * no, a, R, na);
        drl_add_backward(r + 2 * no + na, NULL, R, nb);
        drl_bias_bcast_forward(r + 2 * no, bias, Bn, Ca, P);
        drl_bias_bcast_backward(r + 3 * no, R, Bn, Ca, P);
    }
    ck_assert(memcmp(res[0], res[1], (3 * no + Bn * Ca) * 4) == 0);
    free(res[0]), free(res[1]), free(a), free(b), free(R), free(bias);
}
END_TEST

int main(void) {
    Suite *s = suite_create("combine");
    TCase *tc = tcase_create("combine");
    tcase_add_test(tc, test_concat_forward);
    tcase_add_test(tc, test_add_bias_forward);
    tcase_add_test(tc, test_grads_fd);
    tcase_add_test(tc, test_accumulate_and_null);
    tcase_add_test(tc, test_threads_identical);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
