/* test_upload.c — dataset uploads (proto/upload.h) and the on-disk dataset store
 * (server/datasets.h).
 *
 * Tars are built in memory with libarchive's writer, so each rule (links, path tricks, layouts,
 * limits, PNG and gzip bombs) is exercised with a real archive. Every error asserts its status,
 * code and the part of the message naming the entry or field. Images are k/255 values, so the
 * PNG, IDX and store round trips are checked byte for byte. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <zlib.h>

#include "base64.h"
#include "datasets.h"
#include "png.h"
#include "testutil.h"
#include "upload.h"

#define ck_assert_err(e, st, cd, sub)                                                            \
    do {                                                                                         \
        ck_assert_msg((e).status == (st), "status %d, want %d (%s: %s)", (e).status, (st),       \
                      (e).code, (e).message);                                                    \
        ck_assert_str_eq((e).code, (cd));                                                        \
        ck_assert_msg(strstr((e).message, (sub)) != NULL, "message \"%s\" lacks \"%s\"",         \
                      (e).message, (sub));                                                       \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Fixtures */

/* Values k/255 from a seed, so 8-bit round trips are exact. */
static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 37 + seed * 101) % 256) / 255.0f;
}

static uint8_t byte_of(float x) { return (uint8_t)lrintf(x * 255.0f); }

/* A PNG of a (C, H, W) image filled from seed. */
static uint8_t *png_img(int C, int H, int W, unsigned seed, size_t *n) {
    float *x = malloc((size_t)C * H * W * sizeof(float));
    ck_assert_ptr_nonnull(x);
    fill(x, (size_t)C * H * W, seed);
    drl_err err = {0};
    uint8_t *png;
    ck_assert_int_eq(drl_png_encode(&err, x, C, H, W, &png, n), 0);
    free(x);
    return png;
}

/* Asserts image i of ds equals the image png_img(C, H, W, seed) was made from. */
static void assert_image(const drl_dataset *ds, size_t i, unsigned seed) {
    size_t per = (size_t)ds->C * ds->H * ds->W;
    float *want = malloc(per * sizeof(float));
    fill(want, per, seed);
    for (size_t k = 0; k < per; k++)
        ck_assert_msg(byte_of(ds->images[i * per + k]) == byte_of(want[k]),
                      "image %zu value %zu: %g, want %g", i, k, (double)ds->images[i * per + k],
                      (double)want[k]);
    free(want);
}

/* A PNG whose IHDR claims W x H (gray, 8-bit) with no image data: a decompression bomb's header. */
static uint8_t *png_header_only(uint32_t W, uint32_t H, size_t *n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *b = calloc(1, 8 + 25 + 12);
    memcpy(b, sig, 8);
    uint8_t *c = b + 8;
    c[3] = 13;
    memcpy(c + 4, "IHDR", 4);
    for (int i = 0; i < 4; i++) {
        c[8 + i] = (uint8_t)(W >> (24 - 8 * i));
        c[12 + i] = (uint8_t)(H >> (24 - 8 * i));
    }
    c[16] = 8; /* depth; colour type 0, compression, filter, interlace 0 */
    uLong crc = crc32(0, c + 4, 17);
    for (int i = 0; i < 4; i++) c[21 + i] = (uint8_t)(crc >> (24 - 8 * i));
    uint8_t *end = c + 25;
    memcpy(end + 4, "IEND", 4);
    crc = crc32(0, end + 4, 4);
    for (int i = 0; i < 4; i++) end[8 + i] = (uint8_t)(crc >> (24 - 8 * i));
    *n = 8 + 25 + 12;
    return b;
}

/* ---- tar writer ---- */

typedef struct {
    struct archive *a;
    uint8_t *buf;
    size_t cap, used;
} tarw;

static void tar_begin_fmt(tarw *t, int (*format)(struct archive *),
                          int (*filter)(struct archive *)) {
    t->cap = (size_t)16 << 20;
    t->buf = malloc(t->cap);
    t->used = 0;
    t->a = archive_write_new();
    ck_assert_int_eq(format(t->a), ARCHIVE_OK);
    if (filter) ck_assert_int_eq(filter(t->a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(t->a, t->buf, t->cap, &t->used), ARCHIVE_OK);
}

static void tar_begin_with(tarw *t, int (*filter)(struct archive *)) {
    tar_begin_fmt(t, archive_write_set_format_pax_restricted, filter);
}

static void tar_begin(tarw *t) { tar_begin_with(t, NULL); }

static void tar_entry(tarw *t, const char *name, unsigned type, const void *data, size_t n,
                      const char *link, int hard) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, type == AE_IFREG && !hard ? (la_int64_t)n : 0);
    if (link && hard) archive_entry_set_hardlink(e, link);
    else if (link) archive_entry_set_symlink(e, link);
    ck_assert_msg(archive_write_header(t->a, e) == ARCHIVE_OK, "write header %s: %s", name,
                  archive_error_string(t->a));
    if (n && type == AE_IFREG && !hard)
        ck_assert_int_eq(archive_write_data(t->a, data, n), (la_ssize_t)n);
    archive_entry_free(e);
}

static void tar_file(tarw *t, const char *name, const void *data, size_t n) {
    tar_entry(t, name, AE_IFREG, data, n, NULL, 0);
}

static void tar_png(tarw *t, const char *name, int C, int H, int W, unsigned seed) {
    size_t n;
    uint8_t *png = png_img(C, H, W, seed, &n);
    tar_file(t, name, png, n);
    free(png);
}

