/* probe.c — multinomial logistic regression probes (see probe.h). */
#include "probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linear.h"
#include "loss.h"
#include "rng.h"

drl_probe_cfg drl_probe_defaults(void) {
    drl_probe_cfg c = {1.0f, 500, 0.05f};
    return c;
}

void drl_probe_free(drl_probe *p) {
    if (!p) return;
    free(p->mu);
    free(p->sd);
    free(p->W);
    free(p->b);
    free(p);
}

static void standardise(const drl_probe *p, const float *X, size_t N, float *out) {
    for (size_t i = 0; i < N; i++)
        for (int d = 0; d < p->D; d++)
            out[i * p->D + d] = (X[i * p->D + d] - p->mu[d]) / p->sd[d];
}

int drl_probe_fit(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y, size_t N,
                  int D, int K, drl_probe **out) {
    *out = NULL;
    if (N < 1 || D < 1 || K < 2) return drl_errf(err, DRL_EINVAL, "probe: need N >= 1, D >= 1, K >= 2");
    if (N > (size_t)INT32_MAX) return drl_errf(err, DRL_ELIMIT, "probe: too many rows");
    for (size_t i = 0; i < N; i++)
        if (y[i] < 0 || y[i] >= K) return drl_errf(err, DRL_EINVAL, "probe: label %d of row %zu not in [0, %d)", y[i], i, K);
    drl_probe *p = calloc(1, sizeof *p);
    size_t nd = N * (size_t)D, nk = N * (size_t)K, kd = (size_t)K * D;
    float *Xs = malloc(nd * sizeof(float)), *logits = malloc(nk * sizeof(float)), *dlog = malloc(nk * sizeof(float));
    float *gW = malloc(kd * sizeof(float)), *gb = malloc((size_t)K * sizeof(float));
    float *mW = calloc(kd, sizeof(float)), *vW = calloc(kd, sizeof(float));
    float *mb = calloc((size_t)K, sizeof(float)), *vb = calloc((size_t)K, sizeof(float));
    int rc = 0;
    if (!p || !Xs || !logits || !dlog || !gW || !gb || !mW || !vW || !mb || !vb) {
        rc = drl_errf(err, DRL_ENOMEM, "probe: out of memory");
        goto done;
    }
    p->D = D, p->K = K;
    p->mu = calloc((size_t)D, sizeof(float));
    p->sd = calloc((size_t)D, sizeof(float));
    p->W = calloc(kd, sizeof(float));
    p->b = calloc((size_t)K, sizeof(float));
    if (!p->mu || !p->sd || !p->W || !p->b) {
        rc = drl_errf(err, DRL_ENOMEM, "probe: out of memory");
        goto done;
    }
    for (int d = 0; d < D; d++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < N; i++) s += X[i * D + d];
        double m = s / N;
        for (size_t i = 0; i < N; i++) s2 += (X[i * D + d] - m) * (X[i * D + d] - m);
        double sd = sqrt(s2 / N);
        p->mu[d] = (float)m;
        p->sd[d] = sd > 1e-6 ? (float)sd : 1.0f;
    }
    standardise(p, X, N, Xs);
    /* Full-batch Adam on a convex objective, step decayed as 1/sqrt(1 + it/50). */
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    float l2n = cfg->l2 / (float)N;
    for (int it = 0; it < cfg->iters; it++) {
        drl_linear_forward(logits, Xs, p->W, p->b, (int)N, D, K);
        drl_xent_loss(dlog, NULL, logits, y, (int)N, K);
        memset(gW, 0, kd * sizeof(float));
        memset(gb, 0, (size_t)K * sizeof(float));
        drl_linear_backward(NULL, gW, gb, dlog, Xs, p->W, (int)N, D, K);
        for (size_t j = 0; j < kd; j++) gW[j] += l2n * p->W[j];
        float lr = cfg->lr / sqrtf(1.0f + it / 50.0f);
        float c1 = 1.0f - powf(b1, (float)(it + 1)), c2 = 1.0f - powf(b2, (float)(it + 1));
        for (size_t j = 0; j < kd; j++) {
            mW[j] = b1 * mW[j] + (1 - b1) * gW[j];
            vW[j] = b2 * vW[j] + (1 - b2) * gW[j] * gW[j];
            p->W[j] -= lr * (mW[j] / c1) / (sqrtf(vW[j] / c2) + eps);
        }
        for (int k = 0; k < K; k++) {
            mb[k] = b1 * mb[k] + (1 - b1) * gb[k];
            vb[k] = b2 * vb[k] + (1 - b2) * gb[k] * gb[k];
            p->b[k] -= lr * (mb[k] / c1) / (sqrtf(vb[k] / c2) + eps);
        }
    }
