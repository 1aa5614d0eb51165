/* test_safetensors.c — the safetensors reader and writer.
 *
 * Round trips must be bit-exact; F16 / BF16 decoding is checked exhaustively (all 65536 codes)
 * against the IEEE formulas evaluated in double; every corrupt input must fail with a message
 * that names the problem, and no prefix or byte flip of a valid file may crash the reader.
 *
 * The "interop" case is also driven by tests/py/test_safetensors_interop.py (which writes and
 * reads files with numpy alone): with DRL_ST_WRITE=path it writes its known file there, and with
 * DRL_ST_RESAVE_IN / DRL_ST_RESAVE_OUT it re-saves a numpy-written file as F32. Without those
 * variables both tests run self-contained in a temporary directory. */
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------------- helpers */

/* A file from a u64 header length, header bytes and a zero-filled data area of dlen bytes
 * (or a copy of data when given). Exactly sized so ASan sees any overread. */
static uint8_t *mkfile_raw(uint64_t hlen, const char *hdr, size_t hbytes, const void *data,
                           size_t dlen, size_t *n) {
    *n = 8 + hbytes + dlen;
    uint8_t *b = calloc(1, *n);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b + 8, hdr, hbytes);
    if (data && dlen) memcpy(b + 8 + hbytes, data, dlen);
    return b;
}

static uint8_t *mkfile(const char *hdr, const void *data, size_t dlen, size_t *n) {
    return mkfile_raw(strlen(hdr), hdr, strlen(hdr), data, dlen, n);
}

/* Parses a private exact-size copy of buf[0..n) (so ASan bounds it) and returns rc. */
static int parse_copy(drl_err *e, const uint8_t *buf, size_t n, drl_safetensors **out) {
    uint8_t *c = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(c);
    if (n) memcpy(c, buf, n);
    int rc = drl_safetensors_parse(e, c, n, out);
    free(c);
    return rc;
}

/* Asserts that buf fails to parse with code and a message containing want. */
#define expect_fail(buf, n, code, want) expect_fail_at((buf), (n), (code), (want), __LINE__)
static void expect_fail_at(const uint8_t *buf, size_t n, int code, const char *want, int line) {
    drl_err e = {0};
    drl_safetensors *st = (drl_safetensors *)1;
    int rc = parse_copy(&e, buf, n, &st);
    ck_assert_msg(rc != 0, "line %d: parse succeeded, expected failure with '%s'", line, want);
    ck_assert_msg(st == NULL, "line %d: *out not NULL on failure", line);
    ck_assert_msg(rc == code && e.code == code, "line %d: code %d (%s), want %d (%s); msg: %s",
                  line, rc, drl_err_name(rc), code, drl_err_name(code), e.msg);
    ck_assert_msg(strstr(e.msg, want) != NULL, "line %d: message '%s' lacks '%s'", line, e.msg,
                  want);
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Bitwise equality of two float arrays, reporting the first difference. */
static void assert_bits_eq(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(f32_bits(a[i]) == f32_bits(b[i]), "%s[%zu]: got 0x%08x (%g) want 0x%08x (%g)",
                      what, i, f32_bits(a[i]), (double)a[i], f32_bits(b[i]), (double)b[i]);
}

/* A small fixed model: specials (NaN with payload, ±0, ±inf, subnormal, FLT_MAX), a scalar, a
 * zero-size tensor and a vector, with metadata that needs JSON escaping. */
static float rt_w[6], rt_s[1], rt_b[5];
static const int64_t rt_w_shape[2] = {2, 3}, rt_e_shape[2] = {0, 4}, rt_b_shape[1] = {5};
static const char *const rt_meta[] = {"drl.config", "{\"latent_dim\": 8}", "note",
                                      "caf\xc3\xa9 \"quoted\"\nline\\2"};

static size_t rt_entries(drl_st_entry *ents) {
    const uint32_t w[6] = {0x7fc00001u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x00000001u,
                           0x7f7fffffu};
    for (int i = 0; i < 6; i++) rt_w[i] = bits_f32(w[i]);
    rt_s[0] = 3.5f;
    for (int i = 0; i < 5; i++) rt_b[i] = (float)i / 3.0f - 1.0f;
    ents[0] = (drl_st_entry){"w", rt_w, 2, rt_w_shape};
    ents[1] = (drl_st_entry){"s", rt_s, 0, NULL};
    ents[2] = (drl_st_entry){"empty", NULL, 2, rt_e_shape};
    ents[3] = (drl_st_entry){"b", rt_b, 1, rt_b_shape};
    return 4;
}

/* Checks a parsed rt_entries() file, tensors in the order written. */
static void rt_check(const drl_safetensors *st) {
    drl_st_entry ents[4];
    size_t n = rt_entries(ents);
    ck_assert_uint_eq(st->n_tensors, n);
    for (size_t i = 0; i < n; i++) {
        const drl_st_tensor *t = &st->tensors[i];
        ck_assert_str_eq(t->name, ents[i].name);
        ck_assert_ptr_eq(drl_safetensors_find(st, ents[i].name), t);
        ck_assert_str_eq(t->dtype, "F32");
        ck_assert_int_eq(t->ndim, ents[i].ndim);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            ck_assert_int_eq(t->shape[d], ents[i].shape[d]);
            numel *= (size_t)t->shape[d];
        }
        ck_assert_uint_eq(t->numel, numel);
        if (numel) assert_bits_eq(t->data, ents[i].data, numel, t->name);
    }
    ck_assert_ptr_null(drl_safetensors_find(st, "missing"));
    ck_assert_uint_eq(st->n_meta, 2);
    ck_assert_str_eq(drl_safetensors_meta(st, "drl.config"), rt_meta[1]);
    ck_assert_str_eq(drl_safetensors_meta(st, "note"), rt_meta[3]);
    ck_assert_ptr_null(drl_safetensors_meta(st, "absent"));
}

