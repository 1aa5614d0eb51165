/* oip.c — the Open Inference Protocol v2 subset (docs/api.md): infer request and response, model
 * and server metadata.
 *
 * One input per request: "input" (FP32, shape [N, C, H, W], data flat or nested to any depth —
 * only the element count must equal the product of the shape) or "png" (BYTES, shape [N], data
 * N base64 PNG strings). N is checked against max_images before the images are allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "codec.h"
#include "jsonbuf.h"
#include "request.h"

/* Walks FP32 data (numbers or nested arrays) in order, storing up to `want` values and counting
 * all of them. The path names the element in messages ("inputs[0].data[1][3]"). */
typedef struct {
    drl_proto_error *e;
    float *dst;
    size_t want, got;
    char path[256];
} fp32_walk;

static int walk(fp32_walk *w, const json_t *v, size_t plen) {
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            size_t room = sizeof w->path - plen;
            int k = snprintf(w->path + plen, room, "[%zu]", i);
            size_t next = k < 0 || (size_t)k >= room ? plen : plen + (size_t)k;
            if (walk(w, json_array_get(v, i), next)) return -1;
        }
        w->path[plen] = '\0';
        return 0;
    }
    w->path[plen] = '\0';
    if (!json_is_number(v))
        return drl_proto_errorf(w->e, 422, "invalid_input", "%s: expected a number, got %s",
                                w->path, drl_proto_json_type(v));
    double x = json_number_value(v);
    if (!(x >= 0.0 && x <= 1.0))
        return drl_proto_errorf(w->e, 422, "invalid_input", "%s: value %g outside [0, 1]%s",
                                w->path, x, x > 1.0 ? " (scale 8-bit values by 1/255)" : "");
    if (w->got < w->want) w->dst[w->got] = (float)x;
    w->got++;
    return 0;
}

/* shape: an array of `rank` integers >= 1 into dims. */
static int parse_shape(drl_proto_error *e, const json_t *v, const char *field, int rank,
                       long long *dims) {
    size_t count;
    if (drl_proto_json_array(e, v, field, &count)) return -1;
    if (count != (size_t)rank)
        return drl_proto_errorf(e, 422, "invalid_input", "%s: expected %d dimension%s (%s), got %zu",
                                field, rank, rank == 1 ? "" : "s", rank == 1 ? "[N]" : "[N, C, H, W]",
                                count);
    for (int i = 0; i < rank; i++) {
        char f[96];
        snprintf(f, sizeof f, "%s[%d]", field, i);
        if (drl_proto_json_int(e, json_array_get(v, (size_t)i), f, 1, 1LL << 40, &dims[i]))
            return -1;
    }
    return 0;
}

static int check_n(drl_proto_error *e, const char *field, long long N, const drl_proto_limits *L) {
    if (N > L->max_images)
        return drl_proto_errorf(e, 422, "invalid_input", "%s[0]: %lld images, the limit is %d", field,
                                N, L->max_images);
    return 0;
}

static float *alloc_images(drl_proto_error *e, const drl_proto_model *m, long long N) {
    float *x = malloc((size_t)N * m->C * m->H * m->W * sizeof(float)); /* N <= max_images */
    if (!x) drl_proto_errorf(e, 503, "overloaded", "out of memory for %lld images", N);
    return x;
}

static int parse_fp32(drl_proto_error *e, const json_t *in, const drl_proto_model *m,
                      const drl_proto_limits *L, drl_proto_oip_req *out) {
    long long d[4];
    if (parse_shape(e, json_object_get(in, "shape"), "inputs[0].shape", 4, d)) return -1;
    if (d[1] != m->C || d[2] != m->H || d[3] != m->W)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "inputs[0].shape: [%lld, %lld, %lld, %lld] does not match the "
                                "model's [N, %d, %d, %d]", d[0], d[1], d[2], d[3], m->C, m->H, m->W);
    if (check_n(e, "inputs[0].shape", d[0], L)) return -1;
    const json_t *data = json_object_get(in, "data");
    size_t count;
    if (drl_proto_json_array(e, data, "inputs[0].data", &count)) return -1;
    if (!(out->x = alloc_images(e, m, d[0]))) return -1;
    fp32_walk w = {.e = e, .dst = out->x, .want = (size_t)d[0] * m->C * m->H * m->W};
    snprintf(w.path, sizeof w.path, "inputs[0].data");
    if (walk(&w, data, strlen(w.path))) return -1;
    if (w.got != w.want)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "inputs[0].data: expected %zu numbers (shape [%lld, %d, %d, %d]), "
                                "got %zu", w.want, d[0], m->C, m->H, m->W, w.got);
    out->n = (int)d[0];
    return 0;
}

