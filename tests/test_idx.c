/* test_idx.c — IDX parsing: every element type, plain and gzip (compressed here with zlib), and
 * malformed inputs: truncation, trailing bytes, bad magic / type / ndim, dims overflow, and a
 * gzip bomb stopped by the size cap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "err.h"
#include "idx.h"
#include "testutil.h"

/* The 2x3x4 unsigned-byte sample and its bytes. */
static uint8_t *sample_ubyte(size_t *n) {
    uint32_t dims[3] = {2, 3, 4};
    uint8_t *b = malloc(16 + 24);
    size_t h = drl_test_idx_header(b, 0x08, 3, dims);
    for (int i = 0; i < 24; i++) b[h + i] = (uint8_t)(i * 11);
    *n = h + 24;
    return b;
}

static void check_sample(const drl_idx *x) {
    ck_assert_int_eq(x->type, 0x08);
    ck_assert_int_eq(x->ndim, 3);
    ck_assert_uint_eq(x->dims[0], 2);
    ck_assert_uint_eq(x->dims[1], 3);
    ck_assert_uint_eq(x->dims[2], 4);
    ck_assert_uint_eq(x->count, 24);
    for (int i = 0; i < 24; i++) ck_assert(x->data[i] == (float)((i * 11) & 0xff));
}

START_TEST(test_plain_and_gzip) {
    size_t n, gn;
    uint8_t *b = sample_ubyte(&n);
    drl_err e = {0};
    drl_idx *x;
    ck_assert_int_eq(drl_idx_parse(&e, b, n, 0, &x), 0);
    check_sample(x);
    drl_idx_free(x);
    uint8_t *g = drl_test_gzip(b, n, &gn);
    ck_assert_int_eq(drl_idx_parse(&e, g, gn, 0, &x), 0);
    check_sample(x);
    drl_idx_free(x);
    drl_idx_free(NULL);

    /* the file form detects gzip from the bytes, whatever the name says */
    const char *dir = drl_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plain-named.idx", dir);
    drl_test_write_file(path, g, gn);
    ck_assert_int_eq(drl_idx_load(&e, path, 0, &x), 0);
    check_sample(x);
    drl_idx_free(x);
    snprintf(path, sizeof path, "%s/data.gz", dir);
    drl_test_write_file(path, b, n);
    ck_assert_int_eq(drl_idx_load(&e, path, 0, &x), 0);
    check_sample(x);
    drl_idx_free(x);
    snprintf(path, sizeof path, "%s/missing", dir);
    ck_assert_int_eq(drl_idx_load(&e, path, 0, &x), DRL_ENOTFOUND);
    ck_assert_ptr_null(x);
    free(g);
    free(b);
}
END_TEST

START_TEST(test_types) {
    uint8_t b[64];
    uint32_t d3[1] = {3}, d2[1] = {2};
    drl_err e = {0};
    drl_idx *x;
    /* i8 */
    size_t h = drl_test_idx_header(b, 0x09, 1, d3);
    b[h] = 0x80, b[h + 1] = 0xff, b[h + 2] = 0x7f;
    ck_assert_int_eq(drl_idx_parse(&e, b, h + 3, 0, &x), 0);
    ck_assert(x->data[0] == -128.0f && x->data[1] == -1.0f && x->data[2] == 127.0f);
    drl_idx_free(x);
    /* i16 big-endian */
    h = drl_test_idx_header(b, 0x0B, 1, d2);
    memcpy(b + h, "\x01\x02\xff\xfe", 4);
    ck_assert_int_eq(drl_idx_parse(&e, b, h + 4, 0, &x), 0);
    ck_assert(x->data[0] == 258.0f && x->data[1] == -2.0f);
    drl_idx_free(x);
    /* i32 */
    h = drl_test_idx_header(b, 0x0C, 1, d2);
    memcpy(b + h, "\x00\x01\x00\x00\xff\xff\xff\xf6", 8);
    ck_assert_int_eq(drl_idx_parse(&e, b, h + 8, 0, &x), 0);
    ck_assert(x->data[0] == 65536.0f && x->data[1] == -10.0f);
    drl_idx_free(x);
    /* f32: 1.5 = 0x3fc00000, -2.25 = 0xc0100000 */
    h = drl_test_idx_header(b, 0x0D, 1, d2);
    memcpy(b + h, "\x3f\xc0\x00\x00\xc0\x10\x00\x00", 8);
    ck_assert_int_eq(drl_idx_parse(&e, b, h + 8, 0, &x), 0);
    ck_assert(x->data[0] == 1.5f && x->data[1] == -2.25f);
    drl_idx_free(x);
    /* f64: 0.1 = 0x3fb999999999999a */
    h = drl_test_idx_header(b, 0x0E, 1, (uint32_t[]){1});
    memcpy(b + h, "\x3f\xb9\x99\x99\x99\x99\x99\x9a", 8);
    ck_assert_int_eq(drl_idx_parse(&e, b, h + 8, 0, &x), 0);
    ck_assert(x->data[0] == 0.1f);
    ck_assert_int_eq(x->type, 0x0E);
    drl_idx_free(x);
}
END_TEST

