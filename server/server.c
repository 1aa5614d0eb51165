/* server.c — the libmicrohttpd daemon: request state, routing, responses, drain (server.h).
 *
 * A request's life, in MHD's access-handler calls: the first call creates its state (route
 * match, method, auth and Content-Length checks — failures are answered at once, before any body
 * is read); upload calls append to a body buffer capped at --max-body; the last call decodes the
 * body (proto/), hands inference to a worker and waits for it on this connection's own thread,
 * then queues the answer. The state is freed only in the request-completed callback, which also
 * writes the log line and the metrics. */
#include "server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "batcher.h"
#include "codec.h"
#include "datasets.h"
#include "jobs.h"
#include "upload.h"
#include "metrics.h"
#include "registry.h"
#include "rng.h"
#include "sampling.h"
#include "threads.h"

#ifndef DRL_VERSION
#define DRL_VERSION "0.1.0"
#endif

extern const char drl_openapi_yaml[];
extern const char drl_openapi_yaml_end[];

struct drl_server {
    drl_server_config cfg;
    char *name;
    char *token;
    drl_registry reg;
    drl_metrics *metrics;
    drl_batcher batcher;
    drl_sampling sampling;
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mu;       /* guards the fields below */
    pthread_cond_t idle_cv;   /* inflight reached 0 */
    int inflight;
    size_t body_bytes;        /* request-body buffers allocated now */
    int ready, draining;
    uint64_t id_counter;
    uint64_t id_salt;
    drl_proto_limits limits;
    /* training */
    drl_jobs *jobs;             /* NULL without --work-dir */
    char *models_dir;
    pthread_t watcher;          /* follows models_dir/current */
    int watching;
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;
    int watch_stop;
};

drl_server_config drl_server_defaults(void) {
    drl_server_config c = {0};
    c.model_path = NULL;
    c.host = "0.0.0.0";
    c.port = 8080;
    c.threads = 0;
    c.sample_threads = 1;
    c.max_batch = 64;
    c.max_delay_ms = 2;
    c.queue = 1024;
    c.max_body = 16u << 20;
    c.max_images = 256;
    c.max_image_side = 1024;
    c.max_sample_n = 16;
    c.max_sample_steps = 1000;
    c.sample_queue = 4;
    c.max_connections = 512;
    c.timeout_s = 30;
    c.request_timeout_s = 60;
    c.max_inflight_body = (size_t)1 << 30;
    c.drain_delay_ms = 0;
    c.drain_timeout_ms = 30000;
    c.train_threads = 1;
    c.worker = 1;
    c.max_upload = (size_t)256 << 20;
    c.max_upload_images = 100000;
    c.manifest_poll_ms = 1000;
    return c;
}

/* A JSON string literal for s (malloc'd, with quotes), or NULL when out of memory. */
static char *json_quote(const char *s) {
    json_t *v = json_string(s ? s : "");
    char *r = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return r;
}

/* ---- logging --------------------------------------------------------------------------- */

void drl_server_log(const char *level, const char *msg, const char *extra) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char *m = json_quote(msg ? msg : "");
    char line[4096];
    int n = snprintf(line, sizeof line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":%s%s%s}\n", when,
                     ts.tv_nsec / 1000000, level, m ? m : "\"\"", extra ? "," : "", extra ? extra : "");
    free(m);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    /* one write per line so lines from different threads never interleave */
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}

/* ---- routes ---------------------------------------------------------------------------- */

typedef enum {
    R_HEALTHZ, R_READYZ, R_METRICS, R_OPENAPI, R_MODELS, R_RELOAD, R_ENCODE, R_TRAJECTORY,
    R_SAMPLE, R_V2, R_V2_LIVE, R_V2_READY, R_V2_MODEL, R_V2_MODEL_READY, R_V2_INFER,
    R_DATASETS, R_DATASET, R_JOBS, R_JOB, R_JOB_PROMOTE, R_JOB_RESUME, R_NONE
} route_id;

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 }; /* M_GET includes HEAD */

typedef struct {
    const char *tmpl;
    const char *allow;  /* methods, for 405 and OPTIONS */
    int methods;
    int admin;
    int oip;            /* errors in the OIP shape */
} route_info;

static const route_info routes[] = {
    [R_HEALTHZ] = {"/healthz", "GET, HEAD", M_GET, 0, 0},
    [R_READYZ] = {"/readyz", "GET, HEAD", M_GET, 0, 0},
    [R_METRICS] = {"/metrics", "GET, HEAD", M_GET, 0, 0},
    [R_OPENAPI] = {"/openapi.yaml", "GET, HEAD", M_GET, 0, 0},
    [R_MODELS] = {"/v1/models", "GET, HEAD", M_GET, 0, 0},
    [R_RELOAD] = {"/v1/models/reload", "POST", M_POST, 1, 0},
    [R_ENCODE] = {"/v1/encode", "POST", M_POST, 0, 0},
    [R_TRAJECTORY] = {"/v1/trajectory", "POST", M_POST, 0, 0},
    [R_SAMPLE] = {"/v1/sample", "POST", M_POST, 0, 0},
    [R_V2] = {"/v2", "GET, HEAD", M_GET, 0, 1},
    [R_V2_LIVE] = {"/v2/health/live", "GET, HEAD", M_GET, 0, 1},
    [R_V2_READY] = {"/v2/health/ready", "GET, HEAD", M_GET, 0, 1},
    [R_V2_MODEL] = {"/v2/models/{name}", "GET, HEAD", M_GET, 0, 1},
    [R_V2_MODEL_READY] = {"/v2/models/{name}/ready", "GET, HEAD", M_GET, 0, 1},
    [R_V2_INFER] = {"/v2/models/{name}/infer", "POST", M_POST, 0, 1},
    [R_DATASETS] = {"/v1/datasets", "GET, HEAD, POST", M_GET | M_POST, 1, 0},
    [R_DATASET] = {"/v1/datasets/{id}", "GET, HEAD", M_GET, 1, 0},
    [R_JOBS] = {"/v1/train/jobs", "GET, HEAD, POST", M_GET | M_POST, 1, 0},
    [R_JOB] = {"/v1/train/jobs/{id}", "GET, HEAD, DELETE", M_GET | M_DELETE, 1, 0},
    [R_JOB_PROMOTE] = {"/v1/train/jobs/{id}/promote", "POST", M_POST, 1, 0},
    [R_JOB_RESUME] = {"/v1/train/jobs/{id}/resume", "POST", M_POST, 1, 0},
    [R_NONE] = {"other", "", 0, 0, 0},
};

