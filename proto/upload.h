/* upload.h — the body of POST /v1/datasets decoded into an in-memory dataset.
 *
 * One body, four forms, told apart by their first bytes (never by Content-Type or file name):
 *   - a tar of PNG files, plain or compressed (gzip, bzip2, xz, lzma, zstd, lz4, compress),
 *     read with libarchive: PNGs at the top are unlabelled, PNGs one folder down are labelled
 *     by folder (sorted names → labels 0..K-1); one leading folder shared by every entry
 *     ("mydata/...") is stripped first. Only regular files and folders are accepted; links,
 *     devices, absolute names and ".." are refused. Hidden entries (a name component starting
 *     with '.') and files not ending in .png are skipped and counted;
 *   - an IDX images file (unsigned byte, (N, H, W) or (N, C, H, W) with C 1 or 3), plain or gzip;
 *   - JSON {"images":[{"png":"<base64>"},...], "labels":[int,...], "classes":["name",...]}
 *     (labels and classes optional; classes needs labels and names label i).
 * Images keep their own channel count (gray 1, colour 3) and must all share one (C, H, W); tar
 * images are ordered by path so the same files give the same dataset. Every count and size is
 * checked against the limits before the memory it implies is allocated.
 *
 * Errors (drl_proto_error): 400 bad_upload (not one of the forms, corrupt archive or IDX),
 * bad_png, bad_base64, bad_json; 413 payload_too_large for any limit (sides, counts, pixels,
 * entry or archive bytes, gzip bombs); 422 invalid_input for content rules (links, path tricks,
 * layout, mixed shapes, labels). Messages name the tar entry or JSON field at fault. */
#ifndef DRL_PROTO_UPLOAD_H
#define DRL_PROTO_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "error.h"

/* Labels are stored as unsigned bytes: at most this many classes. */
#define DRL_UPLOAD_MAX_CLASSES 256

typedef struct {
    int max_side;            /* PNG / IDX width and height */
    size_t max_images;       /* N */
    size_t max_total_pixels; /* N·C·H·W: the float values the dataset will hold */
    size_t max_entry_bytes;  /* one tar entry (from its header), one base64-decoded PNG */
    size_t max_archive_bytes;/* sum of the sizes of all tar entries after decompression
                              * (+512 per header), skipped files included; bounds the memory and
                              * time a compressed tar can cost. 0 = 4·max_total_pixels + 16 MiB */
} drl_upload_limits;

/* Defaults: 1024, 65536, 64 Mi values, 16 MiB, 0 (derived). A field <= 0 in the caller's limits
 * (or lim == NULL) takes its default. */
drl_upload_limits drl_upload_default_limits(void);

/* Decodes buf into a new dataset (caller frees with drl_dataset_free): images in [0, 1] as
 * (N, C, H, W); labels, n_classes and class_names when the tar has class folders or the JSON
 * gives labels. *format gets "tar", "idx", "idx.gz" or "json" (static strings) as soon as the
 * form is recognised (also on errors after that point; NULL before). *skipped (may be NULL)
 * gets the number of tar files that were not images (non-.png or hidden), 0 for other forms.
 * Returns 0, or -1 with e filled. */
int drl_proto_upload_decode(drl_proto_error *e, const uint8_t *buf, size_t n,
                            const drl_upload_limits *lim, drl_dataset **out, const char **format,
                            size_t *skipped);

#endif
