/* datasets.h — uploaded training datasets on disk, under the server's --work-dir.
 *
 * work_dir/datasets/<id>/ holds
 *   images.idx  IDX unsigned byte, dims (N, C, H, W), values round(x · 255) clamped to 0..255;
 *   labels.idx  IDX unsigned byte, dims (N) — labelled datasets only (at most 256 classes);
 *   meta.json   {"id","count":N,"shape":[C,H,W],"format","labels":bool,"n_classes":K,
 *                "classes":[names] | null,"created":"YYYY-MM-DDTHH:MM:SSZ"}.
 * A dataset is written into work_dir/datasets/.tmp-<id>/ with every file fsync'ed, then renamed
 * into place and the parent directory fsync'ed: a reader, or a crash, sees the whole dataset or
 * none of it. Ids are "ds-" + 8 hex digits of the creation time (seconds) + 8 hex digits from
 * /dev/urandom; the exclusive mkdir of the temporary directory keeps them unique across
 * processes sharing the directory. Temporary directories untouched for an hour (a crashed
 * writer's) are removed by store and list. */
#ifndef DRL_SERVER_DATASETS_H
#define DRL_SERVER_DATASETS_H

#include "dataset.h"
#include "err.h"

#define DRL_DATASET_ID_MAX 40 /* buffer size, NUL included */

/* 1 when id is 1..39 characters of [A-Za-z0-9-] (so it cannot name anything outside
 * work_dir/datasets, nor a temporary directory), else 0. */
int drl_datasets_id_ok(const char *id);

/* Writes ds (N >= 1, C 1 or 3, labels < 256 when present) and its meta.json; format is the
 * upload form ("tar", "idx", "idx.gz", "json"). Creates work_dir and work_dir/datasets when
 * missing. id gets the new dataset's id. DRL_EINVAL for a dataset that cannot be stored,
 * DRL_EIO for the filesystem. */
int drl_datasets_store(drl_err *err, const char *work_dir, const drl_dataset *ds,
                       const char *format, char id[DRL_DATASET_ID_MAX]);

/* Reads a stored dataset back (images as k/255 floats, labels and class names as stored).
 * DRL_EINVAL for a malformed id, DRL_ENOTFOUND for an unknown one, DRL_EFORMAT for damaged
 * files. */
int drl_datasets_load(drl_err *err, const char *work_dir, const char *id, drl_dataset **out);

/* The dataset's meta.json text (malloc'd, NUL-terminated; caller frees). Errors as for load. */
int drl_datasets_meta(drl_err *err, const char *work_dir, const char *id, char **json_out);

/* {"datasets":[meta, ...]} ordered by created, then id (malloc'd; caller frees). A missing
 * datasets directory lists nothing; directories without a readable meta.json are left out. */
int drl_datasets_list(drl_err *err, const char *work_dir, char **json_out);

#endif
