/* image.c — an IMAGE of the API (docs/api.md) into a float image of the model's shape.
 *
 * Two forms: {"png": base64} and {"pixels": [C·H·W numbers in [0, 1]], "width", "height",
 * "channels"}. PNG width and height are read from the IHDR before anything is decoded: too
 * large for the server's limit, or not the model's size, is a 422 without decoding a byte of
 * pixel data (drl_png_decode checks the same limits again as a second line). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "codec.h"
#include "png.h"
#include "request.h"

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int drl_proto_image_from_png(drl_proto_error *e, const uint8_t *png, size_t n,
                             const drl_proto_model *m, const drl_proto_limits *lim,
                             const char *where, float *dst) {
    drl_proto_limits L = drl_proto_limits_resolve(lim);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /* A header that does not parse is left to drl_png_decode, which names the problem. */
    if (png && n >= 24 && memcmp(png, sig, 8) == 0 && memcmp(png + 12, "IHDR", 4) == 0) {
        uint32_t w = be32(png + 16), h = be32(png + 20);
        if (w > (uint32_t)L.max_side || h > (uint32_t)L.max_side)
            return drl_proto_errorf(e, 422, "invalid_input",
                                    "%s: PNG is %ux%u, over the limit of %d pixels per side",
                                    where, w, h, L.max_side);
        if (w && h && (w != (uint32_t)m->W || h != (uint32_t)m->H))
            return drl_proto_errorf(e, 422, "invalid_input",
                                    "%s: image is %ux%u (width x height), the model takes %dx%d",
                                    where, w, h, m->W, m->H);
    }
    drl_png_limits pl = {(uint32_t)L.max_side, (uint32_t)L.max_side,
                         (uint64_t)L.max_side * (uint64_t)L.max_side};
    drl_err err = {0};
    float *img = NULL;
    int C, H, W;
    if (drl_png_decode(&err, png, n, m->C, &pl, &img, &C, &H, &W)) {
        drl_err_prefix(&err, "%s", where);
        return drl_proto_error_from(e, &err, "bad_png", 422);
    }
    if (C != m->C || H != m->H || W != m->W) {
        free(img);
        return drl_proto_errorf(e, 422, "invalid_input",
                                "%s: image is %dx%d (width x height), the model takes %dx%d", where,
                                W, H, m->W, m->H);
    }
    memcpy(dst, img, (size_t)C * H * W * sizeof(float));
    free(img);
    return 0;
}

static int from_base64(drl_proto_error *e, const json_t *v, const drl_proto_model *m,
                       const drl_proto_limits *lim, const char *field, float *dst) {
    const char *s;
    size_t len;
    if (drl_proto_json_string(e, v, field, &s, &len)) return -1;
    drl_err err = {0};
    uint8_t *bytes;
    size_t nb;
    if (drl_base64_decode(&err, s, len, SIZE_MAX, &bytes, &nb)) {
        drl_err_prefix(&err, "%s", field);
        return drl_proto_error_from(e, &err, "bad_base64", 422);
    }
    int rc = drl_proto_image_from_png(e, bytes, nb, m, lim, field, dst);
    free(bytes);
    return rc;
}

/* channels / height / width must be given and equal the model's. */
static int check_dim(drl_proto_error *e, const json_t *obj, const char *where, const char *key,
                     int want, const drl_proto_model *m) {
    char field[160];
    drl_proto_field(field, sizeof field, where, key);
    long long v;
    if (drl_proto_json_int(e, json_object_get(obj, key), field, 1, 1 << 30, &v)) return -1;
    if (v != want)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "%s: %lld, the model takes %d (channels x height x width %dx%dx%d)",
                                field, v, want, m->C, m->H, m->W);
    return 0;
}

static int from_pixels(drl_proto_error *e, const json_t *obj, const drl_proto_model *m,
                       const char *where, float *dst) {
    if (check_dim(e, obj, where, "channels", m->C, m) || check_dim(e, obj, where, "height", m->H, m) ||
        check_dim(e, obj, where, "width", m->W, m))
        return -1;
    char field[160];
    drl_proto_field(field, sizeof field, where, "pixels");
    const json_t *px = json_object_get(obj, "pixels");
    size_t count, want = (size_t)m->C * m->H * m->W;
    if (drl_proto_json_array(e, px, field, &count)) return -1;
    if (count != want)
        return drl_proto_errorf(e, 422, "invalid_input", "%s: expected %zu numbers (%dx%dx%d), got %zu",
                                field, want, m->C, m->H, m->W, count);
    for (size_t i = 0; i < count; i++) {
        const json_t *v = json_array_get(px, i);
        double x = json_is_number(v) ? json_number_value(v) : NAN;
        if (x >= 0.0 && x <= 1.0) {
            dst[i] = (float)x;
            continue;
        }
        if (!json_is_number(v))
            return drl_proto_errorf(e, 422, "invalid_input", "%s[%zu]: expected a number, got %s",
                                    field, i, drl_proto_json_type(v));
        return drl_proto_errorf(e, 422, "invalid_input", "%s[%zu]: value %g outside [0, 1]%s", field,
                                i, x, x > 1.0 ? " (scale 8-bit values by 1/255)" : "");
    }
    return 0;
}

int drl_proto_image_from_json(drl_proto_error *e, const void *json_obj, const drl_proto_model *m,
                              const drl_proto_limits *lim, const char *where, float *dst) {
    const json_t *obj = json_obj;
    if (!obj) return drl_proto_errorf(e, 422, "invalid_input", "%s: missing", where);
    if (!json_is_object(obj))
        return drl_proto_errorf(e, 422, "invalid_input",
                                "%s: expected an object with \"png\" or \"pixels\", got %s", where,
                                drl_proto_json_type(obj));
    const json_t *png = json_object_get(obj, "png"), *px = json_object_get(obj, "pixels");
    if (png && px)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "%s: give either \"png\" or \"pixels\", not both", where);
    if (png) {
        static const char *const keys[] = {"png", NULL};
        if (drl_proto_json_keys(e, obj, where, keys)) return -1;
        char field[160];
        drl_proto_field(field, sizeof field, where, "png");
        return from_base64(e, png, m, lim, field, dst);
    }
    if (px) {
        static const char *const keys[] = {"pixels", "width", "height", "channels", NULL};
        if (drl_proto_json_keys(e, obj, where, keys)) return -1;
        return from_pixels(e, obj, m, where, dst);
    }
    return drl_proto_errorf(e, 422, "invalid_input",
                            "%s: expected \"png\" (base64 PNG) or \"pixels\" with width, height, "
                            "channels", where);
}