/* ------------------------------------------------------------------------------ round trip */

START_TEST(test_roundtrip) {
    drl_err e = {0};
    drl_st_entry ents[4];
    size_t n = rt_entries(ents);
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    int rc = drl_safetensors_serialize(&e, ents, n, rt_meta, 2, &buf, &len);
    ck_assert_msg(rc == 0, "serialize: %s", e.msg);

    /* Layout: header length LE, space padding to 8, data = 6 + 1 + 0 + 5 floats. */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_uint_eq(len, 8 + hlen + 12 * sizeof(float));
    char *hdr = strndup((const char *)buf + 8, hlen);
    ck_assert_msg(hdr[0] == '{', "header: %s", hdr);
    size_t end = strlen(hdr);
    while (end && hdr[end - 1] == ' ') end--;
    ck_assert_msg(hdr[end - 1] == '}', "header not padded with spaces: %s", hdr);
    const char *pm = strstr(hdr, "\"__metadata__\""), *pw = strstr(hdr, "\"w\""),
               *ps = strstr(hdr, "\"s\""), *pe = strstr(hdr, "\"empty\""),
               *pb = strstr(hdr, "\"b\"");
    ck_assert_msg(pm && pw && ps && pe && pb && pm < pw && pw < ps && ps < pe && pe < pb,
                  "header order: %s", hdr);
    ck_assert_msg(strstr(hdr, "\"data_offsets\":[0,24]") && strstr(hdr, "\"shape\":[]"),
                  "header: %s", hdr);
    free(hdr);
    /* The data area is the floats themselves, little-endian. */
    ck_assert_int_eq(memcmp(buf + 8 + hlen, rt_w, sizeof rt_w), 0);

    drl_safetensors *st = NULL;
    rc = parse_copy(&e, buf, len, &st);
    ck_assert_msg(rc == 0, "parse: %s", e.msg);
    rt_check(st);
    drl_safetensors_free(st);

    /* Deterministic: the same input gives the same bytes. */
    ck_assert_int_eq(drl_safetensors_serialize(&e, ents, n, rt_meta, 2, &buf2, &len2), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(buf, buf2, len), 0);
    free(buf);
    free(buf2);

    /* No metadata: no __metadata__ key; no tensors at all is a valid (empty) file. */
    ck_assert_int_eq(drl_safetensors_serialize(&e, ents, 1, NULL, 0, &buf, &len), 0);
    hdr = strndup((const char *)buf + 8, len - 8 - 6 * sizeof(float));
    ck_assert_msg(!strstr(hdr, "__metadata__"), "header: %s", hdr);
    free(hdr);
    ck_assert_int_eq(parse_copy(&e, buf, len, &st), 0);
    ck_assert_uint_eq(st->n_meta, 0);
    ck_assert_uint_eq(st->n_tensors, 1);
    drl_safetensors_free(st);
    free(buf);
    ck_assert_int_eq(drl_safetensors_serialize(&e, NULL, 0, NULL, 0, &buf, &len), 0);
    ck_assert_int_eq(parse_copy(&e, buf, len, &st), 0);
    ck_assert_uint_eq(st->n_tensors, 0);
    drl_safetensors_free(st);
    free(buf);
    drl_safetensors_free(NULL);
}
END_TEST

