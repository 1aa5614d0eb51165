/* upload.c — POST /v1/datasets bodies (upload.h): recognising the form from its first bytes, and
 * the IDX and JSON forms. The tar form is in upload_tar.c.
 *
 * Recognition, in order: gzip (1f 8b) whose first inflated bytes are an IDX header → IDX, any
 * other gzip → libarchive (tar.gz); an IDX header (00 00 type ndim) → IDX; '{' after optional
 * whitespace → JSON; anything else → libarchive, and if it finds no tar there, 400 bad_upload
 * naming the forms we take. Only a few inflated bytes are peeked at to decide; the full
 * inflation then runs under a cap derived from the limits (a gzip bomb stops there with 413). */
#include "upload.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base64.h"
#include "idx.h"
#include "png.h"
#include "request.h"
#include "upload_impl.h"

drl_upload_limits drl_upload_default_limits(void) {
    drl_upload_limits l = {1024, 65536, (size_t)64 << 20, (size_t)16 << 20, 0};
    return l;
}

drl_upload_limits drl_upload_limits_resolve(const drl_upload_limits *lim) {
    drl_upload_limits d = drl_upload_default_limits(), l = lim ? *lim : d;
    if (l.max_side <= 0) l.max_side = d.max_side;
    if (l.max_images == 0) l.max_images = d.max_images;
    if (l.max_total_pixels == 0) l.max_total_pixels = d.max_total_pixels;
    if (l.max_entry_bytes == 0) l.max_entry_bytes = d.max_entry_bytes;
    if (l.max_archive_bytes == 0) {
        size_t a;
        if (drl_size_mul(l.max_total_pixels, 4, &a) || drl_size_add(a, (size_t)16 << 20, &a))
            a = SIZE_MAX;
        l.max_archive_bytes = a;
    }
    return l;
}

/* ------------------------------------------------------------------------------------------ */
/* Shared image pieces */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int drl_upload_png_header(drl_proto_error *e, const uint8_t *png, size_t n,
                          const drl_upload_limits *L, const char *what, int *C, int *H, int *W) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(png, sig, 8) != 0)
        return drl_proto_errorf(e, 400, "bad_png", "%s: not a PNG file (bad signature)", what);
    if (n < 8 + 8 + 13 + 4)
        return drl_proto_errorf(e, 400, "bad_png", "%s: PNG truncated before the end of IHDR",
                                what);
    if (be32(png + 8) != 13 || memcmp(png + 12, "IHDR", 4) != 0)
        return drl_proto_errorf(e, 400, "bad_png", "%s: PNG's first chunk is not a valid IHDR",
                                what);
    uint32_t w = be32(png + 16), h = be32(png + 20);
    if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu)
        return drl_proto_errorf(e, 400, "bad_png", "%s: PNG size %ux%u is invalid", what, w, h);
    if (w > (uint32_t)L->max_side || h > (uint32_t)L->max_side)
        return drl_proto_errorf(e, 413, "payload_too_large",
                                "%s: PNG is %ux%u, over the limit of %d pixels per side", what, w,
                                h, L->max_side);
    switch (png[25]) { /* colour type */
    case 0: case 4: *C = 1; break;
    case 2: case 3: case 6: *C = 3; break;
    default:
        return drl_proto_errorf(e, 400, "bad_png", "%s: PNG colour type %u is invalid", what,
                                png[25]);
    }
    *H = (int)h;
    *W = (int)w;
    return 0;
}

int drl_upload_add_pixels(drl_proto_error *e, size_t *total, size_t count, int C, int H, int W,
                          const drl_upload_limits *L, const char *what) {
    size_t v, t;
    if (drl_size_mul((size_t)C * (size_t)H, (size_t)W, &v) || drl_size_mul(v, count, &v) ||
        drl_size_add(*total, v, &t) ||
        t > L->max_total_pixels)
        return drl_proto_errorf(e, 413, "payload_too_large",
                                "%s: the dataset would hold more than %zu values (N*C*H*W), "
                                "over the limit", what, L->max_total_pixels);
    *total = t;
    return 0;
}

