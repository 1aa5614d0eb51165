/* jobs.c — file-backed training jobs and the worker (see jobs.h). */
#include "jobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "datasets.h"
#include "fileio.h"
#include "job.h"
#include "server.h"
#include "sha256.h"
#include "threads.h"
#include "trainer.h"

#define CURVE_MAX 200 /* points kept in job.json; halved by dropping every other one when full */

struct drl_jobs {
    drl_jobs_cfg cfg;
    char *work_dir, *models_dir, *served_name;
    pthread_mutex_t mu;       /* serialises this process's job.json read-modify-writes */
    pthread_cond_t cv;        /* a job was queued here, or stop */
    int stop;
    volatile sig_atomic_t train_stop;
    int lock_fd;              /* worker lock, -1 while not the worker */
    pthread_t thread;
    int started;
};

static void iso_now(char *buf, size_t cap) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int path_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_fmt(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int mkdir_p(const char *path) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- job.json ---------------------------------------------------------------------------- */

static json_t *job_read(drl_jobs *j, const char *id) {
    char p[PATH_MAX];
    if (!drl_proto_valid_id(id) || path_fmt(p, sizeof p, "%s/jobs/%s/job.json", j->work_dir, id)) return NULL;
    return json_load_file(p, 0, NULL);
}

static int job_write(drl_err *err, drl_jobs *j, const char *id, json_t *o) {
    char p[PATH_MAX];
    if (path_fmt(p, sizeof p, "%s/jobs/%s/job.json", j->work_dir, id)) return drl_errf(err, DRL_EINVAL, "path too long");
    char *text = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(7));
    if (!text) return drl_errf(err, DRL_ENOMEM, "out of memory");
    int rc = drl_file_write_atomic(err, p, text, strlen(text));
    free(text);
    return rc;
}

static int cancel_requested(drl_jobs *j, const char *id) {
    char p[PATH_MAX];
    return !path_fmt(p, sizeof p, "%s/jobs/%s/cancel", j->work_dir, id) && file_exists(p);
}

static const char *state_of(json_t *o) {
    const char *s = json_string_value(json_object_get(o, "state"));
    return s ? s : "unknown";
}

/* The state a client sees: a queued job with a cancel request is already cancelled. */
static void present(drl_jobs *j, json_t *o) {
    const char *id = json_string_value(json_object_get(o, "id"));
    if (id && !strcmp(state_of(o), "queued") && cancel_requested(j, id)) json_object_set_new(o, "state", json_string("cancelled"));
    if (id && !strcmp(state_of(o), "running") && cancel_requested(j, id)) json_object_set_new(o, "cancel_requested", json_true());
}

static int answer(json_t *o, char **json, size_t *len) {
    *json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(7));
    *len = *json ? strlen(*json) : 0;
    return *json ? 0 : -1;
}

/* ---- create -------------------------------------------------------------------------------- */

static void new_id(char out[40]) {
    uint64_t r = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &r, sizeof r) != (ssize_t)sizeof r) r = (uint64_t)clock() ^ ((uint64_t)getpid() << 20);
    if (fd >= 0) close(fd);
    /* time first, so ids sort by creation */
    snprintf(out, 40, "job-%010llx-%08llx", (unsigned long long)time(NULL), (unsigned long long)(r & 0xffffffffu));
}

/* Dataset meta.json → count and shape; 404 for an unknown id. */
static int dataset_shape(drl_proto_error *e, drl_jobs *j, const char *id, long *count, int shape[3]) {
    drl_err err = {0};
    char *text = NULL;
    int rc = drl_datasets_meta(&err, j->work_dir, id, &text);
    if (rc == DRL_ENOTFOUND || rc == DRL_EINVAL) return drl_proto_errorf(e, 404, "not_found", "dataset: no dataset '%s' (upload one with POST /v1/datasets)", id);
    if (rc) return drl_proto_errorf(e, 500, "internal", "dataset %s: %s", id, err.msg);
    json_t *m = json_loads(text, 0, NULL);
    free(text);
    json_t *sh = m ? json_object_get(m, "shape") : NULL;
    if (!sh || json_array_size(sh) != 3) {
        json_decref(m);
        return drl_proto_errorf(e, 500, "internal", "dataset %s: meta.json has no shape", id);
    }
    for (int i = 0; i < 3; i++) shape[i] = (int)json_integer_value(json_array_get(sh, (size_t)i));
    *count = (long)json_integer_value(json_object_get(m, "count"));
    json_decref(m);
    return 0;
}

