/* eval.c — `drl eval`: the paper's representation protocols on Fashion-MNIST's test split:
 * a linear probe trained on the full train split, and few-label probes (100 and 1000 labels,
 * averaged over seeds), for the model's embeddings and, in the same run, for raw pixels.
 * `drl eval --sampling` instead measures what the codes carry by sampling from them
 * (core/sampling_eval.h): reconstruction error and class consistency of samples conditioned on
 * E(x0), against shuffled and zero codes. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cli.h"
#include "dataset.h"
#include "model.h"
#include "probe.h"
#include "sampling_eval.h"
#include "threads.h"

static const char *usage_text =
    "usage: drl eval --model MODEL [options]\n"
    "Linear-probe and few-label accuracy of the model's embeddings vs raw pixels.\n"
    "  --max-train N   use the first N training images (default: all 60000)\n"
    "  --max-test N    use the first N test images (default: all 10000)\n"
    "  --runs R        seeds averaged in the few-label protocol (default 10)\n"
    "  --times K       time-conditioned models: accuracy per t on K times and for the concatenated\n"
    "                  trajectory (default 4)\n"
    "  --no-pixels     skip the raw-pixel baseline\n"
    "  --probe-c C     inverse L2 strength of the logistic regressions (scikit-learn's C;\n"
    "                  default 1); each is solved to its minimiser (--probe-solver). 'auto': the linear\n"
    "                  probe's C is chosen from 0.001, 0.01, ..., 100 by accuracy on a held-out\n"
    "                  sixth of the train split (at most 10000 rows), then refitted on all of it\n"
    "                  (the sweep stops once that accuracy has fallen at two successive C, and\n"
    "                  goes on to 1000 and 10000 while the largest C wins);\n"
    "                  each few-label fit's C by 5-fold cross-validation on its own labelled\n"
    "                  images (the median over runs is reported)\n"
    "  --probe-solver S newton (default): Newton with preconditioned conjugate gradients and a\n"
    "                  line search, to max |gradient| 1e-6 (tens of iterations on codes, about a\n"
    "                  hundred on raw pixels); with --probe-c auto each C of the grid starts from\n"
    "                  the previous C's minimiser and the refit from the chosen C's. lbfgs: the\n"
    "                  solver of drl before 2026-12-05, which at large C may stop at its iteration\n"
    "                  cap short of the minimiser (a few tenths of accuracy). Raw pixels at large\n"
    "                  C are slow for Newton (C = 100 on the full split: over 30 min); --probe-c\n"
    "                  auto stops before them, since their held-out accuracy peaks at C = 0.01\n"
    "  --probe-iters N solver iterations per fit at most (default 1000); a linear probe that\n"
    "                  reaches the cap before its gradient tolerance is reported on stderr and as\n"
    "                  \"linear_stop\": \"iteration cap\" in --json (its accuracy is then that of\n"
    "                  an approximate minimiser)\n"
    "  --json          machine-readable output\n"
    "  --threads N     threads (default: all cores)\n"
    "\n"
    "usage: drl eval --model MODEL --sampling [options]\n"
    "Samples conditioned on the codes of the first N test images, with the same noise under three\n"
    "codes: the image's own E(x0), another test image's code (shuffled) and the zero code.\n"
    "Reports the mean squared error to x0 (sampling from t = 1 and from x0 noised to --t-partial)\n"
    "and class consistency: the share of samples a logistic-regression classifier on raw pixels\n"
    "(fitted on the train split) puts in x0's class.\n"
    "  --max-test N    test images (default 200)\n"
    "  --max-train N   training images for the classifier (default: all 60000)\n"
    "  --sampler S     ode (Heun, default), pc or em;  --steps S (default ode 100, else 500)\n"
    "  --t-partial T   also reconstruct from x0 noised to T, in proportionally fewer steps\n"
    "                  (default 0.5; 0 skips)\n"
    "  --seed K        noise and code shuffle (default 0);  --snr R (pc)\n"
    "  --batch B       images per sampler call (default 50)\n"
    "  --json, --threads N as above; progress with rate and ETA goes to stderr\n";

/* ------------------------------------------------------------------------------------------- */
/* --sampling */

