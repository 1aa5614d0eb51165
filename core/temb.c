/* temb.c — Fourier time embedding + MLP (see temb.h). */
#include "temb.h"

#include <stdio.h>
#include <string.h>

#include "act.h"
#include "embed.h"
#include "linear.h"

void drl_temb_declare(drl_temb *te, drl_params *p, const char *prefix, int F, float scale, int E) {
    char n[DRL_PARAM_NAME_MAX];
    te->F = F;
    te->E = E;
    snprintf(n, sizeof n, "%s.fourier.W", prefix);
    te->freq = drl_params_add(p, n, 1, (int64_t[]){F}, DRL_INIT_NORMAL, scale);
    drl_params_set_fixed(p, te->freq);
    snprintf(n, sizeof n, "%s.dense1.weight", prefix);
    te->l1_w = drl_params_add(p, n, 2, (int64_t[]){E, 2 * F}, DRL_INIT_KAIMING, 1.0f);
    snprintf(n, sizeof n, "%s.dense1.bias", prefix);
    te->l1_b = drl_params_add(p, n, 1, (int64_t[]){E}, DRL_INIT_ZERO, 1.0f);
    snprintf(n, sizeof n, "%s.dense2.weight", prefix);
    te->l2_w = drl_params_add(p, n, 2, (int64_t[]){E, E}, DRL_INIT_KAIMING, 1.0f);
    snprintf(n, sizeof n, "%s.dense2.bias", prefix);
    te->l2_b = drl_params_add(p, n, 1, (int64_t[]){E}, DRL_INIT_ZERO, 1.0f);
}

void drl_temb_layout(const drl_temb *te, drl_temb_acts *a, drl_arena *ar, int B, int grad) {
    a->f = drl_arena_take(ar, (size_t)B * 2 * te->F);
    a->h1 = drl_arena_take(ar, (size_t)B * te->E);
    a->a1 = drl_arena_take(ar, (size_t)B * te->E);
    a->out = drl_arena_take(ar, (size_t)B * te->E);
    a->dh1 = grad ? drl_arena_take(ar, (size_t)B * te->E) : NULL;
    a->da1 = grad ? drl_arena_take(ar, (size_t)B * te->E) : NULL;
}

void drl_temb_forward(const drl_temb *te, drl_temb_acts *a, const float *P, const float *s, int B) {
    drl_fourier_forward(a->f, s, P + te->freq, B, te->F);
    drl_linear_forward(a->h1, a->f, P + te->l1_w, P + te->l1_b, B, 2 * te->F, te->E);
    drl_silu_forward(a->a1, a->h1, (size_t)B * te->E);
    drl_linear_forward(a->out, a->a1, P + te->l2_w, P + te->l2_b, B, te->E, te->E);
}

void drl_temb_backward(const drl_temb *te, drl_temb_acts *a, const float *P, float *G,
                       const float *dout, int B) {
    size_t n = (size_t)B * te->E;
    memset(a->da1, 0, n * sizeof(float));
    drl_linear_backward(a->da1, G + te->l2_w, G + te->l2_b, dout, a->a1, P + te->l2_w, B, te->E, te->E);
    memset(a->dh1, 0, n * sizeof(float));
    drl_silu_backward(a->dh1, a->da1, a->h1, n);
    drl_linear_backward(NULL, G + te->l1_w, G + te->l1_b, a->dh1, a->f, P + te->l1_w, B, 2 * te->F, te->E);
}
