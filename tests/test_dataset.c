/* test_dataset.c — datasets from IDX files (small ones written here, and the installed
 * Fashion-MNIST test split when present) and from folders of PNGs, flat or with class folders. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset.h"
#include "err.h"
#include "png.h"
#include "testutil.h"

/* Writes an unsigned-byte IDX file (gzip-compressed when gz) with dims and data. */
static void write_idx(const char *path, int ndim, const uint32_t *dims, const uint8_t *data,
                      size_t n, int gz) {
    uint8_t *b = malloc(4 + 4 * (size_t)ndim + n);
    drl_test_idx_header(b, 0x08, ndim, dims);
    memcpy(b + 4 + 4 * ndim, data, n);
    size_t len = 4 + 4 * (size_t)ndim + n;
    if (!gz) {
        drl_test_write_file(path, b, len);
        free(b);
        return;
    }
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, b, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(f), Z_OK);
    free(b);
}

/* 3 images of 4x5 with pixel (i, p) = 17 * i + p, labels 2, 0, 7. */
static void write_small_idx(const char *dir, const char *prefix, int gz) {
    char ip[600], lp[600];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte%s", dir, prefix, gz ? ".gz" : "");
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte%s", dir, prefix, gz ? ".gz" : "");
    uint8_t px[60], lb[3] = {2, 0, 7};
    for (int i = 0; i < 3; i++)
        for (int p = 0; p < 20; p++) px[i * 20 + p] = (uint8_t)(17 * i + p);
    write_idx(ip, 3, (uint32_t[]){3, 4, 5}, px, 60, gz);
    write_idx(lp, 1, (uint32_t[]){3}, lb, 3, gz);
}

START_TEST(test_load_idx) {
    const char *dir = drl_test_tmpdir();
    write_small_idx(dir, "x", 0);
    char ip[600], lp[600];
    snprintf(ip, sizeof ip, "%s/x-images-idx3-ubyte", dir);
    snprintf(lp, sizeof lp, "%s/x-labels-idx1-ubyte", dir);
    drl_err e = {0};
    drl_dataset *ds;
    ck_assert_msg(drl_dataset_load_idx(&e, ip, lp, 0, &ds) == 0, "%s", e.msg);
    ck_assert_uint_eq(ds->N, 3);
    ck_assert(ds->C == 1 && ds->H == 4 && ds->W == 5);
    for (int i = 0; i < 3; i++)
        for (int p = 0; p < 20; p++)
            ck_assert_float_eq_tol(ds->images[i * 20 + p], (17 * i + p) / 255.0f, 1e-7f);
    ck_assert(ds->labels[0] == 2 && ds->labels[1] == 0 && ds->labels[2] == 7);
    ck_assert_int_eq(ds->n_classes, 8);
    drl_dataset_free(ds);

    /* max_n, and no labels */
    ck_assert_int_eq(drl_dataset_load_idx(&e, ip, NULL, 2, &ds), 0);
    ck_assert_uint_eq(ds->N, 2);
    ck_assert_ptr_null(ds->labels);
    ck_assert_int_eq(ds->n_classes, 0);
    ck_assert_float_eq_tol(ds->images[39], (17 + 19) / 255.0f, 1e-7f);
    drl_dataset_free(ds);
    drl_dataset_free(NULL);

    /* label count mismatch; labels passed as images */
    write_idx(lp, 1, (uint32_t[]){4}, (const uint8_t *)"\1\2\3\4", 4, 0);
    ck_assert_int_eq(drl_dataset_load_idx(&e, ip, lp, 0, &ds), DRL_EFORMAT);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(drl_dataset_load_idx(&e, lp, NULL, 0, &ds), DRL_EFORMAT);
}
END_TEST

