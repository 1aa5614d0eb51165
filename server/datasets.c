/* datasets.c — the on-disk dataset store (datasets.h).
 *
 * Writing never exposes a partial dataset: everything goes into a private temporary directory
 * whose rename is the commit point. Reading trusts nothing it finds: sizes come from meta.json
 * but are checked against the IDX headers, and ids are validated before they touch a path. */
#include "datasets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "idx.h"

#define STALE_SECONDS 3600
#define META_MAX ((size_t)1 << 20)
#define PATH_BYTES 4096

int drl_datasets_id_ok(const char *id) {
    if (!id) return 0;
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        if (n >= DRL_DATASET_ID_MAX - 1 ||
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return 0;
    }
    return n > 0;
}

/* out = a/b[/c]; DRL_EINVAL when it does not fit. */
static int join(drl_err *err, char *out, const char *a, const char *b, const char *c) {
    int k = c ? snprintf(out, PATH_BYTES, "%s/%s/%s", a, b, c)
              : snprintf(out, PATH_BYTES, "%s/%s", a, b);
    if (k < 0 || k >= PATH_BYTES) return drl_errf(err, DRL_EINVAL, "datasets: path too long");
    return 0;
}

static int check_id(drl_err *err, const char *id) {
    if (drl_datasets_id_ok(id)) return 0;
    return drl_errf(err, DRL_EINVAL, "dataset id \"%.64s\" is not valid (1..%d characters of "
                    "A-Z a-z 0-9 -)", id ? id : "", DRL_DATASET_ID_MAX - 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Directories */

static int fsync_dir(drl_err *err, const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return drl_errf(err, DRL_EIO, "%s: %s", path, strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = drl_errf(err, DRL_EIO, "fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* mkdir unless it exists; a new directory's entry is made durable in its parent. */
static int ensure_dir(drl_err *err, const char *path, const char *parent) {
    if (mkdir(path, 0755) == 0) return parent ? fsync_dir(err, parent) : 0;
    if (errno == EEXIST) return 0;
    return drl_errf(err, DRL_EIO, "%s: %s", path, strerror(errno));
}

/* Removes a directory holding only plain files (what store writes), best effort. */
static void remove_flat_dir(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(path);
}

/* Newest mtime of a directory and the files in it: a writer busy on a large images.idx keeps
 * its directory fresh. */
static time_t newest_mtime(int dfd, const char *name) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) return 0;
    time_t t = st.st_mtime;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return t;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime > t)
            t = st.st_mtime;
    closedir(d);
    return t;
}

/* Removes .tmp-* directories of writers that died more than an hour ago. */
static void clean_stale(const char *root) {
    DIR *d = opendir(root);
    if (!d) return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, ".tmp-", 5) != 0) continue;
        time_t t = newest_mtime(dirfd(d), de->d_name);
        char path[PATH_BYTES];
        if (t && t < now - STALE_SECONDS && join(NULL, path, root, de->d_name, NULL) == 0)
            remove_flat_dir(path);
    }
    closedir(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Writing */

/* ds- + 8 hex of the time + 8 hex from /dev/urandom. */
static int new_id(drl_err *err, char id[DRL_DATASET_ID_MAX]) {
    uint8_t r[4];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, r, sizeof r) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof r)
        return drl_errf(err, DRL_EIO, "datasets: cannot read /dev/urandom: %s", strerror(errno));
    snprintf(id, DRL_DATASET_ID_MAX, "ds-%08x%02x%02x%02x%02x", (unsigned)(uint32_t)time(NULL),
             r[0], r[1], r[2], r[3]);
    return 0;
}

typedef struct {
    FILE *fp;
    const char *path;
} out_file;

static int out_open(drl_err *err, out_file *o, const char *path) {
    o->path = path;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    o->fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!o->fp) {
        int rc = drl_errf(err, DRL_EIO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return rc;
    }
    return 0;
}

static int out_write(drl_err *err, out_file *o, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, o->fp) != n)
        return drl_errf(err, DRL_EIO, "%s: write failed: %s", o->path, strerror(errno));
    return 0;
}

