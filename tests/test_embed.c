/* test_embed.c — Gaussian Fourier features: frequency statistics and reproducibility, and the
 * [sin | cos] layout against a long-double reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "opcheck.h"
#include "tensor.h"
#include "testutil.h"

START_TEST(test_init_statistics) {
    enum { F = 50000 };
    float *W = malloc(F * sizeof(float)), *W2 = malloc(F * sizeof(float));
    const float scale = 16.0f;
    drl_rng r;
    drl_rng_seed(&r, 123);
    drl_fourier_init(W, F, scale, &r);
    double s = 0.0, s2 = 0.0;
    for (int f = 0; f < F; f++) s += W[f], s2 += (double)W[f] * W[f];
    const double mu = s / F, sd = sqrt(s2 / F - mu * mu);
    printf("fourier init scale %g: mean %.4f sd %.4f\n", scale, mu, sd);
    ck_assert_msg(fabs(mu) < 0.05 * scale, "mean %g", mu);
    ck_assert_msg(fabs(sd / scale - 1.0) < 0.02, "sd %g for scale %g", sd, scale);
    drl_rng_seed(&r, 123);
    drl_fourier_init(W2, F, scale, &r);
    ck_assert(memcmp(W, W2, F * sizeof(float)) == 0);
    free(W), free(W2);
}
END_TEST

START_TEST(test_forward_layout) {
    enum { B = 5, F = 16 };
    float x[B] = {0.0f, 1.0f, -0.37f, 2.5f, -4.6f}, W[F], out[B * 2 * F], ref[B * 2 * F];
    drl_rng r;
    drl_rng_seed(&r, 7);
    drl_fourier_init(W, F, 16.0f, &r);
    drl_fourier_forward(out, x, W, B, F);
    const long double tau = 6.283185307179586476925286766559L;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < F; f++) {
            long double ph = tau * (long double)x[b] * (long double)W[f];
            ref[b * 2 * F + f] = (float)sinl(ph);
            ref[b * 2 * F + F + f] = (float)cosl(ph);
        }
    printf("fourier forward: max abs diff %.3g\n", (double)drl_max_abs_diff(out, ref, B * 2 * F));
    /* phases up to ~1e3 rad: double keeps them to ~1e-13, so 1e-6 absolute is generous */
    ck_assert_close(out, ref, B * 2 * F, 1e-6, "fourier features");
    for (int f = 0; f < F; f++) {
        ck_assert(out[f] == 0.0f);     /* x = 0: sin = 0 */
        ck_assert(out[F + f] == 1.0f); /* cos = 1 */
    }
    for (int i = 0; i < B * F; i++) {
        float sn = out[(i / F) * 2 * F + i % F], cs = out[(i / F) * 2 * F + F + i % F];
        ck_assert_float_eq_tol(sn * sn + cs * cs, 1.0f, 1e-6f);
    }
}
END_TEST

/* For tests/py/test_ops_torch.py (only with DRL_OPS_DUMP set): features of log-sigma-like inputs
 * with the default scale 16, compared there against GaussianFourierProjection's formula. */
START_TEST(test_torch_dump) {
    enum { B = 16, F = 64 };
    float x[B], W[F], out[B * 2 * F];
    drl_rng r;
    drl_rng_seed(&r, 71);
    drl_fourier_init(W, F, 16.0f, &r);
    for (int b = 0; b < B; b++) x[b] = -4.6f + 8.5f * (float)b / (B - 1); /* log 0.01 .. log 50 */
    drl_fourier_forward(out, x, W, B, F);
    drl_oc_dump("fourier", "x", x, B);
    drl_oc_dump("fourier", "W", W, F);
    drl_oc_dump("fourier", "out", out, B * 2 * F);
}
END_TEST

int main(void) {
    Suite *s = suite_create("embed");
    TCase *tc = tcase_create("embed");
    tcase_add_test(tc, test_init_statistics);
    tcase_add_test(tc, test_forward_layout);
    suite_add_tcase(s, tc);
    drl_oc_add_torch_case(s, test_torch_dump);
    return drl_test_run(s);
}
