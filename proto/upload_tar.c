/* upload_tar.c — the tar form of a dataset upload (upload.h), read with libarchive.
 *
 * One pass over the archive checks every entry as it comes (type, name, sizes from the header,
 * the PNG's IHDR) and keeps only the compressed PNG bytes, so the memory a hostile archive can
 * make us hold is capped by max_archive_bytes and nothing is decoded before the whole archive
 * has passed. The layout is decided after the pass, because the leading folder that may be
 * stripped is only known once every name has been seen. Then the PNGs are sorted by path, checked
 * for one shared shape, and decoded straight into the dataset.
 *
 * libarchive reads tar only (ustar, pax, GNU, v7), through the compression filters it has built
 * in; a filter it would run as an external program is left out, so an upload never starts a
 * process. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "upload_impl.h"

#define NAME_MAX_BYTES 4096
#define HEADER_BYTES 512 /* charged to the archive budget per entry */

typedef struct {
    char *name;      /* as in the archive, for messages */
    char *path;      /* normalised: no empty or "." components */
    const char *rel; /* path after the stripped leading folder */
    int depth;       /* components of rel */
    uint8_t *png;
    size_t n;
    int C, H, W;
} tar_png;

typedef struct {
    tar_png *v;
    size_t n, cap;
    size_t skipped, bytes, pixels;
    char last[224]; /* name of the last entry read, for errors libarchive reports later */
    char *lead;  /* first component of the first entry */
    int lead_ok; /* every entry so far lies under it */
    int any;
} tar_scan;

static void scan_release(tar_scan *S) {
    for (size_t i = 0; i < S->n; i++) {
        free(S->v[i].name);
        free(S->v[i].path);
        free(S->v[i].png);
    }
    free(S->v);
    free(S->lead);
}

/* ------------------------------------------------------------------------------------------ */
/* Reader */

typedef int (*filter_fn)(struct archive *);
static const filter_fn FILTERS[] = {
    archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
    archive_read_support_filter_xz,   archive_read_support_filter_lzma,
    archive_read_support_filter_zstd, archive_read_support_filter_lz4,
    archive_read_support_filter_compress,
};
#define N_FILTERS (sizeof FILTERS / sizeof FILTERS[0])

static struct archive *reader_new(void) {
    /* Support cannot be withdrawn once enabled, so ask a throwaway reader which filters are built
     * in (ARCHIVE_OK) rather than external programs (ARCHIVE_WARN). */
    unsigned builtin = 0;
    struct archive *probe = archive_read_new();
    if (!probe) return NULL;
    for (size_t i = 0; i < N_FILTERS; i++)
        if (FILTERS[i](probe) == ARCHIVE_OK) builtin |= 1u << i;
    archive_read_free(probe);
    struct archive *a = archive_read_new();
    if (!a) return NULL;
    archive_read_support_format_tar(a);
    for (size_t i = 0; i < N_FILTERS; i++)
        if (builtin & 1u << i) FILTERS[i](a);
    return a;
}

static const char *archive_msg(struct archive *a) {
    const char *s = archive_error_string(a);
    return s && *s ? s : "unknown error";
}

/* ------------------------------------------------------------------------------------------ */
/* Names */

/* Well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static int utf8_ok(const unsigned char *s) {
    while (*s) {
        unsigned c = *s;
        int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || (len == 2 && c < 0xc2) || c > 0xf4) return 0;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (int k = 1; k < len; k++) {
            if ((s[k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        s += len;
    }
    return 1;
}

/* Checks an entry name and writes its normalised form (malloc'd) with its component count.
 * *hidden is set when a component starts with '.' (macOS "._x.png", ".git/", ...). */
static int check_name(drl_proto_error *e, const char *name, char **norm, int *depth,
                      int *hidden) {
    *norm = NULL;
    *depth = 0;
    *hidden = 0;
    size_t len = strlen(name);
    if (len > NAME_MAX_BYTES)
        return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s...\": name longer than "
                                "%d bytes", name, NAME_MAX_BYTES);
    if (name[0] == '/')
        return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": absolute paths are "
                                "not allowed", name);
    if (strchr(name, '\\'))
        return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": backslashes are not "
                                "allowed in names", name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": control character "
                                    "0x%02x in name", name, *p);
    if (!utf8_ok((const unsigned char *)name))
        return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": name is not valid "
                                "UTF-8", name);
    char *out = malloc(len + 1);
    if (!out) return drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
    size_t o = 0;
    for (const char *p = name; *p;) {
        size_t cl = strcspn(p, "/");
        if (cl == 2 && p[0] == '.' && p[1] == '.') {
            free(out);
            return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": \"..\" in names "
                                    "is not allowed", name);
        }
        if (cl > 0 && !(cl == 1 && p[0] == '.')) {
            if (p[0] == '.') *hidden = 1;
            if (o) out[o++] = '/';
            memcpy(out + o, p, cl);
            o += cl;
            (*depth)++;
        }
        p += cl;
        if (*p == '/') p++;
    }
    out[o] = '\0';
    *norm = out;
    return 0;
}