START_TEST(test_save_load) {
    drl_err e = {0};
    drl_st_entry ents[4];
    size_t n = rt_entries(ents);
    const char *dir = drl_test_tmpdir();
    char path[600], bad[700];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = drl_safetensors_save(&e, path, ents, n, rt_meta, 2);
    ck_assert_msg(rc == 0, "save: %s", e.msg);
    /* Save again over the existing file (the atomic rename path). */
    rc = drl_safetensors_save(&e, path, ents, n, rt_meta, 2);
    ck_assert_msg(rc == 0, "save: %s", e.msg);

    drl_safetensors *st = NULL;
    rc = drl_safetensors_load(&e, path, 0, &st);
    ck_assert_msg(rc == 0, "load: %s", e.msg);
    rt_check(st);
    drl_safetensors_free(st);

    /* Only the target is left: no temporary files. */
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            files++;
            ck_assert_msg(!strcmp(de->d_name, "model.safetensors"), "stray file %s", de->d_name);
        }
    closedir(d);
    ck_assert_int_eq(files, 1);

    /* Limits and errors name the path. */
    rc = drl_safetensors_load(&e, path, 64, &st);
    ck_assert_msg(rc == DRL_ELIMIT && st == NULL && strstr(e.msg, path), "%s", e.msg);
    snprintf(bad, sizeof bad, "%s/missing.safetensors", dir);
    rc = drl_safetensors_load(&e, bad, 0, &st);
    ck_assert_msg(rc == DRL_ENOTFOUND && strstr(e.msg, bad), "%s", e.msg);
    snprintf(bad, sizeof bad, "%s/corrupt.safetensors", dir);
    drl_test_write_file(bad, "\x02\0\0\0\0\0\0\0[]", 10);
    rc = drl_safetensors_load(&e, bad, 0, &st);
    ck_assert_msg(rc == DRL_EFORMAT && strstr(e.msg, bad) && strstr(e.msg, "not a JSON object"),
                  "%s", e.msg);
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", dir);
    rc = drl_safetensors_save(&e, bad, ents, n, NULL, 0);
    ck_assert_msg(rc == DRL_EIO && strstr(e.msg, bad), "%s", e.msg);
    /* A writer error is prefixed with the path and writes nothing. */
    drl_st_entry dup[2] = {ents[0], ents[0]};
    snprintf(bad, sizeof bad, "%s/dup.safetensors", dir);
    rc = drl_safetensors_save(&e, bad, dup, 2, NULL, 0);
    ck_assert_msg(rc == DRL_EINVAL && strstr(e.msg, bad) && strstr(e.msg, "duplicate"), "%s",
                  e.msg);
    size_t sz;
    ck_assert_ptr_null(drl_test_read_file(bad, &sz));
}
END_TEST

