/* probe.c — multinomial logistic regression probes (see probe.h). */
#include "probe.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linear.h"
#include "loss.h"
#include "rng.h"

const char *drl_probe_stop_name(int stop) {
    return stop == DRL_PROBE_TOL ? "tolerance" : stop == DRL_PROBE_FLAT ? "flat" : "iteration cap";
}

drl_probe_cfg drl_probe_defaults(void) {
    drl_probe_cfg c = {1.0f, 1000, 1e-6f, DRL_PROBE_NEWTON, NULL};
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

/* One fit's problem: standardised rows Xs (N, D), labels y, and the weight of the penalty. */
typedef struct {
    const float *Xs;
    const int *y;
    size_t N;
    int D, K;
    float l2;
} problem;

/* The objective at theta = [W (K, D) | b (K)] on standardised rows Xs: returns
 * f = (1/N) Σ xent(W x_i + b, y_i) + (l2 / 2N) ‖W‖² and writes its gradient to g and the softmax
 * of each row to probs (N, K; may be NULL). The sums are in double (drl_xent_loss too) so that
 * the solvers can see decreases near the optimum. Scratch: logits and dlog, (N, K) each. */
static double objective(const problem *pb, const float *theta, float *logits, float *dlog, float *probs,
                        float *g) {
    const int D = pb->D, K = pb->K;
    const size_t kd = (size_t)K * D;
    const float *W = theta, *b = theta + kd;
    drl_linear_forward(logits, pb->Xs, W, b, (int)pb->N, D, K);
    double f = drl_xent_loss(dlog, probs, logits, pb->y, (int)pb->N, K);
    memset(g, 0, (kd + (size_t)K) * sizeof(float));
    drl_linear_backward(NULL, g, g + kd, dlog, pb->Xs, W, (int)pb->N, D, K);
    double r = 0;
    for (size_t j = 0; j < kd; j++) {
        r += (double)theta[j] * theta[j];
        g[j] += pb->l2 / (float)pb->N * theta[j];
    }
    return f + 0.5 * pb->l2 / (double)pb->N * r;
}

/* hv = H v, the Hessian of the objective at the point whose row softmaxes are probs, times
 * v = [V (K, D) | vb (K)]: per row, the logits move by u = V x + vb and the softmax's Jacobian
 * gives q = (p ⊙ u − p (p · u)) / N, so H v = [q^T Xs + (l2 / N) V | Σ q]. Scratch: u and q,
 * (N, K) each. Two matrix products, the cost of one gradient. */
static void hess_vec(const problem *pb, const float *probs, const float *v, float *u, float *q, float *hv) {
    const int D = pb->D, K = pb->K;
    const size_t kd = (size_t)K * D, N = pb->N;
    drl_linear_forward(u, pb->Xs, v, v + kd, (int)N, D, K);
    for (size_t i = 0; i < N; i++) {
        const float *p = probs + i * K, *ui = u + i * K;
        double pu = 0;
        for (int k = 0; k < K; k++) pu += (double)p[k] * ui[k];
        for (int k = 0; k < K; k++) q[i * K + k] = (float)(p[k] * (ui[k] - pu) / (double)N);
    }
    memset(hv, 0, (kd + (size_t)K) * sizeof(float));
    drl_linear_backward(NULL, hv, hv + kd, q, pb->Xs, v, (int)N, D, K);
    for (size_t j = 0; j < kd; j++) hv[j] += pb->l2 / (float)N * v[j];
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static float max_abs(const float *a, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(a[i]) <= m)) m = fabsf(a[i]); /* NaN propagates */
    return m;
}

/* x = [p->W | p->b], where a solver starts (zero, or a warm start). */
static void start_point(const drl_probe *p, float *x) {
    memcpy(x, p->W, (size_t)p->K * p->D * sizeof(float));
    memcpy(x + (size_t)p->K * p->D, p->b, (size_t)p->K * sizeof(float));
}

/* Limited-memory BFGS (history PROBE_M) with a backtracking Armijo line search, from theta =
 * [p->W | p->b] (zero, or a warm start), until max |gradient| <= cfg->tol, cfg->iters
 * iterations, or no further decrease can be resolved. The objective is strictly convex (l2 > 0),
 * so this reaches its minimum. */
