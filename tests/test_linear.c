/* test_linear.c — linear layer and global average pooling against direct loops and finite
 * differences of the projection loss L = sum(out * Rp) (central differences, eps = 1e-3, loss
 * summed in double).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linear.h"
#include "pool.h"
#include "rng.h"
#include "tensor.h"
#include "testutil.h"
#include "threads.h"

static double proj_loss(const float *out, const float *R, size_t n) {
    double L = 0.0;
    for (size_t i = 0; i < n; i++) L += (double)out[i] * R[i];
    return L;
}

/* (B, C, OC): B = 1, odd sizes, and one large enough to run on a team of threads. */
static const int LSHAPES[][3] = {{1, 1, 1}, {3, 5, 7}, {1, 17, 4}, {4, 2, 9}, {64, 128, 96}};
#define NL (sizeof LSHAPES / sizeof LSHAPES[0])

/* Direct loops in double: out, and given dout, dinp / dw / db. */
static void ref_linear(const float *inp, const float *w, const float *b, int B, int C, int OC,
                       float *out, const float *dout, float *dinp, float *dw, float *db) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OC; o++) {
            double acc = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++)
                acc += (double)inp[(size_t)i * C + c] * w[(size_t)o * C + c];
            if (out) out[(size_t)i * OC + o] = (float)acc;
        }
    if (!dout) return;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int o = 0; o < OC; o++)
                acc += (double)dout[(size_t)i * OC + o] * w[(size_t)o * C + c];
            dinp[(size_t)i * C + c] = (float)acc;
        }
    for (int o = 0; o < OC; o++) {
        double sb = 0.0;
        for (int i = 0; i < B; i++) sb += dout[(size_t)i * OC + o];
        db[o] = (float)sb;
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int i = 0; i < B; i++)
                acc += (double)dout[(size_t)i * OC + o] * inp[(size_t)i * C + c];
            dw[(size_t)o * C + c] = (float)acc;
        }
    }
}

START_TEST(test_linear_reference) {
    for (size_t k = 0; k < NL; k++) {
        const int B = LSHAPES[k][0], C = LSHAPES[k][1], OC = LSHAPES[k][2];
        const size_t ni = (size_t)B * C, no = (size_t)B * OC, nw = (size_t)OC * C;
        drl_rng r;
        drl_rng_seed(&r, 10 + k);
        float *x = drl_test_randn(&r, ni, 1.0f), *w = drl_test_randn(&r, nw, 0.5f), *b = drl_test_randn(&r, (size_t)OC, 1.0f);
        float *dout = drl_test_randn(&r, no, 1.0f), *out = drl_test_zeros(no), *want = drl_test_zeros(no);
        float *gi = drl_test_zeros(ni), *gw = drl_test_zeros(nw), *gb = drl_test_zeros((size_t)OC);
        float *wi = drl_test_zeros(ni), *ww = drl_test_zeros(nw), *wb = drl_test_zeros((size_t)OC);
        ref_linear(x, w, b, B, C, OC, want, dout, wi, ww, wb);
        drl_linear_forward(out, x, w, b, B, C, OC);
        ck_assert_close(out, want, no, 1e-6, "linear fwd");
        drl_linear_backward(gi, gw, gb, dout, x, w, B, C, OC);
        ck_assert_close(gi, wi, ni, 1e-6, "linear dinp");
        ck_assert_close(gw, ww, nw, 1e-6, "linear dw");
        ck_assert_close(gb, wb, (size_t)OC, 1e-6, "linear db");
        /* no bias; dinp / db NULL */
        ref_linear(x, w, NULL, B, C, OC, want, NULL, NULL, NULL, NULL);
        drl_linear_forward(out, x, w, NULL, B, C, OC);
        ck_assert_close(out, want, no, 1e-6, "linear fwd without bias");
        memset(gw, 0, nw * sizeof(float));
        drl_linear_backward(NULL, gw, NULL, dout, x, w, B, C, OC);
        ck_assert_close(gw, ww, nw, 1e-6, "linear dw with dinp = db = NULL");
        free(x), free(w), free(b), free(dout), free(out), free(want);
        free(gi), free(gw), free(gb), free(wi), free(ww), free(wb);
    }
}
END_TEST

