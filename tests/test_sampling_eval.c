/* test_sampling_eval.c — drl_sampling_eval on a toy whose answers are known exactly, on a tiny
 * real model, and with bad arguments.
 *
 * The toy: the code of an image is the image itself (d = n), and the score is the exact score of
 * a point mass at the code, ∇log p_t(x | z) = −(x − α(t) z)/s(t)². The final Tweedie step then
 * returns z whatever the path, so a sample conditioned on E(x0) is x0 (error 0), one on another
 * image's code is that image, and one on the zero code is the zero image. Image i (of N = 10) has
 * class i and its brightest pixel at i, and the classifier is the argmax over pixels 0..9 (class 0
 * for a blank image), so
 * class consistency is 100% for E(x0), 0% for shuffled codes (no image keeps its own) and 10% for
 * the zero code (the zero image lands in class 0, image 0's class). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "probe.h"
#include "rng.h"
#include "sampling_eval.h"
#include "sde.h"
#include "testutil.h"

enum { TN = 10, TPIX = 16 };

typedef struct {
    const drl_config *c;
    long bad_src; /* score calls whose src rows were not the images of their codes */
} toy;

static int toy_encode(void *user, const float *x, int B, float *z) {
    (void)user;
    memcpy(z, x, (size_t)B * TPIX * sizeof(float));
    return 0;
}

static int toy_score(void *user, const float *x, float t, const float *z, const float *src, float *score, int B) {
    toy *T = user;
    if (src && memcmp(src, z, (size_t)B * TPIX * sizeof(float))) T->bad_src++;
    double al = drl_sde_alpha(T->c, t), sd = drl_sde_std(T->c, t);
    for (int i = 0; i < B * TPIX; i++) score[i] = (float)(-(x[i] - al * z[i]) / (sd * sd));
    return 0;
}

static int toy_classify(void *user, const float *x, int B, int *pred) {
    (void)user;
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int k = 1; k < TN; k++)
            if (x[b * TPIX + k] > x[b * TPIX + best]) best = k;
        pred[b] = x[b * TPIX + best] < 0.1f ? 0 : best; /* a blank image (up to rounding) is class 0 */
    }
    return 0;
}

static void toy_data(float *x0, int *labels) {
    drl_rng r;
    drl_rng_seed(&r, 5);
    for (int i = 0; i < TN; i++) {
        for (int p = 0; p < TPIX; p++) x0[i * TPIX + p] = 0.5f * drl_rng_uniform(&r);
        x0[i * TPIX + i] = 1.0f;
        labels[i] = i;
    }
}

typedef struct {
    long calls;
    drl_sampling_eval_progress last;
    long stop_after; /* return nonzero at this call (0: never) */
} progress_log;

static int on_progress(void *user, const drl_sampling_eval_progress *p) {
    progress_log *l = user;
    l->calls++;
    ck_assert(p->samples >= l->last.samples && p->fraction >= l->last.fraction && p->fraction <= 1.0);
    l->last = *p;
    return l->stop_after && l->calls >= l->stop_after;
}