/* If url is prefix + one segment (+ suffix), the segment goes to seg/seg_len; returns 1. */
static int match_seg(const char *url, const char *prefix, const char *suffix, const char **seg, size_t *seg_len) {
    size_t pl = strlen(prefix);
    if (strncmp(url, prefix, pl)) return 0;
    const char *sg = url + pl, *slash = strchr(sg, '/');
    size_t len = slash ? (size_t)(slash - sg) : strlen(sg);
    if (len == 0 || strcmp(sg + len, suffix)) return 0;
    *seg = sg, *seg_len = len;
    return 1;
}

/* Matches a path to a route; the {name}/{id} segment goes to seg/seg_len. */
static route_id match_route(const char *url, const char **seg, size_t *seg_len) {
    static const route_id fixed[] = {R_HEALTHZ, R_READYZ, R_METRICS, R_OPENAPI, R_MODELS, R_RELOAD,
                                     R_ENCODE, R_TRAJECTORY, R_SAMPLE, R_V2, R_V2_LIVE, R_V2_READY,
                                     R_DATASETS, R_JOBS};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(url, routes[fixed[i]].tmpl)) return fixed[i];
    static const struct { route_id r; const char *prefix, *suffix; } pat[] = {
        {R_V2_MODEL, "/v2/models/", ""}, {R_V2_MODEL_READY, "/v2/models/", "/ready"},
        {R_V2_INFER, "/v2/models/", "/infer"}, {R_DATASET, "/v1/datasets/", ""},
        {R_JOB, "/v1/train/jobs/", ""}, {R_JOB_PROMOTE, "/v1/train/jobs/", "/promote"},
        {R_JOB_RESUME, "/v1/train/jobs/", "/resume"}};
    for (size_t i = 0; i < sizeof pat / sizeof *pat; i++)
        if (match_seg(url, pat[i].prefix, pat[i].suffix, seg, seg_len)) return pat[i].r;
    return R_NONE;
}

/* Bytes of an over-long chunked body read and dropped before the server gives up and closes. */
#define DISCARD_MAX ((size_t)64 << 20)

/* ---- per-request state ----------------------------------------------------------------- */

typedef struct {
    drl_server *srv;
    struct MHD_Connection *conn;
    double t0;
    char id[65];
    route_id route;
    char method[12];
    const char *model_name;   /* /v2/models/{name} segment (points into the URL) */
    size_t model_name_len;
    int status;               /* the status answered (for log and metrics) */
    int answered;
    int batch_size;           /* encoder pass the request ran in (0: none) */
    size_t bytes_in, bytes_out;
    uint8_t *body;
    size_t len, cap;
    drl_proto_error pending;  /* a problem found while the body arrived, answered at its end */
    int aborted;              /* closed without an answer (body cut off); status says why */
    int body_done;            /* the whole body has arrived (the final handler call came) */
    /* waiting for a worker */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int sync_ready;
} req_state;

