/* unet.c — the conditional score U-Net, forward and backward (see unet.h). */
#include "unet.h"

#include <stdio.h>
#include <string.h>

#include "act.h"
#include "combine.h"
#include "conv.h"
#include "linear.h"
#include "norm.h"

static size_t P_add(drl_params *p, const char *name, int ndim, const int64_t *shape, drl_init init) {
    return drl_params_add(p, name, ndim, shape, init, 1.0f);
}

static void conv_declare(drl_params *p, const char *name, int OC, int C, int K, size_t *w, size_t *b) {
    char n[DRL_PARAM_NAME_MAX];
    snprintf(n, sizeof n, "score.%s.weight", name);
    *w = P_add(p, n, 4, (int64_t[]){OC, C, K, K}, DRL_INIT_KAIMING);
    snprintf(n, sizeof n, "score.%s.bias", name);
    *b = P_add(p, n, 1, (int64_t[]){OC}, DRL_INIT_ZERO);
}

void drl_unet_declare(drl_unet *u, drl_params *p, const drl_config *c) {
    memset(u, 0, sizeof *u);
    u->C = c->C, u->H = c->H, u->W = c->W, u->G = c->groups, u->E = c->temb_dim, u->Z = c->latent_dim;
    for (int i = 0; i < 3; i++) u->ch[i] = c->unet_ch[i];
    int c1 = u->ch[0], c2 = u->ch[1], c3 = u->ch[2], H = u->H, W = u->W, G = u->G, CD = 2 * u->E;
    float dr = c->dropout;
    drl_temb_declare(&u->temb, p, "score.temb", c->fourier_dim, c->fourier_scale, u->E);
    u->zp_w = P_add(p, "score.latent_proj.weight", 2, (int64_t[]){u->E, u->Z}, DRL_INIT_KAIMING);
    u->zp_b = P_add(p, "score.latent_proj.bias", 1, (int64_t[]){u->E}, DRL_INIT_ZERO);
    conv_declare(p, "conv_in", c1, u->C, 3, &u->in_w, &u->in_b);
    drl_resblock_declare(&u->r1, p, "score.down_block0", c1, c1, H, W, G, CD, dr);
    conv_declare(p, "down0", c2, c1, 3, &u->down_w[0], &u->down_b[0]);
    drl_resblock_declare(&u->r2, p, "score.down_block1", c2, c2, H / 2, W / 2, G, CD, dr);
    conv_declare(p, "down1", c3, c2, 3, &u->down_w[1], &u->down_b[1]);
    drl_resblock_declare(&u->r3, p, "score.down_block2", c3, c3, H / 4, W / 4, G, CD, dr);
    drl_resblock_declare(&u->mid, p, "score.mid_block", c3, c3, H / 4, W / 4, G, CD, dr);
    drl_resblock_declare(&u->u3, p, "score.up_block2", 2 * c3, c3, H / 4, W / 4, G, CD, dr);
    conv_declare(p, "up1", c2, c3, 3, &u->up_w[0], &u->up_b[0]);
    drl_resblock_declare(&u->u2, p, "score.up_block1", 2 * c2, c2, H / 2, W / 2, G, CD, dr);
    conv_declare(p, "up0", c1, c2, 3, &u->up_w[1], &u->up_b[1]);
    drl_resblock_declare(&u->u1, p, "score.up_block0", 2 * c1, c1, H, W, G, CD, dr);
    u->gn_g = P_add(p, "score.norm_out.weight", 1, (int64_t[]){c1}, DRL_INIT_ONE);
    u->gn_b = P_add(p, "score.norm_out.bias", 1, (int64_t[]){c1}, DRL_INIT_ZERO);
    conv_declare(p, "conv_out", u->C, c1, 3, &u->out_w, &u->out_b);
    const drl_resblock *rbs[7] = {&u->r1, &u->r2, &u->r3, &u->mid, &u->u3, &u->u2, &u->u1};
    for (int i = 0; i < 7; i++) {
        u->pw_rb[i] = u->n_pw;
        u->n_pw += drl_resblock_prepared_size(rbs[i]);
    }
    u->pw_up[0] = u->n_pw;
    u->n_pw += drl_conv2d_prepared_size(c3, c2, 3, 1, 1);
    u->pw_up[1] = u->n_pw;
    u->n_pw += drl_conv2d_prepared_size(c2, c1, 3, 1, 1);
}

size_t drl_unet_prepared_size(const drl_unet *u) { return u->n_pw; }