/* _i: sampler kind (em, pc, ode) × 2 + vp; batch 4 leaves a short last batch. */
START_TEST(test_toy_exact) {
    int kind = _i / 2, vp = _i % 2;
    drl_config c = drl_config_defaults();
    c.sde = vp ? DRL_SDE_VP : DRL_SDE_VE;
    float x0[TN * TPIX];
    int labels[TN];
    toy_data(x0, labels);
    toy T = {&c, 0};
    drl_sampling_ops ops = {TPIX, TPIX, &T, toy_encode, toy_score, toy_classify};
    drl_sampling_eval_cfg cfg = drl_sampling_eval_defaults();
    cfg.sampler.kind = (drl_sampler_kind)kind;
    cfg.sampler.steps = 20;
    cfg.batch = 4;
    progress_log pl = {0};
    drl_sampling_eval_result r;
    drl_err e = {0};
    ck_assert_msg(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, on_progress, &pl, &r) == 0, "%s", e.msg);
    ck_assert_int_eq(T.bad_src, 0);
    ck_assert_int_eq(r.starts, 2);
    ck_assert_int_eq(r.steps[0], 20);
    ck_assert_int_eq(r.steps[1], 10);
    double zero_mse = 0;
    for (int i = 0; i < TN * TPIX; i++) zero_mse += (double)x0[i] * x0[i];
    zero_mse /= TN * TPIX;
    for (int s = 0; s < 2; s++) {
        printf("toy %s %s t_init %.1f: mse %.3g / %.4f / %.4f (zero image %.4f), class %.2f / %.2f / %.2f\n",
               drl_sampler_name(cfg.sampler.kind), vp ? "vp" : "ve", r.t_init[s], r.mse[s][DRL_SEVAL_COND],
               r.mse[s][DRL_SEVAL_SHUFFLED], r.mse[s][DRL_SEVAL_ZERO], zero_mse, r.consistency[s][DRL_SEVAL_COND],
               r.consistency[s][DRL_SEVAL_SHUFFLED], r.consistency[s][DRL_SEVAL_ZERO]);
        ck_assert_msg(r.mse[s][DRL_SEVAL_COND] < 1e-10, "conditional mse %g", r.mse[s][DRL_SEVAL_COND]);
        ck_assert_msg(r.mse[s][DRL_SEVAL_SHUFFLED] > 0.02, "shuffled mse %g", r.mse[s][DRL_SEVAL_SHUFFLED]);
        ck_assert_msg(fabs(r.mse[s][DRL_SEVAL_ZERO] - zero_mse) < 1e-6, "zero-code mse %g, want %g", r.mse[s][DRL_SEVAL_ZERO], zero_mse);
        ck_assert(r.consistency[s][DRL_SEVAL_COND] == 1.0);
        ck_assert(r.consistency[s][DRL_SEVAL_SHUFFLED] == 0.0);
        ck_assert(fabs(r.consistency[s][DRL_SEVAL_ZERO] - 0.1) < 1e-12);
    }
    ck_assert(r.classifier_acc == 1.0);
    /* 3 batches × 2 starts × 3 codes sampler calls, ending at all of the work */
    ck_assert_int_eq(pl.calls, 18);
    ck_assert_uint_eq(pl.last.samples, TN * 3 * 2);
    ck_assert_uint_eq(pl.last.total, TN * 3 * 2);
    ck_assert(pl.last.fraction == 1.0);

    /* without the partial start */
    cfg.t_partial = 0;
    ck_assert_int_eq(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.starts, 1);
    ck_assert(r.mse[0][DRL_SEVAL_COND] < 1e-10 && r.consistency[0][DRL_SEVAL_COND] == 1.0);
}
END_TEST

START_TEST(test_bad_arguments) {
    drl_config c = drl_config_defaults();
    float x0[TN * TPIX];
    int labels[TN];
    toy_data(x0, labels);
    toy T = {&c, 0};
    drl_sampling_ops ops = {TPIX, TPIX, &T, toy_encode, toy_score, toy_classify};
    drl_sampling_eval_cfg cfg = drl_sampling_eval_defaults();
    cfg.sampler.steps = 2;
    drl_sampling_eval_result r;
    drl_err e = {0};
#define EXPECT_EINVAL(call, text)                                                   \
    do {                                                                            \
        ck_assert_int_eq((call), DRL_EINVAL);                                       \
        ck_assert_msg(strstr(e.msg, text) != NULL, "'%s' lacks '%s'", e.msg, text); \
    } while (0)
    EXPECT_EINVAL(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, 1, NULL, NULL, &r), "at least 2");
    cfg.batch = 0;
    EXPECT_EINVAL(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, NULL, NULL, &r), "batch");
    cfg = drl_sampling_eval_defaults();
    cfg.t_partial = 1.5f;
    EXPECT_EINVAL(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, NULL, NULL, &r), "t_partial");
    cfg.t_partial = 1.0f;
    EXPECT_EINVAL(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, NULL, NULL, &r), "t_partial");
    cfg = drl_sampling_eval_defaults();
    cfg.sampler.steps = 0;
    EXPECT_EINVAL(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, NULL, NULL, &r), "steps");
    cfg = drl_sampling_eval_defaults();
    labels[3] = -1;
    EXPECT_EINVAL(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, NULL, NULL, &r), "label -1 of image 3");
    labels[3] = 3;
    ops.classify = NULL;
    EXPECT_EINVAL(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, NULL, NULL, &r), "callbacks");
    /* a progress callback that asks to stop */
    ops.classify = toy_classify;
    cfg.sampler.steps = 2;
    progress_log pl = {.stop_after = 2};
    ck_assert_int_eq(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, TN, on_progress, &pl, &r), DRL_ECANCELLED);
    ck_assert_int_eq(pl.calls, 2);
}
END_TEST

