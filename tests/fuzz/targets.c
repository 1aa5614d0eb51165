/* targets.c — the bodies of the fuzz targets (targets.h).
 *
 * A parser passes a fuzz input when it either refuses it cleanly (an error status, a message, no
 * output, nothing leaked) or accepts it and keeps its promises: the documented shape and value
 * ranges, and where the module has a writer, write → read gives back exactly what was read. The
 * codecs' error and response bodies must be valid JSON whatever the client sent, and a request
 * may be refused only with a 4xx (or 503 when memory runs out), never a 500. Limits are small so
 * each input runs in well under a millisecond and a decompression bomb stops early. */
#define _GNU_SOURCE /* memfd_create */
#include "targets.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "base64.h"
#include "codec.h"
#include "idx.h"
#include "job.h"
#include "npy.h"
#include "png.h"
#include "safetensors.h"
#include "upload.h"

/* A broken promise: one line naming it, then abort() so the fuzzer keeps the input. */
#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) fail(__LINE__, #cond);                                                      \
    } while (0)

static void fail(int line, const char *what) {
    fprintf(stderr, "fuzz: targets.c:%d: check failed: %s\n", line, what);
    abort();
}

static void check_unit(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) CHECK(x[i] >= 0.0f && x[i] <= 1.0f);
}

/* Reads every value, so a buffer shorter than promised is an ASan report here and not in some
 * caller later. */
static void touch(const float *x, size_t n) {
    volatile uint32_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        sink ^= u;
    }
    (void)sink;
}

/* A response or error body: a JSON object of exactly len bytes. */
static void check_json(const char *s, size_t len) {
    CHECK(s != NULL);
    CHECK(strlen(s) == len);
    json_error_t je;
    json_t *j = json_loadb(s, len, 0, &je);
    CHECK(j != NULL && json_is_object(j));
    json_decref(j);
}

/* A refused request: a client status, a code, a message, and both error bodies valid JSON. */
static void check_error(const drl_proto_error *e) {
    CHECK((e->status >= 400 && e->status < 500) || e->status == 503);
    CHECK(e->code[0] != '\0' && e->message[0] != '\0');
    size_t len;
    char *s = drl_proto_error_json(e, &len);
    check_json(s, len);
    free(s);
    s = drl_proto_error_json_oip(e, &len);
    check_json(s, len);
    free(s);
}

/* ------------------------------------------------------------------------------------------ */
/* PNG */

static const drl_png_limits PNG_LIM = {256, 256, 256 * 256};

