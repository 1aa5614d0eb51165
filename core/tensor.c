/* tensor.c — owned and view float tensors (see tensor.h). */
#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int drl_tensor_numel(drl_err *err, int ndim, const int64_t *shape, size_t *out) {
    if (ndim < 0 || ndim > DRL_TENSOR_MAX_DIMS)
        return drl_errf(err, DRL_EINVAL, "tensor: %d dims (max %d)", ndim, DRL_TENSOR_MAX_DIMS);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return drl_errf(err, DRL_EINVAL, "tensor: negative dim %lld", (long long)shape[i]);
        if (drl_size_mul(n, (size_t)shape[i], &n) || n > SIZE_MAX / sizeof(float))
            return drl_errf(err, DRL_ELIMIT, "tensor: element count overflows");
    }
    *out = n;
    return 0;
}

static drl_tensor *tensor_struct(drl_err *err, int ndim, const int64_t *shape) {
    size_t n;
    if (drl_tensor_numel(err, ndim, shape, &n)) return NULL;
    drl_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        drl_errf(err, DRL_ENOMEM, "tensor: out of memory");
        return NULL;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = n;
    return t;
}

drl_tensor *drl_tensor_create(drl_err *err, int ndim, const int64_t *shape) {
    drl_tensor *t = tensor_struct(err, ndim, shape);
    if (!t) return NULL;
    t->data = calloc(t->numel ? t->numel : 1, sizeof(float));
    if (!t->data) {
        drl_errf(err, DRL_ENOMEM, "tensor: out of memory for %zu floats", t->numel);
        free(t);
        return NULL;
    }
    t->owned = 1;
    return t;
}

drl_tensor *drl_tensor_view(drl_err *err, float *data, int ndim, const int64_t *shape) {
    drl_tensor *t = tensor_struct(err, ndim, shape);
    if (!t) return NULL;
    t->data = data;
    t->owned = 0;
    return t;
}

drl_tensor *drl_tensor_clone(drl_err *err, const drl_tensor *src) {
    drl_tensor *t = drl_tensor_create(err, src->ndim, src->shape);
    if (t && src->numel) memcpy(t->data, src->data, src->numel * sizeof(float));
    return t;
}

void drl_tensor_free(drl_tensor *t) {
    if (!t) return;
    if (t->owned) free(t->data);
    free(t);
}

int drl_tensor_reshape(drl_err *err, drl_tensor *t, int ndim, const int64_t *shape) {
    size_t n;
    if (drl_tensor_numel(err, ndim, shape, &n)) return err ? err->code : DRL_EINVAL;
    if (n != t->numel)
        return drl_errf(err, DRL_EINVAL, "tensor: reshape %zu elements into %zu", t->numel, n);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    return 0;
}

void drl_tensor_shape_str(const drl_tensor *t, char *buf, size_t n) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "(");
    for (int i = 0; i < t->ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (off < n) snprintf(buf + off, n - off, ")");
}

float drl_max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

float drl_max_rel_diff(const float *a, const float *b, size_t n) {
    float scale = 0.0f;
    for (size_t i = 0; i < n; i++)
        if (fabsf(b[i]) > scale) scale = fabsf(b[i]);
    if (scale < 1e-12f) scale = 1e-12f;
    return drl_max_abs_diff(a, b, n) / scale;
}

int drl_all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}
