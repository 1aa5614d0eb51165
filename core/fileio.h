/* fileio.h — whole-file reads with a size cap, and atomic writes.
 *
 * An atomic write goes to a temporary file in the same directory, is fsync'd, renamed over the
 * target, and the directory is fsync'd: a reader (or a crash) sees the old file or the new one,
 * never a half-written one. */
#ifndef DRL_FILEIO_H
#define DRL_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* Reads all of path into a malloc'd buffer (caller frees). Fails with DRL_ELIMIT above max bytes. */
int drl_file_read_all(drl_err *err, const char *path, size_t max, uint8_t **buf, size_t *n);

/* Atomically replaces path with n bytes of buf. */
int drl_file_write_atomic(drl_err *err, const char *path, const void *buf, size_t n);

/* Streaming form: open a temp file beside path, write to ->fp, then commit (fsync + rename +
 * dir fsync) or abort (unlink). Exactly one of commit/abort must be called. */
typedef struct {
    FILE *fp;
    char *path; /* final path */
    char *tmp;  /* temporary path */
} drl_atomic_file;

int drl_atomic_open(drl_err *err, drl_atomic_file *af, const char *path);
int drl_atomic_commit(drl_err *err, drl_atomic_file *af);
void drl_atomic_abort(drl_atomic_file *af);

/* fsync the directory that holds path (after a rename). */
int drl_fsync_parent_dir(drl_err *err, const char *path);

#endif