/* The base model of a spec: its file and config. */
static int resolve_base(drl_proto_error *e, drl_jobs *j, const drl_proto_job_spec *s, char *path, size_t cap,
                        char version[13], drl_config *cfg) {
    if (s->base == DRL_JOB_BASE_SCRATCH) return 0;
    if (s->base == DRL_JOB_BASE_CURRENT) {
        drl_served *sv = drl_registry_acquire(j->cfg.reg);
        if (!sv) return drl_proto_errorf(e, 503, "not_ready", "no model is being served to fine-tune");
        snprintf(path, cap, "%s", sv->path);
        snprintf(version, 13, "%s", sv->version);
        *cfg = sv->m->cfg;
        drl_registry_release(j->cfg.reg, sv);
        return 0;
    }
    json_t *o = job_read(j, s->base_job);
    if (!o) return drl_proto_errorf(e, 404, "not_found", "base_model: no job '%s'", s->base_job);
    int ok = !strcmp(state_of(o), "succeeded");
    json_decref(o);
    if (!ok) return drl_proto_errorf(e, 422, "invalid_input", "base_model: job '%s' has not succeeded", s->base_job);
    if (path_fmt(path, cap, "%s/jobs/%s/model.safetensors", j->work_dir, s->base_job))
        return drl_proto_errorf(e, 500, "internal", "path too long");
    drl_err err = {0};
    drl_model *m = NULL;
    if (drl_model_load(&err, path, &m)) return drl_proto_errorf(e, 422, "invalid_input", "base_model: %s", err.msg);
    *cfg = m->cfg;
    drl_model_free(m);
    char hex[65];
    if (!drl_sha256_file(&err, path, hex)) snprintf(version, 13, "%.12s", hex);
    return 0;
}

