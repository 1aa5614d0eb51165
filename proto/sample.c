/* sample.c — codec of POST /v1/sample (docs/api.md): the request into a drl_sampler_cfg plus
 * either a conditioning image or a latent code, and the generated images back as base64 PNGs
 * or as one PNG grid (Accept: image/png).
 *
 * Defaults follow the API, not drl_sampler_defaults (whose step count suits offline sampling):
 * n 1, pc, 100 steps (or the server's cap if lower), seed 0, t_init 1, snr 0.16, denoise. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "codec.h"
#include "jsonbuf.h"
#include "png.h"
#include "request.h"

#define SAMPLE_DEFAULT_STEPS 100
#define SEED_MAX (1LL << 53) /* integers a JSON double holds exactly */
#define SNR_MAX 10.0f        /* drl_sampler_validate: snr in (0, 10) */
#define GRID_COLS 8
#define GRID_GUTTER 2

static int parse_code(drl_proto_error *e, const json_t *v, const drl_proto_model *m, float **out) {
    size_t count;
    if (drl_proto_json_array(e, v, "code", &count)) return -1;
    if (count != (size_t)m->dim)
        return drl_proto_errorf(e, 422, "invalid_input", "code: expected %d numbers, got %zu",
                                m->dim, count);
    float *c = malloc((count ? count : 1) * sizeof(float));
    if (!c) return drl_proto_errorf(e, 503, "overloaded", "out of memory");
    for (size_t i = 0; i < count; i++) {
        char field[32];
        snprintf(field, sizeof field, "code[%zu]", i);
        if (drl_proto_json_float(e, json_array_get(v, i), field, -FLT_MAX, FLT_MAX, 0, &c[i])) {
            free(c);
            return -1;
        }
    }
    *out = c;
    return 0;
}

/* The scalar parameters into cfg / n; absent ones keep their defaults. */
static int parse_params(drl_proto_error *e, const json_t *root, const drl_proto_model *m,
                        const drl_proto_limits *L, drl_proto_sample_req *r) {
    const json_t *v;
    long long k;
    if ((v = json_object_get(root, "n"))) {
        if (drl_proto_json_int(e, v, "n", 1, L->max_sample_n, &k)) return -1;
        r->n = (int)k;
    }
    if ((v = json_object_get(root, "sampler"))) {
        const char *s;
        if (drl_proto_json_string(e, v, "sampler", &s, NULL)) return -1;
        int kind = drl_sampler_parse(s);
        if (kind < 0)
            return drl_proto_errorf(e, 422, "invalid_input",
                                    "sampler: unknown \"%.32s\" (use ode, em or pc)", s);
        r->cfg.kind = (drl_sampler_kind)kind;
    }
    if ((v = json_object_get(root, "steps"))) {
        if (drl_proto_json_int(e, v, "steps", 1, L->max_sample_steps, &k)) return -1;
        r->cfg.steps = (int)k;
    }
    if ((v = json_object_get(root, "seed"))) {
        if (drl_proto_json_int(e, v, "seed", 0, SEED_MAX, &k)) return -1;
        r->cfg.seed = (uint64_t)k;
    }
    if ((v = json_object_get(root, "t_init"))) {
        if (drl_proto_json_float(e, v, "t_init", m->t_eps, 1.0f, 1, &r->cfg.t_init)) return -1;
    }
    if ((v = json_object_get(root, "snr"))) {
        double x;
        if (drl_proto_json_number(e, v, "snr", -DBL_MAX, DBL_MAX, 0, &x)) return -1;
        if (!(x > 0.0 && x < SNR_MAX) || !((float)x > 0.0f))
            return drl_proto_errorf(e, 422, "invalid_input", "snr: %g outside (0, %g)", x,
                                    (double)SNR_MAX);
        r->cfg.snr = (float)x;
    }
    if ((v = json_object_get(root, "denoise"))) {
        if (drl_proto_json_bool(e, v, "denoise", &r->cfg.denoise)) return -1;
    }
    return 0;
}

int drl_proto_sample_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                           const drl_proto_model *m, const drl_proto_limits *lim,
                           drl_proto_sample_req *out) {
    memset(out, 0, sizeof *out);
    static const char *const media_ok[] = {"application/json"};
    if (drl_proto_media_pick(e, media, media_ok, 1) < 0) return -1;
    drl_proto_limits L = drl_proto_limits_resolve(lim);
    out->n = 1;
    out->cfg = drl_sampler_defaults();
    out->cfg.kind = DRL_SAMPLER_PC;
    out->cfg.steps = SAMPLE_DEFAULT_STEPS < L.max_sample_steps ? SAMPLE_DEFAULT_STEPS
                                                               : L.max_sample_steps;
    out->cfg.seed = 0;
    out->cfg.t_init = 1.0f;
    out->cfg.snr = 0.16f;
    out->cfg.denoise = 1;
    out->cfg.corrector_steps = 1;

    json_t *root = drl_proto_json_load(e, body, n);
    if (!root) return -1;
    static const char *const keys[] = {"image", "code", "n", "sampler", "steps",
                                       "seed", "t_init", "snr", "denoise", NULL};
    const json_t *image = json_object_get(root, "image"), *code = json_object_get(root, "code");
    int rc = -1;
    if (drl_proto_json_keys(e, root, "", keys)) goto done;
    if (image && code) {
        drl_proto_errorf(e, 422, "invalid_input", "give either \"image\" or \"code\", not both");
        goto done;
    }
    if (!image && !code) {
        drl_proto_errorf(e, 422, "invalid_input",
                         "missing \"image\" or \"code\" (what to condition the samples on)");
        goto done;
    }
    if (parse_params(e, root, m, &L, out)) goto done;
    if (out->cfg.t_init < 1.0f && !image) {
        drl_proto_errorf(e, 422, "invalid_input",
                         "t_init: %g below 1 needs \"image\" (sampling starts from that image "
                         "noised to t_init)", (double)out->cfg.t_init);
        goto done;
    }
    if (code) {
        if (parse_code(e, code, m, &out->code)) goto done;
    } else {
        size_t per = (size_t)m->C * m->H * m->W;
        if (!(out->x0 = malloc(per * sizeof(float)))) {
            drl_proto_errorf(e, 503, "overloaded", "out of memory");
            goto done;
        }
        if (drl_proto_image_from_json(e, image, m, &L, "image", out->x0)) goto done;
    }
    rc = 0;
done:
    json_decref(root);
    if (rc) drl_proto_sample_req_release(out);
    return rc;
}

