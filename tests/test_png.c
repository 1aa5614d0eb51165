/* test_png.c — PNG decode/encode: round trips, every colour type / bit depth / interlace /
 * palette / tRNS variant (written here with libpng's own encoder, expected floats computed from
 * the raw samples), and corrupt or hostile inputs (every truncation, bad CRC, huge IHDR). */
#include <libpng16/png.h> /* not <png.h>: core/png.h shadows it */
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err.h"
#include "png.h"
#include "testutil.h"

/* ------------------------------------------------------------------------------------------ */
/* A test-side PNG writer: libpng encoder over raw samples, to memory. */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} membuf;

static void mem_write(png_structp png, png_bytep data, size_t len) {
    membuf *m = png_get_io_ptr(png);
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->buf = realloc(m->buf, m->cap);
        ck_assert_ptr_nonnull(m->buf);
    }
    memcpy(m->buf + m->len, data, len);
    m->len += len;
}

static void mem_flush(png_structp png) { (void)png; }

typedef struct {
    int ctype, depth, interlace;
    int W, H;
    const uint16_t *s;       /* H * W * channels samples at `depth` bits (palette: indices) */
    const png_color *pal;    /* palette entries */
    int npal;
    const uint8_t *trns;     /* palette alpha (ntrns entries) */
    int ntrns;
    int has_key;             /* tRNS colour key for gray / RGB */
    png_color_16 key;
    int add_text;            /* add an ancillary tEXt chunk */
} spec;

static int spec_channels(int ctype) {
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* palette index */
    }
}

/* Writes sp as a PNG; returns a malloc'd buffer. */
static uint8_t *make_png(const spec *sp, size_t *n) {
    membuf m = {0};
    int ch = spec_channels(sp->ctype);
    size_t rowbytes = ((size_t)sp->W * ch * sp->depth + 7) / 8;
    uint8_t *pix = calloc((size_t)sp->H, rowbytes);
    png_bytep *rows = malloc(sizeof *rows * (size_t)sp->H);
    ck_assert(pix && rows);
    for (int y = 0; y < sp->H; y++) {
        uint8_t *row = pix + (size_t)y * rowbytes;
        rows[y] = row;
        for (int i = 0; i < sp->W * ch; i++) {
            unsigned v = sp->s[(size_t)y * sp->W * ch + i];
            if (sp->depth == 16) {
                row[2 * i] = (uint8_t)(v >> 8);
                row[2 * i + 1] = (uint8_t)v;
            } else if (sp->depth == 8) {
                row[i] = (uint8_t)v;
            } else {
                int per = 8 / sp->depth;
                int shift = 8 - sp->depth * (i % per + 1);
                row[i / per] |= (uint8_t)(v << shift);
            }
        }
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png))) ck_abort_msg("test PNG writer failed");
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)sp->W, (png_uint_32)sp->H, sp->depth, sp->ctype,
                 sp->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (sp->pal) png_set_PLTE(png, info, sp->pal, sp->npal);
    if (sp->trns) png_set_tRNS(png, info, sp->trns, sp->ntrns, NULL);
    if (sp->has_key) png_set_tRNS(png, info, NULL, 0, &sp->key);
    if (sp->add_text) {
        png_text t = {0};
        t.compression = PNG_TEXT_COMPRESSION_NONE;
        t.key = "Comment";
        t.text = "drl test image";
        png_set_text(png, info, &t, 1);
    }
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(pix);
    *n = m.len;
    return m.buf;
}