int drl_jobs_create(drl_proto_error *e, drl_jobs *j, const char *media, const uint8_t *body, size_t n,
                    int *status, char **json, size_t *len) {
    drl_proto_job_spec s;
    if (drl_proto_job_parse(e, media, body, n, &s)) return -1;
    long count = 0;
    int shape[3] = {0, 0, 0};
    if (dataset_shape(e, j, s.dataset, &count, shape)) return -1;
    char base_path[PATH_MAX] = "", base_version[13] = "";
    drl_config mc = drl_config_defaults();
    if (resolve_base(e, j, &s, base_path, sizeof base_path, base_version, &mc)) return -1;
    if (s.base == DRL_JOB_BASE_SCRATCH) {
        mc.C = shape[0], mc.H = shape[1], mc.W = shape[2];
        mc.latent_dim = s.latent_dim;
        mc.time_cond = s.time_cond;
        if (s.sde >= 0) mc.sde = (drl_sde_kind)s.sde;
    } else {
        if (mc.C != shape[0] || mc.H != shape[1] || mc.W != shape[2])
            return drl_proto_errorf(e, 422, "invalid_input", "dataset: images are %dx%dx%d (CxHxW) but the base model takes %dx%dx%d",
                                    shape[0], shape[1], shape[2], mc.C, mc.H, mc.W);
        if (s.sde >= 0 && (int)mc.sde != s.sde)
            return drl_proto_errorf(e, 422, "invalid_input", "sde: the base model uses the %s SDE; fine-tuning cannot change it", drl_sde_name(mc.sde));
        if (mc.mode != DRL_MODE_DRL) return drl_proto_errorf(e, 422, "invalid_input", "base_model: an autoencoder-baseline model cannot be fine-tuned here");
    }
    if (s.has_t_range) mc.t_min = s.t_min, mc.t_max = s.t_max;
    if (s.has_code_t_range) mc.code_t_min = s.code_t_min, mc.code_t_max = s.code_t_max;
    if (s.weighting >= 0) mc.weighting = (drl_weighting)s.weighting;
    if (s.snr_gamma > 0.0f) mc.snr_gamma = s.snr_gamma;
    drl_err err = {0};
    if (drl_config_validate(&err, &mc)) return drl_proto_errorf(e, 422, "invalid_input", "%s", err.msg);

    char id[40], dir[PATH_MAX], when[32];
    new_id(id);
    iso_now(when, sizeof when);
    if (path_fmt(dir, sizeof dir, "%s/jobs/%s", j->work_dir, id) || mkdir_p(dir))
        return drl_proto_errorf(e, 500, "internal", "cannot create the job directory under %s: %s", j->work_dir, strerror(errno));
    char *spec = drl_proto_job_spec_json(&s);
    char *cfg_json = drl_config_to_json(&mc);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "state", json_string("queued"));
    json_object_set_new(o, "created", json_string(when));
    json_object_set_new(o, "spec", spec ? json_loads(spec, 0, NULL) : json_null());
    json_object_set_new(o, "model_config", cfg_json ? json_loads(cfg_json, 0, NULL) : json_null());
    json_object_set_new(o, "base_model", s.base == DRL_JOB_BASE_SCRATCH ? json_null()
                        : json_pack("{s:s, s:s}", "path", base_path, "version", base_version));
    json_object_set_new(o, "dataset", json_pack("{s:s, s:I, s:[i,i,i]}", "id", s.dataset, "count", (json_int_t)count,
                                                "shape", shape[0], shape[1], shape[2]));
    json_object_set_new(o, "step", json_integer(0));
    json_object_set_new(o, "steps", json_integer(s.steps));
    json_object_set_new(o, "progress", json_real(0));
    json_object_set_new(o, "curve", json_array());
    json_object_set_new(o, "resume", json_false());
    free(spec), free(cfg_json);
    pthread_mutex_lock(&j->mu);
    int rc = job_write(&err, j, id, o);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (rc) {
        json_decref(o);
        return drl_proto_errorf(e, 500, "internal", "writing the job: %s", err.msg);
    }
    *status = 202;
    rc = answer(o, json, len);
    json_decref(o);
    return rc ? drl_proto_errorf(e, 500, "internal", "out of memory") : 0;
}

/* ---- read routes ------------------------------------------------------------------------- */

int drl_jobs_get(drl_proto_error *e, drl_jobs *j, const char *id, char **json, size_t *len) {
    if (!drl_proto_valid_id(id)) return drl_proto_errorf(e, 404, "not_found", "no job '%.80s'", id);
    json_t *o = job_read(j, id);
    if (!o) return drl_proto_errorf(e, 404, "not_found", "no job '%s'", id);
    present(j, o);
    int rc = answer(o, json, len);
    json_decref(o);
    return rc ? drl_proto_errorf(e, 500, "internal", "out of memory") : 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int drl_jobs_list(drl_proto_error *e, drl_jobs *j, char **json, size_t *len) {
    char p[PATH_MAX];
    path_fmt(p, sizeof p, "%s/jobs", j->work_dir);
    json_t *arr = json_array();
    DIR *d = opendir(p);
    char **ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!drl_proto_valid_id(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(ids, cap * sizeof *ids);
            if (!t) break;
            ids = t;
        }
        ids[n++] = strdup(de->d_name);
    }
    if (d) closedir(d);
    if (n) qsort(ids, n, sizeof *ids, cmp_str);
    for (size_t i = 0; i < n; i++) {
        json_t *o = ids[i] ? job_read(j, ids[i]) : NULL;
        free(ids[i]);
        if (!o) continue;
        present(j, o);
        json_object_del(o, "curve"); /* the list is a summary; GET one job for its curve */
        json_array_append_new(arr, o);
    }
    free(ids);
    json_t *o = json_pack("{s:o}", "jobs", arr);
    int rc = answer(o, json, len);
    json_decref(o);
    return rc ? drl_proto_errorf(e, 500, "internal", "out of memory") : 0;
}

