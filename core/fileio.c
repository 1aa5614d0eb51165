/* fileio.c — capped whole-file reads and atomic writes (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int drl_file_read_all(drl_err *err, const char *path, size_t max, uint8_t **buf, size_t *n) {
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return drl_errf(err, errno == ENOENT ? DRL_ENOTFOUND : DRL_EIO, "%s: %s", path,
                        strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return drl_errf(err, DRL_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        fclose(f);
        return drl_errf(err, DRL_ELIMIT, "%s: %lld bytes exceeds limit %zu", path,
                        (long long)st.st_size, max);
    }
    size_t sz = (size_t)st.st_size;
    uint8_t *b = malloc(sz ? sz : 1);
    if (!b) {
        fclose(f);
        return drl_errf(err, DRL_ENOMEM, "%s: out of memory for %zu bytes", path, sz);
    }
    if (sz && fread(b, 1, sz, f) != sz) {
        free(b);
        fclose(f);
        return drl_errf(err, DRL_EIO, "%s: short read", path);
    }
    fclose(f);
    *buf = b;
    *n = sz;
    return 0;
}

int drl_fsync_parent_dir(drl_err *err, const char *path) {
    char *copy = strdup(path);
    if (!copy) return drl_errf(err, DRL_ENOMEM, "out of memory");
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        int rc = drl_errf(err, DRL_EIO, "%s: %s", dir, strerror(errno));
        free(copy);
        return rc;
    }
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = drl_errf(err, DRL_EIO, "fsync %s: %s", dir, strerror(errno));
    close(fd);
    free(copy);
    return rc;
}

int drl_atomic_open(drl_err *err, drl_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t len = strlen(path);
    af->path = strdup(path);
    af->tmp = malloc(len + 16);
    if (!af->path || !af->tmp) {
        free(af->path);
        free(af->tmp);
        return drl_errf(err, DRL_ENOMEM, "out of memory");
    }
    snprintf(af->tmp, len + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int rc = drl_errf(err, DRL_EIO, "%s: cannot create temporary file: %s", path,
                          strerror(errno));
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return rc;
    }
    fchmod(fd, 0644);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        unlink(af->tmp);
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return drl_errf(err, DRL_EIO, "%s: fdopen: %s", path, strerror(errno));
    }
    return 0;
}

void drl_atomic_abort(drl_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp) unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

int drl_atomic_commit(drl_err *err, drl_atomic_file *af) {
    int rc = 0;
    if (fflush(af->fp) != 0 || ferror(af->fp))
        rc = drl_errf(err, DRL_EIO, "%s: write failed: %s", af->path, strerror(errno));
    else if (fsync(fileno(af->fp)) != 0)
        rc = drl_errf(err, DRL_EIO, "%s: fsync failed: %s", af->path, strerror(errno));
    if (fclose(af->fp) != 0 && rc == 0)
        rc = drl_errf(err, DRL_EIO, "%s: close failed: %s", af->path, strerror(errno));
    af->fp = NULL;
    if (rc == 0 && rename(af->tmp, af->path) != 0)
        rc = drl_errf(err, DRL_EIO, "%s: rename failed: %s", af->path, strerror(errno));
    if (rc == 0) rc = drl_fsync_parent_dir(err, af->path);
    if (rc != 0) unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    af->tmp = af->path = NULL;
    return rc;
}

int drl_file_write_atomic(drl_err *err, const char *path, const void *buf, size_t n) {
    drl_atomic_file af;
    int rc = drl_atomic_open(err, &af, path);
    if (rc) return rc;
    if (n && fwrite(buf, 1, n, af.fp) != n) {
        rc = drl_errf(err, DRL_EIO, "%s: write failed: %s", path, strerror(errno));
        drl_atomic_abort(&af);
        return rc;
    }
    return drl_atomic_commit(err, &af);
}
