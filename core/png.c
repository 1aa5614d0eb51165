/* png.c — PNG decode/encode through libpng (see png.h).
 *
 * The decoder reads from memory through a bounds-checked cursor. Before libpng sees a byte we
 * parse the IHDR ourselves and check width, height and pixel count against the caller's limits,
 * so a hostile header is refused with DRL_ELIMIT before any row is allocated; libpng's own user
 * limits and chunk-memory cap are set too, as a second line. libpng reports errors by longjmp:
 * setjmp lives only in the two static functions that drive libpng, every resource those
 * functions allocate is held in a caller-owned state struct (so nothing the longjmp skips over is
 * lost or indeterminate), and libpng's message is copied out by a custom error function and
 * returned as DRL_EFORMAT.
 *
 * libpng is told to expand everything to 8- or 16-bit gray/gray+alpha/RGB/RGBA (palette → RGB,
 * tRNS → alpha, low bit depths → 8); the conversion to floats, alpha compositing and luma are
 * done here, in double precision, so 16-bit samples keep their precision. */
#include "png.h"

#include <math.h>
#include <libpng16/png.h> /* not <png.h>: core/png.h shadows it on the include path */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define PNG_FILE_MAX ((size_t)64 << 20)        /* file forms read at most 64 MB */
#define PNG_CHUNK_MALLOC_MAX ((size_t)8 << 20) /* ancillary chunk (iCCP, zTXt...) memory cap */
#define PNG_CHUNK_CACHE_MAX 256                /* number of ancillary chunks kept */

drl_png_limits drl_png_default_limits(void) {
    drl_png_limits l = {4096, 4096, (uint64_t)16 << 20};
    return l;
}

/* libpng callbacks share this: the error text lands in msg. */
typedef struct {
    char msg[200];
} png_errbuf;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_errbuf *eb = png_get_error_ptr(png);
    if (eb) snprintf(eb->msg, sizeof eb->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (bad ancillary CRC, unknown sRGB profile...) are not errors */
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* -------------------------------------------------------------------------------------------- */
/* Decode */

/* Whether every chunk from IHDR to IEND lies inside the n bytes. libpng allocates a chunk's
 * buffer (tEXt, iCCP, ...) from its declared length before reading it, and its check of that
 * length against png_set_chunk_malloc_max is a benign error, i.e. only a warning on read, so
 * without this a 100-byte file declaring a 2 GB tEXt chunk costs a 2 GB allocation before it
 * fails as truncated. With it, no chunk buffer exceeds the input. */
static int chunks_fit(const uint8_t *buf, size_t n) {
    size_t off = 8;
    while (n - off >= 12) {
        uint32_t len = be32(buf + off);
        if (len > n - off - 12) return 0;
        if (memcmp(buf + off + 4, "IEND", 4) == 0) return 1;
        off += 12 + (size_t)len;
    }
    return 0;
}

typedef struct {
    const uint8_t *buf;
    size_t n, off;
    png_errbuf eb;
    png_structp png;
    png_infop info;
    uint8_t *pix;     /* decoded rows, rowbytes * H */
    png_bytep *rows;  /* H row pointers into pix */
    float *out;       /* (C, H, W) result */
} png_dec;

static void dec_read(png_structp png, png_bytep out, size_t len) {
    png_dec *d = png_get_io_ptr(png);
    if (len > d->n - d->off) png_error(png, "truncated data");
    memcpy(out, d->buf + d->off, len);
    d->off += len;
}

static void dec_release(png_dec *d) {
    if (d->png) png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
    d->png = NULL;
    d->info = NULL;
    free(d->rows);
    free(d->pix);
    d->rows = NULL;
    d->pix = NULL;
}

/* One sample of the expanded image in [0, 1]. */
static double sample(const uint8_t *row, size_t i, int depth16) {
    if (depth16) return (double)((unsigned)row[2 * i] << 8 | row[2 * i + 1]) / 65535.0;
    return (double)row[i] / 255.0;
}

/* Runs libpng over d->buf; on success d->out holds the (C, H, W) image. Returns a DRL status;
 * the caller calls dec_release on every path. Everything this function allocates goes into *d,
 * which longjmp does not touch. */
static int dec_run(drl_err *err, png_dec *d, int want_c, uint32_t W, uint32_t H, int *C) {
    d->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &d->eb, on_png_error, on_png_warning,
                                      NULL, NULL, NULL);
    if (!d->png) return drl_errf(err, DRL_ENOMEM, "png: cannot create decoder");
    d->info = png_create_info_struct(d->png);
    if (!d->info) return drl_errf(err, DRL_ENOMEM, "png: cannot create decoder");
    if (setjmp(png_jmpbuf(d->png))) return drl_errf(err, DRL_EFORMAT, "png: %s", d->eb.msg);

    png_set_read_fn(d->png, d, dec_read);
    png_set_user_limits(d->png, W, H);
    png_set_chunk_malloc_max(d->png, PNG_CHUNK_MALLOC_MAX);
    png_set_chunk_cache_max(d->png, PNG_CHUNK_CACHE_MAX);
    png_read_info(d->png, d->info);

    png_uint_32 iw, ih;
    int depth, ctype, interlace;
    png_get_IHDR(d->png, d->info, &iw, &ih, &depth, &ctype, &interlace, NULL, NULL);
    if (iw != W || ih != H) png_error(d->png, "IHDR changed between reads");
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
    if (png_get_valid(d->png, d->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);

    int sc = png_get_channels(d->png, d->info);
    int depth16 = png_get_bit_depth(d->png, d->info) == 16;
    size_t rowbytes = png_get_rowbytes(d->png, d->info);
    if (sc < 1 || sc > 4 || rowbytes < (size_t)W * (size_t)sc * (depth16 ? 2u : 1u))
        png_error(d->png, "unexpected row layout after expansion");

    size_t pixbytes, plane, outn;
    if (drl_size_mul(rowbytes, H, &pixbytes) || drl_size_mul(W, H, &plane))
        return drl_errf(err, DRL_ELIMIT, "png: %ux%u image too large", W, H);
    int color = sc >= 3, alpha = sc == 2 || sc == 4;
    int oc = want_c ? want_c : (color ? 3 : 1);
    if (drl_size_mul(plane, (size_t)oc, &outn) || outn > SIZE_MAX / sizeof(float))
        return drl_errf(err, DRL_ELIMIT, "png: %ux%u image too large", W, H);
    d->pix = malloc(pixbytes);
    d->rows = malloc(H * sizeof *d->rows);
    d->out = malloc(outn * sizeof(float));
    if (!d->pix || !d->rows || !d->out)
        return drl_errf(err, DRL_ENOMEM, "png: out of memory for %ux%u image", W, H);
    for (uint32_t y = 0; y < H; y++) d->rows[y] = d->pix + (size_t)y * rowbytes;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL); /* requires IEND and checks the remaining CRCs */

    for (uint32_t y = 0; y < H; y++) {
        const uint8_t *row = d->rows[y];
        for (uint32_t x = 0; x < W; x++) {
            size_t s = (size_t)x * (size_t)sc;
            double a = alpha ? sample(row, s + (size_t)sc - 1, depth16) : 1.0;
            double r = sample(row, s, depth16) * a, g = r, b = r;
            if (color) {
                g = sample(row, s + 1, depth16) * a;
                b = sample(row, s + 2, depth16) * a;
            }
            size_t o = (size_t)y * W + x;
            if (oc == 1) {
                d->out[o] = (float)(color ? 0.299 * r + 0.587 * g + 0.114 * b : r);
            } else {
                d->out[o] = (float)r;
                d->out[plane + o] = (float)g;
                d->out[2 * plane + o] = (float)b;
            }
        }
    }
    *C = oc;
    return 0;
}

