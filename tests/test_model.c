/* test_model.c — the whole DRL model: encoder + score U-Net + loss, forward and backward.
 *
 *   parity    (only when DRL_PARITY_DIR is set, by tests/py/test_parity.py): every case written
 *             by the PyTorch reference — encoder output, score output, loss parts and the
 *             gradient of every parameter, relative to the max |ref| of each tensor.
 *   gradcheck central finite differences of drl_model_loss against its backward, for a sample of
 *             elements of every tensor, on tiny DRL / time-conditioned / VP / VDRL+KL / L1 /
 *             dropout models.
 *   io        save → load is bit-exact with an equal config; broken files fail with a message.
 *   encode    drl_model_encode and drl_model_score equal the corresponding parts of the loss.
 *   sharded   the data-parallel loss equals the one-pass loss and does not depend on threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "params.h"
#include "rng.h"
#include "safetensors.h"
#include "sde.h"
#include "threads.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ fixtures */

enum { V_DRL, V_TCOND, V_VP, V_VDRL_KL, V_L1, V_DROPOUT, V_AE, V_WINDOW, V_MINSNR, V_TRUNCSNR, N_VARIANTS };
static const char *const variant_name[N_VARIANTS] = {
    [V_DRL] = "drl", [V_TCOND] = "tcond", [V_VP] = "vp",
    [V_VDRL_KL] = "vdrl_kl", [V_L1] = "l1", [V_DROPOUT] = "dropout", [V_AE] = "ae",
    [V_WINDOW] = "code_window", [V_MINSNR] = "min_snr", [V_TRUNCSNR] = "truncated_snr_vp",
};

/* A model small enough that hundreds of loss evaluations take well under a second. */
static drl_config tiny_config(int variant) {
    drl_config c = drl_config_defaults();
    c.C = 1, c.H = 8, c.W = 4;
    c.latent_dim = 3;
    c.enc_ch[0] = 4, c.enc_ch[1] = 6, c.enc_ch[2] = 8;
    c.unet_ch[0] = 4, c.unet_ch[1] = 8, c.unet_ch[2] = 6;
    c.groups = 2;
    c.fourier_dim = 4;
    c.fourier_scale = 1.0f;
    c.temb_dim = 8;
    switch (variant) {
    case V_TCOND: c.time_cond = 1; break;
    case V_VP: c.sde = DRL_SDE_VP, c.time_cond = 1; break;
    case V_VDRL_KL: c.variational = 1, c.reg = DRL_REG_KL, c.lambda_z = 0.5f; break;
    case V_L1: c.reg = DRL_REG_L1, c.lambda_z = 0.3f; break;
    case V_DROPOUT: c.dropout = 0.3f, c.time_cond = 1; break;
    case V_AE: c.mode = DRL_MODE_AE, c.reg = DRL_REG_L1, c.lambda_z = 0.2f; break;
    case V_MINSNR: c.weighting = DRL_WEIGHT_MIN_SNR, c.snr_gamma = 2.0f, c.time_cond = 1; break;
    case V_TRUNCSNR: c.weighting = DRL_WEIGHT_TRUNC_SNR, c.sde = DRL_SDE_VP, c.time_cond = 1; break;
    case V_WINDOW: c.code_t_min = 0.5f, c.code_t_max = 0.9f, c.reg = DRL_REG_L1, c.lambda_z = 0.2f; break;
    default: break;
    }
    return c;
}

/* Moves GroupNorm gains away from 1 and biases away from 0 so their gradients are exercised. */
static void randomize_affine(drl_model *m, drl_rng *r) {
    drl_params *p = &m->params;
    for (size_t i = 0; i < p->n; i++) {
        const drl_param_spec *s = &p->specs[i];
        float *d = p->data + s->offset;
        if (s->init == DRL_INIT_ONE || s->init == DRL_INIT_ZERO)
            for (size_t k = 0; k < s->numel; k++) d[k] += 0.2f * drl_rng_normal(r);
    }
}

static drl_model *make_model(const drl_config *c, uint64_t seed) {
    drl_err e = {0};
    drl_model *m = NULL;
    ck_assert_msg(drl_model_create(&e, c, seed, &m) == 0, "create: %s", e.msg);
    drl_rng r;
    drl_rng_seed(&r, seed + 1000);
    randomize_affine(m, &r);
    return m;
}

typedef struct {
    int B;
    float *x0, *t, *eps, *eps_z; /* eps_z NULL unless variational */
} batch;

static batch make_batch(const drl_config *c, int B, uint64_t seed) {
    batch b = {B, NULL, NULL, NULL, NULL};
    size_t n = (size_t)B * c->C * c->H * c->W;
    drl_rng r;
    drl_rng_seed(&r, seed);
    b.x0 = malloc(n * sizeof(float));
    b.eps = malloc(n * sizeof(float));
    b.t = malloc((size_t)B * sizeof(float));
    ck_assert(b.x0 && b.eps && b.t);
    for (size_t i = 0; i < n; i++) b.x0[i] = 2.0f * drl_rng_uniform(&r) - 1.0f;
    drl_rng_normal_fill(&r, b.eps, n);
    for (int i = 0; i < B; i++) b.t[i] = 0.05f + 0.95f * drl_rng_uniform(&r);
    if (c->variational) {
        b.eps_z = malloc((size_t)B * c->latent_dim * sizeof(float));
        ck_assert(b.eps_z);
        drl_rng_normal_fill(&r, b.eps_z, (size_t)B * c->latent_dim);
    }
    return b;
}