enum { PROBE_M = 10 };
static int lbfgs(drl_err *err, const drl_probe_cfg *cfg, drl_probe *p, const problem *pb, float *logits,
                 float *dlog, float *g) {
    const int D = p->D, K = p->K;
    size_t kd = (size_t)K * D, n = kd + (size_t)K;
    float *x = malloc(n * sizeof(float)), *xn = malloc(n * sizeof(float)), *gn = malloc(n * sizeof(float));
    float *d = malloc(n * sizeof(float)), *S = malloc(PROBE_M * n * sizeof(float));
    float *Y = malloc(PROBE_M * n * sizeof(float));
    double rho[PROBE_M], a[PROBE_M];
    if (!x || !xn || !gn || !d || !S || !Y) {
        free(x), free(xn), free(gn), free(d), free(S), free(Y);
        return drl_errf(err, DRL_ENOMEM, "probe: out of memory");
    }
    start_point(p, x);
    double f = objective(pb, x, logits, dlog, NULL, g);
    int hist = 0, head = 0; /* pairs stored, and the slot the next one goes to */
    int it = 0, flat = 0;
    for (; it < cfg->iters && max_abs(g, n) > cfg->tol; it++) {
        /* d = -H g by the two-loop recursion over the stored (s, y) pairs, newest first */
        for (size_t j = 0; j < n; j++) d[j] = -g[j];
        for (int h = 0; h < hist; h++) {
            int s = (head - 1 - h + PROBE_M) % PROBE_M;
            a[s] = rho[s] * dot(S + s * n, d, n);
            for (size_t j = 0; j < n; j++) d[j] -= (float)a[s] * Y[s * n + j];
        }
        double step = 1.0;
        if (hist > 0) {
            int s = (head - 1 + PROBE_M) % PROBE_M;
            double gamma = 1.0 / (rho[s] * dot(Y + s * n, Y + s * n, n));
            for (size_t j = 0; j < n; j++) d[j] *= (float)gamma;
        } else {
            step = 1.0 / sqrt(dot(g, g, n)); /* first step: unit length along -g */
        }
        for (int h = hist - 1; h >= 0; h--) {
            int s = (head - 1 - h + PROBE_M) % PROBE_M;
            double bb = rho[s] * dot(Y + s * n, d, n);
            for (size_t j = 0; j < n; j++) d[j] += (float)(a[s] - bb) * S[s * n + j];
        }
        double gd = dot(g, d, n);
        if (!(gd < 0)) { /* not a descent direction (rounding): restart from steepest descent */
            hist = 0;
            for (size_t j = 0; j < n; j++) d[j] = -g[j];
            gd = -dot(g, g, n);
            step = 1.0 / sqrt(-gd);
        }
        double fn = f;
        int ok = 0;
        for (int ls = 0; ls < 40 && !ok; ls++, step *= 0.5) {
            for (size_t j = 0; j < n; j++) xn[j] = x[j] + (float)step * d[j];
            fn = objective(pb, xn, logits, dlog, NULL, gn);
            ok = fn <= f + 1e-4 * step * gd;
        }
        if (!ok && hist > 0) { /* a stale curvature model: retry along -g before giving up */
            hist = 0;
            it--;
            continue;
        }
        if (!ok) { /* no decrease left that float arithmetic can resolve */
            flat = 1;
            break;
        }
        float *s = S + head * n, *yv = Y + head * n;
        for (size_t j = 0; j < n; j++) s[j] = xn[j] - x[j], yv[j] = gn[j] - g[j];
        double sy = dot(s, yv, n);
        if (sy > 1e-12 * dot(yv, yv, n) && sy > 0) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % PROBE_M;
            hist += hist < PROBE_M;
        }
        memcpy(x, xn, n * sizeof(float));
        memcpy(g, gn, n * sizeof(float));
        if (f - fn <= 1e-12 * fmax(1.0, fabs(f))) { /* converged to float resolution */
            flat = 1;
            break;
        }
        f = fn;
    }
    memcpy(p->W, x, kd * sizeof(float));
    memcpy(p->b, x + kd, (size_t)K * sizeof(float));
    p->iters = it;
    p->grad_max = max_abs(g, n); /* g is the gradient at x throughout */
    p->stop = p->grad_max <= cfg->tol ? DRL_PROBE_TOL : flat ? DRL_PROBE_FLAT : DRL_PROBE_CAP;
    free(x), free(xn), free(gn), free(d), free(S), free(Y);
    return 0;
}

/* The Newton solver's preconditioner: the Hessian's diagonal blocks, one per class k over its
 * D + 1 parameters [W_k | b_k],
 *   B_k = (1/n) Σ_i p_ik (1 − p_ik) [x_i; 1][x_i; 1]^T + (l2 / N) on W_k's diagonal,
 * over n <= PRECOND_ROWS rows spread evenly over the N, Cholesky-factored in double, projected
 * onto the zero-sum subspace of the classes. It takes in the correlation of the features — what
 * makes the problem ill-conditioned at large C, where CG alone needs hundreds of steps per Newton
 * iteration — and leaves the coupling between classes to CG. With fewer than 4 (D + 1) rows (the
 * few-label fits) a block says little and costs (D + 1)³: only its diagonal is used. */
