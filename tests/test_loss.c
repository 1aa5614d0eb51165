/* test_loss.c — weighted squared error and softmax cross-entropy: values against double
 * references, finite-difference gradients, write (not accumulate) semantics, NULL outputs and
 * numerical stability with large logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "loss.h"
#include "tensor.h"
#include "testutil.h"

enum { B = 4, D = 7, K = 5 };

static double ref_wsq(const float *p, const float *t, const float *w) {
    double s = 0.0;
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            double e = (double)p[b * D + d] - t[b * D + d];
            s += (w ? w[b] : 1.0) * e * e;
        }
    return s / B;
}

typedef struct {
    float *pred, *target, *w;
    int *labels;
} loss_ctx;

static double wsq_loss(void *ctx) {
    loss_ctx *c = ctx;
    return drl_wsq_loss(NULL, c->pred, c->target, c->w, B, D);
}

static double xent_loss(void *ctx) {
    loss_ctx *c = ctx;
    return drl_xent_loss(NULL, NULL, c->pred, c->labels, B, K);
}

START_TEST(test_wsq_value_and_grad) {
    float p[B * D], t[B * D], w[B] = {0.5f, 2.0f, 1.0f, 0.0f}, g[B * D], num[B * D];
    drl_oc_normal(p, B * D, 1.0f, 1);
    drl_oc_normal(t, B * D, 1.0f, 2);
    for (int i = 0; i < B * D; i++) g[i] = 1e30f; /* written, not accumulated */
    double L = drl_wsq_loss(g, p, t, w, B, D);
    ck_assert_double_eq_tol(L, ref_wsq(p, t, w), 1e-12 * fabs(L));
    ck_assert_double_eq_tol(drl_wsq_loss(NULL, p, t, NULL, B, D), ref_wsq(p, t, NULL),
                            1e-12 * fabs(L));
    float ones[B] = {1, 1, 1, 1};
    ck_assert(drl_wsq_loss(NULL, p, t, ones, B, D) == drl_wsq_loss(NULL, p, t, NULL, B, D));

    loss_ctx c = {p, t, w, NULL};
    drl_oc_numeric(num, p, B * D, 1e-2f, wsq_loss, &c);
    printf("wsq dpred: max rel err %.3g\n", drl_oc_rel_err(g, num, B * D));
    ck_assert_close(g, num, B * D, 1e-5, "wsq dpred");
    for (int d = 0; d < D; d++) ck_assert(g[3 * D + d] == 0.0f); /* zero weight, zero grad */
    /* the analytic form: 2 w_b (p - t) / B */
    for (int i = 0; i < B * D; i++)
        ck_assert_float_eq_tol(g[i], 2.0 * w[i / D] * ((double)p[i] - t[i]) / B, 1e-6);
}
END_TEST

static double ref_xent(const float *l, const int *y, double *probs) {
    double loss = 0.0;
    for (int b = 0; b < B; b++) {
        double z = 0.0;
        for (int k = 0; k < K; k++) z += exp((double)l[b * K + k]);
        for (int k = 0; k < K; k++) probs[b * K + k] = exp((double)l[b * K + k]) / z;
        loss -= log(probs[b * K + y[b]]);
    }
    return loss / B;
}

START_TEST(test_xent_value_and_grad) {
    float l[B * K], g[B * K], pr[B * K], num[B * K], prf[B * K];
    int y[B] = {0, 4, 2, 2};
    double rp[B * K];
    drl_oc_normal(l, B * K, 2.0f, 3);
    for (int i = 0; i < B * K; i++) g[i] = 1e30f;
    double L = drl_xent_loss(g, pr, l, y, B, K);
    double R = ref_xent(l, y, rp);
    ck_assert_double_eq_tol(L, R, 1e-12 * fabs(R));
    for (int i = 0; i < B * K; i++) prf[i] = (float)rp[i];
    ck_assert_close(pr, prf, B * K, 1e-6, "xent probs");
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int k = 0; k < K; k++) s += pr[b * K + k];
        ck_assert_double_eq_tol(s, 1.0, 1e-6);
    }
    ck_assert(drl_xent_loss(NULL, NULL, l, y, B, K) == L);

    loss_ctx c = {l, NULL, NULL, y};
    drl_oc_numeric(num, l, B * K, 1e-2f, xent_loss, &c);
    printf("xent dlogits: max rel err %.3g\n", drl_oc_rel_err(g, num, B * K));
    ck_assert_close(g, num, B * K, 1e-4, "xent dlogits");
}
END_TEST

