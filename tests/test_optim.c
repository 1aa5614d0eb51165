/* test_optim.c — Adam / AdamW against the update formula evaluated in double, convergence on a
 * quadratic, gradient-norm clipping, warm-up, EMA and its decay schedule, thread independence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "optim.h"
#include "testutil.h"
#include "threads.h"

START_TEST(test_defaults_and_warmup) {
    drl_adam_cfg c = drl_adam_defaults();
    ck_assert_float_eq(c.lr, 2e-4f);
    ck_assert_float_eq(c.beta1, 0.9f);
    ck_assert_float_eq(c.beta2, 0.999f);
    ck_assert_float_eq(c.eps, 1e-8f);
    ck_assert(c.weight_decay == 0.0f && c.warmup == 0 && c.clip <= 0.0f);
    for (long s = 0; s < 5; s++) ck_assert(drl_adam_lr_at(&c, s) == c.lr);
    c.lr = 1e-3f;
    c.warmup = 4;
    const double want[6] = {0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3};
    for (long s = 0; s < 6; s++) ck_assert_float_eq_tol(drl_adam_lr_at(&c, s), want[s], 1e-10);
    c.warmup = 5000;
    ck_assert_float_eq_tol(drl_adam_lr_at(&c, 999), 1e-3 * 1000.0 / 5000.0, 1e-10);
    ck_assert(drl_adam_lr_at(&c, 100000) == c.lr);
    ck_assert(c.decay_steps == 0);
}
END_TEST

/* Cooldown: constant, then linear to 0 over the last decay_steps steps before decay_end; with a
 * warm-up that overlaps it the two factors multiply. */
START_TEST(test_cooldown) {
    drl_adam_cfg c = drl_adam_defaults();
    c.lr = 1e-3f;
    c.decay_steps = 4, c.decay_end = 10;
    const double want[12] = {1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 0.75e-3, 0.5e-3, 0.25e-3, 0, 0};
    for (long s = 0; s < 12; s++) ck_assert_float_eq_tol(drl_adam_lr_at(&c, s), want[s], 1e-10);
    c.warmup = 4, c.decay_steps = 3, c.decay_end = 4; /* warm-up on steps 0..2, cooldown on 1..3 */
    const double both[4] = {0.25e-3, 0.5e-3, 0.75e-3 * 2.0 / 3.0, 1e-3 / 3.0};
    for (long s = 0; s < 4; s++) ck_assert_float_eq_tol(drl_adam_lr_at(&c, s), both[s], 1e-10);
    c.warmup = 0, c.decay_steps = 1000, c.decay_end = 200000; /* far from the cooldown */
    ck_assert(drl_adam_lr_at(&c, 150000) == c.lr);
    ck_assert_float_eq_tol(drl_adam_lr_at(&c, 199500), 0.5e-3, 1e-10);
    c.decay_end = 0; /* no end set: no cooldown (never a silent lr of 0) */
    ck_assert(drl_adam_lr_at(&c, 199500) == c.lr);
}
END_TEST

START_TEST(test_grad_norm) {
    enum { N = 100003 };
    float *g = malloc(N * sizeof(float));
    drl_oc_normal(g, N, 1.0f, 1);
    double s = 0.0;
    for (int i = 0; i < N; i++) s += (double)g[i] * g[i];
    drl_threads_set(1);
    double a = drl_grad_norm(g, N);
    drl_threads_set(2);
    double b = drl_grad_norm(g, N);
    ck_assert(a == b);
    ck_assert_double_eq_tol(a, sqrt(s), 1e-12 * sqrt(s));
    float small[3] = {3, 4, 12};
    ck_assert_double_eq_tol(drl_grad_norm(small, 3), 13.0, 1e-12);
    ck_assert(drl_grad_norm(small, 0) == 0.0);
    free(g);
}
END_TEST

/* ---------------------------------------------------------------- the formula, in double */

/* f(p) = ½ Σ a_i (p_i - c_i)², so g_i = a_i (p_i - c_i). */
enum { NQ = 6 };
static const double QA[NQ] = {1.0, 0.1, 5.0, 0.5, 2.0, 0.01};
static const double QC[NQ] = {0.5, -1.0, 2.0, 0.0, -0.3, 3.0};

typedef struct {
    double p[NQ], m[NQ], v[NQ];
} ref_adam;