START_TEST(test_writer_rejects) {
    drl_err e = {0};
    float x[4] = {1, 2, 3, 4};
    int64_t s4[1] = {4}, neg[2] = {2, -2}, big[3] = {INT64_MAX, INT64_MAX, 4};
    int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
    struct {
        drl_st_entry ents[2];
        size_t n;
        const char *const *meta;
        size_t n_meta;
        int code;
        const char *want;
    } cases[] = {
        {{{"a", x, 1, s4}, {"a", x, 1, s4}}, 2, NULL, 0, DRL_EINVAL, "duplicate tensor name \"a\""},
        {{{"a", NULL, 1, s4}}, 1, NULL, 0, DRL_EINVAL, "NULL data for 4 elements"},
        {{{"a", x, -1, s4}}, 1, NULL, 0, DRL_EINVAL, "ndim -1 outside 0..8"},
        {{{"a", x, 9, s9}}, 1, NULL, 0, DRL_EINVAL, "ndim 9 outside 0..8"},
        {{{"a", x, 1, NULL}}, 1, NULL, 0, DRL_EINVAL, "NULL shape"},
        {{{"a", x, 2, neg}}, 1, NULL, 0, DRL_EINVAL, "shape[1] = -2 is negative"},
        {{{"a", x, 3, big}}, 1, NULL, 0, DRL_ELIMIT, "shape overflows"},
        {{{NULL, x, 1, s4}}, 1, NULL, 0, DRL_EINVAL, "entry 0 has no name"},
        {{{"__metadata__", x, 1, s4}}, 1, NULL, 0, DRL_EINVAL, "cannot be named __metadata__"},
        {{{"bad\xff", x, 1, s4}}, 1, NULL, 0, DRL_EINVAL, "not valid UTF-8"},
        {{{"a", x, 1, s4}}, 1, (const char *const[]){"k", "1", "k", "2"}, 2, DRL_EINVAL,
         "duplicate metadata key \"k\""},
        {{{"a", x, 1, s4}}, 1, (const char *const[]){"k", NULL}, 1, DRL_EINVAL,
         "NULL key or value"},
        {{{"a", x, 1, s4}}, 1, (const char *const[]){"k", "\xc3"}, 1, DRL_EINVAL,
         "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *buf = (uint8_t *)1;
        size_t len = 1;
        int rc = drl_safetensors_serialize(&e, cases[i].ents, cases[i].n, cases[i].meta,
                                           cases[i].n_meta, &buf, &len);
        ck_assert_msg(rc == cases[i].code, "case %zu: rc %d want %d (%s)", i, rc, cases[i].code,
                      e.msg);
        ck_assert_msg(buf == NULL && len == 0, "case %zu: output not cleared", i);
        ck_assert_msg(strstr(e.msg, cases[i].want), "case %zu: message '%s' lacks '%s'", i, e.msg,
                      cases[i].want);
    }
    /* NULL data is fine when there is nothing to write. */
    int64_t z[2] = {3, 0};
    drl_st_entry ok = {"z", NULL, 2, z};
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(drl_safetensors_serialize(&e, &ok, 1, NULL, 0, &buf, &len), 0);
    free(buf);
}
END_TEST

/* -------------------------------------------------------------------------- F16 / BF16 */

/* binary16 by its definition: (-1)^s × 2^(e-15) × (1 + m/1024), subnormal 2^-14 × m/1024. */
static double f16_ref(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m / 1024.0, -14) : e == 31 ? (m ? NAN : INFINITY)
                                                         : ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

/* bfloat16: the float32 format with 7 mantissa bits: 2^(e-127) × (1 + m/128), subnormal
 * 2^-126 × m/128. */
static double bf16_ref(uint16_t h) {
    int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
    double v = e == 0 ? ldexp(m / 128.0, -126) : e == 255 ? (m ? NAN : INFINITY)
                                                          : ldexp(1.0 + m / 128.0, e - 127);
    return s ? -v : v;
}

/* Compares a decoded value with the reference: NaN must stay NaN (same sign), the rest exact
 * (every F16 and BF16 value is a float32). */
static void check_half(float got, double want, uint16_t code, const char *dt) {
    if (isnan(want)) {
        ck_assert_msg(isnan(got) && !!signbit(got) == !!(code >> 15), "%s 0x%04x: got %g want nan",
                      dt, code, (double)got);
        return;
    }
    ck_assert_msg(f32_bits(got) == f32_bits((float)want), "%s 0x%04x: got %.9g (0x%08x) want %.9g",
                  dt, code, (double)got, f32_bits(got), want);
}

/* A one-tensor file holding all 65536 16-bit codes in order. */
static drl_safetensors *all_codes(const char *dtype) {
    static uint8_t data[65536 * 2];
    for (uint32_t c = 0; c < 65536; c++) {
        data[2 * c] = (uint8_t)c;
        data[2 * c + 1] = (uint8_t)(c >> 8);
    }
    char hdr[160];
    snprintf(hdr, sizeof hdr,
             "{\"all\":{\"dtype\":\"%s\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}", dtype);
    size_t n;
    uint8_t *f = mkfile(hdr, data, sizeof data, &n);
    drl_err e = {0};
    drl_safetensors *st = NULL;
    int rc = drl_safetensors_parse(&e, f, n, &st);
    free(f);
    ck_assert_msg(rc == 0, "%s: %s", dtype, e.msg);
    ck_assert_str_eq(st->tensors[0].dtype, dtype);
    ck_assert_uint_eq(st->tensors[0].numel, 65536);
    return st;
}

START_TEST(test_f16_exhaustive) {
    drl_safetensors *st = all_codes("F16");
    const float *v = st->tensors[0].data;
    for (uint32_t c = 0; c < 65536; c++) check_half(v[c], f16_ref((uint16_t)c), (uint16_t)c, "F16");
    /* Landmarks, spelled out. */
    ck_assert(v[0x3c00] == 1.0f && v[0xc000] == -2.0f && v[0x7bff] == 65504.0f);
    ck_assert(v[0x0001] == 5.9604644775390625e-8f); /* 2^-24, smallest subnormal */
    ck_assert(v[0x03ff] == 6.09755516052246094e-5f); /* largest subnormal */
    ck_assert(v[0x0400] == 6.103515625e-5f);         /* 2^-14, smallest normal */
    ck_assert(f32_bits(v[0x8000]) == 0x80000000u);   /* -0 */
    ck_assert(isinf(v[0x7c00]) && v[0x7c00] > 0 && isinf(v[0xfc00]) && v[0xfc00] < 0);
    ck_assert(isnan(v[0x7e00]) && isnan(v[0x7c01]) && isnan(v[0xfe00]));
    ck_assert_uint_eq(f32_bits(v[0x7e01]), 0x7fc02000u); /* NaN payload kept */
    drl_safetensors_free(st);
}
END_TEST

START_TEST(test_bf16_exhaustive) {
    drl_safetensors *st = all_codes("BF16");
    const float *v = st->tensors[0].data;
    for (uint32_t c = 0; c < 65536; c++)
        check_half(v[c], bf16_ref((uint16_t)c), (uint16_t)c, "BF16");
    ck_assert(v[0x3f80] == 1.0f && v[0xc000] == -2.0f);
    ck_assert(v[0x0001] == 9.18354961579912115601e-41f); /* 2^-133, smallest subnormal */
    ck_assert(isinf(v[0x7f80]) && isinf(v[0xff80]) && isnan(v[0x7fc0]) && isnan(v[0x7f81]));
    for (uint32_t c = 0; c < 65536; c++) /* a bit-level identity as well */
        ck_assert_uint_eq(f32_bits(v[c]), c << 16);
    drl_safetensors_free(st);
}
END_TEST

/* Mixed dtypes, a header length that leaves the data unaligned, unknown entry keys (ignored, as
 * the reference does), a scalar, zero-size tensors, header order != data order, null metadata. */
START_TEST(test_mixed_valid) {
    uint8_t data[4 + 2 * 3 + 2 * 2 + 4];
    size_t k = 0;
    float one = 1.0f, half = 0.5f;
    const uint8_t h[6] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}; /* F16 1, -2, 2^-24 */
    const uint8_t bf[4] = {0x80, 0x3f, 0x80, 0xff};              /* BF16 1, -inf */
    memcpy(data + k, &one, 4); /* s: F32 scalar */
    k += 4;
    memcpy(data + k, h, 6); /* h */
    k += 6;
    memcpy(data + k, bf, 4); /* bf */
    k += 4;
    memcpy(data + k, &half, 4); /* f: F32 [1] */
    const char *hdr =
        "{\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[14,18],\"extra\":true},"
        "\"bf\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[10,14]},"
        "\"z1\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[18,18]},"
        "\"z0\":{\"dtype\":\"F32\",\"shape\":[3,0,2],\"data_offsets\":[0,0]},"
        "\"__metadata__\":null,"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[4,10]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}   ";
    ck_assert_uint_ne((strlen(hdr) + 8) % 4, 0); /* data area not 4-aligned */
    size_t n;
    uint8_t *f = mkfile(hdr, data, sizeof data, &n);
    drl_err e = {0};
    drl_safetensors *st = NULL;
    int rc = parse_copy(&e, f, n, &st);
    free(f);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_uint_eq(st->n_meta, 0);
    ck_assert_uint_eq(st->n_tensors, 6);
    /* File order of data_offsets: z0 [0,0], s [0,4], h, bf, f, z1 [18,18]. */
    const char *order[6] = {"z0", "s", "h", "bf", "f", "z1"};
    for (int i = 0; i < 6; i++) ck_assert_str_eq(st->tensors[i].name, order[i]);
    const drl_st_tensor *t = drl_safetensors_find(st, "s");
    ck_assert(t->ndim == 0 && t->numel == 1 && t->data[0] == 1.0f);
    t = drl_safetensors_find(st, "h");
    ck_assert(t->data[0] == 1.0f && t->data[1] == -2.0f && t->data[2] == 0x1p-24f);
    t = drl_safetensors_find(st, "bf");
    ck_assert(t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 1);
    ck_assert(t->data[0] == 1.0f && isinf(t->data[1]) && t->data[1] < 0);
    t = drl_safetensors_find(st, "z0");
    ck_assert(t->ndim == 3 && t->numel == 0 && t->shape[2] == 2);
    ck_assert(drl_safetensors_find(st, "f")->data[0] == 0.5f);
    drl_safetensors_free(st);

    /* The smallest file: an empty header object. */
    f = mkfile("{}", NULL, 0, &n);
    ck_assert_int_eq(parse_copy(&e, f, n, &st), 0);
    ck_assert_uint_eq(st->n_tensors, 0);
    drl_safetensors_free(st);
    free(f);
}
END_TEST