typedef struct {
    int tty;
    double t0, last;
} sampling_progress;

static int on_sampling_progress(void *user, const drl_sampling_eval_progress *p) {
    sampling_progress *sp = user;
    double t = drl_clock_now_s(), el = t - sp->t0;
    if (p->samples < p->total && t - sp->last < 2.0) return 0;
    sp->last = t;
    int eta = p->fraction > 0 ? (int)(el * (1 - p->fraction) / p->fraction + 0.5) : 0;
    fprintf(stderr, "%ssampling %zu/%zu  %.1f samples/s  ETA %dh%02dm%02ds%s", sp->tty ? "\r" : "", p->samples,
            p->total, el > 0 ? p->samples / el : 0.0, eta / 3600, (eta / 60) % 60, eta % 60,
            sp->tty && p->samples < p->total ? "   " : "\n");
    fflush(stderr);
    return 0;
}

static const char *cond_names[DRL_SEVAL_NCOND] = {"code", "shuffled", "zero"};
static const char *cond_labels[DRL_SEVAL_NCOND] = {"E(x0)", "shuffled code", "zero code"};

static void print_sampling(const char *model_path, const drl_sampling_eval_cfg *cfg, const drl_sampling_eval_result *r,
                           size_t Ntr, int as_json) {
    if (as_json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:i, s:I, s:f, s:f}", "model", model_path, "test", (json_int_t)r->N,
                              "train", (json_int_t)Ntr, "sampler", drl_sampler_name(cfg->sampler.kind), "steps",
                              cfg->sampler.steps, "seed", (json_int_t)cfg->sampler.seed, "classifier_accuracy",
                              r->classifier_acc, "chance", 0.1);
        json_t *starts = json_array();
        for (int s = 0; s < r->starts; s++) {
            json_t *conds = json_object();
            for (int c = 0; c < DRL_SEVAL_NCOND; c++)
                json_object_set_new(conds, cond_names[c], json_pack("{s:f, s:f, s:f}", "mse", r->mse[s][c], "mse_se",
                                                                    r->mse_se[s][c], "class_consistency", r->consistency[s][c]));
            json_array_append_new(starts, json_pack("{s:f, s:i, s:o}", "t_init", (double)r->t_init[s], "steps",
                                                    r->steps[s], "conditions", conds));
        }
        json_object_set_new(o, "starts", starts);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
        puts(s);
        free(s);
        json_decref(o);
        return;
    }
    printf("%zu test images, %s sampler, seed %llu; the same noise under every code\n", r->N,
           drl_sampler_name(cfg->sampler.kind), (unsigned long long)cfg->sampler.seed);
    printf("classifier (logistic regression on pixels, %zu training images): %.1f%% on the x0; chance 10.0%%\n\n",
           Ntr, 100 * r->classifier_acc);
    /* columns: code | MSE per start (26 wide) | class consistency per start (18 wide) */
    char h[64];
    printf("%-14s", "code");
    for (int s = 0; s < r->starts; s++) {
        snprintf(h, sizeof h, "MSE from t=%.2g (%d steps)", r->t_init[s], r->steps[s]);
        printf("  %-26s", h);
    }
    for (int s = 0; s < r->starts; s++) {
        snprintf(h, sizeof h, "class from t=%.2g", r->t_init[s]);
        printf("  %18s", h);
    }
    printf("\n");
    for (int c = 0; c < DRL_SEVAL_NCOND; c++) {
        printf("%-14s", cond_labels[c]);
        for (int s = 0; s < r->starts; s++) printf("  %.4f ± %.4f%11s", r->mse[s][c], r->mse_se[s][c], "");
        for (int s = 0; s < r->starts; s++) printf("  %17.1f%%", 100 * r->consistency[s][c]);
        printf("\n");
    }
}