/* Flushes, fsyncs and closes (also after an earlier failure, with rc kept). */
static int out_close(drl_err *err, out_file *o, int rc) {
    if (!o->fp) return rc;
    if (rc == 0 && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0))
        rc = drl_errf(err, DRL_EIO, "%s: write failed: %s", o->path, strerror(errno));
    if (fclose(o->fp) != 0 && rc == 0)
        rc = drl_errf(err, DRL_EIO, "%s: close failed: %s", o->path, strerror(errno));
    o->fp = NULL;
    return rc;
}

static void idx_header(uint8_t *b, int ndim, const uint32_t *dims) {
    b[0] = b[1] = 0;
    b[2] = 0x08;
    b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
}

static uint8_t to_byte(float x) {
    float v = x * 255.0f;
    if (!(v > 0.0f)) return 0; /* NaN too */
    if (v >= 255.0f) return 255;
    return (uint8_t)(v + 0.5f);
}

static int write_images(drl_err *err, const char *path, const drl_dataset *ds) {
    out_file o;
    int rc = out_open(err, &o, path);
    if (rc) return rc;
    uint32_t dims[4] = {(uint32_t)ds->N, (uint32_t)ds->C, (uint32_t)ds->H, (uint32_t)ds->W};
    uint8_t hdr[20], buf[65536];
    idx_header(hdr, 4, dims);
    rc = out_write(err, &o, hdr, sizeof hdr);
    size_t count = ds->N * (size_t)ds->C * (size_t)ds->H * (size_t)ds->W;
    for (size_t i = 0; i < count && rc == 0; i += sizeof buf) {
        size_t k = count - i < sizeof buf ? count - i : sizeof buf;
        for (size_t j = 0; j < k; j++) buf[j] = to_byte(ds->images[i + j]);
        rc = out_write(err, &o, buf, k);
    }
    return out_close(err, &o, rc);
}

static int write_labels(drl_err *err, const char *path, const drl_dataset *ds) {
    out_file o;
    int rc = out_open(err, &o, path);
    if (rc) return rc;
    uint32_t dims[1] = {(uint32_t)ds->N};
    uint8_t hdr[8], buf[65536];
    idx_header(hdr, 1, dims);
    rc = out_write(err, &o, hdr, sizeof hdr);
    for (size_t i = 0; i < ds->N && rc == 0; i += sizeof buf) {
        size_t k = ds->N - i < sizeof buf ? ds->N - i : sizeof buf;
        for (size_t j = 0; j < k; j++) buf[j] = (uint8_t)ds->labels[i + j];
        rc = out_write(err, &o, buf, k);
    }
    return out_close(err, &o, rc);
}

static int write_meta(drl_err *err, const char *path, const drl_dataset *ds, const char *id,
                      const char *format) {
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *classes = json_null();
    if (ds->labels && ds->class_names) {
        classes = json_array();
        for (int k = 0; classes && k < ds->n_classes; k++)
            if (json_array_append_new(classes, json_string(ds->class_names[k] ? ds->class_names[k]
                                                                               : ""))) {
                json_decref(classes);
                return drl_errf(err, DRL_EINVAL, "datasets: class name %d is not valid UTF-8", k);
            }
    }
    json_t *meta = json_pack("{s:s,s:I,s:[i,i,i],s:s,s:b,s:i,s:o,s:s}", "id", id, "count",
                             (json_int_t)ds->N, "shape", ds->C, ds->H, ds->W, "format", format,
                             "labels", ds->labels != NULL, "n_classes",
                             ds->labels ? ds->n_classes : 0, "classes", classes, "created",
                             created);
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    if (!text) return drl_errf(err, DRL_EINVAL, "datasets: cannot build meta.json");
    out_file o;
    int rc = out_open(err, &o, path);
    if (rc == 0) {
        rc = out_write(err, &o, text, strlen(text));
        if (rc == 0) rc = out_write(err, &o, "\n", 1);
        rc = out_close(err, &o, rc);
    }
    free(text);
    return rc;
}

