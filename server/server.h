/* server.h — `drl serve`: the HTTP/JSON daemon (docs/api.md).
 *
 * One drl_server holds everything a request can touch: the config, the model registry, the
 * encode batcher, the sampling worker, metrics and the libmicrohttpd daemon. It is passed to
 * every handler through MHD's `cls` pointer; there are no globals.
 *
 * Threads: libmicrohttpd runs one thread per connection, so a request that waits for the
 * encoder blocks only its own connection, and /healthz, /readyz and /metrics are answered
 * directly by their connection's thread without touching any inference queue. Inference runs on
 * two workers: the batcher (encode, trajectory, OIP infer) and the sampler (lower priority). */
#ifndef DRL_SERVER_SERVER_H
#define DRL_SERVER_SERVER_H

#include <stddef.h>

#include "err.h"

typedef struct {
    const char *model_path;
    const char *name;          /* served name; NULL: the file name without .safetensors */
    const char *host;          /* "0.0.0.0", "127.0.0.1", "::" ... */
    int port;                  /* 0: any free port (see drl_server_port) */
    int threads;               /* encoder threads (over all encode workers) */
    int encode_workers;        /* batches computed at once; 0: one per thread */
    int sample_threads;
    int max_batch, max_delay_ms, queue;
    size_t max_body;
    int max_images, max_image_side, max_sample_n, max_sample_steps, sample_queue;
    int max_connections, timeout_s;
    int request_timeout_s;     /* a request body must arrive within this (0: no limit) */
    size_t max_inflight_body;  /* bytes of request bodies buffered at once, over all requests */
    int max_connections_per_ip;/* 0: no per-address limit */
    const char *token;         /* admin bearer token, NULL: admin routes disabled */
    int drain_delay_ms, drain_timeout_ms;
    const char *cors_origin;   /* NULL: no CORS headers */
    int quiet;                 /* no per-request log lines */
    /* training (jobs.h): enabled by work_dir */
    const char *work_dir;      /* NULL: the dataset and job routes answer 503 training_disabled */
    const char *models_dir;    /* NULL: work_dir/models; holds promoted models and `current` */
    int train_threads;         /* 1 */
    int worker;                /* 1: this process may run jobs (one process per work dir does) */
    size_t max_upload;         /* dataset upload body limit */
    int max_upload_images;
    int manifest_poll_ms;      /* how often models_dir/current is checked for a new model */
} drl_server_config;

drl_server_config drl_server_defaults(void);

typedef struct drl_server drl_server;

/* Loads and warms the model, starts the workers and the listener; the server is ready when this
 * returns. */
int drl_server_create(drl_err *err, const drl_server_config *cfg, drl_server **out);
int drl_server_port(const drl_server *s);
/* Reloads the model from path (NULL: the current path) — POST /v1/models/reload and SIGHUP —
 * counting it in /metrics and logging the outcome. prev_version (may be NULL) receives the
 * version that was replaced. On failure the current model keeps serving. */
int drl_server_reload(drl_err *err, drl_server *s, const char *path, char prev_version[13]);
/* Graceful stop: /readyz turns 503 at once, wait drain_delay_ms, stop accepting, let in-flight
 * requests finish (at most drain_timeout_ms), stop the workers. Returns the number of requests
 * that were still running at the deadline (0 on a clean drain). */
int drl_server_shutdown(drl_server *s);
void drl_server_free(drl_server *s);

/* One JSON log line on stderr: {"ts":...,"level":LEVEL,"msg":MSG} plus the extra fields given
 * as a JSON object text without braces (may be NULL), e.g. "\"port\":8080". */
void drl_server_log(const char *level, const char *msg, const char *extra_fields);

#endif
