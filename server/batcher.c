/* batcher.c — dynamic batching of encoder work (see batcher.h). */
#include "batcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "threads.h"

static void deadline_ts(double at_monotonic, struct timespec *ts) {
    /* condition variables below are created on CLOCK_MONOTONIC */
    ts->tv_sec = (time_t)at_monotonic;
    ts->tv_nsec = (long)((at_monotonic - (double)ts->tv_sec) * 1e9);
}

/* The worker's buffers, sized for one model and max_batch; rebuilt when the model changes. */
typedef struct {
    long generation;          /* of the model the buffers were made for (0: none) */
    drl_model_acts *acts;
    float *x, *t, *z;
    int B;
} batch_bufs;

static void bufs_free(batch_bufs *bb) {
    drl_model_acts_free(bb->acts);
    free(bb->x), free(bb->t), free(bb->z);
    memset(bb, 0, sizeof *bb);
}

static int bufs_ensure(drl_err *err, batch_bufs *bb, const drl_served *s, int B) {
    if (bb->generation == s->generation && bb->B >= B) return 0;
    bufs_free(bb);
    const drl_config *c = &s->m->cfg;
    size_t per = (size_t)c->C * c->H * c->W;
    bb->acts = drl_model_acts_create_encoder(err, s->m, B);
    bb->x = malloc((size_t)B * per * sizeof(float));
    bb->t = malloc((size_t)B * sizeof(float));
    bb->z = malloc((size_t)B * c->latent_dim * sizeof(float));
    if (!bb->acts || !bb->x || !bb->t || !bb->z) {
        bufs_free(bb);
        return drl_errf(err, DRL_ENOMEM, "out of memory for a batch of %d", B);
    }
    bb->generation = s->generation;
    bb->B = B;
    return 0;
}

/* Runs the encoder over jobs[0..nj) (at most max_batch images together, or one larger job in
 * chunks) and fills each job's outputs. */
static void run_batch(drl_batcher *b, batch_bufs *bb, drl_encode_job **jobs, int nj) {
    drl_served *s = drl_registry_acquire(b->reg);
    drl_err err = {0};
    int rc = 0, total = 0;
    for (int j = 0; j < nj; j++) total += jobs[j]->n;
    if (!s) rc = drl_errf(&err, DRL_ENOTFOUND, "no model is loaded");
    const drl_config *c = s ? &s->m->cfg : NULL;
    for (int j = 0; j < nj && !rc; j++)
        if (jobs[j]->C != c->C || jobs[j]->H != c->H || jobs[j]->W != c->W)
            rc = drl_errf(&err, DRL_EBUSY, "the model changed while the request waited; retry");
    int B = total < b->max_batch ? total : b->max_batch;
    if (!rc) rc = bufs_ensure(&err, bb, s, b->max_batch);
    size_t per = c ? (size_t)c->C * c->H * c->W : 0;
    int d = c ? c->latent_dim : 0;
    for (int j = 0; j < nj && !rc; j++) {
        jobs[j]->z = malloc((size_t)jobs[j]->n * d * sizeof(float));
        if (!jobs[j]->z) rc = drl_errf(&err, DRL_ENOMEM, "out of memory");
    }
    if (!rc && nj == 1 && jobs[0]->n > b->max_batch) {
        drl_encode_job *job = jobs[0];
        for (int i0 = 0; i0 < job->n; i0 += b->max_batch) {
            int nb = job->n - i0 < b->max_batch ? job->n - i0 : b->max_batch;
            for (int i = 0; i < nb; i++) bb->t[i] = job->t ? job->t[i0 + i] : c->t_min;
            drl_model_encode(s->m, bb->acts, s->m->params.data, job->x + (size_t)i0 * per, bb->t,
                             job->z + (size_t)i0 * d, nb);
            drl_metrics_batch(b->metrics, nb);
        }
    } else if (!rc) {
        int off = 0;
        for (int j = 0; j < nj; j++) {
            memcpy(bb->x + (size_t)off * per, jobs[j]->x, (size_t)jobs[j]->n * per * sizeof(float));
            for (int i = 0; i < jobs[j]->n; i++) bb->t[off + i] = jobs[j]->t ? jobs[j]->t[i] : c->t_min;
            off += jobs[j]->n;
        }
        drl_model_encode(s->m, bb->acts, s->m->params.data, bb->x, bb->t, bb->z, total);
        drl_metrics_batch(b->metrics, total);
        off = 0;
        for (int j = 0; j < nj; j++) {
            memcpy(jobs[j]->z, bb->z + (size_t)off * d, (size_t)jobs[j]->n * d * sizeof(float));
            off += jobs[j]->n;
        }
    }
    for (int j = 0; j < nj; j++) {
        drl_encode_job *job = jobs[j];
        job->status = rc;
        job->batch_size = B;
        if (rc) {
            job->err = err;
            free(job->z);
            job->z = NULL;
            job->served = NULL;
        } else {
            job->dim = d;
            job->served = s;
            drl_registry_retain(b->reg, s); /* one reference per answered job */
        }
    }
    drl_registry_release(b->reg, s);
    for (int j = 0; j < nj; j++) jobs[j]->done(jobs[j]);
}

