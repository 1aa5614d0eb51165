/* trainer.c — the DRL training loop with exact resume (see trainer.h). */
#include "trainer.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "rng.h"
#include "safetensors.h"
#include "sde.h"

/* Stream tags keep the data-order and per-step random streams apart. */
#define STREAM_EPOCH 0x45504f4348ull
#define STREAM_STEP 0x53544550ull

drl_train_cfg drl_train_defaults(void) {
    drl_train_cfg c;
    memset(&c, 0, sizeof c);
    c.model = drl_config_defaults();
    c.batch_size = 64;
    c.steps = 10000;
    c.adam = drl_adam_defaults();
    c.adam.warmup = 500;
    c.adam.clip = 1.0f;
    c.ema_decay = 0.999f;
    c.flip = 0;
    c.seed = 1;
    c.ckpt_every = 1000;
    c.log_every = 50;
    return c;
}

int drl_train_cfg_validate(drl_err *err, const drl_train_cfg *c) {
    int rc = drl_config_validate(err, &c->model);
    if (rc) return rc;
    if (c->batch_size < 1 || c->batch_size > 4096)
        return drl_errf(err, DRL_EINVAL, "train: batch_size %d out of range 1..4096", c->batch_size);
    if (c->steps < 1) return drl_errf(err, DRL_EINVAL, "train: steps must be >= 1");
    if (!(c->adam.lr > 0.0f && c->adam.lr < 1.0f)) return drl_errf(err, DRL_EINVAL, "train: lr must be in (0, 1)");
    if (c->adam.warmup < 0) return drl_errf(err, DRL_EINVAL, "train: warmup must be >= 0");
    if (c->adam.decay_steps < 0 || c->adam.decay_steps > c->steps)
        return drl_errf(err, DRL_EINVAL, "train: lr_decay_steps %ld out of range 0..steps (%ld)", c->adam.decay_steps, c->steps);
    if (!(c->adam.weight_decay >= 0.0f)) return drl_errf(err, DRL_EINVAL, "train: weight_decay must be >= 0");
    if (!(c->ema_decay >= 0.0f && c->ema_decay < 1.0f)) return drl_errf(err, DRL_EINVAL, "train: ema_decay must be in [0, 1)");
    if (c->ckpt_every < 0 || c->log_every < 1) return drl_errf(err, DRL_EINVAL, "train: ckpt_every >= 0 and log_every >= 1 required");
    if (!c->out[0]) return drl_errf(err, DRL_EINVAL, "train: an output path is required");
    return 0;
}

char *drl_train_cfg_to_json(const drl_train_cfg *c) {
    char *mj = drl_config_to_json(&c->model);
    json_t *m = mj ? json_loads(mj, 0, NULL) : NULL;
    free(mj);
    json_t *o = json_pack("{s:i, s:I, s:f, s:i, s:I, s:f, s:f, s:f, s:b, s:I, s:I, s:I, s:s}",
                          "batch_size", c->batch_size, "steps", (json_int_t)c->steps,
                          "lr", (double)c->adam.lr, "warmup", c->adam.warmup,
                          "lr_decay_steps", (json_int_t)c->adam.decay_steps,
                          "clip", (double)c->adam.clip, "weight_decay", (double)c->adam.weight_decay,
                          "ema_decay", (double)c->ema_decay, "flip", c->flip,
                          "seed", (json_int_t)c->seed, "ckpt_every", (json_int_t)c->ckpt_every,
                          "log_every", (json_int_t)c->log_every, "init_from", c->init_from);
    if (o && m) json_object_set_new(o, "model", m);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    return s;
}

static int num(drl_err *err, json_t *v, const char *k, double lo, double hi, double *out) {
    if (!json_is_number(v)) return drl_errf(err, DRL_EINVAL, "train: \"%s\" must be a number", k);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return drl_errf(err, DRL_EINVAL, "train: \"%s\" = %g out of range [%g, %g]", k, x, lo, hi);
    *out = x;
    return 0;
}