static void req_signal_done(req_state *rs) {
    pthread_mutex_lock(&rs->mu);
    rs->done = 1;
    pthread_cond_signal(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

static void req_wait_done(req_state *rs) {
    pthread_mutex_lock(&rs->mu);
    while (!rs->done) pthread_cond_wait(&rs->cv, &rs->mu);
    pthread_mutex_unlock(&rs->mu);
}

static void encode_done(drl_encode_job *job) { req_signal_done(job->user); }
static void sample_done(drl_sample_job *job) { req_signal_done(job->user); }

/* A valid client request id is ≤ 64 chars of [A-Za-z0-9._-]. */
static int valid_request_id(const char *v) {
    if (!v || !*v) return 0;
    size_t n = 0;
    for (const char *p = v; *p; p++, n++) {
        char c = *p;
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* ---- responses ------------------------------------------------------------------------- */

typedef struct {
    const char *name, *value;
} header;

/* The one place responses are built, queued and released. Takes ownership of buf (malloc'd). */
static enum MHD_Result respond(req_state *rs, int status, const char *ctype, char *buf, size_t len,
                               const header *extra, int n_extra) {
    drl_server *s = rs->srv;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, buf ? buf : (char *)"", buf ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(buf);
        return MHD_NO;
    }
    if (ctype) MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "X-Request-Id", rs->id);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (s->cfg.cors_origin) MHD_add_response_header(r, "Access-Control-Allow-Origin", s->cfg.cors_origin);
    for (int i = 0; i < n_extra; i++) MHD_add_response_header(r, extra[i].name, extra[i].value);
    pthread_mutex_lock(&s->mu);
    int draining = s->draining;
    pthread_mutex_unlock(&s->mu);
    /* while draining, ask keep-alive clients to reconnect (to another replica) */
    if (draining) MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(rs->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    rs->status = status;
    rs->answered = 1;
    rs->bytes_out = len;
    return ret;
}

static enum MHD_Result respond_json(req_state *rs, int status, char *body, size_t len) {
    if (!body) return MHD_NO;
    return respond(rs, status, "application/json", body, len, NULL, 0);
}

static enum MHD_Result respond_error(req_state *rs, const drl_proto_error *e) {
    size_t len = 0;
    char *body = routes[rs->route].oip ? drl_proto_error_json_oip(e, &len) : drl_proto_error_json(e, &len);
    if (!body) return MHD_NO;
    header h[2];
    int nh = 0;
    if (e->status == 503 || e->status == 429) h[nh++] = (header){"Retry-After", "1"};
    if (e->status == 401) h[nh++] = (header){"WWW-Authenticate", "Bearer realm=\"drl\""};
    if (e->status == 405) h[nh++] = (header){"Allow", routes[rs->route].allow};
    return respond(rs, e->status, "application/json", body, len, h, nh);
}

static enum MHD_Result fail(req_state *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result fail(req_state *rs, int status, const char *code, const char *fmt, ...) {
    drl_proto_error e = {status, "", ""};
    snprintf(e.code, sizeof e.code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return respond_error(rs, &e);
}

/* A worker's failure as an HTTP error. */
static enum MHD_Result fail_worker(req_state *rs, int rc, const drl_err *err) {
    switch (rc) {
    case DRL_ELIMIT: return fail(rs, 503, "overloaded", "%s", err->msg);
    case DRL_EBUSY: return fail(rs, 503, "overloaded", "%s", err->msg);
    case DRL_ECANCELLED: return fail(rs, 503, "draining", "%s", err->msg);
    case DRL_ENOTFOUND: return fail(rs, 503, "not_ready", "%s", err->msg);
    case DRL_EUNSUPPORTED: return fail(rs, 422, "invalid_input", "%s", err->msg);
    case DRL_EINVAL: return fail(rs, 422, "invalid_input", "%s", err->msg);
    default: return fail(rs, 500, "internal", "%s", err->msg);
    }
}

/* ---- admin auth ------------------------------------------------------------------------ */

/* Compares in time independent of where the strings differ (and of the given token's length
 * beyond the configured one): every byte of the configured token is always visited. */
static int token_equal(const char *given, const char *want) {
    size_t gl = strlen(given), wl = strlen(want);
    unsigned diff = (unsigned)(gl ^ wl);
    for (size_t i = 0; i < wl; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < gl ? given[i] : 0);
    return diff == 0;
}

static int check_admin(req_state *rs, drl_proto_error *e) {
    drl_server *s = rs->srv;
    if (!s->token) return drl_proto_errorf(e, 403, "admin_disabled", "admin routes are disabled: start the server with --token-file or DRL_TOKEN");
    const char *h = MHD_lookup_connection_value(rs->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7))
        return drl_proto_errorf(e, 401, "unauthorized", "this route needs an Authorization: Bearer token");
    h += 7;
    while (*h == ' ') h++;
    if (!token_equal(h, s->token)) return drl_proto_errorf(e, 401, "unauthorized", "the bearer token is not valid");
    return 0;
}

/* ---- state snapshot helpers ------------------------------------------------------------ */

static void get_flags(drl_server *s, int *ready, int *draining) {
    pthread_mutex_lock(&s->mu);
    *ready = s->ready;
    *draining = s->draining;
    pthread_mutex_unlock(&s->mu);
}

static char *dup_text(const char *t, size_t *len) {
    *len = strlen(t);
    char *b = malloc(*len + 1);
    if (b) memcpy(b, t, *len + 1);
    return b;
}

/* ---- handlers: health, metrics, models ------------------------------------------------- */

static enum MHD_Result handle_readyz(req_state *rs) {
    int ready, draining;
    get_flags(rs->srv, &ready, &draining);
    if (draining) return fail(rs, 503, "draining", "the server is shutting down");
    drl_served *sv = drl_registry_acquire(&rs->srv->reg);
    if (!ready || !sv) {
        drl_registry_release(&rs->srv->reg, sv);
        return fail(rs, 503, "not_ready", "the model is not loaded yet");
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "status", "ready", "model", sv->name, "version", sv->version);
    drl_registry_release(&rs->srv->reg, sv);
    char *b = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return respond_json(rs, 200, b, b ? strlen(b) : 0);
}

static enum MHD_Result handle_metrics(req_state *rs) {
    drl_server *s = rs->srv;
    drl_metrics_gauges g = {0};
    g.encode_queue_depth = drl_batcher_depth(&s->batcher);
    g.sample_queue_depth = drl_sampling_depth(&s->sampling);
    pthread_mutex_lock(&s->mu);
    g.inflight = s->inflight;
    g.ready = s->ready;
    g.draining = s->draining;
    pthread_mutex_unlock(&s->mu);
    drl_served *sv = drl_registry_acquire(&s->reg);
    if (sv) {
        g.model_name = sv->name, g.model_version = sv->version, g.model_sha256 = sv->sha256;
        g.model_generation = sv->generation;
    }
    size_t len = 0;
    char *b = drl_metrics_render(s->metrics, &g, &len);
    drl_registry_release(&s->reg, sv);
    if (!b) return MHD_NO;
    return respond(rs, 200, "text/plain; version=0.0.4; charset=utf-8", b, len, NULL, 0);
}

static enum MHD_Result handle_models(req_state *rs) {
    drl_served *sv = drl_registry_acquire(&rs->srv->reg);
    if (!sv) return fail(rs, 503, "not_ready", "the model is not loaded yet");
    size_t len = 0;
    char *b = drl_proto_models_response(&sv->info, &len);
    drl_registry_release(&rs->srv->reg, sv);
    return respond_json(rs, 200, b, len);
}

static enum MHD_Result handle_reload(req_state *rs) {
    drl_server *s = rs->srv;
    drl_proto_error e;
    char *path = NULL;
    if (drl_proto_reload_parse(&e, rs->body, rs->len, &path)) return respond_error(rs, &e);
    drl_err err = {0};
    char prev[13] = "";
    int rc = drl_server_reload(&err, s, path, prev);
    free(path);
    if (rc == DRL_EBUSY) return fail(rs, 409, "conflict", "%s", err.msg);
    if (rc == DRL_ENOTFOUND) return fail(rs, 404, "not_found", "%s", err.msg);
    if (rc == DRL_ENOMEM) return fail(rs, 503, "overloaded", "%s", err.msg);
    if (rc) return fail(rs, 422, "bad_checkpoint", "%s", err.msg);
    drl_served *sv = drl_registry_acquire(&s->reg);
    size_t len = 0;
    char *b = drl_proto_reload_response(&sv->info, prev, &len);
    drl_registry_release(&s->reg, sv);
    return respond_json(rs, 200, b, len);
}

/* ---- handlers: inference --------------------------------------------------------------- */

static const char *media_type(req_state *rs) {
    return MHD_lookup_connection_value(rs->conn, MHD_HEADER_KIND, "Content-Type");
}

/* Runs one encoder job on the batcher and waits for it. Returns 0, or answers the error and
 * returns -1 (*ret set). */
static int run_encode(req_state *rs, drl_encode_job *job, enum MHD_Result *ret) {
    drl_err err = {0};
    job->done = encode_done;
    job->user = rs;
    int rc = drl_batcher_submit(&err, &rs->srv->batcher, job);
    if (rc) {
        *ret = fail_worker(rs, rc, &err);
        return -1;
    }
    req_wait_done(rs);
    rs->batch_size = job->batch_size;
    if (job->status) {
        *ret = fail_worker(rs, job->status, &job->err);
        return -1;
    }
    return 0;
}

/* An encoder job of n images decoded for sv's shape. */
static drl_encode_job job_for(const drl_served *sv, int n, const float *x, const float *t) {
    return (drl_encode_job){.n = n, .x = x, .t = t, .C = sv->info.C, .H = sv->info.H, .W = sv->info.W};
}

/* Whether the {name} segment of a /v2/models/{name}... path names the served model; if not,
 * answers 404 (*ret) and returns 0. */
static int name_is_served(req_state *rs, const drl_served *sv, enum MHD_Result *ret) {
    if (rs->model_name_len == strlen(sv->name) && !strncmp(rs->model_name, sv->name, rs->model_name_len)) return 1;
    *ret = fail(rs, 404, "not_found", "unknown model '%.*s' (this server serves '%s')",
                (int)(rs->model_name_len > 128 ? 128 : rs->model_name_len), rs->model_name, sv->name);
    return 0;
}

static void job_release(req_state *rs, drl_encode_job *job) {
    free(job->z);
    drl_registry_release(&rs->srv->reg, job->served);
}

static enum MHD_Result handle_encode(req_state *rs, const drl_served *sv) {
    drl_proto_error e;
    drl_proto_encode_req req = {0};
    if (drl_proto_encode_parse(&e, media_type(rs), rs->body, rs->len, &sv->info, &rs->srv->limits, &req))
        return respond_error(rs, &e);
    float *t = NULL;
    if (req.has_t && !(t = malloc((size_t)req.n * sizeof(float)))) {
        drl_proto_encode_req_release(&req);
        return fail(rs, 503, "overloaded", "out of memory");
    }
    for (int i = 0; t && i < req.n; i++) t[i] = req.t;
    drl_encode_job job = job_for(sv, req.n, req.x, t);
    enum MHD_Result ret;
    if (!run_encode(rs, &job, &ret)) {
        size_t len = 0;
        char *b = drl_proto_encode_response(&job.served->info, job.z, req.n, req.single, &len);
        ret = respond_json(rs, 200, b, len);
        job_release(rs, &job);
    }
    free(t);
    drl_proto_encode_req_release(&req);
    return ret;
}

static enum MHD_Result handle_trajectory(req_state *rs, const drl_served *sv) {
    drl_proto_error e;
    drl_proto_trajectory_req req = {0};
    if (drl_proto_trajectory_parse(&e, media_type(rs), rs->body, rs->len, &sv->info, &rs->srv->limits, &req))
        return respond_error(rs, &e);
    size_t per = (size_t)sv->info.C * sv->info.H * sv->info.W;
    float *x = malloc((size_t)req.K * per * sizeof(float));
    if (!x) {
        drl_proto_trajectory_req_release(&req);
        return fail(rs, 503, "overloaded", "out of memory");
    }
    for (int k = 0; k < req.K; k++) memcpy(x + (size_t)k * per, req.x, per * sizeof(float));
    drl_encode_job job = job_for(sv, req.K, x, req.times);
    enum MHD_Result ret;
    if (!run_encode(rs, &job, &ret)) {
        size_t len = 0;
        char *b = drl_proto_trajectory_response(&job.served->info, req.times, job.z, req.K, &len);
        ret = respond_json(rs, 200, b, len);
        job_release(rs, &job);
    }
    free(x);
    drl_proto_trajectory_req_release(&req);
    return ret;
}

static enum MHD_Result handle_infer(req_state *rs, const drl_served *sv) {
    drl_proto_error e;
    enum MHD_Result ret;
    if (!name_is_served(rs, sv, &ret)) return ret;
    drl_proto_oip_req req = {0};
    if (drl_proto_oip_parse(&e, media_type(rs), rs->body, rs->len, &sv->info, &rs->srv->limits, &req))
        return respond_error(rs, &e);
    drl_encode_job job = job_for(sv, req.n, req.x, NULL);
    if (!run_encode(rs, &job, &ret)) {
        size_t len = 0;
        char *b = drl_proto_oip_response(&job.served->info, &req, job.z, &len);
        ret = respond_json(rs, 200, b, len);
        job_release(rs, &job);
    }
    drl_proto_oip_req_release(&req);
    return ret;
}

static int accepts_png(req_state *rs) {
    const char *a = MHD_lookup_connection_value(rs->conn, MHD_HEADER_KIND, "Accept");
    return a && strstr(a, "image/png") && !strstr(a, "application/json");
}

static enum MHD_Result handle_sample(req_state *rs, const drl_served *sv) {
    drl_proto_error e;
    drl_proto_sample_req req = {0};
    if (drl_proto_sample_parse(&e, media_type(rs), rs->body, rs->len, &sv->info, &rs->srv->limits, &req))
        return respond_error(rs, &e);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rs->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    drl_sample_job job = {.req = &req, .C = sv->info.C, .H = sv->info.H, .W = sv->info.W, .dim = sv->info.dim,
                          .fd = ci ? ci->connect_fd : -1, .done = sample_done, .user = rs};
    drl_err err = {0};
    int rc = drl_sampling_submit(&err, &rs->srv->sampling, &job);
    enum MHD_Result ret;
    if (rc == DRL_ELIMIT) {
        ret = fail(rs, 429, "too_many_requests", "%s", err.msg);
    } else if (rc) {
        ret = fail_worker(rs, rc, &err);
    } else {
        req_wait_done(rs);
        if (job.status == DRL_ECANCELLED) {
            /* the client is gone; the status only reaches the log */
            ret = fail(rs, 503, "cancelled", "%s", job.err.msg);
        } else if (job.status) {
            ret = fail_worker(rs, job.status, &job.err);
        } else {
            const drl_proto_model *mi = &job.served->info;
            if (accepts_png(rs)) {
                uint8_t *png = NULL;
                size_t len = 0;
                if (drl_proto_sample_grid_png(&e, job.imgs, req.n, mi->C, mi->H, mi->W, &png, &len))
                    ret = respond_error(rs, &e);
                else
                    ret = respond(rs, 200, "image/png", (char *)png, len, NULL, 0);
            } else {
                size_t len = 0;
                char *b = drl_proto_sample_response(&e, mi, &req, job.imgs, &len);
                ret = b ? respond_json(rs, 200, b, len) : respond_error(rs, &e);
            }
            free(job.imgs);
            drl_registry_release(&rs->srv->reg, job.served);
        }
    }
    drl_proto_sample_req_release(&req);
    return ret;
}

/* ---- handlers: OIP metadata ------------------------------------------------------------ */

static enum MHD_Result handle_v2_model(req_state *rs, int ready_only) {
    drl_server *s = rs->srv;
    drl_served *sv = drl_registry_acquire(&s->reg);
    if (!sv) return fail(rs, 503, "not_ready", "the model is not loaded yet");
    enum MHD_Result ret;
    if (!name_is_served(rs, sv, &ret)) {
        /* answered */
    } else if (ready_only) {
        int ready, draining;
        get_flags(s, &ready, &draining);
        json_t *o = json_pack("{s:s, s:b}", "name", sv->name, "ready", ready && !draining);
        char *b = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        ret = respond_json(rs, ready && !draining ? 200 : 503, b, b ? strlen(b) : 0);
    } else {
        size_t len = 0;
        char *b = drl_proto_oip_model_metadata(&sv->info, &len);
        ret = respond_json(rs, 200, b, len);
    }
    drl_registry_release(&s->reg, sv);
    return ret;
}

static enum MHD_Result handle_get(req_state *rs) {
    drl_server *s = rs->srv;
    size_t len = 0;
    int ready, draining;
    switch (rs->route) {
    case R_HEALTHZ: return respond_json(rs, 200, dup_text("{\"status\":\"ok\"}", &len), 15);
    case R_READYZ: return handle_readyz(rs);
    case R_METRICS: return handle_metrics(rs);
    case R_OPENAPI: {
        size_t n = (size_t)(drl_openapi_yaml_end - drl_openapi_yaml);
        char *b = malloc(n ? n : 1);
        if (!b) return MHD_NO;
        memcpy(b, drl_openapi_yaml, n);
        return respond(rs, 200, "application/yaml", b, n, NULL, 0);
    }
    case R_MODELS: return handle_models(rs);
    case R_V2: {
        char *b = drl_proto_oip_server_metadata(DRL_VERSION, &len);
        return respond_json(rs, 200, b, len);
    }
    case R_V2_LIVE: return respond_json(rs, 200, dup_text("{\"live\":true}", &len), 13);
    case R_V2_READY:
        get_flags(s, &ready, &draining);
        if (ready && !draining) return respond_json(rs, 200, dup_text("{\"ready\":true}", &len), 14);
        return respond_json(rs, 503, dup_text("{\"ready\":false}", &len), 15);
    case R_V2_MODEL: return handle_v2_model(rs, 0);
    case R_V2_MODEL_READY: return handle_v2_model(rs, 1);
    default: return fail(rs, 500, "internal", "unhandled route");
    }
}

static enum MHD_Result handle_post(req_state *rs) {
    drl_server *s = rs->srv;
    if (rs->route == R_RELOAD) return handle_reload(rs);
    int ready, draining;
    get_flags(s, &ready, &draining);
    drl_served *sv = drl_registry_acquire(&s->reg);
    if (!sv || !ready) {
        drl_registry_release(&s->reg, sv);
        return fail(rs, 503, "not_ready", "the model is not loaded yet");
    }
    enum MHD_Result ret;
    switch (rs->route) {
    case R_ENCODE: ret = handle_encode(rs, sv); break;
    case R_TRAJECTORY: ret = handle_trajectory(rs, sv); break;
    case R_SAMPLE: ret = handle_sample(rs, sv); break;
    case R_V2_INFER: ret = handle_infer(rs, sv); break;
    default: ret = fail(rs, 500, "internal", "unhandled route");
    }
    drl_registry_release(&s->reg, sv);
    return ret;
}

/* ---- handlers: datasets and training jobs (admin) ------------------------------------- */

static enum MHD_Result handle_upload(req_state *rs) {
    drl_server *s = rs->srv;
    drl_proto_error e;
    drl_upload_limits lim = drl_upload_default_limits();
    lim.max_side = s->cfg.max_image_side;
    lim.max_images = (size_t)s->cfg.max_upload_images;
    lim.max_total_pixels = (size_t)s->cfg.max_upload_images * 4096u * 3u;
    lim.max_entry_bytes = s->cfg.max_upload;
    drl_dataset *ds = NULL;
    const char *format = NULL;
    size_t skipped = 0;
    if (drl_proto_upload_decode(&e, rs->body, rs->len, &lim, &ds, &format, &skipped)) return respond_error(rs, &e);
    drl_err err = {0};
    char id[40];
    char *meta = NULL;
    int rc = drl_datasets_store(&err, s->cfg.work_dir, ds, format, id);
    drl_dataset_free(ds);
    if (!rc) rc = drl_datasets_meta(&err, s->cfg.work_dir, id, &meta);
    if (rc) return fail(rs, rc == DRL_EIO ? 507 : 500, "storage", "storing the dataset: %s", err.msg);
    char extra[200];
    snprintf(extra, sizeof extra, "\"dataset\":\"%s\",\"format\":\"%s\",\"skipped\":%zu", id, format, skipped);
    drl_server_log("info", "dataset stored", extra);
    return respond_json(rs, 201, meta, strlen(meta));
}

static enum MHD_Result handle_training(req_state *rs) {
    drl_server *s = rs->srv;
    if (!s->jobs)
        return fail(rs, 503, "training_disabled", "training is disabled on this server: start it with --work-dir DIR");
    char id[64] = "";
    if (rs->model_name_len) {
        if (rs->model_name_len >= sizeof id) return fail(rs, 404, "not_found", "no such id");
        memcpy(id, rs->model_name, rs->model_name_len);
        id[rs->model_name_len] = 0;
    }
    int is_post = !strcmp(rs->method, "POST"), is_delete = !strcmp(rs->method, "DELETE");
    drl_proto_error e;
    char *json = NULL;
    size_t len = 0;
    int status = 200, rc;
    drl_err err = {0};
    switch (rs->route) {
    case R_DATASETS:
        if (is_post) return handle_upload(rs);
        rc = drl_datasets_list(&err, s->cfg.work_dir, &json);
        if (rc) return fail(rs, 500, "internal", "%s", err.msg);
        return respond_json(rs, 200, json, strlen(json));
    case R_DATASET:
        rc = drl_datasets_meta(&err, s->cfg.work_dir, id, &json);
        if (rc == DRL_ENOTFOUND || rc == DRL_EINVAL) return fail(rs, 404, "not_found", "no dataset '%s'", id);
        if (rc) return fail(rs, 500, "internal", "%s", err.msg);
        return respond_json(rs, 200, json, strlen(json));
    case R_JOBS:
        rc = is_post ? drl_jobs_create(&e, s->jobs, media_type(rs), rs->body, rs->len, &status, &json, &len)
                     : drl_jobs_list(&e, s->jobs, &json, &len);
        break;
    case R_JOB:
        rc = is_delete ? drl_jobs_cancel(&e, s->jobs, id, &status, &json, &len) : drl_jobs_get(&e, s->jobs, id, &json, &len);
        break;
    case R_JOB_PROMOTE: rc = drl_jobs_promote(&e, s->jobs, id, &json, &len); break;
    case R_JOB_RESUME: rc = drl_jobs_resume(&e, s->jobs, id, &status, &json, &len); break;
    default: return fail(rs, 500, "internal", "unhandled route");
    }
    if (rc) return respond_error(rs, &e);
    return respond_json(rs, status, json, len);
}

/* ---- MHD callbacks --------------------------------------------------------------------- */

/* Uploads of training data have their own, larger limit. */
static size_t body_limit(const req_state *rs) {
    return rs->route == R_DATASETS ? rs->srv->cfg.max_upload : rs->srv->cfg.max_body;
}
static const char *body_limit_flag(const req_state *rs) {
    return rs->route == R_DATASETS ? "--max-upload" : "--max-body";
}

/* True when the comma-separated header value holds `tok` (case-insensitive). */
static int has_token_ci(const char *v, const char *tok) {
    size_t n = strlen(tok);
    for (const char *p = v; *p; p++)
        if (!strncasecmp(p, tok, n)) return 1;
    return 0;
}

/* First call of a request: everything that can be decided from the request line and headers. */
static enum MHD_Result begin(req_state *rs, const char *method, const char *url) {
    drl_server *s = rs->srv;
    const route_info *ri = &routes[rs->route];
    if (rs->route == R_NONE)
        return fail(rs, 404, "not_found", "no route %s %.200s (see GET /openapi.yaml)", method, url);
    int m = !strcmp(method, "GET") || !strcmp(method, "HEAD") ? M_GET
            : !strcmp(method, "POST") ? M_POST : !strcmp(method, "DELETE") ? M_DELETE : 0;
    int is_post = m == M_POST;
    if (!strcmp(method, "OPTIONS")) {
        header h[3] = {{"Allow", ri->allow}, {"Access-Control-Allow-Methods", ri->allow},
                       {"Access-Control-Allow-Headers", "Content-Type, Authorization, X-Request-Id"}};
        return respond(rs, 204, NULL, NULL, 0, h, s->cfg.cors_origin ? 3 : 1);
    }
    if (!(ri->methods & m))
        return fail(rs, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)", method, ri->tmpl, ri->allow);
    if (ri->admin) {
        drl_proto_error e;
        if (check_admin(rs, &e)) return respond_error(rs, &e);
    }
    if (is_post) {
        const char *cl = MHD_lookup_connection_value(rs->conn, MHD_HEADER_KIND, "Content-Length");
        const char *te = MHD_lookup_connection_value(rs->conn, MHD_HEADER_KIND, "Transfer-Encoding");
        if (!cl && !(te && has_token_ci(te, "chunked")) && rs->route != R_RELOAD && rs->route != R_JOB_PROMOTE &&
            rs->route != R_JOB_RESUME)
            return fail(rs, 411, "length_required", "POST %s needs a Content-Length (or chunked encoding)", ri->tmpl);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*cl == '-' || *end || n > body_limit(rs))
                return fail(rs, 413, "payload_too_large", "request body of %s bytes exceeds the limit of %zu bytes (%s)", cl, body_limit(rs), body_limit_flag(rs));
        }
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    drl_server *s = cls;
    req_state *rs = *con_cls;
    if (!rs) {
        rs = calloc(1, sizeof *rs);
        if (!rs) return MHD_NO;
        rs->srv = s;
        rs->conn = conn;
        rs->t0 = drl_clock_now_s();
        pthread_mutex_init(&rs->mu, NULL);
        pthread_cond_init(&rs->cv, NULL);
        snprintf(rs->method, sizeof rs->method, "%s", method);
        rs->route = match_route(url, &rs->model_name, &rs->model_name_len);
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        pthread_mutex_lock(&s->mu);
        s->inflight++;
        uint64_t n = ++s->id_counter;
        pthread_mutex_unlock(&s->mu);
        if (valid_request_id(rid)) snprintf(rs->id, sizeof rs->id, "%s", rid);
        else snprintf(rs->id, sizeof rs->id, "%016llx%08llx", (unsigned long long)s->id_salt, (unsigned long long)n);
        *con_cls = rs;
        return begin(rs, method, url);
    }
    if (rs->answered) { /* answered from the headers (error): discard whatever body arrives */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* libmicrohttpd cannot queue an answer while a body is still arriving: a problem found
         * now is recorded in rs->pending, the rest of the body is read and dropped, and the
         * answer goes out when the body ends. A body that never ends is cut off (the connection
         * closes without an answer) after DISCARD_MAX dropped bytes or --request-timeout. */
        size_t n = *upload_size;
        *upload_size = 0;
        rs->bytes_in += n;
        size_t limit = body_limit(rs);
        if (s->cfg.request_timeout_s > 0 && drl_clock_now_s() - rs->t0 > s->cfg.request_timeout_s) {
            /* a body trickling in forever never trips the idle timeout */
            rs->status = 408;
            rs->aborted = 1;
            return MHD_NO;
        }
        if (rs->pending.status) {
            if (rs->bytes_in <= limit + DISCARD_MAX) return MHD_YES;
            rs->status = rs->pending.status;
            rs->aborted = 1;
            return MHD_NO;
        }
        if (rs->len + n > limit) {
            drl_proto_errorf(&rs->pending, 413, "payload_too_large", "request body exceeds the limit of %zu bytes (%s)", limit, body_limit_flag(rs));
            return MHD_YES;
        }
        if (rs->len + n > rs->cap) {
            size_t cap = rs->cap ? rs->cap : 4096;
            while (cap < rs->len + n) cap *= 2;
            if (cap > limit) cap = limit;
            /* all bodies being received together stay under --max-inflight-body */
            pthread_mutex_lock(&s->mu);
            int over = s->body_bytes + (cap - rs->cap) > s->cfg.max_inflight_body;
            if (!over) s->body_bytes += cap - rs->cap;
            pthread_mutex_unlock(&s->mu);
            uint8_t *b = over ? NULL : realloc(rs->body, cap);
            if (!b) {
                if (!over) {
                    pthread_mutex_lock(&s->mu);
                    s->body_bytes -= cap - rs->cap;
                    pthread_mutex_unlock(&s->mu);
                }
                drl_proto_errorf(&rs->pending, 503, "overloaded", over ? "too many request bytes in flight (--max-inflight-body); retry"
                                                                       : "out of memory for the request body");
                return MHD_YES;
            }
            rs->body = b, rs->cap = cap;
        }
        memcpy(rs->body + rs->len, upload, n);
        rs->len += n;
        return MHD_YES;
    }
    /* the whole request is here */
    rs->body_done = 1;
    if (rs->pending.status) return respond_error(rs, &rs->pending);
    if (rs->route >= R_DATASETS) return handle_training(rs);
    if (routes[rs->route].methods & M_POST) return handle_post(rs);
    return handle_get(rs);
}

/* Lingering close. A request answered before its body arrived (413, 408, 401, 503 ...) is
 * closed with body bytes still unread, and closing a socket with unread data makes the kernel
 * send a reset that destroys the answer in the client's receive buffer — the client would see
 * "connection reset" instead of the status. MHD has already shut down our sending side (FIN)
 * when this runs, so read and drop what the client still sends, until it closes, for at most
 * LINGER_MS or LINGER_BYTES, and only then let MHD close the socket. */
#define LINGER_MS 2000
#define LINGER_BYTES ((size_t)64 << 20)
static void linger(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return;
    int fd = ci->connect_fd;
    double end = drl_clock_now_s() + LINGER_MS * 1e-3;
    size_t got = 0;
    char buf[16384];
    while (got < LINGER_BYTES) {
        double left = end - drl_clock_now_s();
        if (left <= 0) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1e3) + 1) <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break; /* EOF: the client has read the answer and closed */
        got += (size_t)n;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    drl_server *s = cls;
    req_state *rs = *con_cls;
    if (!rs) return;
    *con_cls = NULL;
    if (rs->answered && !rs->body_done && routes[rs->route].methods & M_POST) linger(conn);
    double dt = drl_clock_now_s() - rs->t0;
    /* 499: the client went away before an answer; an aborted body logs the reason's status */
    int status = rs->answered || rs->aborted ? rs->status : 499;
    drl_metrics_request(s->metrics, routes[rs->route].tmpl, rs->method, status, dt);
    if (!s->cfg.quiet) {
        char extra[512];
        snprintf(extra, sizeof extra,
                 "\"request_id\":\"%s\",\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,\"latency_ms\":%.3f,"
                 "\"batch_size\":%d,\"bytes_in\":%zu,\"bytes_out\":%zu%s",
                 rs->id, rs->method, routes[rs->route].tmpl, status, dt * 1e3, rs->batch_size, rs->bytes_in,
                 rs->bytes_out, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ",\"aborted\":true");
        drl_server_log(status >= 500 ? "error" : "info", "request", extra);
    }
    free(rs->body);
    pthread_mutex_lock(&s->mu);
    s->body_bytes -= rs->cap;
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&rs->cv);
    pthread_mutex_destroy(&rs->mu);
    free(rs);
    pthread_mutex_lock(&s->mu);
    if (--s->inflight == 0) pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->mu);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    drl_server_log("warn", msg, "\"source\":\"libmicrohttpd\"");
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static char *default_name(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *ext = ".safetensors";
    if (n > strlen(ext) && !strcmp(b + n - strlen(ext), ext)) n -= strlen(ext);
    char *r = malloc(n + 1);
    if (r) memcpy(r, b, n), r[n] = 0;
    return r;
}

static int valid_name(const char *n) {
    if (!*n || strlen(n) > 100) return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static int start_listener(drl_err *err, drl_server *s) {
    const drl_server_config *c = &s->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, c->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)c->port);
    } else if (inet_pton(AF_INET6, c->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)c->port);
        flags |= MHD_USE_IPv6;
    } else {
        return drl_errf(err, DRL_EINVAL, "--host %s: not an IPv4 or IPv6 address", c->host);
    }
    s->mhd = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, on_request, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout_s,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->max_connections_per_ip,
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                              MHD_OPTION_END);
    if (!s->mhd) return drl_errf(err, DRL_EIO, "cannot listen on %s port %d (in use, or not permitted)", c->host, c->port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : c->port;
    return 0;
}