/* Uniform logits give log K; huge logits stay finite and equal the shifted problem. */
START_TEST(test_xent_stability) {
    float l[B * K] = {0}, g[B * K], pr[B * K], l2[B * K], g2[B * K];
    int y[B] = {1, 1, 3, 0};
    ck_assert_double_eq_tol(drl_xent_loss(NULL, NULL, l, y, B, K), log((double)K), 1e-12);
    drl_oc_normal(l, B * K, 3.0f, 4);
    for (int i = 0; i < B * K; i++) l2[i] = l[i] + 2000.0f; /* exp(2000) overflows double */
    double a = drl_xent_loss(g, pr, l, y, B, K), b = drl_xent_loss(g2, NULL, l2, y, B, K);
    ck_assert(isfinite(b) && drl_all_finite(g2, B * K));
    printf("xent shifted by 2000: |dL| %.3g, dlogits max abs diff %.3g\n", fabs(a - b),
           (double)drl_max_abs_diff(g, g2, B * K));
    ck_assert_double_eq_tol(a, b, 1e-3); /* float spacing near 2000 is 1.2e-4 */
    ck_assert_close(g2, g, B * K, 1e-3, "xent grad shifted");
    float big[K] = {1e4f, -1e4f, 0, 0, 0};
    int yb[1] = {1};
    double Lb = drl_xent_loss(NULL, NULL, big, yb, 1, K);
    ck_assert_double_eq_tol(Lb, 2e4, 1e-6);
    int bad[1] = {K};
    ck_assert(isnan(drl_xent_loss(NULL, NULL, big, bad, 1, K)));
}
END_TEST

/* For tests/py/test_ops_torch.py (only with DRL_OPS_DUMP set): both losses and their gradients,
 * compared there against torch (weighted MSE by hand, F.cross_entropy) and autograd. */
START_TEST(test_torch_dump) {
    enum { NB = 8, ND = 50, NK = 10 };
    float p[NB * ND], t[NB * ND], w[NB], g[NB * ND], l[NB * NK], gl[NB * NK], pr[NB * NK], yf[NB];
    int y[NB];
    drl_oc_normal(p, NB * ND, 1.0f, 81);
    drl_oc_normal(t, NB * ND, 1.0f, 82);
    drl_oc_normal(w, NB, 1.0f, 83);
    for (int b = 0; b < NB; b++) w[b] = w[b] * w[b]; /* λ(t) >= 0 */
    drl_oc_normal(l, NB * NK, 5.0f, 84);
    for (int b = 0; b < NB; b++) y[b] = (b * 7) % NK, yf[b] = (float)y[b];
    const float shape[3] = {NB, ND, NK};
    const float lw[1] = {(float)drl_wsq_loss(g, p, t, w, NB, ND)};
    const float lx[1] = {(float)drl_xent_loss(gl, pr, l, y, NB, NK)};
    drl_oc_dump("loss", "shape", shape, 3);
    drl_oc_dump("loss", "pred", p, NB * ND);
    drl_oc_dump("loss", "target", t, NB * ND);
    drl_oc_dump("loss", "w", w, NB);
    drl_oc_dump("loss", "wsq", lw, 1);
    drl_oc_dump("loss", "dpred", g, NB * ND);
    drl_oc_dump("loss", "logits", l, NB * NK);
    drl_oc_dump("loss", "labels", yf, NB);
    drl_oc_dump("loss", "xent", lx, 1);
    drl_oc_dump("loss", "probs", pr, NB * NK);
    drl_oc_dump("loss", "dlogits", gl, NB * NK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_add_test(tc, test_wsq_value_and_grad);
    tcase_add_test(tc, test_xent_value_and_grad);
    tcase_add_test(tc, test_xent_stability);
    suite_add_tcase(s, tc);
    drl_oc_add_torch_case(s, test_torch_dump);
    return drl_test_run(s);
}
