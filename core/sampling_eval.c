/* sampling_eval.c — reconstruction error and class consistency of samples conditioned on an
 * image's code, against shuffled and zero codes (see sampling_eval.h).
 *
 * The N images go through in batches; a batch's sampler seed comes from (seed, batch index), and
 * every condition and start of that batch uses it, so the three conditions see the same noise
 * and differ only by the code. */
#include "sampling_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "tensor.h"

drl_sampling_eval_cfg drl_sampling_eval_defaults(void) {
    drl_sampling_eval_cfg c;
    c.sampler = drl_sampler_defaults();
    c.sampler.kind = DRL_SAMPLER_ODE;
    c.sampler.steps = 100;
    c.t_partial = 0.5f;
    c.batch = 50;
    return c;
}

/* One condition's codes as a drl_score_fn for the sampler. */
typedef struct {
    const drl_sampling_ops *ops;
    const float *z, *src;
} cond_ctx;

static int cond_score(void *user, const float *x, float t, float *score, int B) {
    const cond_ctx *c = user;
    return c->ops->score(c->ops->user, x, t, c->z, c->src, score, B);
}

/* Steps for a run from t, of the same length as those of a `steps`-step run from 1. */
static int scaled_steps(const drl_config *sde, int steps, float t) {
    int k = (int)ceil(steps * (t - sde->t_eps) / (1.0 - sde->t_eps) - 1e-6);
    return k < 1 ? 1 : k;
}

static int check_args(drl_err *err, const drl_config *sde, const drl_sampling_eval_cfg *cfg,
                      const drl_sampling_ops *ops, const float *x0, const int *labels, size_t N) {
    if (!ops || !ops->encode || !ops->score || !ops->classify || ops->n < 1 || ops->d < 1)
        return drl_errf(err, DRL_EINVAL, "sampling eval: incomplete model callbacks");
    if (!x0 || !labels) return drl_errf(err, DRL_EINVAL, "sampling eval: no images or labels");
    if (N < 2) return drl_errf(err, DRL_EINVAL, "sampling eval: need at least 2 images to shuffle codes, got %zu", N);
    if (N > UINT32_MAX) return drl_errf(err, DRL_ELIMIT, "sampling eval: too many images (%zu)", N);
    if (cfg->batch < 1 || cfg->batch > 4096) return drl_errf(err, DRL_EINVAL, "sampling eval: batch %d out of range 1..4096", cfg->batch);
    if (ops->n > ((size_t)1 << 40) / ((size_t)cfg->batch * 8) || (size_t)ops->d > ((size_t)1 << 40) / N)
        return drl_errf(err, DRL_ELIMIT, "sampling eval: %zu images of %zu floats with %d-number codes are too large",
                        N, ops->n, ops->d);
    for (size_t i = 0; i < N; i++)
        if (labels[i] < 0) return drl_errf(err, DRL_EINVAL, "sampling eval: label %d of image %zu is negative", labels[i], i);
    drl_sampler_cfg s = cfg->sampler;
    s.t_init = 1.0f;
    int rc = drl_sampler_validate(err, sde, &s);
    if (rc) return rc;
    if (cfg->t_partial != 0.0f && !(cfg->t_partial > sde->t_eps && cfg->t_partial < 1.0f))
        return drl_errf(err, DRL_EINVAL, "sampling eval: t_partial %g must be in (t_eps = %g, 1), or 0 to skip",
                        cfg->t_partial, sde->t_eps);
    return 0;
}