done:
    free(Xs), free(logits), free(dlog), free(gW), free(gb), free(mW), free(vW), free(mb), free(vb);
    if (rc) drl_probe_free(p);
    else *out = p;
    return rc;
}

void drl_probe_predict(const drl_probe *p, const float *X, size_t N, int *pred) {
    float *xs = malloc((size_t)p->D * sizeof(float)), *lg = malloc((size_t)p->K * sizeof(float));
    if (!xs || !lg) {
        free(xs), free(lg);
        for (size_t i = 0; i < N; i++) pred[i] = -1;
        return;
    }
    for (size_t i = 0; i < N; i++) {
        standardise(p, X + i * p->D, 1, xs);
        drl_linear_forward(lg, xs, p->W, p->b, 1, p->D, p->K);
        int best = 0;
        for (int k = 1; k < p->K; k++)
            if (lg[k] > lg[best]) best = k;
        pred[i] = best;
    }
    free(xs), free(lg);
}

double drl_probe_accuracy(const drl_probe *p, const float *X, const int *y, size_t N) {
    int *pred = malloc((N ? N : 1) * sizeof(int));
    if (!pred) return NAN;
    drl_probe_predict(p, X, N, pred);
    size_t ok = 0;
    for (size_t i = 0; i < N; i++) ok += pred[i] == y[i];
    free(pred);
    return N ? (double)ok / N : 0.0;
}

int drl_probe_few_label(drl_err *err, const drl_probe_cfg *cfg, const float *Xtr, const int *ytr,
                        size_t Ntr, const float *Xte, const int *yte, size_t Nte, int D, int K,
                        size_t per_run, int runs, uint64_t seed, double *mean, double *std) {
    if (per_run < 2 || per_run > Ntr || runs < 1)
        return drl_errf(err, DRL_EINVAL, "probe: few-label run of %zu from %zu rows", per_run, Ntr);
    uint32_t *idx = malloc(Ntr * sizeof(uint32_t));
    float *Xs = malloc(per_run * (size_t)D * sizeof(float));
    int *ys = malloc(per_run * sizeof(int));
    double s = 0, s2 = 0;
    int rc = 0;
    if (!idx || !Xs || !ys) {
        rc = drl_errf(err, DRL_ENOMEM, "probe: out of memory");
        goto done;
    }
    for (int r = 0; r < runs && !rc; r++) {
        drl_rng rng;
        drl_rng_stream(&rng, seed, (uint64_t)r);
        for (size_t i = 0; i < Ntr; i++) idx[i] = (uint32_t)i;
        drl_rng_shuffle(&rng, idx, Ntr);
        for (size_t i = 0; i < per_run; i++) {
            memcpy(Xs + i * D, Xtr + (size_t)idx[i] * D, (size_t)D * sizeof(float));
            ys[i] = ytr[idx[i]];
        }
        drl_probe *p = NULL;
        rc = drl_probe_fit(err, cfg, Xs, ys, per_run, D, K, &p);
        if (rc) break;
        double a = drl_probe_accuracy(p, Xte, yte, Nte);
        drl_probe_free(p);
        s += a;
        s2 += a * a;
    }
    if (!rc) {
        *mean = s / runs;
        if (std) *std = runs > 1 ? sqrt(fmax(0.0, (s2 - s * s / runs) / (runs - 1))) : 0.0;
    }
done:
    free(idx), free(Xs), free(ys);
    return rc;
}
