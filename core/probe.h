/* probe.h — linear probes on frozen embeddings: multinomial logistic regression.
 *
 * Features are standardised (train-set mean / std), then W, b minimise
 *   (1/N) Σ xent(W x_i + b, y_i) + (l2 / 2N) ‖W‖²
 * — the objective of scikit-learn's LogisticRegression(C = 1/l2) up to the factor N — by a
 * truncated Newton method with a line search (or L-BFGS) to a gradient tolerance, so the
 * accuracy reported is that of the minimiser, not of an optimiser stopped early. Newton's
 * preconditioner holds K (D + 1)² doubles (84 MB for a 1,024-number trajectory) while a fit runs. */
#ifndef DRL_PROBE_H
#define DRL_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct drl_probe {
    int D, K;
    float *mu, *sd; /* (D) standardisation */
    float *W;       /* (K, D) */
    float *b;       /* (K) */
    /* How the fit ended: iterations used (Newton or L-BFGS), max |gradient| of the objective at
     * the returned (W, b), and why it stopped (drl_probe_stop). */
    int iters;
    int cg_iters; /* Newton: conjugate-gradient steps (Hessian-vector products) in all; L-BFGS: 0 */
    float grad_max;
    int stop;
} drl_probe;

/* Why a fit stopped. DRL_PROBE_TOL: max |gradient| <= cfg.tol. DRL_PROBE_FLAT: no further
 * decrease of the objective that float arithmetic resolves (relative 1e-12, or a failed line
 * search along -g): the minimiser to within rounding, usually with |gradient| a few times tol.
 * DRL_PROBE_CAP: cfg.iters iterations were used first — an approximate minimiser. */
enum drl_probe_stop { DRL_PROBE_TOL = 0, DRL_PROBE_FLAT = 1, DRL_PROBE_CAP = 2 };
/* "tolerance", "flat" or "iteration cap". */
const char *drl_probe_stop_name(int stop);

/* The solver: Newton-CG with a line search (the default; converges in tens of iterations on
 * codes even for a large C, in about a hundred on raw pixels), or L-BFGS (what drl used before
 * 2026-12-05; at large C it may stop at its iteration cap short of the minimiser, which moves
 * test accuracy by a few tenths). */
enum drl_probe_solver { DRL_PROBE_NEWTON = 0, DRL_PROBE_LBFGS = 1 };

typedef struct {
    float l2;       /* 1/C, default 1 */
    int iters;      /* solver iterations at most, default 1000 */
    float tol;      /* stop when max |gradient of the objective| <= tol, default 1e-6 */
    int solver;     /* drl_probe_solver, default DRL_PROBE_NEWTON */
    /* NULL (default): the solver starts from W = 0, b = 0. Otherwise from this probe's function
     * (same D and K; re-expressed in the new fit's standardisation): a fit of nearby C or rows
     * (drl_probe_select_c passes each C's minimiser on to the next) needs fewer iterations. The
     * minimiser reached is the same, to the tolerance. Not owned. */
    const struct drl_probe *warm;
} drl_probe_cfg;

drl_probe_cfg drl_probe_defaults(void);
/* Fits on X (N, D), labels y in [0, K). */
int drl_probe_fit(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y, size_t N,
                  int D, int K, drl_probe **out);
void drl_probe_free(drl_probe *p);
/* Predicted classes of X (N, D). */
void drl_probe_predict(const drl_probe *p, const float *X, size_t N, int *pred);
/* Share of X's rows classified as y. */
double drl_probe_accuracy(const drl_probe *p, const float *X, const int *y, size_t N);

/* Choosing C by k-fold cross-validation: the candidates (ascending) and the number of folds. */
typedef struct {
    const float *grid; /* ngrid >= 1 values, positive and ascending */
    int ngrid;
    int folds; /* 2 <= folds <= the rows cross-validated (per_run in drl_probe_few_label) */
} drl_probe_cv;

/* The paper's few-label protocol: fit on `per_run` labelled rows drawn (class-stratified by
 * chance, uniformly without replacement) from the train set, score on the test set, average over
 * `runs` seeds. With cv (may be NULL: cfg's C throughout), each run's C is chosen by
 * drl_probe_select_c_cv on its own labelled rows before the fit on all of them, so no other label
 * is seen. Returns mean accuracy; *std gets the standard deviation (may be NULL); chosen_c (may
 * be NULL) gets each run's C and run_acc (may be NULL) each run's test accuracy (runs entries
 * each); capped (may be NULL) the number of runs whose fit stopped at cfg->iters before its
 * tolerance (their accuracy is an approximate minimiser's). Run r's labelled rows depend only on
 * (seed, r, Ntr), so two representations of the same images evaluated with the same seed are
 * scored on the same labelled subsets (paired runs). */
int drl_probe_few_label(drl_err *err, const drl_probe_cfg *cfg, const float *Xtr, const int *ytr,
                        size_t Ntr, const float *Xte, const int *yte, size_t Nte, int D, int K,
                        size_t per_run, int runs, uint64_t seed, const drl_probe_cv *cv,
                        double *mean, double *std, float *chosen_c, double *run_acc, int *capped);

/* The probe's C (= 1/l2) by validation: a seeded shuffle of X's rows holds out n_val of them, a
 * probe is fitted on the others for each C of grid (ascending, each fit warm-started from the
 * previous C's), and *best_c gets the C with the highest accuracy on the held-out rows (ties: the
 * smaller C). The grid may be searched rather than swept (both 0: every C of it):
 *  - patience > 0: the sweep stops once the accuracy has fallen at `patience` successive values
 *    of C (each lower than the one before) — past the peak, the larger C left are the slowest fits
 *    (raw pixels at C = 100: half an hour on the full split) and would not be chosen;
 *  - extend > 0: when the grid's largest C wins the optimum may lie beyond it, so the grid goes on
 *    by factors of 10 (10 C, 100 C, ..., at most extend more values) while its last value is the
 *    best.
 * val_acc (may be NULL; ngrid + extend entries) gets each C's accuracy, -1 for those not scored.
 * best_fit (may be NULL) gets the probe fitted at *best_c — a warm start for the refit on all
 * rows; the caller frees it. cfg gives the other settings. The test set is never seen. */
int drl_probe_select_c(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y,
                       size_t N, int D, int K, const float *grid, int ngrid, int patience, int extend,
                       size_t n_val, uint64_t seed, float *best_c, double *val_acc, drl_probe **best_fit);

/* The same by k-fold cross-validation, for few rows: after a seeded shuffle, row i belongs to
 * fold i mod folds; each fold is scored by probes fitted on the other folds (warm-started along
 * the grid), and *best_c gets
 * the C with the most correct predictions over all folds (ties: the smaller C); cv_acc (may be
 * NULL) gets each C's pooled accuracy. cv and best_c must not be NULL. */
int drl_probe_select_c_cv(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y,
                          size_t N, int D, int K, const drl_probe_cv *cv, uint64_t seed,
                          float *best_c, double *cv_acc);

#endif