START_TEST(test_fmnist_env_dir) {
    const char *dir = drl_test_tmpdir();
    write_small_idx(dir, "t10k", 1);
    setenv("DRL_FMNIST_DIR", dir, 1);
    drl_err e = {0};
    drl_dataset *ds;
    ck_assert_msg(drl_dataset_load_fmnist(&e, "test", 0, &ds) == 0, "%s", e.msg);
    ck_assert_uint_eq(ds->N, 3);
    ck_assert_int_eq(ds->labels[2], 7);
    ck_assert_int_eq(ds->n_classes, 10);
    ck_assert_str_eq(ds->class_names[0], "T-shirt/top");
    ck_assert_str_eq(ds->class_names[9], "Ankle boot");
    drl_dataset_free(ds);
    ck_assert_int_eq(drl_dataset_load_fmnist(&e, "train", 0, &ds), DRL_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "DRL_FMNIST_DIR") != NULL, "%s", e.msg);
    ck_assert_int_eq(drl_dataset_load_fmnist(&e, "valid", 0, &ds), DRL_EINVAL);
    unsetenv("DRL_FMNIST_DIR");
}
END_TEST

START_TEST(test_fmnist_installed) {
    unsetenv("DRL_FMNIST_DIR");
    if (access(DRL_FMNIST_DIR "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "test_fmnist_installed: %s missing (package dataset-fashion-mnist), "
                        "skipped\n", DRL_FMNIST_DIR);
        return;
    }
    drl_err e = {0};
    drl_dataset *ds;
    ck_assert_msg(drl_dataset_load_fmnist(&e, "test", 100, &ds) == 0, "%s", e.msg);
    ck_assert_uint_eq(ds->N, 100);
    ck_assert(ds->C == 1 && ds->H == 28 && ds->W == 28);
    ck_assert_int_eq(ds->n_classes, 10);
    int seen[10] = {0};
    for (size_t i = 0; i < ds->N; i++) {
        ck_assert(ds->labels[i] >= 0 && ds->labels[i] <= 9);
        seen[ds->labels[i]]++;
    }
    for (int k = 0; k < 10; k++) ck_assert_msg(seen[k] > 0, "class %d absent from 100 images", k);
    double mn = 1, mx = 0, sum = 0;
    size_t n = ds->N * 28 * 28;
    for (size_t i = 0; i < n; i++) {
        float v = ds->images[i];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        sum += v;
    }
    ck_assert(mn == 0.0 && mx == 1.0); /* ubyte 0 and 255 both occur */
    double mean = sum / (double)n;
    ck_assert_msg(mean > 0.15 && mean < 0.45, "mean pixel %g", mean); /* FMNIST is ~0.29 */
    drl_dataset_free(ds);
}
END_TEST

/* A gray W x H PNG whose pixels are all v/255. */
static void write_png(const char *dir, const char *name, int H, int W, int v) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    float *img = malloc(sizeof *img * (size_t)H * W);
    for (int i = 0; i < H * W; i++) img[i] = (float)v / 255.0f;
    drl_err e = {0};
    ck_assert_msg(drl_png_write_file(&e, p, img, 1, H, W) == 0, "%s", e.msg);
    free(img);
}