void drl_proto_sample_req_release(drl_proto_sample_req *r) {
    if (!r) return;
    free(r->x0);
    free(r->code);
    r->x0 = NULL;
    r->code = NULL;
}

char *drl_proto_sample_response(drl_proto_error *e, const drl_proto_model *m,
                                const drl_proto_sample_req *r, const float *imgs, size_t *len) {
    size_t per = (size_t)m->C * m->H * m->W;
    drl_proto_buf b;
    drl_proto_buf_init(&b, 256 + (size_t)r->n * per * 2);
    drl_proto_buf_puts(&b, "{\"model\":");
    drl_proto_buf_str(&b, m->name);
    drl_proto_buf_puts(&b, ",\"version\":");
    drl_proto_buf_str(&b, m->version);
    drl_proto_buf_printf(&b, ",\"n\":%d,\"sampler\":\"%s\",\"steps\":%d,\"seed\":%llu,\"images\":[",
                         r->n, drl_sampler_name(r->cfg.kind), r->cfg.steps,
                         (unsigned long long)r->cfg.seed);
    for (int i = 0; i < r->n; i++) {
        drl_err err = {0};
        uint8_t *png;
        size_t np;
        if (drl_png_encode(&err, imgs + (size_t)i * per, m->C, m->H, m->W, &png, &np)) {
            drl_err_prefix(&err, "images[%d]", i);
            drl_proto_errorf(e, 500, "internal", "%s", err.msg);
            free(drl_proto_buf_finish(&b, NULL));
            return NULL;
        }
        char *b64 = drl_base64_encode(png, np, NULL);
        free(png);
        if (!b64) {
            drl_proto_errorf(e, 503, "overloaded", "out of memory");
            free(drl_proto_buf_finish(&b, NULL));
            return NULL;
        }
        drl_proto_buf_puts(&b, i ? ",{\"png\":\"" : "{\"png\":\"");
        drl_proto_buf_puts(&b, b64); /* the base64 alphabet needs no escaping */
        drl_proto_buf_puts(&b, "\"}");
        free(b64);
    }
    drl_proto_buf_puts(&b, "]}");
    char *s = drl_proto_buf_finish(&b, len);
    if (!s) drl_proto_errorf(e, 503, "overloaded", "out of memory");
    return s;
}

int drl_proto_sample_grid_png(drl_proto_error *e, const float *imgs, int n, int C, int H, int W,
                              uint8_t **png, size_t *len) {
    *png = NULL;
    *len = 0;
    if (n < 1 || C < 1 || H < 1 || W < 1)
        return drl_proto_errorf(e, 500, "internal", "sample grid: bad shape %dx%dx%dx%d", n, C, H, W);
    int cols = n < GRID_COLS ? n : GRID_COLS, rows = (n + GRID_COLS - 1) / GRID_COLS;
    size_t GW = (size_t)cols * W + (size_t)(cols - 1) * GRID_GUTTER;
    size_t GH = (size_t)rows * H + (size_t)(rows - 1) * GRID_GUTTER;
    size_t plane, total;
    if (GW > 0x7fffffff || GH > 0x7fffffff || drl_size_mul(GW, GH, &plane) ||
        drl_size_mul(plane, (size_t)C, &total) || total > SIZE_MAX / sizeof(float))
        return drl_proto_errorf(e, 500, "internal", "sample grid: too large");
    float *g = calloc(total, sizeof(float)); /* zeros: black gutters */
    if (!g) return drl_proto_errorf(e, 503, "overloaded", "out of memory for the sample grid");
    for (int i = 0; i < n; i++) {
        size_t x0 = (size_t)(i % GRID_COLS) * (W + GRID_GUTTER);
        size_t y0 = (size_t)(i / GRID_COLS) * (H + GRID_GUTTER);
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                memcpy(g + c * plane + (y0 + y) * GW + x0,
                       imgs + (((size_t)i * C + c) * H + y) * W, (size_t)W * sizeof(float));
    }
    drl_err err = {0};
    int rc = drl_png_encode(&err, g, C, (int)GH, (int)GW, png, len);
    free(g);
    if (rc)
        return drl_proto_errorf(e, rc == DRL_ENOMEM ? 503 : 500,
                                rc == DRL_ENOMEM ? "overloaded" : "internal", "sample grid: %s",
                                err.msg);
    return 0;
}