static void free_batch(batch *b) {
    free(b->x0);
    free(b->t);
    free(b->eps);
    free(b->eps_z);
}

static drl_model_acts *make_acts(const drl_model *m, int B, int grad) {
    drl_err e = {0};
    drl_model_acts *a = drl_model_acts_create(&e, m, B, grad);
    ck_assert_msg(a != NULL, "acts: %s", e.msg);
    return a;
}

/* With dropout the loss runs in training mode from a freshly seeded generator, so every call
 * draws the same masks and the loss stays a deterministic function of the weights. */
static drl_loss_parts run_loss(drl_model *m, drl_model_acts *a, const batch *b, int backward) {
    drl_rng r;
    drl_rng_seed(&r, 77);
    int train = m->cfg.dropout > 0.0f;
    return drl_model_loss(m, a, m->params.data, b->x0, b->t, b->eps, b->eps_z, b->B, backward,
                          train, train ? &r : NULL);
}

/* ------------------------------------------------------------------------ parity with PyTorch */

#define MAX_CASES 64
static char parity_dir[1024];
static char case_names[MAX_CASES][128];
static int n_cases;

/* Reads the case list written by test_parity.py; returns the number of cases. */
static int load_case_list(void) {
    const char *d = getenv("DRL_PARITY_DIR");
    if (!d || !*d) return 0;
    snprintf(parity_dir, sizeof parity_dir, "%s", d);
    char path[1200];
    snprintf(path, sizeof path, "%s/cases.txt", parity_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "test_model: cannot read %s\n", path);
        return 0;
    }
    char line[sizeof case_names[0]];
    while (n_cases < MAX_CASES && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) snprintf(case_names[n_cases++], sizeof case_names[0], "%s", line);
    }
    fclose(f);
    return n_cases;
}

static const float *need(const drl_safetensors *st, const char *name, size_t numel) {
    const drl_st_tensor *t = drl_safetensors_find(st, name);
    ck_assert_msg(t != NULL, "batch file has no tensor \"%s\"", name);
    ck_assert_msg(t->numel == numel, "batch tensor \"%s\" has %zu elements, want %zu", name,
                  t->numel, numel);
    return t->data;
}

typedef struct {
    char what[DRL_PARAM_NAME_MAX + 8];
    const float *got, *want;
    size_t n;
    double rel;
} comparison;

static double rel_err(const float *got, const float *want, size_t n) {
    double scale = 0.0, maxd = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)want[i]) > scale) scale = fabs((double)want[i]);
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= maxd)) maxd = d; /* NaN propagates */
    }
    return maxd / (scale > 1e-12 ? scale : 1e-12);
}

