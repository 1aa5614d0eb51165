/* dataset.h — image datasets in memory: N images of (C, H, W) floats in [0, 1] and optional
 * integer labels. Sources: IDX image/label files (Fashion-MNIST) and folders of PNG files
 * (flat, or one subfolder per class whose sorted names become labels 0..K-1). */
#ifndef DRL_DATASET_H
#define DRL_DATASET_H

#include <stddef.h>

#include "err.h"
#include "png.h"

/* Where the Debian package dataset-fashion-mnist installs the data. */
#define DRL_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct {
    size_t N;
    int C, H, W;
    float *images;      /* (N, C, H, W) */
    int *labels;        /* (N) or NULL */
    int n_classes;      /* 0 when unlabelled */
    char **class_names; /* n_classes names (folder names), or NULL */
} drl_dataset;

/* Loads IDX images (N, H, W) as C = 1 scaled by 1/255, and labels if labels_path is non-NULL
 * (counts must match). max_n > 0 keeps only the first max_n images. */
int drl_dataset_load_idx(drl_err *err, const char *images_path, const char *labels_path,
                         size_t max_n, drl_dataset **out);
/* Loads every *.png in dir (sorted by name), or from class subfolders when dir has any
 * subfolders. All images must share one (H, W); channels is 1 or 3. */
int drl_dataset_load_png_dir(drl_err *err, const char *dir, int channels,
                             const drl_png_limits *limits, size_t max_n, drl_dataset **out);
/* The Fashion-MNIST split "train" or "test" from DRL_FMNIST_DIR (or $DRL_FMNIST_DIR). */
int drl_dataset_load_fmnist(drl_err *err, const char *split, size_t max_n, drl_dataset **out);
void drl_dataset_free(drl_dataset *ds);

#endif