void drl_unet_prepare(const drl_unet *u, float *pw, const float *P) {
    const drl_resblock *rbs[7] = {&u->r1, &u->r2, &u->r3, &u->mid, &u->u3, &u->u2, &u->u1};
    for (int i = 0; i < 7; i++) drl_resblock_prepare(rbs[i], pw + u->pw_rb[i], P);
    drl_conv2d_prepare(pw + u->pw_up[0], P + u->up_w[0], u->ch[2], u->ch[1], 3, 1, 1);
    drl_conv2d_prepare(pw + u->pw_up[1], P + u->up_w[1], u->ch[1], u->ch[0], 3, 1, 1);
}

void drl_unet_layout(const drl_unet *u, drl_unet_acts *a, drl_arena *ar, int B, int grad) {
    int c1 = u->ch[0], c2 = u->ch[1], c3 = u->ch[2];
    size_t s0 = (size_t)B * u->H * u->W, s1 = s0 / 4, s2 = s0 / 16, E = (size_t)u->E;
    memset(a, 0, sizeof *a);
    a->B = B;
    drl_temb_layout(&u->temb, &a->te, ar, B, grad);
    a->zp = drl_arena_take(ar, B * E);
    a->cond = drl_arena_take(ar, B * 2 * E);
    a->scond = drl_arena_take(ar, B * 2 * E);
    a->h0 = drl_arena_take(ar, s0 * c1);
    drl_resblock_layout(&u->r1, &a->r1, ar, B, grad);
    a->d1 = drl_arena_take(ar, s1 * c2);
    drl_resblock_layout(&u->r2, &a->r2, ar, B, grad);
    a->d2 = drl_arena_take(ar, s2 * c3);
    drl_resblock_layout(&u->r3, &a->r3, ar, B, grad);
    drl_resblock_layout(&u->mid, &a->mid, ar, B, grad);
    a->cat3 = drl_arena_take(ar, s2 * 2 * c3);
    drl_resblock_layout(&u->u3, &a->u3, ar, B, grad);
    a->up2 = drl_arena_take(ar, s1 * c3);
    a->q2 = drl_arena_take(ar, s1 * c2);
    a->cat2 = drl_arena_take(ar, s1 * 2 * c2);
    drl_resblock_layout(&u->u2, &a->u2, ar, B, grad);
    a->up1 = drl_arena_take(ar, s0 * c2);
    a->q1 = drl_arena_take(ar, s0 * c1);
    a->cat1 = drl_arena_take(ar, s0 * 2 * c1);
    drl_resblock_layout(&u->u1, &a->u1, ar, B, grad);
    a->gn = grad ? drl_arena_take(ar, s0 * c1) : NULL; /* for backward only */
    a->mean = drl_arena_take(ar, (size_t)B * u->G);
    a->rstd = drl_arena_take(ar, (size_t)B * u->G);
    a->a = drl_arena_take(ar, s0 * c1);
    a->out = drl_arena_take(ar, s0 * u->C);
    if (!grad) return;
    /* Gradients that backward accumulates into: one contiguous region, zeroed by one memset. */
    size_t g0 = ar->used;
    a->g_scond = drl_arena_take(ar, B * 2 * E);
    a->g_cond = drl_arena_take(ar, B * 2 * E);
    a->g_temb = drl_arena_take(ar, B * E);
    a->g_zp = drl_arena_take(ar, B * E);
    a->g_h0 = drl_arena_take(ar, s0 * c1);
    a->g_r1 = drl_arena_take(ar, s0 * c1);
    a->g_d1 = drl_arena_take(ar, s1 * c2);
    a->g_r2 = drl_arena_take(ar, s1 * c2);
    a->g_d2 = drl_arena_take(ar, s2 * c3);
    a->g_r3 = drl_arena_take(ar, s2 * c3);
    a->g_mid = drl_arena_take(ar, s2 * c3);
    a->g_cat3 = drl_arena_take(ar, s2 * 2 * c3);
    a->g_u3 = drl_arena_take(ar, s2 * c3);
    a->g_up2 = drl_arena_take(ar, s1 * c3);
    a->g_q2 = drl_arena_take(ar, s1 * c2);
    a->g_cat2 = drl_arena_take(ar, s1 * 2 * c2);
    a->g_u2 = drl_arena_take(ar, s1 * c2);
    a->g_up1 = drl_arena_take(ar, s0 * c2);
    a->g_q1 = drl_arena_take(ar, s0 * c1);
    a->g_cat1 = drl_arena_take(ar, s0 * 2 * c1);
    a->g_u1 = drl_arena_take(ar, s0 * c1);
    a->g_a = drl_arena_take(ar, s0 * c1);
    a->n_grads = ar->used - g0;
    a->grads = ar->base ? ar->base + g0 : NULL;
    a->g_gn = drl_arena_take(ar, s0 * c1); /* scratch, overwritten by the fused backward */
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

size_t drl_unet_work_size(const drl_unet *u, int B) {
    int c1 = u->ch[0], c2 = u->ch[1], c3 = u->ch[2], H = u->H, W = u->W;
    size_t w = drl_conv2d_work_size(B, u->C, H, W, c1, 3, 1, 1);
    w = max_sz(w, drl_conv2d_work_size(B, c1, H, W, c2, 3, 2, 1));
    w = max_sz(w, drl_conv2d_work_size(B, c2, H / 2, W / 2, c3, 3, 2, 1));
    w = max_sz(w, drl_conv2d_work_size(B, c3, H / 2, W / 2, c2, 3, 1, 1));
    w = max_sz(w, drl_conv2d_work_size(B, c2, H, W, c1, 3, 1, 1));
    w = max_sz(w, drl_conv2d_work_size(B, c1, H, W, u->C, 3, 1, 1));
    const drl_resblock *rbs[] = {&u->r1, &u->r2, &u->r3, &u->mid, &u->u3, &u->u2, &u->u1};
    for (int i = 0; i < 7; i++) w = max_sz(w, drl_resblock_work_size(rbs[i], B));
    return w;
}

void drl_unet_forward(const drl_unet *u, drl_unet_acts *a, const float *P, const float *pw,
                      const float *x, const float *tin, const float *z, float *work, int B,
                      int train, drl_rng *rng) {
    int C = u->C, H = u->H, W = u->W, c1 = u->ch[0], c2 = u->ch[1], c3 = u->ch[2], E = u->E;
    int HW0 = H * W, HW1 = HW0 / 4, HW2 = HW0 / 16;
    /* conditioning */
    drl_temb_forward(&u->temb, &a->te, P, tin, B);
    drl_linear_forward(a->zp, z, P + u->zp_w, P + u->zp_b, B, u->Z, E);
    drl_concat_forward(a->cond, a->te.out, a->zp, B, E, E, 1);
    drl_silu_forward(a->scond, a->cond, (size_t)B * 2 * E);
    /* down */
    drl_conv2d_forward(a->h0, x, P + u->in_w, P + u->in_b, work, B, C, H, W, c1, 3, 1, 1);
    drl_resblock_forward(&u->r1, &a->r1, P, pw ? pw + u->pw_rb[0] : NULL, a->h0, a->scond, work, B, train, rng);
    drl_conv2d_forward(a->d1, a->r1.out, P + u->down_w[0], P + u->down_b[0], work, B, c1, H, W, c2, 3, 2, 1);
    drl_resblock_forward(&u->r2, &a->r2, P, pw ? pw + u->pw_rb[1] : NULL, a->d1, a->scond, work, B, train, rng);
    drl_conv2d_forward(a->d2, a->r2.out, P + u->down_w[1], P + u->down_b[1], work, B, c2, H / 2, W / 2, c3, 3, 2, 1);
    drl_resblock_forward(&u->r3, &a->r3, P, pw ? pw + u->pw_rb[2] : NULL, a->d2, a->scond, work, B, train, rng);
    drl_resblock_forward(&u->mid, &a->mid, P, pw ? pw + u->pw_rb[3] : NULL, a->r3.out, a->scond, work, B, train, rng);
    /* up */
    drl_concat_forward(a->cat3, a->mid.out, a->r3.out, B, c3, c3, HW2);
    drl_resblock_forward(&u->u3, &a->u3, P, pw ? pw + u->pw_rb[4] : NULL, a->cat3, a->scond, work, B, train, rng);
    drl_upsample2x_forward(a->up2, a->u3.out, B, c3, H / 4, W / 4);
    drl_conv2d_forward_prepared(a->q2, a->up2, P + u->up_w[0], pw ? pw + u->pw_up[0] : NULL,
                                P + u->up_b[0], work, B, c3, H / 2, W / 2, c2, 3, 1, 1);
    drl_concat_forward(a->cat2, a->q2, a->r2.out, B, c2, c2, HW1);
    drl_resblock_forward(&u->u2, &a->u2, P, pw ? pw + u->pw_rb[5] : NULL, a->cat2, a->scond, work, B, train, rng);
    drl_upsample2x_forward(a->up1, a->u2.out, B, c2, H / 2, W / 2);
    drl_conv2d_forward_prepared(a->q1, a->up1, P + u->up_w[1], pw ? pw + u->pw_up[1] : NULL,
                                P + u->up_b[1], work, B, c2, H, W, c1, 3, 1, 1);
    drl_concat_forward(a->cat1, a->q1, a->r1.out, B, c1, c1, HW0);
    drl_resblock_forward(&u->u1, &a->u1, P, pw ? pw + u->pw_rb[6] : NULL, a->cat1, a->scond, work, B, train, rng);
    /* head */
    drl_groupnorm_silu_forward(a->gn, a->a, a->mean, a->rstd, a->u1.out, P + u->gn_g, P + u->gn_b, B, c1,
                               HW0, u->G);
    drl_conv2d_forward(a->out, a->a, P + u->out_w, P + u->out_b, work, B, c1, H, W, C, 3, 1, 1);
}

void drl_unet_backward(const drl_unet *u, drl_unet_acts *a, const float *P, float *G,
                       const float *x, const float *z, const float *dout, float *dz, float *work,
                       int B) {
    int C = u->C, H = u->H, W = u->W, c1 = u->ch[0], c2 = u->ch[1], c3 = u->ch[2], E = u->E;
    int HW0 = H * W;
    memset(a->grads, 0, a->n_grads * sizeof(float));
    float *gs = a->g_scond;

    /* head */
    drl_conv2d_backward(a->g_a, G + u->out_w, G + u->out_b, dout, a->a, P + u->out_w, work, B, c1, H, W, C, 3, 1, 1);
    drl_groupnorm_silu_backward(a->g_u1, G + u->gn_g, G + u->gn_b, a->g_gn, a->g_a, a->gn, a->u1.out,
                                a->mean, a->rstd, P + u->gn_g, B, c1, HW0, u->G);
    /* up path */
    drl_resblock_backward(&u->u1, &a->u1, P, G, a->cat1, a->scond, a->g_u1, a->g_cat1, gs, work, B);
    drl_concat_backward(a->g_q1, a->g_r1, a->g_cat1, B, c1, c1, HW0);
    drl_conv2d_backward(a->g_up1, G + u->up_w[1], G + u->up_b[1], a->g_q1, a->up1, P + u->up_w[1], work,
                        B, c2, H, W, c1, 3, 1, 1);
    drl_upsample2x_backward(a->g_u2, a->g_up1, B, c2, H / 2, W / 2);
    drl_resblock_backward(&u->u2, &a->u2, P, G, a->cat2, a->scond, a->g_u2, a->g_cat2, gs, work, B);
    drl_concat_backward(a->g_q2, a->g_r2, a->g_cat2, B, c2, c2, HW0 / 4);
    drl_conv2d_backward(a->g_up2, G + u->up_w[0], G + u->up_b[0], a->g_q2, a->up2, P + u->up_w[0], work,
                        B, c3, H / 2, W / 2, c2, 3, 1, 1);
    drl_upsample2x_backward(a->g_u3, a->g_up2, B, c3, H / 4, W / 4);
    drl_resblock_backward(&u->u3, &a->u3, P, G, a->cat3, a->scond, a->g_u3, a->g_cat3, gs, work, B);
    drl_concat_backward(a->g_mid, a->g_r3, a->g_cat3, B, c3, c3, HW0 / 16);
    drl_resblock_backward(&u->mid, &a->mid, P, G, a->r3.out, a->scond, a->g_mid, a->g_r3, gs, work, B);
    /* down path */
    drl_resblock_backward(&u->r3, &a->r3, P, G, a->d2, a->scond, a->g_r3, a->g_d2, gs, work, B);
    drl_conv2d_backward(a->g_r2, G + u->down_w[1], G + u->down_b[1], a->g_d2, a->r2.out, P + u->down_w[1],
                        work, B, c2, H / 2, W / 2, c3, 3, 2, 1);
    drl_resblock_backward(&u->r2, &a->r2, P, G, a->d1, a->scond, a->g_r2, a->g_d1, gs, work, B);
    drl_conv2d_backward(a->g_r1, G + u->down_w[0], G + u->down_b[0], a->g_d1, a->r1.out, P + u->down_w[0],
                        work, B, c1, H, W, c2, 3, 2, 1);
    drl_resblock_backward(&u->r1, &a->r1, P, G, a->h0, a->scond, a->g_r1, a->g_h0, gs, work, B);
    drl_conv2d_backward(NULL, G + u->in_w, G + u->in_b, a->g_h0, x, P + u->in_w, work, B, C, H, W, c1, 3, 1, 1);
    /* conditioning */
    drl_silu_backward(a->g_cond, gs, a->cond, (size_t)B * 2 * E);
    drl_concat_backward(a->g_temb, a->g_zp, a->g_cond, B, E, E, 1);
    drl_linear_backward(dz, G + u->zp_w, G + u->zp_b, a->g_zp, z, P + u->zp_w, B, u->Z, E);
    drl_temb_backward(&u->temb, &a->te, P, G, a->g_temb, B);
}
