/* testutil.h — helpers shared by the Check suites. */
#ifndef DRL_TESTUTIL_H
#define DRL_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "rng.h"

/* Asserts max |a-b| / max|b| <= tol, printing the max difference and where it is on failure. */
#define ck_assert_close(a, b, n, tol, what) \
    drl_test_assert_close((a), (b), (n), (tol), (what), __FILE__, __LINE__)
void drl_test_assert_close(const float *a, const float *b, size_t n, double tol, const char *what,
                           const char *file, int line);

/* A fresh empty directory under $TMPDIR (or /tmp) for this test; the path is static storage. */
const char *drl_test_tmpdir(void);
/* Writes n bytes to path (asserts on failure). */
void drl_test_write_file(const char *path, const void *data, size_t n);
/* Reads a whole file (malloc'd; caller frees); *n gets the size. NULL if missing. */
unsigned char *drl_test_read_file(const char *path, size_t *n);
/* malloc'd arrays for op tests (assert on failure; caller frees): N(0, scale²) from r, zeros. */
float *drl_test_randn(drl_rng *rng, size_t n, float scale);
float *drl_test_zeros(size_t n);
/* Writes an IDX header (two zero bytes, type, ndim, big-endian u32 dims) into b; returns its
 * length (4 + 4·ndim). */
size_t drl_test_idx_header(uint8_t *b, int type, int ndim, const uint32_t *dims);
/* A gzip stream (level 9) of n bytes, malloc'd (caller frees); asserts on failure. */
uint8_t *drl_test_gzip(const uint8_t *in, size_t n, size_t *out_n);
/* A tiny model config (1x8x8 images, d = 4, 8 channels everywhere) for sampler-level tests. */
drl_config drl_test_tiny_config(int time_cond);
/* Runs a suite, returns the process exit status. */
int drl_test_run(Suite *s);

#endif