START_TEST(test_malformed) {
    size_t n;
    uint8_t *b = sample_ubyte(&n);
    uint8_t *c = malloc(n + 8);
    drl_err e = {0};
    drl_idx *x = (drl_idx *)&e;

    /* every truncation, header included */
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, b, k);
        ck_assert_int_eq(drl_idx_parse(&e, cut, k, 0, &x), DRL_EFORMAT);
        ck_assert_ptr_null(x);
        free(cut);
    }
    ck_assert(strstr(e.msg, "truncated") != NULL);

    memcpy(c, b, n);
    c[n] = 0;
    ck_assert_int_eq(drl_idx_parse(&e, c, n + 1, 0, &x), DRL_EFORMAT);
    ck_assert_msg(strstr(e.msg, "trailing") != NULL, "%s", e.msg);

    memcpy(c, b, n);
    c[1] = 1;
    ck_assert_int_eq(drl_idx_parse(&e, c, n, 0, &x), DRL_EFORMAT);
    ck_assert_msg(strstr(e.msg, "magic") != NULL, "%s", e.msg);

    memcpy(c, b, n);
    c[2] = 0x0A; /* not a type */
    ck_assert_int_eq(drl_idx_parse(&e, c, n, 0, &x), DRL_EFORMAT);

    memcpy(c, b, n);
    c[3] = 0;
    ck_assert_int_eq(drl_idx_parse(&e, c, n, 0, &x), DRL_EFORMAT);
    c[3] = 5;
    ck_assert_int_eq(drl_idx_parse(&e, c, n, 0, &x), DRL_EFORMAT);

    /* dims whose product overflows size_t, and with f64 elements */
    uint8_t h[32];
    uint32_t big[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 2};
    size_t hl = drl_test_idx_header(h, 0x08, 4, big);
    ck_assert_int_eq(drl_idx_parse(&e, h, hl, 0, &x), DRL_EFORMAT);
    ck_assert_msg(strstr(e.msg, "overflow") != NULL, "%s", e.msg);
    uint32_t big2[2] = {0xffffffffu, 0x7fffffffu};
    hl = drl_test_idx_header(h, 0x0E, 2, big2);
    ck_assert_int_eq(drl_idx_parse(&e, h, hl, 0, &x), DRL_EFORMAT);

    /* plain input above the cap */
    ck_assert_int_eq(drl_idx_parse(&e, b, n, 16, &x), DRL_ELIMIT);
    free(c);
    free(b);
}
END_TEST

START_TEST(test_gzip_malformed) {
    size_t n, gn;
    uint8_t *b = sample_ubyte(&n);
    uint8_t *g = drl_test_gzip(b, n, &gn);
    drl_err e = {0};
    drl_idx *x;
    /* every truncation of the gzip stream (past the 2 magic bytes) */
    for (size_t k = 2; k < gn; k++) {
        uint8_t *cut = malloc(k);
        memcpy(cut, g, k);
        int rc = drl_idx_parse(&e, cut, k, 0, &x);
        ck_assert_msg(rc == DRL_EFORMAT, "gzip prefix %zu/%zu: rc %d (%s)", k, gn, rc, e.msg);
        free(cut);
    }
    /* trailing bytes after the gzip member */
    uint8_t *t = malloc(gn + 3);
    memcpy(t, g, gn);
    memcpy(t + gn, "abc", 3);
    ck_assert_int_eq(drl_idx_parse(&e, t, gn + 3, 0, &x), DRL_EFORMAT);
    ck_assert_msg(strstr(e.msg, "trailing") != NULL, "%s", e.msg);
    /* a flipped byte in the deflate data or the CRC trailer */
    memcpy(t, g, gn);
    t[gn - 6] ^= 0x55;
    ck_assert_int_eq(drl_idx_parse(&e, t, gn, 0, &x), DRL_EFORMAT);
    free(t);
    /* a gzip of content that is itself malformed IDX */
    b[0] = 7;
    free(g);
    g = drl_test_gzip(b, n, &gn);
    ck_assert_int_eq(drl_idx_parse(&e, g, gn, 0, &x), DRL_EFORMAT);
    free(g);
    free(b);
}
END_TEST

START_TEST(test_gzip_bomb) {
    /* 16 MiB of zeros behind a valid header compresses to ~16 KiB. */
    const size_t payload = (size_t)16 << 20;
    uint32_t dims[3] = {16384, 32, 32};
    uint8_t *raw = calloc(1, 16 + payload);
    size_t h = drl_test_idx_header(raw, 0x08, 3, dims);
    size_t gn;
    uint8_t *g = drl_test_gzip(raw, h + payload, &gn);
    free(raw);
    ck_assert_uint_lt(gn, (size_t)1 << 20);
    drl_err e = {0};
    drl_idx *x;
    ck_assert_int_eq(drl_idx_parse(&e, g, gn, (size_t)1 << 20, &x), DRL_ELIMIT);
    ck_assert_ptr_null(x);
    ck_assert_msg(strstr(e.msg, "limit") != NULL, "%s", e.msg);
    /* one byte short of the content is still too much; exactly the content size is fine */
    ck_assert_int_eq(drl_idx_parse(&e, g, gn, h + payload - 1, &x), DRL_ELIMIT);
    ck_assert_int_eq(drl_idx_parse(&e, g, gn, h + payload, &x), 0);
    ck_assert_uint_eq(x->count, payload);
    drl_idx_free(x);
    free(g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_test(tc, test_plain_and_gzip);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_gzip_malformed);
    tcase_add_test(tc, test_gzip_bomb);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