enum { PRECOND_ROWS = 8192 };
typedef struct {
    int D1, K, full;
    size_t n;
    double *L; /* full: K lower-triangular factors (D1, D1); else K diagonals (D1) */
    float *Z;  /* (n, D1) scratch: the weighted rows */
    float *G;  /* (D1, D1) scratch */
    double *v; /* (D1) scratch */
} precond;

static void precond_free(precond *m) { free(m->L), free(m->Z), free(m->G), free(m->v); }

static int precond_init(precond *m, const problem *pb) {
    m->D1 = pb->D + 1, m->K = pb->K;
    m->n = pb->N < PRECOND_ROWS ? pb->N : PRECOND_ROWS;
    m->full = pb->N >= 4 * (size_t)m->D1;
    const size_t d1 = (size_t)m->D1;
    m->L = malloc((size_t)m->K * d1 * (m->full ? d1 : 1) * sizeof(double));
    m->Z = m->full ? malloc(m->n * d1 * sizeof(float)) : NULL;
    m->G = m->full ? malloc(d1 * d1 * sizeof(float)) : NULL;
    m->v = malloc(d1 * sizeof(double));
    return m->L && m->v && (!m->full || (m->Z && m->G));
}

/* L L^T = A (n x n, lower triangle read, double) in place; 0 if A is not positive definite.
 * Blocked (left-looking, CHOL_NB columns at a time) so that the bulk is BLAS-3. */
enum { CHOL_NB = 64 };
static int cholesky(double *A, int n) {
    for (int j0 = 0; j0 < n; j0 += CHOL_NB) {
        const int jb = n - j0 < CHOL_NB ? n - j0 : CHOL_NB;
        double *Ajj = A + (size_t)j0 * n + j0;
        if (j0 > 0) /* the diagonal block less the columns already done */
            cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, jb, j0, -1.0, A + (size_t)j0 * n, n, 1.0, Ajj, n);
        for (int j = 0; j < jb; j++) { /* unblocked inside the diagonal block */
            double *aj = Ajj + (size_t)j * n, djj = aj[j];
            for (int k = 0; k < j; k++) djj -= aj[k] * aj[k];
            if (!(djj > 0)) return 0;
            aj[j] = sqrt(djj);
            for (int i = j + 1; i < jb; i++) {
                double *ai = Ajj + (size_t)i * n, v = ai[j];
                for (int k = 0; k < j; k++) v -= ai[k] * aj[k];
                ai[j] = v / aj[j];
            }
        }
        const int rest = n - j0 - jb;
        if (rest > 0) { /* the panel below: less the columns done, then times L_jj^{-T} */
            double *Apj = A + (size_t)(j0 + jb) * n + j0;
            if (j0 > 0)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rest, jb, j0, -1.0, A + (size_t)(j0 + jb) * n, n,
                            A + (size_t)j0 * n, n, 1.0, Apj, n);
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, rest, jb, 1.0, Ajj, n, Apj, n);
        }
    }
    return 1;
}

