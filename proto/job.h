/* job.h — the training-job spec of POST /v1/train/jobs (docs/api.md), checked field by field.
 *
 * The spec is what a user may choose; the server resolves it against the dataset and the base
 * model (shape, SDE) and turns it into a drl_train_cfg. Every bad field is a 422 naming it. */
#ifndef DRL_PROTO_JOB_H
#define DRL_PROTO_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum { DRL_JOB_BASE_CURRENT = 0, DRL_JOB_BASE_SCRATCH = 1, DRL_JOB_BASE_JOB = 2 } drl_job_base;

typedef struct {
    char dataset[64];     /* dataset id (required) */
    drl_job_base base;    /* "current" (default) | null (from scratch) | a finished job's id */
    char base_job[64];
    char name[64];        /* optional label */
    long steps;           /* 1000 */
    int batch_size;       /* 64 */
    float lr;             /* 0: default (1e-4 fine-tuning, 3e-4 from scratch) */
    int warmup;           /* -1: default (min(100, steps/10)) */
    long lr_decay_steps;  /* 0: constant lr after warm-up; else linear to 0 over the last N steps */
    float clip;           /* 1 */
    int flip;             /* 0 */
    uint64_t seed;        /* 0 */
    int has_t_range;
    float t_min, t_max;
    int sde;              /* -1: the base's (ve from scratch); 0 ve, 1 vp */
    int has_code_t_range; /* the code window; default the base's ([0, 1] from scratch) */
    float code_t_min, code_t_max;
    int weighting;        /* -1: the base's (sigma2 from scratch); else a drl_weighting (0 sigma2, 1 min_snr, 2 truncated_snr) */
    float snr_gamma;      /* 0: the base's (5 from scratch) */
    int latent_dim;       /* from scratch only; 0: default 128 */
    int time_cond;        /* from scratch only */
    long ckpt_every;      /* 0: default max(steps / 10, 10) */
    long log_every;       /* 0: default max(steps / 200, 1) */
} drl_proto_job_spec;

/* Parses and checks a spec (media must be application/json). */
int drl_proto_job_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                        drl_proto_job_spec *out);
/* The spec as a JSON object text (malloc'd), defaults filled in, as stored with the job. */
char *drl_proto_job_spec_json(const drl_proto_job_spec *s);
/* Ids of datasets and jobs: 1-63 of [A-Za-z0-9-]. */
int drl_proto_valid_id(const char *id);

#endif