START_TEST(test_linear_gradcheck) {
    const float eps = 1e-3f;
    double worst = 0.0;
    for (size_t k = 0; k < NL - 1; k++) {
        const int B = LSHAPES[k][0], C = LSHAPES[k][1], OC = LSHAPES[k][2];
        const size_t ni = (size_t)B * C, no = (size_t)B * OC, nw = (size_t)OC * C;
        drl_rng r;
        drl_rng_seed(&r, 20 + k);
        float *x = drl_test_randn(&r, ni, 1.0f), *w = drl_test_randn(&r, nw, 0.5f), *b = drl_test_randn(&r, (size_t)OC, 1.0f);
        float *Rp = drl_test_randn(&r, no, 1.0f), *out = drl_test_zeros(no);
        float *gi = drl_test_zeros(ni), *gw = drl_test_zeros(nw), *gb = drl_test_zeros((size_t)OC);
        float *ni_ = drl_test_zeros(ni), *nw_ = drl_test_zeros(nw), *nb_ = drl_test_zeros((size_t)OC);
        drl_linear_backward(gi, gw, gb, Rp, x, w, B, C, OC);
        struct { float *x, *num; size_t n; } vars[3] = {
            {x, ni_, ni}, {w, nw_, nw}, {b, nb_, (size_t)OC}};
        for (int v = 0; v < 3; v++)
            for (size_t i = 0; i < vars[v].n; i++) {
                const float x0 = vars[v].x[i];
                vars[v].x[i] = x0 + eps;
                drl_linear_forward(out, x, w, b, B, C, OC);
                const double lp = proj_loss(out, Rp, no);
                vars[v].x[i] = x0 - eps;
                drl_linear_forward(out, x, w, b, B, C, OC);
                const double lm = proj_loss(out, Rp, no);
                vars[v].x[i] = x0;
                vars[v].num[i] = (float)((lp - lm) / (2.0 * eps));
            }
        const double e[3] = {drl_max_rel_diff(gi, ni_, ni), drl_max_rel_diff(gw, nw_, nw),
                             drl_max_rel_diff(gb, nb_, (size_t)OC)};
        printf("linear gradcheck (%d, %d, %d): max rel err dinp %.2e dw %.2e db %.2e\n", B, C, OC,
               e[0], e[1], e[2]);
        ck_assert_close(gi, ni_, ni, 2e-3, "linear gradcheck dinp");
        ck_assert_close(gw, nw_, nw, 2e-3, "linear gradcheck dw");
        ck_assert_close(gb, nb_, (size_t)OC, 2e-3, "linear gradcheck db");
        for (int v = 0; v < 3; v++)
            if (e[v] > worst) worst = e[v];
        free(x), free(w), free(b), free(Rp), free(out);
        free(gi), free(gw), free(gb), free(ni_), free(nw_), free(nb_);
    }
    printf("linear gradcheck: worst max rel err %.2e\n", worst);
}
END_TEST