int drl_sampling_eval(drl_err *err, const drl_config *sde, const drl_sampling_eval_cfg *cfg,
                      const drl_sampling_ops *ops, const float *x0, const int *labels, size_t N,
                      drl_sampling_progress_fn progress, void *progress_user,
                      drl_sampling_eval_result *out) {
    memset(out, 0, sizeof *out);
    int rc = check_args(err, sde, cfg, ops, x0, labels, N);
    if (rc) return rc;
    size_t n = ops->n, d = (size_t)ops->d;
    int B = (size_t)cfg->batch < N ? cfg->batch : (int)N;
    out->N = N;
    out->starts = cfg->t_partial != 0.0f ? 2 : 1;
    out->t_init[0] = 1.0f, out->steps[0] = cfg->sampler.steps;
    if (out->starts == 2) out->t_init[1] = cfg->t_partial, out->steps[1] = scaled_steps(sde, cfg->sampler.steps, cfg->t_partial);

    float *codes = malloc(N * d * sizeof(float)), *zs = malloc((size_t)B * d * sizeof(float));
    float *zz = calloc((size_t)B * d, sizeof(float)), *src = malloc((size_t)B * n * sizeof(float));
    float *x = malloc((size_t)B * n * sizeof(float)), *work = malloc(3 * (size_t)B * n * sizeof(float));
    uint32_t *perm = malloc(N * sizeof(uint32_t));
    int *pred = malloc((size_t)B * sizeof(int));
    double sum[2][DRL_SEVAL_NCOND] = {{0}}, sum2[2][DRL_SEVAL_NCOND] = {{0}};
    size_t hits[2][DRL_SEVAL_NCOND] = {{0}}, correct = 0;
    if (!codes || !zs || !zz || !src || !x || !work || !perm || !pred) {
        rc = drl_errf(err, DRL_ENOMEM, "sampling eval: out of memory");
        goto done;
    }

    /* the codes, and the classifier on the images themselves */
    for (size_t i0 = 0; i0 < N && !rc; i0 += (size_t)B) {
        int b = (int)(N - i0 < (size_t)B ? N - i0 : (size_t)B);
        rc = ops->encode(ops->user, x0 + i0 * n, b, codes + i0 * d);
        if (!rc) rc = ops->classify(ops->user, x0 + i0 * n, b, pred);
        for (int k = 0; !rc && k < b; k++) correct += pred[k] == labels[i0 + k];
    }
    if (rc) goto done;
    if (!drl_all_finite(codes, N * d)) {
        rc = drl_errf(err, DRL_EINVAL, "sampling eval: the encoder gave non-finite codes");
        goto done;
    }

    /* Sattolo's shuffle: a uniformly random single cycle, so no image keeps its own code */
    drl_rng rng;
    drl_rng_stream(&rng, cfg->sampler.seed, 0);
    for (size_t i = 0; i < N; i++) perm[i] = (uint32_t)i;
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = (size_t)drl_rng_below(&rng, i);
        uint32_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }

    size_t done_samples = 0, total = N * DRL_SEVAL_NCOND * (size_t)out->starts;
    double work_total = (double)N * DRL_SEVAL_NCOND * (out->steps[0] + (out->starts == 2 ? out->steps[1] : 0)), work_done = 0;
    for (size_t i0 = 0, batch = 0; i0 < N && !rc; i0 += (size_t)B, batch++) {
        int b = (int)(N - i0 < (size_t)B ? N - i0 : (size_t)B);
        const float *xb = x0 + i0 * n;
        for (int k = 0; k < b; k++) {
            memcpy(src + (size_t)k * n, x0 + (size_t)perm[i0 + k] * n, n * sizeof(float));
            memcpy(zs + (size_t)k * d, codes + (size_t)perm[i0 + k] * d, d * sizeof(float));
        }
        drl_rng_stream(&rng, cfg->sampler.seed, 1 + batch);
        uint64_t seed = drl_rng_u64(&rng);
        for (int s = 0; s < out->starts && !rc; s++) {
            drl_sampler_cfg sc = cfg->sampler;
            sc.t_init = out->t_init[s], sc.steps = out->steps[s], sc.seed = seed;
            for (int c = 0; c < DRL_SEVAL_NCOND && !rc; c++) {
                cond_ctx ctx = {ops, c == DRL_SEVAL_COND ? codes + i0 * d : c == DRL_SEVAL_SHUFFLED ? zs : zz,
                                c == DRL_SEVAL_COND ? xb : c == DRL_SEVAL_SHUFFLED ? src : NULL};
                rc = drl_sample(err, sde, &sc, cond_score, &ctx, s ? xb : NULL, x, b, n, work);
                if (!rc) rc = ops->classify(ops->user, x, b, pred);
                if (rc) break;
                for (int k = 0; k < b; k++) {
                    double e = 0;
                    for (size_t i = (size_t)k * n; i < (size_t)(k + 1) * n; i++) {
                        double v = x[i] < 0 ? 0 : x[i] > 1 ? 1 : x[i]; /* a NaN stays NaN */
                        e += (v - xb[i]) * (v - xb[i]);
                    }
                    e /= (double)n;
                    sum[s][c] += e, sum2[s][c] += e * e;
                    hits[s][c] += pred[k] == labels[i0 + k];
                }
                done_samples += (size_t)b;
                work_done += (double)b * sc.steps;
                drl_sampling_eval_progress p = {done_samples, total, work_done / work_total};
                if (progress && progress(progress_user, &p)) rc = drl_errf(err, DRL_ECANCELLED, "sampling eval: stopped");
            }
        }
    }
    if (rc) goto done;
    for (int s = 0; s < out->starts; s++)
        for (int c = 0; c < DRL_SEVAL_NCOND; c++) {
            double m = sum[s][c] / N, var = (sum2[s][c] - sum[s][c] * m) / (N - 1);
            out->mse[s][c] = m;
            out->mse_se[s][c] = sqrt(var > 0 ? var / N : 0.0);
            out->consistency[s][c] = (double)hits[s][c] / N;
        }
    out->classifier_acc = (double)correct / N;
