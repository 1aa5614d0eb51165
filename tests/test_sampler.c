/* test_sampler.c — the samplers on Gaussian data, whose score is known exactly:
 * p_0 = N(μ, s0² I) gives p_t = N(α(t) μ, (α(t)² s0² + s(t)²) I) and ∇log p_t(x) = −(x − α μ)/var.
 * Every sampler, for VE and VP, must recover the data mean and variance; samples are
 * reproducible by seed, and identical across the batch with shared noise; bad settings are refused. Samples have n = 256 dimensions, as the
 * Langevin corrector sets its step from per-sample norms, which only concentrate in high
 * dimension (as for images). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"
#include "sampler.h"
#include "sde.h"
#include "tensor.h"
#include "testutil.h"

#define MU 0.7
#define S0 0.3

typedef struct {
    const drl_config *c;
    int n; /* floats per sample */
    long calls;
} gauss;

static int gauss_score(void *user, const float *x, float t, float *score, int B) {
    gauss *g = user;
    g->calls++;
    double al = drl_sde_alpha(g->c, t), sd = drl_sde_std(g->c, t);
    double var = al * al * S0 * S0 + sd * sd, m = al * MU;
    for (int i = 0; i < B * g->n; i++) score[i] = (float)(-(x[i] - m) / var);
    return 0;
}

static drl_config sde_config(int vp) {
    drl_config c = drl_config_defaults();
    c.sde = vp ? DRL_SDE_VP : DRL_SDE_VE;
    c.sigma_max = 10.0f;
    c.t_eps = 1e-3f;
    return c;
}

static void moments(const float *x, size_t n, double *mean, double *var) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (size_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *var = s2 / n;
}

/* _i: sampler kind * 2 + vp. The VE prior N(0, σ_max²) ignores the data mean μ; the ODE carries
 * that offset down deterministically, shrunk by s0/σ_max (≈ −0.02 here), hence the tolerance. */
START_TEST(test_recovers_gaussian) {
    int kind = _i / 2, vp = _i % 2;
    drl_config c = sde_config(vp);
    drl_sampler_cfg sc = drl_sampler_defaults();
    sc.kind = (drl_sampler_kind)kind;
    sc.steps = kind == DRL_SAMPLER_ODE ? 200 : 1000;
    sc.seed = 42;
    enum { B = 24, n = 256 };
    float *x = malloc(B * n * sizeof(float)), *work = malloc(3 * B * n * sizeof(float));
    gauss g = {&c, n, 0};
    drl_err e = {0};
    ck_assert_int_eq(drl_sample(&e, &c, &sc, gauss_score, &g, NULL, x, B, n, work), 0);
    double m, v;
    moments(x, B * n, &m, &v);
    printf("sampler %-3s %s: mean %.4f (want %.2f)  var %.4f (want %.4f)  %ld score calls\n",
           drl_sampler_name(sc.kind), vp ? "vp" : "ve", m, MU, v, S0 * S0, g.calls);
    ck_assert_msg(fabs(m - MU) < 0.03, "mean %.4f", m);
    ck_assert_msg(fabs(v / (S0 * S0) - 1.0) < 0.12, "var %.4f", v);
    free(x), free(work);
}
END_TEST

START_TEST(test_seed_reproducible) {
    drl_config c = sde_config(0);
    drl_sampler_cfg sc = drl_sampler_defaults();
    sc.steps = 50;
    sc.seed = 7;
    enum { B = 2, n = 256 };
    float a[B * n], b[B * n], w[3 * B * n];
    gauss g = {&c, n, 0};
    ck_assert_int_eq(drl_sample(NULL, &c, &sc, gauss_score, &g, NULL, a, B, n, w), 0);
    ck_assert_int_eq(drl_sample(NULL, &c, &sc, gauss_score, &g, NULL, b, B, n, w), 0);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    sc.seed = 8;
    ck_assert_int_eq(drl_sample(NULL, &c, &sc, gauss_score, &g, NULL, b, B, n, w), 0);
    ck_assert(memcmp(a, b, sizeof a) != 0);
}
END_TEST

/* _i: sampler kind. With shared_noise every row draws row 0's noise, so rows under the same score
 * come out identical; without it they differ. */
START_TEST(test_shared_noise) {
    drl_config c = sde_config(0);
    drl_sampler_cfg sc = drl_sampler_defaults();
    sc.kind = (drl_sampler_kind)_i;
    sc.steps = 20;
    sc.seed = 11;
    enum { B = 3, n = 256 };
    float x[B * n], w[3 * B * n];
    gauss g = {&c, n, 0};
    sc.shared_noise = 1;
    ck_assert_int_eq(drl_sample(NULL, &c, &sc, gauss_score, &g, NULL, x, B, n, w), 0);
    ck_assert(memcmp(x, x + n, n * sizeof(float)) == 0 && memcmp(x, x + 2 * n, n * sizeof(float)) == 0);
    sc.shared_noise = 0;
    ck_assert_int_eq(drl_sample(NULL, &c, &sc, gauss_score, &g, NULL, x, B, n, w), 0);
    ck_assert(memcmp(x, x + n, n * sizeof(float)) != 0);
}
END_TEST

