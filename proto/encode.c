/* encode.c — codecs of POST /v1/encode and POST /v1/trajectory (docs/api.md).
 *
 * Both turn images into latents: encode takes up to max_images images (JSON) or one PNG body and
 * answers one embedding each; trajectory takes one image and a time grid (explicit "times" or
 * "steps" evenly spaced over the model's [t_min, t_max]) and answers the latent at each time.
 * Counts are checked against the limits before the float images are allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jsonbuf.h"
#include "request.h"

/* Floats of n images of the model's shape, or NULL with e filled. */
static float *alloc_images(drl_proto_error *e, const drl_proto_model *m, size_t n) {
    size_t per = (size_t)m->C * m->H * m->W, total, bytes;
    if (drl_size_mul(per, n, &total) || drl_size_mul(total, sizeof(float), &bytes)) {
        drl_proto_errorf(e, 422, "invalid_input", "images: too many");
        return NULL;
    }
    float *x = malloc(bytes ? bytes : 1);
    if (!x) drl_proto_errorf(e, 503, "overloaded", "out of memory for %zu images", n);
    return x;
}

static void model_header(drl_proto_buf *b, const drl_proto_model *m) {
    drl_proto_buf_puts(b, "{\"model\":");
    drl_proto_buf_str(b, m->name);
    drl_proto_buf_puts(b, ",\"version\":");
    drl_proto_buf_str(b, m->version);
    drl_proto_buf_printf(b, ",\"dim\":%d", m->dim);
}

/* Rows of d floats: [[...],[...]] */
static void put_rows(drl_proto_buf *b, const float *z, int n, int d) {
    drl_proto_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        if (i) drl_proto_buf_puts(b, ",");
        drl_proto_buf_floats(b, z + (size_t)i * d, (size_t)d);
    }
    drl_proto_buf_puts(b, "]");
}

/* ---- /v1/encode ------------------------------------------------------------------------ */

int drl_proto_encode_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                           const drl_proto_model *m, const drl_proto_limits *lim,
                           drl_proto_encode_req *out) {
    memset(out, 0, sizeof *out);
    out->t = m->t_min;
    static const char *const media_ok[] = {"application/json", "image/png"};
    int kind = drl_proto_media_pick(e, media, media_ok, 2);
    if (kind < 0) return -1;
    drl_proto_limits L = drl_proto_limits_resolve(lim);

    if (kind == 1) {
        if (!(out->x = alloc_images(e, m, 1))) return -1;
        if (drl_proto_image_from_png(e, body, n, m, &L, "body", out->x)) {
            drl_proto_encode_req_release(out);
            return -1;
        }
        out->n = 1;
        out->single = 1;
        return 0;
    }

    json_t *root = drl_proto_json_load(e, body, n);
    if (!root) return -1;
    static const char *const keys[] = {"images", "t", NULL};
    int rc = -1;
    size_t count;
    if (drl_proto_json_keys(e, root, "", keys)) goto done;
    json_t *t = json_object_get(root, "t");
    if (t) {
        if (!m->time_cond) {
            drl_proto_errorf(e, 422, "not_time_conditioned",
                             "t: model %s has no time-conditioned encoder (leave \"t\" out)",
                             m->name);
            goto done;
        }
        if (drl_proto_json_float(e, t, "t", m->t_eps, 1.0f, 0, &out->t)) goto done;
        out->has_t = 1;
    }
    json_t *images = json_object_get(root, "images");
    if (drl_proto_json_array(e, images, "images", &count)) goto done;
    if (count == 0) {
        drl_proto_errorf(e, 422, "invalid_input", "images: empty (send 1 to %d images)",
                         L.max_images);
        goto done;
    }
    if (count > (size_t)L.max_images) {
        drl_proto_errorf(e, 422, "invalid_input", "images: %zu images, the limit is %d", count,
                         L.max_images);
        goto done;
    }
    if (!(out->x = alloc_images(e, m, count))) goto done;
    size_t per = (size_t)m->C * m->H * m->W;
    for (size_t i = 0; i < count; i++) {
        char where[32];
        snprintf(where, sizeof where, "images[%zu]", i);
        if (drl_proto_image_from_json(e, json_array_get(images, i), m, &L, where, out->x + i * per))
            goto done;
    }
    out->n = (int)count;
    rc = 0;
done:
    json_decref(root);
    if (rc) drl_proto_encode_req_release(out);
    return rc;
}

void drl_proto_encode_req_release(drl_proto_encode_req *r) {
    if (!r) return;
    free(r->x);
    r->x = NULL;
    r->n = 0;
}

char *drl_proto_encode_response(const drl_proto_model *m, const float *z, int n, int single,
                                size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 128 + (size_t)(single ? n + 1 : n) * (size_t)m->dim * 14);
    model_header(&b, m);
    if (single && n >= 1) {
        drl_proto_buf_puts(&b, ",\"embedding\":");
        drl_proto_buf_floats(&b, z, (size_t)m->dim);
    }
    drl_proto_buf_puts(&b, ",\"embeddings\":");
    put_rows(&b, z, n, m->dim);
    drl_proto_buf_puts(&b, "}");
    return drl_proto_buf_finish(&b, len);
}