done:
    free(codes), free(zs), free(zz), free(src), free(x), free(work), free(perm), free(pred);
    return rc;
}

/* ------------------------------------------------------------------------------------------- */

static int model_encode(void *user, const float *x, int B, float *z) {
    drl_sampling_model *sm = user;
    if (B > sm->B) return DRL_EINVAL;
    drl_model_encode(sm->m, sm->acts, sm->m->params.data, x, NULL, z, B);
    return 0;
}

static int model_score(void *user, const float *x, float t, const float *z, const float *src, float *score, int B) {
    drl_sampling_model *sm = user;
    if (B > sm->B) return DRL_EINVAL;
    drl_model_score_ctx ctx = {sm->m, sm->acts, sm->m->params.data, z, sm->m->cfg.time_cond ? src : NULL,
                               sm->zbuf, sm->tbuf};
    return drl_model_score_fn(&ctx, x, t, score, B);
}

static int model_classify(void *user, const float *x, int B, int *pred) {
    drl_sampling_model *sm = user;
    drl_probe_predict(sm->probe, x, (size_t)B, pred);
    return B > 0 && pred[0] < 0 ? DRL_ENOMEM : 0; /* drl_probe_predict's allocation failure */
}

int drl_sampling_model_init(drl_err *err, drl_sampling_model *sm, const drl_model *m,
                            const drl_probe *probe, int B) {
    memset(sm, 0, sizeof *sm);
    size_t n = (size_t)m->cfg.C * m->cfg.H * m->cfg.W;
    if (m->cfg.mode != DRL_MODE_DRL)
        return drl_errf(err, DRL_EINVAL, "an autoencoder-baseline model has no score model to sample with");
    if (!probe || (size_t)probe->D != n)
        return drl_errf(err, DRL_EINVAL, "the classifier takes %d inputs, the model's images have %zu pixels",
                        probe ? probe->D : 0, n);
    if (B < 1 || B > 4096) return drl_errf(err, DRL_EINVAL, "batch %d out of range 1..4096", B);
    sm->m = m, sm->probe = probe, sm->B = B;
    sm->acts = drl_model_acts_create(err, m, B, 0);
    sm->zbuf = malloc((size_t)B * m->cfg.latent_dim * sizeof(float));
    sm->tbuf = malloc((size_t)B * sizeof(float));
    if (!sm->acts || !sm->zbuf || !sm->tbuf) {
        int rc = sm->acts ? drl_errf(err, DRL_ENOMEM, "out of memory") : (err && err->code ? err->code : DRL_ENOMEM);
        drl_sampling_model_release(sm);
        return rc;
    }
    return 0;
}

void drl_sampling_model_release(drl_sampling_model *sm) {
    if (!sm) return;
    drl_model_acts_free(sm->acts);
    free(sm->zbuf), free(sm->tbuf);
    memset(sm, 0, sizeof *sm);
}

drl_sampling_ops drl_sampling_model_ops(drl_sampling_model *sm) {
    drl_sampling_ops o = {(size_t)sm->m->cfg.C * sm->m->cfg.H * sm->m->cfg.W, sm->m->cfg.latent_dim, sm,
                          model_encode, model_score, model_classify};
    return o;
}