/* The encoder's rounding (core/png.c), to predict the round trip exactly. */
static uint8_t to_u8(float v) {
    if (!(v > 0.0f)) return 0;
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

static void png_check(const uint8_t *data, size_t n) {
    drl_err err = {0};
    float *img;
    int C, H, W;
    if (drl_png_decode(&err, data, n, 0, &PNG_LIM, &img, &C, &H, &W)) {
        CHECK(img == NULL && err.msg[0] != '\0');
        return;
    }
    CHECK((C == 1 || C == 3) && H >= 1 && H <= 256 && W >= 1 && W <= 256);
    size_t plane = (size_t)H * (size_t)W, count = plane * (size_t)C;
    check_unit(img, count);
    /* The same bytes as 1 and as 3 channels (luma, replicated gray); the image's own count
     * gives exactly what channels 0 gave. */
    for (int want = 1; want <= 3; want += 2) {
        float *o;
        int c, h, w;
        CHECK(drl_png_decode(&err, data, n, want, &PNG_LIM, &o, &c, &h, &w) == 0);
        CHECK(c == want && h == H && w == W);
        check_unit(o, plane * (size_t)want);
        if (want == C) CHECK(memcmp(o, img, count * sizeof(float)) == 0);
        free(o);
    }
    /* Encode → decode: 8-bit samples, rounded as the encoder documents. */
    uint8_t *png;
    size_t pn;
    CHECK(drl_png_encode(&err, img, C, H, W, &png, &pn) == 0);
    float *back;
    int c2, h2, w2;
    CHECK(drl_png_decode(&err, png, pn, 0, &PNG_LIM, &back, &c2, &h2, &w2) == 0);
    CHECK(c2 == C && h2 == H && w2 == W);
    for (size_t i = 0; i < count; i++) CHECK(back[i] == (float)(to_u8(img[i]) / 255.0));
    free(back);
    free(png);
    free(img);
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A copy of the input with every chunk's CRC recomputed, or NULL when none changed. libpng is not
 * instrumented, so the fuzzer cannot learn CRCs, and without this nearly every mutation of chunk
 * data would stop at libpng's CRC check instead of reaching the decoder and our conversions. */
static uint8_t *png_fix_crcs(const uint8_t *data, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    CHECK(c != NULL);
    memcpy(c, data, n);
    int changed = 0;
    for (size_t off = 8; n >= 8 && n - off >= 12;) {
        uint32_t len = be32(c + off);
        if (len > n - off - 12) break;
        uint32_t crc = (uint32_t)crc32(0, c + off + 4, len + 4);
        uint8_t *p = c + off + 8 + len;
        if (be32(p) != crc) {
            p[0] = (uint8_t)(crc >> 24);
            p[1] = (uint8_t)(crc >> 16);
            p[2] = (uint8_t)(crc >> 8);
            p[3] = (uint8_t)crc;
            changed = 1;
        }
        off += 12 + (size_t)len;
    }
    if (!changed) {
        free(c);
        return NULL;
    }
    return c;
}

void drl_fuzz_png(const uint8_t *data, size_t n) {
    png_check(data, n);
    uint8_t *fixed = png_fix_crcs(data, n);
    if (fixed) png_check(fixed, n);
    free(fixed);
}

/* ------------------------------------------------------------------------------------------ */
/* safetensors */

void drl_fuzz_safetensors(const uint8_t *data, size_t n) {
    drl_err err = {0};
    drl_safetensors *st;
    if (drl_safetensors_parse(&err, data, n, &st)) {
        CHECK(st == NULL && err.msg[0] != '\0');
        return;
    }
    drl_st_entry *ents = calloc(st->n_tensors + 1, sizeof *ents);
    const char **meta = calloc(2 * st->n_meta + 1, sizeof *meta);
    CHECK(ents != NULL && meta != NULL);
    for (size_t i = 0; i < st->n_tensors; i++) {
        const drl_st_tensor *t = &st->tensors[i];
        CHECK(t->ndim >= 0 && t->ndim <= DRL_ST_MAX_DIMS);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] >= 0);
            numel *= (size_t)t->shape[d];
        }
        CHECK(numel == t->numel);
        CHECK(drl_safetensors_find(st, t->name) == t);
        touch(t->data, t->numel);
        ents[i] = (drl_st_entry){t->name, t->data, t->ndim, t->shape};
    }
    for (size_t i = 0; i < st->n_meta; i++) {
        CHECK(drl_safetensors_meta(st, st->meta_keys[i]) == st->meta_vals[i]);
        meta[2 * i] = st->meta_keys[i];
        meta[2 * i + 1] = st->meta_vals[i];
    }
    /* What was read, written back as F32, reads back bit for bit. */
    uint8_t *buf;
    size_t len;
    CHECK(drl_safetensors_serialize(&err, ents, st->n_tensors, meta, st->n_meta, &buf, &len) == 0);
    drl_safetensors *st2;
    CHECK(drl_safetensors_parse(&err, buf, len, &st2) == 0);
    CHECK(st2->n_tensors == st->n_tensors && st2->n_meta == st->n_meta);
    for (size_t i = 0; i < st->n_tensors; i++) {
        const drl_st_tensor *a = &st->tensors[i], *b = drl_safetensors_find(st2, a->name);
        CHECK(b != NULL && strcmp(b->dtype, "F32") == 0);
        CHECK(b->ndim == a->ndim && b->numel == a->numel);
        CHECK(memcmp(b->shape, a->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0);
        CHECK(a->numel == 0 || memcmp(b->data, a->data, a->numel * sizeof(float)) == 0);
    }
    for (size_t i = 0; i < st->n_meta; i++) {
        const char *v = drl_safetensors_meta(st2, st->meta_keys[i]);
        CHECK(v != NULL && strcmp(v, st->meta_vals[i]) == 0);
    }
    drl_safetensors_free(st2);
    free(buf);
    free(ents);
    free(meta);
    drl_safetensors_free(st);
}

