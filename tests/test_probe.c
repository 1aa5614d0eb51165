/* test_probe.c — logistic-regression probes: separable data is learned, the few-label protocol
 * averages runs, C chosen by validation follows the data, bad inputs are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "rng.h"
#include "testutil.h"
#include "threads.h"

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
    int capped = -1;
    ck_assert_int_eq(drl_probe_few_label(&e, &cfg, X, y, N, Xt, yt, N, D, K, 40, 5, 1, NULL, &mean, &sd, NULL, NULL, &capped), 0);
    printf("probe: 40 labels, 5 runs: %.4f +- %.4f\n", mean, sd);
    ck_assert_msg(mean > 0.95 && sd >= 0.0, "few-label mean %.4f", mean);
    ck_assert_int_eq(capped, 0);
    /* each run's fit reports whether it stopped at the iteration cap */
    drl_probe_cfg one = cfg;
    one.iters = 1;
    ck_assert_int_eq(drl_probe_few_label(&e, &one, X, y, N, Xt, yt, N, D, K, 40, 5, 1, NULL, &mean, NULL, NULL, NULL, &capped), 0);
    ck_assert_int_eq(capped, 5);

    /* Per-run accuracies: their mean and std are the summary, and run r's labelled subset
     * depends only on (seed, r), so fewer runs give the same first runs (paired comparisons). */
    cfg.l2 = 10.0f; /* strong enough that runs differ */
    double acc5[5], acc3[3], m5 = 0, sd5 = 0, m3 = 0;
    ck_assert_int_eq(drl_probe_few_label(&e, &cfg, X, y, N, Xt, yt, N, D, K, 12, 5, 4, NULL, &m5, &sd5, NULL, acc5, NULL), 0);
    ck_assert_int_eq(drl_probe_few_label(&e, &cfg, X, y, N, Xt, yt, N, D, K, 12, 3, 4, NULL, &m3, NULL, NULL, acc3, NULL), 0);
    double s = 0, s2 = 0;
    for (int r = 0; r < 5; r++) s += acc5[r];
    for (int r = 0; r < 5; r++) s2 += (acc5[r] - s / 5) * (acc5[r] - s / 5);
    ck_assert_double_eq_tol(m5, s / 5, 1e-12);
    ck_assert_double_eq_tol(sd5, sqrt(s2 / 4), 1e-9);
    for (int r = 0; r < 3; r++) ck_assert_double_eq(acc3[r], acc5[r]);
    ck_assert_double_eq_tol(m3, (acc5[0] + acc5[1] + acc5[2]) / 3, 1e-12);
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

/* Overlapping classes in D dims with correlated, badly scaled features (row i has class i % K). */
static void overlapping(uint64_t seed, size_t N, int D, int K, float *X, int *y) {
    drl_rng r;
    drl_rng_seed(&r, seed);
    for (size_t i = 0; i < N; i++) {
        y[i] = (int)(i % (size_t)K);
        float common = drl_rng_normal(&r);
        for (int d = 0; d < D; d++)
            X[i * D + d] = (d + 1) * (drl_rng_normal(&r) + 0.8f * common + (d % K == y[i] ? 0.7f : 0.0f)) + 5.0f * d;
    }
}

/* The objective (1/N) Σ xent + (l2/2N) ‖W‖² at the fit, and the max |gradient| there, both
 * recomputed here in double from the returned W, b and standardisation. */