/* ----------------------------------------------------------------------------- corruption */

START_TEST(test_header_length) {
    size_t n;
    uint8_t *f;
    expect_fail((const uint8_t *)"", 0, DRL_EFORMAT, "shorter than 8 bytes");
    expect_fail((const uint8_t *)"\x02\0\0\0\0\0\0", 7, DRL_EFORMAT, "is 7 bytes, shorter than 8");
    f = mkfile_raw(0, "", 0, NULL, 16, &n);
    expect_fail(f, n, DRL_EFORMAT, "header length 0");
    free(f);
    f = mkfile_raw(UINT64_MAX, "{}", 2, NULL, 0, &n);
    expect_fail(f, n, DRL_ELIMIT, "header length 18446744073709551615 exceeds the limit");
    free(f);
    f = mkfile_raw((uint64_t)DRL_ST_MAX_HEADER + 1, "{}", 2, NULL, 0, &n);
    expect_fail(f, n, DRL_ELIMIT, "exceeds the limit");
    free(f);
    f = mkfile_raw(100, "{}", 2, NULL, 20, &n);
    expect_fail(f, n, DRL_EFORMAT, "header length 100 runs past the end of the file (30 bytes)");
    free(f);
    f = mkfile_raw(4, "{}\0\0", 4, NULL, 0, &n); /* NUL padding is not JSON whitespace */
    expect_fail(f, n, DRL_EFORMAT, "header is not valid JSON");
    free(f);
    f = mkfile_raw(3, "{}", 2, NULL, 0, &n); /* one byte too long */
    expect_fail(f, n, DRL_EFORMAT, "runs past the end");
    free(f);
}
END_TEST