int drl_train_cfg_from_json(drl_err *err, const char *json, drl_train_cfg *c) {
    json_error_t je;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!o) return drl_errf(err, DRL_EFORMAT, "train config: invalid JSON at line %d: %s", je.line, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return drl_errf(err, DRL_EFORMAT, "train config: not a JSON object");
    }
    const char *k;
    json_t *v;
    int rc = 0;
    double x = 0;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "model")) {
            char *s = json_dumps(v, JSON_COMPACT);
            rc = s ? drl_config_from_json(err, s, &c->model) : drl_errf(err, DRL_ENOMEM, "out of memory");
            free(s);
        } else if (!strcmp(k, "batch_size")) { if (!(rc = num(err, v, k, 1, 4096, &x))) c->batch_size = (int)x; }
        else if (!strcmp(k, "steps")) { if (!(rc = num(err, v, k, 1, 1e12, &x))) c->steps = (long)x; }
        else if (!strcmp(k, "lr")) { if (!(rc = num(err, v, k, 1e-12, 1, &x))) c->adam.lr = (float)x; }
        else if (!strcmp(k, "warmup")) { if (!(rc = num(err, v, k, 0, 1e9, &x))) c->adam.warmup = (int)x; }
        else if (!strcmp(k, "lr_decay_steps")) { if (!(rc = num(err, v, k, 0, 1e12, &x))) c->adam.decay_steps = (long)x; }
        else if (!strcmp(k, "clip")) { if (!(rc = num(err, v, k, 0, 1e9, &x))) c->adam.clip = (float)x; }
        else if (!strcmp(k, "weight_decay")) { if (!(rc = num(err, v, k, 0, 10, &x))) c->adam.weight_decay = (float)x; }
        else if (!strcmp(k, "ema_decay")) { if (!(rc = num(err, v, k, 0, 0.999999, &x))) c->ema_decay = (float)x; }
        else if (!strcmp(k, "flip")) {
            if (!json_is_boolean(v)) rc = drl_errf(err, DRL_EINVAL, "train: \"flip\" must be a boolean");
            else c->flip = json_is_true(v);
        }
        else if (!strcmp(k, "seed")) { if (!(rc = num(err, v, k, 0, 9007199254740992.0, &x))) c->seed = (uint64_t)x; }
        else if (!strcmp(k, "ckpt_every")) { if (!(rc = num(err, v, k, 0, 1e12, &x))) c->ckpt_every = (long)x; }
        else if (!strcmp(k, "log_every")) { if (!(rc = num(err, v, k, 1, 1e12, &x))) c->log_every = (long)x; }
        else if (!strcmp(k, "init_from")) {
            if (!json_is_string(v)) rc = drl_errf(err, DRL_EINVAL, "train: \"init_from\" must be a string");
            else snprintf(c->init_from, sizeof c->init_from, "%s", json_string_value(v));
        }
        else rc = drl_errf(err, DRL_EINVAL, "train: unknown key \"%s\"", k);
        if (rc) break;
    }
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------------------ state */

typedef struct {
    drl_model *m;
    drl_model_shards *shards;
    float *adam_m, *adam_v, *ema; /* (total) */
    long step;
    float *x0, *t, *eps, *eps_z;   /* batch buffers */
    uint32_t *perm;                /* (N) current epoch's order */
    long perm_epoch;
} trainer;

static void trainer_free(trainer *T) {
    drl_model_shards_free(T->shards);
    drl_model_free(T->m);
    free(T->adam_m);
    free(T->adam_v);
    free(T->ema);
    free(T->x0);
    free(T->t);
    free(T->eps);
    free(T->eps_z);
    free(T->perm);
}

static void state_path(char *buf, size_t n, const char *out) { snprintf(buf, n, "%s.state", out); }
static void csv_path(char *buf, size_t n, const char *out) { snprintf(buf, n, "%s.csv", out); }