/* A random tiny model (plain and time-conditioned) with a pixel probe as classifier, through
 * drl_sampling_model_ops: the numbers are finite, in range and reproducible; a probe of the wrong
 * width is refused. */
START_TEST(test_tiny_model) {
    drl_config c = drl_test_tiny_config(_i);
    drl_err e = {0};
    drl_model *m = NULL;
    ck_assert_int_eq(drl_model_create(&e, &c, 3, &m), 0);
    enum { N = 6, n = 64 };
    float x0[N * n];
    int labels[N];
    drl_rng r;
    drl_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) {
        labels[i] = i % 3;
        for (int p = 0; p < n; p++) x0[i * n + p] = drl_rng_uniform(&r) * 0.5f + (p % 3 == labels[i] ? 0.5f : 0.0f);
    }
    drl_probe_cfg pc = drl_probe_defaults();
    pc.iters = 50;
    drl_probe *probe = NULL, *narrow = NULL;
    ck_assert_int_eq(drl_probe_fit(&e, &pc, x0, labels, N, n, 3, &probe), 0);
    ck_assert_int_eq(drl_probe_fit(&e, &pc, x0, labels, N, n / 2, 3, &narrow), 0);
    drl_sampling_model sm;
    ck_assert_int_eq(drl_sampling_model_init(&e, &sm, m, narrow, 4), DRL_EINVAL);
    ck_assert_msg(strstr(e.msg, "classifier takes 32 inputs") != NULL, "%s", e.msg);
    ck_assert_int_eq(drl_sampling_model_init(&e, &sm, m, probe, 4), 0);
    drl_sampling_ops ops = drl_sampling_model_ops(&sm);
    ck_assert_uint_eq(ops.n, n);
    ck_assert_int_eq(ops.d, 4);
    drl_sampling_eval_cfg cfg = drl_sampling_eval_defaults();
    cfg.sampler.steps = 3;
    cfg.batch = 4;
    drl_sampling_eval_result a, b;
    memset(&b, 0xff, sizeof b);
    ck_assert_msg(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, N, NULL, NULL, &a) == 0, "%s", e.msg);
    ck_assert_msg(drl_sampling_eval(&e, &c, &cfg, &ops, x0, labels, N, NULL, NULL, &b) == 0, "%s", e.msg);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    ck_assert(a.classifier_acc == 1.0); /* the probe fits its 6 training images */
    for (int s = 0; s < a.starts; s++)
        for (int k = 0; k < DRL_SEVAL_NCOND; k++) {
            ck_assert_msg(isfinite(a.mse[s][k]) && a.mse[s][k] >= 0 && a.mse[s][k] <= 1, "mse %g", a.mse[s][k]);
            ck_assert(a.consistency[s][k] >= 0 && a.consistency[s][k] <= 1);
        }
    drl_sampling_model_release(&sm);
    drl_sampling_model_release(&sm); /* released twice is harmless */
    drl_probe_free(probe);
    drl_probe_free(narrow);
    drl_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sampling_eval");
    TCase *tc = tcase_create("sampling_eval");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_toy_exact, 0, 6);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_loop_test(tc, test_tiny_model, 0, 2);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