static void tar_dir(tarw *t, const char *name) { tar_entry(t, name, AE_IFDIR, NULL, 0, NULL, 0); }

static uint8_t *tar_end(tarw *t, size_t *n) {
    ck_assert_int_eq(archive_write_close(t->a), ARCHIVE_OK);
    archive_write_free(t->a);
    *n = t->used;
    return t->buf;
}

/* ---- decoding ---- */

static const drl_upload_limits LIM = {64, 1000, 1 << 20, 1 << 20, 0};

static drl_dataset *decode_ok(const uint8_t *buf, size_t n, const char *want_format,
                              size_t *skipped) {
    drl_proto_error e = {0};
    drl_dataset *ds = NULL;
    const char *format = NULL;
    size_t sk = 99;
    int rc = drl_proto_upload_decode(&e, buf, n, &LIM, &ds, &format, &sk);
    ck_assert_msg(rc == 0, "decode failed: %d %s: %s", e.status, e.code, e.message);
    ck_assert_ptr_nonnull(ds);
    ck_assert_ptr_nonnull(format);
    ck_assert_str_eq(format, want_format);
    if (skipped) *skipped = sk;
    return ds;
}

static drl_proto_error decode_fail_lim(const uint8_t *buf, size_t n, const drl_upload_limits *lim) {
    drl_proto_error e = {0};
    drl_dataset *ds = (drl_dataset *)1;
    const char *format;
    size_t sk;
    ck_assert_int_eq(drl_proto_upload_decode(&e, buf, n, lim, &ds, &format, &sk), -1);
    ck_assert_ptr_null(ds);
    return e;
}

static drl_proto_error decode_fail(const uint8_t *buf, size_t n) {
    return decode_fail_lim(buf, n, &LIM);
}

/* Builds a one-entry-kind tar with `setup`, expects failure and returns the error. */
static drl_proto_error tar_fail(void (*setup)(tarw *), const drl_upload_limits *lim) {
    tarw t;
    tar_begin(&t);
    setup(&t);
    size_t n;
    uint8_t *buf = tar_end(&t, &n);
    drl_proto_error e = decode_fail_lim(buf, n, lim ? lim : &LIM);
    free(buf);
    return e;
}

/* ------------------------------------------------------------------------------------------ */
/* Tar: accepted layouts */

START_TEST(test_tar_flat_sorted) {
    tarw t;
    tar_begin(&t);
    tar_png(&t, "b.png", 1, 4, 5, 2);
    tar_png(&t, "a.png", 1, 4, 5, 1);
    tar_file(&t, "README.txt", "hello", 5);
    tar_png(&t, "c.PNG", 1, 4, 5, 3);
    size_t n, skipped;
    uint8_t *buf = tar_end(&t, &n);
    drl_dataset *ds = decode_ok(buf, n, "tar", &skipped);
    ck_assert_uint_eq(ds->N, 3);
    ck_assert_int_eq(ds->C, 1);
    ck_assert_int_eq(ds->H, 4);
    ck_assert_int_eq(ds->W, 5);
    ck_assert_ptr_null(ds->labels);
    ck_assert_int_eq(ds->n_classes, 0);
    ck_assert_uint_eq(skipped, 1);
    for (size_t i = 0; i < 3; i++) assert_image(ds, i, (unsigned)i + 1); /* a, b, c */
    drl_dataset_free(ds);
    free(buf);
}
END_TEST

START_TEST(test_tar_classes_leading_dir) {
    tarw t;
    tar_begin(&t);
    tar_dir(&t, "mydata/");
    tar_dir(&t, "mydata/dog/");
    tar_png(&t, "mydata/dog/1.png", 3, 6, 7, 30);
    tar_dir(&t, "mydata/cat/");
    tar_png(&t, "mydata/cat/2.png", 3, 6, 7, 20);
    tar_png(&t, "mydata/cat/1.png", 3, 6, 7, 10);
    tar_file(&t, "mydata/.DS_Store", "x", 1);
    tar_file(&t, "mydata/cat/._1.png", "junk", 4); /* macOS metadata: hidden, skipped */
    tar_png(&t, "mydata/.cache/x/y.png", 1, 2, 2, 0); /* inside a hidden folder: skipped */
    size_t n, skipped;
    uint8_t *buf = tar_end(&t, &n);
    drl_dataset *ds = decode_ok(buf, n, "tar", &skipped);
    ck_assert_uint_eq(ds->N, 3);
    ck_assert_int_eq(ds->C, 3);
    ck_assert_int_eq(ds->n_classes, 2);
    ck_assert_str_eq(ds->class_names[0], "cat");
    ck_assert_str_eq(ds->class_names[1], "dog");
    ck_assert_int_eq(ds->labels[0], 0);
    ck_assert_int_eq(ds->labels[1], 0);
    ck_assert_int_eq(ds->labels[2], 1);
    assert_image(ds, 0, 10);
    assert_image(ds, 1, 20);
    assert_image(ds, 2, 30);
    ck_assert_uint_eq(skipped, 3);
    drl_dataset_free(ds);
    free(buf);
}
END_TEST

/* Class order is by name ("a" < "a-b"), image order by path ("a-b/..." < "a/..."). Non-ASCII
 * names come as a pax UTF-8 record (written under a UTF-8 locale, read under "C", as a server
 * runs) or as raw UTF-8 bytes in a ustar header (GNU tar's default). */