static double at_fit(const drl_probe *p, const float *X, const int *y, size_t N, float l2, double *gmax) {
    const int D = p->D, K = p->K;
    double *gW = calloc((size_t)K * D, sizeof(double)), gb[16] = {0}, xs[160], pr[16], f = 0;
    ck_assert(gW && D <= 160 && K <= 16);
    for (size_t i = 0; i < N; i++) {
        for (int d = 0; d < D; d++) xs[d] = (X[i * D + d] - p->mu[d]) / p->sd[d];
        double mx = -1e300, z = 0;
        for (int k = 0; k < K; k++) {
            pr[k] = p->b[k];
            for (int d = 0; d < D; d++) pr[k] += (double)p->W[k * D + d] * xs[d];
            mx = pr[k] > mx ? pr[k] : mx;
        }
        f -= pr[y[i]] - mx;
        for (int k = 0; k < K; k++) z += pr[k] = exp(pr[k] - mx);
        f += log(z);
        for (int k = 0; k < K; k++) {
            double dl = (pr[k] / z - (k == y[i])) / N;
            gb[k] += dl;
            for (int d = 0; d < D; d++) gW[k * D + d] += dl * xs[d];
        }
    }
    double worst = 0, r = 0;
    for (int j = 0; j < K * D; j++) {
        worst = fmax(worst, fabs(gW[j] + l2 / N * p->W[j]));
        r += (double)p->W[j] * p->W[j];
    }
    for (int k = 0; k < K; k++) worst = fmax(worst, fabs(gb[k]));
    free(gW);
    *gmax = worst;
    return f / N + 0.5 * l2 / N * r;
}

START_TEST(test_reaches_the_minimum) {
    /* Both solvers must return the minimiser of (1/N) Σ xent + (l2/2N) ‖W‖² — its gradient,
     * recomputed in double, vanishes (an optimiser stopped early, like the full-batch Adam this
     * replaced, leaves ~1e-4). */
    enum { N = 3000, D = 16, K = 5 };
    float *X = malloc(N * D * sizeof(float));
    int *y = malloc(N * sizeof(int));
    overlapping(21, N, D, K, X, y);
    drl_err e = {0};
    for (int solver = 0; solver < 2; solver++)
        for (int c = 0; c < 2; c++) {
            drl_probe_cfg cfg = drl_probe_defaults();
            cfg.l2 = c ? 0.01f : 1.0f;
            cfg.solver = solver ? DRL_PROBE_LBFGS : DRL_PROBE_NEWTON;
            const char *name = solver ? "lbfgs" : "newton";
            drl_probe *p = NULL;
            ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, N, D, K, &p), 0);
            double worst;
            at_fit(p, X, y, N, cfg.l2, &worst);
            printf("probe: %s, l2 %g, max |gradient| at the fit %.2e\n", name, cfg.l2, worst);
            ck_assert_msg(worst < 1e-5, "%s, l2 %g: gradient %.3e at the fit", name, cfg.l2, worst);
            /* the fit reports how it ended: not at the iteration cap, its own (float) gradient small */
            printf("probe: %s, l2 %g: stopped on %s after %d iterations (%d CG steps), own |gradient| %.2e\n",
                   name, cfg.l2, drl_probe_stop_name(p->stop), p->iters, p->cg_iters, p->grad_max);
            ck_assert_msg(p->stop != DRL_PROBE_CAP && p->grad_max < 1e-5 && p->iters > 0 && p->iters < cfg.iters,
                          "%s, l2 %g: stop %d, |g| %.3e, %d iterations", name, cfg.l2, p->stop, p->grad_max, p->iters);
            ck_assert_int_eq(p->cg_iters > 0, !solver); /* CG steps are Newton's */
            drl_probe_free(p);
        }
    /* capped at 3 iterations either solver says it stopped short, and where */
    for (int solver = 0; solver < 2; solver++) {
        drl_probe_cfg capped = drl_probe_defaults();
        capped.iters = 3;
        capped.l2 = 0.01f;
        capped.solver = solver ? DRL_PROBE_LBFGS : DRL_PROBE_NEWTON;
        drl_probe *p = NULL;
        ck_assert_int_eq(drl_probe_fit(&e, &capped, X, y, N, D, K, &p), 0);
        ck_assert_msg(p->stop == DRL_PROBE_CAP && p->iters == 3 && p->grad_max > capped.tol,
                      "solver %d capped: stop %d, |g| %.3e, %d iterations", solver, p->stop, p->grad_max, p->iters);
        ck_assert_str_eq(drl_probe_stop_name(p->stop), "iteration cap");
        drl_probe_free(p);
    }
    free(X), free(y);
}
END_TEST

/* Row i's logits under p, in double. */
static void logits_of(const drl_probe *p, const float *x, double *out) {
    for (int k = 0; k < p->K; k++) {
        out[k] = p->b[k];
        for (int d = 0; d < p->D; d++) out[k] += (double)p->W[k * p->D + d] * ((double)x[d] - p->mu[d]) / p->sd[d];
    }
}

