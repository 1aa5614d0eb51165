/* unet.h — the score network s_θ(x_t, t, z): a small U-Net conditioned on time and the code.
 *
 *   cond = [temb(t) (B,E), Linear(z) (B,E)]  →  scond = SiLU(cond) (B, 2E), shared by all blocks
 *   x → conv_in → R1(c1) ─────────────────────────────────────────────┐
 *        ↓ conv/2 → R2(c2) ─────────────────────────────┐             │
 *                    ↓ conv/2 → R3(c3) → M(c3) → cat → U3(2c3→c3)      │
 *                                     └────────────────┘  ↑×2 conv → cat → U2(2c2→c2)
 *                                                                   ↑×2 conv → cat → U1(2c1→c1)
 *        → GN → SiLU → conv_out → h (B, C, H, W)
 * h predicts -ε; the score is h / s(t) (see sde.h). The gradient with respect to z is returned
 * so the encoder can be trained through the score model. */
#ifndef DRL_UNET_H
#define DRL_UNET_H

#include <stddef.h>

#include "config.h"
#include "params.h"
#include "resblock.h"
#include "temb.h"

typedef struct {
    int C, H, W, ch[3], G, E, Z;
    drl_temb temb;
    size_t zp_w, zp_b;           /* (E, Z), (E) */
    size_t in_w, in_b;           /* (c1, C, 3, 3) */
    drl_resblock r1, r2, r3, mid, u3, u2, u1;
    size_t down_w[2], down_b[2]; /* (c2, c1, 3, 3), (c3, c2, 3, 3) */
    size_t up_w[2], up_b[2];     /* (c2, c3, 3, 3), (c1, c2, 3, 3) */
    size_t gn_g, gn_b;           /* (c1) */
    size_t out_w, out_b;         /* (C, c1, 3, 3), (C) */
    /* offsets of the prepared filters (drl_unet_prepare) of r1, r2, r3, mid, u3, u2, u1 and of
     * the two up-sampling convolutions, and their total */
    size_t pw_rb[7], pw_up[2], n_pw;
} drl_unet;

typedef struct {
    int B;
    drl_temb_acts te;
    float *zp, *cond, *scond;      /* (B,E), (B,2E), (B,2E) */
    float *h0, *d1, *d2;           /* conv_in, down0, down1 outputs */
    drl_resblock_acts r1, r2, r3, mid, u3, u2, u1;
    float *cat3, *up2, *q2, *cat2, *up1, *q1, *cat1;
    float *gn, *mean, *rstd, *a, *out;
    /* gradients */
    float *g_scond, *g_cond, *g_temb, *g_zp;
    float *g_h0, *g_r1, *g_d1, *g_r2, *g_d2, *g_r3, *g_mid, *g_cat3, *g_u3, *g_up2, *g_q2,
        *g_cat2, *g_u2, *g_up1, *g_q1, *g_cat1, *g_u1, *g_gn, *g_a;
    float *grads;   /* the accumulated gradients above, one region of n_grads floats */
    size_t n_grads;
} drl_unet_acts;

void drl_unet_declare(drl_unet *u, drl_params *p, const drl_config *c);
void drl_unet_layout(const drl_unet *u, drl_unet_acts *a, drl_arena *ar, int B, int grad);
size_t drl_unet_work_size(const drl_unet *u, int B);
/* Inference with fixed weights: floats of the prepared filters of the residual blocks' and the
 * up-sampling 3×3 convolutions (drl_conv2d_prepare), and their preparation from the weights P. */
size_t drl_unet_prepared_size(const drl_unet *u);
void drl_unet_prepare(const drl_unet *u, float *pw, const float *P);
/* out (B, C, H, W) = h(x_t, t, z); tin (B) are the SDE noise inputs of t, z (B, Z). pw: the
 * prepared filters of P (drl_unet_prepare), or NULL. */
void drl_unet_forward(const drl_unet *u, drl_unet_acts *a, const float *P, const float *pw,
                      const float *x, const float *tin, const float *z, float *work, int B,
                      int train, drl_rng *rng);
/* Accumulates parameter gradients into G and, if dz is non-NULL, dz (B, Z) += ∂L/∂z. */
void drl_unet_backward(const drl_unet *u, drl_unet_acts *a, const float *P, float *G,
                       const float *x, const float *z, const float *dout, float *dz, float *work,
                       int B);

#endif