static void check_class_order(int pax) {
    tarw t;
    if (pax) setlocale(LC_CTYPE, "C.UTF-8");
    tar_begin_fmt(&t, pax ? archive_write_set_format_pax_restricted
                          : archive_write_set_format_ustar, NULL);
    tar_png(&t, "a/x.png", 1, 3, 3, 1);
    tar_png(&t, "a-b/y.png", 1, 3, 3, 2);
    tar_png(&t, "caf\xc3\xa9/z.png", 1, 3, 3, 3);
    size_t n;
    uint8_t *buf = tar_end(&t, &n);
    setlocale(LC_CTYPE, "C");
    drl_dataset *ds = decode_ok(buf, n, "tar", NULL);
    ck_assert_int_eq(ds->n_classes, 3);
    ck_assert_str_eq(ds->class_names[0], "a");
    ck_assert_str_eq(ds->class_names[1], "a-b");
    ck_assert_str_eq(ds->class_names[2], "caf\xc3\xa9");
    assert_image(ds, 0, 2); /* a-b/y.png */
    ck_assert_int_eq(ds->labels[0], 1);
    assert_image(ds, 1, 1); /* a/x.png */
    ck_assert_int_eq(ds->labels[1], 0);
    ck_assert_int_eq(ds->labels[2], 2);
    drl_dataset_free(ds);
    free(buf);
}

START_TEST(test_tar_class_order) {
    check_class_order(1);
    check_class_order(0);
}
END_TEST

/* "./a.png" (tar -C dir -cf - .) is a flat layout; a single folder is the stripped leading one. */
START_TEST(test_tar_dot_and_single_folder) {
    tarw t;
    tar_begin(&t);
    tar_dir(&t, "./");
    tar_png(&t, "./a.png", 1, 3, 3, 1);
    tar_png(&t, "./b.png", 1, 3, 3, 2);
    size_t n;
    uint8_t *buf = tar_end(&t, &n);
    drl_dataset *ds = decode_ok(buf, n, "tar", NULL);
    ck_assert_uint_eq(ds->N, 2);
    ck_assert_ptr_null(ds->labels);
    drl_dataset_free(ds);
    free(buf);

    tar_begin(&t);
    tar_png(&t, "only/a.png", 1, 3, 3, 1);
    buf = tar_end(&t, &n);
    ds = decode_ok(buf, n, "tar", NULL);
    ck_assert_uint_eq(ds->N, 1);
    ck_assert_ptr_null(ds->labels);
    drl_dataset_free(ds);
    free(buf);
}
END_TEST

static void check_compressed(int (*filter)(struct archive *)) {
    tarw t;
    tar_begin_with(&t, filter);
    tar_png(&t, "cls0/a.png", 1, 8, 8, 1);
    tar_png(&t, "cls1/b.png", 1, 8, 8, 2);
    size_t n;
    uint8_t *buf = tar_end(&t, &n);
    drl_dataset *ds = decode_ok(buf, n, "tar", NULL);
    ck_assert_uint_eq(ds->N, 2);
    ck_assert_int_eq(ds->labels[1], 1);
    assert_image(ds, 1, 2);
    drl_dataset_free(ds);
    free(buf);
}

START_TEST(test_tar_gz) { check_compressed(archive_write_add_filter_gzip); }
END_TEST

START_TEST(test_tar_xz) { check_compressed(archive_write_add_filter_xz); }
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Tar: refused */

static void setup_symlink(tarw *t) {
    tar_png(t, "a.png", 1, 3, 3, 1);
    tar_entry(t, "link.png", AE_IFLNK, NULL, 0, "/etc/passwd", 0);
}
static void setup_hardlink(tarw *t) {
    tar_png(t, "a.png", 1, 3, 3, 1);
    tar_entry(t, "hard.png", AE_IFREG, NULL, 0, "a.png", 1);
}
static void setup_fifo(tarw *t) { tar_entry(t, "pipe.png", AE_IFIFO, NULL, 0, NULL, 0); }
static void setup_dotdot(tarw *t) { tar_png(t, "../x.png", 1, 3, 3, 1); }
static void setup_dotdot_inner(tarw *t) { tar_png(t, "cls/../../x.png", 1, 3, 3, 1); }
static void setup_abs(tarw *t) { tar_png(t, "/abs.png", 1, 3, 3, 1); }
static void setup_backslash(tarw *t) { tar_png(t, "cls\\x.png", 1, 3, 3, 1); }
static void setup_deep(tarw *t) {
    tar_png(t, "x/a/b/c.png", 1, 3, 3, 1);
    tar_png(t, "y/z.png", 1, 3, 3, 2);
}
static void setup_mixed_levels(tarw *t) {
    tar_png(t, "data/a.png", 1, 3, 3, 1);
    tar_png(t, "data/cls/b.png", 1, 3, 3, 2);
}
static void setup_no_png(tarw *t) {
    tar_dir(t, "d/");
    tar_file(t, "d/notes.txt", "hi", 2);
}
static void setup_sizes(tarw *t) {
    tar_png(t, "a.png", 1, 4, 4, 1);
    tar_png(t, "c.png", 1, 4, 4, 2);
    tar_png(t, "b.png", 1, 5, 4, 3);
}
static void setup_gray_colour(tarw *t) {
    tar_png(t, "a.png", 1, 4, 4, 1);
    tar_png(t, "b.png", 3, 4, 4, 2);
}
static void setup_bomb(tarw *t) {
    size_t n;
    uint8_t *png = png_header_only(100000, 100000, &n);
    tar_png(t, "ok.png", 1, 3, 3, 1);
    tar_file(t, "bomb.png", png, n);
    free(png);
}
static void setup_big_entry(tarw *t) {
    uint8_t *junk = calloc(1, 5000);
    tar_file(t, "big.png", junk, 5000);
    free(junk);
}
static void setup_bad_png(tarw *t) { tar_file(t, "x/broken.png", "not a png at all", 16); }
static void setup_three(tarw *t) {
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d.png", i);
        tar_png(t, name, 1, 8, 8, (unsigned)i);
    }
}
static void setup_many_skipped(tarw *t) {
    uint8_t *junk = calloc(1, 4000);
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "junk%d.bin", i);
        tar_file(t, name, junk, 4000);
    }
    free(junk);
}