START_TEST(test_corrupt_headers) {
    /* Each: header, data bytes (zeros), expected code, expected message fragment. */
    struct {
        const char *hdr;
        size_t dlen;
        int code;
        const char *want;
    } cases[] = {
        {"[]", 0, DRL_EFORMAT, "header is not a JSON object"},
        {"\"x\"", 0, DRL_EFORMAT, "not valid JSON"}, /* jansson rejects a bare scalar */
        {"{\"a\":", 0, DRL_EFORMAT, "header is not valid JSON"},
        {"{} x", 0, DRL_EFORMAT, "header is not valid JSON"},
        {"{\"\xff\":1}", 0, DRL_EFORMAT, "not valid JSON"},
        {"  {\"a\":1}", 0, DRL_EFORMAT, "tensor \"a\": entry is not an object"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "tensor \"a\": missing or non-string dtype"},
        {"{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "missing or non-string dtype"},
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, DRL_EUNSUPPORTED,
         "tensor \"a\": unsupported dtype \"F64\""},
        {"{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, DRL_EUNSUPPORTED,
         "unsupported dtype \"I8\""},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "tensor \"a\": unknown dtype \"F33\""},
        {"{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "unknown dtype \"f32\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "tensor \"a\": missing or non-array shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "missing or non-array shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "tensor \"a\": shape[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "shape[1] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "shape[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "shape[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4,
         DRL_EFORMAT, "not valid JSON"}, /* jansson: too big integer */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         DRL_ELIMIT, "tensor \"a\": 9 dims exceeds the limit of 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}",
         4, DRL_EFORMAT, "tensor \"a\": shape overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4,
         DRL_EFORMAT, "shape overflows"}, /* 2^62 elements × 4 bytes */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20, DRL_EFORMAT,
         "tensor \"a\": shape needs 24 bytes of F32 but data_offsets span 20"},
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "shape needs 6 bytes of F16 but data_offsets span 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, DRL_EFORMAT,
         "shape needs 4 bytes of F32 but data_offsets span 0"}, /* a scalar has one element */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, DRL_EFORMAT,
         "tensor \"a\": data_offsets must be an array of two non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, DRL_EFORMAT,
         "data_offsets must be an array of two"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, DRL_EFORMAT,
         "data_offsets must be an array of two"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, DRL_EFORMAT,
         "data_offsets must be an array of two non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"b\":0}}}", 4, DRL_EFORMAT,
         "data_offsets must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, DRL_EFORMAT,
         "tensor \"a\": data_offsets begin 4 > end 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, DRL_EFORMAT,
         "tensor \"a\": data_offsets end 8 is out of range (data area is 4 bytes)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,"
         "18446744073709551616]}}", 4, DRL_EFORMAT, "not valid JSON"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, DRL_EFORMAT,
         "tensors \"a\" and \"b\" overlap (bytes 4..8)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DRL_EFORMAT,
         "tensors \"a\" and \"b\" overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, DRL_EFORMAT,
         "tensors \"a\" and \"z\" overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, DRL_EFORMAT,
         "incomplete buffer: data area bytes 4..8 belong to no tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, DRL_EFORMAT,
         "incomplete buffer: data area bytes 0..4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, DRL_EFORMAT,
         "incomplete buffer: tensors cover 4 of the 8 data bytes"},
        {"{}", 1, DRL_EFORMAT, "incomplete buffer: tensors cover 0 of the 1 data bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, DRL_EFORMAT,
         "duplicate object key"},
        {"{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\":{}}", 0, DRL_EFORMAT, "duplicate"},
        {"{\"__metadata__\":{\"k\":1}}", 0, DRL_EFORMAT, "__metadata__[\"k\"] is not a string"},
        {"{\"__metadata__\":{\"a\":\"x\",\"k\":null}}", 0, DRL_EFORMAT,
         "__metadata__[\"k\"] is not a string"},
        {"{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}", 0, DRL_EFORMAT, "is not a string"},
        {"{\"__metadata__\":[\"k\",\"v\"]}", 0, DRL_EFORMAT, "__metadata__ is not an object"},
        {"{\"__metadata__\":\"k=v\"}", 0, DRL_EFORMAT, "__metadata__ is not an object"},
        {"{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, DRL_EFORMAT, "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *f = mkfile(cases[i].hdr, NULL, cases[i].dlen, &n);
        drl_err e = {0};
        drl_safetensors *st = NULL;
        int rc = parse_copy(&e, f, n, &st);
        ck_assert_msg(rc == cases[i].code && st == NULL, "case %zu (%s): rc %d want %d; msg: %s", i,
                      cases[i].hdr, rc, cases[i].code, e.msg);
        ck_assert_msg(strstr(e.msg, cases[i].want) != NULL,
                      "case %zu (%s): message '%s' lacks '%s'", i, cases[i].hdr, e.msg,
                      cases[i].want);
        free(f);
    }
}
END_TEST

