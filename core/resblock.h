/* resblock.h — the NCSN++-style residual block shared by the encoder and the score U-Net.
 *
 *   h   = conv1(SiLU(GN1(x)))                       (B, Cout, H, W)
 *   h  += Dense(SiLU(cond))  as a per-channel bias   (only when cond_dim > 0)
 *   h   = conv2(dropout(SiLU(GN2(h))))
 *   out = skip(x) + h,   skip = 1x1 conv when Cin != Cout, identity otherwise
 *
 * `cond` is the conditioning vector (time embedding, optionally with the projected latent code).
 * The caller passes SiLU(cond), computed once per network and shared by all blocks, and
 * receives its gradient. Parameters are offsets into the owning network's drl_params block. */
#ifndef DRL_RESBLOCK_H
#define DRL_RESBLOCK_H

#include <stddef.h>

#include "params.h"
#include "rng.h"

typedef struct {
    int Cin, Cout, H, W, G, cond_dim;
    float dropout;
    /* parameter offsets */
    size_t gn1_g, gn1_b;       /* (Cin) */
    size_t conv1_w, conv1_b;   /* (Cout, Cin, 3, 3), (Cout) */
    size_t dense_w, dense_b;   /* (Cout, cond_dim), (Cout) — if cond_dim > 0 */
    size_t gn2_g, gn2_b;       /* (Cout) */
    size_t conv2_w, conv2_b;   /* (Cout, Cout, 3, 3), (Cout) */
    size_t skip_w, skip_b;     /* (Cout, Cin, 1, 1), (Cout) — if Cin != Cout */
} drl_resblock;

/* Activations of one block for batch B (pointers into an arena). */
typedef struct {
    float *gn1, *mean1, *rstd1; /* (B, Cin, HW) (NULL without grad), (B, G), (B, G) */
    float *a1;                  /* SiLU(gn1) (B, Cin, HW) */
    float *h1;                  /* conv1 + bias (B, Cout, HW) */
    float *cb;                  /* Dense(SiLU(cond)) (B, Cout) */
    float *gn2, *mean2, *rstd2; /* (B, Cout, HW) (NULL without grad), (B, G), (B, G) */
    float *a2;                  /* SiLU(gn2), after dropout (B, Cout, HW) */
    float *mask;                /* dropout mask (B, Cout, HW), NULL if no dropout */
    float *out;                 /* (B, Cout, HW) */
    /* gradient scratch (same shapes) */
    float *dgn1, *da1, *dh1, *dcb, *dgn2, *da2, *dh2;
} drl_resblock_acts;

/* Declares parameters "prefix.*" in p. */
void drl_resblock_declare(drl_resblock *rb, drl_params *p, const char *prefix, int Cin, int Cout,
                          int H, int W, int G, int cond_dim, float dropout);
/* Lays out activations for batch B in the arena (see drl_arena); grad = 0 skips the gradient
 * scratch (inference only). */
void drl_resblock_layout(const drl_resblock *rb, drl_resblock_acts *a, drl_arena *ar, int B, int grad);
/* Scratch floats the block's convolutions need. */
size_t drl_resblock_work_size(const drl_resblock *rb, int B);

/* Inference with fixed weights: floats of the block's prepared filters (conv1's then conv2's, see
 * drl_conv2d_prepare), and their preparation from the weights P. */
size_t drl_resblock_prepared_size(const drl_resblock *rb);
void drl_resblock_prepare(const drl_resblock *rb, float *pw, const float *P);

/* out = block(x, scond); scond (B, cond_dim) = SiLU(cond) or NULL when cond_dim == 0.
 * train enables dropout (rng required then). pw: the block's prepared filters of P, or NULL. */
void drl_resblock_forward(const drl_resblock *rb, drl_resblock_acts *a, const float *P,
                          const float *pw, const float *x, const float *scond, float *work, int B,
                          int train, drl_rng *rng);
/* Given dout (B, Cout, HW), accumulates parameter gradients into G, dx (may be NULL) and dscond
 * (may be NULL). dout is not modified. */
void drl_resblock_backward(const drl_resblock *rb, drl_resblock_acts *a, const float *P, float *G,
                           const float *x, const float *scond, const float *dout, float *dx,
                           float *dscond, float *work, int B);

#endif