/* Expected (C, H, W) floats for sp decoded to oc channels (0 = natural), from the png.h rules. */
static float *expected(const spec *sp, int oc, int *C) {
    int ch = spec_channels(sp->ctype);
    int color = sp->ctype & PNG_COLOR_MASK_COLOR;
    if (oc == 0) oc = color ? 3 : 1;
    *C = oc;
    size_t plane = (size_t)sp->W * sp->H;
    float *e = malloc(plane * oc * sizeof *e);
    double mx = (double)((1u << sp->depth) - 1);
    for (size_t p = 0; p < plane; p++) {
        const uint16_t *s = sp->s + p * ch;
        double r, g, b, a = 1.0;
        if (sp->ctype == PNG_COLOR_TYPE_PALETTE) {
            r = sp->pal[s[0]].red / 255.0;
            g = sp->pal[s[0]].green / 255.0;
            b = sp->pal[s[0]].blue / 255.0;
            if (sp->trns && s[0] < sp->ntrns) a = sp->trns[s[0]] / 255.0;
        } else if (color) {
            r = s[0] / mx;
            g = s[1] / mx;
            b = s[2] / mx;
            if (ch == 4) a = s[3] / mx;
            if (sp->has_key && s[0] == sp->key.red && s[1] == sp->key.green &&
                s[2] == sp->key.blue)
                a = 0.0;
        } else {
            r = g = b = s[0] / mx;
            if (ch == 2) a = s[1] / mx;
            if (sp->has_key && s[0] == sp->key.gray) a = 0.0;
        }
        r *= a, g *= a, b *= a;
        if (oc == 1) {
            e[p] = (float)(color ? 0.299 * r + 0.587 * g + 0.114 * b : r);
        } else {
            e[p] = (float)r;
            e[plane + p] = (float)g;
            e[2 * plane + p] = (float)b;
        }
    }
    return e;
}

/* Deterministic samples that hit 0 and the maximum. */
static uint16_t *make_samples(int n, int depth, uint32_t seed) {
    uint16_t *s = malloc(sizeof *s * (size_t)n);
    unsigned mx = (1u << depth) - 1;
    uint32_t x = seed * 2654435761u + 1;
    for (int i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        s[i] = (uint16_t)(i % 7 == 0 ? 0 : i % 7 == 1 ? mx : (x >> 8) % (mx + 1));
    }
    return s;
}

/* Decodes sp's PNG at channels 0, 1 and 3 and checks against expected(). */
static void check_spec(const spec *sp, const char *what) {
    size_t n;
    uint8_t *buf = make_png(sp, &n);
    for (int k = 0; k < 3; k++) {
        int want = k == 0 ? 0 : k == 1 ? 1 : 3;
        drl_err e = {0};
        float *img;
        int C, H, W, eC;
        int rc = drl_png_decode(&e, buf, n, want, NULL, &img, &C, &H, &W);
        ck_assert_msg(rc == 0, "%s (channels %d): %s", what, want, e.msg);
        float *ex = expected(sp, want, &eC);
        ck_assert_int_eq(C, eC);
        ck_assert_int_eq(H, sp->H);
        ck_assert_int_eq(W, sp->W);
        char label[128];
        snprintf(label, sizeof label, "%s -> %d channels", what, want);
        ck_assert_close(img, ex, (size_t)C * H * W, 1e-6, label);
        free(ex);
        free(img);
    }
    free(buf);
}

/* ------------------------------------------------------------------------------------------ */

START_TEST(test_roundtrip_gray) {
    enum { H = 7, W = 13 };
    float img[H * W], *out;
    for (int i = 0; i < H * W; i++) img[i] = (float)((i * 37) % 256) / 255.0f;
    drl_err e = {0};
    uint8_t *buf;
    size_t n;
    ck_assert_int_eq(drl_png_encode(&e, img, 1, H, W, &buf, &n), 0);
    int C, h, w;
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 0, NULL, &out, &C, &h, &w), 0);
    ck_assert_int_eq(C, 1);
    ck_assert_int_eq(h, H);
    ck_assert_int_eq(w, W);
    ck_assert_close(out, img, H * W, 1e-7, "gray round trip");
    free(out);
    /* gray -> 3 channels replicates */
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 3, NULL, &out, &C, &h, &w), 0);
    ck_assert_int_eq(C, 3);
    for (int c = 0; c < 3; c++) ck_assert_close(out + c * H * W, img, H * W, 1e-7, "replicated");
    free(out);
    free(buf);
}
END_TEST