/* ---- cancel / resume ------------------------------------------------------------------------ */

int drl_jobs_cancel(drl_proto_error *e, drl_jobs *j, const char *id, int *status, char **json, size_t *len) {
    pthread_mutex_lock(&j->mu);
    json_t *o = drl_proto_valid_id(id) ? job_read(j, id) : NULL;
    int rc = 0;
    if (!o) {
        rc = drl_proto_errorf(e, 404, "not_found", "no job '%.80s'", id);
    } else {
        const char *st = state_of(o);
        if (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled")) {
            rc = drl_proto_errorf(e, 409, "conflict", "job %s has already %s", id, st);
        } else {
            char p[PATH_MAX];
            path_fmt(p, sizeof p, "%s/jobs/%s/cancel", j->work_dir, id);
            int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) rc = drl_proto_errorf(e, 500, "internal", "cannot record the cancel: %s", strerror(errno));
            else close(fd);
            if (!rc && !strcmp(st, "interrupted")) { /* nobody runs it: settle it here */
                drl_err err = {0};
                json_object_set_new(o, "state", json_string("cancelled"));
                if (job_write(&err, j, id, o)) rc = drl_proto_errorf(e, 500, "internal", "%s", err.msg);
            }
        }
    }
    pthread_mutex_unlock(&j->mu);
    if (!rc) {
        present(j, o);
        *status = 202;
        rc = answer(o, json, len) ? drl_proto_errorf(e, 500, "internal", "out of memory") : 0;
    }
    json_decref(o);
    return rc;
}