static int is_png_name(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    return n > 4 && strcasecmp(base + n - 4, ".png") == 0;
}

/* Tracks whether every entry lies under one first component (a tar of "mydata/"). A file
 * named like the folder, or anything beside it, ends the sharing. */
static int lead_update(drl_proto_error *e, tar_scan *S, const char *path, int depth, int is_dir) {
    size_t fl = strcspn(path, "/");
    int under = depth >= 2 || is_dir;
    if (!S->any) {
        S->any = 1;
        S->lead_ok = under;
        if (!(S->lead = strndup(path, fl)))
            return drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
        return 0;
    }
    if (S->lead_ok && !(under && strlen(S->lead) == fl && memcmp(S->lead, path, fl) == 0))
        S->lead_ok = 0;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The pass over the archive */

static int charge(drl_proto_error *e, tar_scan *S, size_t bytes, const drl_upload_limits *L,
                  const char *name) {
    size_t t;
    if (drl_size_add(S->bytes, bytes, &t) || t > L->max_archive_bytes)
        return drl_proto_errorf(e, 413, "payload_too_large", "entry \"%.200s\": the archive holds "
                                "more than %zu bytes (after decompression), over the limit", name,
                                L->max_archive_bytes);
    S->bytes = t;
    return 0;
}

static const char *kind_of(unsigned type) {
    switch (type) {
    case AE_IFLNK: return "symbolic links";
    case AE_IFCHR: case AE_IFBLK: return "device files";
    case AE_IFIFO: return "FIFOs";
    case AE_IFSOCK: return "sockets";
    default: return "entries of this type";
    }
}

static int read_png(drl_proto_error *e, struct archive *a, tar_scan *S, const drl_upload_limits *L,
                    const char *name, char **path, int depth, size_t size) {
    if (S->n >= L->max_images)
        return drl_proto_errorf(e, 413, "payload_too_large", "entry \"%.200s\": more than %zu "
                                "images, over the limit", name, L->max_images);
    if (S->n == S->cap) {
        size_t nc = S->cap ? S->cap * 2 : 64;
        tar_png *nv = realloc(S->v, nc * sizeof *nv);
        if (!nv) return drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
        S->v = nv;
        S->cap = nc;
    }
    tar_png *t = &S->v[S->n];
    memset(t, 0, sizeof *t);
    t->png = malloc(size ? size : 1);
    t->name = strdup(name);
    if (!t->png || !t->name) {
        free(t->png);
        free(t->name);
        return drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
    }
    S->n++; /* owned by S from here on */
    t->path = *path;
    *path = NULL;
    t->depth = depth;
    while (t->n < size) {
        la_ssize_t r = archive_read_data(a, t->png + t->n, size - t->n);
        if (r < 0)
            return drl_proto_errorf(e, 400, "bad_upload", "entry \"%.200s\": %s", name,
                                    archive_msg(a));
        if (r == 0) break;
        t->n += (size_t)r;
    }
    if (t->n < size)
        return drl_proto_errorf(e, 400, "bad_upload", "entry \"%.200s\": truncated (%zu of %zu "
                                "bytes)", name, t->n, size);
    char what[240];
    snprintf(what, sizeof what, "entry \"%.200s\"", name);
    if (drl_upload_png_header(e, t->png, t->n, L, what, &t->C, &t->H, &t->W)) return -1;
    return drl_upload_add_pixels(e, &S->pixels, 1, t->C, t->H, t->W, L, what);
}

static int scan_entry(drl_proto_error *e, struct archive *a, struct archive_entry *ent,
                      tar_scan *S, const drl_upload_limits *L, size_t index) {
    const char *name = archive_entry_pathname_utf8(ent);
    if (!name) name = archive_entry_pathname(ent); /* not convertible: checked as raw bytes */
    if (!name || !*name)
        return drl_proto_errorf(e, 422, "invalid_input", "entry %zu: has no name", index);
    snprintf(S->last, sizeof S->last, "%.200s", name);
    if (archive_entry_hardlink(ent))
        return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": hard links are not "
                                "allowed (only regular files and folders)", name);
    unsigned type = archive_entry_filetype(ent);
    if (type != AE_IFREG && type != AE_IFDIR)
        return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": %s are not allowed "
                                "(only regular files and folders)", name, kind_of(type));
    char *path;
    int depth, hidden;
    if (check_name(e, name, &path, &depth, &hidden)) return -1;
    int rc = 0;
    if (type == AE_IFDIR) {
        rc = charge(e, S, HEADER_BYTES, L, name);
        if (!rc && depth > 0 && !hidden) rc = lead_update(e, S, path, depth, 1);
        free(path);
        return rc;
    }
    if (depth == 0) {
        free(path);
        return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": a file needs a name",
                                name);
    }
    la_int64_t sz = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : -1;
    if (sz < 0) rc = drl_proto_errorf(e, 400, "bad_upload", "entry \"%.200s\": no size in the "
                                      "header", name);
    else if ((uint64_t)sz > L->max_entry_bytes)
        rc = drl_proto_errorf(e, 413, "payload_too_large", "entry \"%.200s\": %lld bytes, over the "
                              "limit of %zu bytes per entry", name, (long long)sz,
                              L->max_entry_bytes);
    else rc = charge(e, S, HEADER_BYTES + (size_t)sz, L, name);
    if (!rc && !hidden) rc = lead_update(e, S, path, depth, 0);
    if (!rc && !hidden && is_png_name(path)) {
        rc = read_png(e, a, S, L, name, &path, depth, (size_t)sz);
    } else if (!rc) {
        S->skipped++;
        if (archive_read_data_skip(a) != ARCHIVE_OK)
            rc = drl_proto_errorf(e, 400, "bad_upload", "entry \"%.200s\": %s", name,
                                  archive_msg(a));
    }
    free(path);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Layout, order, shape, decoding */

