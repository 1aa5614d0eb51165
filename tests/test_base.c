/* test_base.c — errors, tensors, overflow helpers and the RNG. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"
#include "tensor.h"
#include "testutil.h"

START_TEST(test_err_format) {
    drl_err e = {0};
    int rc = drl_errf(&e, DRL_EFORMAT, "png: width %u exceeds limit %u", 9000u, 4096u);
    ck_assert_int_eq(rc, DRL_EFORMAT);
    ck_assert_str_eq(e.msg, "png: width 9000 exceeds limit 4096");
    drl_err_prefix(&e, "file %s", "a.png");
    ck_assert_str_eq(e.msg, "file a.png: png: width 9000 exceeds limit 4096");
    ck_assert_int_eq(drl_errf(NULL, DRL_EIO, "x"), DRL_EIO);
    ck_assert_str_eq(drl_err_name(DRL_ELIMIT), "limit");
}
END_TEST

START_TEST(test_size_overflow) {
    size_t r;
    ck_assert_int_eq(drl_size_mul(SIZE_MAX / 2, 3, &r), -1);
    ck_assert_int_eq(drl_size_mul(1000, 1000, &r), 0);
    ck_assert_uint_eq(r, 1000000);
    ck_assert_int_eq(drl_size_add(SIZE_MAX, 1, &r), -1);
}
END_TEST

START_TEST(test_tensor_create_view) {
    drl_err e = {0};
    int64_t shp[4] = {2, 3, 4, 5};
    drl_tensor *t = drl_tensor_create(&e, 4, shp);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->numel, 120);
    for (size_t i = 0; i < t->numel; i++) ck_assert(t->data[i] == 0.0f);
    char s[64];
    drl_tensor_shape_str(t, s, sizeof s);
    ck_assert_str_eq(s, "(2, 3, 4, 5)");
    int64_t flat[2] = {6, 20};
    ck_assert_int_eq(drl_tensor_reshape(&e, t, 2, flat), 0);
    int64_t bad[2] = {7, 20};
    ck_assert_int_ne(drl_tensor_reshape(&e, t, 2, bad), 0);
    drl_tensor *v = drl_tensor_view(&e, t->data + 20, 1, (int64_t[]){20});
    v->data[0] = 5.0f;
    ck_assert(t->data[20] == 5.0f);
    drl_tensor *c = drl_tensor_clone(&e, t);
    ck_assert(c->data[20] == 5.0f && c->owned);
    drl_tensor_free(v);
    drl_tensor_free(c);
    drl_tensor_free(t);
    drl_tensor_free(NULL);
}
END_TEST

START_TEST(test_tensor_bad_shapes) {
    drl_err e = {0};
    ck_assert_ptr_null(drl_tensor_create(&e, 5, (int64_t[]){1, 1, 1, 1, 1}));
    ck_assert_ptr_null(drl_tensor_create(&e, 2, (int64_t[]){-1, 3}));
    ck_assert_ptr_null(drl_tensor_create(&e, 4, (int64_t[]){INT64_MAX, 4, 4, 4}));
    ck_assert_int_eq(e.code, DRL_ELIMIT);
}
END_TEST

START_TEST(test_rng_reproducible) {
    drl_rng a, b;
    drl_rng_seed(&a, 42);
    drl_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) ck_assert_uint_eq(drl_rng_u64(&a), drl_rng_u64(&b));
    drl_rng_stream(&a, 42, 7);
    drl_rng_stream(&b, 42, 8);
    ck_assert_uint_ne(drl_rng_u64(&a), drl_rng_u64(&b));
}
END_TEST

START_TEST(test_rng_moments) {
    drl_rng r;
    drl_rng_seed(&r, 1);
    enum { N = 200000 };
    double s = 0, s2 = 0, u = 0;
    for (int i = 0; i < N; i++) {
        double x = drl_rng_normal(&r);
        s += x;
        s2 += x * x;
        double v = drl_rng_uniform(&r);
        ck_assert(v >= 0.0 && v < 1.0);
        u += v;
    }
    ck_assert_msg(fabs(s / N) < 0.01, "normal mean %g", s / N);
    ck_assert_msg(fabs(s2 / N - 1.0) < 0.02, "normal var %g", s2 / N);
    ck_assert_msg(fabs(u / N - 0.5) < 0.005, "uniform mean %g", u / N);
    uint32_t idx[100];
    for (uint32_t i = 0; i < 100; i++) idx[i] = i;
    drl_rng_shuffle(&r, idx, 100);
    int seen[100] = {0};
    for (int i = 0; i < 100; i++) seen[idx[i]]++;
    for (int i = 0; i < 100; i++) ck_assert_int_eq(seen[i], 1);
    for (int i = 0; i < 1000; i++) ck_assert_uint_lt(drl_rng_below(&r, 3), 3);
}
END_TEST

int main(void) {
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("base");
    tcase_add_test(tc, test_err_format);
    tcase_add_test(tc, test_size_overflow);
    tcase_add_test(tc, test_tensor_create_view);
    tcase_add_test(tc, test_tensor_bad_shapes);
    tcase_add_test(tc, test_rng_reproducible);
    tcase_add_test(tc, test_rng_moments);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