static void ref_step(ref_adam *r, const drl_adam_cfg *c, long step) {
    double g[NQ], norm = 0.0;
    for (int i = 0; i < NQ; i++) g[i] = QA[i] * (r->p[i] - QC[i]), norm += g[i] * g[i];
    norm = sqrt(norm);
    if (c->clip > 0 && c->clip / (norm + 1e-6) < 1.0)
        for (int i = 0; i < NQ; i++) g[i] *= c->clip / (norm + 1e-6);
    double lr = c->lr;
    if (c->warmup > 0 && step + 1 < c->warmup) lr = c->lr * (double)(step + 1) / c->warmup;
    const double t = step + 1.0, b1 = c->beta1, b2 = c->beta2;
    for (int i = 0; i < NQ; i++) {
        r->p[i] -= lr * c->weight_decay * r->p[i];
        r->m[i] = b1 * r->m[i] + (1 - b1) * g[i];
        r->v[i] = b2 * r->v[i] + (1 - b2) * g[i] * g[i];
        const double mhat = r->m[i] / (1 - pow(b1, t)), vhat = r->v[i] / (1 - pow(b2, t));
        r->p[i] -= lr * mhat / (sqrt(vhat) + c->eps);
    }
}

static void check_against_ref(drl_adam_cfg c, int steps, const char *what) {
    float p[NQ], g[NQ], m[NQ] = {0}, v[NQ] = {0}, got[NQ], want[NQ];
    ref_adam r = {{0}, {0}, {0}};
    for (int i = 0; i < NQ; i++) p[i] = (float)(1.0 - 0.4 * i), r.p[i] = p[i];
    const float p0[NQ] = {p[0], p[1], p[2], p[3], p[4], p[5]};
    for (long s = 0; s < steps; s++) {
        for (int i = 0; i < NQ; i++) g[i] = (float)(QA[i] * (p[i] - QC[i]));
        drl_adam_step(&c, p, g, m, v, NQ, s);
        ref_step(&r, &c, s);
    }
    /* compare the total movement, which is what the optimiser computed */
    for (int i = 0; i < NQ; i++) got[i] = p[i] - p0[i], want[i] = (float)(r.p[i] - p0[i]);
    printf("%s: %d steps, max rel diff of p - p0 %.3g\n", what, steps,
           drl_oc_rel_err(got, want, NQ));
    ck_assert_close(got, want, NQ, 1e-5, what);
}

START_TEST(test_adam_matches_formula) {
    drl_adam_cfg c = drl_adam_defaults();
    c.lr = 1e-2f;
    check_against_ref(c, 1, "adam");
    check_against_ref(c, 5, "adam");
    check_against_ref(c, 50, "adam");
    c.warmup = 10;
    check_against_ref(c, 20, "adam warm-up");
    c.warmup = 0;
    c.weight_decay = 0.1f;
    check_against_ref(c, 20, "adamw");
    c.weight_decay = 0.0f;
    c.clip = 0.5f;
    check_against_ref(c, 20, "adam clip 0.5");
    c.beta1 = 0.5f, c.beta2 = 0.9f, c.eps = 1e-3f;
    check_against_ref(c, 20, "adam betas (0.5, 0.9) eps 1e-3");
}
END_TEST

/* The first step moves every coordinate by lr·sign(g) (|mhat| / sqrt(vhat) = 1). */
START_TEST(test_adam_first_step) {
    drl_adam_cfg c = drl_adam_defaults();
    c.lr = 0.01f;
    float p[4] = {1, 1, 1, 1}, g[4] = {3, -0.02f, 100, -7}, m[4] = {0}, v[4] = {0};
    drl_adam_step(&c, p, g, m, v, 4, 0);
    const float want[4] = {0.99f, 1.01f, 0.99f, 1.01f};
    ck_assert_close(p, want, 4, 1e-6, "adam first step");
}
END_TEST

/* AdamW: with a zero gradient only the decoupled decay acts: p *= 1 - lr·wd. */
START_TEST(test_adamw_decay) {
    drl_adam_cfg c = drl_adam_defaults();
    c.lr = 0.1f, c.weight_decay = 0.5f;
    float p[3] = {2, -1, 0.5f}, g[3] = {0}, m[3] = {0}, v[3] = {0};
    drl_adam_step(&c, p, g, m, v, 3, 0);
    const float want[3] = {2 * 0.95f, -0.95f, 0.5f * 0.95f};
    ck_assert_close(p, want, 3, 1e-7, "adamw decay");
}
END_TEST

