/* metrics.h — Prometheus counters and histograms for the server, rendered as text format 0.0.4.
 *
 * Thread-safe: request handlers, the batcher and the sampling worker record into one
 * drl_metrics under its own mutex; GET /metrics renders a snapshot. Label sets are bounded:
 * routes are templates from a fixed list (never raw paths), statuses are HTTP codes. */
#ifndef DRL_SERVER_METRICS_H
#define DRL_SERVER_METRICS_H

#include <stddef.h>

typedef struct drl_metrics drl_metrics;

/* Gauges owned by the server, passed in at render time. */
typedef struct {
    int encode_queue_depth;   /* images waiting for the encoder */
    int sample_queue_depth;   /* sample requests waiting */
    int inflight;             /* requests being handled */
    const char *model_name, *model_version, *model_sha256;
    long model_generation;
    int ready, draining;
} drl_metrics_gauges;

drl_metrics *drl_metrics_create(void);
void drl_metrics_free(drl_metrics *m);

/* One finished request: drl_http_requests_total{route,method,status} and the latency histogram
 * drl_http_request_duration_seconds{route,status}. */
void drl_metrics_request(drl_metrics *m, const char *route, const char *method, int status,
                         double seconds);
/* One encoder pass over `size` images: drl_encode_batch_size histogram and
 * drl_images_encoded_total. */
void drl_metrics_batch(drl_metrics *m, int size);
/* drl_samples_generated_total += n. */
void drl_metrics_samples(drl_metrics *m, int n);
/* drl_model_reloads_total{result="ok"|"error"}. */
void drl_metrics_reload(drl_metrics *m, int ok);

/* Malloc'd text (caller frees); NULL when out of memory. Adds process gauges (resident memory
 * from /proc/self/statm, start time). */
char *drl_metrics_render(drl_metrics *m, const drl_metrics_gauges *g, size_t *len);

#endif
