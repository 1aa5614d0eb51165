/* trainer.h — the DRL training loop, shared by `drl train` and the server's training worker.
 *
 * One step: draw a batch (epoch-wise shuffle, optional horizontal flip) → draw t from the
 * configured distribution, ε ~ N(0, I) → loss and gradients (model.h) → Adam with warm-up and
 * clipping → EMA. Every random number of step k comes from the stream (seed, k), and the data
 * order of epoch e from the stream (seed, e): a run resumed from a checkpoint reproduces the
 * uninterrupted run's loss curve exactly.
 *
 * Checkpoints: `out` holds the EMA weights as a normal model file (what users load); `out.state`
 * (safetensors) holds raw weights, Adam moments, EMA and the step for --resume. Both are written
 * atomically. A CSV of the loss curve is kept at `out.csv`. */
#ifndef DRL_TRAINER_H
#define DRL_TRAINER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "err.h"
#include "model.h"
#include "optim.h"

typedef struct {
    drl_config model;      /* architecture and method */
    int batch_size;        /* 64 */
    long steps;            /* total optimiser steps */
    drl_adam_cfg adam;     /* lr 2e-4, warm-up, clipping, cooldown (adam.decay_steps; the
                            * trainer ends it at `steps`, whatever adam.decay_end says) */
    float ema_decay;       /* max EMA decay, 0.999; warm-up schedule in optim.h */
    int flip;              /* random horizontal flip */
    uint64_t seed;
    long ckpt_every;       /* steps between checkpoints (0: only at the end) */
    long log_every;        /* steps between loss-curve rows / progress callbacks */
    char out[1024];        /* model path; state at out.state, curve at out.csv */
    char init_from[1024];  /* optional model file to start from (fine-tuning), "" for scratch */
} drl_train_cfg;

drl_train_cfg drl_train_defaults(void);
int drl_train_cfg_validate(drl_err *err, const drl_train_cfg *c);
/* Applies a JSON object of trainer keys ("batch_size", "steps", "lr", "warmup", "clip",
 * "weight_decay", "ema_decay", "flip", "seed", "ckpt_every", "log_every") and a nested "model"
 * object (config.h keys). Unknown keys are errors naming the key. */
int drl_train_cfg_from_json(drl_err *err, const char *json, drl_train_cfg *c);
/* The whole configuration as JSON (malloc'd), stored in checkpoint metadata. */
char *drl_train_cfg_to_json(const drl_train_cfg *c);

typedef struct {
    long step;         /* steps done */
    long total;
    double loss;       /* mean total loss since the last report */
    double dsm, reg;
    double grad_norm;
    double lr;
    double img_per_s;  /* over the last report interval */
    double eta_s;
} drl_train_progress;

/* The training rate behind the ETA: an exponential moving average (weight 0.3 on the newest)
 * of each report interval's images per second, so that a pause (SIGSTOP, a suspended
 * container) or a change of load stops counting after a few intervals instead of weighing on
 * the estimate for the rest of the run. Zero-initialise; the first interval sets it. */
typedef struct {
    double rate; /* images/s; 0 until the first interval */
} drl_train_eta;

/* Adds an interval: `images` trained in `seconds` of wall time. */
void drl_train_eta_add(drl_train_eta *e, double images, double seconds);
/* Seconds to train `images` more at the current rate (0 before any interval). */
double drl_train_eta_seconds(const drl_train_eta *e, double images);

/* Called every log_every steps and at checkpoints; return non-zero to stop (like SIGINT). */
typedef int (*drl_train_progress_fn)(void *user, const drl_train_progress *p);

/* Runs training on ds (images must match the model's C, H, W). With resume, continues from
 * out.state if it exists. `stop` (may be NULL) is polled every step: when it becomes non-zero
 * the trainer checkpoints and returns DRL_ECANCELLED. */
int drl_train_run(drl_err *err, const drl_train_cfg *cfg, const drl_dataset *ds, int resume,
                  volatile sig_atomic_t *stop, drl_train_progress_fn fn, void *user);

#endif