int drl_jobs_resume(drl_proto_error *e, drl_jobs *j, const char *id, int *status, char **json, size_t *len) {
    pthread_mutex_lock(&j->mu);
    json_t *o = drl_proto_valid_id(id) ? job_read(j, id) : NULL;
    int rc = 0;
    char p[PATH_MAX];
    if (!o) {
        rc = drl_proto_errorf(e, 404, "not_found", "no job '%.80s'", id);
    } else {
        present(j, o);
        const char *st = state_of(o);
        path_fmt(p, sizeof p, "%s/jobs/%s/model.safetensors.state", j->work_dir, id);
        if (strcmp(st, "interrupted") && strcmp(st, "cancelled") && strcmp(st, "failed"))
            rc = drl_proto_errorf(e, 409, "conflict", "job %s is %s; only interrupted, cancelled or failed jobs resume", id, st);
        else if (!file_exists(p))
            rc = drl_proto_errorf(e, 409, "conflict", "job %s has no checkpoint to resume from", id);
    }
    if (!rc) {
        drl_err err = {0};
        path_fmt(p, sizeof p, "%s/jobs/%s/cancel", j->work_dir, id);
        unlink(p);
        json_object_set_new(o, "state", json_string("queued"));
        json_object_set_new(o, "resume", json_true());
        json_object_del(o, "error");
        if (job_write(&err, j, id, o)) rc = drl_proto_errorf(e, 500, "internal", "%s", err.msg);
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    if (!rc) {
        *status = 202;
        rc = answer(o, json, len) ? drl_proto_errorf(e, 500, "internal", "out of memory") : 0;
    }
    json_decref(o);
    return rc;
}

/* ---- promote ------------------------------------------------------------------------------ */

int drl_jobs_manifest_read(drl_err *err, const char *models_dir, char *path, size_t cap, char sha256[65]) {
    char p[PATH_MAX];
    if (path_fmt(p, sizeof p, "%s/current", models_dir)) return drl_errf(err, DRL_EINVAL, "models dir path too long");
    json_error_t je;
    json_t *o = json_load_file(p, 0, &je);
    if (!o) {
        if (!file_exists(p)) return drl_errf(err, DRL_ENOTFOUND, "%s: no manifest", p);
        return drl_errf(err, DRL_EFORMAT, "%s: %s", p, je.text);
    }
    const char *mp = json_string_value(json_object_get(o, "path"));
    const char *sh = json_string_value(json_object_get(o, "sha256"));
    int rc = 0;
    if (!mp || !sh || strlen(sh) != 64) rc = drl_errf(err, DRL_EFORMAT, "%s: needs \"path\" and \"sha256\"", p);
    else if (mp[0] == '/' ? snprintf(path, cap, "%s", mp) >= (int)cap : snprintf(path, cap, "%s/%s", models_dir, mp) >= (int)cap)
        rc = drl_errf(err, DRL_EINVAL, "%s: path too long", p);
    else memcpy(sha256, sh, 65);
    json_decref(o);
    return rc;
}

int drl_jobs_promote(drl_proto_error *e, drl_jobs *j, const char *id, char **json, size_t *len) {
    json_t *o = drl_proto_valid_id(id) ? job_read(j, id) : NULL;
    if (!o) return drl_proto_errorf(e, 404, "not_found", "no job '%.80s'", id);
    present(j, o);
    const char *st = state_of(o);
    char src[PATH_MAX], dst[PATH_MAX], manifest[PATH_MAX];
    path_fmt(src, sizeof src, "%s/jobs/%s/model.safetensors", j->work_dir, id);
    int rc = 0;
    if (!strcmp(st, "running") || !strcmp(st, "queued"))
        rc = drl_proto_errorf(e, 409, "conflict", "job %s is %s; promote it when it has finished", id, st);
    else if (!file_exists(src))
        rc = drl_proto_errorf(e, 409, "conflict", "job %s has no checkpoint to promote", id);
    json_decref(o);
    if (rc) return rc;
    drl_err err = {0};
    uint8_t *buf = NULL;
    size_t n = 0;
    if (mkdir_p(j->models_dir) || path_fmt(dst, sizeof dst, "%s/%s.safetensors", j->models_dir, id) ||
        path_fmt(manifest, sizeof manifest, "%s/current", j->models_dir))
        return drl_proto_errorf(e, 500, "internal", "cannot use the models directory %s", j->models_dir);
    /* the checkpoint is validated by loading it before anything is published */
    drl_model *m = NULL;
    if (drl_model_load(&err, src, &m)) return drl_proto_errorf(e, 422, "bad_checkpoint", "%s", err.msg);
    drl_model_free(m);
    if (drl_file_read_all(&err, src, (size_t)1 << 34, &buf, &n) || drl_file_write_atomic(&err, dst, buf, n)) {
        free(buf);
        return drl_proto_errorf(e, 500, "internal", "copying the model: %s", err.msg);
    }
    uint8_t dig[32];
    char hex[65], when[32];
    drl_sha256(buf, n, dig);
    drl_sha256_hex(dig, hex);
    free(buf);
    iso_now(when, sizeof when);
    /* the version replaced, taken before the manifest is published: the manifest watcher may
     * load the new model before this thread does */
    char prev[13] = "";
    drl_served *was = drl_registry_acquire(j->cfg.reg);
    if (was) snprintf(prev, sizeof prev, "%s", was->version);
    drl_registry_release(j->cfg.reg, was);
    json_t *mf = json_pack("{s:s, s:s, s:s%, s:s, s:s}", "path", dst, "sha256", hex, "version", hex, (size_t)12, "job", id,
                           "promoted_at", when);
    char *text = json_dumps(mf, JSON_INDENT(1));
    json_decref(mf);
    rc = text ? drl_file_write_atomic(&err, manifest, text, strlen(text)) : drl_errf(&err, DRL_ENOMEM, "out of memory");
    free(text);
    if (rc) return drl_proto_errorf(e, 500, "internal", "writing the manifest: %s", err.msg);
    int loaded = 0;
    rc = drl_registry_ensure(&err, j->cfg.reg, dst, j->served_name, hex, &loaded);
    if (loaded) drl_metrics_reload(j->cfg.metrics, rc == 0);
    if (rc) return drl_proto_errorf(e, 422, "bad_checkpoint", "%s", err.msg);
    drl_served *sv = drl_registry_acquire(j->cfg.reg);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "job", id, "model", sv->name, "version", sv->version,
                          "previous_version", prev, "generation", (json_int_t)sv->generation, "path", dst);
    drl_registry_release(j->cfg.reg, sv);
    rc = answer(r, json, len);
    json_decref(r);
    return rc ? drl_proto_errorf(e, 500, "internal", "out of memory") : 0;
}