static int eval_sampling(int argc, char **argv) {
    const char *model_path = NULL;
    size_t max_train = 0, max_test = 200;
    int as_json = 0, threads = 0, steps = -1;
    drl_sampling_eval_cfg cfg = drl_sampling_eval_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--sampling") || !strcmp(a, "--json")) {
            as_json |= !strcmp(a, "--json");
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "drl eval: %s needs a value\n", a);
            return DRL_EXIT_USAGE;
        }
        const char *v = argv[++i];
        long long n = 0;
        int bad = 0;
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--max-train")) bad = drl_cli_int("eval", a, v, 0, LLONG_MAX, &n), max_train = (size_t)n;
        else if (!strcmp(a, "--max-test")) bad = drl_cli_int("eval", a, v, 0, LLONG_MAX, &n), max_test = (size_t)n;
        else if (!strcmp(a, "--threads")) bad = drl_cli_count("eval", a, v, &threads);
        else if (!strcmp(a, "--steps")) bad = drl_cli_count("eval", a, v, &steps);
        else if (!strcmp(a, "--seed")) bad = drl_cli_int("eval", a, v, 0, LLONG_MAX, &n), cfg.sampler.seed = (uint64_t)n;
        else if (!strcmp(a, "--t-partial")) bad = drl_cli_float("eval", a, v, &cfg.t_partial);
        else if (!strcmp(a, "--snr")) bad = drl_cli_float("eval", a, v, &cfg.sampler.snr);
        else if (!strcmp(a, "--batch")) bad = drl_cli_count("eval", a, v, &cfg.batch);
        else if (!strcmp(a, "--sampler")) {
            int k = drl_sampler_parse(v);
            if (k < 0) {
                fprintf(stderr, "drl eval: --sampler must be pc, em or ode\n");
                return DRL_EXIT_USAGE;
            }
            cfg.sampler.kind = (drl_sampler_kind)k;
        } else {
            fprintf(stderr, "drl eval: unknown option '%s' with --sampling (see --help)\n", a);
            return DRL_EXIT_USAGE;
        }
        if (bad) return DRL_EXIT_USAGE;
    }
    if (!model_path) {
        fprintf(stderr, "drl eval: --model is required (see --help)\n");
        return DRL_EXIT_USAGE;
    }
    if (max_test < 2 || max_test > 10000 || cfg.batch < 1 || cfg.batch > 1024) {
        fprintf(stderr, "drl eval: --max-test must be 2..10000 and --batch 1..1024 with --sampling\n");
        return DRL_EXIT_USAGE;
    }
    cfg.sampler.steps = steps > 0 ? steps : cfg.sampler.kind == DRL_SAMPLER_ODE ? 100 : 500;
    drl_threads_set(threads);
    drl_err err = {0};
    drl_model *m = NULL;
    drl_dataset *tr = NULL, *te = NULL;
    drl_probe *probe = NULL;
    drl_sampling_model sm = {0};
    drl_sampling_eval_result res;
    int rc = drl_model_load(&err, model_path, &m);
    if (!rc) rc = drl_model_prepare(&err, m);
    if (!rc && m->cfg.mode != DRL_MODE_DRL) rc = drl_errf(&err, DRL_EINVAL, "%s is an autoencoder-baseline model: it has no score model to sample with", model_path);
    if (!rc) { /* the sampler settings, before the slow part */
        drl_sampler_cfg sc = cfg.sampler;
        rc = drl_sampler_validate(&err, &m->cfg, &sc);
        if (!rc && cfg.t_partial != 0.0f && !(cfg.t_partial > m->cfg.t_eps && cfg.t_partial < 1.0f))
            rc = drl_errf(&err, DRL_EINVAL, "--t-partial %g must be in (t_eps = %g, 1), or 0 to skip", cfg.t_partial, m->cfg.t_eps);
    }
    if (!rc) rc = drl_dataset_load_fmnist(&err, "train", max_train, &tr);
    if (!rc) rc = drl_dataset_load_fmnist(&err, "test", max_test, &te);
    if (!rc && (tr->C != m->cfg.C || tr->H != m->cfg.H || tr->W != m->cfg.W))
        rc = drl_errf(&err, DRL_EINVAL, "the model expects %dx%dx%d images, Fashion-MNIST is 1x28x28", m->cfg.C, m->cfg.H, m->cfg.W);
    if (!rc) {
        double t0 = drl_clock_now_s();
        drl_probe_cfg pc = drl_probe_defaults();
        rc = drl_probe_fit(&err, &pc, tr->images, tr->labels, tr->N, tr->C * tr->H * tr->W, 10, &probe);
        if (!rc) fprintf(stderr, "drl eval: pixel classifier fitted on %zu images (%.1f s)\n", tr->N, drl_clock_now_s() - t0);
    }
    if (!rc) rc = drl_sampling_model_init(&err, &sm, m, probe, cfg.batch);
    if (!rc) {
        drl_sampling_ops ops = drl_sampling_model_ops(&sm);
        sampling_progress sp = {isatty(STDERR_FILENO), drl_clock_now_s(), 0};
        rc = drl_sampling_eval(&err, &m->cfg, &cfg, &ops, te->images, te->labels, te->N, on_sampling_progress, &sp, &res);
    }
    if (!rc) print_sampling(model_path, &cfg, &res, tr->N, as_json);
    drl_sampling_model_release(&sm);
    drl_probe_free(probe);
    drl_dataset_free(tr);
    drl_dataset_free(te);
    drl_model_free(m);
    return rc ? drl_cli_fail("eval", &err) : DRL_EXIT_OK;
}