START_TEST(test_parity) {
    const char *name = case_names[_i];
    char mpath[1400], bpath[1400], rpath[1400];
    snprintf(mpath, sizeof mpath, "%s/%s.model.safetensors", parity_dir, name);
    snprintf(bpath, sizeof bpath, "%s/%s.batch.safetensors", parity_dir, name);
    snprintf(rpath, sizeof rpath, "%s/%s.resaved.safetensors", parity_dir, name);
    drl_err e = {0};
    drl_model *m = NULL;
    ck_assert_msg(drl_model_load(&e, mpath, &m) == 0, "%s", e.msg);
    drl_safetensors *st = NULL;
    ck_assert_msg(drl_safetensors_load(&e, bpath, 0, &st) == 0, "%s", e.msg);
    const drl_config *c = &m->cfg;
    const char *tol_s = drl_safetensors_meta(st, "tol");
    double tol = tol_s ? strtod(tol_s, NULL) : 1e-4;

    const drl_st_tensor *xs = drl_safetensors_find(st, "x0");
    ck_assert_msg(xs && xs->ndim == 4, "batch file: x0 must be (B, C, H, W)");
    int B = (int)xs->shape[0];
    size_t n = (size_t)c->C * c->H * c->W, d = (size_t)c->latent_dim, D = (size_t)m->enc.D;
    const float *x0 = need(st, "x0", B * n), *t = need(st, "t", B), *eps = need(st, "eps", B * n);
    const float *eps_z = c->variational ? need(st, "eps_z", B * d) : NULL;

    drl_model_acts *a = make_acts(m, B, 1);
    drl_params_zero_grad(&m->params);
    drl_loss_parts lp = drl_model_loss(m, a, m->params.data, x0, t, eps, eps_z, B, 1, 0, NULL);
    const float *loss_ref = need(st, "loss", 3);
    float loss[3] = {(float)lp.dsm, (float)lp.reg, (float)lp.total};

    size_t ncmp = 5 + m->params.n;
    comparison *cmp = calloc(ncmp, sizeof *cmp);
    ck_assert(cmp);
    size_t k = 0;
    cmp[k++] = (comparison){"enc_out", a->enc.out, need(st, "enc_out", B * D), B * D, 0};
    cmp[k++] = (comparison){"h", a->unet.out, need(st, "h", B * n), B * n, 0};
    cmp[k++] = (comparison){"loss.dsm", &loss[0], &loss_ref[0], 1, 0};
    cmp[k++] = (comparison){"loss.reg", &loss[1], &loss_ref[1], 1, 0};
    cmp[k++] = (comparison){"loss.total", &loss[2], &loss_ref[2], 1, 0};
    for (size_t i = 0; i < m->params.n; i++, k++) {
        const drl_param_spec *s = &m->params.specs[i];
        char gname[DRL_PARAM_NAME_MAX + 8];
        snprintf(gname, sizeof gname, "grad.%s", s->name);
        snprintf(cmp[k].what, sizeof cmp[k].what, "%s", gname);
        cmp[k].got = m->params.grad + s->offset;
        cmp[k].want = need(st, gname, s->numel);
        cmp[k].n = s->numel;
    }
    double worst_grad = 0.0;
    size_t worst_at = 5, nbad = 0;
    for (size_t i = 0; i < ncmp; i++) {
        cmp[i].rel = rel_err(cmp[i].got, cmp[i].want, cmp[i].n);
        if (!(cmp[i].rel <= tol)) {
            printf("  %s: %s max rel diff %.3g > tol %.3g\n", name, cmp[i].what, cmp[i].rel, tol);
            nbad++;
        }
        if (i >= 5 && !(cmp[i].rel <= worst_grad)) {
            worst_grad = cmp[i].rel;
            worst_at = i;
        }
    }
    printf("parity-result %s %s enc %.2g  h %.2g  loss %.2g/%.2g/%.2g  grads %.2g (worst %s, %zu "
           "tensors)  tol %.0e\n",
           name, nbad ? "FAIL" : "ok", cmp[0].rel, cmp[1].rel, cmp[2].rel, cmp[3].rel, cmp[4].rel,
           worst_grad, worst_at < ncmp ? cmp[worst_at].what : "-", m->params.n, tol);
    fflush(stdout);

    /* the Python side reads this back with its own reader */
    const char *meta[] = {"parity.case", name};
    ck_assert_msg(drl_model_save(&e, m, rpath, NULL, meta, 1) == 0, "%s", e.msg);

    for (size_t i = 0; i < ncmp; i++)
        ck_assert_close(cmp[i].got, cmp[i].want, cmp[i].n, tol, cmp[i].what);
    free(cmp);
    drl_model_acts_free(a);
    drl_safetensors_free(st);
    drl_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ finite differences */

/* For every trainable tensor: the element with the largest analytic gradient plus three random
 * ones, central differences with a step of 1% of the weight (1e-2 for weights below 1). The error
 * of a tensor is max |fd - analytic| over the sample divided by max |analytic| over the tensor. */
START_TEST(test_gradcheck) {
    drl_config c = tiny_config(_i);
    drl_model *m = make_model(&c, 11 + (uint64_t)_i);
    batch b = make_batch(&c, 2, 99 + (uint64_t)_i);
    if (_i == V_WINDOW) b.t[0] = 0.3f, b.t[1] = 0.7f; /* one image outside the window, one in */
    if (_i == V_MINSNR) b.t[0] = 0.1f, b.t[1] = 0.8f; /* one image down-weighted, one not */
    if (_i == V_TRUNCSNR) b.t[0] = 0.05f, b.t[1] = 0.6f; /* VP: SNR > 1, and SNR < 1 (up-weighted) */
    drl_model_acts *a = make_acts(m, b.B, 1);
    drl_params *p = &m->params;

    drl_params_zero_grad(p);
    run_loss(m, a, &b, 1);
    float *an = malloc(p->total * sizeof(float));
    ck_assert(an);
    memcpy(an, p->grad, p->total * sizeof(float));
    if (c.dropout > 0.0f) { /* the masks really are in play */
        double l_eval =
            drl_model_loss(m, a, p->data, b.x0, b.t, b.eps, b.eps_z, b.B, 0, 0, NULL).total;
        ck_assert(l_eval != run_loss(m, a, &b, 0).total);
    }

    /* The loss is computed in float32, so finite differences carry ~1e-4 of absolute noise:
     * tensors whose gradient is tiny (the encoder's, reached only through z) are judged against
     * 3e-4 of the largest gradient in the model instead of their own maximum. */
    double gall = 0.0;
    for (size_t i = 0; i < p->total; i++)
        if (fabs(an[i]) > gall) gall = fabs(an[i]);
    double floor_g = 3e-4 * gall;

    drl_rng r;
    drl_rng_seed(&r, 5);
    double worst = 0.0;
    const char *worst_name = "-";
    int nchecked = 0;
    for (size_t i = 0; i < p->n; i++) {
        const drl_param_spec *s = &p->specs[i];
        const float *g = an + s->offset;
        if (!s->trainable) {
            for (size_t k = 0; k < s->numel; k++)
                ck_assert_msg(g[k] == 0.0f, "%s: fixed buffer has a gradient", s->name);
            continue;
        }
        size_t idx[4], nidx = 0, amax = 0;
        double gmax = 0.0;
        for (size_t k = 0; k < s->numel; k++)
            if (fabs(g[k]) > gmax) gmax = fabs(g[k]), amax = k;
        idx[nidx++] = amax;
        while (nidx < 4 && nidx < s->numel) idx[nidx++] = (size_t)drl_rng_below(&r, s->numel);
        double err = 0.0;
        for (size_t j = 0; j < nidx; j++) {
            float *w = p->data + s->offset + idx[j], w0 = *w;
            float h = 1e-2f * fmaxf(fabsf(w0), 1.0f);
            float wp = w0 + h, wm = w0 - h;
            *w = wp;
            double lp = run_loss(m, a, &b, 0).total;
            *w = wm;
            double lm = run_loss(m, a, &b, 0).total;
            *w = w0;
            double fd = (lp - lm) / ((double)wp - (double)wm);
            double e = fabs(fd - g[idx[j]]);
            if (e > err) err = e;
        }
        err /= gmax > floor_g ? gmax : floor_g;
        nchecked++;
        if (!(err <= worst)) worst = err, worst_name = s->name;
        ck_assert_msg(err < 5e-2, "%s: %s: finite-difference rel error %.3g (max |grad| %.3g)",
                      variant_name[_i], s->name, err, gmax);
    }
    printf("gradcheck %-8s %d tensors, max rel error %.2g (%s), max |grad| %.3g\n",
           variant_name[_i], nchecked, worst, worst_name, gall);
    fflush(stdout);
    free(an);
    drl_model_acts_free(a);
    free_batch(&b);
    drl_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ save / load */

/* path = a fresh temporary directory + "/" + name; remove_tmp() deletes both. */
static void tmp_path(char *path, size_t n, const char *name) {
    snprintf(path, n, "%s/%s", drl_test_tmpdir(), name);
}

static void remove_tmp(char *path) {
    remove(path);
    char *slash = strrchr(path, '/');
    if (slash) *slash = '\0', rmdir(path);
}

START_TEST(test_save_load_roundtrip) {
    drl_config c = tiny_config(V_VDRL_KL);
    /* non-default values in every group of fields */
    c.C = 3, c.H = 12, c.W = 8;
    c.time_cond = 0; /* the autoencoder baseline (mode below) has no time */
    c.lambda_z = 0.123f;
    c.fourier_scale = 3.3f;
    c.dropout = 0.1f;
    c.sde = DRL_SDE_VP;
    c.sigma_min = 0.02f, c.sigma_max = 80.0f;
    c.beta_min = 0.05f, c.beta_max = 12.5f;
    c.t_eps = 1e-3f, c.t_min = 0.01f, c.t_max = 0.7f;
    c.tdist = DRL_TDIST_SIGMA_UNIFORM;
    c.mode = DRL_MODE_AE;
    drl_model *m = make_model(&c, 3);
    char path[1100];
    tmp_path(path, sizeof path, "model.safetensors");
    drl_err e = {0};
    const char *meta[] = {"step", "42", "note", "round trip"};
    ck_assert_msg(drl_model_save(&e, m, path, NULL, meta, 2) == 0, "%s", e.msg);

    drl_model *m2 = NULL;
    ck_assert_msg(drl_model_load(&e, path, &m2) == 0, "%s", e.msg);
    ck_assert(memcmp(&m->cfg, &m2->cfg, sizeof c) == 0);
    char *j1 = drl_config_to_json(&m->cfg), *j2 = drl_config_to_json(&m2->cfg);
    ck_assert_str_eq(j1, j2);
    free(j1);
    free(j2);
    ck_assert_uint_eq(m->params.n, m2->params.n);
    ck_assert_uint_eq(m->params.total, m2->params.total);
    for (size_t i = 0; i < m->params.n; i++) {
        const drl_param_spec *s = &m->params.specs[i], *s2 = &m2->params.specs[i];
        ck_assert_str_eq(s->name, s2->name);
        ck_assert_int_eq(s->ndim, s2->ndim);
        ck_assert(memcmp(s->shape, s2->shape, sizeof s->shape) == 0);
        ck_assert_msg(memcmp(m->params.data + s->offset, m2->params.data + s2->offset,
                             s->numel * sizeof(float)) == 0,
                      "%s differs after reload", s->name);
    }
    drl_safetensors *st = NULL;
    ck_assert_msg(drl_safetensors_load(&e, path, 0, &st) == 0, "%s", e.msg);
    ck_assert_str_eq(drl_safetensors_meta(st, "step"), "42");
    ck_assert_str_eq(drl_safetensors_meta(st, "note"), "round trip");
    ck_assert_str_eq(drl_safetensors_meta(st, "format"), "drl");
    ck_assert_uint_eq(st->n_tensors, m->params.n);
    drl_safetensors_free(st);

    /* an explicit weight block (the EMA copy) is what gets written */
    float *ema = malloc(m->params.total * sizeof(float));
    ck_assert(ema);
    for (size_t i = 0; i < m->params.total; i++) ema[i] = 0.5f * m->params.data[i] + 0.25f;
    ck_assert_msg(drl_model_save(&e, m, path, ema, NULL, 0) == 0, "%s", e.msg);
    drl_model_free(m2);
    ck_assert_msg(drl_model_load(&e, path, &m2) == 0, "%s", e.msg);
    for (size_t i = 0; i < m->params.n; i++) {
        const drl_param_spec *s = &m->params.specs[i];
        size_t bytes = s->numel * sizeof(float);
        ck_assert(memcmp(ema + s->offset, m2->params.data + s->offset, bytes) == 0);
    }
    free(ema);
    remove_tmp(path);
    drl_model_free(m2);
    drl_model_free(m);
}
END_TEST

/* Writes m's tensors with one of them dropped / reshaped / an extra one, and the given config. */
typedef enum { BREAK_NONE, BREAK_DROP, BREAK_SHAPE, BREAK_EXTRA, BREAK_NAN } breakage;

static void write_broken(const drl_model *m, const char *path, breakage br, const char *victim,
                         const char *cfg_json) {
    const drl_params *p = &m->params;
    drl_st_entry *ents = calloc(p->n + 1, sizeof *ents);
    float *copy = malloc(p->total * sizeof(float));
    ck_assert(ents && copy);
    memcpy(copy, p->data, p->total * sizeof(float));
    static const float extra[2] = {1.0f, 2.0f};
    static const int64_t extra_shape[1] = {2};
    int64_t bad_shape[4];
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        const drl_param_spec *s = &p->specs[i];
        int hit = !strcmp(s->name, victim);
        if (hit && br == BREAK_DROP) continue;
        ents[k] = (drl_st_entry){s->name, copy + s->offset, s->ndim, s->shape};
        if (hit && br == BREAK_SHAPE) {
            /* same element count, different shape: (OC, C, 3, 3) -> (OC, C, 9, 1) */
            memcpy(bad_shape, s->shape, sizeof bad_shape);
            bad_shape[2] = 9, bad_shape[3] = 1;
            ents[k].shape = bad_shape;
        }
        if (hit && br == BREAK_NAN) copy[s->offset] = NAN;
        k++;
    }
    if (br == BREAK_EXTRA) ents[k++] = (drl_st_entry){"score.extra", extra, 1, extra_shape};
    const char *meta_cfg[] = {"drl.config", cfg_json, "format", "drl"};
    const char *meta_nocfg[] = {"format", "drl"};
    drl_err e = {0};
    int rc = cfg_json ? drl_safetensors_save(&e, path, ents, k, meta_cfg, 2)
                      : drl_safetensors_save(&e, path, ents, k, meta_nocfg, 1);
    ck_assert_msg(rc == 0, "%s", e.msg);
    free(ents);
    free(copy);
}

static void expect_load_error(const char *path, const char *needle1, const char *needle2) {
    drl_err e = {0};
    drl_model *m = (drl_model *)1;
    int rc = drl_model_load(&e, path, &m);
    ck_assert_msg(rc < 0, "loading %s should fail (%s)", path, needle1);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(e.msg, needle1) != NULL, "message \"%s\" lacks \"%s\"", e.msg, needle1);
    if (needle2)
        ck_assert_msg(strstr(e.msg, needle2) != NULL, "message \"%s\" lacks \"%s\"", e.msg,
                      needle2);
    printf("load error (expected): %s\n", e.msg);
}

