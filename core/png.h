/* png.h — PNG decode/encode through libpng, to and from planar float images in [0, 1].
 *
 * Any PNG colour type and bit depth decodes (gray, gray+alpha, RGB, RGBA, palette, 1..16-bit,
 * interlaced). Conversion to the requested channel count:
 *   - alpha is composited over black (value * alpha), matching dark-background datasets;
 *   - colour → 1 channel uses ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B;
 *   - gray → 3 channels replicates the gray value;
 *   - 16-bit samples keep their precision (v / 65535).
 * Width, height and pixel count are checked against limits from the IHDR before anything is
 * allocated (decompression bombs), and libpng errors come back as DRL_EFORMAT, never longjmp'd
 * across the caller. */
#ifndef DRL_PNG_H
#define DRL_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    uint32_t max_width;  /* default 4096 */
    uint32_t max_height; /* default 4096 */
    uint64_t max_pixels; /* default 16M */
} drl_png_limits;

drl_png_limits drl_png_default_limits(void);

/* Decodes buf into a malloc'd (channels, H, W) float array (caller frees). channels is 1 or 3,
 * or 0 to keep the image's own colour count (1 for gray, 3 for colour; alpha is dropped after
 * compositing). limits may be NULL for the defaults. */
int drl_png_decode(drl_err *err, const uint8_t *buf, size_t n, int channels,
                   const drl_png_limits *limits, float **out, int *C, int *H, int *W);

/* Encodes a (C, H, W) float image (C = 1 gray, 3 RGB), clamped to [0,1] and rounded to 8 bits,
 * into a malloc'd PNG (caller frees). */
int drl_png_encode(drl_err *err, const float *img, int C, int H, int W, uint8_t **out, size_t *n);

/* File forms. */
int drl_png_read_file(drl_err *err, const char *path, int channels, const drl_png_limits *limits,
                      float **out, int *C, int *H, int *W);
int drl_png_write_file(drl_err *err, const char *path, const float *img, int C, int H, int W);

#endif