/* x = (L L^T)^{-1} b for a lower-triangular L (n, n); x may be b. */
static void chol_solve(const double *L, int n, const double *b, double *x) {
    const size_t ns = (size_t)n;
    for (int i = 0; i < n; i++) {
        double t = b[i];
        for (int j = 0; j < i; j++) t -= L[i * ns + j] * x[j];
        x[i] = t / L[i * ns + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double t = x[i];
        for (int j = i + 1; j < n; j++) t -= L[j * ns + i] * x[j];
        x[i] = t / L[i * ns + i];
    }
}

/* The blocks at the point whose row softmaxes are probs. */
static void precond_build(precond *m, const problem *pb, const float *probs) {
    const int D = pb->D, D1 = m->D1;
    const size_t d1 = (size_t)D1;
    if (!m->full) {
        for (int k = 0; k < m->K; k++) {
            double *dg = m->L + (size_t)k * d1, mean = 0;
            memset(dg, 0, d1 * sizeof(double));
            for (size_t j = 0; j < m->n; j++) {
                const size_t i = j * pb->N / m->n;
                const double pk = probs[i * pb->K + k], w = pk * (1.0 - pk) / (double)m->n;
                for (int d = 0; d < D; d++) dg[d] += w * pb->Xs[i * D + d] * pb->Xs[i * D + d];
                dg[D] += w;
            }
            for (int d = 0; d < D1; d++) mean += dg[d] / D1;
            for (int d = 0; d < D1; d++) dg[d] += (d < D ? pb->l2 / (double)pb->N : 0.0) + 1e-6 * mean + 1e-30;
        }
        return;
    }
    for (int k = 0; k < m->K; k++) {
        for (size_t j = 0; j < m->n; j++) {
            const size_t i = j * pb->N / m->n;
            const float pk = probs[i * pb->K + k], w = sqrtf(pk * (1.0f - pk));
            float *z = m->Z + j * d1;
            for (int d = 0; d < D; d++) z[d] = w * pb->Xs[i * D + d];
            z[D] = w;
        }
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, D1, (int)m->n, 1.0f / (float)m->n, m->Z, D1, 0.0f,
                    m->G, D1);
        double *L = m->L + (size_t)k * d1 * d1, mean = 0;
        for (int d = 0; d < D1; d++) mean += m->G[d * d1 + d] / D1;
        for (int r = 0; r < D1; r++)
            for (int c = 0; c <= r; c++) L[r * d1 + c] = m->G[r * d1 + c];
        /* the penalty, and a relative jitter that keeps the factorisation defined in float */
        const double jitter = 1e-6 * mean + 1e-30;
        for (int d = 0; d < D1; d++) L[d * d1 + d] += (d < D ? pb->l2 / (double)pb->N : 0.0) + jitter;
        if (!cholesky(L, D1)) { /* not positive definite after all: this block is left a scaled identity */
            memset(L, 0, d1 * d1 * sizeof(double));
            for (int d = 0; d < D1; d++) L[d * d1 + d] = sqrt(mean + pb->l2 / (double)pb->N + 1e-30);
        }
    }
}

/* z = B^{-1} r, block by block (r and z in the [W (K, D) | b (K)] layout; may not alias). */
static void precond_apply(const precond *m, const float *r, float *z) {
    const int D = m->D1 - 1, D1 = m->D1, K = m->K;
    const size_t d1 = (size_t)D1;
    double *v = m->v;
    for (int k = 0; k < K && !m->full; k++) {
        const double *dg = m->L + (size_t)k * d1;
        for (int d = 0; d < D; d++) z[(size_t)k * D + d] = (float)(r[(size_t)k * D + d] / dg[d]);
        z[(size_t)K * D + k] = (float)(r[(size_t)K * D + k] / dg[D]);
    }
    for (int k = 0; k < K && m->full; k++) {
        for (int d = 0; d < D; d++) v[d] = r[(size_t)k * D + d];
        v[D] = r[(size_t)K * D + k];
        chol_solve(m->L + (size_t)k * d1 * d1, D1, v, v);
        for (int d = 0; d < D; d++) z[(size_t)k * D + d] = (float)v[d];
        z[(size_t)K * D + k] = (float)v[D];
    }
    /* onto the classes' zero-sum subspace, where the iterates stay */
    for (int d = 0; d <= D; d++) {
        float *zd = d < D ? z + d : z + (size_t)K * D;
        const size_t stride = d < D ? (size_t)D : 1;
        double mean = 0;
        for (int k = 0; k < K; k++) mean += zd[k * stride];
        mean /= K;
        for (int k = 0; k < K; k++) zd[k * stride] -= (float)mean;
    }
}

/* Truncated Newton with a backtracking line search (the method liblinear adopted in place of
 * its trust region, Galli & Lin 2021), from theta = [p->W | p->b] (zero, or a warm start), until
 * max |gradient| <= cfg->tol, cfg->iters Newton iterations, or no decrease float arithmetic
 * resolves. Each iteration solves H s = -g approximately by preconditioned CG, one
 * Hessian-vector product (the cost of a gradient) per step, stopped by the decrease of the
 * quadratic model q(s) = g·s + ½ s·Hs: once step j gains less than tol_cg / j of q so far
 * (tol_cg = min(0.5, ‖g‖_{B⁻¹}^½): loose far away, tight near the minimum, where the iterations
 * converge superlinearly). Then theta moves by a s, a the first of 1, ½, ¼, ... with
 * f(theta + a s) <= f + 0.01 a g·s; the trials are cheap, since the logits move along the
 * precomputed X s. A trust region (TRON) was used before: on raw pixels its radius, cut by a few
 * poor steps, grew back by a few percent per step — hundreds of iterations.
 * Scratch: logits, dlog (N, K), g (K·D + K). */