/* Follows models_dir/current: when the manifest names a model other than the one served (a
 * promotion on any replica sharing the directory), load it. */
static void *watch_manifest(void *arg) {
    drl_server *s = arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += s->cfg.manifest_poll_ms / 1000;
        ts.tv_nsec += (long)(s->cfg.manifest_poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&s->watch_mu);
        if (!s->watch_stop) pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &ts);
        int stop = s->watch_stop;
        pthread_mutex_unlock(&s->watch_mu);
        if (stop) break;
        char path[4096], sha[65];
        drl_err err = {0};
        if (drl_jobs_manifest_read(&err, s->models_dir, path, sizeof path, sha)) continue;
        drl_served *sv = drl_registry_acquire(&s->reg);
        int same = sv && !strcmp(sv->sha256, sha);
        drl_registry_release(&s->reg, sv);
        if (same) continue;
        char prev[13] = "";
        int rc = drl_registry_load(&err, &s->reg, path, s->name, prev);
        if (rc == DRL_EBUSY) continue; /* a reload is running; look again next time */
        drl_metrics_reload(s->metrics, rc == 0);
        char extra[4400];
        char *jp = json_quote(path);
        char *jm = json_quote(rc ? err.msg : "");
        snprintf(extra, sizeof extra, "\"path\":%s,\"previous_version\":\"%s\",\"error\":%s", jp ? jp : "null", prev, jm ? jm : "null");
        free(jp), free(jm);
        drl_server_log(rc ? "error" : "info", rc ? "manifest names a model that does not load; keeping the current one"
                                                : "model changed by the manifest", extra);
        if (rc) { /* do not retry a bad file every poll: wait for the manifest to change */
            struct timespec back = {5, 0};
            nanosleep(&back, NULL);
        }
    }
    return NULL;
}