START_TEST(test_warm_start) {
    /* A fit warm-started from another (other C, other rows, so another standardisation) starts
     * from the same function, reaches the same minimiser as from zero, in fewer iterations; a
     * probe of another shape is refused. */
    enum { N = 3000, D = 16, K = 5 };
    float *X = malloc(N * D * sizeof(float));
    int *y = malloc(N * sizeof(int));
    overlapping(31, N, D, K, X, y);
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    drl_probe *a = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, 2000, D, K, &a), 0); /* C = 1 on 2/3 of the rows */
    /* zero iterations: the start itself, which must be a's function re-expressed */
    drl_probe_cfg c0 = cfg;
    c0.iters = 0, c0.warm = a;
    drl_probe *s0 = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &c0, X, y, N, D, K, &s0), 0);
    ck_assert(s0->mu[0] != a->mu[0] && s0->sd[0] != a->sd[0]);
    double worst = 0, la[K], ls[K];
    for (size_t i = 0; i < N; i++) {
        logits_of(a, X + i * D, la), logits_of(s0, X + i * D, ls);
        for (int k = 0; k < K; k++) worst = fmax(worst, fabs(la[k] - ls[k]) / (1 + fabs(la[k])));
    }
    printf("probe: warm start, logits of the start vs the probe it came from: max rel. difference %.2e\n", worst);
    ck_assert_msg(worst < 1e-5, "the start's logits differ by %.3e", worst);
    drl_probe_free(s0);
    for (int solver = 0; solver < 2; solver++) {
        drl_probe_cfg c = cfg;
        c.l2 = 0.01f, c.solver = solver ? DRL_PROBE_LBFGS : DRL_PROBE_NEWTON;
        drl_probe *cold = NULL, *warm = NULL;
        ck_assert_int_eq(drl_probe_fit(&e, &c, X, y, N, D, K, &cold), 0);
        c.warm = a;
        ck_assert_int_eq(drl_probe_fit(&e, &c, X, y, N, D, K, &warm), 0);
        double gc, gw;
        const double fc = at_fit(cold, X, y, N, c.l2, &gc), fw = at_fit(warm, X, y, N, c.l2, &gw);
        printf("probe: %s, C 100 from zero: %d iterations, f %.12f; warm from C 1 on other rows: %d, f %.12f\n",
               solver ? "lbfgs" : "newton", cold->iters, fc, warm->iters, fw);
        ck_assert_msg(fabs(fc - fw) <= 1e-9 * fc && gw < 1e-5 && warm->iters < cold->iters,
                      "solver %d: f %.12f vs %.12f, |g| %.3e, %d vs %d iterations", solver, fw, fc, gw, warm->iters,
                      cold->iters);
        drl_probe_free(cold), drl_probe_free(warm);
    }
    drl_probe *bad = NULL;
    c0.iters = 10;
    ck_assert_int_ne(drl_probe_fit(&e, &c0, X, y, N, D / 2, K, &bad), 0);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(e.msg, "warm start"));
    drl_probe_free(a);
    free(X), free(y);
}
END_TEST

