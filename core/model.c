/* model.c — DRL model: build, save/load, encode, loss (see model.h). */
#include "model.h"

#include <sys/mman.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"
#include "safetensors.h"
#include "tensor.h"
#include "threads.h"
#include "sde.h"

int drl_model_create(drl_err *err, const drl_config *cfg, uint64_t seed, drl_model **out) {
    *out = NULL;
    int rc = drl_config_validate(err, cfg);
    if (rc) return rc;
    drl_model *m = calloc(1, sizeof *m);
    if (!m) return drl_errf(err, DRL_ENOMEM, "model: out of memory");
    m->cfg = *cfg;
    drl_params_init(&m->params);
    drl_encoder_declare(&m->enc, &m->params, cfg);
    if (cfg->mode == DRL_MODE_AE) drl_decoder_declare(&m->dec, &m->params, cfg);
    else drl_unet_declare(&m->unet, &m->params, cfg);
    rc = drl_params_alloc(err, &m->params);
    if (rc) {
        drl_model_free(m);
        return rc;
    }
    drl_rng rng;
    drl_rng_seed(&rng, seed);
    drl_params_init_values(&m->params, &rng);
    *out = m;
    return 0;
}

void drl_model_free(drl_model *m) {
    if (!m) return;
    free(m->prep);
    drl_params_release(&m->params);
    free(m);
}

int drl_model_save(drl_err *err, const drl_model *m, const char *path, const float *weights,
                   const char *const *meta, size_t n_meta) {
    const drl_params *p = &m->params;
    const float *W = weights ? weights : p->data;
    drl_st_entry *ents = calloc(p->n ? p->n : 1, sizeof *ents);
    const char **kv = calloc(2 * (n_meta + 2), sizeof *kv);
    char *cfg = drl_config_to_json(&m->cfg);
    int rc;
    if (!ents || !kv || !cfg) {
        rc = drl_errf(err, DRL_ENOMEM, "model: out of memory");
        goto done;
    }
    for (size_t i = 0; i < p->n; i++) {
        ents[i].name = p->specs[i].name;
        ents[i].data = W + p->specs[i].offset;
        ents[i].ndim = p->specs[i].ndim;
        ents[i].shape = p->specs[i].shape;
    }
    size_t k = 0;
    kv[k++] = "drl.config";
    kv[k++] = cfg;
    kv[k++] = "format";
    kv[k++] = "drl";
    for (size_t i = 0; i < n_meta; i++) {
        kv[k++] = meta[2 * i];
        kv[k++] = meta[2 * i + 1];
    }
    rc = drl_safetensors_save(err, path, ents, p->n, kv, k / 2);
done:
    free(ents);
    free(kv);
    free(cfg);
    return rc;
}