/* ---- /v1/trajectory -------------------------------------------------------------------- */

#define TRAJECTORY_DEFAULT_STEPS 16

/* K times evenly spaced over [t_min, t_max], ascending (K = 1: t_min). */
static void even_times(float *times, int K, float t_min, float t_max) {
    for (int k = 0; k < K; k++)
        times[k] = K == 1 ? t_min
                          : (float)((double)t_min + ((double)t_max - t_min) * k / (K - 1));
    if (K > 1) times[K - 1] = t_max;
}

/* The JSON form: {"image", "times" | "steps"}; the grid is checked before anything is allocated. */
static int trajectory_json(drl_proto_error *e, const json_t *root, const drl_proto_model *m,
                           const drl_proto_limits *L, drl_proto_trajectory_req *out) {
    static const char *const keys[] = {"image", "times", "steps", NULL};
    const json_t *times = json_object_get(root, "times"), *steps = json_object_get(root, "steps");
    int K = TRAJECTORY_DEFAULT_STEPS < L->max_times ? TRAJECTORY_DEFAULT_STEPS : L->max_times;
    if (drl_proto_json_keys(e, root, "", keys)) return -1;
    if (times && steps)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "give either \"times\" or \"steps\", not both");
    if (times) {
        size_t count;
        if (drl_proto_json_array(e, times, "times", &count)) return -1;
        if (count == 0 || count > (size_t)L->max_times)
            return drl_proto_errorf(e, 422, "invalid_input", "times: %zu times, expected 1 to %d",
                                    count, L->max_times);
        K = (int)count;
    } else if (steps) {
        long long k;
        if (drl_proto_json_int(e, steps, "steps", 1, L->max_times, &k)) return -1;
        K = (int)k;
    }
    if (!(out->times = malloc((size_t)K * sizeof(float))))
        return drl_proto_errorf(e, 503, "overloaded", "out of memory");
    if (times) {
        for (int k = 0; k < K; k++) {
            char field[32];
            snprintf(field, sizeof field, "times[%d]", k);
            if (drl_proto_json_float(e, json_array_get(times, (size_t)k), field, m->t_eps, 1.0f, 0,
                                     &out->times[k]))
                return -1;
        }
    } else {
        even_times(out->times, K, m->t_min, m->t_max);
    }
    if (!(out->x = alloc_images(e, m, 1))) return -1;
    if (drl_proto_image_from_json(e, json_object_get(root, "image"), m, L, "image", out->x))
        return -1;
    out->K = K;
    return 0;
}

int drl_proto_trajectory_parse(drl_proto_error *e, const char *media, const uint8_t *body,
                               size_t n, const drl_proto_model *m, const drl_proto_limits *lim,
                               drl_proto_trajectory_req *out) {
    memset(out, 0, sizeof *out);
    if (!m->time_cond)
        return drl_proto_errorf(e, 422, "not_time_conditioned",
                                "model %s has no time-conditioned encoder: its latents do not "
                                "depend on t", m->name);
    static const char *const media_ok[] = {"application/json", "image/png"};
    int kind = drl_proto_media_pick(e, media, media_ok, 2);
    if (kind < 0) return -1;
    drl_proto_limits L = drl_proto_limits_resolve(lim);
    int rc = -1;
    if (kind == 1) { /* one PNG: the default grid */
        int K = TRAJECTORY_DEFAULT_STEPS < L.max_times ? TRAJECTORY_DEFAULT_STEPS : L.max_times;
        if (!(out->x = alloc_images(e, m, 1))) goto done;
        if (!(out->times = malloc((size_t)K * sizeof(float)))) {
            drl_proto_errorf(e, 503, "overloaded", "out of memory");
            goto done;
        }
        if (drl_proto_image_from_png(e, body, n, m, &L, "body", out->x)) goto done;
        even_times(out->times, K, m->t_min, m->t_max);
        out->K = K;
        rc = 0;
    } else {
        json_t *root = drl_proto_json_load(e, body, n);
        if (root) rc = trajectory_json(e, root, m, &L, out);
        json_decref(root);
    }
done:
    if (rc) drl_proto_trajectory_req_release(out);
    return rc;
}

void drl_proto_trajectory_req_release(drl_proto_trajectory_req *r) {
    if (!r) return;
    free(r->x);
    free(r->times);
    r->x = NULL;
    r->times = NULL;
    r->K = 0;
}

char *drl_proto_trajectory_response(const drl_proto_model *m, const float *times, const float *z,
                                    int K, size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 128 + (size_t)K * ((size_t)m->dim + 1) * 14);
    model_header(&b, m);
    drl_proto_buf_puts(&b, ",\"times\":");
    drl_proto_buf_floats(&b, times, (size_t)K);
    drl_proto_buf_puts(&b, ",\"latents\":");
    put_rows(&b, z, K, m->dim);
    drl_proto_buf_puts(&b, "}");
    return drl_proto_buf_finish(&b, len);
}
