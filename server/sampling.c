/* sampling.c — the sampling worker (see sampling.h). */
#include "sampling.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "threads.h"

/* POLLRDHUP is Linux-specific; define its value when the feature macros hide it. */
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif

/* True when the peer has closed or reset the connection. A request body has been read in full
 * by now, so readable data can only be a pipelined request; a hang-up shows as POLLRDHUP/HUP. */
static int client_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return 1;
    if (p.revents & POLLIN) {
        char c;
        ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return r == 0;
    }
    return 0;
}

typedef struct {
    drl_model_score_ctx inner;
    drl_sampling *s;
    drl_sample_job *job;
} score_wrap;

/* The score callback with the scheduling and cancellation checks in front of it. */
static int score_fn(void *user, const float *x, float t, float *score, int B) {
    score_wrap *w = user;
    if (client_gone(w->job->fd)) return DRL_ECANCELLED;
    drl_batcher_wait_idle(w->s->batcher, 1000);
    return drl_model_score_fn(&w->inner, x, t, score, B);
}

static void run_job(drl_sampling *s, drl_sample_job *job) {
    double t0 = drl_clock_now_s();
    const drl_proto_sample_req *r = job->req;
    drl_err *err = &job->err;
    drl_served *sv = drl_registry_acquire(s->reg);
    int rc = 0;
    if (!sv) rc = drl_errf(err, DRL_ENOTFOUND, "no model is loaded");
    const drl_model *m = sv ? sv->m : NULL;
    const drl_config *c = m ? &m->cfg : NULL;
    if (!rc && (c->C != job->C || c->H != job->H || c->W != job->W || c->latent_dim != job->dim))
        rc = drl_errf(err, DRL_EBUSY, "the model changed while the request waited; retry");
    if (!rc && c->mode != DRL_MODE_DRL)
        rc = drl_errf(err, DRL_EUNSUPPORTED, "this model (an autoencoder baseline) has no score network to sample with");
    if (!rc) rc = drl_sampler_validate(err, c, &r->cfg);
    int n = r->n;
    size_t per = c ? (size_t)c->C * c->H * c->W : 0;
    int d = c ? c->latent_dim : 0;
    float *x0 = NULL, *z = NULL, *x = NULL, *work = NULL, *zb = NULL, *tb = NULL;
    drl_model_acts *acts = NULL;
    if (!rc) {
        x0 = r->x0 ? malloc((size_t)n * per * sizeof(float)) : NULL;
        z = malloc((size_t)n * d * sizeof(float));
        x = malloc((size_t)n * per * sizeof(float));
        work = malloc(3 * (size_t)n * per * sizeof(float));
        zb = malloc((size_t)n * d * sizeof(float));
        tb = malloc((size_t)n * sizeof(float));
        acts = drl_model_acts_create(err, m, n, 0);
        if ((r->x0 && !x0) || !z || !x || !work || !zb || !tb || !acts)
            rc = err->code ? err->code : drl_errf(err, DRL_ENOMEM, "out of memory");
    }
    if (!rc) {
        if (r->x0) {
            for (int i = 0; i < n; i++) memcpy(x0 + (size_t)i * per, r->x0, per * sizeof(float));
            drl_model_encode(m, acts, m->params.data, x0, NULL, z, n);
        } else {
            for (int i = 0; i < n; i++) memcpy(z + (size_t)i * d, r->code, (size_t)d * sizeof(float));
        }
        score_wrap w = {{m, acts, m->params.data, z, (r->x0 && c->time_cond) ? x0 : NULL, zb, tb}, s, job};
        rc = drl_sample(err, c, &r->cfg, score_fn, &w, r->cfg.t_init < 1.0f ? x0 : NULL, x, n, per, work);
        if (rc == DRL_ECANCELLED) drl_errf(err, DRL_ECANCELLED, "the client went away; sampling cancelled");
    }
    drl_model_acts_free(acts);
    free(x0), free(z), free(work), free(zb), free(tb);
    job->status = rc;
    job->seconds = drl_clock_now_s() - t0;
    if (rc) {
        free(x);
        job->imgs = NULL;
        job->served = NULL;
        drl_registry_release(s->reg, sv);
    } else {
        job->imgs = x;
        job->served = sv; /* the acquired reference goes to the job */
        drl_metrics_samples(s->metrics, n);
    }
    job->done(job);
}

static void *worker(void *arg) {
    drl_sampling *s = arg;
    /* Lower priority than the encoder and the HTTP threads (Linux: nice is per thread, and the
     * OpenMP team this thread starts inherits it). */
    if (s->nice > 0) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), s->nice);
    drl_threads_set(s->threads);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
        drl_sample_job *job = s->head;
        if (!job) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        s->head = job->next;
        if (!s->head) s->tail = NULL;
        s->queued--;
        pthread_mutex_unlock(&s->mu);
        run_job(s, job);
    }
    return NULL;
}

int drl_sampling_start(drl_err *err, drl_sampling *s, drl_registry *reg, drl_metrics *metrics,
                       drl_batcher *batcher, int threads, int max_queue) {
    memset(s, 0, sizeof *s);
    if (max_queue < 1) return drl_errf(err, DRL_EINVAL, "sampling: queue must be >= 1");
    s->reg = reg, s->metrics = metrics, s->batcher = batcher;
    s->threads = threads, s->max_queue = max_queue, s->nice = 10;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, worker, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        return drl_errf(err, DRL_EIO, "sampling: cannot start the worker thread");
    }
    s->started = 1;
    return 0;
}

void drl_sampling_stop(drl_sampling *s) {
    if (!s->started) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    s->started = 0;
}

int drl_sampling_submit(drl_err *err, drl_sampling *s, drl_sample_job *job) {
    job->next = NULL;
    job->imgs = NULL;
    job->served = NULL;
    job->status = 0;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->stop) {
        rc = drl_errf(err, DRL_ECANCELLED, "the server is shutting down");
    } else if (s->queued >= s->max_queue) {
        rc = drl_errf(err, DRL_ELIMIT, "sampling queue full (%d requests waiting)", s->queued);
    } else {
        if (s->tail) s->tail->next = job;
        else s->head = job;
        s->tail = job;
        s->queued++;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int drl_sampling_depth(drl_sampling *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->queued;
    pthread_mutex_unlock(&s->mu);
    return n;
}
