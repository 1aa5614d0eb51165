/* encoder.h — the representation encoder E_φ(x0) or, time-conditioned, E_φ(x0, t).
 *
 *   x (B, C, H, W) → conv_in 3x3 → RB(c1) → conv 3x3/2 → RB(c2) → conv 3x3/2 → RB(c3)
 *     → GN → SiLU → global avg pool → Linear → out (B, D),  D = d (DRL) or 2d (VDRL: μ, log σ²)
 * With time conditioning every residual block gets SiLU(temb(t)) as its per-channel bias, so the
 * representation of an image is the curve t ↦ E(x0, t). */
#ifndef DRL_ENCODER_H
#define DRL_ENCODER_H

#include <stddef.h>

#include "config.h"
#include "params.h"
#include "resblock.h"
#include "temb.h"

typedef struct {
    int C, H, W, ch[3], G, D, time_cond, E;
    drl_temb temb;              /* if time_cond */
    size_t in_w, in_b;          /* (c1, C, 3, 3), (c1) */
    drl_resblock rb[3];
    size_t down_w[2], down_b[2]; /* (c2, c1, 3, 3), (c3, c2, 3, 3) */
    size_t gn_g, gn_b;          /* (c3) */
    size_t out_w, out_b;        /* (D, c3), (D) */
    size_t pw_rb[3], n_pw;      /* offsets of the blocks' prepared filters, and their total */
} drl_encoder;

typedef struct {
    int B;
    drl_temb_acts te;
    float *tin;                 /* (B) noise inputs of t */
    float *scond, *dscond;      /* SiLU(temb) (B, E) and its gradient */
    float *h0, *d1, *d2;        /* conv_in (B,c1,H,W), down1 (B,c2,H/2,W/2), down2 (B,c3,H/4,W/4) */
    drl_resblock_acts rb[3];
    float *gn, *mean, *rstd, *a, *pool; /* head: (B,c3,HW3), (B,G), (B,G), (B,c3,HW3), (B,c3) */
    float *out;                 /* (B, D) */
    /* gradients at each tensor (zeroed at the start of backward) */
    float *g_h0, *g_r1, *g_d1, *g_r2, *g_d2, *g_r3, *g_gn, *g_a, *g_pool, *g_temb;
    float *grads;   /* the accumulated gradients above, one region of n_grads floats */
    size_t n_grads;
} drl_encoder_acts;

void drl_encoder_declare(drl_encoder *e, drl_params *p, const drl_config *c);
void drl_encoder_layout(const drl_encoder *e, drl_encoder_acts *a, drl_arena *ar, int B, int grad);
size_t drl_encoder_work_size(const drl_encoder *e, int B);
/* Inference with fixed weights: floats of the prepared filters of the residual blocks' 3×3
 * convolutions (drl_conv2d_prepare), and their preparation from the weights P. */
size_t drl_encoder_prepared_size(const drl_encoder *e);
void drl_encoder_prepare(const drl_encoder *e, float *pw, const float *P);
/* out = E(x[, t]); tin (B) are the SDE noise inputs of t (ignored unless time_cond). pw: the
 * prepared filters of P (drl_encoder_prepare), or NULL. */
void drl_encoder_forward(const drl_encoder *e, drl_encoder_acts *a, const float *P, const float *pw,
                         const float *x, const float *tin, float *work, int B, int train,
                         drl_rng *rng);
/* Accumulates parameter gradients into G from dout (B, D). */
void drl_encoder_backward(const drl_encoder *e, drl_encoder_acts *a, const float *P, float *G,
                          const float *x, const float *dout, float *work, int B);

#endif
