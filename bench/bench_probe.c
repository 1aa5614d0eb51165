/* bench_probe.c — the linear probe's solvers on real embeddings: time, iterations, how each fit
 * ended, the objective it reached (recomputed in double) and test accuracy. bench/probe.sh puts
 * these beside scikit-learn's LogisticRegression on the same standardised features.
 * usage: bench_probe --train X.npy --train-labels L.idx[.gz] --test X.npy --test-labels L.idx[.gz]
 *                    [--c C] [--solver newton|lbfgs|both] [--iters N] [--threads N] [--max-n N]
 * Prints one JSON object per solver. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "idx.h"
#include "npy.h"
#include "probe.h"
#include "threads.h"

/* (1/N) Σ xent(W xs_i + b, y_i) + (l2 / 2N) ‖W‖² of the fit, in double, on its own
 * standardisation — the objective every solver minimises. */
static double objective(const drl_probe *p, const float *X, const int *y, size_t N, float l2) {
    const int D = p->D, K = p->K;
    double f = 0, lg[64], *xs = malloc((size_t)D * sizeof(double));
    if (!xs || K > 64) {
        free(xs);
        return NAN;
    }
    for (size_t i = 0; i < N; i++) {
        for (int d = 0; d < D; d++) xs[d] = ((double)X[i * D + d] - p->mu[d]) / p->sd[d];
        double mx = -1e300, z = 0;
        for (int k = 0; k < K; k++) {
            lg[k] = p->b[k];
            for (int d = 0; d < D; d++) lg[k] += (double)p->W[(size_t)k * D + d] * xs[d];
            mx = fmax(mx, lg[k]);
        }
        for (int k = 0; k < K; k++) z += exp(lg[k] - mx);
        f += mx + log(z) - lg[y[i]];
    }
    double r = 0;
    for (size_t j = 0; j < (size_t)K * D; j++) r += (double)p->W[j] * p->W[j];
    free(xs);
    return f / (double)N + 0.5 * l2 / (double)N * r;
}

static int *labels(drl_err *err, const char *path, size_t n) {
    drl_idx *idx = NULL;
    if (drl_idx_load(err, path, 0, &idx)) return NULL;
    int *y = NULL;
    if (idx->count < n) {
        snprintf(err->msg, sizeof err->msg, "%s: %zu labels for %zu rows", path, idx->count, n);
    } else if ((y = malloc(n * sizeof(int)))) {
        for (size_t i = 0; i < n; i++) y[i] = (int)idx->data[i];
    }
    drl_idx_free(idx);
    return y;
}

int main(int argc, char **argv) {
    const char *tr = NULL, *trl = NULL, *te = NULL, *tel = NULL, *solver = "both";
    float C = 1.0f;
    int iters = 1000, threads = 1;
    size_t max_n = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--train")) tr = v;
        else if (!strcmp(a, "--train-labels")) trl = v;
        else if (!strcmp(a, "--test")) te = v;
        else if (!strcmp(a, "--test-labels")) tel = v;
        else if (!strcmp(a, "--c")) C = strtof(v, NULL);
        else if (!strcmp(a, "--solver")) solver = v;
        else if (!strcmp(a, "--iters")) iters = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--max-n")) max_n = strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "bench_probe: unknown option %s\n", a);
            return 2;
        }
    }
    if (!tr || !trl || !te || !tel || !(C > 0) || iters < 1 || threads < 1) {
        fprintf(stderr, "usage: bench_probe --train X.npy --train-labels L.idx --test X.npy --test-labels L.idx "
                        "[--c C] [--solver newton|lbfgs|both] [--iters N] [--threads N] [--max-n N]\n");
        return 2;
    }
    drl_threads_set(threads);
    drl_err err = {0};
    float *Xtr = NULL, *Xte = NULL;
    int *ytr = NULL, *yte = NULL, rc = 1;
    size_t Ntr, Nte, D, Dte;
    if (drl_npy_read(&err, tr, &Xtr, &Ntr, &D) || drl_npy_read(&err, te, &Xte, &Nte, &Dte)) goto out;
    if (D != Dte) {
        snprintf(err.msg, sizeof err.msg, "train has %zu columns, test %zu", D, Dte);
        goto out;
    }
    if (max_n && max_n < Ntr) Ntr = max_n;
    if (!(ytr = labels(&err, trl, Ntr)) || !(yte = labels(&err, tel, Nte))) goto out;
    for (int s = 0; s < 2; s++) {
        const char *name = s ? "lbfgs" : "newton";
        if (strcmp(solver, "both") && strcmp(solver, name)) continue;
        drl_probe_cfg cfg = drl_probe_defaults();
        cfg.l2 = 1.0f / C;
        cfg.iters = iters;
        cfg.solver = s ? DRL_PROBE_LBFGS : DRL_PROBE_NEWTON;
        drl_probe *p = NULL;
        const double t0 = drl_clock_now_s();
        if (drl_probe_fit(&err, &cfg, Xtr, ytr, Ntr, (int)D, 10, &p)) goto out;
        const double secs = drl_clock_now_s() - t0;
        printf("{\"solver\": \"%s\", \"c\": %g, \"threads\": %d, \"n\": %zu, \"d\": %zu, \"seconds\": %.3f, "
               "\"iters\": %d, \"cg_iters\": %d, \"stop\": \"%s\", \"grad_max\": %.3e, \"objective\": %.12f, "
               "\"test_acc\": %.6f}\n",
               name, (double)C, threads, Ntr, D, secs, p->iters, p->cg_iters, drl_probe_stop_name(p->stop),
               (double)p->grad_max, objective(p, Xtr, ytr, Ntr, cfg.l2), drl_probe_accuracy(p, Xte, yte, Nte));
        fflush(stdout);
        drl_probe_free(p);
    }
    rc = 0;
out:
    if (rc) fprintf(stderr, "bench_probe: %s\n", err.msg);
    free(Xtr), free(Xte), free(ytr), free(yte);
    return rc;
}