int drl_png_decode(drl_err *err, const uint8_t *buf, size_t n, int channels,
                   const drl_png_limits *limits, float **out, int *C, int *H, int *W) {
    *out = NULL;
    *C = *H = *W = 0;
    if (channels != 0 && channels != 1 && channels != 3)
        return drl_errf(err, DRL_EINVAL, "png: channels must be 0, 1 or 3, not %d", channels);
    if (!buf && n) return drl_errf(err, DRL_EINVAL, "png: NULL buffer");
    drl_png_limits lim = drl_png_default_limits();
    if (limits) {
        if (limits->max_width) lim.max_width = limits->max_width;
        if (limits->max_height) lim.max_height = limits->max_height;
        if (limits->max_pixels) lim.max_pixels = limits->max_pixels;
    }

    /* Signature, then IHDR (length 13) must be the first chunk; checked here so the limits apply
     * before libpng allocates anything. CRC and field validity are libpng's to check. */
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(buf, sig, 8) != 0)
        return drl_errf(err, DRL_EFORMAT, "png: not a PNG file (bad signature)");
    if (n < 8 + 8 + 13 + 4) return drl_errf(err, DRL_EFORMAT, "png: truncated before end of IHDR");
    if (be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0)
        return drl_errf(err, DRL_EFORMAT, "png: first chunk is not a valid IHDR");
    uint32_t w = be32(buf + 16), h = be32(buf + 20);
    if (w == 0 || h == 0) return drl_errf(err, DRL_EFORMAT, "png: zero dimension %ux%u", w, h);
    if (w > 0x7fffffffu || h > 0x7fffffffu)
        return drl_errf(err, DRL_EFORMAT, "png: dimension %ux%u out of range", w, h);
    if (w > lim.max_width)
        return drl_errf(err, DRL_ELIMIT, "png: width %u exceeds limit %u", w, lim.max_width);
    if (h > lim.max_height)
        return drl_errf(err, DRL_ELIMIT, "png: height %u exceeds limit %u", h, lim.max_height);
    if ((uint64_t)w * h > lim.max_pixels)
        return drl_errf(err, DRL_ELIMIT, "png: %ux%u = %llu pixels exceeds limit %llu", w, h,
                        (unsigned long long)w * h, (unsigned long long)lim.max_pixels);

    if (!chunks_fit(buf, n))
        return drl_errf(err, DRL_EFORMAT, "png: truncated (a chunk runs past the end of the data, "
                        "or IEND is missing)");

    png_dec d;
    memset(&d, 0, sizeof d);
    d.buf = buf;
    d.n = n;
    int rc = dec_run(err, &d, channels, w, h, C);
    dec_release(&d);
    if (rc) {
        free(d.out);
        *C = 0;
        return rc;
    }
    *out = d.out;
    *H = (int)h;
    *W = (int)w;
    return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* Encode */

