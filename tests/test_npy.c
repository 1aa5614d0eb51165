/* test_npy.c — .npy writer and reader: header layout, round trips, malformed headers.
 *
 * Interop with numpy is driven by tests/py/test_npy_interop.py, which runs this binary with
 * DRL_NPY_WRITE / DRL_NPY_WRITE_1D (write the reference arrays there for numpy.load to check) and
 * DRL_NPY_READ / DRL_NPY_READ_1D / DRL_NPY_READ_V2 (files numpy wrote, to be read and checked
 * here). Both sides compute the reference arrays from the same formula, ref_value(). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "npy.h"
#include "testutil.h"

enum { REF_ROWS = 5, REF_COLS = 7, REF_N1 = 11 };

/* Reference value i: (i * 7 % 13) / 8 - 0.75, exactly representable; the script uses the same. */
static float ref_value(size_t i) { return (float)((double)(i * 7 % 13) / 8.0 - 0.75); }

static float *ref_array(size_t n) {
    float *a = malloc(n * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = ref_value(i);
    return a;
}

START_TEST(test_header_layout) {
    float d[6] = {1, 2, 3, 4, 5, 6};
    drl_err e = {0};
    uint8_t *b;
    size_t n;
    ck_assert_int_eq(drl_npy_serialize(&e, d, 2, 3, &b, &n), 0);
    ck_assert(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hlen = b[8] | (size_t)b[9] << 8;
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_uint_eq(n, 10 + hlen + 24);
    ck_assert_int_eq(b[10 + hlen - 1], '\n');
    char hdr[256] = {0};
    memcpy(hdr, b + 10, hlen < 255 ? hlen : 255);
    ck_assert_msg(strstr(hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
                  "%s", hdr);
    float v;
    memcpy(&v, b + 10 + hlen + 20, 4);
    ck_assert(v == 6.0f);
    free(b);
    ck_assert_int_eq(drl_npy_serialize(&e, d, 6, 0, &b, &n), 0);
    hlen = b[8] | (size_t)b[9] << 8;
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, b + 10, hlen < 255 ? hlen : 255);
    ck_assert_msg(strstr(hdr, "'shape': (6,)"), "%s", hdr);
    free(b);
}
END_TEST

START_TEST(test_roundtrip) {
    const char *dir = drl_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/emb.npy", dir);
    float *a = ref_array(REF_ROWS * REF_COLS);
    drl_err e = {0};
    ck_assert_int_eq(drl_npy_write(&e, path, a, REF_ROWS, REF_COLS), 0);
    float *r;
    size_t rows, cols;
    ck_assert_int_eq(drl_npy_read(&e, path, &r, &rows, &cols), 0);
    ck_assert_uint_eq(rows, REF_ROWS);
    ck_assert_uint_eq(cols, REF_COLS);
    ck_assert_close(r, a, REF_ROWS * REF_COLS, 0.0, "2-D round trip");
    free(r);
    ck_assert_int_eq(drl_npy_write(&e, path, a, REF_N1, 0), 0);
    ck_assert_int_eq(drl_npy_read(&e, path, &r, &rows, &cols), 0);
    ck_assert_uint_eq(rows, REF_N1);
    ck_assert_uint_eq(cols, 0);
    ck_assert_close(r, a, REF_N1, 0.0, "1-D round trip");
    free(r);
    /* empty arrays are valid */
    ck_assert_int_eq(drl_npy_write(&e, path, NULL, 0, 4), 0);
    ck_assert_int_eq(drl_npy_read(&e, path, &r, &rows, &cols), 0);
    ck_assert(rows == 0 && cols == 4);
    free(r);
    free(a);
}
END_TEST

/* Writes a .npy with a given header dict (v1.0, padded) followed by nbytes of data. */
static void write_npy(const char *path, int major, const char *dict, size_t nbytes) {
    size_t dl = strlen(dict), pre = major == 1 ? 10 : 12;
    size_t hdr = (pre + dl + 1 + 63) / 64 * 64, hlen = hdr - pre;
    uint8_t *b = calloc(1, hdr + nbytes + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    b[8] = (uint8_t)hlen;
    b[9] = (uint8_t)(hlen >> 8);
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', hlen - dl - 1);
    b[hdr - 1] = '\n';
    drl_test_write_file(path, b, hdr + nbytes);
    free(b);
}

START_TEST(test_reader_validation) {
    const char *dir = drl_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/t.npy", dir);
    drl_err e = {0};
    float *r = (float *)&e;
    size_t rows, cols;
    static const struct {
        int major;
        const char *dict;
        size_t nbytes;
        int want;
    } cases[] = {
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 0},
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 0},
        {1, "{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"<f4\"}", 16, 0},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (5, 1), }", 20, 0},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23, DRL_EFORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25, DRL_EFORMAT},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48, DRL_EUNSUPPORTED},
        {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, DRL_EUNSUPPORTED},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, DRL_EUNSUPPORTED},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96,
         DRL_EUNSUPPORTED},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, DRL_EUNSUPPORTED},
        {1, "{'descr': '<f4', 'shape': (2, 3), }", 24, DRL_EFORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24, DRL_EFORMAT},
        {1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", 24, DRL_EFORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, DRL_EFORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }", 0,
         DRL_EFORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0,
         DRL_EFORMAT},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) ", 24, DRL_EFORMAT},
        /* (R, 0) would read as R values (cols 0 means 1-D): refused (found by tests/fuzz) */
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 0), }", 0, DRL_EUNSUPPORTED},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 0), }", 0, 0},
        {1, "['descr', '<f4']", 24, DRL_EFORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npy(path, cases[i].major, cases[i].dict, cases[i].nbytes);
        int rc = drl_npy_read(&e, path, &r, &rows, &cols);
        ck_assert_msg(rc == cases[i].want, "case %zu (%s): rc %d want %d (%s)", i, cases[i].dict,
                      rc, cases[i].want, e.msg);
        if (rc == 0) free(r);
        else ck_assert_ptr_null(r);
    }
    drl_test_write_file(path, "\x93NUMPX\x01\x00\x00\x00", 10);
    ck_assert_int_eq(drl_npy_read(&e, path, &r, &rows, &cols), DRL_EFORMAT);
    drl_test_write_file(path, "\x93NUMPY\x03\x00\x00\x00", 10);
    ck_assert_int_eq(drl_npy_read(&e, path, &r, &rows, &cols), DRL_EUNSUPPORTED);
    drl_test_write_file(path, "\x93NUMPY\x01\x00\xff\x00{", 11); /* header longer than file */
    ck_assert_int_eq(drl_npy_read(&e, path, &r, &rows, &cols), DRL_EFORMAT);
    snprintf(path, sizeof path, "%s/missing.npy", dir);
    ck_assert_int_eq(drl_npy_read(&e, path, &r, &rows, &cols), DRL_ENOTFOUND);
}
END_TEST