/* ---- the worker ----------------------------------------------------------------------------- */

typedef struct {
    drl_jobs *j;
    const char *id;
    json_t *o;
    long ckpt_every;
} run_ctx;

/* Keeps at most CURVE_MAX points: one point per `curve_stride` reports; when the array is
 * full every other point goes and the stride doubles, so the curve keeps its whole span at an
 * even, coarser spacing. */
static void curve_add(json_t *o, long step, double loss) {
    json_t *c = json_object_get(o, "curve");
    if (!c) json_object_set_new(o, "curve", c = json_array());
    long stride = (long)json_integer_value(json_object_get(o, "curve_stride"));
    long seen = (long)json_integer_value(json_object_get(o, "curve_reports"));
    if (stride < 1) stride = 1;
    json_object_set_new(o, "curve_reports", json_integer(seen + 1));
    if (seen % stride) return;
    if (json_array_size(c) >= CURVE_MAX) {
        for (size_t i = 1; i < json_array_size(c); i++) json_array_remove(c, i);
        stride *= 2;
        json_object_set_new(o, "curve_stride", json_integer(stride));
        if (seen % stride) return;
    }
    json_array_append_new(c, json_pack("[I, f]", (json_int_t)step, loss));
}

static int on_progress(void *user, const drl_train_progress *p) {
    run_ctx *r = user;
    json_t *o = r->o;
    json_object_set_new(o, "step", json_integer(p->step));
    json_object_set_new(o, "progress", json_real((double)p->step / (double)p->total));
    json_object_set_new(o, "loss", json_real(p->loss));
    json_object_set_new(o, "images_per_s", json_real(p->img_per_s));
    json_object_set_new(o, "eta_s", json_real(p->eta_s));
    json_object_set_new(o, "lr", json_real(p->lr));
    curve_add(o, p->step, p->loss);
    if (p->step % r->ckpt_every == 0 || p->step == p->total) json_object_set_new(o, "checkpoint_step", json_integer(p->step));
    drl_err err = {0};
    pthread_mutex_lock(&r->j->mu);
    job_write(&err, r->j, r->id, o);
    pthread_mutex_unlock(&r->j->mu);
    return cancel_requested(r->j, r->id);
}

static void set_state(drl_jobs *j, const char *id, json_t *o, const char *state, const char *error) {
    char when[32];
    iso_now(when, sizeof when);
    json_object_set_new(o, "state", json_string(state));
    if (!strcmp(state, "running")) json_object_set_new(o, "started", json_string(when));
    else json_object_set_new(o, "finished", json_string(when));
    if (error) json_object_set_new(o, "error", json_string(error));
    char p[PATH_MAX];
    path_fmt(p, sizeof p, "%s/jobs/%s/model.safetensors", j->work_dir, id);
    json_object_set_new(o, "checkpoint", file_exists(p) ? json_string(p) : json_null());
    drl_err err = {0};
    pthread_mutex_lock(&j->mu);
    job_write(&err, j, id, o);
    pthread_mutex_unlock(&j->mu);
}