static int parse_bytes(drl_proto_error *e, const json_t *in, const drl_proto_model *m,
                       const drl_proto_limits *L, drl_proto_oip_req *out) {
    long long N;
    if (parse_shape(e, json_object_get(in, "shape"), "inputs[0].shape", 1, &N)) return -1;
    if (check_n(e, "inputs[0].shape", N, L)) return -1;
    const json_t *data = json_object_get(in, "data");
    size_t count;
    if (drl_proto_json_array(e, data, "inputs[0].data", &count)) return -1;
    if (count != (size_t)N)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "inputs[0].data: expected %lld base64 PNG strings (shape [%lld]), "
                                "got %zu", N, N, count);
    if (!(out->x = alloc_images(e, m, N))) return -1;
    size_t per = (size_t)m->C * m->H * m->W;
    for (size_t i = 0; i < count; i++) {
        char field[48];
        snprintf(field, sizeof field, "inputs[0].data[%zu]", i);
        const char *s;
        size_t len;
        if (drl_proto_json_string(e, json_array_get(data, i), field, &s, &len)) return -1;
        drl_err err = {0};
        uint8_t *png;
        size_t np;
        if (drl_base64_decode(&err, s, len, SIZE_MAX, &png, &np)) {
            drl_err_prefix(&err, "%s", field);
            return drl_proto_error_from(e, &err, "bad_base64", 422);
        }
        int rc = drl_proto_image_from_png(e, png, np, m, L, field, out->x + i * per);
        free(png);
        if (rc) return -1;
    }
    out->n = (int)N;
    return 0;
}

/* OIP lets a request name the outputs it wants; the only one is "embedding". */
static int check_outputs(drl_proto_error *e, const json_t *v) {
    size_t count;
    if (drl_proto_json_array(e, v, "outputs", &count)) return -1;
    for (size_t i = 0; i < count; i++) {
        char field[48];
        snprintf(field, sizeof field, "outputs[%zu]", i);
        const json_t *o = json_array_get(v, i);
        if (!json_is_object(o))
            return drl_proto_errorf(e, 422, "invalid_input", "%s: expected an object, got %s",
                                    field, drl_proto_json_type(o));
        const char *name;
        strcat(field, ".name");
        if (drl_proto_json_string(e, json_object_get(o, "name"), field, &name, NULL)) return -1;
        if (strcmp(name, "embedding") != 0)
            return drl_proto_errorf(e, 422, "invalid_input",
                                    "%s: unknown output \"%.64s\" (the model has embedding)", field,
                                    name);
    }
    return 0;
}