static int by_rel(const void *a, const void *b) {
    return strcmp(((const tar_png *)a)->rel, ((const tar_png *)b)->rel);
}

static int by_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The class folder names of a labelled layout, sorted and distinct (malloc'd strings). */
static int collect_classes(drl_proto_error *e, const tar_scan *S, char ***names, int *K) {
    *names = NULL;
    *K = 0;
    char **v = calloc(DRL_UPLOAD_MAX_CLASSES, sizeof *v);
    if (!v) return drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
    int k = 0;
    /* Sorted paths keep each folder's entries together, so a change of folder is a new class. */
    for (size_t i = 0; i < S->n; i++) {
        const char *rel = S->v[i].rel;
        size_t fl = strcspn(rel, "/");
        if (k && strlen(v[k - 1]) == fl && memcmp(v[k - 1], rel, fl) == 0) continue;
        if (k == DRL_UPLOAD_MAX_CLASSES) {
            for (int j = 0; j < k; j++) free(v[j]);
            free(v);
            return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": more than %d class "
                                    "folders", S->v[i].name, DRL_UPLOAD_MAX_CLASSES);
        }
        if (!(v[k] = strndup(rel, fl))) {
            for (int j = 0; j < k; j++) free(v[j]);
            free(v);
            return drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
        }
        k++;
    }
    qsort(v, (size_t)k, sizeof *v, by_str); /* "a-b/" sorts before "a/" by path, not by name */
    *names = v;
    *K = k;
    return 0;
}