static void run_job(drl_jobs *j, const char *id) {
    json_t *o = job_read(j, id);
    if (!o) return;
    if (cancel_requested(j, id)) {
        set_state(j, id, o, "cancelled", NULL);
        json_decref(o);
        return;
    }
    set_state(j, id, o, "running", NULL);
    json_object_del(o, "finished");
    char extra0[200];
    snprintf(extra0, sizeof extra0, "\"job\":\"%s\"", id);
    drl_server_log("info", "training job started", extra0);
    drl_err err = {0};
    drl_train_cfg tc = drl_train_defaults();
    json_t *spec = json_object_get(o, "spec");
    char *cfg_text = json_dumps(json_object_get(o, "model_config"), JSON_COMPACT);
    int rc = cfg_text ? drl_config_from_json(&err, cfg_text, &tc.model) : drl_errf(&err, DRL_EFORMAT, "job.json has no model_config");
    free(cfg_text);
    tc.steps = (long)json_integer_value(json_object_get(spec, "steps"));
    tc.batch_size = (int)json_integer_value(json_object_get(spec, "batch_size"));
    tc.adam.lr = (float)json_number_value(json_object_get(spec, "lr"));
    tc.adam.warmup = (int)json_integer_value(json_object_get(spec, "warmup"));
    tc.adam.decay_steps = (long)json_integer_value(json_object_get(spec, "lr_decay_steps"));
    tc.adam.clip = (float)json_number_value(json_object_get(spec, "clip"));
    tc.flip = json_is_true(json_object_get(spec, "flip"));
    tc.seed = (uint64_t)json_integer_value(json_object_get(spec, "seed"));
    tc.ckpt_every = (long)json_integer_value(json_object_get(spec, "ckpt_every"));
    tc.log_every = (long)json_integer_value(json_object_get(spec, "log_every"));
    const char *base = json_string_value(json_object_get(json_object_get(o, "base_model"), "path"));
    if (base) snprintf(tc.init_from, sizeof tc.init_from, "%s", base);
    path_fmt(tc.out, sizeof tc.out, "%s/jobs/%s/model.safetensors", j->work_dir, id);
    int resume = json_is_true(json_object_get(o, "resume"));
    drl_dataset *ds = NULL;
    const char *ds_id = json_string_value(json_object_get(json_object_get(o, "dataset"), "id"));
    if (!rc) rc = ds_id ? drl_datasets_load(&err, j->work_dir, ds_id, &ds) : drl_errf(&err, DRL_EFORMAT, "job.json has no dataset");
    if (!rc) {
        run_ctx r = {j, id, o, tc.ckpt_every > 0 ? tc.ckpt_every : tc.steps};
        pthread_mutex_lock(&j->mu);
        j->train_stop = j->stop; /* a stop asked for before the run started must not be lost */
        pthread_mutex_unlock(&j->mu);
        rc = drl_train_run(&err, &tc, ds, resume, &j->train_stop, on_progress, &r);
    }
    drl_dataset_free(ds);
    if (!rc) set_state(j, id, o, "succeeded", NULL);
    else if (rc == DRL_ECANCELLED && cancel_requested(j, id)) set_state(j, id, o, "cancelled", NULL);
    else if (rc == DRL_ECANCELLED) set_state(j, id, o, "interrupted", "the server stopped; resume with POST /v1/train/jobs/{id}/resume");
    else set_state(j, id, o, "failed", err.msg);
    char extra[700];
    snprintf(extra, sizeof extra, "\"job\":\"%s\",\"state\":\"%s\",\"step\":%lld", id, state_of(o),
             (long long)json_integer_value(json_object_get(o, "step")));
    drl_server_log(rc && rc != DRL_ECANCELLED ? "error" : "info", "training job ended", extra);
    json_decref(o);
}

/* Jobs left "running" by a worker that died become "interrupted" (we hold the lock now, so no
 * one else is running them). Returns the oldest queued job id in `next` ("" when none). */