START_TEST(test_tar_links_and_types) {
    drl_proto_error e = tar_fail(setup_symlink, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"link.png\": symbolic links are not allowed");
    e = tar_fail(setup_hardlink, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"hard.png\": hard links are not allowed");
    e = tar_fail(setup_fifo, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"pipe.png\": FIFOs are not allowed");
}
END_TEST

START_TEST(test_tar_path_tricks) {
    drl_proto_error e = tar_fail(setup_dotdot, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"../x.png\": \"..\" in names is not allowed");
    e = tar_fail(setup_dotdot_inner, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"cls/../../x.png\": \"..\"");
    e = tar_fail(setup_abs, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"/abs.png\": absolute paths are not allowed");
    e = tar_fail(setup_backslash, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"cls\\x.png\": backslashes");
    /* Raw bytes in a ustar name (no pax charset): Latin-1 "café". */
    tarw t;
    tar_begin_fmt(&t, archive_write_set_format_ustar, NULL);
    struct archive_entry *ent = archive_entry_new();
    archive_entry_set_pathname(ent, "caf\xe9/x.png");
    archive_entry_set_filetype(ent, AE_IFREG);
    archive_entry_set_size(ent, 0);
    ck_assert_int_eq(archive_write_header(t.a, ent), ARCHIVE_OK);
    archive_entry_free(ent);
    size_t n;
    uint8_t *buf = tar_end(&t, &n);
    e = decode_fail(buf, n);
    ck_assert_err(e, 422, "invalid_input", "name is not valid UTF-8");
    free(buf);
}
END_TEST

START_TEST(test_tar_layout_rules) {
    drl_proto_error e = tar_fail(setup_deep, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"x/a/b/c.png\": nested too deeply");
    e = tar_fail(setup_mixed_levels, NULL);
    ck_assert_err(e, 422, "invalid_input",
                  "entries mix images at the top (\"data/a.png\") and in class folders "
                  "(\"data/cls/b.png\")");
    e = tar_fail(setup_no_png, NULL);
    ck_assert_err(e, 422, "invalid_input", "no .png files (1 other files skipped)");
}
END_TEST

START_TEST(test_tar_shapes) {
    drl_proto_error e = tar_fail(setup_sizes, NULL);
    ck_assert_err(e, 422, "invalid_input",
                  "entry \"b.png\": image is 1x5x4 (CxHxW) but \"a.png\" is 1x4x4");
    e = tar_fail(setup_gray_colour, NULL);
    ck_assert_err(e, 422, "invalid_input", "entry \"b.png\": image is 3x4x4");
    e = tar_fail(setup_bad_png, NULL);
    ck_assert_err(e, 400, "bad_png", "entry \"x/broken.png\": not a PNG file");
}
END_TEST