int drl_upload_png_into(drl_proto_error *e, const uint8_t *png, size_t n,
                        const drl_upload_limits *L, const char *what, int C, int H, int W,
                        float *dst) {
    drl_png_limits pl = {(uint32_t)L->max_side, (uint32_t)L->max_side,
                         (uint64_t)L->max_side * (uint64_t)L->max_side};
    drl_err err = {0};
    float *img = NULL;
    int c, h, w;
    if (drl_png_decode(&err, png, n, 0, &pl, &img, &c, &h, &w)) {
        drl_err_prefix(&err, "%s", what);
        return drl_proto_error_from(e, &err, "bad_png", 413);
    }
    if (c != C || h != H || w != W) { /* the header said otherwise: cannot happen for valid PNGs */
        free(img);
        return drl_proto_errorf(e, 400, "bad_png", "%s: decoded as %dx%dx%d, header said %dx%dx%d",
                                what, c, h, w, C, H, W);
    }
    memcpy(dst, img, (size_t)C * H * W * sizeof(float));
    free(img);
    return 0;
}

drl_dataset *drl_upload_dataset_new(drl_proto_error *e, size_t N, int C, int H, int W) {
    drl_dataset *ds = calloc(1, sizeof *ds);
    size_t count = N * (size_t)C * (size_t)H * (size_t)W;
    if (ds) ds->images = malloc((count ? count : 1) * sizeof(float));
    if (!ds || !ds->images) {
        free(ds);
        drl_proto_errorf(e, 503, "overloaded", "dataset: out of memory for %zu values", count);
        return NULL;
    }
    ds->N = N;
    ds->C = C;
    ds->H = H;
    ds->W = W;
    return ds;
}

/* ------------------------------------------------------------------------------------------ */
/* IDX */

/* 00 00, a known IDX type byte, 1..4 dims: what drl_idx_parse would take. */
static int idx_magic(const uint8_t *b, size_t n) {
    if (n < 4 || b[0] != 0 || b[1] != 0 || b[3] < 1 || b[3] > DRL_IDX_MAX_DIMS) return 0;
    return b[2] == 0x08 || b[2] == 0x09 || (b[2] >= 0x0B && b[2] <= 0x0E);
}

/* Inflates up to `want` bytes of a gzip stream into out; returns how many came out. */
static size_t gz_peek(const uint8_t *buf, size_t n, uint8_t *out, size_t want) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK) return 0;
    zs.next_in = (Bytef *)(uintptr_t)buf;
    zs.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)want;
    while (zs.avail_out > 0) {
        uInt before = zs.avail_out;
        if (inflate(&zs, Z_NO_FLUSH) != Z_OK || zs.avail_out == before) break;
    }
    size_t got = want - zs.avail_out;
    inflateEnd(&zs);
    return got;
}

/* hdr: the first hn bytes of the IDX content (the body itself, or inflated from it). */
static int decode_idx(drl_proto_error *e, const uint8_t *buf, size_t n, int gz,
                      const uint8_t *hdr, size_t hn, const drl_upload_limits *L,
                      drl_dataset **out) {
    const char *what = gz ? "idx.gz" : "idx";
    if (hdr[2] != 0x08)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "%s: element type 0x%02x: only unsigned-byte (0x08) images are "
                                "accepted", what, hdr[2]);
    int ndim = hdr[3];
    if (ndim != 3 && ndim != 4)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "%s: %d dims: expected images as (N, H, W) or (N, C, H, W)", what,
                                ndim);
    size_t hlen = 4 + 4 * (size_t)ndim;
    if (hn < hlen) return drl_proto_errorf(e, 400, "bad_upload", "%s: truncated header", what);
    uint32_t d[4];
    for (int i = 0; i < ndim; i++) d[i] = be32(hdr + 4 + 4 * i);
    uint32_t N = d[0], C = ndim == 4 ? d[1] : 1, H = d[ndim - 2], W = d[ndim - 1];
    if (N == 0 || H == 0 || W == 0)
        return drl_proto_errorf(e, 422, "invalid_input", "%s: no images (dims %u x %u x %u)", what,
                                N, H, W);
    if (C != 1 && C != 3)
        return drl_proto_errorf(e, 422, "invalid_input",
                                "%s: %u channels: expected 1 (gray) or 3 (RGB)", what, C);
    if (H > (uint32_t)L->max_side || W > (uint32_t)L->max_side)
        return drl_proto_errorf(e, 413, "payload_too_large",
                                "%s: images are %ux%u, over the limit of %d pixels per side", what,
                                W, H, L->max_side);
    if (N > L->max_images)
        return drl_proto_errorf(e, 413, "payload_too_large",
                                "%s: %u images, over the limit of %zu", what, N, L->max_images);
    size_t count = 0;
    if (drl_upload_add_pixels(e, &count, N, (int)C, (int)H, (int)W, L, what)) return -1;

    size_t cap;
    if (gz) {
        /* The content may not inflate past the limit; past that it is a bomb, not a dataset. */
        if (drl_size_add(hlen, L->max_total_pixels, &cap)) cap = SIZE_MAX;
    } else {
        if (n - hlen != count)
            return drl_proto_errorf(e, 400, "bad_upload", "idx: payload is %zu bytes, dims say %zu "
                                    "(%s)", n - hlen, count, n - hlen < count ? "truncated"
                                    : "trailing bytes");
        cap = n;
    }
    drl_err err = {0};
    drl_idx *idx = NULL;
    int rc = drl_idx_parse(&err, buf, n, cap, &idx);
    if (rc == DRL_ELIMIT)
        return drl_proto_errorf(e, 413, "payload_too_large",
                                "%s: inflates to more than %zu bytes (header + max_total_pixels): "
                                "refusing a gzip bomb", what, cap);
    if (rc) return drl_proto_error_from(e, &err, "bad_upload", 413);
    if (idx->type != 0x08 || idx->ndim != ndim || idx->count != count) { /* same bytes: can't */
        drl_idx_free(idx);
        return drl_proto_errorf(e, 400, "bad_upload", "%s: header changed while reading", what);
    }
    drl_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        drl_idx_free(idx);
        return drl_proto_errorf(e, 503, "overloaded", "%s: out of memory", what);
    }
    ds->N = N;
    ds->C = (int)C;
    ds->H = (int)H;
    ds->W = (int)W;
    ds->images = idx->data; /* (N, C, H, W) already, as floats 0..255 */
    idx->data = NULL;
    drl_idx_free(idx);
    for (size_t i = 0; i < count; i++) ds->images[i] /= 255.0f; /* k/255 as a PNG decodes */
    *out = ds;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON */

