/* job.c — training-job spec parsing (see job.h). */
#include "job.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

int drl_proto_valid_id(const char *id) {
    size_t n = strlen(id);
    if (n < 1 || n > 63) return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')) return 0;
    return 1;
}

static int get_id(drl_proto_error *e, const json_t *v, const char *field, char *out, size_t cap) {
    const char *s;
    size_t len;
    if (drl_proto_json_string(e, v, field, &s, &len)) return -1;
    if (len >= cap || strlen(s) != len || !drl_proto_valid_id(s))
        return drl_proto_errorf(e, 422, "invalid_input", "%s: '%.80s' is not an id (1-63 of [A-Za-z0-9-])", field, s);
    memcpy(out, s, len + 1);
    return 0;
}

/* [a, b] with lo < a < b <= 1 (lo_open) or lo <= a < b <= 1, as field. */
static int get_range(drl_proto_error *e, json_t *v, const char *field, int lo_open, float *a, float *b) {
    size_t cnt;
    char f0[40], f1[40];
    snprintf(f0, sizeof f0, "%s[0]", field);
    snprintf(f1, sizeof f1, "%s[1]", field);
    int rc = drl_proto_json_array(e, v, field, &cnt);
    if (!rc && cnt != 2) rc = drl_proto_errorf(e, 422, "invalid_input", "%s: expected [min, max], got %zu numbers", field, cnt);
    if (!rc) rc = drl_proto_json_float(e, json_array_get(v, 0), f0, 0.0f, 1.0f, lo_open, a);
    if (!rc) rc = drl_proto_json_float(e, json_array_get(v, 1), f1, 0.0f, 1.0f, 1, b);
    if (!rc && !(*a < *b)) rc = drl_proto_errorf(e, 422, "invalid_input", "%s: %g must be below %g", field, *a, *b);
    return rc;
}

/* *out = the index of v's string among names[0 .. n-1] (its enum value); anything else is a
 * 422 naming the field and every choice. */
static int get_choice(drl_proto_error *e, json_t *v, const char *field, const char *const *names, int n, int *out) {
    const char *s;
    size_t len;
    int rc = drl_proto_json_string(e, v, field, &s, &len);
    if (rc) return rc;
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? (i == n - 1 ? " or " : ", ") : "", names[i]);
    return drl_proto_errorf(e, 422, "invalid_input", "%s: unknown \"%.40s\" (use %s)", field, s, list);
}

static const char *const weighting_names[] = {"sigma2", "min_snr", "truncated_snr"}; /* drl_weighting */
static const char *const sde_names[] = {"ve", "vp"};                                   /* drl_sde */