START_TEST(test_png_dir_flat) {
    const char *dir = drl_test_tmpdir();
    write_png(dir, "2.png", 3, 4, 20);
    write_png(dir, "10.png", 3, 4, 10);
    write_png(dir, "1.PNG", 3, 4, 1);
    write_png(dir, ".hidden.png", 3, 4, 99);
    char notes[700];
    snprintf(notes, sizeof notes, "%s/notes.txt", dir);
    drl_test_write_file(notes, "hi", 2);
    drl_err e = {0};
    drl_dataset *ds;
    ck_assert_msg(drl_dataset_load_png_dir(&e, dir, 1, NULL, 0, &ds) == 0, "%s", e.msg);
    ck_assert_uint_eq(ds->N, 3);
    ck_assert(ds->C == 1 && ds->H == 3 && ds->W == 4);
    ck_assert_ptr_null(ds->labels);
    /* bytewise order: 1.PNG, 10.png, 2.png */
    ck_assert_float_eq_tol(ds->images[0], 1 / 255.0f, 1e-7f);
    ck_assert_float_eq_tol(ds->images[12], 10 / 255.0f, 1e-7f);
    ck_assert_float_eq_tol(ds->images[24], 20 / 255.0f, 1e-7f);
    drl_dataset_free(ds);

    /* gray replicated to 3 channels; max_n */
    ck_assert_int_eq(drl_dataset_load_png_dir(&e, dir, 3, NULL, 2, &ds), 0);
    ck_assert(ds->N == 2 && ds->C == 3);
    ck_assert_float_eq_tol(ds->images[2 * 12 + 5], 1 / 255.0f, 1e-7f);
    ck_assert_float_eq_tol(ds->images[36 + 2 * 12 + 5], 10 / 255.0f, 1e-7f);
    drl_dataset_free(ds);

    /* mixed sizes are an error naming the file */
    write_png(dir, "3.png", 4, 4, 30);
    ck_assert_int_eq(drl_dataset_load_png_dir(&e, dir, 1, NULL, 0, &ds), DRL_EFORMAT);
    ck_assert_msg(strstr(e.msg, "3.png") != NULL, "%s", e.msg);
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(drl_dataset_load_png_dir(&e, dir, 2, NULL, 0, &ds), DRL_EINVAL);
    /* per-image limits apply */
    drl_png_limits lim = {2, 2, 4};
    ck_assert_int_eq(drl_dataset_load_png_dir(&e, dir, 1, &lim, 0, &ds), DRL_ELIMIT);
}
END_TEST

START_TEST(test_png_dir_classes) {
    const char *dir = drl_test_tmpdir();
    char sub[700], p[800];
    snprintf(sub, sizeof sub, "%s/b_shoes", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_png(sub, "x.png", 2, 2, 50);
    write_png(sub, "y.png", 2, 2, 60);
    snprintf(sub, sizeof sub, "%s/a_bags", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_png(sub, "z.png", 2, 2, 70);
    /* a symlink to a file outside the folder is skipped, as are hidden folders and top files */
    write_png(dir, "outside.png", 2, 2, 200);
    snprintf(p, sizeof p, "%s/outside.png", dir);
    char link[800];
    snprintf(link, sizeof link, "%s/link.png", sub);
    ck_assert_int_eq(symlink(p, link), 0);
    snprintf(sub, sizeof sub, "%s/.cache", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_png(sub, "w.png", 2, 2, 90);

    drl_err e = {0};
    drl_dataset *ds;
    ck_assert_msg(drl_dataset_load_png_dir(&e, dir, 1, NULL, 0, &ds) == 0, "%s", e.msg);
    ck_assert_uint_eq(ds->N, 3);
    ck_assert_int_eq(ds->n_classes, 2);
    ck_assert_str_eq(ds->class_names[0], "a_bags");
    ck_assert_str_eq(ds->class_names[1], "b_shoes");
    ck_assert(ds->labels[0] == 0 && ds->labels[1] == 1 && ds->labels[2] == 1);
    ck_assert_float_eq_tol(ds->images[0], 70 / 255.0f, 1e-7f);
    ck_assert_float_eq_tol(ds->images[4], 50 / 255.0f, 1e-7f);
    ck_assert_float_eq_tol(ds->images[8], 60 / 255.0f, 1e-7f);
    drl_dataset_free(ds);

    const char *empty = drl_test_tmpdir();
    ck_assert_int_eq(drl_dataset_load_png_dir(&e, empty, 1, NULL, 0, &ds), DRL_ENOTFOUND);
    snprintf(p, sizeof p, "%s/nope", empty);
    ck_assert_int_eq(drl_dataset_load_png_dir(&e, p, 1, NULL, 0, &ds), DRL_ENOTFOUND);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, test_load_idx);
    tcase_add_test(tc, test_fmnist_env_dir);
    tcase_add_test(tc, test_fmnist_installed);
    tcase_add_test(tc, test_png_dir_flat);
    tcase_add_test(tc, test_png_dir_classes);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
