/* npy.h — NumPy .npy files (format version 1.0, little-endian float32, C order), so embeddings
 * written by drl load with numpy.load. Writes are atomic. */
#ifndef DRL_NPY_H
#define DRL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Writes a (rows, cols) float32 array; cols == 0 writes a 1-D array of rows. */
int drl_npy_write(drl_err *err, const char *path, const float *data, size_t rows, size_t cols);
/* Serialises to a malloc'd buffer (caller frees). */
int drl_npy_serialize(drl_err *err, const float *data, size_t rows, size_t cols, uint8_t **buf,
                      size_t *len);
/* Reads a 1-D or 2-D '<f4' C-order array (malloc'd data, caller frees); *cols = 0 for 1-D, so
 * a 2-D (R, 0) array, which would read as R values, is refused. */
int drl_npy_read(drl_err *err, const char *path, float **data, size_t *rows, size_t *cols);

#endif
