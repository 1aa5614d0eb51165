/* batcher.h — dynamic batching of encoder work.
 *
 * Request handlers submit jobs (n images, optional per-image encoder times); a worker thread
 * waits until `max_batch` images are queued or `max_delay_ms` has passed since the oldest job
 * arrived, runs the encoder once on the merged batch (core: drl_model_encode, the same call as
 * `drl encode`), hands each job its rows and calls its `done` callback (which resumes the HTTP
 * connection). A job larger than max_batch runs alone, in chunks. The queue is bounded in
 * images: submit refuses with DRL_ELIMIT when it is full, so the server answers 503 instead of
 * growing without bound.
 *
 * There are `workers` such threads, each with its own buffers and `threads / workers` OpenMP
 * threads, taking batches from the one queue: while one computes, the next batch forms and runs
 * on another. Measured on 2 cores: two one-thread workers outrun one two-thread team (an OpenMP
 * team stalls at every barrier when the request threads take a core from it). The /v1/trajectory route uses the same queue (K copies of one image,
 * each with its own t). */
#ifndef DRL_SERVER_BATCHER_H
#define DRL_SERVER_BATCHER_H

#include <pthread.h>

#include "metrics.h"
#include "registry.h"

typedef struct drl_encode_job {
    /* in (owned by the submitter, untouched by the worker until done) */
    int n;
    const float *x;           /* (n, C, H, W) */
    const float *t;           /* (n) encoder times, or NULL: the model's t_min */
    int C, H, W;              /* the shape x was decoded for */
    void (*done)(struct drl_encode_job *job);
    void *user;
    /* out (valid when done is called) */
    int status;               /* 0 or DRL_E* */
    drl_err err;
    float *z;                 /* (n, dim) malloc'd by the worker; the submitter frees */
    int dim;
    drl_served *served;       /* the model that ran (one reference: release it when answered) */
    int batch_size;           /* size of the encoder pass this job ran in (the first chunk) */
    /* queue */
    double enqueued;
    struct drl_encode_job *next;
} drl_encode_job;

typedef struct {
    drl_registry *reg;
    drl_metrics *metrics;
    int max_batch, max_delay_ms, max_queue, threads, workers;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* work arrived / stop */
    pthread_cond_t idle_cv;   /* queue became empty (the sampler waits on it) */
    drl_encode_job *head, *tail;
    int queued;               /* images waiting */
    int busy;                 /* workers running a batch */
    int stop;
    pthread_t *thread;        /* (workers) */
    int started;              /* threads running */
} drl_batcher;

int drl_batcher_start(drl_err *err, drl_batcher *b, drl_registry *reg, drl_metrics *metrics,
                      int max_batch, int max_delay_ms, int max_queue, int threads, int workers);
/* Finishes every queued job, then stops the worker. */
void drl_batcher_stop(drl_batcher *b);

/* Queues a job; 0, or DRL_ELIMIT when the queue is full, DRL_ECANCELLED when stopping. */
int drl_batcher_submit(drl_err *err, drl_batcher *b, drl_encode_job *job);
/* Images waiting (for /metrics). */
int drl_batcher_depth(drl_batcher *b);
/* Blocks while encode work is queued or running, at most max_ms; the sampling worker calls it
 * before each score evaluation so that sampling never starves encoding. */
void drl_batcher_wait_idle(drl_batcher *b, int max_ms);

#endif
