/* metrics.c — Prometheus counters and histograms, rendered as text format 0.0.4 (see metrics.h).
 *
 * All state lives in fixed-size tables under one mutex. Recording is a short linear lookup and
 * an increment; rendering copies the tables under the lock and formats outside it, so a scrape
 * holds up request threads for no longer than a memcpy. Each labelled family has at most
 * MAX_SERIES label combinations: once the table is nearly full a new route folds into
 * route="other", and the last slot is a catch-all, so a misbehaving caller can grow neither
 * memory nor the scrape. Recording into a NULL drl_metrics is a no-op (metrics disabled). */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    MAX_SERIES = 256, /* label combinations per family */
    OTHER_SLOTS = 32, /* the tail of each table, kept for route="other" series */
    ROUTE_MAX = 96,   /* bytes kept of a route template, with the NUL */
    METHOD_MAX = 8,
};

/* Latency buckets (seconds), from 0.5 ms to 10 s; le strings are printed as written here. */
static const double LAT_BOUND[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const char *const LAT_LE[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                     "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                     "1",      "2.5",   "5",      "10"};
#define N_LAT ((int)(sizeof LAT_BOUND / sizeof LAT_BOUND[0]))

static const int BATCH_BOUND[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define N_BATCH ((int)(sizeof BATCH_BOUND / sizeof BATCH_BOUND[0]))

typedef struct {
    char route[ROUTE_MAX];
    char method[METHOD_MAX];
    int status; /* 100..599, or 0 rendered as "other" */
    uint64_t count;
} req_series;

typedef struct {
    char route[ROUTE_MAX];
    int status;
    uint64_t bucket[N_LAT + 1]; /* per-bucket counts (not cumulative); last is +Inf */
    double sum;
    uint64_t count;
} lat_series;

typedef struct {
    req_series req[MAX_SERIES];
    int nreq;
    lat_series lat[MAX_SERIES];
    int nlat;
    uint64_t batch_bucket[N_BATCH + 1];
    double batch_sum;
    uint64_t batch_count;
    uint64_t images_encoded, samples_generated, reloads_ok, reloads_error;
} tables;

struct drl_metrics {
    pthread_mutex_t mu;
    double start_time; /* Unix seconds at create */
    tables t;
};

drl_metrics *drl_metrics_create(void) {
    drl_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return m;
}

void drl_metrics_free(drl_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Label normalisation: bounded, fixed-size keys. */

/* Copies a route template into a ROUTE_MAX buffer, cutting on a UTF-8 character boundary. */
static void norm_route(char out[ROUTE_MAX], const char *route) {
    if (!route || !*route) route = "other";
    size_t n = strlen(route);
    if (n > ROUTE_MAX - 1) {
        n = ROUTE_MAX - 1;
        while (n > 0 && ((unsigned char)route[n] & 0xC0) == 0x80) n--;
    }
    memcpy(out, route, n);
    out[n] = '\0';
}

/* Methods come from clients, so anything outside the standard set is "other". */
static const char *norm_method(const char *method) {
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    if (method)
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(method, known[i]) == 0) return known[i];
    return "other";
}

static int norm_status(int status) { return status >= 100 && status <= 599 ? status : 0; }

/* ------------------------------------------------------------------------------------------ */
/* Bounded lookup. A new key is inserted while the table has room outside the reserved tail;
 * in the tail only route="other" keys are inserted, and the very last slot holds the catch-all
 * (route="other", method="other", status 0). The slot at index MAX_SERIES-1 is only ever
 * filled by the catch-all, so a lookup always succeeds. */

static req_series *req_find(tables *t, const char *route, const char *method, int status) {
    for (int i = 0; i < t->nreq; i++) {
        req_series *s = &t->req[i];
        if (s->status == status && strcmp(s->route, route) == 0 && strcmp(s->method, method) == 0)
            return s;
    }
    return NULL;
}

static req_series *req_get(tables *t, const char *route, const char *method, int status) {
    req_series *s = req_find(t, route, method, status);
    if (s) return s;
    if (t->nreq >= MAX_SERIES - OTHER_SLOTS) {
        route = "other";
        if ((s = req_find(t, route, method, status))) return s;
    }
    if (t->nreq >= MAX_SERIES - 1) {
        method = "other";
        status = 0;
        if ((s = req_find(t, route, method, status))) return s;
    }
    s = &t->req[t->nreq++];
    norm_route(s->route, route);
    snprintf(s->method, sizeof s->method, "%s", method);
    s->status = status;
    s->count = 0;
    return s;
}

static lat_series *lat_find(tables *t, const char *route, int status) {
    for (int i = 0; i < t->nlat; i++) {
        lat_series *s = &t->lat[i];
        if (s->status == status && strcmp(s->route, route) == 0) return s;
    }
    return NULL;
}

static lat_series *lat_get(tables *t, const char *route, int status) {
    lat_series *s = lat_find(t, route, status);
    if (s) return s;
    if (t->nlat >= MAX_SERIES - OTHER_SLOTS) {
        route = "other";
        if ((s = lat_find(t, route, status))) return s;
    }
    if (t->nlat >= MAX_SERIES - 1) {
        status = 0;
        if ((s = lat_find(t, route, status))) return s;
    }
    s = &t->lat[t->nlat++];
    memset(s, 0, sizeof *s);
    norm_route(s->route, route);
    s->status = status;
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Recording. */

void drl_metrics_request(drl_metrics *m, const char *route, const char *method, int status,
                         double seconds) {
    if (!m) return;
    char r[ROUTE_MAX];
    norm_route(r, route);
    const char *meth = norm_method(method);
    int st = norm_status(status);
    if (!(seconds >= 0) || isinf(seconds)) seconds = 0; /* NaN, negative or infinite */
    int b = 0;
    while (b < N_LAT && seconds > LAT_BOUND[b]) b++;

    pthread_mutex_lock(&m->mu);
    req_get(&m->t, r, meth, st)->count++;
    lat_series *l = lat_get(&m->t, r, st);
    l->bucket[b]++;
    l->sum += seconds;
    l->count++;
    pthread_mutex_unlock(&m->mu);
}

void drl_metrics_batch(drl_metrics *m, int size) {
    if (!m || size <= 0) return;
    int b = 0;
    while (b < N_BATCH && size > BATCH_BOUND[b]) b++;
    pthread_mutex_lock(&m->mu);
    m->t.batch_bucket[b]++;
    m->t.batch_sum += size;
    m->t.batch_count++;
    m->t.images_encoded += (uint64_t)size;
    pthread_mutex_unlock(&m->mu);
}

void drl_metrics_samples(drl_metrics *m, int n) {
    if (!m || n <= 0) return;
    pthread_mutex_lock(&m->mu);
    m->t.samples_generated += (uint64_t)n;
    pthread_mutex_unlock(&m->mu);
}

void drl_metrics_reload(drl_metrics *m, int ok) {
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    if (ok)
        m->t.reloads_ok++;
    else
        m->t.reloads_error++;
    pthread_mutex_unlock(&m->mu);
}

/* ------------------------------------------------------------------------------------------ */
/* Text output. */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n + 1 > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (n + 1 > cap - b->n) {
            if (cap > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void put_str(buf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
    } else if ((size_t)n < sizeof tmp) {
        put(b, tmp, (size_t)n);
    } else { /* long labels: format again into a buffer of the right size */
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            put(b, big, (size_t)n);
            free(big);
        } else {
            b->oom = 1;
        }
    }
    va_end(ap2);
}

/* A sample value: the shortest of %.15g / %.17g that reads back exactly. */
static void put_double(buf *b, double v) {
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) snprintf(tmp, sizeof tmp, "%.17g", v);
    put_str(b, tmp);
}

/* name="value" with backslash, double quote and newline escaped (text format 0.0.4). */
static void put_label(buf *b, const char *name, const char *value) {
    put_str(b, name);
    put(b, "=\"", 2);
    for (const char *s = value ? value : ""; *s; s++) {
        if (*s == '\\')
            put(b, "\\\\", 2);
        else if (*s == '"')
            put(b, "\\\"", 2);
        else if (*s == '\n')
            put(b, "\\n", 2);
        else
            put(b, s, 1);
    }
    put(b, "\"", 1);
}

static void put_status(buf *b, int status) {
    char s[16];
    if (status)
        snprintf(s, sizeof s, "%d", status);
    else
        snprintf(s, sizeof s, "other");
    put_label(b, "status", s);
}

static void family(buf *b, const char *name, const char *type, const char *help) {
    putf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_u64(buf *b, const char *name, uint64_t v) {
    putf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* One histogram series: labels (already formatted, may be empty) go before le. */
static void put_histogram(buf *b, const char *name, const char *labels, const char *const *le,
                          int nle, const uint64_t *bucket, double sum, uint64_t count) {
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (int i = 0; i <= nle; i++) {
        cum += bucket[i];
        putf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, i < nle ? le[i] : "+Inf",
             (unsigned long long)cum);
    }
    if (labels[0])
        putf(b, "%s_sum{%s} ", name, labels);
    else
        putf(b, "%s_sum ", name);
    put_double(b, sum);
    if (labels[0])
        putf(b, "\n%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
    else
        putf(b, "\n%s_count %llu\n", name, (unsigned long long)count);
}

/* Resident set size in bytes from /proc/self/statm (second field, in pages); -1 if unknown. */
static long long resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    unsigned long long size, resident;
    int ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (!ok || page <= 0) return -1;
    return (long long)(resident * (unsigned long long)page);
}

char *drl_metrics_render(drl_metrics *m, const drl_metrics_gauges *g, size_t *len) {
    if (len) *len = 0;
    if (!m) return NULL;
    tables *t = malloc(sizeof *t);
    if (!t) return NULL;
    pthread_mutex_lock(&m->mu);
    memcpy(t, &m->t, sizeof *t);
    pthread_mutex_unlock(&m->mu);

    buf b = {0};
    family(&b, "drl_http_requests_total", "counter", "HTTP requests answered.");
    for (int i = 0; i < t->nreq; i++) {
        const req_series *s = &t->req[i];
        put_str(&b, "drl_http_requests_total{");
        put_label(&b, "route", s->route);
        put_str(&b, ",");
        put_label(&b, "method", s->method);
        put_str(&b, ",");
        put_status(&b, s->status);
        putf(&b, "} %llu\n", (unsigned long long)s->count);
    }

    family(&b, "drl_http_request_duration_seconds", "histogram",
           "HTTP request latency in seconds, by route template and status.");
    for (int i = 0; i < t->nlat && !b.oom; i++) {
        const lat_series *s = &t->lat[i];
        buf lb = {0};
        put_label(&lb, "route", s->route);
        put_str(&lb, ",");
        put_status(&lb, s->status);
        if (lb.oom)
            b.oom = 1;
        else
            put_histogram(&b, "drl_http_request_duration_seconds", lb.p, LAT_LE, N_LAT,
                          s->bucket, s->sum, s->count);
        free(lb.p);
    }

    static const char *const batch_le[] = {"1", "2", "4", "8", "16", "32", "64", "128", "256"};
    family(&b, "drl_encode_batch_size", "histogram", "Images per encoder pass.");
    put_histogram(&b, "drl_encode_batch_size", "", batch_le, N_BATCH, t->batch_bucket,
                  t->batch_sum, t->batch_count);

    family(&b, "drl_images_encoded_total", "counter", "Images run through the encoder.");
    put_u64(&b, "drl_images_encoded_total", t->images_encoded);
    family(&b, "drl_samples_generated_total", "counter", "Images generated by the samplers.");
    put_u64(&b, "drl_samples_generated_total", t->samples_generated);
    family(&b, "drl_model_reloads_total", "counter", "Model reloads by result.");
    putf(&b, "drl_model_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)t->reloads_ok);
    putf(&b, "drl_model_reloads_total{result=\"error\"} %llu\n",
         (unsigned long long)t->reloads_error);
    free(t);

    if (g) {
        family(&b, "drl_encode_queue_depth", "gauge", "Images waiting for the encoder.");
        putf(&b, "drl_encode_queue_depth %d\n", g->encode_queue_depth);
        family(&b, "drl_sample_queue_depth", "gauge", "Sample requests waiting.");
        putf(&b, "drl_sample_queue_depth %d\n", g->sample_queue_depth);
        family(&b, "drl_http_inflight_requests", "gauge", "Requests being handled.");
        putf(&b, "drl_http_inflight_requests %d\n", g->inflight);
        if (g->model_name) {
            family(&b, "drl_model_info", "gauge", "The served model; always 1.");
            put_str(&b, "drl_model_info{");
            put_label(&b, "name", g->model_name);
            put_str(&b, ",");
            put_label(&b, "version", g->model_version);
            put_str(&b, ",");
            put_label(&b, "sha256", g->model_sha256);
            put_str(&b, "} 1\n");
        }
        family(&b, "drl_model_generation", "gauge", "Model loads in this process (1 at start).");
        putf(&b, "drl_model_generation %ld\n", g->model_generation);
        family(&b, "drl_ready", "gauge", "1 when the server accepts inference requests.");
        putf(&b, "drl_ready %d\n", g->ready ? 1 : 0);
        family(&b, "drl_draining", "gauge", "1 while shutting down.");
        putf(&b, "drl_draining %d\n", g->draining ? 1 : 0);
    }

    long long rss = resident_bytes();
    if (rss >= 0) {
        family(&b, "drl_process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        putf(&b, "drl_process_resident_memory_bytes %lld\n", rss);
    }
    family(&b, "drl_process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.");
    put_str(&b, "drl_process_start_time_seconds ");
    put_double(&b, m->start_time);
    put_str(&b, "\n");

    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len) *len = b.n;
    return b.p;
}