int drl_server_create(drl_err *err, const drl_server_config *cfg, drl_server **out) {
    *out = NULL;
    if (!cfg->model_path) return drl_errf(err, DRL_EINVAL, "no model path given");
    if (cfg->max_batch < 1 || cfg->queue < 1 || cfg->max_images < 1 || cfg->max_sample_n < 1 ||
        cfg->max_sample_steps < 1 || cfg->sample_queue < 1 || cfg->max_connections < 1 || cfg->max_body < 1 ||
        cfg->max_image_side < 1 || cfg->max_delay_ms < 0 || cfg->timeout_s < 0 || cfg->port < 0 || cfg->port > 65535)
        return drl_errf(err, DRL_EINVAL, "server limits must be positive (port in [0, 65535])");
    drl_server *s = calloc(1, sizeof *s);
    if (!s) return drl_errf(err, DRL_ENOMEM, "out of memory");
    s->cfg = *cfg;
    s->name = cfg->name ? strdup(cfg->name) : default_name(cfg->model_path);
    s->token = cfg->token && *cfg->token ? strdup(cfg->token) : NULL;
    s->cfg.token = NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    pthread_mutex_init(&s->watch_mu, NULL);
    pthread_cond_init(&s->watch_cv, NULL);
    drl_registry_init(&s->reg);
    s->limits = (drl_proto_limits){cfg->max_images, cfg->max_image_side, cfg->max_sample_n, cfg->max_sample_steps, 256};
    /* request ids: a per-process salt, so ids from different replicas do not collide */
    drl_rng r;
    drl_rng_seed(&r, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    s->id_salt = drl_rng_u64(&r);
    int rc = 0;
    if (!s->name) rc = drl_errf(err, DRL_ENOMEM, "out of memory");
    else if (!valid_name(s->name)) rc = drl_errf(err, DRL_EINVAL, "model name '%s': use 1-100 of [A-Za-z0-9._-]", s->name);
    if (!rc && !(s->metrics = drl_metrics_create())) rc = drl_errf(err, DRL_ENOMEM, "out of memory");
    const char *first = cfg->model_path;
    char manifest_path[4096], sha[65];
    if (!rc && cfg->work_dir) {
        size_t n = strlen(cfg->work_dir) + 8;
        if (cfg->models_dir) s->models_dir = strdup(cfg->models_dir);
        else if ((s->models_dir = malloc(n))) snprintf(s->models_dir, n, "%s/models", cfg->work_dir);
        if (!s->models_dir) rc = drl_errf(err, DRL_ENOMEM, "out of memory");
        /* a promoted model (the shared manifest) wins over --model */
        drl_err merr = {0};
        if (!rc && !drl_jobs_manifest_read(&merr, s->models_dir, manifest_path, sizeof manifest_path, sha))
            first = manifest_path;
    }
    if (!rc) rc = drl_registry_load(err, &s->reg, first, s->name, NULL);
    int threads = cfg->threads > 0 ? cfg->threads : drl_threads_cores();
    if (!rc) rc = drl_batcher_start(err, &s->batcher, &s->reg, s->metrics, cfg->max_batch, cfg->max_delay_ms, cfg->queue, threads,
                                   cfg->encode_workers > 0 ? (cfg->encode_workers < threads ? cfg->encode_workers : threads) : threads);
    if (!rc) rc = drl_sampling_start(err, &s->sampling, &s->reg, s->metrics, &s->batcher,
                                     cfg->sample_threads > 0 ? cfg->sample_threads : 1, cfg->sample_queue);
    if (!rc && cfg->work_dir) {
        drl_jobs_cfg jc = {cfg->work_dir, s->models_dir, cfg->train_threads, cfg->worker, &s->reg, s->metrics, s->name};
        rc = drl_jobs_start(err, &jc, &s->jobs);
        if (!rc && pthread_create(&s->watcher, NULL, watch_manifest, s) == 0) s->watching = 1;
    }
    if (!rc) rc = start_listener(err, s);
    if (rc) {
        drl_server_free(s);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    s->ready = 1;
    pthread_mutex_unlock(&s->mu);
    *out = s;
    return 0;
}

int drl_server_port(const drl_server *s) { return s->port; }

int drl_server_reload(drl_err *err, drl_server *s, const char *path, char prev_version[13]) {
    drl_served *cur = drl_registry_acquire(&s->reg);
    char *target = path ? strdup(path) : (cur ? strdup(cur->path) : NULL);
    drl_registry_release(&s->reg, cur);
    if (!target) return drl_errf(err, DRL_ENOMEM, "out of memory");
    char prev[13] = "";
    int rc = drl_registry_load(err, &s->reg, target, s->name, prev);
    drl_metrics_reload(s->metrics, rc == 0);
    char extra[4400];
    char *jp = json_quote(target);
    free(target);
    if (rc) {
        char *jm = json_quote(err ? err->msg : "");
        snprintf(extra, sizeof extra, "\"path\":%s,\"error\":%s", jp ? jp : "null", jm ? jm : "null");
        drl_server_log("error", "reload failed; the previous model keeps serving", extra);
        free(jm);
    } else {
        drl_served *sv = drl_registry_acquire(&s->reg);
        snprintf(extra, sizeof extra, "\"path\":%s,\"version\":\"%s\",\"previous_version\":\"%s\",\"generation\":%ld",
                 jp ? jp : "null", sv->version, prev, sv->generation);
        drl_registry_release(&s->reg, sv);
        drl_server_log("info", "model reloaded", extra);
    }
    free(jp);
    if (prev_version) memcpy(prev_version, prev, sizeof prev);
    return rc;
}

/* Stops the manifest watcher and the training worker (a running job checkpoints and becomes
 * "interrupted"). */
static void stop_training(drl_server *s) {
    if (s->watching) {
        pthread_mutex_lock(&s->watch_mu);
        s->watch_stop = 1;
        pthread_cond_broadcast(&s->watch_cv);
        pthread_mutex_unlock(&s->watch_mu);
        pthread_join(s->watcher, NULL);
        s->watching = 0;
    }
    drl_jobs_stop(s->jobs);
    s->jobs = NULL;
}

int drl_server_shutdown(drl_server *s) {
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    pthread_mutex_unlock(&s->mu);
    if (s->cfg.drain_delay_ms > 0) {
        struct timespec ts = {s->cfg.drain_delay_ms / 1000, (long)(s->cfg.drain_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (s->mhd) MHD_quiesce_daemon(s->mhd); /* stop accepting; open connections continue */
    /* wait for requests in flight */
    double deadline = drl_clock_now_s() + s->cfg.drain_timeout_ms * 1e-3;
    pthread_mutex_lock(&s->mu);
    while (s->inflight > 0 && drl_clock_now_s() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->idle_cv, &s->mu, &ts);
    }
    int left = s->inflight;
    pthread_mutex_unlock(&s->mu);
    stop_training(s);
    /* the workers finish what is queued, so a straggler past the deadline still gets its answer
     * before its connection closes */
    drl_sampling_stop(&s->sampling);
    drl_batcher_stop(&s->batcher);
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    return left;
}

void drl_server_free(drl_server *s) {
    if (!s) return;
    if (s->mhd) MHD_stop_daemon(s->mhd);
    stop_training(s);
    drl_sampling_stop(&s->sampling);
    drl_batcher_stop(&s->batcher);
    drl_registry_release_all(&s->reg);
    drl_metrics_free(s->metrics);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->watch_cv);
    pthread_mutex_destroy(&s->watch_mu);
    free(s->models_dir);
    free(s->name);
    if (s->token) {
        memset(s->token, 0, strlen(s->token));
        free(s->token);
    }
    free(s);
}