typedef struct {
    png_errbuf eb;
    png_structp png;
    png_infop info;
    uint8_t *buf; /* growing output */
    size_t len, cap;
    uint8_t *row; /* one row of 8-bit samples */
} png_enc;

static void enc_write(png_structp png, png_bytep data, size_t len) {
    png_enc *e = png_get_io_ptr(png);
    if (len > e->cap - e->len) {
        size_t cap = e->cap ? e->cap : 4096;
        while (len > cap - e->len) {
            if (cap > SIZE_MAX / 2) png_error(png, "output too large");
            cap *= 2;
        }
        uint8_t *nb = realloc(e->buf, cap);
        if (!nb) png_error(png, "out of memory");
        e->buf = nb;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, data, len);
    e->len += len;
}

static void enc_flush(png_structp png) { (void)png; }

static uint8_t to_u8(float v) {
    if (!(v > 0.0f)) return 0; /* negatives and NaN */
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

static int enc_run(drl_err *err, png_enc *e, const float *img, int C, int H, int W) {
    e->png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, &e->eb, on_png_error,
                                       on_png_warning, NULL, NULL, NULL);
    if (!e->png) return drl_errf(err, DRL_ENOMEM, "png: cannot create encoder");
    e->info = png_create_info_struct(e->png);
    if (!e->info) return drl_errf(err, DRL_ENOMEM, "png: cannot create encoder");
    e->row = malloc((size_t)C * (size_t)W);
    if (!e->row) return drl_errf(err, DRL_ENOMEM, "png: out of memory");
    if (setjmp(png_jmpbuf(e->png))) return drl_errf(err, DRL_EFORMAT, "png: %s", e->eb.msg);

    png_set_write_fn(e->png, e, enc_write, enc_flush);
    png_set_user_limits(e->png, 0x7fffffff, 0x7fffffff);
    png_set_IHDR(e->png, e->info, (png_uint_32)W, (png_uint_32)H, 8,
                 C == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e->png, e->info);
    size_t plane = (size_t)H * (size_t)W;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++)
                e->row[(size_t)x * C + c] = to_u8(img[c * plane + (size_t)y * W + x]);
        png_write_row(e->png, e->row);
    }
    png_write_end(e->png, NULL);
    return 0;
}

int drl_png_encode(drl_err *err, const float *img, int C, int H, int W, uint8_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (C != 1 && C != 3)
        return drl_errf(err, DRL_EINVAL, "png: can encode 1 or 3 channels, not %d", C);
    if (H <= 0 || W <= 0) return drl_errf(err, DRL_EINVAL, "png: bad image size %dx%d", H, W);
    if (!img) return drl_errf(err, DRL_EINVAL, "png: NULL image");
    png_enc e;
    memset(&e, 0, sizeof e);
    int rc = enc_run(err, &e, img, C, H, W);
    if (e.png) png_destroy_write_struct(&e.png, e.info ? &e.info : NULL);
    free(e.row);
    if (rc) {
        free(e.buf);
        return rc;
    }
    *out = e.buf;
    *n = e.len;
    return 0;
}

/* -------------------------------------------------------------------------------------------- */
/* Files */

int drl_png_read_file(drl_err *err, const char *path, int channels, const drl_png_limits *limits,
                      float **out, int *C, int *H, int *W) {
    *out = NULL;
    *C = *H = *W = 0;
    uint8_t *buf;
    size_t n;
    int rc = drl_file_read_all(err, path, PNG_FILE_MAX, &buf, &n);
    if (rc) return rc;
    rc = drl_png_decode(err, buf, n, channels, limits, out, C, H, W);
    free(buf);
    if (rc) drl_err_prefix(err, "%s", path);
    return rc;
}

int drl_png_write_file(drl_err *err, const char *path, const float *img, int C, int H, int W) {
    uint8_t *buf;
    size_t n;
    int rc = drl_png_encode(err, img, C, H, W, &buf, &n);
    if (rc) return rc;
    rc = drl_file_write_atomic(err, path, buf, n);
    free(buf);
    return rc;
}