int drl_model_load(drl_err *err, const char *path, drl_model **out) {
    *out = NULL;
    drl_safetensors *st = NULL;
    int rc = drl_safetensors_load(err, path, 0, &st);
    if (rc) return rc;
    const char *cj = drl_safetensors_meta(st, "drl.config");
    if (!cj) {
        drl_safetensors_free(st);
        return drl_errf(err, DRL_EFORMAT, "%s: no drl.config in the metadata: not a drl model", path);
    }
    drl_config cfg = drl_config_defaults();
    rc = drl_config_from_json(err, cj, &cfg);
    drl_model *m = NULL;
    if (!rc) rc = drl_model_create(err, &cfg, 0, &m);
    if (rc) {
        drl_err_prefix(err, "%s", path);
        drl_safetensors_free(st);
        return rc;
    }
    const drl_params *p = &m->params;
    for (size_t i = 0; i < p->n && !rc; i++) {
        const drl_param_spec *s = &p->specs[i];
        const drl_st_tensor *t = drl_safetensors_find(st, s->name);
        if (!t) {
            rc = drl_errf(err, DRL_EFORMAT, "%s: missing tensor \"%s\"", path, s->name);
            break;
        }
        int same = t->ndim == s->ndim;
        for (int d = 0; same && d < s->ndim; d++) same = t->shape[d] == s->shape[d];
        if (!same) {
            rc = drl_errf(err, DRL_EFORMAT, "%s: tensor \"%s\" has the wrong shape for this config", path, s->name);
            break;
        }
        memcpy(p->data + s->offset, t->data, s->numel * sizeof(float));
    }
    if (!rc && st->n_tensors != p->n) {
        for (size_t i = 0; i < st->n_tensors; i++)
            if (!drl_params_find(p, st->tensors[i].name)) {
                rc = drl_errf(err, DRL_EFORMAT, "%s: unexpected tensor \"%s\"", path, st->tensors[i].name);
                break;
            }
    }
    if (!rc && !drl_all_finite(p->data, p->total))
        rc = drl_errf(err, DRL_EFORMAT, "%s: weights contain NaN or Inf", path);
    drl_safetensors_free(st);
    if (rc) {
        drl_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ------------------------------------------------------------------------ activations */

static void acts_layout(const drl_model *m, drl_model_acts *a, drl_arena *ar, int B, int grad,
                        int encoder_only) {
    const drl_config *c = &m->cfg;
    size_t img = (size_t)B * c->C * c->H * c->W, d = (size_t)B * c->latent_dim;
    drl_encoder_layout(&m->enc, &a->enc, ar, B, grad);
    size_t w = drl_encoder_work_size(&m->enc, B), wu;
    if (encoder_only) {
        /* drl_model_encode touches nothing else */
        a->work = drl_arena_take(ar, w);
        a->tin_enc = drl_arena_take(ar, (size_t)B);
        return;
    }
    if (c->mode == DRL_MODE_AE) {
        drl_decoder_layout(&m->dec, &a->dec, ar, B, grad);
        wu = drl_decoder_work_size(&m->dec, B);
    } else {
        drl_unet_layout(&m->unet, &a->unet, ar, B, grad);
        wu = drl_unet_work_size(&m->unet, B);
    }
    a->work = drl_arena_take(ar, w > wu ? w : wu);
    a->xt = drl_arena_take(ar, img);
    a->tin_enc = drl_arena_take(ar, (size_t)B);
    a->tin = drl_arena_take(ar, (size_t)B);
    a->lw = drl_arena_take(ar, (size_t)B);
    a->z = drl_arena_take(ar, d);
    a->target = drl_arena_take(ar, img);
    a->dh = drl_arena_take(ar, img);
    a->dz = drl_arena_take(ar, d);
    a->denc = drl_arena_take(ar, (size_t)B * m->enc.D);
}

static drl_model_acts *acts_create(drl_err *err, const drl_model *m, int B, int grad, int encoder_only) {
    if (B < 1) {
        drl_errf(err, DRL_EINVAL, "model: batch size must be >= 1");
        return NULL;
    }
    drl_model_acts *a = calloc(1, sizeof *a);
    if (!a) {
        drl_errf(err, DRL_ENOMEM, "model: out of memory");
        return NULL;
    }
    drl_arena ar = {NULL, 0};
    acts_layout(m, a, &ar, B, grad, encoder_only);
    /* In 2 MiB transparent huge pages (advice only; Debian's default THP mode is "madvise"):
     * bench_model's activations took 496k page faults in 4 KiB pages, 7k so. */
    const size_t HP = (size_t)2 << 20, bytes = (ar.used * sizeof(float) + HP - 1) & ~(HP - 1);
    a->mem = aligned_alloc(HP, bytes);
    if (a->mem) madvise(a->mem, bytes, MADV_HUGEPAGE);
    if (!a->mem) {
        drl_errf(err, DRL_ENOMEM, "model: out of memory for %zu MB of activations",
                 ar.used * sizeof(float) >> 20);
        free(a);
        return NULL;
    }
    memset(a->mem, 0, ar.used * sizeof(float));
    drl_arena real = {a->mem, 0};
    acts_layout(m, a, &real, B, grad, encoder_only);
    a->B = B;
    a->grad = grad;
    return a;
}

drl_model_acts *drl_model_acts_create(drl_err *err, const drl_model *m, int B, int grad) {
    return acts_create(err, m, B, grad, 0);
}

drl_model_acts *drl_model_acts_create_encoder(drl_err *err, const drl_model *m, int B) {
    return acts_create(err, m, B, 0, 1);
}

void drl_model_acts_free(drl_model_acts *a) {
    if (!a) return;
    free(a->mem);
    free(a);
}

/* ------------------------------------------------------------------------ inference */

/* 1 when the score net sees the code at time t (the config's code window). */
static int code_visible(const drl_config *c, float t) { return t >= c->code_t_min && t <= c->code_t_max; }

static void noise_inputs(const drl_config *c, const float *t, float tdefault, float *tin, int B) {
    for (int b = 0; b < B; b++) tin[b] = drl_sde_noise_input(c, t ? t[b] : tdefault);
}

int drl_model_prepare(drl_err *err, drl_model *m) {
    const int score = m->cfg.mode == DRL_MODE_DRL;
    const size_t ne = drl_encoder_prepared_size(&m->enc);
    const size_t n = ne + (score ? drl_unet_prepared_size(&m->unet) : 0);
    if (!m->prep && n) {
        m->prep = malloc(n * sizeof(float));
        if (!m->prep) return drl_errf(err, DRL_ENOMEM, "model: out of memory for prepared filters");
    }
    if (m->prep) {
        drl_encoder_prepare(&m->enc, m->prep, m->params.data);
        if (score) drl_unet_prepare(&m->unet, m->prep + ne, m->params.data);
    }
    m->prep_for = m->params.data;
    return 0;
}

void drl_model_unprepare(drl_model *m) {
    free(m->prep);
    m->prep = NULL;
    m->prep_for = NULL;
}

void drl_model_encode(const drl_model *m, drl_model_acts *a, const float *P, const float *x,
                      const float *t, float *z, int B) {
    const drl_config *c = &m->cfg;
    noise_inputs(c, t, c->t_min, a->tin_enc, B);
    const float *pw = m->prep && P == m->prep_for ? m->prep : NULL;
    drl_encoder_forward(&m->enc, &a->enc, P, pw, x, a->tin_enc, a->work, B, 0, NULL);
    int d = c->latent_dim, D = m->enc.D;
    for (int b = 0; b < B; b++) memcpy(z + (size_t)b * d, a->enc.out + (size_t)b * D, (size_t)d * sizeof(float));
}

void drl_model_score(const drl_model *m, drl_model_acts *a, const float *P, const float *xt,
                     const float *t, const float *z, float *out, int B) {
    const drl_config *c = &m->cfg;
    if (c->code_t_min > 0.0f || c->code_t_max < 1.0f) { /* the code window, as in training */
        const size_t d = (size_t)c->latent_dim;
        for (int b = 0; b < B; b++) {
            if (code_visible(c, t[b])) memcpy(a->z + b * d, z + b * d, d * sizeof(float));
            else memset(a->z + b * d, 0, d * sizeof(float));
        }
        z = a->z;
    }
    noise_inputs(c, t, 0.0f, a->tin, B);
    const float *pw = m->prep && P == m->prep_for && c->mode == DRL_MODE_DRL ? m->prep + m->enc.n_pw : NULL;
    drl_unet_forward(&m->unet, &a->unet, P, pw, xt, a->tin, z, a->work, B, 0, NULL);
    memcpy(out, a->unet.out, (size_t)B * m->cfg.C * m->cfg.H * m->cfg.W * sizeof(float));
}

/* ------------------------------------------------------------------------ loss */

/* The loss of B images with gradients accumulated into G (drl_model_loss without the masking of
 * fixed buffers). Reads m only: shards run this concurrently on one model. */
static drl_loss_parts loss_into(const drl_model *m, drl_model_acts *a, const float *P, float *G,
                                const float *x0, const float *t, const float *eps,
                                const float *eps_z, int B, int backward, int train, drl_rng *rng) {
    const drl_config *c = &m->cfg;
    drl_loss_parts parts = {0, 0, 0};
    size_t n = (size_t)c->C * c->H * c->W;
    int d = c->latent_dim, D = m->enc.D;

    /* noisy input and target */
    for (int b = 0; b < B; b++) {
        float al = (float)drl_sde_alpha(c, t[b]), sd = (float)drl_sde_std(c, t[b]);
        const float *x = x0 + b * n, *e = eps + b * n;
        float *xt = a->xt + b * n, *tg = a->target + b * n;
        for (size_t i = 0; i < n; i++) {
            xt[i] = al * x[i] + sd * e[i];
            tg[i] = -e[i];
        }
    }
    /* code */
    noise_inputs(c, t, 0.0f, a->tin, B);
    memcpy(a->tin_enc, a->tin, (size_t)B * sizeof(float));
    drl_encoder_forward(&m->enc, &a->enc, P, NULL, x0, a->tin_enc, a->work, B, train, rng);
    const float *eo = a->enc.out;
    double reg = 0.0;
    for (int b = 0; b < B; b++) {
        const float *mu = eo + (size_t)b * D;
        float *z = a->z + (size_t)b * d;
        for (int j = 0; j < d; j++) {
            if (c->variational) {
                float lv = mu[d + j], sdv = expf(0.5f * lv);
                z[j] = mu[j] + sdv * (eps_z ? eps_z[(size_t)b * d + j] : 0.0f);
                if (c->reg == DRL_REG_KL) reg += 0.5 * ((double)mu[j] * mu[j] + exp(lv) - lv - 1.0);
                if (c->reg == DRL_REG_L1) reg += fabs((double)mu[j]);
            } else {
                z[j] = mu[j];
                if (c->reg == DRL_REG_L1) reg += fabs((double)mu[j]);
            }
        }
    }
    parts.reg = c->lambda_z * reg / B;
    for (int b = 0; b < B; b++) /* outside the code window the score net gets a zero code */
        if (!code_visible(c, t[b])) memset(a->z + (size_t)b * d, 0, (size_t)d * sizeof(float));
    if (c->mode == DRL_MODE_AE) {
        /* reconstruction */
        drl_decoder_forward(&m->dec, &a->dec, P, a->z, a->work, B);
        parts.dsm = drl_wsq_loss(backward ? a->dh : NULL, a->dec.out, x0, NULL, B, (int)n);
    } else {
        /* score */
        drl_unet_forward(&m->unet, &a->unet, P, NULL, a->xt, a->tin, a->z, a->work, B, train, rng);
        const float *lw = NULL; /* λ(t) = σ², the paper's: unit weights */
        if (c->weighting != DRL_WEIGHT_SIGMA2) {
            for (int b = 0; b < B; b++) a->lw[b] = (float)drl_sde_loss_weight(c, t[b]);
            lw = a->lw;
        }
        parts.dsm = drl_wsq_loss(backward ? a->dh : NULL, a->unet.out, a->target, lw, B, (int)n);
    }
    parts.total = parts.dsm + parts.reg;
    if (!backward) return parts;

    memset(a->dz, 0, (size_t)B * d * sizeof(float));
    if (c->mode == DRL_MODE_AE)
        drl_decoder_backward(&m->dec, &a->dec, P, G, a->z, a->dh, a->dz, a->work, B);
    else
        drl_unet_backward(&m->unet, &a->unet, P, G, a->xt, a->z, a->dh, a->dz, a->work, B);
    for (int b = 0; b < B; b++)
        if (!code_visible(c, t[b])) memset(a->dz + (size_t)b * d, 0, (size_t)d * sizeof(float));
    /* back through the reparameterisation and the regulariser to the encoder output */
    float lz = c->lambda_z / (float)B;
    for (int b = 0; b < B; b++) {
        const float *mu = eo + (size_t)b * D, *dz = a->dz + (size_t)b * d;
        float *g = a->denc + (size_t)b * D;
        for (int j = 0; j < d; j++) {
            if (c->variational) {
                float lv = mu[d + j], ez = eps_z ? eps_z[(size_t)b * d + j] : 0.0f;
                g[j] = dz[j];
                g[d + j] = dz[j] * ez * 0.5f * expf(0.5f * lv);
                if (c->reg == DRL_REG_KL) {
                    g[j] += lz * mu[j];
                    g[d + j] += lz * 0.5f * (expf(lv) - 1.0f);
                }
                if (c->reg == DRL_REG_L1) g[j] += lz * (mu[j] > 0 ? 1.0f : mu[j] < 0 ? -1.0f : 0.0f);
            } else {
                g[j] = dz[j];
                if (c->reg == DRL_REG_L1) g[j] += lz * (mu[j] > 0 ? 1.0f : mu[j] < 0 ? -1.0f : 0.0f);
            }
        }
    }
    drl_encoder_backward(&m->enc, &a->enc, P, G, x0, a->denc, a->work, B);
    return parts;
}

drl_loss_parts drl_model_loss(drl_model *m, drl_model_acts *a, const float *P, const float *x0,
                              const float *t, const float *eps, const float *eps_z, int B,
                              int backward, int train, drl_rng *rng) {
    drl_loss_parts parts = loss_into(m, a, P, m->params.grad, x0, t, eps, eps_z, B, backward, train, rng);
    if (backward) drl_params_mask_fixed_grads(&m->params);
    return parts;
}

/* ------------------------------------------------------------------ data-parallel loss */

struct drl_model_shards {
    int B, S;
    drl_model_acts *acts[DRL_MODEL_MAX_SHARDS];
    float *grad[DRL_MODEL_MAX_SHARDS];       /* per-shard gradients (when made for backward) */
    size_t total;
};

int drl_model_shard_count(int B) { return B >= 2 * DRL_MODEL_MIN_SHARD ? 2 : 1; }

drl_model_shards *drl_model_shards_create(drl_err *err, const drl_model *m, int B, int grad) {
    if (B < 1) {
        drl_errf(err, DRL_EINVAL, "shards: batch size %d", B);
        return NULL;
    }
    drl_model_shards *s = calloc(1, sizeof *s);
    if (!s) {
        drl_errf(err, DRL_ENOMEM, "shards: out of memory");
        return NULL;
    }
    s->B = B;
    s->S = drl_model_shard_count(B);
    s->total = m->params.total;
    for (int k = 0; k < s->S; k++) { /* shard k: images [B*k/S, B*(k+1)/S) */
        const int nb = (int)((long)B * (k + 1) / s->S - (long)B * k / s->S);
        s->acts[k] = drl_model_acts_create(err, m, nb, grad);
        if (grad && s->acts[k]) s->grad[k] = malloc(s->total * sizeof(float));
        if (!s->acts[k] || (grad && !s->grad[k])) {
            if (s->acts[k] && err && !err->code) drl_errf(err, DRL_ENOMEM, "shards: out of memory");
            drl_model_shards_free(s);
            return NULL;
        }
    }
    return s;
}

void drl_model_shards_free(drl_model_shards *s) {
    if (!s) return;
    for (int k = 0; k < s->S; k++) {
        drl_model_acts_free(s->acts[k]);
        free(s->grad[k]);
    }
    free(s);
}

/* Shards run side by side, one thread each (their ops then stay on that thread), when there
 * are at least as many threads as shards; otherwise one after the other with the whole team.
 * The split, every shard's arithmetic and the order of the final sums are the same either way. */
drl_loss_parts drl_model_loss_sharded(drl_model *m, drl_model_shards *s, const float *P,
                                      const float *x0, const float *t, const float *eps,
                                      const float *eps_z, int B, int backward, int train,
                                      drl_rng *rng) {
    const drl_config *c = &m->cfg;
    const size_t n = (size_t)c->C * c->H * c->W, d = (size_t)c->latent_dim;
    drl_loss_parts part[DRL_MODEL_MAX_SHARDS], sum = {0, 0, 0};
    drl_rng r[DRL_MODEL_MAX_SHARDS];
    const uint64_t base = drl_rng_u64(rng); /* dropout streams, one per shard */
    if (B > s->B || B < 1 || (backward && !s->grad[0])) return (drl_loss_parts){NAN, NAN, NAN};
    /* A smaller batch is cut the same way: its shards are no larger than the full batch's. */
    const int S = B < s->S ? B : s->S;
    int lo[DRL_MODEL_MAX_SHARDS + 1];
    for (int k = 0; k <= S; k++) lo[k] = (int)((long)B * k / S);
    for (int k = 0; k < S; k++) drl_rng_stream(&r[k], base, (uint64_t)k);
    const int par = S > 1 && drl_threads_get() >= S;
#pragma omp parallel for schedule(static, 1) num_threads(S) if (par)
    for (int k = 0; k < S; k++) {
        const int b0 = lo[k], nb = lo[k + 1] - lo[k];
        if (backward) memset(s->grad[k], 0, s->total * sizeof(float));
        part[k] = loss_into(m, s->acts[k], P, backward ? s->grad[k] : NULL, x0 + b0 * n, t + b0,
                            eps + b0 * n, eps_z ? eps_z + b0 * d : NULL, nb, backward, train, &r[k]);
    }
    /* each shard's mean weighted by its share of the batch; equal halves weigh exactly 1/2 */
    for (int k = 0; k < S; k++) {
        const double w = (double)(lo[k + 1] - lo[k]) / B;
        sum.dsm += w * part[k].dsm, sum.reg += w * part[k].reg, sum.total += w * part[k].total;
    }
    if (!backward) return sum;
    float *G = m->params.grad;
    const size_t tot = s->total;
    float wk[DRL_MODEL_MAX_SHARDS];
    for (int k = 0; k < S; k++) wk[k] = (float)(lo[k + 1] - lo[k]) / (float)B;
#pragma omp parallel for schedule(static) if (tot >= 65536)
    for (size_t i = 0; i < tot; i++) {
        float g = 0.0f;
        for (int k = 0; k < S; k++) g += wk[k] * s->grad[k][i];
        G[i] += g;
    }
    drl_params_mask_fixed_grads(&m->params);
    return sum;
}

/* ------------------------------------------------------------------------ batch embedding */

int drl_model_embed_dim(const drl_model *m, int K) { return (K > 1 ? K : 1) * m->cfg.latent_dim; }

int drl_model_embed_all(drl_err *err, const drl_model *m, const float *P, const float *images,
                        size_t N, const float *times, int K, int B, float *out) {
    const drl_config *c = &m->cfg;
    if (K >= 1 && !c->time_cond && !(K == 1 && times == NULL))
        return drl_errf(err, DRL_EINVAL, "model: a latent trajectory needs a time-conditioned encoder");
    if (B < 1) return drl_errf(err, DRL_EINVAL, "model: batch size must be >= 1");
    if ((size_t)B > N) B = (int)(N ? N : 1);
    drl_model_acts *a = drl_model_acts_create_encoder(err, m, B);
    if (!a) return err ? err->code : DRL_ENOMEM;
    int Kn = K > 1 ? K : 1, d = c->latent_dim;
    size_t n = (size_t)c->C * c->H * c->W, row = (size_t)Kn * d;
    float *tb = malloc((size_t)B * sizeof(float)), *z = malloc((size_t)B * d * sizeof(float));
    if (!tb || !z) {
        free(tb), free(z);
        drl_model_acts_free(a);
        return drl_errf(err, DRL_ENOMEM, "model: out of memory");
    }
    for (size_t i0 = 0; i0 < N; i0 += (size_t)B) {
        int nb = (int)(N - i0 < (size_t)B ? N - i0 : (size_t)B);
        for (int k = 0; k < Kn; k++) {
            float tk = times && K >= 1 ? times[k] : c->t_min;
            for (int b = 0; b < nb; b++) tb[b] = tk;
            drl_model_encode(m, a, P, images + i0 * n, tb, z, nb);
            for (int b = 0; b < nb; b++)
                memcpy(out + (i0 + (size_t)b) * row + (size_t)k * d, z + (size_t)b * d, (size_t)d * sizeof(float));
        }
    }
    free(tb), free(z);
    drl_model_acts_free(a);
    return 0;
}

/* ------------------------------------------------------------------------ sampling */

int drl_model_score_fn(void *ctx, const float *x, float t, float *score, int B) {
    drl_model_score_ctx *c = ctx;
    const drl_model *m = c->m;
    for (int b = 0; b < B; b++) c->tbuf[b] = t;
    const float *z = c->z;
    if (!z || (m->cfg.time_cond && c->x0)) {
        if (!c->x0) return DRL_EINVAL;
        drl_model_encode(m, c->acts, c->P, c->x0, c->tbuf, c->zbuf, B);
        z = c->zbuf;
    }
    drl_model_score(m, c->acts, c->P, x, c->tbuf, z, score, B);
    float inv = (float)(1.0 / drl_sde_std(&m->cfg, t));
    size_t n = (size_t)B * m->cfg.C * m->cfg.H * m->cfg.W;
    for (size_t i = 0; i < n; i++) score[i] *= inv;
    return 0;
}