/* ------------------------------------------------------------------------------------------- */

typedef struct {
    char name[64];
    double linear, few100, few100_sd, few1000, few1000_sd;
    float linear_c;             /* the linear probe's C */
    int linear_iters, linear_stop; /* how its fit ended (drl_probe) */
    float linear_grad;
    float few100_c, few1000_c; /* median over runs of the few-label probes' C */
    int few100_capped, few1000_capped; /* runs whose fit stopped at the iteration cap */
    double *few100_runs, *few1000_runs; /* each run's accuracy (runs entries; owned, may be NULL) */
} eval_row;

/* A JSON array of the runs' accuracies (paired across representations: run r of every row used
 * the same labelled images); an empty array when the protocol did not run. */
static json_t *runs_json(const double *acc, int runs) {
    json_t *a = json_array();
    for (int r = 0; acc && r < runs; r++) json_array_append_new(a, json_real(acc[r]));
    return a;
}

static const float AUTO_C[] = {0.001f, 0.01f, 0.1f, 1.0f, 10.0f, 100.0f};
#define N_AUTO_C (int)(sizeof AUTO_C / sizeof AUTO_C[0])
/* The linear probe's sweep of AUTO_C stops after two successive falls of the held-out accuracy
 * (raw pixels peak at C = 0.01, and their fits at C = 10 and 100 take most of an hour), and goes
 * on to 1000 and 10000 while its largest C wins (DRL codes still gain at C = 100). */
enum { EXTRA_C = 2 };

/* A float as the shortest decimal that reads back to it (0.01f as 0.01, not 0.0099999998). */
static double short_decimal(float v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)v);
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return strtod(buf, NULL);
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The few-label protocol with `per_run` labels (seed = per_run); auto_c: each run's C by 5-fold
 * cross-validation on its labelled rows (printed), *median_c the median over runs (the upper
 * one for an even count, so always a value of the grid); otherwise *median_c = 1 / l2. */
