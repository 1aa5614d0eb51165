/* temb.h — the time embedding: Gaussian Fourier features of the SDE's noise input (log σ(t) for
 * VE, t for VP), then Linear → SiLU → Linear (Song et al. 2021).
 *
 *   f = fourier(s) (B, 2F) → h1 = Linear(2F→E) → a1 = SiLU → out = Linear(E→E)  (B, E)
 * The Fourier frequencies are a fixed (not trained) parameter stored with the model. */
#ifndef DRL_TEMB_H
#define DRL_TEMB_H

#include <stddef.h>

#include "params.h"

typedef struct {
    int F, E;
    size_t freq;       /* (F) fixed */
    size_t l1_w, l1_b; /* (E, 2F), (E) */
    size_t l2_w, l2_b; /* (E, E), (E) */
} drl_temb;

typedef struct {
    float *f, *h1, *a1, *out; /* (B, 2F), (B, E), (B, E), (B, E) */
    float *dh1, *da1;         /* gradient scratch */
} drl_temb_acts;

void drl_temb_declare(drl_temb *te, drl_params *p, const char *prefix, int F, float scale, int E);
void drl_temb_layout(const drl_temb *te, drl_temb_acts *a, drl_arena *ar, int B, int grad);
/* s (B): noise inputs. */
void drl_temb_forward(const drl_temb *te, drl_temb_acts *a, const float *P, const float *s, int B);
/* Accumulates parameter gradients from dout (B, E). */
void drl_temb_backward(const drl_temb *te, drl_temb_acts *a, const float *P, float *G,
                       const float *dout, int B);

#endif
