/* dataset.c — image datasets from IDX files or folders of PNGs (see dataset.h).
 *
 * A PNG folder is either flat (every *.png is an unlabelled image) or, as soon as it has any
 * subfolder, one subfolder per class: the subfolders' names sorted bytewise become labels
 * 0..K-1, and PNGs directly in the top folder are ignored. Hidden entries (leading '.') and
 * anything that is not a plain file or directory — symlinks included, checked with lstat — are
 * skipped, so a dataset folder cannot reach outside itself. Listings are sorted so the image order
 * (and hence training) is reproducible across filesystems. */
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "idx.h"

#define DATASET_MAX_SIDE 65535 /* H and W of IDX images */

static const char *fmnist_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

void drl_dataset_free(drl_dataset *ds) {
    if (!ds) return;
    free(ds->images);
    free(ds->labels);
    if (ds->class_names)
        for (int i = 0; i < ds->n_classes; i++) free(ds->class_names[i]);
    free(ds->class_names);
    free(ds);
}

/* -------------------------------------------------------------------------------------------- */
/* IDX */

int drl_dataset_load_idx(drl_err *err, const char *images_path, const char *labels_path,
                         size_t max_n, drl_dataset **out) {
    *out = NULL;
    drl_idx *im = NULL, *lb = NULL;
    drl_dataset *ds = NULL;
    int rc = drl_idx_load(err, images_path, 0, &im);
    if (rc) return rc;
    if (im->type != 0x08 || im->ndim != 3) {
        rc = drl_errf(err, DRL_EFORMAT, "%s: want unsigned-byte images (N, H, W), got type 0x%02x "
                      "with %d dims", images_path, im->type, im->ndim);
        goto fail;
    }
    if (im->dims[0] == 0 || im->dims[1] == 0 || im->dims[2] == 0 ||
        im->dims[1] > DATASET_MAX_SIDE || im->dims[2] > DATASET_MAX_SIDE) {
        rc = drl_errf(err, DRL_EFORMAT, "%s: bad image shape (%u, %u, %u)", images_path,
                      im->dims[0], im->dims[1], im->dims[2]);
        goto fail;
    }
    if (labels_path) {
        rc = drl_idx_load(err, labels_path, 0, &lb);
        if (rc) goto fail;
        if (lb->type != 0x08 || lb->ndim != 1) {
            rc = drl_errf(err, DRL_EFORMAT, "%s: want unsigned-byte labels (N), got type 0x%02x "
                          "with %d dims", labels_path, lb->type, lb->ndim);
            goto fail;
        }
        if (lb->dims[0] != im->dims[0]) {
            rc = drl_errf(err, DRL_EFORMAT, "%s has %u labels but %s has %u images", labels_path,
                          lb->dims[0], images_path, im->dims[0]);
            goto fail;
        }
    }
    ds = calloc(1, sizeof *ds);
    if (!ds) {
        rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
        goto fail;
    }
    ds->N = im->dims[0];
    if (max_n && max_n < ds->N) ds->N = max_n;
    ds->C = 1;
    ds->H = (int)im->dims[1];
    ds->W = (int)im->dims[2];
    size_t n = ds->N * (size_t)ds->H * (size_t)ds->W; /* <= im->count, no overflow */
    for (size_t i = 0; i < n; i++) im->data[i] *= 1.0f / 255.0f;
    float *shrunk = realloc(im->data, n * sizeof(float));
    ds->images = shrunk ? shrunk : im->data;
    im->data = NULL;
    if (lb) {
        ds->labels = malloc(ds->N * sizeof *ds->labels);
        if (!ds->labels) {
            rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
            goto fail;
        }
        for (size_t i = 0; i < ds->N; i++) {
            ds->labels[i] = (int)lb->data[i];
            if (ds->labels[i] + 1 > ds->n_classes) ds->n_classes = ds->labels[i] + 1;
        }
    }
    drl_idx_free(im);
    drl_idx_free(lb);
    *out = ds;
    return 0;
fail:
    drl_idx_free(im);
    drl_idx_free(lb);
    drl_dataset_free(ds);
    return rc;
}

int drl_dataset_load_fmnist(drl_err *err, const char *split, size_t max_n, drl_dataset **out) {
    *out = NULL;
    const char *prefix;
    if (split && !strcmp(split, "train")) prefix = "train";
    else if (split && !strcmp(split, "test")) prefix = "t10k";
    else return drl_errf(err, DRL_EINVAL, "fashion-mnist: split must be train or test");
    const char *dir = getenv("DRL_FMNIST_DIR");
    if (!dir || !*dir) dir = DRL_FMNIST_DIR;
    char ip[4096], lp[4096];
    int a = snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    int b = snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    if (a < 0 || b < 0 || (size_t)a >= sizeof ip || (size_t)b >= sizeof lp)
        return drl_errf(err, DRL_EINVAL, "fashion-mnist: directory path too long");
    int rc = drl_dataset_load_idx(err, ip, lp, max_n, out);
    if (rc) {
        if (rc == DRL_ENOTFOUND)
            drl_err_prefix(err, "fashion-mnist (install dataset-fashion-mnist or set "
                                "DRL_FMNIST_DIR)");
        return rc;
    }
    drl_dataset *ds = *out;
    if (ds->n_classes <= 10) {
        ds->class_names = calloc(10, sizeof *ds->class_names);
        if (!ds->class_names) goto nomem;
        ds->n_classes = 10;
        for (int i = 0; i < 10; i++)
            if (!(ds->class_names[i] = strdup(fmnist_names[i]))) goto nomem;
    }
    return 0;
nomem:
    drl_dataset_free(ds);
    *out = NULL;
    return drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
}