static int newton(drl_err *err, const drl_probe_cfg *cfg, drl_probe *p, const problem *pb, float *logits,
                  float *dlog, float *g) {
    const int D = p->D, K = p->K;
    const size_t kd = (size_t)K * D, n = kd + (size_t)K, nk = pb->N * (size_t)K;
    float *x = malloc(n * sizeof(float)), *s = malloc(n * sizeof(float)), *r = malloc(n * sizeof(float));
    float *d = malloc(n * sizeof(float)), *z = malloc(n * sizeof(float)), *hd = malloc(n * sizeof(float));
    float *P = malloc(nk * sizeof(float)), *L = malloc(nk * sizeof(float)), *U = malloc(nk * sizeof(float));
    precond M = {0};
    int rc = 0;
    if (!x || !s || !r || !d || !z || !hd || !P || !L || !U || !precond_init(&M, pb)) {
        rc = drl_errf(err, DRL_ENOMEM, "probe: out of memory");
        goto done;
    }
    start_point(p, x);
    double f = objective(pb, x, L, dlog, P, g); /* L: the logits at x; P: their softmax */
    int it = 0, cg = 0, flat = 0, cg_built = 0;
    const double hv_cost = 4.0 * (double)pb->N * D * K;
    const double build_cost = M.full ? (double)K * M.n * M.D1 * M.D1 : (double)K * M.n * M.D1;
    for (; it < cfg->iters && max_abs(g, n) > cfg->tol; it++) {
        /* The blocks are rebuilt once the CG steps since the last build have cost as much as a
         * build (K n (D+1)² for the Gram matrices against 4 N D K per Hessian-vector product), so
         * at most about half the time goes to them: every iteration for codes, every few tens of
         * CG steps for wide inputs such as raw pixels. */
        if (it == 0 || (double)(cg - cg_built) * hv_cost >= build_cost) {
            precond_build(&M, pb, P);
            cg_built = cg;
        }
        /* s ≈ argmin q(s); r = -g - H s and z = B^{-1} r throughout */
        for (size_t j = 0; j < n; j++) s[j] = 0.0f, r[j] = -g[j];
        precond_apply(&M, r, z);
        memcpy(d, z, n * sizeof(float));
        double rz = dot(r, z, n), q = 0;
        const double cgtol = fmin(0.5, sqrt(sqrt(rz)));
        for (size_t c = 1; c <= n; c++) {
            hess_vec(pb, P, d, logits, dlog, hd);
            cg++;
            const double dhd = dot(d, hd, n);
            if (!(dhd > 0)) break; /* no curvature left that float resolves: keep s */
            const double alpha = rz / dhd;
            for (size_t j = 0; j < n; j++) s[j] += (float)alpha * d[j], r[j] -= (float)alpha * hd[j];
            const double qn = 0.5 * (dot(s, g, n) - dot(s, r, n)), gain = qn - q; /* q(s) = ½ (g·s − r·s) */
            if (!(qn <= 0 && gain <= 0) || (double)c * gain >= cgtol * qn) break;
            q = qn;
            precond_apply(&M, r, z);
            const double rz_new = dot(r, z, n), beta = rz_new / rz;
            for (size_t j = 0; j < n; j++) d[j] = z[j] + (float)beta * d[j];
            rz = rz_new;
        }
        /* the line search: the logits at theta + a s are L + a U; the penalty is a quadratic in a */
        drl_linear_forward(U, pb->Xs, s, s + kd, (int)pb->N, D, K);
        double ww = 0, ws = 0, ss = 0;
        for (size_t j = 0; j < kd; j++)
            ww += (double)x[j] * x[j], ws += (double)x[j] * s[j], ss += (double)s[j] * s[j];
        const double gs = dot(g, s, n), half_l2 = 0.5 * pb->l2 / (double)pb->N;
        double a = 1;
        int ok = 0;
        for (int bt = 0; bt < 40 && gs < 0; bt++, a *= 0.5) {
            for (size_t j = 0; j < nk; j++) logits[j] = L[j] + (float)a * U[j];
            const double fa = drl_xent_loss(NULL, NULL, logits, pb->y, (int)pb->N, K) +
                              half_l2 * (ww + 2 * a * ws + a * a * ss);
            if (fa <= f + 0.01 * a * gs) {
                ok = 1;
                break;
            }
        }
        int moved = 0;
        for (size_t j = 0; j < n && ok; j++) {
            const float xj = x[j] + (float)a * s[j];
            moved |= xj != x[j];
            x[j] = xj;
        }
        if (!moved) { /* no decrease left that float arithmetic can resolve */
            flat = 1;
            it++;
            break;
        }
        const double f_old = f;
        f = objective(pb, x, L, dlog, P, g); /* exact, not L + a U: no drift over the iterations */
        if (f_old - f <= 1e-12 * fmax(1.0, fabs(f))) {
            flat = 1;
            it++;
            break;
        }
    }
    memcpy(p->W, x, kd * sizeof(float));
    memcpy(p->b, x + kd, (size_t)K * sizeof(float));
    p->iters = it;
    p->cg_iters = cg;
    p->grad_max = max_abs(g, n); /* g is the gradient at x throughout */
    p->stop = p->grad_max <= cfg->tol ? DRL_PROBE_TOL : flat ? DRL_PROBE_FLAT : DRL_PROBE_CAP;
done:
    free(x), free(s), free(r), free(d), free(z), free(hd), free(P), free(L), free(U);
    precond_free(&M);
    return rc;
}

