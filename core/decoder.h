/* decoder.h — the autoencoder baseline's decoder D(z), so the gain of DRL over plain
 * reconstruction is measured with the same encoder and training budget.
 *
 *   z (B, d) → Linear → (B, c3, H/4, W/4) → SiLU → ×2 → conv 3x3 (c3→c2) → SiLU
 *            → ×2 → conv 3x3 (c2→c1) → SiLU → conv 3x3 (c1→C) → x̂ (B, C, H, W)
 * Trained with (1/B) Σ_b ‖x̂_b − x_b‖² (DRL_MODE_AE in config.h). */
#ifndef DRL_DECODER_H
#define DRL_DECODER_H

#include <stddef.h>

#include "config.h"
#include "params.h"

typedef struct {
    int C, H, W, ch[3], Z;
    size_t fc_w, fc_b;     /* (c3·H/4·W/4, Z), (c3·H/4·W/4) */
    size_t up_w[2], up_b[2]; /* (c2, c3, 3, 3), (c1, c2, 3, 3) */
    size_t out_w, out_b;   /* (C, c1, 3, 3), (C) */
} drl_decoder;

typedef struct {
    float *h0, *a0;        /* (B, c3, H/4, W/4) linear output, SiLU */
    float *u1, *q1, *a1;   /* (B, c3, H/2, W/2) upsampled, (B, c2, H/2, W/2) conv, SiLU */
    float *u2, *q2, *a2;   /* (B, c2, H, W), (B, c1, H, W), SiLU */
    float *out;            /* (B, C, H, W) */
    float *g_h0, *g_a0, *g_u1, *g_q1, *g_a1, *g_u2, *g_q2, *g_a2; /* gradients */
} drl_decoder_acts;

void drl_decoder_declare(drl_decoder *d, drl_params *p, const drl_config *c);
void drl_decoder_layout(const drl_decoder *d, drl_decoder_acts *a, drl_arena *ar, int B, int grad);
size_t drl_decoder_work_size(const drl_decoder *d, int B);
void drl_decoder_forward(const drl_decoder *d, drl_decoder_acts *a, const float *P, const float *z,
                         float *work, int B);
/* Accumulates parameter gradients into G and dz (B, Z) from dout (B, C, H, W). */
void drl_decoder_backward(const drl_decoder *d, drl_decoder_acts *a, const float *P, float *G,
                          const float *z, const float *dout, float *dz, float *work, int B);

#endif
