/* upload_impl.h — pieces shared by upload.c (recognition, IDX, JSON) and upload_tar.c (tar).
 * Not for other callers: the public entry point is drl_proto_upload_decode (upload.h). */
#ifndef DRL_PROTO_UPLOAD_IMPL_H
#define DRL_PROTO_UPLOAD_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"
#include "upload.h"

/* lim with every unset field at its default (max_archive_bytes derived). */
drl_upload_limits drl_upload_limits_resolve(const drl_upload_limits *lim);

/* Reads a PNG's IHDR without decoding: width, height and the channel count drl_png_decode gives
 * with channels = 0 (gray and gray+alpha → 1; RGB, RGBA and palette → 3). 400 bad_png when the
 * bytes are not a PNG, 413 when a side is over max_side. `what` names the image in messages. */
int drl_upload_png_header(drl_proto_error *e, const uint8_t *png, size_t n,
                          const drl_upload_limits *L, const char *what, int *C, int *H, int *W);

/* *total += count·C·H·W, or 413 naming `what` when that passes max_total_pixels (or
 * overflows). */
int drl_upload_add_pixels(drl_proto_error *e, size_t *total, size_t count, int C, int H, int W,
                          const drl_upload_limits *L, const char *what);

/* Decodes a PNG whose header gave (C, H, W) into dst (C·H·W floats). */
int drl_upload_png_into(drl_proto_error *e, const uint8_t *png, size_t n,
                        const drl_upload_limits *L, const char *what, int C, int H, int W,
                        float *dst);

/* A dataset with room for N images of (C, H, W) (images allocated, no labels); NULL with 503
 * when out of memory. The caller has checked N·C·H·W against the limits. */
drl_dataset *drl_upload_dataset_new(drl_proto_error *e, size_t N, int C, int H, int W);

/* The tar form (upload_tar.c). *recognised is set once libarchive has read a first header, so
 * the caller can tell "not a tar at all" from "a tar with a problem". */
int drl_upload_tar(drl_proto_error *e, const uint8_t *buf, size_t n, const drl_upload_limits *L,
                   drl_dataset **out, size_t *skipped, int *recognised);

#endif