START_TEST(test_tar_limits) {
    drl_proto_error e = tar_fail(setup_bomb, NULL);
    ck_assert_err(e, 413, "payload_too_large",
                  "entry \"bomb.png\": PNG is 100000x100000, over the limit of 64 pixels per side");
    e = tar_fail(setup_big_entry, &(drl_upload_limits){64, 1000, 1 << 20, 1000, 0});
    ck_assert_err(e, 413, "payload_too_large",
                  "entry \"big.png\": 5000 bytes, over the limit of 1000 bytes per entry");
    e = tar_fail(setup_three, &(drl_upload_limits){64, 2, 1 << 20, 1 << 20, 0});
    ck_assert_err(e, 413, "payload_too_large", "entry \"2.png\": more than 2 images");
    e = tar_fail(setup_three, &(drl_upload_limits){64, 10, 150, 1 << 20, 0});
    ck_assert_err(e, 413, "payload_too_large", "entry \"2.png\": the dataset would hold more "
                  "than 150 values");
    e = tar_fail(setup_many_skipped, &(drl_upload_limits){64, 10, 1000, 1 << 20, 20000});
    ck_assert_err(e, 413, "payload_too_large", "entry \"junk4.bin\": the archive holds more "
                  "than 20000 bytes");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* IDX */

static uint8_t *idx_body(int ndim, const uint32_t *dims, size_t *n) {
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= dims[i];
    uint8_t *b = malloc(4 + 4 * (size_t)ndim + count);
    size_t h = drl_test_idx_header(b, 0x08, ndim, dims);
    for (size_t i = 0; i < count; i++) b[h + i] = (uint8_t)(i * 7 + 3);
    *n = h + count;
    return b;
}

static void assert_idx_values(const drl_dataset *ds) {
    size_t count = ds->N * (size_t)ds->C * ds->H * ds->W;
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(byte_of(ds->images[i]) == (uint8_t)(i * 7 + 3), "value %zu", i);
}

START_TEST(test_idx_raw_and_gz) {
    uint32_t d3[3] = {5, 4, 6}, d4[4] = {2, 3, 4, 5};
    size_t n, gn;
    uint8_t *b = idx_body(3, d3, &n);
    drl_dataset *ds = decode_ok(b, n, "idx", NULL);
    ck_assert_uint_eq(ds->N, 5);
    ck_assert_int_eq(ds->C, 1);
    ck_assert_int_eq(ds->H, 4);
    ck_assert_int_eq(ds->W, 6);
    assert_idx_values(ds);
    drl_dataset_free(ds);
    uint8_t *gz = drl_test_gzip(b, n, &gn);
    ds = decode_ok(gz, gn, "idx.gz", NULL);
    ck_assert_uint_eq(ds->N, 5);
    assert_idx_values(ds);
    drl_dataset_free(ds);
    free(gz);
    free(b);

    b = idx_body(4, d4, &n);
    ds = decode_ok(b, n, "idx", NULL);
    ck_assert_uint_eq(ds->N, 2);
    ck_assert_int_eq(ds->C, 3);
    ck_assert_int_eq(ds->H, 4);
    ck_assert_int_eq(ds->W, 5);
    assert_idx_values(ds);
    drl_dataset_free(ds);
    free(b);
}
END_TEST

START_TEST(test_idx_errors) {
    uint32_t d3[3] = {5, 4, 6};
    size_t n;
    uint8_t *b = idx_body(3, d3, &n);
    drl_proto_error e = decode_fail(b, n - 1);
    ck_assert_err(e, 400, "bad_upload", "idx: payload is 119 bytes, dims say 120 (truncated)");
    b[2] = 0x0D; /* float32 */
    e = decode_fail(b, n);
    ck_assert_err(e, 422, "invalid_input", "idx: element type 0x0d");
    free(b);

    uint32_t big[3] = {1, 65, 2};
    b = idx_body(3, big, &n);
    e = decode_fail(b, n);
    ck_assert_err(e, 413, "payload_too_large", "idx: images are 2x65, over the limit of 64");
    free(b);
    uint32_t many[3] = {1001, 1, 1};
    b = idx_body(3, many, &n);
    e = decode_fail(b, n);
    ck_assert_err(e, 413, "payload_too_large", "idx: 1001 images, over the limit of 1000");
    free(b);
    uint32_t two_c[4] = {1, 2, 3, 3};
    b = idx_body(4, two_c, &n);
    e = decode_fail(b, n);
    ck_assert_err(e, 422, "invalid_input", "idx: 2 channels");
    free(b);
}
END_TEST

/* An IDX header promising 100 pixels, then 8 MB of zeros: stops at the cap, never inflates all. */
START_TEST(test_gzip_bomb) {
    size_t raw_n = 16 + ((size_t)8 << 20), gn;
    uint8_t *raw = calloc(1, raw_n);
    uint32_t dims[3] = {1, 10, 10};
    drl_test_idx_header(raw, 0x08, 3, dims);
    uint8_t *gz = drl_test_gzip(raw, raw_n, &gn);
    ck_assert_uint_lt(gn, 100000);
    drl_proto_error e = decode_fail_lim(gz, gn, &(drl_upload_limits){64, 1000, 10000, 1 << 20, 0});
    ck_assert_err(e, 413, "payload_too_large", "idx.gz: inflates to more than 10016 bytes");
    ck_assert_ptr_nonnull(strstr(e.message, "gzip bomb"));
    free(gz);
    free(raw);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* JSON */

static char *b64_png(int C, int H, int W, unsigned seed) {
    size_t n;
    uint8_t *png = png_img(C, H, W, seed, &n);
    char *s = drl_base64_encode(png, n, NULL);
    free(png);
    return s;
}

/* {"images":[{"png":...} x count], <extra>} with image i of shape (C, H or H + 1 for i == odd) */
static char *json_body(int count, int C, int odd, const char *extra) {
    size_t cap = 1 << 16, off = 0;
    char *s = malloc(cap);
    off += (size_t)snprintf(s + off, cap - off, "  \n{\"images\":[");
    for (int i = 0; i < count; i++) {
        char *b = b64_png(C, i == odd ? 7 : 6, 6, (unsigned)i + 1);
        off += (size_t)snprintf(s + off, cap - off, "%s{\"png\":\"%s\"}", i ? "," : "", b);
        free(b);
    }
    snprintf(s + off, cap - off, "]%s%s}", extra ? "," : "", extra ? extra : "");
    return s;
}

START_TEST(test_json_labels) {
    char *body = json_body(3, 1, -1, "\"labels\":[1,0,1],\"classes\":[\"shoe\",\"bag\"]");
    drl_dataset *ds = decode_ok((const uint8_t *)body, strlen(body), "json", NULL);
    ck_assert_uint_eq(ds->N, 3);
    ck_assert_int_eq(ds->H, 6);
    ck_assert_int_eq(ds->n_classes, 2);
    ck_assert_str_eq(ds->class_names[1], "bag");
    ck_assert_int_eq(ds->labels[0], 1);
    ck_assert_int_eq(ds->labels[1], 0);
    for (size_t i = 0; i < 3; i++) assert_image(ds, i, (unsigned)i + 1);
    drl_dataset_free(ds);
    free(body);

    body = json_body(2, 3, -1, "\"labels\":[0,4]");
    ds = decode_ok((const uint8_t *)body, strlen(body), "json", NULL);
    ck_assert_int_eq(ds->C, 3);
    ck_assert_int_eq(ds->n_classes, 5);
    ck_assert_ptr_null(ds->class_names);
    drl_dataset_free(ds);
    free(body);

    body = json_body(2, 1, -1, NULL);
    ds = decode_ok((const uint8_t *)body, strlen(body), "json", NULL);
    ck_assert_ptr_null(ds->labels);
    drl_dataset_free(ds);
    free(body);
}
END_TEST

static drl_proto_error json_fail(const char *body) {
    return decode_fail((const uint8_t *)body, strlen(body));
}

START_TEST(test_json_errors) {
    drl_proto_error e = json_fail("{\"images\":[");
    ck_assert_err(e, 400, "bad_json", "body is not valid JSON");
    e = json_fail("{\"images\":[{\"png\":\"abc\"}]}");
    ck_assert_err(e, 400, "bad_base64", "images[0].png: base64: length 3");
    e = json_fail("{\"images\":[{\"png\":\"aGVsbG8h\"}]}");
    ck_assert_err(e, 400, "bad_png", "images[0].png: not a PNG file");
    e = json_fail("{\"images\":[]}");
    ck_assert_err(e, 422, "invalid_input", "images: empty");
    e = json_fail("{\"images\":[7]}");
    ck_assert_err(e, 422, "invalid_input", "images[0]: expected an object");
    e = json_fail("{\"images\":[],\"extra\":1}");
    ck_assert_err(e, 422, "invalid_input", "unknown key \"extra\"");

    char *body = json_body(3, 1, 2, NULL);
    e = json_fail(body);
    ck_assert_err(e, 422, "invalid_input", "images[2].png: image is 1x7x6 (CxHxW) but images[0] "
                  "is 1x6x6");
    free(body);
    body = json_body(2, 1, -1, "\"labels\":[0]");
    e = json_fail(body);
    ck_assert_err(e, 422, "invalid_input", "labels: 1 labels for 2 images");
    free(body);
    body = json_body(2, 1, -1, "\"labels\":[0,256]");
    e = json_fail(body);
    ck_assert_err(e, 422, "invalid_input", "labels[1]: 256 outside [0, 255]");
    free(body);
    body = json_body(2, 1, -1, "\"labels\":[0,2],\"classes\":[\"a\",\"b\"]");
    e = json_fail(body);
    ck_assert_err(e, 422, "invalid_input", "labels[1]: 2 outside [0, 1]");
    free(body);
    body = json_body(2, 1, -1, "\"classes\":[\"a\"]");
    e = json_fail(body);
    ck_assert_err(e, 422, "invalid_input", "classes: given without labels");
    free(body);

    body = json_body(3, 1, -1, NULL);
    e = decode_fail_lim((const uint8_t *)body, strlen(body),
                        &(drl_upload_limits){64, 2, 1 << 20, 1 << 20, 0});
    ck_assert_err(e, 413, "payload_too_large", "images: 3 images, over the limit of 2");
    e = decode_fail_lim((const uint8_t *)body, strlen(body),
                        &(drl_upload_limits){5, 10, 1 << 20, 1 << 20, 0});
    ck_assert_err(e, 413, "payload_too_large", "images[0].png: PNG is 6x6, over the limit of 5");
    e = decode_fail_lim((const uint8_t *)body, strlen(body),
                        &(drl_upload_limits){64, 10, 100, 1 << 20, 0});
    ck_assert_err(e, 413, "payload_too_large", "the dataset would hold more than 100 values");
    e = decode_fail_lim((const uint8_t *)body, strlen(body),
                        &(drl_upload_limits){64, 10, 1 << 20, 20, 0});
    ck_assert_err(e, 413, "payload_too_large", "images[0].png: base64:");
    free(body);

    size_t n;
    uint8_t *bomb = png_header_only(100000, 100000, &n);
    char *b = drl_base64_encode(bomb, n, NULL);
    char json[512];
    snprintf(json, sizeof json, "{\"images\":[{\"png\":\"%s\"}]}", b);
    e = json_fail(json);
    ck_assert_err(e, 413, "payload_too_large", "images[0].png: PNG is 100000x100000");
    free(b);
    free(bomb);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Not an upload */

START_TEST(test_garbage) {
    const char *junk = "this is neither a tar, nor IDX, nor JSON; just some words.\n";
    drl_proto_error e = json_fail(junk);
    ck_assert_err(e, 400, "bad_upload", "expected a tar of PNG files");
    e = decode_fail((const uint8_t *)"", 0);
    ck_assert_err(e, 400, "bad_upload", "empty body");
    size_t gn;
    uint8_t *gz = drl_test_gzip((const uint8_t *)junk, strlen(junk), &gn);
    e = decode_fail(gz, gn);
    ck_assert_err(e, 400, "bad_upload", "not an IDX file or a tar inside gzip");
    free(gz);
    uint8_t zeros[4096] = {0}; /* two zero blocks: an empty tar */
    e = decode_fail(zeros, sizeof zeros);
    ck_assert_err(e, 422, "invalid_input", "no .png files");
    /* A tar cut in the middle of an entry. */
    tarw t;
    tar_begin(&t);
    uint8_t noise[3000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        x = x * 1664525u + 1013904223u;
        noise[i] = (uint8_t)(x >> 24);
    }
    tar_file(&t, "a.png", noise, sizeof noise);
    size_t n;
    uint8_t *buf = tar_end(&t, &n);
    e = decode_fail(buf, 2048);
    ck_assert_err(e, 400, "bad_upload", "a.png");
    free(buf);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Store */

static drl_dataset *make_dataset(size_t N, int C, int H, int W, int K) {
    drl_dataset *ds = calloc(1, sizeof *ds);
    ds->N = N;
    ds->C = C;
    ds->H = H;
    ds->W = W;
    ds->images = malloc(N * C * H * W * sizeof(float));
    fill(ds->images, N * C * H * W, 7);
    ds->images[0] = -0.5f; /* clamped to 0 */
    ds->images[1] = 1.5f;  /* clamped to 255 */
    if (K) {
        ds->labels = malloc(N * sizeof(int));
        for (size_t i = 0; i < N; i++) ds->labels[i] = (int)(i * 5 % (size_t)K);
        ds->n_classes = K;
        ds->class_names = calloc((size_t)K, sizeof(char *));
        for (int k = 0; k < K; k++) {
            char name[16];
            snprintf(name, sizeof name, "class%d", k);
            ds->class_names[k] = strdup(name);
        }
    }
    return ds;
}

static int count_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

START_TEST(test_store_roundtrip) {
    const char *tmp = drl_test_tmpdir();
    char work[600], root[700];
    snprintf(work, sizeof work, "%s/work", tmp); /* created by store */
    snprintf(root, sizeof root, "%s/datasets", work);
    drl_dataset *ds = make_dataset(7, 3, 5, 4, 3);
    drl_err err = {0};
    char id[DRL_DATASET_ID_MAX], id2[DRL_DATASET_ID_MAX];
    ck_assert_msg(drl_datasets_store(&err, work, ds, "tar", id) == 0, "%s", err.msg);
    ck_assert_uint_eq(strlen(id), 19);
    ck_assert_int_eq(strncmp(id, "ds-", 3), 0);
    ck_assert(drl_datasets_id_ok(id));

    drl_dataset *back = NULL;
    ck_assert_msg(drl_datasets_load(&err, work, id, &back) == 0, "%s", err.msg);
    ck_assert_uint_eq(back->N, 7);
    ck_assert_int_eq(back->C, 3);
    ck_assert_int_eq(back->H, 5);
    ck_assert_int_eq(back->W, 4);
    size_t count = 7 * 3 * 5 * 4;
    ck_assert_int_eq(byte_of(back->images[0]), 0);
    ck_assert_int_eq(byte_of(back->images[1]), 255);
    for (size_t i = 2; i < count; i++)
        ck_assert_msg(byte_of(back->images[i]) == byte_of(ds->images[i]) &&
                      back->images[i] == (float)byte_of(ds->images[i]) / 255.0f,
                      "value %zu: %g vs %g", i, (double)back->images[i], (double)ds->images[i]);
    ck_assert_ptr_nonnull(back->labels);
    for (size_t i = 0; i < 7; i++) ck_assert_int_eq(back->labels[i], ds->labels[i]);
    ck_assert_int_eq(back->n_classes, 3);
    ck_assert_str_eq(back->class_names[2], "class2");
    drl_dataset_free(back);

    /* The IDX file on disk, byte for byte. */
    char path[900];
    snprintf(path, sizeof path, "%s/%s/images.idx", root, id);
    size_t n;
    unsigned char *raw = drl_test_read_file(path, &n);
    ck_assert_ptr_nonnull(raw);
    uint8_t hdr[20];
    ck_assert_uint_eq(drl_test_idx_header(hdr, 0x08, 4, (uint32_t[]){7, 3, 5, 4}), 20);
    ck_assert_uint_eq(n, 20 + count);
    ck_assert_int_eq(memcmp(raw, hdr, 20), 0);
    ck_assert_int_eq(raw[20 + 5], byte_of(ds->images[5]));
    free(raw);

    char *meta = NULL;
    ck_assert_int_eq(drl_datasets_meta(&err, work, id, &meta), 0);
    json_t *m = json_loads(meta, 0, NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(json_string_value(json_object_get(m, "id")), id);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "count")), 7);
    json_t *shape = json_object_get(m, "shape");
    ck_assert_int_eq(json_array_size(shape), 3);
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 0)), 3);
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 2)), 4);
    ck_assert_str_eq(json_string_value(json_object_get(m, "format")), "tar");
    ck_assert(json_is_true(json_object_get(m, "labels")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "classes"), 1)), "class1");
    const char *created = json_string_value(json_object_get(m, "created"));
    ck_assert_ptr_nonnull(created);
    ck_assert_uint_eq(strlen(created), 20);
    ck_assert(created[4] == '-' && created[10] == 'T' && created[19] == 'Z');
    json_decref(m);
    free(meta);

    /* An unlabelled one: no labels.idx, "labels": false, "classes": null. */
    drl_dataset *flat = make_dataset(2, 1, 3, 3, 0);
    ck_assert_int_eq(drl_datasets_store(&err, work, flat, "idx.gz", id2), 0);
    ck_assert_str_ne(id, id2);
    snprintf(path, sizeof path, "%s/%s/labels.idx", root, id2);
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0);
    ck_assert_int_eq(drl_datasets_load(&err, work, id2, &back), 0);
    ck_assert_ptr_null(back->labels);
    ck_assert_int_eq(back->n_classes, 0);
    drl_dataset_free(back);
    ck_assert_int_eq(count_entries(root, ".tmp-"), 0);

    char *list = NULL;
    ck_assert_int_eq(drl_datasets_list(&err, work, &list), 0);
    json_t *l = json_loads(list, 0, NULL);
    json_t *arr = json_object_get(l, "datasets");
    ck_assert_int_eq(json_array_size(arr), 2);
    const char *first = json_string_value(json_object_get(json_array_get(arr, 0), "id"));
    const char *second = json_string_value(json_object_get(json_array_get(arr, 1), "id"));
    /* Same second or not, created then id orders them; the first store's time is not later. */
    ck_assert_msg(strcmp(first, id) == 0 || strcmp(first, id2) == 0, "%s", first);
    ck_assert_str_ne(first, second);
    ck_assert(json_is_null(json_object_get(json_array_get(arr, strcmp(first, id2) == 0 ? 0 : 1),
                                           "classes")));
    json_decref(l);
    free(list);
    drl_dataset_free(ds);
    drl_dataset_free(flat);
}
END_TEST