START_TEST(test_roundtrip_rgb) {
    enum { H = 5, W = 9, P = H * W };
    float img[3 * P], *out;
    for (int i = 0; i < 3 * P; i++) img[i] = (float)((i * 53 + 11) % 256) / 255.0f;
    drl_err e = {0};
    uint8_t *buf;
    size_t n;
    ck_assert_int_eq(drl_png_encode(&e, img, 3, H, W, &buf, &n), 0);
    int C, h, w;
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 0, NULL, &out, &C, &h, &w), 0);
    ck_assert_int_eq(C, 3);
    ck_assert_close(out, img, 3 * P, 1e-7, "rgb round trip");
    free(out);
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 1, NULL, &out, &C, &h, &w), 0);
    ck_assert_int_eq(C, 1);
    float luma[P];
    for (int i = 0; i < P; i++)
        luma[i] = (float)(0.299 * img[i] + 0.587 * img[P + i] + 0.114 * img[2 * P + i]);
    ck_assert_close(out, luma, P, 1e-6, "BT.601 luma");
    free(out);
    free(buf);
}
END_TEST

START_TEST(test_encode_clamps) {
    float img[6] = {-0.5f, NAN, 2.0f, 0.5f, 1.0f / 255.0f * 0.49f, INFINITY};
    float want[6] = {0.0f, 0.0f, 1.0f, 128.0f / 255.0f, 0.0f, 1.0f};
    drl_err e = {0};
    uint8_t *buf;
    size_t n;
    ck_assert_int_eq(drl_png_encode(&e, img, 1, 2, 3, &buf, &n), 0);
    float *out;
    int C, h, w;
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 1, NULL, &out, &C, &h, &w), 0);
    ck_assert_close(out, want, 6, 1e-7, "clamped");
    free(out);
    free(buf);
    ck_assert_int_eq(drl_png_encode(&e, img, 2, 2, 3, &buf, &n), DRL_EINVAL);
    ck_assert_int_eq(drl_png_encode(&e, img, 1, 0, 3, &buf, &n), DRL_EINVAL);
}
END_TEST

START_TEST(test_all_color_types) {
    static const struct {
        int ctype, depth;
    } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, 1},       {PNG_COLOR_TYPE_GRAY, 2},  {PNG_COLOR_TYPE_GRAY, 4},
        {PNG_COLOR_TYPE_GRAY, 8},       {PNG_COLOR_TYPE_GRAY, 16}, {PNG_COLOR_TYPE_GRAY_ALPHA, 8},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 16}, {PNG_COLOR_TYPE_RGB, 8},  {PNG_COLOR_TYPE_RGB, 16},
        {PNG_COLOR_TYPE_RGB_ALPHA, 8},  {PNG_COLOR_TYPE_RGB_ALPHA, 16},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int il = 0; il < 2; il++) {
            spec sp = {0};
            sp.ctype = kinds[k].ctype;
            sp.depth = kinds[k].depth;
            sp.interlace = il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE;
            sp.W = 11;
            sp.H = 9; /* odd sizes exercise partial Adam7 passes and sub-byte row tails */
            sp.add_text = il;
            uint16_t *s = make_samples(sp.W * sp.H * spec_channels(sp.ctype), sp.depth,
                                       (uint32_t)(k * 2 + il));
            sp.s = s;
            char what[64];
            snprintf(what, sizeof what, "ctype %d depth %d interlace %d", sp.ctype, sp.depth, il);
            check_spec(&sp, what);
            free(s);
        }
}
END_TEST

START_TEST(test_palette_trns) {
    png_color pal[16];
    uint8_t trns[16];
    for (int i = 0; i < 16; i++) {
        pal[i].red = (uint8_t)(i * 16);
        pal[i].green = (uint8_t)(255 - i * 9);
        pal[i].blue = (uint8_t)(i * 5 + 40);
        trns[i] = (uint8_t)(255 - i * 17);
    }
    static const int depths[] = {1, 2, 4, 8};
    for (int d = 0; d < 4; d++)
        for (int with_trns = 0; with_trns < 2; with_trns++)
            for (int il = 0; il < 2; il++) {
                spec sp = {0};
                sp.ctype = PNG_COLOR_TYPE_PALETTE;
                sp.depth = depths[d];
                sp.interlace = il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE;
                sp.W = 10;
                sp.H = 6;
                sp.pal = pal;
                sp.npal = 1 << (depths[d] < 4 ? depths[d] : 4);
                int max_index = sp.npal - 1;
                uint16_t *s = make_samples(sp.W * sp.H, depths[d], (uint32_t)(d * 4 + il));
                for (int i = 0; i < sp.W * sp.H; i++)
                    if (s[i] > max_index) s[i] = (uint16_t)(s[i] % sp.npal);
                sp.s = s;
                if (with_trns) {
                    sp.trns = trns;
                    sp.ntrns = sp.npal > 1 ? sp.npal - 1 : 1; /* last entry keeps alpha 1 */
                }
                char what[64];
                snprintf(what, sizeof what, "palette depth %d trns %d interlace %d", depths[d],
                         with_trns, il);
                check_spec(&sp, what);
                free(s);
            }
}
END_TEST