static int json_labels(drl_proto_error *e, const json_t *root, size_t N, drl_dataset *ds) {
    const json_t *labels = json_object_get(root, "labels");
    const json_t *classes = json_object_get(root, "classes");
    if (!labels || json_is_null(labels)) {
        if (classes && !json_is_null(classes))
            return drl_proto_errorf(e, 422, "invalid_input", "classes: given without labels");
        return 0;
    }
    size_t nl, K = 0;
    if (drl_proto_json_array(e, labels, "labels", &nl)) return -1;
    if (nl != N)
        return drl_proto_errorf(e, 422, "invalid_input", "labels: %zu labels for %zu images", nl,
                                N);
    if (classes && !json_is_null(classes)) {
        if (drl_proto_json_array(e, classes, "classes", &K)) return -1;
        if (K == 0 || K > DRL_UPLOAD_MAX_CLASSES)
            return drl_proto_errorf(e, 422, "invalid_input", "classes: %zu names, expected 1..%d",
                                    K, DRL_UPLOAD_MAX_CLASSES);
    }
    ds->labels = malloc(N * sizeof *ds->labels);
    if (!ds->labels) return drl_proto_errorf(e, 503, "overloaded", "labels: out of memory");
    long long hi = K ? (long long)K - 1 : DRL_UPLOAD_MAX_CLASSES - 1;
    int n_classes = 0;
    for (size_t i = 0; i < N; i++) {
        char field[48];
        snprintf(field, sizeof field, "labels[%zu]", i);
        long long v;
        if (drl_proto_json_int(e, json_array_get(labels, i), field, 0, hi, &v)) return -1;
        ds->labels[i] = (int)v;
        if ((int)v + 1 > n_classes) n_classes = (int)v + 1;
    }
    ds->n_classes = K ? (int)K : n_classes;
    if (!K) return 0;
    ds->class_names = calloc(K, sizeof *ds->class_names);
    if (!ds->class_names) return drl_proto_errorf(e, 503, "overloaded", "classes: out of memory");
    for (size_t k = 0; k < K; k++) {
        char field[48];
        snprintf(field, sizeof field, "classes[%zu]", k);
        const char *s;
        size_t len;
        if (drl_proto_json_string(e, json_array_get(classes, k), field, &s, &len)) return -1;
        if (len == 0 || len > 255 || memchr(s, '\0', len))
            return drl_proto_errorf(e, 422, "invalid_input", "%s: expected a name of 1..255 bytes",
                                    field);
        for (size_t j = 0; j < k; j++)
            if (strcmp(ds->class_names[j], s) == 0)
                return drl_proto_errorf(e, 422, "invalid_input", "%s: \"%s\" repeats classes[%zu]",
                                        field, s, j);
        if (!(ds->class_names[k] = strdup(s)))
            return drl_proto_errorf(e, 503, "overloaded", "classes: out of memory");
    }
    return 0;
}

