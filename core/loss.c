/* loss.c — weighted squared error and softmax cross-entropy (see loss.h).
 *
 * Both are cheap next to the networks that feed them, so they run serially and accumulate in
 * double; the gradients are written (not accumulated) because each loss is the start of backward.
 */
#include "loss.h"

#include <math.h>
#include <stddef.h>

double drl_wsq_loss(float *dpred, const float *pred, const float *target, const float *w, int B,
                    int D) {
    if (B <= 0) return 0.0;
    const double invB = 1.0 / (double)B;
    double loss = 0.0;
    for (int b = 0; b < B; b++) {
        const double wb = w ? (double)w[b] : 1.0;
        const float *p = pred + (size_t)b * D, *t = target + (size_t)b * D;
        double s = 0.0;
        for (int d = 0; d < D; d++) {
            const double e = (double)p[d] - (double)t[d];
            s += e * e;
        }
        loss += wb * s;
        if (dpred) {
            float *g = dpred + (size_t)b * D;
            const double k = 2.0 * wb * invB;
            for (int d = 0; d < D; d++) g[d] = (float)(k * ((double)p[d] - (double)t[d]));
        }
    }
    return loss * invB;
}

/* Per row: loss = logsumexp(l) - l[y], with the max subtracted before exponentiating;
 * dlogits = (softmax(l) - onehot(y)) / B. An out-of-range label makes the result NaN. */
double drl_xent_loss(float *dlogits, float *probs, const float *logits, const int *labels, int B,
                     int K) {
    if (B <= 0 || K <= 0) return 0.0;
    const double invB = 1.0 / (double)B;
    double loss = 0.0;
    for (int b = 0; b < B; b++) {
        const float *l = logits + (size_t)b * K;
        const int y = labels[b];
        if (y < 0 || y >= K) return NAN;
        double mx = l[0];
        for (int k = 1; k < K; k++)
            if (l[k] > mx) mx = l[k];
        double s = 0.0;
        for (int k = 0; k < K; k++) s += exp((double)l[k] - mx);
        const double lse = mx + log(s);
        loss += lse - (double)l[y];
        for (int k = 0; k < K; k++) {
            const double pk = exp((double)l[k] - lse);
            if (probs) probs[(size_t)b * K + k] = (float)pk;
            if (dlogits) dlogits[(size_t)b * K + k] = (float)((pk - (k == y ? 1.0 : 0.0)) * invB);
        }
    }
    return loss * invB;
}
