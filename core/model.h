/* model.h — a complete DRL model: config, one parameter block, encoder E_φ and score net s_θ.
 *
 * The parameter block holds encoder ("encoder.*") and score model ("score.*") weights; one
 * safetensors file stores them with the config JSON under __metadata__["drl.config"], so a
 * model is rebuilt from its file alone. Activations live in drl_model_acts, made per batch size.
 *
 * The training objective (conditional denoising score matching, Mittal et al. 2023, eq. 4):
 *   x_t = α(t) x0 + s(t) ε,  z = E(x0[, t]),  h = s_θ-net(x_t, t, z) ≈ -ε
 *   L = (1/B) Σ_b ‖h_b + ε_b‖²  +  λ_z · R(z)
 * with λ(t) = s(t)² absorbed (see sde.h). R is L1 (1/B Σ|z|; on μ for VDRL) or, for VDRL, the
 * KL of N(μ, σ²) to N(0, I) (1/B Σ ½(μ² + σ² - log σ² - 1)), z = μ + σ ε_z. */
#ifndef DRL_MODEL_H
#define DRL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decoder.h"
#include "encoder.h"
#include "err.h"
#include "params.h"
#include "rng.h"
#include "unet.h"

typedef struct {
    drl_config cfg;
    drl_params params;
    drl_encoder enc;
    drl_unet unet;       /* score model (DRL_MODE_DRL only) */
    drl_decoder dec;     /* decoder (DRL_MODE_AE only: the autoencoder baseline) */
    float *prep;         /* prepared filters (drl_model_prepare): encoder's, then the score net's;
                          * owned; or NULL */
    const float *prep_for; /* the weights they were prepared from */
} drl_model;

/* Builds the networks for cfg and initialises weights from seed. */
int drl_model_create(drl_err *err, const drl_config *cfg, uint64_t seed, drl_model **out);
void drl_model_free(drl_model *m);

/* Loads a model file: config from __metadata__["drl.config"], then every parameter by name with
 * its exact shape (missing, mis-shaped or unknown tensors are errors naming the tensor). */
int drl_model_load(drl_err *err, const char *path, drl_model **out);
/* Saves weights (params.data, or `weights` when non-NULL: e.g. the EMA copy) atomically with the
 * config and extra metadata key/value pairs. */
int drl_model_save(drl_err *err, const drl_model *m, const char *path, const float *weights,
                   const char *const *meta, size_t n_meta);

typedef struct {
    int B, grad;
    float *mem;
    drl_encoder_acts enc;
    drl_unet_acts unet;
    drl_decoder_acts dec;
    float *work;          /* conv scratch shared by both networks */
    float *xt;            /* (B, C, H, W) noisy input */
    float *tin_enc;       /* (B) noise inputs for the encoder */
    float *tin;           /* (B) noise inputs for the score net */
    float *lw;            /* (B) loss weights relative to λ(t) = σ(t)² (weighting != sigma2) */
    float *z;             /* (B, d) code fed to the score net */
    float *target;        /* (B, C, H, W) = -ε */
    float *dh;            /* (B, C, H, W) loss gradient at the score output */
    float *dz;            /* (B, d) */
    float *denc;          /* (B, D) gradient at the encoder output */
} drl_model_acts;

drl_model_acts *drl_model_acts_create(drl_err *err, const drl_model *m, int B, int grad);
/* Activations for drl_model_encode only (no score-net or decoder buffers): what a server that
 * only embeds needs, a fraction of the full set. */
drl_model_acts *drl_model_acts_create_encoder(drl_err *err, const drl_model *m, int B);
void drl_model_acts_free(drl_model_acts *a);

/* Inference: prepares the filters of the encoder and the score net (drl_encoder_prepare,
 * drl_unet_prepare) from m->params.data, so that drl_model_encode and drl_model_score with
 * P == m->params.data skip their per-call transforms (at batch 1 the encoder runs ~1.6x as
 * fast). Call it again after changing those weights (training never calls it: prepared filters
 * are for models whose weights stay fixed while they serve), or drl_model_unprepare. It rewrites
 * m->prep in place: no other thread may use the model meanwhile. */
int drl_model_prepare(drl_err *err, drl_model *m);
/* Drops the prepared filters: encode and score compute the transforms per call again. */
void drl_model_unprepare(drl_model *m);

/* Embeddings of B images: z (B, d) = E(x) (the mean for VDRL). t (B) gives the encoder's time
 * for time-conditioned models (NULL there means t = t_min for every image); ignored otherwise. */