START_TEST(test_adam_converges) {
    enum { N = 64 };
    float p[N], g[N], m[N] = {0}, v[N] = {0}, a[N], c[N];
    drl_oc_normal(p, N, 2.0f, 5);
    drl_oc_normal(c, N, 1.0f, 6);
    for (int i = 0; i < N; i++) a[i] = 0.1f + (float)(i % 7);
    drl_adam_cfg cfg = drl_adam_defaults();
    cfg.lr = 0.05f;
    cfg.warmup = 20;
    double f0 = 0.0, f = 0.0;
    for (int i = 0; i < N; i++) f0 += 0.5 * a[i] * (p[i] - c[i]) * (p[i] - c[i]);
    for (long s = 0; s < 3000; s++) {
        if (s == 1500) cfg.lr = 0.005f; /* a step decay settles the oscillation at lr scale */
        for (int i = 0; i < N; i++) g[i] = a[i] * (p[i] - c[i]);
        drl_adam_step(&cfg, p, g, m, v, N, s);
    }
    double dmax = 0.0;
    for (int i = 0; i < N; i++) {
        f += 0.5 * a[i] * (p[i] - c[i]) * (p[i] - c[i]);
        dmax = fmax(dmax, fabs(p[i] - c[i]));
    }
    printf("adam quadratic: f %.3g -> %.3g, max |p - c| %.3g\n", f0, f, dmax);
    ck_assert_msg(f < 1e-6 * f0 && dmax < 1e-2, "f %g -> %g, max |p-c| %g", f0, f, dmax);
}
END_TEST

START_TEST(test_clipping) {
    drl_adam_cfg c = drl_adam_defaults();
    c.clip = 1.0f;
    float p[2] = {0, 0}, g[2] = {6, 8}, m[2] = {0}, v[2] = {0};
    double norm = drl_adam_step(&c, p, g, m, v, 2, 0);
    ck_assert_double_eq_tol(norm, 10.0, 1e-12);
    const float want[2] = {(float)(6 / (10 + 1e-6)), (float)(8 / (10 + 1e-6))};
    ck_assert_close(g, want, 2, 1e-7, "clipped grads");
    ck_assert_double_eq_tol(drl_grad_norm(g, 2), 1.0, 1e-6);
    /* the moments saw the clipped gradient */
    ck_assert_float_eq_tol(m[0], 0.1f * want[0], 1e-8);

    /* under the limit nothing changes; clip <= 0 disables */
    float h[2] = {0.3f, 0.4f};
    c.clip = 1.0f;
    ck_assert_double_eq_tol(drl_adam_step(&c, p, h, m, v, 2, 1), 0.5, 1e-7);
    ck_assert(h[0] == 0.3f && h[1] == 0.4f);
    float k[2] = {60, 80};
    c.clip = 0.0f;
    ck_assert_double_eq_tol(drl_adam_step(&c, p, k, m, v, 2, 2), 100.0, 1e-12);
    ck_assert(k[0] == 60.0f && k[1] == 80.0f);
}
END_TEST

START_TEST(test_ema) {
    ck_assert_float_eq_tol(drl_ema_decay_at(0.999f, 0), 0.1f, 1e-7);
    ck_assert_float_eq_tol(drl_ema_decay_at(0.999f, 10), 11.0f / 20.0f, 1e-7);
    ck_assert_float_eq_tol(drl_ema_decay_at(0.999f, 90), 91.0f / 100.0f, 1e-7);
    ck_assert(drl_ema_decay_at(0.999f, 100000) == 0.999f);
    ck_assert(drl_ema_decay_at(0.5f, 20) == 0.5f);
    for (long n = 0; n < 2000; n++)
        ck_assert(drl_ema_decay_at(0.9999f, n + 1) >= drl_ema_decay_at(0.9999f, n));

    float e[3] = {1, 2, 3}, p[3] = {3, 2, -1};
    drl_ema_update(e, p, 3, 0.75f);
    const float want[3] = {1.5f, 2.0f, 2.0f};
    ck_assert_close(e, want, 3, 1e-7, "ema update");
    /* decay 0 copies; repeated updates towards a constant converge to it */
    drl_ema_update(e, p, 3, 0.0f);
    ck_assert(memcmp(e, p, sizeof e) == 0);
    float z[3] = {0};
    for (long n = 0; n < 5000; n++) drl_ema_update(z, p, 3, drl_ema_decay_at(0.99f, n));
    ck_assert_close(z, p, 3, 1e-5, "ema converges");
}
END_TEST