int drl_proto_oip_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                        const drl_proto_model *m, const drl_proto_limits *lim,
                        drl_proto_oip_req *out) {
    memset(out, 0, sizeof *out);
    static const char *const media_ok[] = {"application/json"};
    if (drl_proto_media_pick(e, media, media_ok, 1) < 0) return -1;
    drl_proto_limits L = drl_proto_limits_resolve(lim);
    json_t *root = drl_proto_json_load(e, body, n);
    if (!root) return -1;
    static const char *const keys[] = {"id", "inputs", "outputs", "parameters", NULL};
    static const char *const in_keys[] = {"name", "shape", "datatype", "data", "parameters", NULL};
    int rc = -1;
    const json_t *v, *inputs = json_object_get(root, "inputs"), *in;
    size_t count;
    const char *name, *dtype;
    if (drl_proto_json_keys(e, root, "", keys)) goto done;
    if ((v = json_object_get(root, "id"))) {
        const char *id;
        if (drl_proto_json_string(e, v, "id", &id, NULL)) goto done;
        if (!(out->id = strdup(id))) {
            drl_proto_errorf(e, 503, "overloaded", "out of memory");
            goto done;
        }
    }
    if ((v = json_object_get(root, "parameters")) && !json_is_object(v)) {
        drl_proto_errorf(e, 422, "invalid_input", "parameters: expected an object, got %s",
                         drl_proto_json_type(v));
        goto done;
    }
    if ((v = json_object_get(root, "outputs")) && check_outputs(e, v)) goto done;
    if (drl_proto_json_array(e, inputs, "inputs", &count)) goto done;
    if (count != 1) {
        drl_proto_errorf(e, 422, "invalid_input",
                         "inputs: expected exactly 1 input (\"input\" or \"png\"), got %zu", count);
        goto done;
    }
    in = json_array_get(inputs, 0);
    if (!json_is_object(in)) {
        drl_proto_errorf(e, 422, "invalid_input", "inputs[0]: expected an object, got %s",
                         drl_proto_json_type(in));
        goto done;
    }
    if (drl_proto_json_keys(e, in, "inputs[0]", in_keys)) goto done;
    if ((v = json_object_get(in, "parameters")) && !json_is_object(v)) {
        drl_proto_errorf(e, 422, "invalid_input", "inputs[0].parameters: expected an object, got %s",
                         drl_proto_json_type(v));
        goto done;
    }
    if (drl_proto_json_string(e, json_object_get(in, "name"), "inputs[0].name", &name, NULL) ||
        drl_proto_json_string(e, json_object_get(in, "datatype"), "inputs[0].datatype", &dtype,
                              NULL))
        goto done;
    int is_png = strcmp(name, "png") == 0;
    if (!is_png && strcmp(name, "input") != 0) {
        drl_proto_errorf(e, 422, "invalid_input",
                         "inputs[0].name: unknown input \"%.64s\" (use input or png)", name);
        goto done;
    }
    const char *want = is_png ? "BYTES" : "FP32";
    if (strcmp(dtype, want) != 0) {
        drl_proto_errorf(e, 422, "invalid_input",
                         "inputs[0].datatype: \"%.32s\" not supported for %s (use %s)", dtype, name,
                         want);
        goto done;
    }
    if ((is_png ? parse_bytes : parse_fp32)(e, in, m, &L, out)) goto done;
    rc = 0;
done:
    json_decref(root);
    if (rc) drl_proto_oip_req_release(out);
    return rc;
}

void drl_proto_oip_req_release(drl_proto_oip_req *r) {
    if (!r) return;
    free(r->id);
    free(r->x);
    r->id = NULL;
    r->x = NULL;
    r->n = 0;
}

char *drl_proto_oip_response(const drl_proto_model *m, const drl_proto_oip_req *r, const float *z,
                             size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 256 + (size_t)r->n * (size_t)m->dim * 14);
    drl_proto_buf_puts(&b, "{\"model_name\":");
    drl_proto_buf_str(&b, m->name);
    drl_proto_buf_puts(&b, ",\"model_version\":");
    drl_proto_buf_str(&b, m->version);
    if (r->id) {
        drl_proto_buf_puts(&b, ",\"id\":");
        drl_proto_buf_str(&b, r->id);
    }
    drl_proto_buf_printf(&b, ",\"outputs\":[{\"name\":\"embedding\",\"datatype\":\"FP32\","
                             "\"shape\":[%d,%d],\"data\":", r->n, m->dim);
    drl_proto_buf_floats(&b, z, (size_t)r->n * (size_t)m->dim);
    drl_proto_buf_puts(&b, "}]}");
    return drl_proto_buf_finish(&b, len);
}

char *drl_proto_oip_model_metadata(const drl_proto_model *m, size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 512);
    drl_proto_buf_puts(&b, "{\"name\":");
    drl_proto_buf_str(&b, m->name);
    drl_proto_buf_puts(&b, ",\"versions\":[");
    drl_proto_buf_str(&b, m->version);
    drl_proto_buf_printf(&b, "],\"platform\":\"drl\",\"inputs\":[{\"name\":\"input\","
                             "\"datatype\":\"FP32\",\"shape\":[-1,%d,%d,%d]},{\"name\":\"png\","
                             "\"datatype\":\"BYTES\",\"shape\":[-1]}],\"outputs\":[{\"name\":"
                             "\"embedding\",\"datatype\":\"FP32\",\"shape\":[-1,%d]}]}",
                         m->C, m->H, m->W, m->dim);
    return drl_proto_buf_finish(&b, len);
}

char *drl_proto_oip_server_metadata(const char *drl_version, size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 128);
    drl_proto_buf_puts(&b, "{\"name\":\"drl\",\"version\":");
    drl_proto_buf_str(&b, drl_version);
    drl_proto_buf_puts(&b, ",\"extensions\":[]}");
    return drl_proto_buf_finish(&b, len);
}