START_TEST(test_partial_noising_keeps_data) {
    /* From data noised to t_init = 0.3, the deterministic ODE path returns samples whose
     * distribution is still the data's, and each stays near its own starting point. */
    drl_config c = sde_config(0);
    drl_sampler_cfg sc = drl_sampler_defaults();
    sc.kind = DRL_SAMPLER_ODE;
    sc.steps = 100;
    sc.t_init = 0.3f;
    enum { B = 16, n = 256 };
    float *x0 = malloc(B * n * sizeof(float)), *x = malloc(B * n * sizeof(float)), *w = malloc(3 * B * n * sizeof(float));
    drl_rng r;
    drl_rng_seed(&r, 1);
    for (int i = 0; i < B * n; i++) x0[i] = (float)(MU + S0 * drl_rng_normal(&r));
    gauss g = {&c, n, 0};
    ck_assert_int_eq(drl_sample(NULL, &c, &sc, gauss_score, &g, x0, x, B, n, w), 0);
    double m, v, dist = 0;
    moments(x, B * n, &m, &v);
    for (int i = 0; i < B * n; i++) dist += fabs(x[i] - x0[i]);
    dist /= B * n;
    printf("partial noising t=0.3: mean %.4f var %.4f mean |x - x0| %.4f (sigma(0.3) = %.3f)\n", m, v, dist,
           drl_sde_std(&c, 0.3));
    ck_assert_msg(fabs(m - MU) < 0.03 && fabs(v / (S0 * S0) - 1.0) < 0.12, "mean %.4f var %.4f", m, v);
    ck_assert_msg(dist < S0, "samples drifted %.4f from their start", dist);
    free(x0), free(x), free(w);
}
END_TEST

START_TEST(test_bad_settings) {
    drl_config c = sde_config(0);
    drl_sampler_cfg sc = drl_sampler_defaults();
    float x[4], w[12];
    gauss g = {&c, 4, 0};
    drl_err e = {0};
    sc.steps = 0;
    ck_assert_int_eq(drl_sample(&e, &c, &sc, gauss_score, &g, NULL, x, 1, 4, w), DRL_EINVAL);
    ck_assert_msg(strstr(e.msg, "steps") != NULL, "%s", e.msg);
    sc = drl_sampler_defaults();
    sc.t_init = 1.5f;
    ck_assert_int_eq(drl_sample(&e, &c, &sc, gauss_score, &g, NULL, x, 1, 4, w), DRL_EINVAL);
    ck_assert_msg(strstr(e.msg, "t_init") != NULL, "%s", e.msg);
    sc.t_init = 0.5f;
    ck_assert_int_eq(drl_sample(&e, &c, &sc, gauss_score, &g, NULL, x, 1, 4, w), DRL_EINVAL);
    ck_assert_int_eq(drl_sampler_parse("heun"), -1);
    ck_assert_int_eq(drl_sampler_parse("ode"), DRL_SAMPLER_ODE);
}
END_TEST

/* A (random, untrained) tiny model drives the samplers through drl_model_score_fn: outputs are
 * finite and reproducible; a time-conditioned model re-encodes x0 at every step's t, so its
 * samples differ from those with the code fixed at t_min. */
START_TEST(test_model_score) {
    drl_config c = drl_test_tiny_config(_i);
    drl_err e = {0};
    drl_model *m = NULL;
    ck_assert_int_eq(drl_model_create(&e, &c, 3, &m), 0);
    enum { B = 2, n = 64 };
    drl_model_acts *a = drl_model_acts_create(&e, m, B, 0);
    float x0[B * n], z[B * 4], zb[B * 4], tb[B], x[B * n], y[B * n], w[3 * B * n];
    drl_rng r;
    drl_rng_seed(&r, 2);
    for (int i = 0; i < B * n; i++) x0[i] = drl_rng_uniform(&r);
    drl_model_encode(m, a, m->params.data, x0, NULL, z, B);
    drl_model_score_ctx ctx = {m, a, m->params.data, c.time_cond ? NULL : z, x0, zb, tb};
    drl_sampler_cfg sc = drl_sampler_defaults();
    sc.kind = DRL_SAMPLER_ODE;
    sc.steps = 4;
    ck_assert_int_eq(drl_sample(&e, &c, &sc, drl_model_score_fn, &ctx, NULL, x, B, n, w), 0);
    ck_assert(drl_all_finite(x, B * n));
    ck_assert_int_eq(drl_sample(&e, &c, &sc, drl_model_score_fn, &ctx, NULL, y, B, n, w), 0);
    ck_assert(memcmp(x, y, sizeof x) == 0);
    if (c.time_cond) {
        drl_model_score_ctx fixed = {m, a, m->params.data, z, NULL, zb, tb};
        ck_assert_int_eq(drl_sample(&e, &c, &sc, drl_model_score_fn, &fixed, NULL, y, B, n, w), 0);
        ck_assert(memcmp(x, y, sizeof x) != 0);
    }
    drl_model_acts_free(a);
    drl_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("sampler");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_recovers_gaussian, 0, 6);
    tcase_add_test(tc, test_seed_reproducible);
    tcase_add_loop_test(tc, test_shared_noise, 0, 3);
    tcase_add_test(tc, test_partial_noising_keeps_data);
    tcase_add_test(tc, test_bad_settings);
    tcase_add_loop_test(tc, test_model_score, 0, 2);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