static int few_label(drl_err *err, const drl_probe_cfg *pc, int auto_c, const char *name,
                     const float *Xtr, const int *ytr, size_t Ntr, const float *Xte, const int *yte,
                     size_t Nte, int D, size_t per_run, int runs, double *mean, double *sd,
                     float *median_c, double *run_acc, int *capped) {
    const drl_probe_cv cv = {AUTO_C, N_AUTO_C, 5};
    float *chosen = malloc((size_t)runs * sizeof(float));
    if (!chosen) return drl_errf(err, DRL_ENOMEM, "eval: out of memory");
    int rc = drl_probe_few_label(err, pc, Xtr, ytr, Ntr, Xte, yte, Nte, D, 10, per_run, runs, per_run,
                                 auto_c ? &cv : NULL, mean, sd, chosen, run_acc, capped);
    if (!rc && *capped)
        fprintf(stderr, "drl eval: %s, %zu labels: warning: %d of %d runs' fits stopped at the iteration cap (%d) "
                        "before the tolerance: their accuracy is that of an approximate minimiser\n",
                name, per_run, *capped, runs, pc->iters);
    if (!rc && auto_c) {
        fprintf(stderr, "drl eval: %s, %zu labels: C by 5-fold cross-validation per run:", name, per_run);
        for (int r = 0; r < runs; r++) fprintf(stderr, " %g", chosen[r]);
        fputc('\n', stderr);
    }
    if (!rc) { /* without auto_c every run's C is 1 / l2 */
        qsort(chosen, (size_t)runs, sizeof(float), cmp_float);
        *median_c = chosen[runs / 2]; /* the upper median for an even count: a value of the grid */
    }
    free(chosen);
    return rc;
}

/* auto_c: the linear probe's C by validation on the train split (drl_probe_select_c), and the
 * few-label probes' C by cross-validation on their labelled rows. */
static int evaluate(drl_err *err, const drl_probe_cfg *pc, int auto_c, const char *name,
                    const float *Xtr, const int *ytr, size_t Ntr, const float *Xte,
                    const int *yte, size_t Nte, int D, int runs, eval_row *row) {
    drl_probe *p = NULL, *held = NULL; /* held: the fit on 5/6 at the chosen C, a warm start */
    snprintf(row->name, sizeof row->name, "%s", name);
    drl_probe_cfg lc = *pc;
    row->linear_c = 1.0f / pc->l2;
    if (auto_c) {
        const size_t n_val = Ntr / 6 < 10000 ? Ntr / 6 : 10000;
        double acc[N_AUTO_C + EXTRA_C];
        int rc = drl_probe_select_c(err, pc, Xtr, ytr, Ntr, D, 10, AUTO_C, N_AUTO_C, 2, EXTRA_C, n_val, 7,
                                    &row->linear_c, acc, &held);
        if (rc) return rc;
        fprintf(stderr, "drl eval: %s: held-out accuracy by C:", name);
        float cg = AUTO_C[N_AUTO_C - 1];
        for (int g = 0; g < N_AUTO_C + EXTRA_C && acc[g] >= 0; g++)
            fprintf(stderr, " %g: %.2f%%", g < N_AUTO_C ? AUTO_C[g] : (cg *= 10.0f), 100 * acc[g]);
        fprintf(stderr, " -> C = %g\n", row->linear_c);
        lc.l2 = 1.0f / row->linear_c;
        lc.warm = held;
    }
    int rc = drl_probe_fit(err, &lc, Xtr, ytr, Ntr, D, 10, &p);
    drl_probe_free(held);
    if (rc) return rc;
    row->linear = drl_probe_accuracy(p, Xte, yte, Nte);
    row->linear_iters = p->iters, row->linear_stop = p->stop, row->linear_grad = p->grad_max;
    if (p->stop == DRL_PROBE_CAP)
        fprintf(stderr, "drl eval: %s: warning: the linear probe (C = %g) stopped after %d iterations at max "
                        "|gradient| %.3g, above the tolerance %.3g: its accuracy is that of an approximate minimiser\n",
                name, 1.0 / lc.l2, p->iters, (double)p->grad_max, (double)lc.tol);
    drl_probe_free(p);
    row->few100 = row->few1000 = -1;
    row->few100_c = row->few1000_c = -1; /* -1: the protocol did not run (too few rows) */
    row->few100_capped = row->few1000_capped = 0;
    row->few100_runs = malloc((size_t)runs * sizeof(double));
    row->few1000_runs = malloc((size_t)runs * sizeof(double));
    if (!row->few100_runs || !row->few1000_runs) return drl_errf(err, DRL_ENOMEM, "eval: out of memory");
    if (Ntr >= 100) rc = few_label(err, pc, auto_c, name, Xtr, ytr, Ntr, Xte, yte, Nte, D, 100, runs, &row->few100, &row->few100_sd, &row->few100_c, row->few100_runs, &row->few100_capped);
    if (!rc && Ntr >= 1000)
        rc = few_label(err, pc, auto_c, name, Xtr, ytr, Ntr, Xte, yte, Nte, D, 1000, runs, &row->few1000, &row->few1000_sd, &row->few1000_c, row->few1000_runs, &row->few1000_capped);
    return rc;
}