static int check_dataset(drl_err *err, const drl_dataset *ds, const char *format) {
    if (!ds || !ds->images || ds->N == 0 || ds->N > UINT32_MAX)
        return drl_errf(err, DRL_EINVAL, "datasets: nothing to store (need 1..2^32-1 images)");
    if ((ds->C != 1 && ds->C != 3) || ds->H <= 0 || ds->W <= 0 || ds->H > 65535 || ds->W > 65535)
        return drl_errf(err, DRL_EINVAL, "datasets: bad image shape %dx%dx%d", ds->C, ds->H,
                        ds->W);
    if (!format || !*format) return drl_errf(err, DRL_EINVAL, "datasets: format not given");
    if (!ds->labels) return 0;
    if (ds->n_classes < 0 || ds->n_classes > 256)
        return drl_errf(err, DRL_EINVAL, "datasets: %d classes, at most 256 can be stored",
                        ds->n_classes);
    int hi = ds->n_classes > 0 ? ds->n_classes : 256;
    for (size_t i = 0; i < ds->N; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= hi)
            return drl_errf(err, DRL_EINVAL, "datasets: label %d of image %zu outside [0, %d)",
                            ds->labels[i], i, hi);
    return 0;
}

int drl_datasets_store(drl_err *err, const char *work_dir, const drl_dataset *ds,
                       const char *format, char id[DRL_DATASET_ID_MAX]) {
    id[0] = '\0';
    int rc = check_dataset(err, ds, format);
    char root[PATH_BYTES], tmp[PATH_BYTES], final[PATH_BYTES], path[PATH_BYTES];
    if (rc || (rc = join(err, root, work_dir, "datasets", NULL)) ||
        (rc = ensure_dir(err, work_dir, NULL)) || (rc = ensure_dir(err, root, work_dir)))
        return rc;
    clean_stale(root);

    char cand[DRL_DATASET_ID_MAX], name[DRL_DATASET_ID_MAX + 8];
    int made = 0;
    for (int attempt = 0; attempt < 16 && !made; attempt++) {
        struct stat st;
        if ((rc = new_id(err, cand))) return rc;
        snprintf(name, sizeof name, ".tmp-%s", cand);
        if ((rc = join(err, tmp, root, name, NULL)) || (rc = join(err, final, root, cand, NULL)))
            return rc;
        if (lstat(final, &st) == 0) continue;
        if (mkdir(tmp, 0755) == 0) made = 1;
        else if (errno != EEXIST) return drl_errf(err, DRL_EIO, "%s: %s", tmp, strerror(errno));
    }
    if (!made) return drl_errf(err, DRL_EIO, "datasets: no free id after 16 attempts");

    if (!(rc = join(err, path, tmp, "images.idx", NULL))) rc = write_images(err, path, ds);
    if (!rc && ds->labels && !(rc = join(err, path, tmp, "labels.idx", NULL)))
        rc = write_labels(err, path, ds);
    if (!rc && !(rc = join(err, path, tmp, "meta.json", NULL)))
        rc = write_meta(err, path, ds, cand, format);
    if (!rc) rc = fsync_dir(err, tmp);
    if (!rc && rename(tmp, final) != 0)
        rc = drl_errf(err, DRL_EIO, "rename %s: %s", final, strerror(errno));
    if (rc) {
        remove_flat_dir(tmp);
        return rc;
    }
    if ((rc = fsync_dir(err, root))) return rc;
    memcpy(id, cand, sizeof cand);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading */

/* work_dir/datasets/<id>/<file>, with the id checked. */
static int dataset_path(drl_err *err, char *out, const char *work_dir, const char *id,
                        const char *file) {
    char root[PATH_BYTES];
    int rc = check_id(err, id);
    if (!rc) rc = join(err, root, work_dir, "datasets", NULL);
    if (!rc) rc = join(err, out, root, id, file);
    return rc;
}

static int read_meta_text(drl_err *err, const char *work_dir, const char *id, char **text) {
    *text = NULL;
    char path[PATH_BYTES];
    int rc = dataset_path(err, path, work_dir, id, "meta.json");
    if (rc) return rc;
    uint8_t *buf;
    size_t n;
    rc = drl_file_read_all(err, path, META_MAX, &buf, &n);
    if (rc == DRL_ENOTFOUND) return drl_errf(err, DRL_ENOTFOUND, "dataset %s not found", id);
    if (rc) return rc;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
    char *s = realloc(buf, n + 1);
    if (!s) {
        free(buf);
        return drl_errf(err, DRL_ENOMEM, "datasets: out of memory");
    }
    s[n] = '\0';
    *text = s;
    return 0;
}

int drl_datasets_meta(drl_err *err, const char *work_dir, const char *id, char **json_out) {
    return read_meta_text(err, work_dir, id, json_out);
}

/* Class names from meta "classes" (array of K strings) into ds. */
static int load_classes(drl_err *err, const json_t *classes, drl_dataset *ds) {
    if (!json_is_array(classes)) return 0;
    size_t K = json_array_size(classes);
    if (K == 0 || K > 256 || (ds->n_classes && (size_t)ds->n_classes != K))
        return drl_errf(err, DRL_EFORMAT, "meta.json: %zu classes for n_classes %d", K,
                        ds->n_classes);
    ds->class_names = calloc(K, sizeof *ds->class_names);
    if (!ds->class_names) return drl_errf(err, DRL_ENOMEM, "datasets: out of memory");
    ds->n_classes = (int)K;
    for (size_t k = 0; k < K; k++) {
        const char *s = json_string_value(json_array_get(classes, k));
        if (!s) return drl_errf(err, DRL_EFORMAT, "meta.json: classes[%zu] is not a string", k);
        if (!(ds->class_names[k] = strdup(s)))
            return drl_errf(err, DRL_ENOMEM, "datasets: out of memory");
    }
    return 0;
}

static int load_labels(drl_err *err, const char *path, drl_dataset *ds) {
    drl_idx *lb = NULL;
    int rc = drl_idx_load(err, path, ds->N + 64, &lb);
    if (rc) return rc;
    if (lb->type != 0x08 || lb->ndim != 1 || lb->dims[0] != ds->N) {
        drl_idx_free(lb);
        return drl_errf(err, DRL_EFORMAT, "%s: want %zu unsigned-byte labels", path, ds->N);
    }
    ds->labels = malloc(ds->N * sizeof *ds->labels);
    if (!ds->labels) {
        drl_idx_free(lb);
        return drl_errf(err, DRL_ENOMEM, "datasets: out of memory");
    }
    int hi = 0;
    for (size_t i = 0; i < ds->N; i++) {
        ds->labels[i] = (int)lb->data[i];
        if (ds->labels[i] + 1 > hi) hi = ds->labels[i] + 1;
    }
    drl_idx_free(lb);
    if (ds->n_classes == 0) ds->n_classes = hi;
    if (hi > ds->n_classes)
        return drl_errf(err, DRL_EFORMAT, "%s: label %d but %d classes", path, hi - 1,
                        ds->n_classes);
    return 0;
}

int drl_datasets_load(drl_err *err, const char *work_dir, const char *id, drl_dataset **out) {
    *out = NULL;
    char *text, path[PATH_BYTES];
    int rc = read_meta_text(err, work_dir, id, &text);
    if (rc) return rc;
    json_error_t je;
    json_t *meta = json_loads(text, 0, &je);
    free(text);
    json_int_t N = 0, C = 0, H = 0, W = 0, K = 0;
    int labelled = 0;
    if (!meta || json_unpack(meta, "{s:I,s:[III],s:b,s?I}", "count", &N, "shape", &C, &H, &W,
                             "labels", &labelled, "n_classes", &K) != 0 ||
        N < 1 || N > UINT32_MAX || (C != 1 && C != 3) || H < 1 || H > 65535 || W < 1 ||
        W > 65535 || K < 0 || K > 256) {
        json_decref(meta);
        return drl_errf(err, DRL_EFORMAT, "dataset %s: meta.json is damaged", id);
    }
    drl_dataset *ds = calloc(1, sizeof *ds);
    drl_idx *im = NULL;
    if (!ds) {
        rc = drl_errf(err, DRL_ENOMEM, "datasets: out of memory");
        goto done;
    }
    ds->N = (size_t)N;
    ds->C = (int)C;
    ds->H = (int)H;
    ds->W = (int)W;
    ds->n_classes = (int)K;
    size_t count;
    if (drl_size_mul(ds->N, (size_t)(C * H * W), &count) || count > SIZE_MAX / sizeof(float) - 64) {
        rc = drl_errf(err, DRL_EFORMAT, "dataset %s: meta.json shape overflows", id);
        goto done;
    }
    if ((rc = dataset_path(err, path, work_dir, id, "images.idx")) ||
        (rc = drl_idx_load(err, path, count + 64, &im)))
        goto done;
    if (im->type != 0x08 || im->ndim != 4 || im->dims[0] != ds->N || im->dims[1] != (uint32_t)C ||
        im->dims[2] != (uint32_t)H || im->dims[3] != (uint32_t)W) {
        rc = drl_errf(err, DRL_EFORMAT, "%s: want unsigned-byte images (%zu, %d, %d, %d) as "
                      "meta.json says", path, ds->N, ds->C, ds->H, ds->W);
        goto done;
    }
    ds->images = im->data;
    im->data = NULL;
    for (size_t i = 0; i < count; i++) ds->images[i] /= 255.0f; /* k/255 exactly as PNGs give */
    if (labelled && ((rc = dataset_path(err, path, work_dir, id, "labels.idx")) ||
                     (rc = load_labels(err, path, ds))))
        goto done;
    if (labelled) rc = load_classes(err, json_object_get(meta, "classes"), ds);
done:
    drl_idx_free(im);
    json_decref(meta);
    if (rc) {
        drl_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Listing */

static int by_created(const void *a, const void *b) {
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *cx = json_string_value(json_object_get(x, "created"));
    const char *cy = json_string_value(json_object_get(y, "created"));
    int c = strcmp(cx ? cx : "", cy ? cy : "");
    if (c) return c;
    const char *ix = json_string_value(json_object_get(x, "id"));
    const char *iy = json_string_value(json_object_get(y, "id"));
    return strcmp(ix ? ix : "", iy ? iy : "");
}

int drl_datasets_list(drl_err *err, const char *work_dir, char **json_out) {
    *json_out = NULL;
    char root[PATH_BYTES];
    int rc = join(err, root, work_dir, "datasets", NULL);
    if (rc) return rc;
    clean_stale(root);
    json_t **v = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(root);
    if (!d && errno != ENOENT) return drl_errf(err, DRL_EIO, "%s: %s", root, strerror(errno));
    struct dirent *de;
    while (d && rc == 0 && (de = readdir(d))) {
        if (!drl_datasets_id_ok(de->d_name)) continue; /* ".", "..", .tmp-* */
        char *text;
        if (read_meta_text(NULL, work_dir, de->d_name, &text)) continue;
        json_t *m = json_loads(text, 0, NULL);
        free(text);
        if (!json_is_object(m)) {
            json_decref(m);
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            json_t **nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                json_decref(m);
                rc = drl_errf(err, DRL_ENOMEM, "datasets: out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = m;
    }
    if (d) closedir(d);
    if (n) qsort(v, n, sizeof *v, by_created);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (arr) json_array_append_new(arr, v[i]);
        else json_decref(v[i]);
    free(v);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    json_t *root_obj = arr ? json_pack("{s:o}", "datasets", arr) : NULL;
    *json_out = root_obj ? json_dumps(root_obj, JSON_COMPACT) : NULL;
    json_decref(root_obj);
    if (!*json_out) return drl_errf(err, DRL_ENOMEM, "datasets: out of memory");
    return 0;
}