/* Above the OpenMP threshold the update is the same for 1 and 2 threads, bit for bit. */
START_TEST(test_threads_identical) {
    enum { N = 1 << 17 };
    float *buf[2];
    drl_adam_cfg c = drl_adam_defaults();
    c.lr = 1e-3f, c.clip = 50.0f, c.weight_decay = 0.01f;
    for (int t = 0; t < 2; t++) {
        drl_threads_set(t + 1);
        float *b = buf[t] = calloc(5 * (size_t)N, sizeof(float));
        float *p = b, *g = b + N, *m = b + 2 * N, *v = b + 3 * N, *e = b + 4 * N;
        drl_oc_normal(p, N, 1.0f, 9);
        for (long s = 0; s < 3; s++) {
            drl_oc_normal(g, N, 1.0f, 10 + s);
            drl_adam_step(&c, p, g, m, v, N, s);
            drl_ema_update(e, p, N, drl_ema_decay_at(0.999f, s));
        }
    }
    ck_assert(memcmp(buf[0], buf[1], 5 * (size_t)N * sizeof(float)) == 0);
    free(buf[0]), free(buf[1]);
}
END_TEST

/* For tests/py/test_ops_torch.py (only with DRL_OPS_DUMP set): parameters after S steps of fixed
 * random gradients under four configurations, replayed there with torch.optim.Adam / AdamW and
 * clip_grad_norm_. cfg rows: lr, beta1, beta2, eps, weight_decay, warmup, clip. */
START_TEST(test_torch_dump) {
    enum { N = 40, S = 12, NCFG = 4 };
    float p0[N], grads[S * N], cfgs[NCFG * 7], final[NCFG * N];
    drl_oc_normal(p0, N, 1.0f, 91);
    drl_oc_normal(grads, S * N, 0.5f, 92);
    for (int i = 0; i < N; i++) grads[3 * N + i] *= 40.0f; /* one large step, for clipping */
    drl_adam_cfg c[NCFG];
    for (int k = 0; k < NCFG; k++) c[k] = drl_adam_defaults();
    c[0].lr = 1e-2f;
    c[1].lr = 3e-2f, c[1].weight_decay = 0.05f, c[1].warmup = 5;
    c[2].lr = 1e-2f, c[2].clip = 2.0f;
    c[3].lr = 5e-3f, c[3].beta1 = 0.5f, c[3].beta2 = 0.95f, c[3].eps = 1e-4f, c[3].clip = 1.0f,
    c[3].weight_decay = 0.1f, c[3].warmup = 3;
    for (int k = 0; k < NCFG; k++) {
        float *p = final + k * N, g[N], m[N] = {0}, v[N] = {0};
        memcpy(p, p0, sizeof p0);
        for (long s = 0; s < S; s++) {
            memcpy(g, grads + s * N, sizeof g);
            drl_adam_step(&c[k], p, g, m, v, N, s);
        }
        const float row[7] = {c[k].lr, c[k].beta1, c[k].beta2, c[k].eps, c[k].weight_decay,
                              (float)c[k].warmup, c[k].clip};
        memcpy(cfgs + k * 7, row, sizeof row);
    }
    const float shape[3] = {N, S, NCFG};
    drl_oc_dump("adam", "shape", shape, 3);
    drl_oc_dump("adam", "p0", p0, N);
    drl_oc_dump("adam", "grads", grads, S * N);
    drl_oc_dump("adam", "cfg", cfgs, NCFG * 7);
    drl_oc_dump("adam", "final", final, NCFG * N);
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_defaults_and_warmup);
    tcase_add_test(tc, test_cooldown);
    tcase_add_test(tc, test_grad_norm);
    tcase_add_test(tc, test_adam_matches_formula);
    tcase_add_test(tc, test_adam_first_step);
    tcase_add_test(tc, test_adamw_decay);
    tcase_add_test(tc, test_adam_converges);
    tcase_add_test(tc, test_clipping);
    tcase_add_test(tc, test_ema);
    tcase_add_test(tc, test_threads_identical);
    suite_add_tcase(s, tc);
    drl_oc_add_torch_case(s, test_torch_dump);
    return drl_test_run(s);
}
