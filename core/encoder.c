/* encoder.c — E_φ(x0[, t]) forward and backward (see encoder.h). */
#include "encoder.h"

#include <stdio.h>
#include <string.h>

#include "act.h"
#include "conv.h"
#include "linear.h"
#include "norm.h"
#include "pool.h"

static size_t P_add(drl_params *p, const char *name, int ndim, const int64_t *shape, drl_init init) {
    return drl_params_add(p, name, ndim, shape, init, 1.0f);
}

void drl_encoder_declare(drl_encoder *e, drl_params *p, const drl_config *c) {
    memset(e, 0, sizeof *e);
    e->C = c->C, e->H = c->H, e->W = c->W, e->G = c->groups;
    for (int i = 0; i < 3; i++) e->ch[i] = c->enc_ch[i];
    e->D = c->variational ? 2 * c->latent_dim : c->latent_dim;
    e->time_cond = c->time_cond;
    e->E = c->time_cond ? c->temb_dim : 0;
    if (e->time_cond) drl_temb_declare(&e->temb, p, "encoder.temb", c->fourier_dim, c->fourier_scale, e->E);
    int c1 = e->ch[0], c2 = e->ch[1], c3 = e->ch[2];
    e->in_w = P_add(p, "encoder.conv_in.weight", 4, (int64_t[]){c1, c->C, 3, 3}, DRL_INIT_KAIMING);
    e->in_b = P_add(p, "encoder.conv_in.bias", 1, (int64_t[]){c1}, DRL_INIT_ZERO);
    drl_resblock_declare(&e->rb[0], p, "encoder.block0", c1, c1, e->H, e->W, e->G, e->E, c->dropout);
    e->down_w[0] = P_add(p, "encoder.down0.weight", 4, (int64_t[]){c2, c1, 3, 3}, DRL_INIT_KAIMING);
    e->down_b[0] = P_add(p, "encoder.down0.bias", 1, (int64_t[]){c2}, DRL_INIT_ZERO);
    drl_resblock_declare(&e->rb[1], p, "encoder.block1", c2, c2, e->H / 2, e->W / 2, e->G, e->E, c->dropout);
    e->down_w[1] = P_add(p, "encoder.down1.weight", 4, (int64_t[]){c3, c2, 3, 3}, DRL_INIT_KAIMING);
    e->down_b[1] = P_add(p, "encoder.down1.bias", 1, (int64_t[]){c3}, DRL_INIT_ZERO);
    drl_resblock_declare(&e->rb[2], p, "encoder.block2", c3, c3, e->H / 4, e->W / 4, e->G, e->E, c->dropout);
    e->gn_g = P_add(p, "encoder.norm_out.weight", 1, (int64_t[]){c3}, DRL_INIT_ONE);
    e->gn_b = P_add(p, "encoder.norm_out.bias", 1, (int64_t[]){c3}, DRL_INIT_ZERO);
    e->out_w = P_add(p, "encoder.fc.weight", 2, (int64_t[]){e->D, c3}, DRL_INIT_KAIMING);
    e->out_b = P_add(p, "encoder.fc.bias", 1, (int64_t[]){e->D}, DRL_INIT_ZERO);
    for (int i = 0; i < 3; i++) {
        e->pw_rb[i] = e->n_pw;
        e->n_pw += drl_resblock_prepared_size(&e->rb[i]);
    }
}

