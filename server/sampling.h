/* sampling.h — the sampling worker: conditional sampling jobs on their own thread and queue.
 *
 * Sampling costs `steps` score-model passes, so it never shares the encoder's queue: jobs wait in
 * a small bounded queue (full → the server answers 429) and one worker runs them one at a time,
 * at a lower CPU priority, and before every score evaluation it yields while encode work is
 * queued (drl_batcher_wait_idle), so /v1/encode latency does not grow behind a long sample.
 * A job whose client has gone (its socket reports hang-up) is cancelled at the next step. */
#ifndef DRL_SERVER_SAMPLING_H
#define DRL_SERVER_SAMPLING_H

#include <pthread.h>

#include "batcher.h"
#include "codec.h"

typedef struct drl_sample_job {
    /* in */
    const drl_proto_sample_req *req;
    int C, H, W, dim;         /* the shape the request was decoded for */
    int fd;                   /* client socket watched for hang-up, or -1 */
    void (*done)(struct drl_sample_job *job);
    void *user;
    /* out */
    int status;               /* 0 or DRL_E* (DRL_ECANCELLED: client gone) */
    drl_err err;
    float *imgs;              /* (n, C, H, W) in data space, malloc'd; the submitter frees */
    drl_served *served;       /* one reference when status == 0 */
    double seconds;           /* sampling time */
    struct drl_sample_job *next;
} drl_sample_job;

typedef struct {
    drl_registry *reg;
    drl_metrics *metrics;
    drl_batcher *batcher;
    int threads, max_queue, nice;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    drl_sample_job *head, *tail;
    int queued, stop, started;
    pthread_t thread;
} drl_sampling;

int drl_sampling_start(drl_err *err, drl_sampling *s, drl_registry *reg, drl_metrics *metrics,
                       drl_batcher *batcher, int threads, int max_queue);
/* Finishes queued jobs, then stops. */
void drl_sampling_stop(drl_sampling *s);
/* 0, DRL_ELIMIT when the queue is full, DRL_ECANCELLED when stopping. */
int drl_sampling_submit(drl_err *err, drl_sampling *s, drl_sample_job *job);
int drl_sampling_depth(drl_sampling *s);

#endif