/* ------------------------------------------------------------------------------------------ */
/* IDX */

#define IDX_CAP ((size_t)1 << 20)

void drl_fuzz_idx(const uint8_t *data, size_t n) {
    drl_err err = {0};
    drl_idx *idx;
    if (drl_idx_parse(&err, data, n, IDX_CAP, &idx)) {
        CHECK(idx == NULL && err.msg[0] != '\0');
        return;
    }
    CHECK(idx->ndim >= 1 && idx->ndim <= DRL_IDX_MAX_DIMS);
    CHECK(idx->type == 0x08 || idx->type == 0x09 || (idx->type >= 0x0B && idx->type <= 0x0E));
    size_t count = 1;
    for (int d = 0; d < idx->ndim; d++) count *= idx->dims[d];
    CHECK(count == idx->count && count <= IDX_CAP);
    touch(idx->data, idx->count);
    if (idx->type == 0x08)
        for (size_t i = 0; i < idx->count; i++)
            CHECK(idx->data[i] >= 0.0f && idx->data[i] <= 255.0f &&
                  idx->data[i] == floorf(idx->data[i]));
    drl_idx_free(idx);
}

/* ------------------------------------------------------------------------------------------ */
/* .npy: the reader takes a path, so inputs go through one memfd (a /dev/shm or /tmp file when
 * memfd_create is missing) opened once per process and rewritten per input. */

static int npy_fd = -1;
static char npy_path[64];

static void npy_open(void) {
    if (npy_fd >= 0) return;
    int fd = memfd_create("drl-fuzz-npy", MFD_CLOEXEC);
    if (fd < 0) {
        char shm[] = "/dev/shm/drl-fuzz-npy-XXXXXX", tmp[] = "/tmp/drl-fuzz-npy-XXXXXX";
        fd = mkstemp(shm);
        if (fd >= 0) unlink(shm);
        else if ((fd = mkstemp(tmp)) >= 0) unlink(tmp);
    }
    CHECK(fd >= 0);
    npy_fd = fd;
    snprintf(npy_path, sizeof npy_path, "/proc/self/fd/%d", fd);
}

static void npy_put(const uint8_t *data, size_t n) {
    CHECK(ftruncate(npy_fd, 0) == 0);
    for (size_t off = 0; off < n;) {
        ssize_t k = pwrite(npy_fd, data + off, n - off, (off_t)off);
        CHECK(k > 0);
        off += (size_t)k;
    }
}

void drl_fuzz_npy(const uint8_t *data, size_t n) {
    npy_open();
    npy_put(data, n);
    drl_err err = {0};
    float *x;
    size_t rows, cols;
    if (drl_npy_read(&err, npy_path, &x, &rows, &cols)) {
        CHECK(x == NULL && err.msg[0] != '\0');
        return;
    }
    /* npy.h: (rows, cols), or rows values when cols is 0 — what callers then read. */
    size_t count = cols ? rows * cols : rows;
    touch(x, count);
    uint8_t *buf;
    size_t len;
    CHECK(drl_npy_serialize(&err, x, rows, cols, &buf, &len) == 0);
    npy_put(buf, len);
    free(buf);
    float *y;
    size_t r2, c2;
    CHECK(drl_npy_read(&err, npy_path, &y, &r2, &c2) == 0);
    CHECK(r2 == rows && c2 == cols);
    CHECK(count == 0 || memcmp(x, y, count * sizeof(float)) == 0);
    free(y);
    free(x);
}

/* ------------------------------------------------------------------------------------------ */
/* base64 */

void drl_fuzz_base64(const uint8_t *data, size_t n) {
    const char *text = (const char *)data;
    drl_err err = {0};
    uint8_t *out;
    size_t on;
    if (drl_base64_decode(&err, text, n, n, &out, &on) == 0) {
        /* Only canonical text is accepted, so it is exactly the encoding of what it decodes to. */
        CHECK(on <= drl_base64_decoded_max(n) && n == (on + 2) / 3 * 4);
        size_t en;
        char *re = drl_base64_encode(out, on, &en);
        CHECK(re != NULL && en == n && (n == 0 || memcmp(re, text, n) == 0));
        free(re);
        if (on) { /* one byte under the limit is refused as a limit, before decoding */
            uint8_t *o2;
            size_t n2;
            CHECK(drl_base64_decode(&err, text, n, on - 1, &o2, &n2) == DRL_ELIMIT && !o2);
        }
        free(out);
    } else {
        CHECK(out == NULL && on == 0 && err.msg[0] != '\0');
    }
    /* Any bytes: encode → decode is the identity. */
    size_t en;
    char *enc = drl_base64_encode(data, n, &en);
    CHECK(enc != NULL && en == (n + 2) / 3 * 4 && strlen(enc) == en);
    CHECK(drl_base64_decode(&err, enc, en, n, &out, &on) == 0 && on == n);
    CHECK(n == 0 || memcmp(out, data, n) == 0);
    free(out);
    free(enc);
}