void drl_encoder_layout(const drl_encoder *e, drl_encoder_acts *a, drl_arena *ar, int B, int grad) {
    size_t n0 = (size_t)B * e->ch[0] * e->H * e->W;
    size_t n1 = (size_t)B * e->ch[1] * (e->H / 2) * (e->W / 2);
    size_t n2 = (size_t)B * e->ch[2] * (e->H / 4) * (e->W / 4);
    memset(a, 0, sizeof *a);
    a->B = B;
    if (e->time_cond) {
        drl_temb_layout(&e->temb, &a->te, ar, B, grad);
        a->tin = drl_arena_take(ar, (size_t)B);
        a->scond = drl_arena_take(ar, (size_t)B * e->E);
    }
    a->h0 = drl_arena_take(ar, n0);
    drl_resblock_layout(&e->rb[0], &a->rb[0], ar, B, grad);
    a->d1 = drl_arena_take(ar, n1);
    drl_resblock_layout(&e->rb[1], &a->rb[1], ar, B, grad);
    a->d2 = drl_arena_take(ar, n2);
    drl_resblock_layout(&e->rb[2], &a->rb[2], ar, B, grad);
    a->gn = grad ? drl_arena_take(ar, n2) : NULL; /* for backward only */
    a->mean = drl_arena_take(ar, (size_t)B * e->G);
    a->rstd = drl_arena_take(ar, (size_t)B * e->G);
    a->a = drl_arena_take(ar, n2);
    a->pool = drl_arena_take(ar, (size_t)B * e->ch[2]);
    a->out = drl_arena_take(ar, (size_t)B * e->D);
    if (!grad) return;
    /* Gradients that backward accumulates into: one contiguous region, zeroed by one memset. */
    size_t g0 = ar->used;
    if (e->time_cond) {
        a->dscond = drl_arena_take(ar, (size_t)B * e->E);
        a->g_temb = drl_arena_take(ar, (size_t)B * e->E);
    }
    a->g_h0 = drl_arena_take(ar, n0);
    a->g_r1 = drl_arena_take(ar, n0);
    a->g_d1 = drl_arena_take(ar, n1);
    a->g_r2 = drl_arena_take(ar, n1);
    a->g_d2 = drl_arena_take(ar, n2);
    a->g_r3 = drl_arena_take(ar, n2);
    a->g_a = drl_arena_take(ar, n2);
    a->g_pool = drl_arena_take(ar, (size_t)B * e->ch[2]);
    a->n_grads = ar->used - g0;
    a->grads = ar->base ? ar->base + g0 : NULL;
    a->g_gn = drl_arena_take(ar, n2); /* scratch, overwritten by the fused backward */
}

size_t drl_encoder_work_size(const drl_encoder *e, int B) {
    size_t w = drl_conv2d_work_size(B, e->C, e->H, e->W, e->ch[0], 3, 1, 1);
    size_t x;
    x = drl_conv2d_work_size(B, e->ch[0], e->H, e->W, e->ch[1], 3, 2, 1);
    if (x > w) w = x;
    x = drl_conv2d_work_size(B, e->ch[1], e->H / 2, e->W / 2, e->ch[2], 3, 2, 1);
    if (x > w) w = x;
    for (int i = 0; i < 3; i++) {
        x = drl_resblock_work_size(&e->rb[i], B);
        if (x > w) w = x;
    }
    return w;
}

size_t drl_encoder_prepared_size(const drl_encoder *e) { return e->n_pw; }

void drl_encoder_prepare(const drl_encoder *e, float *pw, const float *P) {
    for (int i = 0; i < 3; i++) drl_resblock_prepare(&e->rb[i], pw + e->pw_rb[i], P);
}