static int save_checkpoint(drl_err *err, const drl_train_cfg *cfg, trainer *T, const drl_dataset *ds) {
    const drl_params *p = &T->m->params;
    char steps[32], total[32], imgs[32], state[1100], shape[64];
    snprintf(steps, sizeof steps, "%ld", T->step);
    snprintf(total, sizeof total, "%ld", cfg->steps);
    snprintf(imgs, sizeof imgs, "%ld", T->step * (long)cfg->batch_size);
    snprintf(shape, sizeof shape, "[%zu,%d,%d,%d]", ds->N, ds->C, ds->H, ds->W);
    /* Record the model that is trained: with init_from its architecture is the base model's,
     * not the flags' (which it ignores). */
    drl_train_cfg rec = *cfg;
    rec.model = T->m->cfg;
    char *tj = drl_train_cfg_to_json(&rec);
    if (!tj) return drl_errf(err, DRL_ENOMEM, "out of memory");
    const char *meta[] = {"drl.train", tj, "drl.step", steps, "drl.images_seen", imgs,
                          "drl.dataset_shape", shape};
    /* The state first: if we die between the two writes, resume still finds a consistent pair. */
    int64_t n = (int64_t)p->total;
    drl_st_entry ents[4] = {{"params", p->data, 1, &n}, {"adam_m", T->adam_m, 1, &n},
                            {"adam_v", T->adam_v, 1, &n}, {"ema", T->ema, 1, &n}};
    const char *smeta[] = {"drl.step", steps, "drl.train", tj};
    state_path(state, sizeof state, cfg->out);
    int rc = drl_safetensors_save(err, state, ents, 4, smeta, 2);
    if (!rc) rc = drl_model_save(err, T->m, cfg->out, T->ema, meta, 4);
    (void)total;
    free(tj);
    return rc;
}

static int load_state(drl_err *err, const drl_train_cfg *cfg, trainer *T) {
    char state[1100];
    state_path(state, sizeof state, cfg->out);
    if (access(state, F_OK) != 0) return 1; /* nothing to resume */
    drl_safetensors *st = NULL;
    int rc = drl_safetensors_load(err, state, 0, &st);
    if (rc) return rc;
    const char *names[4] = {"params", "adam_m", "adam_v", "ema"};
    float *dst[4] = {T->m->params.data, T->adam_m, T->adam_v, T->ema};
    for (int i = 0; i < 4 && !rc; i++) {
        const drl_st_tensor *t = drl_safetensors_find(st, names[i]);
        if (!t || t->numel != T->m->params.total)
            rc = drl_errf(err, DRL_EFORMAT, "%s: tensor \"%s\" missing or of the wrong size for this model", state, names[i]);
        else
            memcpy(dst[i], t->data, t->numel * sizeof(float));
    }
    const char *s = drl_safetensors_meta(st, "drl.step");
    if (!rc && (!s || sscanf(s, "%ld", &T->step) != 1 || T->step < 0))
        rc = drl_errf(err, DRL_EFORMAT, "%s: missing or bad drl.step", state);
    drl_safetensors_free(st);
    return rc;
}

/* Keeps the loss-curve rows of steps <= step (after a resume the tail is recomputed). */
static void csv_truncate(const char *path, long step) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.trunc", path);
    FILE *g = fopen(tmp, "w");
    if (!g) {
        fclose(f);
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        long s;
        if (sscanf(line, "%ld,", &s) == 1 && s > step) continue;
        fputs(line, g);
    }
    fclose(f);
    fclose(g);
    rename(tmp, path);
}

/* ------------------------------------------------------------------------ batches */

static void fill_batch(const drl_train_cfg *cfg, trainer *T, const drl_dataset *ds, drl_rng *rng) {
    int B = cfg->batch_size, C = ds->C, H = ds->H, W = ds->W;
    size_t n = (size_t)C * H * W, N = ds->N;
    for (int b = 0; b < B; b++) {
        uint64_t g = (uint64_t)T->step * (uint64_t)B + (uint64_t)b;
        long epoch = (long)(g / N);
        if (epoch != T->perm_epoch) {
            drl_rng er;
            drl_rng_stream(&er, cfg->seed ^ STREAM_EPOCH, (uint64_t)epoch);
            for (size_t i = 0; i < N; i++) T->perm[i] = (uint32_t)i;
            drl_rng_shuffle(&er, T->perm, N);
            T->perm_epoch = epoch;
        }
        const float *src = ds->images + (size_t)T->perm[g % N] * n;
        float *dst = T->x0 + (size_t)b * n;
        int flip = cfg->flip && drl_rng_uniform(rng) < 0.5f;
        if (!flip) {
            memcpy(dst, src, n * sizeof(float));
        } else {
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++)
                        dst[((size_t)c * H + y) * W + x] = src[((size_t)c * H + y) * W + (W - 1 - x)];
        }
        T->t[b] = (float)drl_sde_sample_t(&T->m->cfg, rng);
    }
    drl_rng_normal_fill(rng, T->eps, (size_t)B * n);
    if (T->m->cfg.variational) drl_rng_normal_fill(rng, T->eps_z, (size_t)B * T->m->cfg.latent_dim);
}