START_TEST(test_color_key_trns) {
    /* gray 4-bit, gray 16-bit and RGB 8/16-bit with a tRNS colour key: matching pixels become
     * fully transparent, i.e. black after compositing. */
    static const struct {
        int ctype, depth;
    } kinds[] = {{PNG_COLOR_TYPE_GRAY, 4}, {PNG_COLOR_TYPE_GRAY, 8}, {PNG_COLOR_TYPE_GRAY, 16},
                 {PNG_COLOR_TYPE_RGB, 8},  {PNG_COLOR_TYPE_RGB, 16}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        spec sp = {0};
        sp.ctype = kinds[k].ctype;
        sp.depth = kinds[k].depth;
        sp.W = 8;
        sp.H = 8;
        int ch = spec_channels(sp.ctype);
        uint16_t *s = make_samples(sp.W * sp.H * ch, sp.depth, (uint32_t)k + 100);
        unsigned mx = (1u << sp.depth) - 1;
        uint16_t key[3] = {(uint16_t)(mx / 3), (uint16_t)(mx / 2), (uint16_t)(mx / 5)};
        for (int p = 0; p < sp.W * sp.H; p += 3) /* every third pixel is the key colour */
            for (int c = 0; c < ch; c++) s[p * ch + c] = key[c];
        sp.s = s;
        sp.has_key = 1;
        sp.key.gray = key[0];
        sp.key.red = key[0];
        sp.key.green = key[1];
        sp.key.blue = key[2];
        char what[64];
        snprintf(what, sizeof what, "colour key ctype %d depth %d", sp.ctype, sp.depth);
        check_spec(&sp, what);
        free(s);
    }
}
END_TEST

START_TEST(test_16bit_precision) {
    /* 0.3 is not representable in 8 bits (nearest 77/255 = 0.30196); 16-bit keeps it. */
    uint16_t s[4] = {(uint16_t)lround(65535 * 0.3), (uint16_t)lround(65535 * 0.7), 1, 65535};
    spec sp = {0};
    sp.ctype = PNG_COLOR_TYPE_GRAY;
    sp.depth = 16;
    sp.W = 2;
    sp.H = 2;
    sp.s = s;
    size_t n;
    uint8_t *buf = make_png(&sp, &n);
    drl_err e = {0};
    float *out;
    int C, H, W;
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 1, NULL, &out, &C, &H, &W), 0);
    ck_assert_msg(fabsf(out[0] - 0.3f) < 1e-5f, "16-bit 0.3 decoded as %.8f", out[0]);
    ck_assert_msg(fabsf(out[1] - 0.7f) < 1e-5f, "16-bit 0.7 decoded as %.8f", out[1]);
    ck_assert_msg(out[2] > 0.0f && out[2] < 1e-4f, "16-bit 1 decoded as %g", out[2]);
    ck_assert(out[3] == 1.0f);
    free(out);
    free(buf);

    /* gray+alpha 16-bit: 0.8 gray at alpha 0.5 composites to 0.4 */
    uint16_t ga[2] = {(uint16_t)lround(65535 * 0.8), (uint16_t)lround(65535 * 0.5)};
    sp.ctype = PNG_COLOR_TYPE_GRAY_ALPHA;
    sp.W = 1;
    sp.H = 1;
    sp.s = ga;
    buf = make_png(&sp, &n);
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 0, NULL, &out, &C, &H, &W), 0);
    ck_assert_msg(fabsf(out[0] - 0.4f) < 1e-5f, "composite %.8f", out[0]);
    free(out);
    free(buf);
}
END_TEST