START_TEST(test_store_bad_ids) {
    const char *work = drl_test_tmpdir();
    drl_err err = {0};
    drl_dataset *ds = NULL;
    char *meta = NULL;
    ck_assert_int_eq(drl_datasets_load(&err, work, "ds-0000000000000000", &ds), DRL_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "not found"));
    ck_assert_int_eq(drl_datasets_meta(&err, work, "ds-0000000000000000", &meta), DRL_ENOTFOUND);
    ck_assert_int_eq(drl_datasets_load(&err, work, "../etc", &ds), DRL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "not valid"));
    ck_assert_int_eq(drl_datasets_meta(&err, work, "ds-1/../../x", &meta), DRL_EINVAL);
    ck_assert_int_eq(drl_datasets_load(&err, work, ".tmp-ds-1", &ds), DRL_EINVAL);
    ck_assert_int_eq(drl_datasets_load(&err, work, "", &ds), DRL_EINVAL);
    ck_assert_int_eq(drl_datasets_load(&err, work, "a234567890123456789012345678901234567890",
                                       &ds), DRL_EINVAL);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_null(meta);
    ck_assert(!drl_datasets_id_ok("a/b"));
    ck_assert(!drl_datasets_id_ok("a.b"));
    ck_assert(drl_datasets_id_ok("ds-0123abcdEF"));

    /* Nothing stored yet: an empty list. */
    char *list = NULL;
    ck_assert_int_eq(drl_datasets_list(&err, work, &list), 0);
    ck_assert_str_eq(list, "{\"datasets\":[]}");
    free(list);
}
END_TEST