/* p's (W, b) = the function of w's, in p's standardisation (mu, sd set): for every x,
 * W' (x − mu') / sd' + b' = W (x − mu) / sd + b, so W'_kd = W_kd sd'_d / sd_d and
 * b'_k = b_k + Σ_d W_kd (mu'_d − mu_d) / sd_d. */
static void warm_start(drl_probe *p, const drl_probe *w) {
    for (int k = 0; k < p->K; k++) {
        double b = w->b[k];
        for (int d = 0; d < p->D; d++) {
            const size_t j = (size_t)k * p->D + d;
            p->W[j] = (float)((double)w->W[j] * p->sd[d] / w->sd[d]);
            b += (double)w->W[j] * ((double)p->mu[d] - w->mu[d]) / w->sd[d];
        }
        p->b[k] = (float)b;
    }
}

int drl_probe_fit(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y, size_t N,
                  int D, int K, drl_probe **out) {
    *out = NULL;
    if (N < 1 || D < 1 || K < 2) return drl_errf(err, DRL_EINVAL, "probe: need N >= 1, D >= 1, K >= 2");
    if (N > (size_t)INT32_MAX) return drl_errf(err, DRL_ELIMIT, "probe: too many rows");
    if (!(cfg->l2 > 0 && isfinite(cfg->l2)) || !(cfg->tol >= 0) || cfg->iters < 0)
        return drl_errf(err, DRL_EINVAL, "probe: need l2 > 0, tol >= 0 and iters >= 0");
    if (cfg->solver != DRL_PROBE_NEWTON && cfg->solver != DRL_PROBE_LBFGS)
        return drl_errf(err, DRL_EINVAL, "probe: unknown solver %d", cfg->solver);
    if (cfg->warm && (cfg->warm->D != D || cfg->warm->K != K))
        return drl_errf(err, DRL_EINVAL, "probe: warm start from a %d x %d probe for a %d x %d one",
                        cfg->warm->K, cfg->warm->D, K, D);
    for (size_t i = 0; i < N * (size_t)D; i++)
        if (!isfinite(X[i])) return drl_errf(err, DRL_EINVAL, "probe: feature %zu of row %zu is not finite", i % (size_t)D, i / (size_t)D);
    for (size_t i = 0; i < N; i++)
        if (y[i] < 0 || y[i] >= K) return drl_errf(err, DRL_EINVAL, "probe: label %d of row %zu not in [0, %d)", y[i], i, K);
    drl_probe *p = calloc(1, sizeof *p);
    size_t nd = N * (size_t)D, nk = N * (size_t)K, kd = (size_t)K * D;
    float *Xs = malloc(nd * sizeof(float)), *logits = malloc(nk * sizeof(float)), *dlog = malloc(nk * sizeof(float));
    float *g = malloc((kd + (size_t)K) * sizeof(float));
    int rc = 0;
    if (!p || !Xs || !logits || !dlog || !g) {
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
    if (cfg->warm) warm_start(p, cfg->warm);
    standardise(p, X, N, Xs);
    const problem pb = {Xs, y, N, D, K, cfg->l2};
    rc = cfg->solver == DRL_PROBE_LBFGS ? lbfgs(err, cfg, p, &pb, logits, dlog, g)
                                        : newton(err, cfg, p, &pb, logits, dlog, g);
done:
    free(Xs), free(logits), free(dlog), free(g);
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

/* A grid of C values must be non-empty, positive, finite and ascending. */
static int check_grid(drl_err *err, const float *grid, int ngrid) {
    if (ngrid < 1 || !grid) return drl_errf(err, DRL_EINVAL, "probe: no values of C to choose from");
    for (int g = 0; g < ngrid; g++) {
        if (!(grid[g] > 0.0f) || !isfinite(grid[g]))
            return drl_errf(err, DRL_EINVAL, "probe: C must be positive and finite");
        if (g > 0 && !(grid[g] > grid[g - 1]))
            return drl_errf(err, DRL_EINVAL, "probe: the values of C must be ascending");
    }
    return 0;
}

/* For each C of grid: fits on rows [0, n_fit) of X and adds the number of rows [n_fit, N)
 * classified correctly to correct[g]. Each fit starts from the previous C's minimiser (from
 * cfg->warm for the first), a few Newton iterations away. fits (may be NULL: they are freed) gets
 * the ngrid probes; on an error the caller frees the non-NULL ones. */
static int score_grid(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y,
                      size_t n_fit, size_t N, int D, int K, const float *grid, int ngrid,
                      double *correct, drl_probe **fits) {
    drl_probe *prev = NULL;
    int rc = 0;
    for (int g = 0; g < ngrid && !rc; g++) {
        drl_probe_cfg c = *cfg;
        c.l2 = 1.0f / grid[g];
        if (prev) c.warm = prev;
        drl_probe *p = NULL;
        rc = drl_probe_fit(err, &c, X, y, n_fit, D, K, &p);
        if (rc) break;
        const double share = drl_probe_accuracy(p, X + n_fit * D, y + n_fit, N - n_fit);
        if (isnan(share)) rc = drl_errf(err, DRL_ENOMEM, "probe: out of memory");
        else correct[g] += (double)llround(share * (double)(N - n_fit)); /* a count: ties stay exact */
        if (fits) fits[g] = p;
        else drl_probe_free(prev);
        prev = p;
    }
    if (!fits) drl_probe_free(prev);
    return rc;
}

/* The C of grid with the most correct predictions (ties: the smaller C); acc (may be NULL) gets
 * correct / n for each. */
static float best_of(const float *grid, int ngrid, const double *correct, size_t n, double *acc) {
    int best = 0;
    for (int g = 0; g < ngrid; g++) {
        if (acc) acc[g] = correct[g] / (double)n;
        if (correct[g] > correct[best]) best = g;
    }
    return grid[best];
}

/* idx = a seeded shuffle of 0 .. N-1. */
static void shuffle_idx(uint64_t seed, uint32_t *idx, size_t N) {
    drl_rng rng;
    drl_rng_seed(&rng, seed);
    for (size_t i = 0; i < N; i++) idx[i] = (uint32_t)i;
    drl_rng_shuffle(&rng, idx, N);
}

int drl_probe_few_label(drl_err *err, const drl_probe_cfg *cfg, const float *Xtr, const int *ytr,
                        size_t Ntr, const float *Xte, const int *yte, size_t Nte, int D, int K,
                        size_t per_run, int runs, uint64_t seed, const drl_probe_cv *cv,
                        double *mean, double *std, float *chosen_c, double *run_acc, int *capped) {
    if (capped) *capped = 0;
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
        drl_probe_cfg c = *cfg;
        if (cv) { /* C by cross-validation on the labelled rows only */
            float best;
            rc = drl_probe_select_c_cv(err, cfg, Xs, ys, per_run, D, K, cv, seed + (uint64_t)r, &best, NULL);
            if (rc) break;
            c.l2 = 1.0f / best;
            if (chosen_c) chosen_c[r] = best;
        } else if (chosen_c) {
            chosen_c[r] = 1.0f / cfg->l2;
        }
        drl_probe *p = NULL;
        rc = drl_probe_fit(err, &c, Xs, ys, per_run, D, K, &p);
        if (rc) break;
        double a = drl_probe_accuracy(p, Xte, yte, Nte);
        if (capped) *capped += p->stop == DRL_PROBE_CAP;
        drl_probe_free(p);
        if (run_acc) run_acc[r] = a;
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

int drl_probe_select_c(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y,
                       size_t N, int D, int K, const float *grid, int ngrid, int patience, int extend,
                       size_t n_val, uint64_t seed, float *best_c, double *val_acc, drl_probe **best_fit) {
    if (best_fit) *best_fit = NULL;
    if (n_val < 1 || n_val >= N)
        return drl_errf(err, DRL_EINVAL, "probe: validation split of %zu from %zu rows", n_val, N);
    if (!best_c) return drl_errf(err, DRL_EINVAL, "probe: no place for the chosen C");
    if (extend < 0 || patience < 0)
        return drl_errf(err, DRL_EINVAL, "probe: grid search with patience %d and %d extensions", patience, extend);
    int rc = check_grid(err, grid, ngrid);
    if (rc) return rc;
    const int cap = ngrid + extend;
    uint32_t *idx = malloc(N * sizeof(uint32_t));
    float *Xf = malloc(N * (size_t)D * sizeof(float));
    int *yf = malloc(N * sizeof(int));
    float *cs = malloc((size_t)cap * sizeof(float));
    double *correct = calloc((size_t)cap, sizeof(double));
    drl_probe **fits = calloc((size_t)cap, sizeof(drl_probe *));
    int n = 0; /* values of C scored */
    if (!idx || !Xf || !yf || !cs || !correct || !fits) {
        rc = drl_errf(err, DRL_ENOMEM, "probe: out of memory");
        goto done;
    }
    shuffle_idx(seed, idx, N);
    for (size_t i = 0; i < N; i++) { /* rows [0, N - n_val) fit, the rest validate */
        memcpy(Xf + i * D, X + (size_t)idx[i] * D, (size_t)D * sizeof(float));
        yf[i] = y[idx[i]];
    }
    memcpy(cs, grid, (size_t)ngrid * sizeof(float));
    /* one C at a time, each fit warm-started from the last: the grid while the accuracy has not
     * fallen `patience` times running, then its extensions while the last C is the best */
    int falls = 0;
    while (!rc && n < cap) {
        if (n < ngrid ? patience && falls >= patience : *best_c != cs[n - 1] || !isfinite(cs[n - 1] * 10.0f)) break;
        if (n >= ngrid) cs[n] = cs[n - 1] * 10.0f;
        drl_probe_cfg c = *cfg;
        if (n) c.warm = fits[n - 1];
        rc = score_grid(err, &c, Xf, yf, N - n_val, N, D, K, cs + n, 1, correct + n, fits + n);
        falls = n && correct[n] < correct[n - 1] ? falls + 1 : 0;
        if (!rc) *best_c = best_of(cs, ++n, correct, n_val, NULL);
    }
    if (!rc && val_acc) {
        best_of(cs, n, correct, n_val, val_acc);
        for (int g = n; g < cap; g++) val_acc[g] = -1;
    }
    for (int g = 0; g < cap && fits; g++) {
        if (!rc && best_fit && g < n && cs[g] == *best_c) *best_fit = fits[g];
        else drl_probe_free(fits[g]);
    }
done:
    free(idx), free(Xf), free(yf), free(cs), free(correct), free(fits);
    return rc;
}

int drl_probe_select_c_cv(drl_err *err, const drl_probe_cfg *cfg, const float *X, const int *y,
                          size_t N, int D, int K, const drl_probe_cv *cv, uint64_t seed,
                          float *best_c, double *cv_acc) {
    if (!cv || !best_c) return drl_errf(err, DRL_EINVAL, "probe: no folds or no place for the chosen C");
    int rc = check_grid(err, cv->grid, cv->ngrid);
    if (rc) return rc;
    if (cv->folds < 2 || (size_t)cv->folds > N)
        return drl_errf(err, DRL_EINVAL, "probe: %d folds of %zu rows", cv->folds, N);
    const size_t F = (size_t)cv->folds;
    uint32_t *idx = malloc(N * sizeof(uint32_t));
    float *Xf = malloc(N * (size_t)D * sizeof(float));
    int *yf = malloc(N * sizeof(int));
    double *correct = calloc((size_t)cv->ngrid, sizeof(double));
    if (!idx || !Xf || !yf || !correct) {
        rc = drl_errf(err, DRL_ENOMEM, "probe: out of memory");
        goto done;
    }
    shuffle_idx(seed, idx, N);
    for (size_t f = 0; f < F && !rc; f++) { /* fold f: rows idx[i] with i % F == f */
        const size_t n_fit = N - (N - f + F - 1) / F; /* rows not in fold f */
        size_t a = 0, b = n_fit;                      /* fit rows first, then fold f */
        for (size_t i = 0; i < N; i++) {
            const size_t to = i % F != f ? a++ : b++;
            memcpy(Xf + to * D, X + (size_t)idx[i] * D, (size_t)D * sizeof(float));
            yf[to] = y[idx[i]];
        }
        rc = score_grid(err, cfg, Xf, yf, n_fit, N, D, K, cv->grid, cv->ngrid, correct, NULL);
    }
    if (!rc) *best_c = best_of(cv->grid, cv->ngrid, correct, N, cv_acc);
done:
    free(idx), free(Xf), free(yf), free(correct);
    return rc;
}