/* A valid 12x10 interlaced RGB PNG with a text chunk, for the corruption tests. */
static uint8_t *sample_png(size_t *n) {
    spec sp = {0};
    sp.ctype = PNG_COLOR_TYPE_RGB;
    sp.depth = 8;
    sp.interlace = PNG_INTERLACE_ADAM7;
    sp.W = 12;
    sp.H = 10;
    sp.add_text = 1;
    uint16_t *s = make_samples(sp.W * sp.H * 3, 8, 7);
    sp.s = s;
    uint8_t *buf = make_png(&sp, n);
    free(s);
    return buf;
}

START_TEST(test_every_truncation_fails) {
    size_t n;
    uint8_t *buf = sample_png(&n);
    for (size_t k = 0; k < n; k++) {
        /* a fresh copy of exactly k bytes, so ASan sees any read past the end */
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, buf, k);
        drl_err e = {0};
        float *out = (float *)&e;
        int C = 7, H = 7, W = 7;
        int rc = drl_png_decode(&e, cut, k, 0, NULL, &out, &C, &H, &W);
        ck_assert_msg(rc == DRL_EFORMAT, "prefix of %zu/%zu bytes: rc %d (%s)", k, n, rc, e.msg);
        ck_assert_ptr_null(out);
        ck_assert(e.msg[0] != '\0');
        free(cut);
    }
    drl_err e = {0};
    float *out;
    int C, H, W;
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 0, NULL, &out, &C, &H, &W), 0);
    free(out);
    free(buf);
}
END_TEST