static void scan(drl_jobs *j, int recover, char next[64]) {
    next[0] = 0;
    char p[PATH_MAX];
    path_fmt(p, sizeof p, "%s/jobs", j->work_dir);
    DIR *d = opendir(p);
    if (!d) return;
    struct dirent *de;
    char best_created[40] = "";
    while ((de = readdir(d))) {
        if (!drl_proto_valid_id(de->d_name)) continue;
        pthread_mutex_lock(&j->mu);
        json_t *o = job_read(j, de->d_name);
        if (o && recover && !strcmp(state_of(o), "running")) {
            drl_err err = {0};
            json_object_set_new(o, "state", json_string("interrupted"));
            json_object_set_new(o, "error", json_string("the worker stopped while the job ran; resume with POST /v1/train/jobs/{id}/resume"));
            job_write(&err, j, de->d_name, o);
        }
        pthread_mutex_unlock(&j->mu);
        const char *created = o ? json_string_value(json_object_get(o, "created")) : NULL;
        if (o && !strcmp(state_of(o), "queued") && created &&
            (!next[0] || strcmp(created, best_created) < 0 || (!strcmp(created, best_created) && strcmp(de->d_name, next) < 0))) {
            memcpy(next, de->d_name, strlen(de->d_name) + 1); /* valid ids are < 64 chars */
            snprintf(best_created, sizeof best_created, "%s", created);
        }
        json_decref(o);
    }
    closedir(d);
}

static int try_lock(drl_jobs *j) {
    char p[PATH_MAX];
    path_fmt(p, sizeof p, "%s/worker.lock", j->work_dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        close(fd);
        return 0;
    }
    j->lock_fd = fd;
    return 1;
}

static void wait_ms(drl_jobs *j, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&j->mu);
    if (!j->stop) pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    pthread_mutex_unlock(&j->mu);
}

static void *worker(void *arg) {
    drl_jobs *j = arg;
    /* below the request threads and the encoder: training takes what serving leaves */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    drl_threads_set(j->cfg.train_threads > 0 ? j->cfg.train_threads : 1);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int stop = j->stop;
        pthread_mutex_unlock(&j->mu);
        if (stop) break;
        if (j->lock_fd < 0) {
            if (!try_lock(j)) {
                wait_ms(j, 1000); /* a standby: another process is the worker */
                continue;
            }
            char ignored[64];
            scan(j, 1, ignored);
        }
        char next[64];
        scan(j, 0, next);
        if (!next[0]) {
            wait_ms(j, 500);
            continue;
        }
        run_job(j, next);
    }
    return NULL;
}

int drl_jobs_start(drl_err *err, const drl_jobs_cfg *cfg, drl_jobs **out) {
    *out = NULL;
    drl_jobs *j = calloc(1, sizeof *j);
    if (!j) return drl_errf(err, DRL_ENOMEM, "out of memory");
    j->cfg = *cfg;
    j->lock_fd = -1;
    j->work_dir = strdup(cfg->work_dir);
    j->models_dir = strdup(cfg->models_dir);
    j->served_name = strdup(cfg->served_name);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    char p[PATH_MAX];
    int rc = 0;
    if (!j->work_dir || !j->models_dir || !j->served_name) rc = drl_errf(err, DRL_ENOMEM, "out of memory");
    else if (path_fmt(p, sizeof p, "%s/jobs", cfg->work_dir) || mkdir_p(p) || mkdir_p(cfg->models_dir))
        rc = drl_errf(err, DRL_EIO, "--work-dir %s: cannot create jobs/ and models/: %s", cfg->work_dir, strerror(errno));
    else if (access(p, W_OK))
        rc = drl_errf(err, DRL_EIO, "--work-dir %s: not writable", cfg->work_dir);
    if (!rc && cfg->worker) {
        if (pthread_create(&j->thread, NULL, worker, j)) rc = drl_errf(err, DRL_EIO, "cannot start the training worker");
        else j->started = 1;
    }
    if (rc) {
        drl_jobs_stop(j);
        return rc;
    }
    *out = j;
    return 0;
}

void drl_jobs_stop(drl_jobs *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    j->stop = 1;
    j->train_stop = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (j->started) pthread_join(j->thread, NULL);
    if (j->lock_fd >= 0) close(j->lock_fd);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->work_dir), free(j->models_dir), free(j->served_name);
    free(j);
}

int drl_jobs_is_worker(drl_jobs *j) { return j && j->lock_fd >= 0; }