START_TEST(test_newton_at_large_c) {
    /* Weak regularisation (C = 1000) of 10 overlapping classes in 48 correlated dims. Newton
     * reaches the minimiser (to float resolution) in a few tens of iterations, the same on 1 and
     * on 2 threads; L-BFGS given its default 1000 iterations either gets there too (then to the
     * same objective and the same predictions) or stops above Newton's objective. */
    enum { N = 4000, D = 48, K = 10 };
    float *X = malloc(N * D * sizeof(float));
    int *y = malloc(N * sizeof(int)), *pn = malloc(N * sizeof(int)), *pl = malloc(N * sizeof(int));
    overlapping(5, N, D, K, X, y);
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    cfg.l2 = 1e-3f;
    drl_probe *n = NULL, *l = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, N, D, K, &n), 0);
    double gn, gl;
    const double fn = at_fit(n, X, y, N, cfg.l2, &gn);
    printf("probe: C 1000, newton: %s after %d iterations (%d CG steps), f %.12f, |g| %.2e\n",
           drl_probe_stop_name(n->stop), n->iters, n->cg_iters, fn, gn);
    ck_assert_msg(n->stop != DRL_PROBE_CAP && n->iters <= 60 && gn < 1e-5, "newton: stop %d after %d, |g| %.3e",
                  n->stop, n->iters, gn);
    drl_threads_set(2);
    drl_probe *n2 = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, N, D, K, &n2), 0);
    drl_threads_set(1);
    double g2;
    const double f2 = at_fit(n2, X, y, N, cfg.l2, &g2);
    drl_probe_predict(n, X, N, pn);
    drl_probe_predict(n2, X, N, pl);
    int moved = 0;
    for (size_t i = 0; i < N; i++) moved += pn[i] != pl[i];
    printf("probe: C 1000, newton on 2 threads: f %.12f, |g| %.2e, %d predictions differ\n", f2, g2, moved);
    ck_assert_msg(fabs(f2 - fn) <= 1e-9 * fabs(fn) && g2 < 1e-5 && moved <= 1, "threads: f %.12f vs %.12f, %d differ",
                  f2, fn, moved);
    drl_probe_free(n2);
    cfg.solver = DRL_PROBE_LBFGS;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, N, D, K, &l), 0);
    const double fl = at_fit(l, X, y, N, cfg.l2, &gl);
    printf("probe: C 1000, lbfgs: %s after %d iterations, f %.12f, |g| %.2e\n", drl_probe_stop_name(l->stop),
           l->iters, fl, gl);
    ck_assert_msg(fn <= fl + 1e-9 * fabs(fl), "newton's objective %.12f above lbfgs's %.12f", fn, fl);
    if (l->stop != DRL_PROBE_CAP) {
        ck_assert_msg(fabs(fn - fl) <= 1e-8 * fabs(fl), "objectives %.12f / %.12f", fn, fl);
        drl_probe_predict(n, X, N, pn);
        drl_probe_predict(l, X, N, pl);
        int differ = 0;
        for (size_t i = 0; i < N; i++) differ += pn[i] != pl[i];
        ck_assert_msg(differ <= 2, "%d of %d predictions differ", differ, N);
    }
    drl_probe_free(n), drl_probe_free(l);
    free(X), free(y), free(pn), free(pl);
}
END_TEST

START_TEST(test_newton_wide) {
    /* 140 correlated features (preconditioner blocks of 141: three of the Cholesky's 64-column
     * panels, so every part of its blocked path runs) and 10 classes at C = 100: the minimiser in few
     * CG steps (52; with the factorisation's panel update broken, 300) — a wrong factorisation
     * would still converge, but slowly. */
    enum { N = 2000, D = 140, K = 10 };
    float *X = malloc(N * D * sizeof(float));
    int *y = malloc(N * sizeof(int));
    drl_rng r;
    drl_rng_seed(&r, 9);
    for (size_t i = 0; i < N; i++) {
        y[i] = (int)(i % K);
        const float c1 = drl_rng_normal(&r), c2 = drl_rng_normal(&r);
        for (int d = 0; d < D; d++)
            X[i * D + d] = drl_rng_normal(&r) + 2.0f * c1 + (d % 3 ? c2 : -c2) + (d % K == y[i] ? 0.5f : 0.0f);
    }
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    cfg.l2 = 0.01f;
    drl_probe *p = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, X, y, N, D, K, &p), 0);
    double g;
    at_fit(p, X, y, N, cfg.l2, &g);
    printf("probe: 140 features, C 100: %s after %d iterations (%d CG steps), |g| %.2e\n", drl_probe_stop_name(p->stop),
           p->iters, p->cg_iters, g);
    ck_assert_msg(p->stop != DRL_PROBE_CAP && g < 1e-5 && p->cg_iters <= 100, "stop %d, %d iterations, %d CG, |g| %.3e",
                  p->stop, p->iters, p->cg_iters, g);
    drl_probe_free(p);
    free(X), free(y);
}
END_TEST

/* C by validation: with overlapping classes of a few informative features among many noise
 * features and few rows, weak regularisation fits the noise and a small C wins on held-out rows;
 * with many rows of a few informative features a larger C wins. The chosen C is the arg max of
 * the reported accuracies, and the choice is deterministic. */