/* ------------------------------------------------------------------------------------------ */
/* Route codecs */

#define DIM 8
#define PER (28 * 28)

static const drl_proto_limits CODEC_LIM = {4, 64, 4, 50, 16};

/* [variant]: three spellings the codecs accept, then one they refuse (415). */
static const char *const MEDIA_JSON[4] = {"application/json", "Application/JSON; charset=utf-8",
                                          " application/json ;x=y", "text/plain"};
static const char *const MEDIA_PNG[4] = {"image/png", "IMAGE/PNG", "image/png; q=1",
                                         "application/octet-stream"};

static drl_proto_model fuzz_model(int time_cond) {
    drl_proto_model m = {
        .name = "drl-fuzz", .version = "0123456789ab",
        .sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        .path = "models/fuzz.safetensors", .loaded_at = "2026-01-01T00:00:00Z",
        .generation = 1, .dim = DIM, .C = 1, .H = 28, .W = 28, .sde = "ve",
        .t_min = 1e-5f, .t_max = 1.0f, .t_eps = 1e-5f, .time_cond = time_cond};
    return m;
}

static float *zeros(size_t n) {
    float *z = calloc(n ? n : 1, sizeof(float));
    CHECK(z != NULL);
    return z;
}

static void route_encode(const char *media, const uint8_t *body, size_t n,
                         const drl_proto_model *m) {
    drl_proto_error e = {0};
    drl_proto_encode_req r;
    if (drl_proto_encode_parse(&e, media, body, n, m, &CODEC_LIM, &r)) {
        CHECK(r.x == NULL);
        check_error(&e);
        return;
    }
    CHECK(r.n >= 1 && r.n <= CODEC_LIM.max_images && r.x != NULL);
    CHECK(!r.single || r.n == 1);
    CHECK(!r.has_t || (m->time_cond && r.t >= m->t_eps && r.t <= 1.0f));
    check_unit(r.x, (size_t)r.n * PER);
    float *z = zeros((size_t)r.n * DIM);
    size_t len;
    char *s = drl_proto_encode_response(m, z, r.n, r.single, &len);
    check_json(s, len);
    free(s);
    free(z);
    drl_proto_encode_req_release(&r);
}

static void route_trajectory(const char *media, const uint8_t *body, size_t n,
                             const drl_proto_model *m) {
    drl_proto_error e = {0};
    drl_proto_trajectory_req r;
    if (drl_proto_trajectory_parse(&e, media, body, n, m, &CODEC_LIM, &r)) {
        CHECK(r.x == NULL && r.times == NULL);
        check_error(&e);
        return;
    }
    CHECK(m->time_cond && r.K >= 1 && r.K <= CODEC_LIM.max_times && r.x && r.times);
    for (int k = 0; k < r.K; k++) CHECK(r.times[k] >= m->t_eps && r.times[k] <= 1.0f);
    check_unit(r.x, PER);
    float *z = zeros((size_t)r.K * DIM);
    size_t len;
    char *s = drl_proto_trajectory_response(m, r.times, z, r.K, &len);
    check_json(s, len);
    free(s);
    free(z);
    drl_proto_trajectory_req_release(&r);
}