void drl_model_encode(const drl_model *m, drl_model_acts *a, const float *P, const float *x,
                      const float *t, float *z, int B);

/* Parts of one loss evaluation. */
typedef struct {
    double dsm;  /* score-matching term (reconstruction term for the autoencoder baseline) */
    double reg;  /* λ_z · R(z) */
    double total;
} drl_loss_parts;

/* One evaluation of the DRL loss on a batch; with backward != 0 the gradients of the total are
 * accumulated into m->params.grad (call drl_params_zero_grad first). eps (B, C, H, W) is the
 * noise, eps_z (B, d) the VDRL reparameterisation noise (NULL for deterministic encoders), t (B)
 * the times. P is the weight block to use (normally m->params.data). train enables dropout. */
drl_loss_parts drl_model_loss(drl_model *m, drl_model_acts *a, const float *P, const float *x0,
                              const float *t, const float *eps, const float *eps_z, int B,
                              int backward, int train, drl_rng *rng);

/* Data-parallel loss for training. The batch is cut into drl_model_shard_count(B) shards (a
 * function of B alone: 2 from 2*DRL_MODEL_MIN_SHARD images on); every shard runs the whole loss on
 * its images with its own activations and gradient buffer, side by side on one thread each when
 * there are enough threads, and the shard gradients are summed weighted by shard size in a fixed
 * order. So the result is the same for any thread count (up to OpenBLAS's rounding of differently
 * cut GEMMs), equals drl_model_loss up to summation order, and two threads never meet at a barrier
 * inside a layer (an OpenMP team of 2 stalls there whenever another process takes a core). */
#define DRL_MODEL_MAX_SHARDS 2
#define DRL_MODEL_MIN_SHARD 8
typedef struct drl_model_shards drl_model_shards;
int drl_model_shard_count(int B);
/* Activations (and, with grad, gradient buffers) for batches of B images. */
drl_model_shards *drl_model_shards_create(drl_err *err, const drl_model *m, int B, int grad);
void drl_model_shards_free(drl_model_shards *s);
/* drl_model_loss for B <= the shards' batch size (a smaller batch is cut into the same number of
 * shards, or B if fewer); draws one number from rng to seed the shards' dropout streams. A larger
 * batch, or backward on shards made without gradients, returns NaN parts and touches nothing. */
drl_loss_parts drl_model_loss_sharded(drl_model *m, drl_model_shards *s, const float *P,
                                      const float *x0, const float *t, const float *eps,
                                      const float *eps_z, int B, int backward, int train,
                                      drl_rng *rng);

/* Score-net output h(x_t, t, z) for sampling (B, C, H, W) into out; the score is h / s(t).
 * DRL models only (an autoencoder-baseline model has no score network). */
void drl_model_score(const drl_model *m, drl_model_acts *a, const float *P, const float *xt,
                     const float *t, const float *z, float *out, int B);

/* The sampler's score callback (sampler.h) for a model: ∇log p_t(x | z) = h(x, t, z) / s(t).
 * The code is `z` (B, d), or, for a time-conditioned encoder given `x0` (B, C, H, W), E(x0, t)
 * recomputed at every step's t. `acts` must be made for at least B images. */
typedef struct {
    const drl_model *m;
    drl_model_acts *acts;
    const float *P;       /* weights (m->params.data) */
    const float *z;       /* (B, d) fixed code, or NULL with x0 for time-conditioned models */
    const float *x0;      /* (B, C, H, W) images whose code conditions the samples */
    float *zbuf;          /* (B, d) scratch for E(x0, t) */
    float *tbuf;          /* (B) scratch */
} drl_model_score_ctx;

int drl_model_score_fn(void *ctx, const float *x, float t, float *score, int B);

/* Embeds N images (N, C, H, W) in batches of up to B into out (N, K·d): for K == 0 the single
 * embedding E(x) (at t_min for time-conditioned models, i.e. K = 1 with times = {t_min}); for
 * K >= 1 the trajectory E(x, times[0]) ‖ … ‖ E(x, times[K-1]) (time-conditioned models only).
 * P is the weight block (m->params.data). */
int drl_model_embed_all(drl_err *err, const drl_model *m, const float *P, const float *images,
                        size_t N, const float *times, int K, int B, float *out);

/* Embedding width for K times: max(K, 1) · d. */
int drl_model_embed_dim(const drl_model *m, int K);

#endif