/* The optimiser settings of a run: its cooldown ends with the run. */
static drl_adam_cfg adam_of(const drl_train_cfg *cfg) {
    drl_adam_cfg a = cfg->adam;
    a.decay_end = cfg->steps;
    return a;
}

/* One optimiser update over the trainable tensors; returns the gradient norm before clipping. */
static double optimise(const drl_train_cfg *cfg, trainer *T) {
    drl_params *p = &T->m->params;
    double norm = drl_grad_norm(p->grad, p->total);
    if (cfg->adam.clip > 0.0f && norm > cfg->adam.clip) {
        float s = (float)(cfg->adam.clip / (norm + 1e-6));
        for (size_t i = 0; i < p->total; i++) p->grad[i] *= s;
    }
    drl_adam_cfg ac = adam_of(cfg);
    ac.clip = 0.0f; /* clipped above, over all tensors at once */
    for (size_t i = 0; i < p->n; i++) {
        const drl_param_spec *s = &p->specs[i];
        if (!s->trainable) continue;
        drl_adam_step(&ac, p->data + s->offset, p->grad + s->offset, T->adam_m + s->offset,
                      T->adam_v + s->offset, s->numel, T->step);
    }
    drl_ema_update(T->ema, p->data, p->total, drl_ema_decay_at(cfg->ema_decay, T->step));
    return norm;
}

/* ------------------------------------------------------------------------ the loop */

void drl_train_eta_add(drl_train_eta *e, double images, double seconds) {
    double r = images / (seconds > 1e-9 ? seconds : 1e-9);
    e->rate = e->rate > 0.0 ? 0.7 * e->rate + 0.3 * r : r;
}

double drl_train_eta_seconds(const drl_train_eta *e, double images) {
    return e->rate > 0.0 ? images / e->rate : 0.0;
}

static int trainer_setup(drl_err *err, const drl_train_cfg *cfg, const drl_dataset *ds, trainer *T) {
    drl_config mc = cfg->model;
    int rc;
    if (cfg->init_from[0]) {
        rc = drl_model_load(err, cfg->init_from, &T->m);
        if (rc) return rc;
        /* Architecture from the base model; the method's training distribution from cfg. */
        drl_config *bc = &T->m->cfg;
        bc->sde = mc.sde;
        bc->t_min = mc.t_min;
        bc->t_max = mc.t_max;
        bc->tdist = mc.tdist;
        bc->code_t_min = mc.code_t_min;
        bc->code_t_max = mc.code_t_max;
        bc->weighting = mc.weighting;
        bc->snr_gamma = mc.snr_gamma;
        bc->lambda_z = mc.lambda_z;
        if (bc->variational || mc.reg != DRL_REG_KL) bc->reg = mc.reg;
        if ((rc = drl_config_validate(err, bc))) return rc;
    } else {
        rc = drl_model_create(err, &mc, cfg->seed, &T->m);
        if (rc) return rc;
    }
    const drl_config *c = &T->m->cfg;
    if (ds->C != c->C || ds->H != c->H || ds->W != c->W)
        return drl_errf(err, DRL_EINVAL, "train: dataset images are %dx%dx%d but the model expects %dx%dx%d",
                        ds->C, ds->H, ds->W, c->C, c->H, c->W);
    if (ds->N < 1) return drl_errf(err, DRL_EINVAL, "train: the dataset is empty");
    size_t tot = T->m->params.total, B = (size_t)cfg->batch_size, n = (size_t)c->C * c->H * c->W;
    T->shards = drl_model_shards_create(err, T->m, cfg->batch_size, 1);
    T->adam_m = calloc(tot, sizeof(float));
    T->adam_v = calloc(tot, sizeof(float));
    T->ema = malloc(tot * sizeof(float));
    T->x0 = malloc(B * n * sizeof(float));
    T->t = malloc(B * sizeof(float));
    T->eps = malloc(B * n * sizeof(float));
    T->eps_z = malloc(B * (size_t)c->latent_dim * sizeof(float));
    T->perm = malloc(ds->N * sizeof(uint32_t));
    if (!T->shards || !T->adam_m || !T->adam_v || !T->ema || !T->x0 || !T->t || !T->eps || !T->eps_z || !T->perm)
        return err && err->code ? err->code : drl_errf(err, DRL_ENOMEM, "train: out of memory");
    memcpy(T->ema, T->m->params.data, tot * sizeof(float));
    T->perm_epoch = -1;
    return 0;
}

