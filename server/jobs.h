/* jobs.h — training jobs: a file-backed queue under --work-dir and the worker that runs them.
 *
 * Every job is a directory work_dir/jobs/<id>/ holding job.json (spec, state, progress, loss
 * curve; always replaced atomically), the checkpoint the trainer writes (model.safetensors with
 * .state and .csv beside it) and, when a cancel was asked for, an empty `cancel` file. The files
 * are the truth, not memory: any replica sharing the directory can create, list, cancel,
 * resume and promote jobs, a restarted server finds every job it had, and exactly one process
 * runs jobs — the one holding an exclusive flock on work_dir/worker.lock (others wait as
 * standbys and take over if it dies). On taking the lock, jobs left "running" by a dead worker
 * become "interrupted" and can be resumed from their last checkpoint.
 *
 * States: queued → running → succeeded | failed | cancelled | interrupted; interrupted and
 * cancelled jobs with a checkpoint can be resumed (→ queued). Promotion copies a job's model into
 * the models directory, points the `current` manifest at it and reloads this server; other
 * replicas follow the manifest (server.c). */
#ifndef DRL_SERVER_JOBS_H
#define DRL_SERVER_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metrics.h"
#include "registry.h"

typedef struct {
    const char *work_dir;
    const char *models_dir;   /* where promoted models and the `current` manifest live */
    int train_threads;        /* OpenMP threads of the training worker */
    int worker;               /* 1: this process may run jobs (takes the worker lock) */
    drl_registry *reg;
    drl_metrics *metrics;
    const char *served_name;
} drl_jobs_cfg;

typedef struct drl_jobs drl_jobs;

int drl_jobs_start(drl_err *err, const drl_jobs_cfg *cfg, drl_jobs **out);
/* Stops the worker: a running job checkpoints and becomes "interrupted". */
void drl_jobs_stop(drl_jobs *j);

/* Route bodies. Each returns 0 with a malloc'd JSON answer in *json (and *status: 200, 201 or
 * 202), or -1 with e filled. */
int drl_jobs_create(drl_proto_error *e, drl_jobs *j, const char *media, const uint8_t *body,
                    size_t n, int *status, char **json, size_t *len);
int drl_jobs_list(drl_proto_error *e, drl_jobs *j, char **json, size_t *len);
int drl_jobs_get(drl_proto_error *e, drl_jobs *j, const char *id, char **json, size_t *len);
int drl_jobs_cancel(drl_proto_error *e, drl_jobs *j, const char *id, int *status, char **json,
                    size_t *len);
int drl_jobs_resume(drl_proto_error *e, drl_jobs *j, const char *id, int *status, char **json,
                    size_t *len);
int drl_jobs_promote(drl_proto_error *e, drl_jobs *j, const char *id, char **json, size_t *len);

/* The manifest work: models_dir/current → {"path","sha256","version","job","promoted_at"}.
 * Reads the path it names into path (cap bytes); DRL_ENOTFOUND when there is no manifest. */
int drl_jobs_manifest_read(drl_err *err, const char *models_dir, char *path, size_t cap,
                           char sha256[65]);

/* Whether this process currently holds the worker lock (for /metrics and tests). */
int drl_jobs_is_worker(drl_jobs *j);

#endif