static int decode_json(drl_proto_error *e, const uint8_t *buf, size_t n, const drl_upload_limits *L,
                       drl_dataset **out) {
    json_t *root = drl_proto_json_load(e, buf, n);
    if (!root) return -1;
    static const char *const keys[] = {"images", "labels", "classes", NULL};
    drl_dataset *ds = NULL;
    const json_t *images = json_object_get(root, "images");
    size_t N = 0;
    int rc = -1;
    if (drl_proto_json_keys(e, root, "", keys) || drl_proto_json_array(e, images, "images", &N))
        goto done;
    if (N == 0) {
        drl_proto_errorf(e, 422, "invalid_input", "images: empty, expected at least one image");
        goto done;
    }
    if (N > L->max_images) {
        drl_proto_errorf(e, 413, "payload_too_large", "images: %zu images, over the limit of %zu",
                         N, L->max_images);
        goto done;
    }
    int C0 = 0, H0 = 0, W0 = 0;
    for (size_t i = 0; i < N; i++) {
        char where[48], field[64];
        snprintf(where, sizeof where, "images[%zu]", i);
        snprintf(field, sizeof field, "images[%zu].png", i);
        const json_t *img = json_array_get(images, i);
        static const char *const ikeys[] = {"png", NULL};
        const char *s;
        size_t len;
        if (!json_is_object(img)) {
            drl_proto_errorf(e, 422, "invalid_input", "%s: expected an object {\"png\": base64}, "
                             "got %s", where, drl_proto_json_type(img));
            goto done;
        }
        if (drl_proto_json_keys(e, img, where, ikeys) ||
            drl_proto_json_string(e, json_object_get(img, "png"), field, &s, &len))
            goto done;
        drl_err err = {0};
        uint8_t *png;
        size_t pn;
        if (drl_base64_decode(&err, s, len, L->max_entry_bytes, &png, &pn)) {
            drl_err_prefix(&err, "%s", field);
            drl_proto_error_from(e, &err, "bad_base64", 413);
            goto done;
        }
        int C, H, W;
        int bad = drl_upload_png_header(e, png, pn, L, field, &C, &H, &W);
        if (!bad && i == 0) {
            size_t total = 0;
            bad = drl_upload_add_pixels(e, &total, N, C, H, W, L, "images");
            if (!bad && !(ds = drl_upload_dataset_new(e, N, C, H, W))) bad = -1;
            C0 = C;
            H0 = H;
            W0 = W;
        } else if (!bad && (C != C0 || H != H0 || W != W0)) {
            bad = drl_proto_errorf(e, 422, "invalid_input",
                                   "%s: image is %dx%dx%d (CxHxW) but images[0] is %dx%dx%d: all "
                                   "images must share one shape (gray and colour PNGs do not mix)",
                                   field, C, H, W, C0, H0, W0);
        }
        if (!bad) {
            size_t per = (size_t)C * H * W;
            bad = drl_upload_png_into(e, png, pn, L, field, C, H, W, ds->images + i * per);
        }
        free(png);
        if (bad) goto done;
    }
    if (json_labels(e, root, N, ds)) goto done;
    *out = ds;
    ds = NULL;
    rc = 0;
done:
    drl_dataset_free(ds);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

int drl_proto_upload_decode(drl_proto_error *e, const uint8_t *buf, size_t n,
                            const drl_upload_limits *lim, drl_dataset **out, const char **format,
                            size_t *skipped) {
    *out = NULL;
    if (format) *format = NULL;
    if (skipped) *skipped = 0;
    drl_upload_limits L = drl_upload_limits_resolve(lim);
    if (!buf || n == 0)
        return drl_proto_errorf(e, 400, "bad_upload", "empty body: expected a tar of PNG files, "
                                "an IDX images file or JSON {\"images\":[{\"png\":...}]}");
    if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
        uint8_t hdr[4 + 4 * DRL_IDX_MAX_DIMS];
        size_t hn = gz_peek(buf, n, hdr, sizeof hdr);
        if (idx_magic(hdr, hn)) {
            if (format) *format = "idx.gz";
            return decode_idx(e, buf, n, 1, hdr, hn, &L, out);
        }
    } else if (idx_magic(buf, n)) {
        if (format) *format = "idx";
        return decode_idx(e, buf, n, 0, buf, n, &L, out);
    } else {
        size_t i = 0;
        while (i < n && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')) i++;
        if (i < n && buf[i] == '{') {
            if (format) *format = "json";
            return decode_json(e, buf, n, &L, out);
        }
    }
    int recognised = 0;
    size_t sk = 0;
    int rc = drl_upload_tar(e, buf, n, &L, out, &sk, &recognised);
    if (recognised && format) *format = "tar";
    if (skipped) *skipped = sk;
    return rc;
}