int drl_train_run(drl_err *err, const drl_train_cfg *cfg, const drl_dataset *ds, int resume,
                  volatile sig_atomic_t *stop, drl_train_progress_fn fn, void *user) {
    int rc = drl_train_cfg_validate(err, cfg);
    if (rc) return rc;
    trainer T;
    memset(&T, 0, sizeof T);
    rc = trainer_setup(err, cfg, ds, &T);
    if (!rc && resume) {
        rc = load_state(err, cfg, &T);
        if (rc == 1) rc = 0; /* no state yet: start fresh */
    }
    char csv[1100];
    csv_path(csv, sizeof csv, cfg->out);
    FILE *curve = NULL;
    if (!rc) {
        if (T.step > 0) csv_truncate(csv, T.step);
        curve = fopen(csv, T.step > 0 ? "a" : "w");
        if (!curve) rc = drl_errf(err, DRL_EIO, "%s: %s", csv, strerror(errno));
        else if (T.step == 0) fprintf(curve, "step,loss,dsm,reg,grad_norm,lr,img_per_s\n");
    }
    double acc = 0, acc_dsm = 0, acc_reg = 0, acc_norm = 0, t0 = drl_clock_now_s();
    long acc_n = 0;
    drl_train_eta eta = {0};
    int B = cfg->batch_size;
    const drl_adam_cfg adam = adam_of(cfg); /* the lr reported with each row */
    while (!rc && T.step < cfg->steps) {
        drl_rng rng;
        drl_rng_stream(&rng, cfg->seed ^ STREAM_STEP, (uint64_t)T.step);
        fill_batch(cfg, &T, ds, &rng);
        drl_params_zero_grad(&T.m->params);
        drl_loss_parts lp = drl_model_loss_sharded(T.m, T.shards, T.m->params.data, T.x0, T.t, T.eps,
                                                   T.m->cfg.variational ? T.eps_z : NULL, B, 1, 1, &rng);
        if (!isfinite(lp.total)) {
            rc = drl_errf(err, DRL_EINVAL, "train: loss became %g at step %ld (try a lower lr)", lp.total, T.step);
            break;
        }
        double norm = optimise(cfg, &T);
        T.step++;
        acc += lp.total, acc_dsm += lp.dsm, acc_reg += lp.reg, acc_norm += norm, acc_n++;
        int stopping = stop && *stop;
        int report = T.step % cfg->log_every == 0 || T.step == cfg->steps || stopping;
        if (report && acc_n > 0) {
            double t1 = drl_clock_now_s();
            drl_train_progress pr = {
                .step = T.step, .total = cfg->steps, .loss = acc / acc_n, .dsm = acc_dsm / acc_n,
                .reg = acc_reg / acc_n, .grad_norm = acc_norm / acc_n,
                .lr = drl_adam_lr_at(&adam, T.step - 1),
                .img_per_s = acc_n * B / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9)};
            drl_train_eta_add(&eta, (double)acc_n * B, t1 - t0);
            pr.eta_s = drl_train_eta_seconds(&eta, (double)(cfg->steps - T.step) * B);
            fprintf(curve, "%ld,%.6g,%.6g,%.6g,%.6g,%.6g,%.1f\n", pr.step, pr.loss, pr.dsm, pr.reg,
                    pr.grad_norm, pr.lr, pr.img_per_s);
            fflush(curve);
            if (fn && fn(user, &pr)) stopping = 1;
            acc = acc_dsm = acc_reg = acc_norm = 0;
            acc_n = 0;
            t0 = t1;
        }
        int ckpt = (cfg->ckpt_every > 0 && T.step % cfg->ckpt_every == 0) || T.step == cfg->steps || stopping;
        if (ckpt) rc = save_checkpoint(err, cfg, &T, ds);
        if (!rc && stopping && T.step < cfg->steps) {
            rc = drl_errf(err, DRL_ECANCELLED, "stopped at step %ld; checkpoint saved", T.step);
        }
    }
    if (curve) fclose(curve);
    trainer_free(&T);
    return rc;
}
