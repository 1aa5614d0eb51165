/* tensor.h — a float32 array with a shape of up to 4 dimensions.
 *
 * A drl_tensor either owns its data (created by drl_tensor_create, freed by drl_tensor_free) or
 * is a view into memory owned by someone else (drl_tensor_view; freeing a view frees only the
 * struct). Layout is always contiguous row-major (NCHW for images).
 */
#ifndef DRL_TENSOR_H
#define DRL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DRL_TENSOR_MAX_DIMS 4

typedef struct {
    float *data;
    int ndim;
    int64_t shape[DRL_TENSOR_MAX_DIMS];
    size_t numel;
    int owned; /* 1 if data is freed with the tensor */
} drl_tensor;

/* Allocates a zero-filled tensor. Returns NULL and fills err on bad shape or no memory. */
drl_tensor *drl_tensor_create(drl_err *err, int ndim, const int64_t *shape);
/* A non-owning view of data with the given shape. */
drl_tensor *drl_tensor_view(drl_err *err, float *data, int ndim, const int64_t *shape);
/* Deep copy (always owned). */
drl_tensor *drl_tensor_clone(drl_err *err, const drl_tensor *t);
void drl_tensor_free(drl_tensor *t);

/* Product of dims with overflow and sign checks; returns 0 or DRL_EINVAL/DRL_ELIMIT. */
int drl_tensor_numel(drl_err *err, int ndim, const int64_t *shape, size_t *out);
/* Reinterprets the shape in place (same element count). */
int drl_tensor_reshape(drl_err *err, drl_tensor *t, int ndim, const int64_t *shape);
/* "(2, 3, 28, 28)" into buf. */
void drl_tensor_shape_str(const drl_tensor *t, char *buf, size_t n);

/* Small float helpers used across core/ and tests. */
float drl_max_abs_diff(const float *a, const float *b, size_t n);
/* max |a-b| / max(max|b|, tiny): relative error against the reference b. */
float drl_max_rel_diff(const float *a, const float *b, size_t n);
int drl_all_finite(const float *x, size_t n);

#endif