/* -------------------------------------------------------------------------------------------- */
/* PNG folders */

typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int strlist_push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (!s) return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

static int has_png_suffix(const char *name) {
    size_t l = strlen(name);
    return l > 4 && strcasecmp(name + l - 4, ".png") == 0;
}

/* Lists dir's visible subdirectories and regular *.png files (names only, sorted). */
static int list_dir(drl_err *err, const char *dir, strlist *dirs, strlist *pngs) {
    DIR *d = opendir(dir);
    if (!d)
        return drl_errf(err, errno == ENOENT ? DRL_ENOTFOUND : DRL_EIO, "%s: %s", dir,
                        strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        if (!p) rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
        else if (lstat(p, &st) != 0)
            rc = drl_errf(err, DRL_EIO, "%s: %s", p, strerror(errno));
        else if (S_ISDIR(st.st_mode) && dirs && strlist_push(dirs, e->d_name))
            rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
        else if (S_ISREG(st.st_mode) && has_png_suffix(e->d_name) && strlist_push(pngs, e->d_name))
            rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
        free(p);
    }
    closedir(d);
    if (dirs && dirs->n) qsort(dirs->v, dirs->n, sizeof *dirs->v, cmp_str);
    if (pngs->n) qsort(pngs->v, pngs->n, sizeof *pngs->v, cmp_str);
    return rc;
}

int drl_dataset_load_png_dir(drl_err *err, const char *dir, int channels,
                             const drl_png_limits *limits, size_t max_n, drl_dataset **out) {
    *out = NULL;
    if (channels != 1 && channels != 3)
        return drl_errf(err, DRL_EINVAL, "dataset: channels must be 1 or 3, not %d",
                        channels);
    strlist classes = {0}, top = {0}, files = {0};
    size_t *counts = NULL; /* images per class folder */
    drl_dataset *ds = NULL;
    int rc = list_dir(err, dir, &classes, &top);
    if (rc) goto done;

    /* Gather the full paths of every image, in order, and how many each class has. */
    if (classes.n) {
        if (classes.n > INT32_MAX) {
            rc = drl_errf(err, DRL_ELIMIT, "%s: too many class folders", dir);
            goto done;
        }
        counts = calloc(classes.n, sizeof *counts);
        if (!counts) {
            rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
            goto done;
        }
        for (size_t k = 0; k < classes.n && rc == 0; k++) {
            char *sub = join(dir, classes.v[k]);
            strlist pngs = {0};
            if (!sub) rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
            else rc = list_dir(err, sub, NULL, &pngs);
            for (size_t i = 0; rc == 0 && i < pngs.n; i++) {
                char *p = join(sub, pngs.v[i]);
                if (!p || strlist_push(&files, p))
                    rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
                free(p);
            }
            if (rc == 0) counts[k] = pngs.n;
            strlist_free(&pngs);
            free(sub);
        }
    } else {
        for (size_t i = 0; rc == 0 && i < top.n; i++) {
            char *p = join(dir, top.v[i]);
            if (!p || strlist_push(&files, p))
                rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
            free(p);
        }
    }
    if (rc) goto done;
    if (files.n == 0) {
        rc = drl_errf(err, DRL_ENOTFOUND, "%s: no .png files found", dir);
        goto done;
    }

    ds = calloc(1, sizeof *ds);
    if (!ds) {
        rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
        goto done;
    }
    ds->N = files.n;
    if (max_n && max_n < ds->N) ds->N = max_n;
    ds->C = channels;
    size_t per = 0;
    for (size_t i = 0; i < ds->N; i++) {
        float *img;
        int c, h, w;
        rc = drl_png_read_file(err, files.v[i], channels, limits, &img, &c, &h, &w);
        if (rc) goto done;
        if (i == 0) {
            size_t total;
            ds->H = h;
            ds->W = w;
            per = (size_t)c * (size_t)h * (size_t)w;
            if (drl_size_mul(per, ds->N, &total) || total > SIZE_MAX / sizeof(float)) {
                free(img);
                rc = drl_errf(err, DRL_ELIMIT, "%s: %zu images of %dx%d are too many", dir,
                              ds->N, h, w);
                goto done;
            }
            ds->images = malloc(total * sizeof(float));
            if (!ds->images) {
                free(img);
                rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory for %zu images", ds->N);
                goto done;
            }
        } else if (h != ds->H || w != ds->W) {
            free(img);
            rc = drl_errf(err, DRL_EFORMAT, "%s: image is %dx%d but %s is %dx%d", files.v[i], h,
                          w, files.v[0], ds->H, ds->W);
            goto done;
        }
        memcpy(ds->images + i * per, img, per * sizeof(float));
        free(img);
    }
    if (classes.n) {
        ds->labels = malloc(ds->N * sizeof *ds->labels);
        if (!ds->labels) {
            rc = drl_errf(err, DRL_ENOMEM, "dataset: out of memory");
            goto done;
        }
        size_t i = 0;
        for (size_t k = 0; k < classes.n; k++)
            for (size_t j = 0; j < counts[k] && i < ds->N; j++) ds->labels[i++] = (int)k;
        ds->n_classes = (int)classes.n;
        ds->class_names = classes.v;
        classes.v = NULL;
        classes.n = classes.cap = 0;
    }
done:
    strlist_free(&classes);
    strlist_free(&top);
    strlist_free(&files);
    free(counts);
    if (rc) {
        drl_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}