int drl_proto_job_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                        drl_proto_job_spec *out) {
    static const char *const types[] = {"application/json"};
    static const char *const keys[] = {"dataset", "base_model", "name", "steps", "batch_size", "lr", "warmup",
                                       "clip", "flip", "seed", "t_range", "sde", "latent_dim", "time_cond",
                                       "ckpt_every", "log_every", "code_t_range", "weighting", "snr_gamma",
                                       "lr_decay_steps", NULL};
    memset(out, 0, sizeof *out);
    out->steps = 1000, out->batch_size = 64, out->warmup = -1, out->clip = 1.0f, out->sde = -1;
    out->weighting = -1;
    if (drl_proto_media_pick(e, media, types, 1) < 0) return -1;
    json_t *o = drl_proto_json_load(e, body, n);
    if (!o) return -1;
    int rc = drl_proto_json_keys(e, o, "", keys);
    json_t *v;
    long long i;
    if (!rc) {
        if (!(v = json_object_get(o, "dataset"))) rc = drl_proto_errorf(e, 422, "invalid_input", "dataset: required (the id from POST /v1/datasets)");
        else rc = get_id(e, v, "dataset", out->dataset, sizeof out->dataset);
    }
    if (!rc && (v = json_object_get(o, "base_model"))) {
        const char *s;
        if (json_is_null(v)) out->base = DRL_JOB_BASE_SCRATCH;
        else if (json_is_string(v) && !strcmp((s = json_string_value(v)), "current")) out->base = DRL_JOB_BASE_CURRENT;
        else if (!(rc = get_id(e, v, "base_model", out->base_job, sizeof out->base_job))) out->base = DRL_JOB_BASE_JOB;
        if (rc) snprintf(e->message, sizeof e->message, "base_model: use \"current\", null (from scratch) or the id of a finished job");
    }
    if (!rc && (v = json_object_get(o, "name"))) {
        const char *s;
        size_t len;
        if (!(rc = drl_proto_json_string(e, v, "name", &s, &len))) {
            if (len >= sizeof out->name) rc = drl_proto_errorf(e, 422, "invalid_input", "name: at most %zu characters", sizeof out->name - 1);
            else snprintf(out->name, sizeof out->name, "%s", s);
        }
    }
    if (!rc && (v = json_object_get(o, "steps")) && !(rc = drl_proto_json_int(e, v, "steps", 1, 10000000, &i))) out->steps = (long)i;
    if (!rc && (v = json_object_get(o, "batch_size")) && !(rc = drl_proto_json_int(e, v, "batch_size", 1, 1024, &i))) out->batch_size = (int)i;
    if (!rc && (v = json_object_get(o, "lr"))) rc = drl_proto_json_float(e, v, "lr", 0.0f, 1.0f, 1, &out->lr);
    if (!rc && (v = json_object_get(o, "warmup")) && !(rc = drl_proto_json_int(e, v, "warmup", 0, 10000000, &i))) out->warmup = (int)i;
    if (!rc && (v = json_object_get(o, "lr_decay_steps")) && !(rc = drl_proto_json_int(e, v, "lr_decay_steps", 0, 10000000, &i))) out->lr_decay_steps = (long)i;
    if (!rc && out->lr_decay_steps > out->steps)
        rc = drl_proto_errorf(e, 422, "invalid_input", "lr_decay_steps: %ld is more than steps (%ld)", out->lr_decay_steps, out->steps);
    if (!rc && (v = json_object_get(o, "clip"))) rc = drl_proto_json_float(e, v, "clip", 0.0f, 1e6f, 0, &out->clip);
    if (!rc && (v = json_object_get(o, "flip"))) rc = drl_proto_json_bool(e, v, "flip", &out->flip);
    if (!rc && (v = json_object_get(o, "seed")) && !(rc = drl_proto_json_int(e, v, "seed", 0, 9007199254740992LL, &i))) out->seed = (uint64_t)i;
    if (!rc && (v = json_object_get(o, "t_range"))) out->has_t_range = !(rc = get_range(e, v, "t_range", 1, &out->t_min, &out->t_max));
    if (!rc && (v = json_object_get(o, "code_t_range")))
        out->has_code_t_range = !(rc = get_range(e, v, "code_t_range", 0, &out->code_t_min, &out->code_t_max));
    if (!rc && (v = json_object_get(o, "weighting"))) rc = get_choice(e, v, "weighting", weighting_names, 3, &out->weighting);
    if (!rc && (v = json_object_get(o, "snr_gamma"))) rc = drl_proto_json_float(e, v, "snr_gamma", 0.0f, 1e6f, 1, &out->snr_gamma);
    if (!rc && (v = json_object_get(o, "sde"))) rc = get_choice(e, v, "sde", sde_names, 2, &out->sde);
    if (!rc && (v = json_object_get(o, "latent_dim")) && !(rc = drl_proto_json_int(e, v, "latent_dim", 1, 4096, &i))) out->latent_dim = (int)i;
    if (!rc && (v = json_object_get(o, "time_cond"))) rc = drl_proto_json_bool(e, v, "time_cond", &out->time_cond);
    if (!rc && (v = json_object_get(o, "ckpt_every")) && !(rc = drl_proto_json_int(e, v, "ckpt_every", 0, 10000000, &i))) out->ckpt_every = (long)i;
    if (!rc && (v = json_object_get(o, "log_every")) && !(rc = drl_proto_json_int(e, v, "log_every", 1, 10000000, &i))) out->log_every = (long)i;
    if (!rc && out->base != DRL_JOB_BASE_SCRATCH && (json_object_get(o, "latent_dim") || json_object_get(o, "time_cond")))
        rc = drl_proto_errorf(e, 422, "invalid_input", "%s: only for training from scratch (\"base_model\": null); fine-tuning keeps the base model's architecture",
                              json_object_get(o, "latent_dim") ? "latent_dim" : "time_cond");
    json_decref(o);
    if (rc) return -1;
    /* defaults that depend on other fields */
    if (out->lr == 0.0f) out->lr = out->base == DRL_JOB_BASE_SCRATCH ? 3e-4f : 1e-4f;
    if (out->warmup < 0) out->warmup = (int)(out->steps / 10 < 100 ? out->steps / 10 : 100);
    if (out->ckpt_every == 0) out->ckpt_every = out->steps / 10 > 10 ? out->steps / 10 : 10;
    if (out->log_every == 0) out->log_every = out->steps / 200 > 1 ? out->steps / 200 : 1;
    if (out->base == DRL_JOB_BASE_SCRATCH && out->latent_dim == 0) out->latent_dim = 128;
    return 0;
}

char *drl_proto_job_spec_json(const drl_proto_job_spec *s) {
    json_t *o = json_object();
    json_object_set_new(o, "dataset", json_string(s->dataset));
    json_object_set_new(o, "base_model", s->base == DRL_JOB_BASE_SCRATCH ? json_null()
                                         : json_string(s->base == DRL_JOB_BASE_CURRENT ? "current" : s->base_job));
    if (s->name[0]) json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "steps", json_integer(s->steps));
    json_object_set_new(o, "batch_size", json_integer(s->batch_size));
    json_object_set_new(o, "lr", json_real(s->lr));
    json_object_set_new(o, "warmup", json_integer(s->warmup));
    json_object_set_new(o, "lr_decay_steps", json_integer(s->lr_decay_steps));
    json_object_set_new(o, "clip", json_real(s->clip));
    json_object_set_new(o, "flip", json_boolean(s->flip));
    json_object_set_new(o, "seed", json_integer((json_int_t)s->seed));
    if (s->has_t_range) json_object_set_new(o, "t_range", json_pack("[f, f]", (double)s->t_min, (double)s->t_max));
    if (s->sde >= 0) json_object_set_new(o, "sde", json_string(sde_names[s->sde]));
    if (s->has_code_t_range)
        json_object_set_new(o, "code_t_range", json_pack("[f, f]", (double)s->code_t_min, (double)s->code_t_max));
    if (s->weighting >= 0) json_object_set_new(o, "weighting", json_string(weighting_names[s->weighting]));
    if (s->snr_gamma > 0.0f) json_object_set_new(o, "snr_gamma", json_real(s->snr_gamma));
    if (s->base == DRL_JOB_BASE_SCRATCH) {
        json_object_set_new(o, "latent_dim", json_integer(s->latent_dim));
        json_object_set_new(o, "time_cond", json_boolean(s->time_cond));
    }
    json_object_set_new(o, "ckpt_every", json_integer(s->ckpt_every));
    json_object_set_new(o, "log_every", json_integer(s->log_every));
    char *r = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(o);
    return r;
}