static void informative(drl_rng *r, size_t N, int D, int inf, float *X, int *y) {
    for (size_t i = 0; i < N; i++) {
        const int k = (int)(i % 3);
        y[i] = k;
        for (int d = 0; d < D; d++)
            X[i * D + d] = drl_rng_normal(r) + (d < inf && d % 3 == k ? 1.2f : 0.0f);
    }
}

/* Seeds an rng, draws N rows of D features (inf informative), runs drl_probe_select_c with nval
 * held-out rows and prints the held-out accuracy per C. Caller frees *X and *y. */
static float select_on(const char *what, uint64_t seed, size_t N, int D, int inf, size_t nval,
                       const float *grid, int ng, double *acc, float **X, int **y) {
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    drl_rng r;
    float c = 0;
    drl_rng_seed(&r, seed);
    *X = malloc(N * (size_t)D * sizeof(float));
    *y = malloc(N * sizeof(int));
    ck_assert_ptr_nonnull(*X);
    ck_assert_ptr_nonnull(*y);
    informative(&r, N, D, inf, *X, *y);
    ck_assert_int_eq(drl_probe_select_c(&e, &cfg, *X, *y, N, D, 3, grid, ng, 0, 0, nval, 5, &c, acc, NULL), 0);
    printf("probe: select C, %s:", what);
    for (int g = 0; g < ng; g++) printf(" %g: %.3f", grid[g], acc[g]);
    printf(" -> %g\n", c);
    return c;
}

START_TEST(test_select_c) {
    static const float grid[] = {0.001f, 0.01f, 0.1f, 1.0f, 10.0f, 100.0f};
    const int ng = (int)(sizeof grid / sizeof grid[0]);
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    double acc[6];
    float *X, c2 = 0;
    int *y;
    { /* few rows, many noise features */
        enum { N = 150, D = 120 };
        const float c1 = select_on("150 rows x 120 features (6 informative)", 21, N, D, 6, 50, grid,
                                   ng, acc, &X, &y);
        ck_assert_int_eq(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, grid, ng, 0, 0, 50, 5, &c2, NULL, NULL), 0);
        ck_assert_float_eq(c1, c2);
        int best = 0;
        for (int g = 1; g < ng; g++)
            if (acc[g] > acc[best]) best = g;
        ck_assert_float_eq(c1, grid[best]);
        ck_assert_msg(c1 <= 0.1f, "chose C = %g where the noise features overfit", c1);
        ck_assert_msg(acc[best] > acc[ng - 1] + 0.04, "the chosen C is no better than C = 100");
        free(X), free(y);
    }
    { /* many rows, all features informative */
        enum { N = 3000, D = 6 };
        const float c1 = select_on("3000 rows x 6 informative features", 22, N, D, 6, 500, grid, ng,
                                   acc, &X, &y);
        ck_assert_msg(c1 >= 0.1f, "chose C = %g on well-determined data", c1);
        ck_assert_msg(acc[0] < acc[3], "C = 0.001 should underfit");
        /* refused: no rows left to fit or none to validate, C <= 0, an unsorted grid */
        ck_assert_int_ne(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, grid, ng, 0, 0, N, 5, &c2, NULL, NULL), 0);
        ck_assert_int_ne(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, grid, ng, 0, 0, 0, 5, &c2, NULL, NULL), 0);
        const float bad[] = {1.0f, 0.0f};
        ck_assert_int_ne(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, bad, 2, 0, 0, 500, 5, &c2, NULL, NULL), 0);
        ck_assert_ptr_nonnull(strstr(e.msg, "C must be positive"));
        const float unsorted[] = {10.0f, 1.0f};
        ck_assert_int_ne(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, unsorted, 2, 0, 0, 500, 5, &c2, NULL, NULL), 0);
        ck_assert_ptr_nonnull(strstr(e.msg, "ascending"));
        ck_assert_int_ne(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, grid, ng, 0, -1, 500, 5, &c2, NULL, NULL), 0);
        ck_assert_int_ne(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, grid, ng, -1, 0, 500, 5, &c2, NULL, NULL), 0);
        free(X), free(y);
    }
}
END_TEST

