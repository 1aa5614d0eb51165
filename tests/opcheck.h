/* opcheck.h — helpers shared by the op suites: central-difference gradient checks, random
 * fills, and the array dump read by tests/py/test_ops_torch.py.
 *
 * A gradient check perturbs one input float at a time and evaluates a scalar loss, typically
 * L = Σ out·R for a fixed random R, so dL/dout = R is what the backward under test receives.
 * Header-only (static inline) so each suite takes what it uses.
 */
#ifndef DRL_OPCHECK_H
#define DRL_OPCHECK_H

#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "npy.h"
#include "rng.h"

/* Scalar loss of the current inputs, evaluated in double. */
typedef double (*drl_oc_loss)(void *ctx);

/* num[i] = (L(x + h e_i) - L(x - h e_i)) / (x_i+h - x_i-h) for i < n; x is restored. */
static inline void drl_oc_numeric(float *num, float *x, size_t n, float h, drl_oc_loss f,
                                  void *ctx) {
    for (size_t i = 0; i < n; i++) {
        const float x0 = x[i];
        const float xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        const double lp = f(ctx);
        x[i] = xm;
        const double lm = f(ctx);
        x[i] = x0;
        num[i] = (float)((lp - lm) / ((double)xp - (double)xm));
    }
}

/* Σ a·r in double. */
static inline double drl_oc_dot(const float *a, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)r[i];
    return s;
}

/* max |a - b| / max |b|: the error measure ck_assert_close asserts on. */
static inline double drl_oc_rel_err(const float *a, const float *b, size_t n) {
    double scale = 0.0, d = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
        if (fabs((double)a[i] - (double)b[i]) > d) d = fabs((double)a[i] - (double)b[i]);
    }
    return d / (scale > 1e-30 ? scale : 1e-30);
}

static inline void drl_oc_normal(float *x, size_t n, float scale, uint64_t seed) {
    drl_rng r;
    drl_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = scale * drl_rng_normal(&r);
}

/* The PyTorch cross-check: when DRL_OPS_DUMP names a directory, each suite adds a "torch" case
 * that writes its inputs and outputs there as 1-D float32 .npy files (<dir>/<prefix>.<name>.npy);
 * the Python script recomputes the outputs with torch and compares. NULL when unset. */
static inline const char *drl_oc_dump_dir(void) {
    const char *d = getenv("DRL_OPS_DUMP");
    return d && *d ? d : NULL;
}

static inline void drl_oc_dump(const char *prefix, const char *name, const float *x, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.npy", drl_oc_dump_dir(), prefix, name);
    ck_assert_msg(drl_npy_write(NULL, path, x, n, 0) == 0, "cannot write %s", path);
}

/* Adds the "torch" case running `dump` to s when DRL_OPS_DUMP is set. */
static inline void drl_oc_add_torch_case(Suite *s, const TTest *dump) {
    if (!drl_oc_dump_dir()) return;
    TCase *tt = tcase_create("torch");
    tcase_add_test(tt, dump);
    suite_add_tcase(s, tt);
}

#endif