/* A small valid file: every proper prefix must fail (the data area no longer matches), one extra
 * byte must fail, and no prefix, suffix or single-byte corruption may crash or leak. */
START_TEST(test_truncation_and_flips) {
    drl_err e = {0};
    drl_st_entry ents[4];
    size_t ne = rt_entries(ents);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(drl_safetensors_serialize(&e, ents, ne, rt_meta, 2, &buf, &len), 0);
    drl_safetensors *st = NULL;
    for (size_t k = 0; k < len; k++) {
        drl_err_clear(&e);
        int rc = parse_copy(&e, buf, k, &st);
        ck_assert_msg(rc != 0 && st == NULL, "prefix of %zu/%zu bytes parsed", k, len);
        ck_assert_msg(e.msg[0] != '\0' && e.code == rc, "prefix %zu: empty message", k);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    expect_fail(longer, len + 1, DRL_EFORMAT, "incomplete buffer");
    free(longer);

    /* Flip bits in every byte: either a clean error or a self-consistent result. */
    const uint8_t flips[] = {0x01, 0x02, 0x10, 0x20, 0x80, 0xff};
    uint8_t *c = malloc(len);
    int ok = 0, failed = 0;
    for (size_t i = 0; i < len; i++)
        for (size_t j = 0; j < sizeof flips; j++) {
            memcpy(c, buf, len);
            c[i] ^= flips[j];
            drl_err_clear(&e);
            int rc = drl_safetensors_parse(&e, c, len, &st);
            if (rc) {
                ck_assert_msg(st == NULL && e.msg[0], "byte %zu ^ 0x%02x: bad failure", i,
                              flips[j]);
                failed++;
                continue;
            }
            ok++;
            for (size_t t = 0; t < st->n_tensors; t++) {
                size_t numel = 1;
                for (int d = 0; d < st->tensors[t].ndim; d++)
                    numel *= (size_t)st->tensors[t].shape[d];
                ck_assert_uint_eq(numel, st->tensors[t].numel);
            }
            drl_safetensors_free(st);
        }
    free(c);
    free(buf);
    /* Flips in the data area leave the file valid, flips in the length field do not. */
    ck_assert_msg(ok > 0 && failed > 0, "ok %d failed %d", ok, failed);
}
END_TEST

/* -------------------------------------------------------------------------------- interop */

/* The values the Python test expects (it computes them independently with numpy). */
#define IW_RAMP 12
START_TEST(test_interop_write) {
    float ramp[IW_RAMP], third[5], scale = 0.5f, specials[7];
    for (int i = 0; i < IW_RAMP; i++) ramp[i] = (float)(i - 5) / 8.0f;
    for (int k = 1; k <= 5; k++) third[k - 1] = (float)k / 3.0f;
    const uint32_t sp[7] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u,
                            0x00000001u, 0x7f7fffffu, 0x7fc00001u};
    for (int i = 0; i < 7; i++) specials[i] = bits_f32(sp[i]);
    const int64_t s_ramp[2] = {3, 4}, s_third[1] = {5}, s_empty[2] = {0, 3}, s_sp[1] = {7};
    drl_st_entry ents[] = {{"ramp", ramp, 2, s_ramp},   {"third", third, 1, s_third},
                           {"scale", &scale, 0, NULL},   {"empty", NULL, 2, s_empty},
                           {"specials", specials, 1, s_sp}};
    const char *meta[] = {"writer", "drl test_safetensors", "answer", "42"};

    char path[600];
    const char *env = getenv("DRL_ST_WRITE");
    if (env && *env) snprintf(path, sizeof path, "%s", env);
    else snprintf(path, sizeof path, "%s/st_from_c.safetensors", drl_test_tmpdir());
    drl_err e = {0};
    int rc = drl_safetensors_save(&e, path, ents, 5, meta, 2);
    ck_assert_msg(rc == 0, "save %s: %s", path, e.msg);

    drl_safetensors *st = NULL;
    rc = drl_safetensors_load(&e, path, 0, &st);
    ck_assert_msg(rc == 0, "load %s: %s", path, e.msg);
    ck_assert_uint_eq(st->n_tensors, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(st->tensors[i].name, ents[i].name);
        if (st->tensors[i].numel)
            assert_bits_eq(st->tensors[i].data, ents[i].data, st->tensors[i].numel, ents[i].name);
    }
    ck_assert_str_eq(drl_safetensors_meta(st, "answer"), "42");
    drl_safetensors_free(st);
}
END_TEST

