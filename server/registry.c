/* registry.c — the served model and its atomic swap (see registry.h). */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sha256.h"

void drl_registry_init(drl_registry *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->idle, NULL);
}

static void served_free(drl_served *s) {
    if (!s) return;
    drl_model_free(s->m);
    free(s);
}

void drl_registry_release_all(drl_registry *r) {
    pthread_mutex_lock(&r->mu);
    drl_served *s = r->current;
    r->current = NULL;
    int last = s && --s->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) served_free(s);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
}

drl_served *drl_registry_acquire(drl_registry *r) {
    pthread_mutex_lock(&r->mu);
    drl_served *s = r->current;
    if (s) s->refs++;
    pthread_mutex_unlock(&r->mu);
    return s;
}

void drl_registry_retain(drl_registry *r, drl_served *s) {
    pthread_mutex_lock(&r->mu);
    s->refs++;
    pthread_mutex_unlock(&r->mu);
}

void drl_registry_release(drl_registry *r, drl_served *s) {
    if (!s) return;
    pthread_mutex_lock(&r->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) served_free(s);
}

/* One encoder pass on a blank image, so the first request does not pay for page faults and
 * OpenBLAS/OpenMP start-up, and a model whose forward pass produces non-finite codes is refused. */
static int warm_up(drl_err *err, const drl_model *m) {
    const drl_config *c = &m->cfg;
    drl_model_acts *a = drl_model_acts_create_encoder(err, m, 1);
    float *x = calloc((size_t)c->C * c->H * c->W, sizeof(float));
    float *z = malloc((size_t)c->latent_dim * sizeof(float));
    int rc = 0;
    if (!a || !x || !z) {
        rc = err && err->code ? err->code : drl_errf(err, DRL_ENOMEM, "out of memory");
    } else {
        float t = c->t_min;
        drl_model_encode(m, a, m->params.data, x, &t, z, 1);
        for (int i = 0; i < c->latent_dim && !rc; i++)
            if (!(z[i] == z[i]) || z[i] > 3e38f || z[i] < -3e38f)
                rc = drl_errf(err, DRL_EFORMAT, "warm-up: the encoder produced a non-finite code");
    }
    drl_model_acts_free(a);
    free(x), free(z);
    return rc;
}

static void describe(drl_served *s) {
    const drl_config *c = &s->m->cfg;
    drl_proto_model *p = &s->info;
    p->name = s->name;
    p->version = s->version;
    p->sha256 = s->sha256;
    p->path = s->path;
    p->loaded_at = s->loaded_at;
    p->generation = s->generation;
    p->dim = c->latent_dim;
    p->C = c->C, p->H = c->H, p->W = c->W;
    p->sde = drl_sde_name(c->sde);
    p->t_min = c->t_min, p->t_max = c->t_max, p->t_eps = c->t_eps;
    p->time_cond = c->time_cond;
    p->variational = c->variational;
}

/* Ends the load this thread claimed (r->loading) and wakes the callers waiting for it. */
static void load_done(drl_registry *r) {
    r->loading = 0;
    pthread_cond_broadcast(&r->idle);
}

/* The load itself, once the caller has claimed r->loading. */
static int load_claimed(drl_err *err, drl_registry *r, const char *path, const char *name, char prev_version[13]) {
    int rc = 0;
    drl_served *s = calloc(1, sizeof *s);
    struct stat st;
    if (!s) {
        rc = drl_errf(err, DRL_ENOMEM, "out of memory");
    } else if (strlen(path) >= sizeof s->path || strlen(name) >= sizeof s->name) {
        rc = drl_errf(err, DRL_EINVAL, "model path or name too long");
    } else if (stat(path, &st) != 0) {
        rc = drl_errf(err, DRL_ENOTFOUND, "%s: no such model file", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = drl_errf(err, DRL_EINVAL, "%s: not a regular file", path);
    } else if (!(rc = drl_sha256_file(err, path, s->sha256)) &&
               !(rc = drl_model_load(err, path, &s->m)) && !(rc = drl_model_prepare(err, s->m))) {
        rc = warm_up(err, s->m);
    }
    if (rc) {
        served_free(s);
        pthread_mutex_lock(&r->mu);
        load_done(r);
        pthread_mutex_unlock(&r->mu);
        return rc;
    }
    snprintf(s->version, sizeof s->version, "%.12s", s->sha256);
    strcpy(s->path, path);
    strcpy(s->name, name);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(s->loaded_at, sizeof s->loaded_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    s->refs = 1;

    pthread_mutex_lock(&r->mu);
    s->generation = ++r->generation;
    describe(s);
    drl_served *old = r->current;
    if (prev_version) snprintf(prev_version, 13, "%s", old ? old->version : "");
    r->current = s;
    load_done(r);
    int last = old && --old->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) served_free(old);
    return 0;
}

int drl_registry_load(drl_err *err, drl_registry *r, const char *path, const char *name,
                      char prev_version[13]) {
    pthread_mutex_lock(&r->mu);
    if (r->loading) {
        pthread_mutex_unlock(&r->mu);
        return drl_errf(err, DRL_EBUSY, "a model load is already running");
    }
    r->loading = 1;
    pthread_mutex_unlock(&r->mu);
    return load_claimed(err, r, path, name, prev_version);
}

int drl_registry_ensure(drl_err *err, drl_registry *r, const char *path, const char *name, const char sha256[65],
                        int *loaded) {
    *loaded = 0;
    pthread_mutex_lock(&r->mu);
    while (r->loading) pthread_cond_wait(&r->idle, &r->mu);
    if (r->current && !strcmp(r->current->sha256, sha256)) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    r->loading = 1;
    pthread_mutex_unlock(&r->mu);
    *loaded = 1;
    return load_claimed(err, r, path, name, NULL);
}
