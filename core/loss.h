/* loss.h — training losses. Each returns the scalar loss and writes (not accumulates) the
 * gradient of that scalar with respect to its input. */
#ifndef DRL_LOSS_H
#define DRL_LOSS_H

/* Weighted squared error, the denoising score matching form:
 *   loss = (1/B) Σ_b w_b Σ_d (pred[b,d] - target[b,d])²
 * w may be NULL (all ones). dpred (B, D) may be NULL. Accumulated in double. */
double drl_wsq_loss(float *dpred, const float *pred, const float *target, const float *w, int B,
                    int D);

/* Mean softmax cross-entropy over B rows of K logits with integer labels in [0, K).
 * probs (B, K) receives the softmax (may be NULL); dlogits (B, K) the gradient (may be NULL). */
double drl_xent_loss(float *dlogits, float *probs, const float *logits, const int *labels, int B,
                     int K);

#endif