/* For the numpy interop script: write the reference arrays where it asks. */
START_TEST(test_interop_write) {
    const char *p2 = getenv("DRL_NPY_WRITE"), *p1 = getenv("DRL_NPY_WRITE_1D");
    drl_err e = {0};
    float *a = ref_array(REF_ROWS * REF_COLS);
    if (p2 && *p2) ck_assert_msg(drl_npy_write(&e, p2, a, REF_ROWS, REF_COLS) == 0, "%s", e.msg);
    if (p1 && *p1) ck_assert_msg(drl_npy_write(&e, p1, a, REF_N1, 0) == 0, "%s", e.msg);
    free(a);
}
END_TEST

/* For the numpy interop script: read what numpy wrote and compare to the reference. */
START_TEST(test_interop_read) {
    static const char *vars[3] = {"DRL_NPY_READ", "DRL_NPY_READ_1D", "DRL_NPY_READ_V2"};
    for (int k = 0; k < 3; k++) {
        const char *p = getenv(vars[k]);
        if (!p || !*p) continue;
        drl_err e = {0};
        float *r;
        size_t rows, cols;
        ck_assert_msg(drl_npy_read(&e, p, &r, &rows, &cols) == 0, "%s: %s", vars[k], e.msg);
        size_t want_rows = k == 1 ? REF_N1 : REF_ROWS, want_cols = k == 1 ? 0 : REF_COLS;
        ck_assert_uint_eq(rows, want_rows);
        ck_assert_uint_eq(cols, want_cols);
        size_t n = rows * (cols ? cols : 1);
        float *a = ref_array(n);
        ck_assert_close(r, a, n, 0.0, vars[k]);
        free(a);
        free(r);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_add_test(tc, test_header_layout);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_reader_validation);
    tcase_add_test(tc, test_interop_write);
    tcase_add_test(tc, test_interop_read);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