/* Finds chunk `type` in a PNG; returns the offset of its length field. */
static size_t find_chunk(const uint8_t *b, size_t n, const char *type) {
    size_t off = 8;
    while (off + 12 <= n) {
        uint32_t len = (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 |
                       (uint32_t)b[off + 2] << 8 | b[off + 3];
        if (!memcmp(b + off + 4, type, 4)) return off;
        off += 12 + len;
    }
    ck_abort_msg("chunk %s not found", type);
    return 0;
}

START_TEST(test_corrupt_inputs) {
    size_t n;
    uint8_t *buf = sample_png(&n);
    drl_err e = {0};
    float *out;
    int C, H, W;

    uint8_t *bad = malloc(n);
    memcpy(bad, buf, n);
    bad[1] = 'Q'; /* signature */
    ck_assert_int_eq(drl_png_decode(&e, bad, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    ck_assert(strstr(e.msg, "signature") != NULL);

    memcpy(bad, buf, n);
    size_t idat = find_chunk(bad, n, "IDAT");
    bad[idat + 8 + 3] ^= 0x40; /* a data byte: CRC mismatch on a critical chunk */
    ck_assert_int_eq(drl_png_decode(&e, bad, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    ck_assert_ptr_null(out);

    memcpy(bad, buf, n);
    bad[8 + 8 + 13] ^= 0x01; /* IHDR CRC */
    ck_assert_int_eq(drl_png_decode(&e, bad, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);

    memcpy(bad, buf, n);
    size_t iend = find_chunk(bad, n, "IEND");
    memcpy(bad + iend + 4, "IENX", 4); /* no IEND: the stream ends inside an unknown chunk */
    ck_assert_int_eq(drl_png_decode(&e, bad, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);

    ck_assert_int_eq(drl_png_decode(&e, buf, n, 2, NULL, &out, &C, &H, &W), DRL_EINVAL);
    ck_assert_int_eq(drl_png_decode(&e, NULL, 0, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    free(bad);
    free(buf);
}
END_TEST

/* A chunk declaring more bytes than the data holds is refused before libpng sees it: libpng
 * allocates a text chunk's declared length (here 2 GB) before finding the data truncated. Found
 * by tests/fuzz (fuzz_png); the input is in tests/fuzz/regress/png/. */
START_TEST(test_chunk_past_end) {
    size_t n;
    uint8_t *buf = sample_png(&n);
    size_t t = find_chunk(buf, n, "tEXt");
    buf[t] = 0x7a;
    buf[t + 1] = buf[t + 2] = buf[t + 3] = 0;
    drl_err e = {0};
    float *out;
    int C, H, W;
    ck_assert_int_eq(drl_png_decode(&e, buf, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    ck_assert_msg(strstr(e.msg, "runs past the end") != NULL, "%s", e.msg);
    ck_assert_ptr_null(out);
    free(buf);
}
END_TEST

/* A PNG made of signature + IHDR (valid CRC) + IEND, with any width and height. */
static size_t craft_ihdr(uint8_t *b, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(b, sig, 8);
    uint8_t *c = b + 8;
    c[0] = c[1] = c[2] = 0;
    c[3] = 13;
    memcpy(c + 4, "IHDR", 4);
    uint8_t d[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                     (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                     8, 0, 0, 0, 0};
    memcpy(c + 8, d, 13);
    uLong crc = crc32(0, c + 4, 17);
    c[21] = (uint8_t)(crc >> 24);
    c[22] = (uint8_t)(crc >> 16);
    c[23] = (uint8_t)(crc >> 8);
    c[24] = (uint8_t)crc;
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(c + 25, iend, 12);
    return 8 + 25 + 12;
}

START_TEST(test_limits_before_alloc) {
    uint8_t b[64];
    drl_err e = {0};
    float *out;
    int C, H, W;
    size_t n = craft_ihdr(b, 100000, 1);
    ck_assert_int_eq(drl_png_decode(&e, b, n, 0, NULL, &out, &C, &H, &W), DRL_ELIMIT);
    ck_assert_msg(strstr(e.msg, "width 100000") != NULL, "%s", e.msg);
    n = craft_ihdr(b, 1, 0x7fffffff);
    ck_assert_int_eq(drl_png_decode(&e, b, n, 0, NULL, &out, &C, &H, &W), DRL_ELIMIT);
    /* pixel-count limit with acceptable sides */
    drl_png_limits lim = {4000, 4000, 1000};
    n = craft_ihdr(b, 100, 100);
    ck_assert_int_eq(drl_png_decode(&e, b, n, 0, &lim, &out, &C, &H, &W), DRL_ELIMIT);
    ck_assert_ptr_null(out);
    /* within limits the crafted file gets as far as libpng, which finds no image data */
    ck_assert_int_eq(drl_png_decode(&e, b, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    /* zero dimensions are malformed, not a limit */
    n = craft_ihdr(b, 0, 5);
    ck_assert_int_eq(drl_png_decode(&e, b, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    n = craft_ihdr(b, 5, 0);
    ck_assert_int_eq(drl_png_decode(&e, b, n, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    drl_png_limits d = drl_png_default_limits();
    ck_assert_uint_eq(d.max_width, 4096);
    ck_assert_uint_eq(d.max_height, 4096);
}
END_TEST

START_TEST(test_files) {
    const char *dir = drl_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/x.png", dir);
    float img[3 * 4 * 5];
    for (int i = 0; i < 60; i++) img[i] = (float)(i * 4) / 255.0f;
    drl_err e = {0};
    ck_assert_int_eq(drl_png_write_file(&e, path, img, 3, 4, 5), 0);
    float *out;
    int C, H, W;
    ck_assert_int_eq(drl_png_read_file(&e, path, 0, NULL, &out, &C, &H, &W), 0);
    ck_assert(C == 3 && H == 4 && W == 5);
    ck_assert_close(out, img, 60, 1e-7, "file round trip");
    free(out);
    snprintf(path, sizeof path, "%s/missing.png", dir);
    ck_assert_int_eq(drl_png_read_file(&e, path, 0, NULL, &out, &C, &H, &W), DRL_ENOTFOUND);
    snprintf(path, sizeof path, "%s/bad.png", dir);
    drl_test_write_file(path, "not a png", 9);
    ck_assert_int_eq(drl_png_read_file(&e, path, 0, NULL, &out, &C, &H, &W), DRL_EFORMAT);
    ck_assert_msg(strstr(e.msg, "bad.png") != NULL, "%s", e.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("png");
    tcase_add_test(tc, test_roundtrip_gray);
    tcase_add_test(tc, test_roundtrip_rgb);
    tcase_add_test(tc, test_encode_clamps);
    tcase_add_test(tc, test_all_color_types);
    tcase_add_test(tc, test_palette_trns);
    tcase_add_test(tc, test_color_key_trns);
    tcase_add_test(tc, test_16bit_precision);
    tcase_add_test(tc, test_every_truncation_fails);
    tcase_add_test(tc, test_chunk_past_end);
    tcase_add_test(tc, test_corrupt_inputs);
    tcase_add_test(tc, test_limits_before_alloc);
    tcase_add_test(tc, test_files);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