/* With patience p the sweep is the full sweep's first values (the same chain of warm-started
 * fits), cut where the accuracy has first fallen p times running. */
START_TEST(test_select_c_patience) {
    static const float grid[] = {0.001f, 0.01f, 0.1f, 1.0f, 10.0f, 100.0f};
    enum { NG = 6, N = 150, D = 120 };
    double full[NG], acc[NG];
    float *X, c = 0;
    int *y;
    const float c_full = select_on("150 rows x 120 features, full sweep", 21, N, D, 6, 50, grid, NG, full, &X, &y);
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    int stopped_early = 0;
    for (int p = 1; p <= 3; p++) {
        ck_assert_int_eq(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, grid, NG, p, 0, 50, 5, &c, acc, NULL), 0);
        int want = NG, falls = 0; /* values the sweep should score */
        for (int g = 1; g < NG && want == NG; g++)
            if ((falls = full[g] < full[g - 1] ? falls + 1 : 0) == p) want = g + 1;
        int best = 0;
        for (int g = 0; g < NG; g++) {
            if (g < want) ck_assert_msg(acc[g] == full[g], "patience %d, C %g: %g vs %g in the full sweep", p, grid[g], acc[g], full[g]);
            else ck_assert_msg(acc[g] == -1, "patience %d: C %g scored after %d falls", p, grid[g], p);
            if (g < want && full[g] > full[best]) best = g;
        }
        ck_assert_float_eq(c, grid[best]);
        stopped_early |= want < NG;
    }
    ck_assert_msg(stopped_early, "no patience stopped the sweep on data whose accuracy falls after C = %g", c_full);
    free(X), free(y);
}
END_TEST

/* The grid goes on past its largest C while that C wins: started from C = 0.001 alone on data
 * where C >= 0.1 wins, it must climb, by factors of 10, exactly as long as its last value is
 * the best so far, and return the best of what it scored. When the largest C does not win,
 * nothing is added. */
START_TEST(test_select_c_extends) {
    enum { N = 3000, D = 6, EXTRA = 5 };
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    drl_rng r;
    drl_rng_seed(&r, 22);
    float *X = malloc(N * (size_t)D * sizeof(float)), c = 0;
    int *y = malloc(N * sizeof(int));
    ck_assert_ptr_nonnull(X);
    ck_assert_ptr_nonnull(y);
    informative(&r, N, D, D, X, y);
    const float start = 0.001f;
    double acc[1 + EXTRA];
    drl_probe *fit = NULL;
    ck_assert_int_eq(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, &start, 1, 0, EXTRA, 500, 5, &c, acc, &fit), 0);
    ck_assert_ptr_nonnull(fit);
    int n = 0;
    while (n < 1 + EXTRA && acc[n] >= 0) n++;
    printf("probe: select C from 0.001 upwards:");
    for (int g = 0; g < n; g++) printf(" %.3f", acc[g]);
    printf(" -> %g (%d scored)\n", c, n);
    for (int g = n; g < 1 + EXTRA; g++) ck_assert_msg(acc[g] == -1, "unscored entry %d is %g", g, acc[g]);
    ck_assert_msg(n >= 3, "stopped after %d values where C >= 0.1 wins", n);
    float cg = start, best_c = start;
    int best = 0;
    for (int g = 1; g < n; g++) { /* each new value was scored only because the last one led */
        ck_assert_msg(best == g - 1, "C %d scored though C %d led", g, best);
        cg *= 10.0f;
        if (acc[g] > acc[best]) best = g, best_c = cg;
    }
    ck_assert_msg(n == 1 + EXTRA || best != n - 1, "stopped while the last value led");
    ck_assert_float_eq(c, best_c);
    drl_probe_free(fit);
    /* the largest C of a grid that does not win: no extension */
    static const float grid[] = {0.1f, 1.0f, 10.0f, 100.0f, 1000.0f, 10000.0f};
    double acc2[8];
    ck_assert_int_eq(drl_probe_select_c(&e, &cfg, X, y, N, D, 3, grid, 6, 0, 2, 500, 5, &c, acc2, NULL), 0);
    if (c < 10000.0f) ck_assert_msg(acc2[6] == -1 && acc2[7] == -1, "extended though C = %g won", c);
    free(X), free(y);
}
END_TEST