/* Accumulation (g0 + 2 * one call) and 1 vs 2 threads on the team-sized shape. */
START_TEST(test_linear_accumulates_threads) {
    const int B = 64, C = 128, OC = 96;
    const size_t ni = (size_t)B * C, no = (size_t)B * OC, nw = (size_t)OC * C;
    drl_rng r;
    drl_rng_seed(&r, 30);
    float *x = drl_test_randn(&r, ni, 1.0f), *w = drl_test_randn(&r, nw, 0.5f), *b = drl_test_randn(&r, (size_t)OC, 1.0f);
    float *dout = drl_test_randn(&r, no, 1.0f);
    float *g0[3] = {drl_test_randn(&r, ni, 1.0f), drl_test_randn(&r, nw, 1.0f), drl_test_randn(&r, (size_t)OC, 1.0f)};
    float *g[3] = {drl_test_zeros(ni), drl_test_zeros(nw), drl_test_zeros((size_t)OC)};
    const size_t n[3] = {ni, nw, (size_t)OC};
    drl_linear_backward(g[0], g[1], g[2], dout, x, w, B, C, OC);
    for (int j = 0; j < 3; j++)
        for (size_t i = 0; i < n[j]; i++) g[j][i] = g0[j][i] + 2.0f * g[j][i];
    drl_linear_backward(g0[0], g0[1], g0[2], dout, x, w, B, C, OC);
    drl_linear_backward(g0[0], g0[1], g0[2], dout, x, w, B, C, OC);
    ck_assert_close(g0[0], g[0], ni, 1e-6, "linear dinp accumulates");
    ck_assert_close(g0[1], g[1], nw, 1e-6, "linear dw accumulates");
    ck_assert_close(g0[2], g[2], (size_t)OC, 1e-6, "linear db accumulates");

    float *res[2][4];
    for (int t = 0; t < 2; t++) {
        drl_threads_set(t + 1);
        res[t][0] = drl_test_zeros(no), res[t][1] = drl_test_zeros(ni), res[t][2] = drl_test_zeros(nw);
        res[t][3] = drl_test_zeros((size_t)OC);
        drl_linear_forward(res[t][0], x, w, b, B, C, OC);
        drl_linear_backward(res[t][1], res[t][2], res[t][3], dout, x, w, B, C, OC);
    }
    drl_threads_set(0);
    const size_t m[4] = {no, ni, nw, (size_t)OC};
    for (int j = 0; j < 4; j++) {
        ck_assert_close(res[1][j], res[0][j], m[j], 2e-6, "linear 1 vs 2 threads");
        free(res[0][j]), free(res[1][j]);
    }
    for (int j = 0; j < 3; j++) free(g0[j]), free(g[j]);
    free(x), free(w), free(b), free(dout);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */

START_TEST(test_avgpool) {
    const int shapes[][3] = {{1, 1, 1}, {2, 3, 49}, {3, 64, 7}, {64, 128, 49}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int B = shapes[k][0], C = shapes[k][1], HW = shapes[k][2];
        const size_t ni = (size_t)B * C * HW, no = (size_t)B * C;
        drl_rng r;
        drl_rng_seed(&r, 40 + k);
        float *x = drl_test_randn(&r, ni, 1.0f), *out = drl_test_zeros(no), *want = drl_test_zeros(no);
        float *Rp = drl_test_randn(&r, no, 1.0f), *g = drl_test_zeros(ni), *num = drl_test_zeros(ni);
        for (size_t i = 0; i < no; i++) {
            double s = 0.0;
            for (int p = 0; p < HW; p++) s += x[i * HW + p];
            want[i] = (float)(s / HW);
        }
        drl_avgpool_forward(out, x, B, C, HW);
        ck_assert_close(out, want, no, 1e-6, "avgpool fwd");
        drl_avgpool_backward(g, Rp, B, C, HW);
        if (ni <= 2000) {
            const float eps = 1e-3f;
            for (size_t i = 0; i < ni; i++) {
                const float x0 = x[i];
                x[i] = x0 + eps;
                drl_avgpool_forward(out, x, B, C, HW);
                const double lp = proj_loss(out, Rp, no);
                x[i] = x0 - eps;
                drl_avgpool_forward(out, x, B, C, HW);
                const double lm = proj_loss(out, Rp, no);
                x[i] = x0;
                num[i] = (float)((lp - lm) / (2.0 * eps));
            }
            printf("avgpool gradcheck (%d, %d, %d): max rel err %.2e\n", B, C, HW,
                   (double)drl_max_rel_diff(g, num, ni));
            ck_assert_close(g, num, ni, 2e-3, "avgpool gradcheck");
        }
        /* exact gradient, then accumulation */
        for (size_t i = 0; i < ni; i++) num[i] = 1.0f + 2.0f * Rp[i / HW] / (float)HW;
        for (size_t i = 0; i < ni; i++) g[i] = 1.0f;
        drl_avgpool_backward(g, Rp, B, C, HW);
        drl_avgpool_backward(g, Rp, B, C, HW);
        ck_assert_close(g, num, ni, 1e-6, "avgpool accumulates");
        free(x), free(out), free(want), free(Rp), free(g), free(num);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("linear");
    tcase_add_test(tc, test_linear_reference);
    tcase_add_test(tc, test_linear_gradcheck);
    tcase_add_test(tc, test_linear_accumulates_threads);
    tcase_add_test(tc, test_avgpool);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
