/* sampling_eval.h — what a code carries, measured by sampling from it (`drl eval --sampling`).
 *
 * For N labelled images x0, samples are drawn with one sampler setting and the same noise
 * (same seeds, batch by batch) under three conditions:
 *   cond      the image's own code E(x0)
 *   shuffled  the code of another of the N images (a random cyclic permutation: none keeps its own)
 *   zero      the all-zero code
 * The shuffled and zero codes stand in for unconditional sampling, which a conditional-only
 * score model does not have: they carry no information about x0. Each condition is scored by
 *   (a) reconstruction error: mean squared error per pixel between the sample (clipped to the
 *       data range [0, 1]) and x0, for sampling from pure noise (t_init = 1) and, optionally,
 *       from x0 noised to t_partial (as in editing, where the sample keeps x0's coarse layout);
 *   (b) class consistency: the share of samples a classifier puts in x0's class.
 * The model, its encoder and the classifier come in through callbacks (drl_sampling_ops), so the
 * same code runs on a trained model (drl_sampling_model_ops) and on toy models in the tests. */
#ifndef DRL_SAMPLING_EVAL_H
#define DRL_SAMPLING_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "model.h"
#include "probe.h"
#include "sampler.h"

enum { DRL_SEVAL_COND = 0, DRL_SEVAL_SHUFFLED = 1, DRL_SEVAL_ZERO = 2, DRL_SEVAL_NCOND = 3 };

typedef struct {
    size_t n;    /* floats per image (C·H·W) */
    int d;       /* code width */
    void *user;
    /* z (B, d) = the codes of images x (B, n) (at the smallest time for time-indexed encoders). */
    int (*encode)(void *user, const float *x, int B, float *z);
    /* score (B, n) = ∇log p_t(x | code) at x (B, n). The code is z (B, d); a time-indexed encoder
     * instead re-encodes src (B, n), the images the codes came from, at t (src is NULL for the
     * zero code). */
    int (*score)(void *user, const float *x, float t, const float *z, const float *src, float *score, int B);
    /* pred (B) = the classes of images x (B, n). */
    int (*classify)(void *user, const float *x, int B, int *pred);
} drl_sampling_ops;

typedef struct {
    drl_sampler_cfg sampler; /* kind, steps (for a run from t = 1), seed, snr, denoise; t_init unused */
    float t_partial;         /* also sample from x0 noised to this t, with the step count scaled by
                              * t so that steps keep their length; 0 skips that run */
    int batch;               /* images per sampler call (default 50) */
} drl_sampling_eval_cfg;

/* Progress after each sampler call. Returning nonzero stops the evaluation (DRL_ECANCELLED). */
typedef struct {
    size_t samples, total;   /* trajectories finished, of all (N · 3 conditions · starts) */
    double fraction;         /* share of the score evaluations done */
} drl_sampling_eval_progress;
typedef int (*drl_sampling_progress_fn)(void *user, const drl_sampling_eval_progress *p);

typedef struct {
    size_t N;
    int starts;                                   /* 1, or 2 with a t_partial run */
    float t_init[2];                              /* 1, t_partial */
    int steps[2];                                 /* sampler steps of each start */
    double mse[2][DRL_SEVAL_NCOND];               /* [start][condition] mean per-pixel squared error */
    double mse_se[2][DRL_SEVAL_NCOND];            /* its standard error over the N images */
    double consistency[2][DRL_SEVAL_NCOND];       /* share of samples classified as x0's label */
    double classifier_acc;                        /* the classifier's accuracy on the x0 themselves */
} drl_sampling_eval_result;

drl_sampling_eval_cfg drl_sampling_eval_defaults(void);

/* Evaluates N >= 2 images x0 (N, n) with labels (N, each >= 0). sde gives the SDE and t_eps.
 * progress may be NULL. */
int drl_sampling_eval(drl_err *err, const drl_config *sde, const drl_sampling_eval_cfg *cfg,
                      const drl_sampling_ops *ops, const float *x0, const int *labels, size_t N,
                      drl_sampling_progress_fn progress, void *progress_user,
                      drl_sampling_eval_result *out);

/* ------------------------------------------------------------------------------------------- */
/* The callbacks for a DRL model with a probe on raw pixels (probe->D == C·H·W) as classifier. */

typedef struct {
    const drl_model *m;
    const drl_probe *probe;
    drl_model_acts *acts;  /* for up to B images */
    float *zbuf, *tbuf;    /* (B, d), (B) */
    int B;
} drl_sampling_model;

int drl_sampling_model_init(drl_err *err, drl_sampling_model *sm, const drl_model *m,
                            const drl_probe *probe, int B);
void drl_sampling_model_release(drl_sampling_model *sm);
drl_sampling_ops drl_sampling_model_ops(drl_sampling_model *sm);

#endif