/* Three classes told apart only by x0 - x1, on top of a large nuisance shared by x0 and x1: a
 * strongly regularised probe (small C) shrinks toward the class means and fails; a weakly
 * regularised one learns the difference. Two more features are noise. */
static void nuisance(drl_rng *r, size_t N, float *X, int *y) {
    for (size_t i = 0; i < N; i++) {
        const int k = (int)(i % 3);
        const float u = 3.0f * drl_rng_normal(r);
        y[i] = k;
        X[i * 4 + 0] = u + (float)k + 0.3f * drl_rng_normal(r);
        X[i * 4 + 1] = u + 0.3f * drl_rng_normal(r);
        X[i * 4 + 2] = drl_rng_normal(r);
        X[i * 4 + 3] = drl_rng_normal(r);
    }
}

/* C by k-fold cross-validation, and the few-label protocol choosing each run's C that way: small
 * C where noise features overfit, large C where the class signal hides under a nuisance; the
 * cross-validated few-label probe beats the small fixed C there by a wide margin. */
START_TEST(test_select_c_cv) {
    static const float grid[] = {0.001f, 0.01f, 0.1f, 1.0f, 10.0f, 100.0f};
    const drl_probe_cv cv = {grid, 6, 5};
    drl_err e = {0};
    drl_probe_cfg cfg = drl_probe_defaults();
    drl_rng r;
    double acc[6];
    float c1 = 0, c2 = 0;
    enum { N = 2000, NT = 1000, D = 120 };
    float *X = malloc((size_t)(N + NT) * D * sizeof(float));
    int *y = malloc((N + NT) * sizeof(int));
    ck_assert_ptr_nonnull(X);
    ck_assert_ptr_nonnull(y);

    drl_rng_seed(&r, 23);
    informative(&r, 150, D, 6, X, y);
    ck_assert_int_eq(drl_probe_select_c_cv(&e, &cfg, X, y, 150, D, 3, &cv, 4, &c1, acc), 0);
    ck_assert_int_eq(drl_probe_select_c_cv(&e, &cfg, X, y, 150, D, 3, &cv, 4, &c2, NULL), 0);
    printf("probe: C by 5-fold CV, 150 rows x 120 features (6 informative):");
    for (int g = 0; g < 6; g++) printf(" %g: %.3f", grid[g], acc[g]);
    printf(" -> %g\n", c1);
    ck_assert_float_eq(c1, c2);
    ck_assert_msg(c1 <= 0.1f, "chose C = %g where the noise features overfit", c1);

    drl_rng_seed(&r, 24);
    nuisance(&r, N + NT, X, y);
    ck_assert_int_eq(drl_probe_select_c_cv(&e, &cfg, X, y, 150, 4, 3, &cv, 4, &c1, acc), 0);
    printf("probe: C by 5-fold CV, 150 rows, class signal under a nuisance:");
    for (int g = 0; g < 6; g++) printf(" %g: %.3f", grid[g], acc[g]);
    printf(" -> %g\n", c1);
    ck_assert_msg(c1 >= 1.0f, "chose C = %g where strong regularisation fails", c1);
    ck_assert_msg(acc[0] < 0.6 && acc[5] > 0.8, "the nuisance data lost its point");

    const float *Xt = X + (size_t)N * 4;
    const int *yt = y + N;
    double m_cv = 0, m_small = 0, sd = 0;
    float chosen[4];
    ck_assert_int_eq(drl_probe_few_label(&e, &cfg, X, y, N, Xt, yt, NT, 4, 3, 100, 4, 9, &cv, &m_cv, &sd, chosen, NULL, NULL), 0);
    for (int i = 0; i < 4; i++) {
        int in_grid = 0;
        for (int g = 0; g < 6; g++) in_grid |= chosen[i] == grid[g];
        ck_assert_msg(in_grid, "run %d: C = %g is not from the grid", i, chosen[i]);
    }
    drl_probe_cfg strong = cfg;
    strong.l2 = 1000.0f;
    ck_assert_int_eq(drl_probe_few_label(&e, &strong, X, y, N, Xt, yt, NT, 4, 3, 100, 4, 9, NULL, &m_small, NULL, chosen, NULL, NULL), 0);
    ck_assert_float_eq(chosen[0], 0.001f);
    printf("probe: 100 labels, 4 runs: C by CV %.3f, C = 0.001 %.3f\n", m_cv, m_small);
    ck_assert_msg(m_cv > m_small + 0.2, "cross-validated C %.3f vs C = 0.001 %.3f", m_cv, m_small);

    /* uneven folds (151 rows in 5), leave-one-out (12 rows in 12 folds): every row is scored
     * once, so each pooled accuracy is a whole number of rows */
    const drl_probe_cv loo = {grid, 6, 12};
    const size_t sizes[] = {151, 12};
    for (int t = 0; t < 2; t++) {
        const size_t n = sizes[t];
        ck_assert_int_eq(drl_probe_select_c_cv(&e, &cfg, X, y, n, 4, 3, t ? &loo : &cv, 4, &c1, acc), 0);
        for (int g = 0; g < 6; g++) {
            const double rows = acc[g] * (double)n;
            ck_assert_msg(fabs(rows - round(rows)) < 1e-9 && acc[g] >= 0 && acc[g] <= 1,
                          "%zu rows: accuracy %.6f at C = %g is not a share of whole rows", n, acc[g], grid[g]);
        }
    }
    const drl_probe_cv too_many = {grid, 6, 13};
    ck_assert_int_ne(drl_probe_select_c_cv(&e, &cfg, X, y, 12, 4, 3, &too_many, 4, &c1, NULL), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "folds"));

    /* refused: too few or too many folds, an empty grid */
    const drl_probe_cv one = {grid, 6, 1}, many = {grid, 6, 101}, none = {grid, 0, 5};
    ck_assert_int_ne(drl_probe_select_c_cv(&e, &cfg, X, y, 150, 4, 3, &one, 4, &c1, NULL), 0);
    ck_assert_int_ne(drl_probe_few_label(&e, &cfg, X, y, N, Xt, yt, NT, 4, 3, 100, 1, 9, &many, &m_cv, NULL, NULL, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "folds"));
    ck_assert_int_ne(drl_probe_select_c_cv(&e, &cfg, X, y, 150, 4, 3, &none, 4, &c1, NULL), 0);
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
    int ok[2] = {0, 1};
    float Xn[4] = {0, 1, NAN, 3};
    ck_assert_int_eq(drl_probe_fit(&e, &cfg, Xn, ok, 2, 2, 2, &p), DRL_EINVAL);
    ck_assert_msg(strstr(e.msg, "feature 0 of row 1 is not finite") != NULL, "%s", e.msg);
    drl_probe_cfg neg = cfg;
    neg.l2 = 0;
    ck_assert_int_eq(drl_probe_fit(&e, &neg, X, ok, 2, 2, 2, &p), DRL_EINVAL);
    ck_assert_ptr_null(p);
    drl_probe_cfg odd = cfg;
    odd.solver = 7;
    ck_assert_int_eq(drl_probe_fit(&e, &odd, X, ok, 2, 2, 2, &p), DRL_EINVAL);
    ck_assert_msg(strstr(e.msg, "unknown solver 7") != NULL, "%s", e.msg);
    ck_assert_ptr_null(p);
    double m;
    int yy[2] = {0, 1};
    ck_assert_int_eq(drl_probe_few_label(&e, &cfg, X, yy, 2, X, yy, 2, 2, 2, 5, 1, 1, NULL, &m, NULL, NULL, NULL, NULL), DRL_EINVAL);
    drl_probe_free(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("probe");
    tcase_add_test(tc, test_separable);
    tcase_add_test(tc, test_chance_on_noise);
    tcase_add_test(tc, test_reaches_the_minimum);
    tcase_add_test(tc, test_warm_start);
    tcase_add_test(tc, test_newton_at_large_c);
    tcase_add_test(tc, test_newton_wide);
    tcase_add_test(tc, test_select_c);
    tcase_add_test(tc, test_select_c_extends);
    tcase_add_test(tc, test_select_c_patience);
    tcase_add_test(tc, test_select_c_cv);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
