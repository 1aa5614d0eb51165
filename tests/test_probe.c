/* test_probe.c — logistic-regression probes: separable data is learned, the few-label protocol
 * averages runs, bad inputs are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "rng.h"
#include "testutil.h"

/* K Gaussian blobs in D dims with means 4 apart along their own axis: linearly separable
 * (up to a negligible tail). */
static void blobs(drl_rng *r, size_t N, int D, int K, float *X, int *y) {
    for (size_t i = 0; i < N; i++) {
        int k = (int)(i % (size_t)K);
        y[i] = k;
        for (int d = 0; d < D; d++) X[i * D + d] = 0.5f * drl_rng_normal(r) + (d == k ? 4.0f : 0.0f) + 3.0f;
    }
}

START_TEST(test_separable) {
    enum { N = 600, D = 8, K = 4 };
    drl_rng r;
    drl_rng_seed(&r, 3);
    float *X = malloc(N * D * sizeof(float)), *Xt = malloc(N * D * sizeof(float));
    int *y = malloc(N * sizeof(int)), *yt = malloc(N * sizeof(int));
    blobs(&r, N, D, K, X, y);
    blobs(&r, N, D, K, Xt, yt);
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    drl_probe *p = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, N, D, K, &p), 0);
    double acc = drl_probe_accuracy(p, Xt, yt, N);
    printf("probe: separable blobs test accuracy %.4f\n", acc);
    ck_assert_msg(acc > 0.99, "separable accuracy %.4f", acc);
    drl_probe_free(p);

    double mean = 0, sd = 0;
    ck_assert_int_eq(drl_probe_few_label(&e, &cfg, X, y, N, Xt, yt, N, D, K, 40, 5, 1, &mean, &sd), 0);
    printf("probe: 40 labels, 5 runs: %.4f +- %.4f\n", mean, sd);
    ck_assert_msg(mean > 0.95 && sd >= 0.0, "few-label mean %.4f", mean);
    free(X), free(Xt), free(y), free(yt);
}
END_TEST

START_TEST(test_chance_on_noise) {
    /* Labels independent of the features: held-out accuracy stays near chance (1/K). */
    enum { N = 2000, D = 4, K = 2 };
    drl_rng r;
    drl_rng_seed(&r, 9);
    float *X = malloc(N * D * sizeof(float));
    int *y = malloc(N * sizeof(int));
    for (size_t i = 0; i < N * D; i++) X[i] = drl_rng_normal(&r);
    for (size_t i = 0; i < N; i++) y[i] = (int)drl_rng_below(&r, K);
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    drl_probe *p = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, N / 2, D, K, &p), 0);
    double acc = drl_probe_accuracy(p, X + (N / 2) * D, y + N / 2, N / 2);
    ck_assert_msg(fabs(acc - 0.5) < 0.06, "noise accuracy %.4f", acc);
    drl_probe_free(p);
    free(X), free(y);
}
END_TEST

START_TEST(test_bad_inputs) {
    float X[4] = {0, 1, 2, 3};
    int y[2] = {0, 5};
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    drl_probe *p = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, 2, 2, 3, &p), DRL_EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(e.msg, "label 5") != NULL, "%s", e.msg);
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, 2, 2, 1, &p), DRL_EINVAL);
    double m;
    int yy[2] = {0, 1};
    ck_assert_int_eq(drl_probe_few_label(&e, &cfg, X, yy, 2, X, yy, 2, 2, 2, 5, 1, 1, &m, NULL), DRL_EINVAL);
    drl_probe_free(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("probe");
    tcase_add_test(tc, test_separable);
    tcase_add_test(tc, test_chance_on_noise);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