static void route_sample(const char *media, const uint8_t *body, size_t n,
                         const drl_proto_model *m) {
    drl_proto_error e = {0};
    drl_proto_sample_req r;
    if (drl_proto_sample_parse(&e, media, body, n, m, &CODEC_LIM, &r)) {
        CHECK(r.x0 == NULL && r.code == NULL);
        check_error(&e);
        return;
    }
    CHECK(r.n >= 1 && r.n <= CODEC_LIM.max_sample_n);
    CHECK((r.x0 != NULL) != (r.code != NULL));
    CHECK(r.cfg.steps >= 1 && r.cfg.steps <= CODEC_LIM.max_sample_steps);
    CHECK(r.cfg.t_init > m->t_eps && r.cfg.t_init <= 1.0f);
    CHECK(r.cfg.snr > 0.0f && r.cfg.snr < 10.0f);
    if (r.x0) check_unit(r.x0, PER);
    if (r.code)
        for (int i = 0; i < DIM; i++) CHECK(isfinite(r.code[i]));
    /* Images in [0, 1] with some texture, so the PNGs are not all one colour. */
    size_t count = (size_t)r.n * PER;
    float *imgs = zeros(count);
    for (size_t i = 0; i < count; i++) imgs[i] = (float)(i * 37 % 256) / 255.0f;
    size_t len;
    char *s = drl_proto_sample_response(&e, m, &r, imgs, &len);
    check_json(s, len);
    free(s);
    uint8_t *png;
    CHECK(drl_proto_sample_grid_png(&e, imgs, r.n, m->C, m->H, m->W, &png, &len) == 0);
    float *grid;
    int C, H, W;
    CHECK(drl_png_decode(NULL, png, len, 0, NULL, &grid, &C, &H, &W) == 0 && C == m->C);
    free(grid);
    free(png);
    free(imgs);
    drl_proto_sample_req_release(&r);
}