void drl_encoder_forward(const drl_encoder *e, drl_encoder_acts *a, const float *P, const float *pw,
                         const float *x, const float *tin, float *work, int B, int train,
                         drl_rng *rng) {
    int C = e->C, H = e->H, W = e->W, c1 = e->ch[0], c2 = e->ch[1], c3 = e->ch[2];
    int HW3 = (H / 4) * (W / 4);
    const float *scond = NULL;
    if (e->time_cond) {
        memcpy(a->tin, tin, (size_t)B * sizeof(float));
        drl_temb_forward(&e->temb, &a->te, P, a->tin, B);
        drl_silu_forward(a->scond, a->te.out, (size_t)B * e->E);
        scond = a->scond;
    }
    drl_conv2d_forward(a->h0, x, P + e->in_w, P + e->in_b, work, B, C, H, W, c1, 3, 1, 1);
    drl_resblock_forward(&e->rb[0], &a->rb[0], P, pw ? pw + e->pw_rb[0] : NULL, a->h0, scond, work, B, train, rng);
    drl_conv2d_forward(a->d1, a->rb[0].out, P + e->down_w[0], P + e->down_b[0], work, B, c1, H, W, c2, 3, 2, 1);
    drl_resblock_forward(&e->rb[1], &a->rb[1], P, pw ? pw + e->pw_rb[1] : NULL, a->d1, scond, work, B, train, rng);
    drl_conv2d_forward(a->d2, a->rb[1].out, P + e->down_w[1], P + e->down_b[1], work, B, c2, H / 2, W / 2, c3, 3, 2, 1);
    drl_resblock_forward(&e->rb[2], &a->rb[2], P, pw ? pw + e->pw_rb[2] : NULL, a->d2, scond, work, B, train, rng);
    drl_groupnorm_silu_forward(a->gn, a->a, a->mean, a->rstd, a->rb[2].out, P + e->gn_g, P + e->gn_b, B,
                               c3, HW3, e->G);
    drl_avgpool_forward(a->pool, a->a, B, c3, HW3);
    drl_linear_forward(a->out, a->pool, P + e->out_w, P + e->out_b, B, c3, e->D);
}

void drl_encoder_backward(const drl_encoder *e, drl_encoder_acts *a, const float *P, float *G,
                          const float *x, const float *dout, float *work, int B) {
    int C = e->C, H = e->H, W = e->W, c1 = e->ch[0], c2 = e->ch[1], c3 = e->ch[2];
    int HW3 = (H / 4) * (W / 4);
    const float *scond = e->time_cond ? a->scond : NULL;
    float *dscond = e->time_cond ? a->dscond : NULL;
    memset(a->grads, 0, a->n_grads * sizeof(float));

    drl_linear_backward(a->g_pool, G + e->out_w, G + e->out_b, dout, a->pool, P + e->out_w, B, c3, e->D);
    drl_avgpool_backward(a->g_a, a->g_pool, B, c3, HW3);
    drl_groupnorm_silu_backward(a->g_r3, G + e->gn_g, G + e->gn_b, a->g_gn, a->g_a, a->gn, a->rb[2].out,
                                a->mean, a->rstd, P + e->gn_g, B, c3, HW3, e->G);
    drl_resblock_backward(&e->rb[2], &a->rb[2], P, G, a->d2, scond, a->g_r3, a->g_d2, dscond, work, B);
    drl_conv2d_backward(a->g_r2, G + e->down_w[1], G + e->down_b[1], a->g_d2, a->rb[1].out,
                        P + e->down_w[1], work, B, c2, H / 2, W / 2, c3, 3, 2, 1);
    drl_resblock_backward(&e->rb[1], &a->rb[1], P, G, a->d1, scond, a->g_r2, a->g_d1, dscond, work, B);
    drl_conv2d_backward(a->g_r1, G + e->down_w[0], G + e->down_b[0], a->g_d1, a->rb[0].out,
                        P + e->down_w[0], work, B, c1, H, W, c2, 3, 2, 1);
    drl_resblock_backward(&e->rb[0], &a->rb[0], P, G, a->h0, scond, a->g_r1, a->g_h0, dscond, work, B);
    drl_conv2d_backward(NULL, G + e->in_w, G + e->in_b, a->g_h0, x, P + e->in_w, work, B, C, H, W, c1, 3, 1, 1);
    if (e->time_cond) {
        drl_silu_backward(a->g_temb, dscond, a->te.out, (size_t)B * e->E);
        drl_temb_backward(&e->temb, &a->te, P, G, a->g_temb, B);
    }
}
