/* idx.h — the IDX format of MNIST-style datasets (plain or gzip-compressed).
 *
 * Header: two zero bytes, a type byte (0x08 unsigned byte is the one datasets use; 0x09 i8,
 * 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64 are parsed too), the number of dims, then one big-endian
 * u32 per dim. Gzip is detected from the bytes (1f 8b), not the file name. Every size is checked
 * against the payload and the caller's limit before allocation. */
#ifndef DRL_IDX_H
#define DRL_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DRL_IDX_MAX_DIMS 4

typedef struct {
    int type;                        /* 0x08 .. 0x0E */
    int ndim;
    uint32_t dims[DRL_IDX_MAX_DIMS];
    size_t count;                    /* product of dims */
    float *data;                     /* values converted to float (raw, not scaled) */
} drl_idx;

/* Parses IDX bytes (gzip or plain). max_bytes caps the decompressed size (0 = 1 GiB). */
int drl_idx_parse(drl_err *err, const uint8_t *buf, size_t n, size_t max_bytes, drl_idx **out);
int drl_idx_load(drl_err *err, const char *path, size_t max_bytes, drl_idx **out);
void drl_idx_free(drl_idx *idx);

#endif