static void route_oip(const char *media, const uint8_t *body, size_t n, const drl_proto_model *m) {
    drl_proto_error e = {0};
    drl_proto_oip_req r;
    if (drl_proto_oip_parse(&e, media, body, n, m, &CODEC_LIM, &r)) {
        CHECK(r.x == NULL && r.id == NULL);
        check_error(&e);
        return;
    }
    CHECK(r.n >= 1 && r.n <= CODEC_LIM.max_images && r.x != NULL);
    check_unit(r.x, (size_t)r.n * PER);
    float *z = zeros((size_t)r.n * DIM);
    size_t len;
    char *s = drl_proto_oip_response(m, &r, z, &len);
    check_json(s, len);
    if (r.id) { /* the client's id comes back unchanged */
        json_t *j = json_loadb(s, len, 0, NULL);
        CHECK(j != NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        CHECK(id != NULL && strcmp(id, r.id) == 0);
        json_decref(j);
    }
    free(s);
    free(z);
    drl_proto_oip_req_release(&r);
}

static void route_reload(const uint8_t *body, size_t n, const drl_proto_model *m) {
    drl_proto_error e = {0};
    char *path;
    if (drl_proto_reload_parse(&e, body, n, &path)) {
        CHECK(path == NULL);
        check_error(&e);
        return;
    }
    CHECK(path == NULL || path[0] != '\0');
    size_t len;
    char *s = drl_proto_reload_response(m, path ? path : "", &len); /* any text, escaped */
    check_json(s, len);
    free(s);
    free(path);
}

static int job_equal(const drl_proto_job_spec *a, const drl_proto_job_spec *b) {
    return !strcmp(a->dataset, b->dataset) && a->base == b->base &&
           !strcmp(a->base_job, b->base_job) && !strcmp(a->name, b->name) &&
           a->steps == b->steps && a->batch_size == b->batch_size && a->lr == b->lr &&
           a->warmup == b->warmup && a->lr_decay_steps == b->lr_decay_steps && a->clip == b->clip && a->flip == b->flip &&
           a->seed == b->seed && a->has_t_range == b->has_t_range &&
           (!a->has_t_range || (a->t_min == b->t_min && a->t_max == b->t_max)) &&
           a->sde == b->sde && a->latent_dim == b->latent_dim && a->time_cond == b->time_cond &&
           a->ckpt_every == b->ckpt_every && a->log_every == b->log_every;
}

static void route_job(const char *media, const uint8_t *body, size_t n) {
    drl_proto_error e = {0};
    drl_proto_job_spec spec, again;
    if (drl_proto_job_parse(&e, media, body, n, &spec)) {
        check_error(&e);
        return;
    }
    CHECK(drl_proto_valid_id(spec.dataset));
    CHECK(spec.base != DRL_JOB_BASE_JOB || drl_proto_valid_id(spec.base_job));
    /* The spec is stored as this JSON with its defaults filled in; it must parse back the same. */
    char *s = drl_proto_job_spec_json(&spec);
    CHECK(s != NULL);
    check_json(s, strlen(s));
    CHECK(drl_proto_job_parse(&e, "application/json", (const uint8_t *)s, strlen(s), &again) == 0);
    CHECK(job_equal(&spec, &again));
    free(s);
}

void drl_fuzz_codecs(const uint8_t *data, size_t n) {
    if (n < 2) return;
    int route = data[0] % DRL_FUZZ_N_ROUTES, variant = (data[1] >> 1) & 3;
    drl_proto_model m = fuzz_model(data[1] & 1);
    const uint8_t *body = data + 2;
    size_t bn = n - 2;
    switch (route) {
    case DRL_FUZZ_ENCODE_JSON: route_encode(MEDIA_JSON[variant], body, bn, &m); break;
    case DRL_FUZZ_ENCODE_PNG: route_encode(MEDIA_PNG[variant], body, bn, &m); break;
    case DRL_FUZZ_TRAJECTORY_JSON: route_trajectory(MEDIA_JSON[variant], body, bn, &m); break;
    case DRL_FUZZ_TRAJECTORY_PNG: route_trajectory(MEDIA_PNG[variant], body, bn, &m); break;
    case DRL_FUZZ_SAMPLE: route_sample(MEDIA_JSON[variant], body, bn, &m); break;
    case DRL_FUZZ_OIP: route_oip(MEDIA_JSON[variant], body, bn, &m); break;
    case DRL_FUZZ_RELOAD: route_reload(body, bn, &m); break;
    default: route_job(MEDIA_JSON[variant], body, bn); break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Dataset uploads */

static const drl_upload_limits UPLOAD_LIM = {
    .max_side = 64, .max_images = 64, .max_total_pixels = (size_t)1 << 20,
    .max_entry_bytes = (size_t)256 << 10, .max_archive_bytes = (size_t)4 << 20};

void drl_fuzz_upload(const uint8_t *data, size_t n) {
    drl_proto_error e = {0};
    drl_dataset *ds;
    const char *format;
    size_t skipped;
    if (drl_proto_upload_decode(&e, data, n, &UPLOAD_LIM, &ds, &format, &skipped)) {
        CHECK(ds == NULL);
        check_error(&e);
        return;
    }
    CHECK(ds != NULL && format != NULL);
    CHECK(ds->N >= 1 && ds->N <= UPLOAD_LIM.max_images);
    CHECK((ds->C == 1 || ds->C == 3) && ds->H >= 1 && ds->H <= UPLOAD_LIM.max_side &&
          ds->W >= 1 && ds->W <= UPLOAD_LIM.max_side);
    size_t count = ds->N * (size_t)ds->C * (size_t)ds->H * (size_t)ds->W;
    CHECK(count <= UPLOAD_LIM.max_total_pixels);
    check_unit(ds->images, count);
    CHECK(!ds->labels == !ds->n_classes);
    CHECK(ds->n_classes >= 0 && ds->n_classes <= DRL_UPLOAD_MAX_CLASSES);
    if (ds->labels)
        for (size_t i = 0; i < ds->N; i++) CHECK(ds->labels[i] >= 0 && ds->labels[i] < ds->n_classes);
    if (ds->class_names)
        for (int k = 0; k < ds->n_classes; k++) CHECK(ds->class_names[k] != NULL);
    CHECK(!strcmp(format, "tar") || skipped == 0);
    drl_dataset_free(ds);
}

/* ------------------------------------------------------------------------------------------ */

const drl_fuzz_target drl_fuzz_targets[] = {
    {"png", drl_fuzz_png},       {"safetensors", drl_fuzz_safetensors},
    {"idx", drl_fuzz_idx},       {"npy", drl_fuzz_npy},
    {"base64", drl_fuzz_base64}, {"codecs", drl_fuzz_codecs},
    {"upload", drl_fuzz_upload},
};
const size_t drl_fuzz_n_targets = sizeof drl_fuzz_targets / sizeof drl_fuzz_targets[0];