int drl_cli_eval(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--sampling")) return eval_sampling(argc, argv);
    const char *model_path = NULL;
    size_t max_train = 0, max_test = 0;
    int runs = 10, K = 4, pixels = 1, as_json = 0, threads = 0;
    float probe_c = 1.0f;
    int auto_c = 0, probe_iters = drl_probe_defaults().iters, solver = drl_probe_defaults().solver;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--model") || !strcmp(a, "--max-train") || !strcmp(a, "--max-test") ||
                    !strcmp(a, "--runs") || !strcmp(a, "--times") || !strcmp(a, "--threads") ||
                    !strcmp(a, "--probe-c") || !strcmp(a, "--probe-iters") || !strcmp(a, "--probe-solver");
        if (takes && !v) {
            fprintf(stderr, "drl eval: %s needs a value\n", a);
            return DRL_EXIT_USAGE;
        }
        long long n = 0;
        int bad = 0;
        if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "--max-train")) bad = drl_cli_int("eval", a, argv[++i], 0, LLONG_MAX, &n), max_train = (size_t)n;
        else if (!strcmp(a, "--max-test")) bad = drl_cli_int("eval", a, argv[++i], 0, LLONG_MAX, &n), max_test = (size_t)n;
        else if (!strcmp(a, "--runs")) bad = drl_cli_count("eval", a, argv[++i], &runs);
        else if (!strcmp(a, "--times")) bad = drl_cli_count("eval", a, argv[++i], &K);
        else if (!strcmp(a, "--threads")) bad = drl_cli_count("eval", a, argv[++i], &threads);
        else if (!strcmp(a, "--probe-iters")) bad = drl_cli_int("eval", a, argv[++i], 1, 1000000, &n), probe_iters = (int)n;
        else if (!strcmp(a, "--probe-solver")) {
            solver = !strcmp(v, "newton") ? DRL_PROBE_NEWTON : !strcmp(v, "lbfgs") ? DRL_PROBE_LBFGS : -1;
            if (solver < 0) {
                fprintf(stderr, "drl eval: --probe-solver must be newton or lbfgs, not '%s'\n", v);
                return DRL_EXIT_USAGE;
            }
            i++;
        } else if (!strcmp(a, "--probe-c") && !strcmp(v, "auto")) auto_c = 1, probe_c = 1.0f, i++;
        else if (!strcmp(a, "--probe-c")) /* the last --probe-c wins */
            auto_c = 0, bad = drl_cli_float("eval", a, argv[++i], &probe_c);
        else if (!strcmp(a, "--no-pixels")) pixels = 0;
        else if (!strcmp(a, "--json")) as_json = 1;
        else {
            fprintf(stderr, "drl eval: unknown option '%s'\n", a);
            return DRL_EXIT_USAGE;
        }
        if (bad) return DRL_EXIT_USAGE;
    }
    if (!model_path) {
        fprintf(stderr, "drl eval: --model is required (see --help)\n");
        return DRL_EXIT_USAGE;
    }
    if (runs < 1 || runs > 1000 || K < 1 || K > 64) {
        fprintf(stderr, "drl eval: --runs must be 1..1000 and --times 1..64\n");
        return DRL_EXIT_USAGE;
    }
    if (auto_c && max_train > 0 && max_train < 12) {
        fprintf(stderr, "drl eval: --probe-c auto needs at least 12 training images\n");
        return DRL_EXIT_USAGE;
    }
    if (!(probe_c >= 1e-6f && probe_c <= 1e6f)) {
        fprintf(stderr, "drl eval: --probe-c must be in [1e-6, 1e6]\n");
        return DRL_EXIT_USAGE;
    }
    drl_probe_cfg pc = drl_probe_defaults();
    pc.l2 = 1.0f / probe_c;
    pc.iters = probe_iters;
    pc.solver = solver;
    drl_threads_set(threads);
    drl_err err = {0};
    drl_model *m = NULL;
    drl_dataset *tr = NULL, *te = NULL;
    float *Etr = NULL, *Ete = NULL, *times = NULL;
    eval_row rows[70] = {0};
    int nrows = 0, rc;
    rc = drl_model_load(&err, model_path, &m);
    if (!rc) rc = drl_model_prepare(&err, m);
    if (!rc) rc = drl_dataset_load_fmnist(&err, "train", max_train, &tr);
    if (!rc) rc = drl_dataset_load_fmnist(&err, "test", max_test, &te);
    if (!rc && auto_c && tr->N < 12)
        rc = drl_errf(&err, DRL_EINVAL, "--probe-c auto needs at least 12 training images");
    if (!rc && (tr->C != m->cfg.C || tr->H != m->cfg.H || tr->W != m->cfg.W))
        rc = drl_errf(&err, DRL_EINVAL, "the model expects %dx%dx%d images, Fashion-MNIST is 1x28x28", m->cfg.C, m->cfg.H, m->cfg.W);
    int Kt = m && m->cfg.time_cond ? K : 1, d = m ? m->cfg.latent_dim : 0;
    if (!rc) {
        times = malloc((size_t)Kt * sizeof(float));
        Etr = malloc(tr->N * (size_t)Kt * d * sizeof(float));
        Ete = malloc(te->N * (size_t)Kt * d * sizeof(float));
        if (!times || !Etr || !Ete) rc = drl_errf(&err, DRL_ENOMEM, "out of memory");
    }
    if (!rc) {
        for (int k = 0; k < Kt; k++)
            times[k] = Kt > 1 ? m->cfg.t_min + (m->cfg.t_max - m->cfg.t_min) * k / (Kt - 1) : m->cfg.t_min;
        clock_t c0 = clock();
        rc = drl_model_embed_all(&err, m, m->params.data, tr->images, tr->N, m->cfg.time_cond ? times : NULL,
                                 m->cfg.time_cond ? Kt : 0, 256, Etr);
        if (!rc) rc = drl_model_embed_all(&err, m, m->params.data, te->images, te->N, m->cfg.time_cond ? times : NULL,
                                          m->cfg.time_cond ? Kt : 0, 256, Ete);
        if (!as_json) fprintf(stderr, "drl eval: embedded %zu + %zu images (%.1f s CPU)\n", tr->N, te->N,
                              (double)(clock() - c0) / CLOCKS_PER_SEC);
    }
    if (!rc && pixels) {
        int D = tr->C * tr->H * tr->W;
        rc = evaluate(&err, &pc, auto_c, "raw pixels", tr->images, tr->labels, tr->N, te->images, te->labels, te->N, D, runs, &rows[nrows++]);
    }
    if (!rc) {
        size_t row = (size_t)Kt * d;
        if (Kt == 1) {
            rc = evaluate(&err, &pc, auto_c, "model", Etr, tr->labels, tr->N, Ete, te->labels, te->N, d, runs, &rows[nrows++]);
        } else {
            float *A = malloc(tr->N * (size_t)d * sizeof(float)), *Bt = malloc(te->N * (size_t)d * sizeof(float));
            if (!A || !Bt) rc = drl_errf(&err, DRL_ENOMEM, "out of memory");
            for (int k = 0; k < Kt && !rc; k++) {
                for (size_t i = 0; i < tr->N; i++) memcpy(A + i * d, Etr + i * row + (size_t)k * d, (size_t)d * sizeof(float));
                for (size_t i = 0; i < te->N; i++) memcpy(Bt + i * d, Ete + i * row + (size_t)k * d, (size_t)d * sizeof(float));
                char name[64];
                snprintf(name, sizeof name, "model, t = %.3g", times[k]);
                rc = evaluate(&err, &pc, auto_c, name, A, tr->labels, tr->N, Bt, te->labels, te->N, d, runs, &rows[nrows++]);
            }
            free(A), free(Bt);
            if (!rc) rc = evaluate(&err, &pc, auto_c, "model, trajectory", Etr, tr->labels, tr->N, Ete, te->labels, te->N, (int)row, runs, &rows[nrows++]);
        }
    }
    if (!rc) {
        if (as_json) {
            json_t *o = json_pack("{s:s, s:I, s:I, s:i, s:f, s:b, s:s}", "model", model_path, "train", (json_int_t)tr->N,
                                  "test", (json_int_t)te->N, "runs", runs, "probe_c", (double)probe_c,
                                  "probe_c_auto", auto_c, "probe_solver", solver == DRL_PROBE_LBFGS ? "lbfgs" : "newton");
            json_t *arr = json_array();
            for (int i = 0; i < nrows; i++)
                json_array_append_new(arr, json_pack("{s:s, s:f, s:f, s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:i, s:i}", "representation", rows[i].name,
                                                     "linear", rows[i].linear, "linear_c", short_decimal(rows[i].linear_c),
                                                     "linear_stop", drl_probe_stop_name(rows[i].linear_stop), /* how its fit ended */
                                                     "linear_iters", rows[i].linear_iters, "linear_grad_max", (double)rows[i].linear_grad,
                                                     "labels_100_c", short_decimal(rows[i].few100_c),
                                                     "labels_1000_c", short_decimal(rows[i].few1000_c),
                                                     "labels_100", rows[i].few100,
                                                     "labels_100_std", rows[i].few100_sd, "labels_1000", rows[i].few1000,
                                                     "labels_1000_std", rows[i].few1000_sd,
                                                     "labels_100_runs", runs_json(rows[i].few100 >= 0 ? rows[i].few100_runs : NULL, runs),
                                                     "labels_1000_runs", runs_json(rows[i].few1000 >= 0 ? rows[i].few1000_runs : NULL, runs),
                                                     "labels_100_capped", rows[i].few100_capped, /* runs at the iteration cap */
                                                     "labels_1000_capped", rows[i].few1000_capped));
            json_object_set_new(o, "results", arr);
            char *s = json_dumps(o, JSON_INDENT(2));
            puts(s);
            free(s);
            json_decref(o);
        } else {
            printf("%-24s %8s %14s %14s%s\n", "representation", "linear", "100 labels", "1000 labels",
                   auto_c ? "   C: linear, 100, 1000 (median)" : "");
            for (int i = 0; i < nrows; i++) {
                printf("%-24s %7.2f%% %7.2f ± %4.2f %7.2f ± %4.2f", rows[i].name, 100 * rows[i].linear,
                       100 * rows[i].few100, 100 * rows[i].few100_sd, 100 * rows[i].few1000, 100 * rows[i].few1000_sd);
                if (auto_c) printf("   %g, %g, %g", rows[i].linear_c, rows[i].few100_c, rows[i].few1000_c);
                putchar('\n');
            }
        }
    }
    for (int i = 0; i < nrows; i++) free(rows[i].few100_runs), free(rows[i].few1000_runs);
    free(Etr), free(Ete), free(times);
    drl_dataset_free(tr);
    drl_dataset_free(te);
    drl_model_free(m);
    return rc ? drl_cli_fail("eval", &err) : DRL_EXIT_OK;
}
