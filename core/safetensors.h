/* safetensors.h — read and write the safetensors format (as used by PyTorch / HF).
 *
 * File: u64 little-endian header length N, N bytes of JSON header, then the data area.
 * Header: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *          "__metadata__": {"key": "string value", ...}} (offsets relative to the data area).
 * The reader validates everything (header length, JSON, dtypes, shape × dtype size == byte span,
 * offsets in range and non-overlapping, duplicate names, metadata values are strings) and
 * converts F32 / F16 / BF16 to float32. The writer writes F32 atomically, names in the order given,
 * 8-byte aligned data area like the reference implementation. */
#ifndef DRL_SAFETENSORS_H
#define DRL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DRL_ST_MAX_DIMS 8
#define DRL_ST_MAX_HEADER (100u << 20) /* 100 MB, the reference limit */

typedef struct {
    char *name;
    char dtype[8];  /* dtype as stored in the file: "F32", "F16", "BF16" */
    int ndim;
    int64_t shape[DRL_ST_MAX_DIMS];
    size_t numel;
    float *data;    /* converted to float32, owned by the drl_safetensors */
} drl_st_tensor;

typedef struct {
    drl_st_tensor *tensors; /* in file order of data_offsets */
    size_t n_tensors;
    char **meta_keys;       /* __metadata__ entries */
    char **meta_vals;
    size_t n_meta;
} drl_safetensors;

/* Parses an in-memory file. On error *out is NULL and err names the problem. */
int drl_safetensors_parse(drl_err *err, const uint8_t *buf, size_t n, drl_safetensors **out);
/* Reads and parses path (capped at max_bytes; 0 = 4 GiB). */
int drl_safetensors_load(drl_err *err, const char *path, size_t max_bytes, drl_safetensors **out);
void drl_safetensors_free(drl_safetensors *st);

const drl_st_tensor *drl_safetensors_find(const drl_safetensors *st, const char *name);
/* Metadata value for key, or NULL. */
const char *drl_safetensors_meta(const drl_safetensors *st, const char *key);

/* One tensor to write. */
typedef struct {
    const char *name;
    const float *data;
    int ndim;
    const int64_t *shape;
} drl_st_entry;

/* Serialises to a malloc'd buffer (caller frees). meta is key,value pairs (2*n_meta strings). */
int drl_safetensors_serialize(drl_err *err, const drl_st_entry *entries, size_t n,
                              const char *const *meta, size_t n_meta, uint8_t **buf,
                              size_t *len);
/* Serialises and writes atomically to path. */
int drl_safetensors_save(drl_err *err, const char *path, const drl_st_entry *entries, size_t n,
                         const char *const *meta, size_t n_meta);

#endif