START_TEST(test_load_errors) {
    drl_config c = tiny_config(V_TCOND);
    drl_model *m = make_model(&c, 4);
    char *cfg = drl_config_to_json(&c);
    char path[1100];
    tmp_path(path, sizeof path, "broken.safetensors");

    write_broken(m, path, BREAK_NONE, "", cfg); /* control: the writer above is sound */
    drl_err e = {0};
    drl_model *ok = NULL;
    ck_assert_msg(drl_model_load(&e, path, &ok) == 0, "%s", e.msg);
    drl_model_free(ok);

    write_broken(m, path, BREAK_DROP, "score.up_block1.skip.weight", cfg);
    expect_load_error(path, "missing tensor", "score.up_block1.skip.weight");
    write_broken(m, path, BREAK_SHAPE, "encoder.block1.conv2.weight", cfg);
    expect_load_error(path, "wrong shape", "encoder.block1.conv2.weight");
    write_broken(m, path, BREAK_EXTRA, "", cfg);
    expect_load_error(path, "unexpected tensor", "score.extra");
    write_broken(m, path, BREAK_NAN, "score.conv_out.bias", cfg);
    expect_load_error(path, "NaN", NULL);
    write_broken(m, path, BREAK_NONE, "", NULL);
    expect_load_error(path, "drl.config", NULL);
    write_broken(m, path, BREAK_NONE, "", "{\"C\": 2}");
    expect_load_error(path, "channels", NULL);
    drl_config c4 = c;
    c4.latent_dim = 4; /* a valid config that disagrees with the weights */
    char *cfg4 = drl_config_to_json(&c4);
    write_broken(m, path, BREAK_NONE, "", cfg4);
    expect_load_error(path, "wrong shape", "encoder.fc.weight");
    free(cfg4);
    write_broken(m, path, BREAK_NONE, "", "not json");
    expect_load_error(path, "JSON", NULL);
    expect_load_error("/nonexistent/drl/model.safetensors", "/nonexistent/drl/model.safetensors",
                      NULL);

    remove_tmp(path);
    free(cfg);
    drl_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ encode / score */

START_TEST(test_encode_matches_loss) {
    static const int variants[] = {V_DRL, V_TCOND, V_VDRL_KL};
    drl_config c = tiny_config(variants[_i]);
    drl_model *m = make_model(&c, 21);
    batch b = make_batch(&c, 3, 22);
    int d = c.latent_dim, D = m->enc.D;
    size_t n = (size_t)c.C * c.H * c.W;

    drl_model_acts *a = make_acts(m, b.B, 1);
    run_loss(m, a, &b, 0);
    float *mu = malloc((size_t)b.B * d * sizeof(float)),
          *z = malloc((size_t)b.B * d * sizeof(float));
    float *z2 = malloc((size_t)b.B * d * sizeof(float)), *h = malloc(b.B * n * sizeof(float));
    ck_assert(mu && z && z2 && h);
    for (int i = 0; i < b.B; i++)
        memcpy(mu + (size_t)i * d, a->enc.out + (size_t)i * D, (size_t)d * sizeof(float));

    /* inference activations (no gradient scratch) give the same code and the same score */
    drl_model_acts *inf = make_acts(m, b.B, 0);
    drl_model_encode(m, inf, m->params.data, b.x0, b.t, z, b.B);
    ck_assert_close(z, mu, (size_t)b.B * d, 1e-6, "encode vs loss forward");
    drl_model_score(m, inf, m->params.data, a->xt, b.t, a->z, h, b.B);
    ck_assert_close(h, a->unet.out, b.B * n, 1e-6, "score vs loss forward");

    /* time-conditioned: t = NULL means t_min; otherwise t is ignored */
    float *tmin = malloc((size_t)b.B * sizeof(float));
    ck_assert(tmin);
    for (int i = 0; i < b.B; i++) tmin[i] = c.t_min;
    drl_model_encode(m, inf, m->params.data, b.x0, tmin, z2, b.B);
    drl_model_encode(m, inf, m->params.data, b.x0, NULL, z, b.B);
    ck_assert_close(z, z2, (size_t)b.B * d, 0.0, "encode(t = NULL) vs encode(t = t_min)");
    if (!c.time_cond) ck_assert_close(z, mu, (size_t)b.B * d, 1e-6, "encode ignores t");
    free(tmin);

    /* encoder-only activations (what the server allocates), made for a larger batch and used
     * for a smaller one, give the same codes */
    drl_err err = {0};
    drl_model_acts *enc = drl_model_acts_create_encoder(&err, m, b.B + 5);
    ck_assert_msg(enc != NULL, "%s", err.msg);
    drl_model_encode(m, enc, m->params.data, b.x0, b.t, z2, b.B);
    drl_model_encode(m, inf, m->params.data, b.x0, b.t, z, b.B);
    ck_assert_close(z2, z, (size_t)b.B * d, 0.0, "encoder-only acts vs full acts");
    drl_model_acts_free(enc);

    free(mu);
    free(z);
    free(z2);
    free(h);
    drl_model_acts_free(inf);
    drl_model_acts_free(a);
    free_batch(&b);
    drl_model_free(m);
}
END_TEST

/* Prepared filters (drl_model_prepare, the inference path): channels of 16+ so that every
 * residual block's convolutions have a prepared form. The codes and scores match the unprepared
 * networks; other weights (P != m->params.data) take the plain path exactly; after the weights
 * change and drl_model_prepare runs again the results follow the new weights. */
START_TEST(test_encode_prepared) {
    drl_config c = tiny_config(_i ? V_TCOND : V_DRL);
    c.enc_ch[0] = 16, c.enc_ch[1] = 16, c.enc_ch[2] = 32;
    c.unet_ch[0] = 16, c.unet_ch[1] = 16, c.unet_ch[2] = 32;
    drl_model *m = make_model(&c, 31), *m2 = make_model(&c, 31);
    ck_assert_uint_gt(drl_encoder_prepared_size(&m->enc), 0);
    ck_assert_uint_gt(drl_unet_prepared_size(&m->unet), 0);
    const size_t n = (size_t)c.C * c.H * c.W;
    float *h = malloc(3 * n * sizeof(float)), *hp = malloc(3 * n * sizeof(float));
    ck_assert(h && hp);
    const int d = c.latent_dim, Bs[2] = {1, 3};
    const size_t tot = m->params.total;
    float *z = malloc(3 * (size_t)d * sizeof(float)), *zp = malloc(3 * (size_t)d * sizeof(float));
    ck_assert(z && zp);
    drl_err err = {0};
    for (int round = 0; round < 2; round++) {
        if (round) { /* new weights in place (m) and in the plain reference (m2) */
            drl_rng r;
            drl_rng_seed(&r, 33);
            for (size_t i = 0; i < tot; i++) m->params.data[i] += 0.05f * drl_rng_normal(&r);
            memcpy(m2->params.data, m->params.data, tot * sizeof(float));
        }
        ck_assert_int_eq(drl_model_prepare(&err, m), 0);
        for (int k = 0; k < 2; k++) {
            const int B = Bs[k];
            batch b = make_batch(&c, B, 34 + (uint64_t)k);
            drl_model_acts *a = make_acts(m, B, 0), *a2 = make_acts(m2, B, 0);
            drl_model_encode(m2, a2, m2->params.data, b.x0, b.t, z, B);
            drl_model_encode(m, a, m->params.data, b.x0, b.t, zp, B);
            ck_assert_close(zp, z, (size_t)B * d, 1e-5, "prepared vs plain encoder");
            drl_model_score(m2, a2, m2->params.data, b.x0, b.t, z, h, B);
            drl_model_score(m, a, m->params.data, b.x0, b.t, z, hp, B);
            ck_assert_close(hp, h, (size_t)B * n, 1e-5, "prepared vs plain score net");
            /* weights other than the prepared ones: the plain path, bit for bit */
            drl_model_encode(m, a, m2->params.data, b.x0, b.t, zp, B);
            ck_assert_msg(memcmp(zp, z, (size_t)B * d * sizeof(float)) == 0,
                          "encode with other weights did not take the plain path");
            drl_model_acts_free(a), drl_model_acts_free(a2);
            free_batch(&b);
        }
    }
    free(z), free(zp), free(h), free(hp);
    drl_model_free(m), drl_model_free(m2);
}
END_TEST

/* The code window: outside [code_t_min, code_t_max] the code changes nothing (the score equals
 * the zero-code score and the encoder gets no gradient from that image); inside it does. */
START_TEST(test_code_window) {
    drl_config c = tiny_config(V_WINDOW);
    c.reg = DRL_REG_NONE, c.lambda_z = 0.0f;
    drl_model *m = make_model(&c, 41);
    batch b = make_batch(&c, 2, 42);
    const size_t n = (size_t)c.C * c.H * c.W, d = (size_t)c.latent_dim;
    drl_model_acts *a = make_acts(m, 2, 1);
    float z[2 * 8], zero[2 * 8] = {0}, h1[2 * 32], h0[2 * 32];
    ck_assert(d <= 8 && n <= 32);
    for (size_t i = 0; i < 2 * d; i++) z[i] = 1.0f + (float)i;
    float t_out[2] = {0.3f, 0.95f}, t_in[2] = {0.5f, 0.9f};
    drl_model_score(m, a, m->params.data, b.x0, t_out, z, h1, 2);
    drl_model_score(m, a, m->params.data, b.x0, t_out, zero, h0, 2);
    ck_assert_close(h1, h0, 2 * n, 0.0, "outside the window the code is ignored");
    drl_model_score(m, a, m->params.data, b.x0, t_in, z, h1, 2);
    drl_model_score(m, a, m->params.data, b.x0, t_in, zero, h0, 2);
    double diff = 0.0;
    for (size_t i = 0; i < 2 * n; i++) diff += fabs(h1[i] - h0[i]);
    ck_assert_msg(diff > 1e-3, "inside the window the code must matter (diff %g)", diff);
    /* training only outside the window: no encoder gradient at all */
    b.t[0] = 0.2f, b.t[1] = 0.97f;
    drl_params_zero_grad(&m->params);
    run_loss(m, a, &b, 1);
    for (size_t i = 0; i < m->params.n; i++) {
        const drl_param_spec *s = &m->params.specs[i];
        if (strncmp(s->name, "encoder.", 8)) continue;
        for (size_t k = 0; k < s->numel; k++)
            ck_assert_msg(m->params.grad[s->offset + k] == 0.0f, "%s has a gradient", s->name);
    }
    drl_model_acts_free(a);
    free_batch(&b);
    drl_model_free(m);
}
END_TEST

/* Loss weightings: the batch loss is the mean of the images' σ²-weighted losses, each scaled by
 * its weight -- min(1, γ σ²/α²) for min-SNR, max(1, σ²/α²) for truncated SNR (VE: α = 1) --
 * for the loss and for every parameter gradient. _i: 0 min-SNR, 1 truncated SNR. */
START_TEST(test_loss_weighting) {
    drl_config c = tiny_config(V_DRL);
    drl_model *m = make_model(&c, 51);
    batch b = make_batch(&c, 2, 52);
    b.t[0] = 0.05f, b.t[1] = 0.9f;
    const float gamma = 2.0f;
    double w[2];
    for (int i = 0; i < 2; i++) {
        double s = drl_sde_std(&c, b.t[i]);
        if (_i == 0) w[i] = gamma * s * s < 1.0 ? gamma * s * s : 1.0;
        else w[i] = s * s > 1.0 ? s * s : 1.0;
    }
    if (_i == 0) ck_assert_msg(w[0] < 0.01 && w[1] == 1.0, "the test needs one down-weighted image (w %g %g)", w[0], w[1]);
    else ck_assert_msg(w[0] == 1.0 && w[1] > 100.0, "the test needs one up-weighted image (w %g %g)", w[0], w[1]);
    drl_params *p = &m->params;
    drl_model_acts *a1 = make_acts(m, 1, 1), *a2 = make_acts(m, 2, 1);
    const size_t n = (size_t)c.C * c.H * c.W, d = (size_t)c.latent_dim;
    /* each image alone under λ = σ² */
    double want = 0.0;
    double *g = calloc(p->total, sizeof(double));
    ck_assert(g);
    for (int i = 0; i < 2; i++) {
        batch one = {1, b.x0 + i * n, b.t + i, b.eps + i * n, b.eps_z ? b.eps_z + i * d : NULL};
        drl_params_zero_grad(p);
        want += 0.5 * w[i] * run_loss(m, a1, &one, 1).total;
        for (size_t k = 0; k < p->total; k++) g[k] += 0.5 * w[i] * p->grad[k];
    }
    m->cfg.weighting = _i == 0 ? DRL_WEIGHT_MIN_SNR : DRL_WEIGHT_TRUNC_SNR, m->cfg.snr_gamma = gamma;
    drl_params_zero_grad(p);
    double got = run_loss(m, a2, &b, 1).total;
    ck_assert_msg(fabs(got - want) <= 1e-5 * fabs(want), "loss %.9g vs %.9g", got, want);
    double gmax = 0.0, emax = 0.0;
    for (size_t k = 0; k < p->total; k++) {
        gmax = fmax(gmax, fabs(g[k]));
        emax = fmax(emax, fabs(p->grad[k] - g[k]));
    }
    ck_assert_msg(emax <= 1e-4 * gmax, "gradient error %g of max %g", emax, gmax);
    free(g);
    drl_model_acts_free(a1);
    drl_model_acts_free(a2);
    free_batch(&b);
    drl_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ data-parallel loss */

/* drl_model_loss_sharded equals drl_model_loss up to summation order, and is bit-identical for
 * 1, 2 and 3 threads (the shards' split does not depend on the thread count). */
START_TEST(test_sharded_matches_loss) {
    static const int variants[] = {V_DRL, V_VDRL_KL, V_AE, V_TCOND, V_MINSNR, V_TRUNCSNR};
    static const int batches[] = {20, 17, 3};
    drl_config c = tiny_config(variants[_i % 6]);
    const int B = batches[_i / 6];
    drl_model *m = make_model(&c, 31);
    batch b = make_batch(&c, B, 32);
    const size_t tot = m->params.total;

    drl_model_acts *a = make_acts(m, B, 1);
    drl_params_zero_grad(&m->params);
    drl_loss_parts want = run_loss(m, a, &b, 1);
    float *g_want = malloc(tot * sizeof(float)), *g_first = malloc(tot * sizeof(float));
    ck_assert(g_want && g_first);
    memcpy(g_want, m->params.grad, tot * sizeof(float));

    drl_err err = {0};
    /* made for B + 4 images and used for B: the smaller batch is cut the same way */
    drl_model_shards *s = drl_model_shards_create(&err, m, B + (_i % 2) * 4, 1);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(drl_model_shard_count(20), 2);
    ck_assert_int_eq(drl_model_shard_count(15), 1);
    double first = 0.0;
    for (int th = 1; th <= 3; th++) {
        drl_threads_set(th);
        drl_rng r;
        drl_rng_seed(&r, 77);
        drl_params_zero_grad(&m->params);
        drl_loss_parts got = drl_model_loss_sharded(m, s, m->params.data, b.x0, b.t, b.eps, b.eps_z,
                                                    B, 1, 0, &r);
        ck_assert_msg(fabs(got.total - want.total) <= 1e-5 * fabs(want.total),
                      "%s B=%d: loss %.9g vs %.9g", variant_name[variants[_i % 6]], B, got.total,
                      want.total);
        ck_assert_close(m->params.grad, g_want, tot, 1e-5, "sharded gradients vs one pass");
        if (th == 1) {
            first = got.total;
            memcpy(g_first, m->params.grad, tot * sizeof(float));
        } else {
            ck_assert_msg(got.total == first, "loss differs with %d threads", th);
            ck_assert_msg(!memcmp(g_first, m->params.grad, tot * sizeof(float)),
                          "gradients differ with %d threads", th);
        }
    }
    drl_threads_set(0);
    /* a batch larger than the shards were made for is refused (NaN), never overrun */
    drl_rng r;
    drl_rng_seed(&r, 1);
    drl_loss_parts bad = drl_model_loss_sharded(m, s, m->params.data, b.x0, b.t, b.eps, b.eps_z,
                                                B + 5, 0, 0, &r);
    ck_assert(isnan(bad.total));
    drl_model_shards_free(s);
    s = drl_model_shards_create(&err, m, B, 0); /* inference shards: forward only */
    ck_assert_msg(s != NULL, "%s", err.msg);
    drl_rng_seed(&r, 77);
    drl_loss_parts fwd = drl_model_loss_sharded(m, s, m->params.data, b.x0, b.t, b.eps, b.eps_z,
                                                B, 0, 0, &r);
    ck_assert_msg(fabs(fwd.total - want.total) <= 1e-5 * fabs(want.total), "forward-only shards");
    ck_assert(isnan(drl_model_loss_sharded(m, s, m->params.data, b.x0, b.t, b.eps, b.eps_z, B, 1,
                                           0, &r).total));
    drl_model_shards_free(s);
    free(g_want);
    free(g_first);
    drl_model_acts_free(a);
    free_batch(&b);
    drl_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("model");
    int nc = load_case_list();
    if (nc > 0) {
        TCase *tp = tcase_create("parity");
        tcase_add_loop_test(tp, test_parity, 0, nc);
        suite_add_tcase(s, tp);
    }
    TCase *tg = tcase_create("gradcheck");
    tcase_add_loop_test(tg, test_gradcheck, 0, N_VARIANTS);
    suite_add_tcase(s, tg);
    TCase *ti = tcase_create("io");
    tcase_add_test(ti, test_save_load_roundtrip);
    tcase_add_test(ti, test_load_errors);
    suite_add_tcase(s, ti);
    TCase *te = tcase_create("encode");
    tcase_add_loop_test(te, test_encode_matches_loss, 0, 3);
    tcase_add_loop_test(te, test_encode_prepared, 0, 2);
    tcase_add_test(te, test_code_window);
    tcase_add_loop_test(te, test_loss_weighting, 0, 2);
    suite_add_tcase(s, te);
    TCase *tsh = tcase_create("sharded");
    tcase_add_loop_test(tsh, test_sharded_matches_loss, 0, 18);
    suite_add_tcase(s, tsh);
    return drl_test_run(s);
}
