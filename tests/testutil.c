/* testutil.c — helpers shared by the Check suites (see testutil.h). */
#include "testutil.h"

#include <zlib.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void drl_test_assert_close(const float *a, const float *b, size_t n, double tol, const char *what,
                           const char *file, int line) {
    double scale = 0.0, maxd = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    if (scale < 1e-12) scale = 1e-12;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= maxd)) { maxd = d; at = i; }
    }
    double rel = maxd / scale;
    if (!(rel <= tol)) {
        ck_abort_msg("%s:%d: %s: max rel diff %.3g > %.3g (abs %.3g at %zu: got %.8g want %.8g, "
                     "scale %.3g)", file, line, what, rel, tol, maxd, at, (double)a[at],
                     (double)b[at], scale);
    }
}

const char *drl_test_tmpdir(void) {
    static char path[512];
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(path, sizeof path, "%s/drl-test-XXXXXX", base);
    if (!mkdtemp(path)) ck_abort_msg("mkdtemp failed");
    return path;
}

void drl_test_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

unsigned char *drl_test_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(sz > 0 ? (size_t)sz : 1);
    if (buf && sz > 0 && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)(sz > 0 ? sz : 0);
    return buf;
}

int drl_test_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

float *drl_test_randn(drl_rng *rng, size_t n, float scale) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) x[i] = scale * drl_rng_normal(rng);
    return x;
}

float *drl_test_zeros(size_t n) {
    float *x = calloc(n ? n : 1, sizeof(float));
    ck_assert_ptr_nonnull(x);
    return x;
}

size_t drl_test_idx_header(uint8_t *b, int type, int ndim, const uint32_t *dims) {
    b[0] = 0;
    b[1] = 0;
    b[2] = (uint8_t)type;
    b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    return 4 + 4 * (size_t)ndim;
}

uint8_t *drl_test_gzip(const uint8_t *in, size_t n, size_t *out_n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_n = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

drl_config drl_test_tiny_config(int time_cond) {
    drl_config c = drl_config_defaults();
    c.H = c.W = 8;
    c.latent_dim = 4;
    c.enc_ch[0] = c.unet_ch[0] = 8, c.enc_ch[1] = c.unet_ch[1] = 8, c.enc_ch[2] = c.unet_ch[2] = 8;
    c.groups = 4, c.fourier_dim = 4, c.temb_dim = 8;
    c.time_cond = time_cond;
    return c;
}