static void *worker(void *arg) {
    drl_batcher *b = arg;
    int per = b->threads / b->workers;
    drl_threads_set(per > 0 ? per : 1);
    batch_bufs bb = {0};
    drl_encode_job **jobs = malloc((size_t)b->max_batch * sizeof *jobs);
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (!b->head && !b->stop) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head) { /* stopping and drained */
            pthread_mutex_unlock(&b->mu);
            break;
        }
        /* Wait for a full batch or the oldest job's deadline, whichever comes first. */
        double deadline = b->head->enqueued + b->max_delay_ms * 1e-3;
        while (!b->stop && b->head && b->queued < b->max_batch && drl_clock_now_s() < deadline) {
            struct timespec ts;
            deadline_ts(deadline, &ts);
            if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT) break;
        }
        if (!b->head) { /* another worker took it */
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        int nj = 0, imgs = 0;
        while (b->head && nj < b->max_batch && (nj == 0 || imgs + b->head->n <= b->max_batch)) {
            drl_encode_job *j = b->head;
            b->head = j->next;
            if (!b->head) b->tail = NULL;
            imgs += j->n;
            b->queued -= j->n;
            jobs[nj++] = j;
            if (imgs >= b->max_batch) break;
        }
        b->busy++;
        if (b->head) pthread_cond_signal(&b->cv); /* more work: wake another worker */
        pthread_mutex_unlock(&b->mu);

        run_batch(b, &bb, jobs, nj);

        pthread_mutex_lock(&b->mu);
        b->busy--;
        if (!b->head && !b->busy) pthread_cond_broadcast(&b->idle_cv);
        pthread_mutex_unlock(&b->mu);
    }
    free(jobs);
    bufs_free(&bb);
    return NULL;
}

int drl_batcher_start(drl_err *err, drl_batcher *b, drl_registry *reg, drl_metrics *metrics,
                      int max_batch, int max_delay_ms, int max_queue, int threads, int workers) {
    memset(b, 0, sizeof *b);
    if (max_batch < 1 || max_delay_ms < 0 || max_queue < 1 || workers < 1 || threads < 1)
        return drl_errf(err, DRL_EINVAL, "batcher: max_batch, queue, threads and workers must be >= 1, delay >= 0");
    b->reg = reg, b->metrics = metrics;
    b->max_batch = max_batch, b->max_delay_ms = max_delay_ms, b->max_queue = max_queue;
    b->threads = threads;
    b->workers = workers;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, &ca);
    pthread_cond_init(&b->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    b->thread = calloc((size_t)workers, sizeof *b->thread);
    for (int i = 0; b->thread && i < workers; i++) {
        if (pthread_create(&b->thread[i], NULL, worker, b) != 0) break;
        b->started++;
    }
    if (b->started < workers) {
        drl_batcher_stop(b);
        return drl_errf(err, DRL_EIO, "batcher: cannot start %d worker threads", workers);
    }
    return 0;
}

void drl_batcher_stop(drl_batcher *b) {
    if (!b->thread) return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->started; i++) pthread_join(b->thread[i], NULL);
    free(b->thread);
    b->thread = NULL;
    b->started = 0;
    pthread_cond_destroy(&b->cv), pthread_cond_destroy(&b->idle_cv);
    pthread_mutex_destroy(&b->mu);
}

int drl_batcher_submit(drl_err *err, drl_batcher *b, drl_encode_job *job) {
    job->next = NULL;
    job->z = NULL;
    job->served = NULL;
    job->status = 0;
    job->enqueued = drl_clock_now_s();
    pthread_mutex_lock(&b->mu);
    int rc = 0;
    if (b->stop) {
        rc = drl_errf(err, DRL_ECANCELLED, "the server is shutting down");
    } else if (b->queued > 0 && b->queued + job->n > b->max_queue) {
        /* an empty queue always takes a job, so one request larger than the queue still runs */
        rc = drl_errf(err, DRL_ELIMIT, "encode queue full (%d images waiting, limit %d)", b->queued, b->max_queue);
    } else {
        if (b->tail) b->tail->next = job;
        else b->head = job;
        b->tail = job;
        b->queued += job->n;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

int drl_batcher_depth(drl_batcher *b) {
    pthread_mutex_lock(&b->mu);
    int n = b->queued;
    pthread_mutex_unlock(&b->mu);
    return n;
}

void drl_batcher_wait_idle(drl_batcher *b, int max_ms) {
    double deadline = drl_clock_now_s() + max_ms * 1e-3;
    pthread_mutex_lock(&b->mu);
    while ((b->head || b->busy) && !b->stop) {
        struct timespec ts;
        deadline_ts(deadline, &ts);
        if (pthread_cond_timedwait(&b->idle_cv, &b->mu, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&b->mu);
}