/* Loads IN (any supported dtypes) and saves every tensor as F32 with the same metadata to OUT.
 * Without DRL_ST_RESAVE_IN: does the same on a small hand-built F16/BF16 file and checks the
 * re-saved file matches what was loaded. */
START_TEST(test_interop_resave) {
    const char *in = getenv("DRL_ST_RESAVE_IN"), *out = getenv("DRL_ST_RESAVE_OUT");
    char pin[600], pout[600];
    if (!in || !*in || !out || !*out) {
        const char *dir = drl_test_tmpdir();
        snprintf(pin, sizeof pin, "%s/in.safetensors", dir);
        snprintf(pout, sizeof pout, "%s/out.safetensors", dir);
        const char *hdr = "{\"__metadata__\":{\"k\":\"v\"},"
                          "\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
        const uint8_t d[12] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0x7c, 0x00, 0x7e,
                               0x80, 0x3f, 0x01, 0x00};
        size_t n;
        uint8_t *f = mkfile(hdr, d, sizeof d, &n);
        drl_test_write_file(pin, f, n);
        free(f);
        in = pin;
        out = pout;
    }
    drl_err e = {0};
    drl_safetensors *st = NULL, *back = NULL;
    int rc = drl_safetensors_load(&e, in, 0, &st);
    ck_assert_msg(rc == 0, "load %s: %s", in, e.msg);
    drl_st_entry *ents = calloc(st->n_tensors + 1, sizeof *ents);
    const char **meta = calloc(2 * st->n_meta + 1, sizeof *meta);
    for (size_t i = 0; i < st->n_tensors; i++)
        ents[i] = (drl_st_entry){st->tensors[i].name, st->tensors[i].data, st->tensors[i].ndim,
                                 st->tensors[i].shape};
    for (size_t i = 0; i < st->n_meta; i++) {
        meta[2 * i] = st->meta_keys[i];
        meta[2 * i + 1] = st->meta_vals[i];
    }
    rc = drl_safetensors_save(&e, out, ents, st->n_tensors, meta, st->n_meta);
    ck_assert_msg(rc == 0, "save %s: %s", out, e.msg);
    rc = drl_safetensors_load(&e, out, 0, &back);
    ck_assert_msg(rc == 0, "reload %s: %s", out, e.msg);
    ck_assert_uint_eq(back->n_tensors, st->n_tensors);
    ck_assert_uint_eq(back->n_meta, st->n_meta);
    for (size_t i = 0; i < st->n_tensors; i++) {
        const drl_st_tensor *a = &st->tensors[i], *b = drl_safetensors_find(back, a->name);
        ck_assert_ptr_nonnull(b);
        ck_assert_str_eq(b->dtype, "F32");
        ck_assert_int_eq(b->ndim, a->ndim);
        ck_assert_uint_eq(b->numel, a->numel);
        if (a->numel) assert_bits_eq(b->data, a->data, a->numel, a->name);
    }
    for (size_t i = 0; i < st->n_meta; i++)
        ck_assert_str_eq(drl_safetensors_meta(back, st->meta_keys[i]), st->meta_vals[i]);
    free(ents);
    free(meta);
    drl_safetensors_free(back);
    drl_safetensors_free(st);
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_save_load);
    tcase_add_test(tc, test_writer_rejects);
    tcase_add_test(tc, test_f16_exhaustive);
    tcase_add_test(tc, test_bf16_exhaustive);
    tcase_add_test(tc, test_mixed_valid);
    tcase_add_test(tc, test_header_length);
    tcase_add_test(tc, test_corrupt_headers);
    tcase_add_test(tc, test_truncation_and_flips);
    suite_add_tcase(s, tc);
    TCase *ti = tcase_create("interop"); /* CK_RUN_CASE=interop runs just these */
    tcase_add_test(ti, test_interop_write);
    tcase_add_test(ti, test_interop_resave);
    suite_add_tcase(s, ti);
    return drl_test_run(s);
}