static int build(drl_proto_error *e, tar_scan *S, const drl_upload_limits *L, drl_dataset **out) {
    if (S->n == 0)
        return drl_proto_errorf(e, 422, "invalid_input", "the archive holds no .png files (%zu "
                                "other files skipped)", S->skipped);
    size_t strip = S->lead_ok ? strlen(S->lead) + 1 : 0;
    for (size_t i = 0; i < S->n; i++) {
        S->v[i].rel = S->v[i].path + strip;
        if (strip) S->v[i].depth--;
    }
    qsort(S->v, S->n, sizeof *S->v, by_rel);
    const tar_png *top = NULL, *nested = NULL;
    for (size_t i = 0; i < S->n; i++) {
        const tar_png *t = &S->v[i];
        if (i && strcmp(t->rel, S->v[i - 1].rel) == 0)
            return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": appears twice in "
                                    "the archive", t->name);
        if (t->depth > 2)
            return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": nested too deeply: "
                                    "images go at the top (x.png) or one folder down "
                                    "(class/x.png)", t->name);
        if (t->depth == 1 && !top) top = t;
        if (t->depth == 2 && !nested) nested = t;
    }
    if (top && nested)
        return drl_proto_errorf(e, 422, "invalid_input", "entries mix images at the top "
                                "(\"%.200s\") and in class folders (\"%.200s\"): use one layout",
                                top->name, nested->name);
    const tar_png *f = &S->v[0];
    for (size_t i = 1; i < S->n; i++) {
        const tar_png *t = &S->v[i];
        if (t->C != f->C || t->H != f->H || t->W != f->W)
            return drl_proto_errorf(e, 422, "invalid_input", "entry \"%.200s\": image is %dx%dx%d "
                                    "(CxHxW) but \"%.200s\" is %dx%dx%d: all images must share one "
                                    "shape (gray and colour PNGs do not mix)", t->name, t->C, t->H,
                                    t->W, f->name, f->C, f->H, f->W);
    }
    char **classes = NULL;
    int K = 0;
    if (nested && collect_classes(e, S, &classes, &K)) return -1;
    drl_dataset *ds = drl_upload_dataset_new(e, S->n, f->C, f->H, f->W);
    if (ds && K) {
        ds->labels = malloc(S->n * sizeof *ds->labels);
        ds->class_names = classes;
        ds->n_classes = K;
        classes = NULL;
        if (!ds->labels) {
            drl_dataset_free(ds);
            ds = NULL;
            drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
        }
    }
    if (classes) {
        for (int j = 0; j < K; j++) free(classes[j]);
        free(classes);
    }
    if (!ds) return -1;
    size_t per = (size_t)f->C * f->H * f->W;
    for (size_t i = 0; i < S->n; i++) {
        tar_png *t = &S->v[i];
        char what[240];
        snprintf(what, sizeof what, "entry \"%.200s\"", t->name);
        if (drl_upload_png_into(e, t->png, t->n, L, what, f->C, f->H, f->W, ds->images + i * per)) {
            drl_dataset_free(ds);
            return -1;
        }
        free(t->png); /* decoded: the compressed bytes go at once */
        t->png = NULL;
        if (K) {
            char cls[NAME_MAX_BYTES + 1];
            size_t fl = strcspn(t->rel, "/");
            memcpy(cls, t->rel, fl);
            cls[fl] = '\0';
            const char *key = cls;
            char **hit = bsearch(&key, ds->class_names, (size_t)K, sizeof *ds->class_names, by_str);
            ds->labels[i] = (int)(hit - ds->class_names); /* every folder was collected */
        }
    }
    *out = ds;
    return 0;
}

int drl_upload_tar(drl_proto_error *e, const uint8_t *buf, size_t n, const drl_upload_limits *L,
                   drl_dataset **out, size_t *skipped, int *recognised) {
    *out = NULL;
    *skipped = 0;
    *recognised = 0;
    int gz = n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
    struct archive *a = reader_new();
    if (!a) return drl_proto_errorf(e, 503, "overloaded", "tar: out of memory");
    tar_scan S;
    memset(&S, 0, sizeof S);
    int rc = 0, broken = 0; /* broken: libarchive failed (rather than one of our checks) */
    if (archive_read_open_memory(a, buf, n) != ARCHIVE_OK) rc = broken = -1;
    for (size_t index = 0; rc == 0; index++) {
        struct archive_entry *ent;
        int r = archive_read_next_header(a, &ent);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = broken = -1;
            break;
        }
        *recognised = 1;
        rc = scan_entry(e, a, ent, &S, L, index);
    }
    if (broken && !*recognised)
        drl_proto_errorf(e, 400, "bad_upload", "the body is not %s (libarchive: %s); expected a "
                         "tar of PNG files (optionally compressed), an IDX images file (optionally "
                         "gzip'd) or JSON {\"images\":[{\"png\":\"<base64>\"}]}",
                         gz ? "an IDX file or a tar inside gzip" : "a recognised upload",
                         archive_msg(a));
    else if (broken)
        drl_proto_errorf(e, 400, "bad_upload", "tar: corrupt archive after entry \"%s\": %s",
                         S.last, archive_msg(a));
    *recognised = *recognised || rc == 0; /* an empty tar is still a tar */
    if (rc == 0) rc = build(e, &S, L, out);
    *skipped = S.skipped;
    scan_release(&S);
    archive_read_free(a);
    return rc;
}