/* A crashed writer's temporary directory goes once it is an hour old; a fresh one stays. */
START_TEST(test_store_stale_tmp) {
    const char *work = drl_test_tmpdir();
    char root[600], old[700], fresh[700], file[800];
    snprintf(root, sizeof root, "%s/datasets", work);
    mkdir(root, 0755);
    snprintf(old, sizeof old, "%s/.tmp-ds-old", root);
    snprintf(fresh, sizeof fresh, "%s/.tmp-ds-fresh", root);
    mkdir(old, 0755);
    mkdir(fresh, 0755);
    snprintf(file, sizeof file, "%s/images.idx", old);
    drl_test_write_file(file, "x", 1);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 7200;
    tv[1] = tv[0];
    ck_assert_int_eq(utimes(file, tv), 0);
    ck_assert_int_eq(utimes(old, tv), 0);
    drl_err err = {0};
    char *list = NULL;
    ck_assert_int_eq(drl_datasets_list(&err, work, &list), 0);
    free(list);
    struct stat st;
    ck_assert_int_ne(stat(old, &st), 0);
    ck_assert_int_eq(stat(fresh, &st), 0);
}
END_TEST

/* Upload → store → load: what training will read is what was uploaded. */
START_TEST(test_upload_store_load) {
    tarw t;
    tar_begin_with(&t, archive_write_add_filter_gzip);
    tar_png(&t, "set/b/1.png", 1, 9, 9, 4);
    tar_png(&t, "set/a/1.png", 1, 9, 9, 5);
    size_t n;
    uint8_t *buf = tar_end(&t, &n);
    drl_dataset *ds = decode_ok(buf, n, "tar", NULL);
    const char *work = drl_test_tmpdir();
    drl_err err = {0};
    char id[DRL_DATASET_ID_MAX];
    ck_assert_int_eq(drl_datasets_store(&err, work, ds, "tar", id), 0);
    drl_dataset *back;
    ck_assert_int_eq(drl_datasets_load(&err, work, id, &back), 0);
    ck_assert_uint_eq(back->N, 2);
    assert_image(back, 0, 5);
    assert_image(back, 1, 4);
    ck_assert_int_eq(back->labels[0], 0);
    ck_assert_int_eq(back->labels[1], 1);
    ck_assert_str_eq(back->class_names[0], "a");
    drl_dataset_free(back);
    drl_dataset_free(ds);
    free(buf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("upload");
    TCase *tc = tcase_create("upload");
    tcase_add_test(tc, test_tar_flat_sorted);
    tcase_add_test(tc, test_tar_classes_leading_dir);
    tcase_add_test(tc, test_tar_class_order);
    tcase_add_test(tc, test_tar_dot_and_single_folder);
    tcase_add_test(tc, test_tar_gz);
    tcase_add_test(tc, test_tar_xz);
    tcase_add_test(tc, test_tar_links_and_types);
    tcase_add_test(tc, test_tar_path_tricks);
    tcase_add_test(tc, test_tar_layout_rules);
    tcase_add_test(tc, test_tar_shapes);
    tcase_add_test(tc, test_tar_limits);
    tcase_add_test(tc, test_idx_raw_and_gz);
    tcase_add_test(tc, test_idx_errors);
    tcase_add_test(tc, test_gzip_bomb);
    tcase_add_test(tc, test_json_labels);
    tcase_add_test(tc, test_json_errors);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_store_roundtrip);
    tcase_add_test(tc, test_store_bad_ids);
    tcase_add_test(tc, test_store_stale_tmp);
    tcase_add_test(tc, test_upload_store_load);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
