/* decoder.c — autoencoder-baseline decoder, forward and backward (see decoder.h). */
#include "decoder.h"

#include <string.h>

#include "act.h"
#include "conv.h"
#include "linear.h"

void drl_decoder_declare(drl_decoder *d, drl_params *p, const drl_config *c) {
    memset(d, 0, sizeof *d);
    d->C = c->C, d->H = c->H, d->W = c->W, d->Z = c->latent_dim;
    for (int i = 0; i < 3; i++) d->ch[i] = c->enc_ch[i];
    int c1 = d->ch[0], c2 = d->ch[1], c3 = d->ch[2];
    int64_t F = (int64_t)c3 * (d->H / 4) * (d->W / 4);
    d->fc_w = drl_params_add(p, "decoder.fc.weight", 2, (int64_t[]){F, d->Z}, DRL_INIT_KAIMING, 1.0f);
    d->fc_b = drl_params_add(p, "decoder.fc.bias", 1, (int64_t[]){F}, DRL_INIT_ZERO, 1.0f);
    d->up_w[0] = drl_params_add(p, "decoder.up0.weight", 4, (int64_t[]){c2, c3, 3, 3}, DRL_INIT_KAIMING, 1.0f);
    d->up_b[0] = drl_params_add(p, "decoder.up0.bias", 1, (int64_t[]){c2}, DRL_INIT_ZERO, 1.0f);
    d->up_w[1] = drl_params_add(p, "decoder.up1.weight", 4, (int64_t[]){c1, c2, 3, 3}, DRL_INIT_KAIMING, 1.0f);
    d->up_b[1] = drl_params_add(p, "decoder.up1.bias", 1, (int64_t[]){c1}, DRL_INIT_ZERO, 1.0f);
    d->out_w = drl_params_add(p, "decoder.conv_out.weight", 4, (int64_t[]){d->C, c1, 3, 3}, DRL_INIT_KAIMING, 1.0f);
    d->out_b = drl_params_add(p, "decoder.conv_out.bias", 1, (int64_t[]){d->C}, DRL_INIT_ZERO, 1.0f);
}

void drl_decoder_layout(const drl_decoder *d, drl_decoder_acts *a, drl_arena *ar, int B, int grad) {
    size_t s0 = (size_t)B * d->H * d->W, s1 = s0 / 4, s2 = s0 / 16;
    int c1 = d->ch[0], c2 = d->ch[1], c3 = d->ch[2];
    memset(a, 0, sizeof *a);
    a->h0 = drl_arena_take(ar, s2 * c3);
    a->a0 = drl_arena_take(ar, s2 * c3);
    a->u1 = drl_arena_take(ar, s1 * c3);
    a->q1 = drl_arena_take(ar, s1 * c2);
    a->a1 = drl_arena_take(ar, s1 * c2);
    a->u2 = drl_arena_take(ar, s0 * c2);
    a->q2 = drl_arena_take(ar, s0 * c1);
    a->a2 = drl_arena_take(ar, s0 * c1);
    a->out = drl_arena_take(ar, s0 * d->C);
    if (!grad) return;
    a->g_h0 = drl_arena_take(ar, s2 * c3);
    a->g_a0 = drl_arena_take(ar, s2 * c3);
    a->g_u1 = drl_arena_take(ar, s1 * c3);
    a->g_q1 = drl_arena_take(ar, s1 * c2);
    a->g_a1 = drl_arena_take(ar, s1 * c2);
    a->g_u2 = drl_arena_take(ar, s0 * c2);
    a->g_q2 = drl_arena_take(ar, s0 * c1);
    a->g_a2 = drl_arena_take(ar, s0 * c1);
}

size_t drl_decoder_work_size(const drl_decoder *d, int B) {
    size_t w0 = drl_conv2d_work_size(B, d->ch[2], d->H / 2, d->W / 2, d->ch[1], 3, 1, 1);
    size_t w1 = drl_conv2d_work_size(B, d->ch[1], d->H, d->W, d->ch[0], 3, 1, 1);
    size_t w2 = drl_conv2d_work_size(B, d->ch[0], d->H, d->W, d->C, 3, 1, 1);
    size_t w = w0 > w1 ? w0 : w1;
    return w > w2 ? w : w2;
}

void drl_decoder_forward(const drl_decoder *d, drl_decoder_acts *a, const float *P, const float *z,
                         float *work, int B) {
    int C = d->C, H = d->H, W = d->W, c1 = d->ch[0], c2 = d->ch[1], c3 = d->ch[2];
    size_t s0 = (size_t)B * H * W, s1 = s0 / 4, s2 = s0 / 16;
    drl_linear_forward(a->h0, z, P + d->fc_w, P + d->fc_b, B, d->Z, c3 * (H / 4) * (W / 4));
    drl_silu_forward(a->a0, a->h0, s2 * c3);
    drl_upsample2x_forward(a->u1, a->a0, B, c3, H / 4, W / 4);
    drl_conv2d_forward(a->q1, a->u1, P + d->up_w[0], P + d->up_b[0], work, B, c3, H / 2, W / 2, c2, 3, 1, 1);
    drl_silu_forward(a->a1, a->q1, s1 * c2);
    drl_upsample2x_forward(a->u2, a->a1, B, c2, H / 2, W / 2);
    drl_conv2d_forward(a->q2, a->u2, P + d->up_w[1], P + d->up_b[1], work, B, c2, H, W, c1, 3, 1, 1);
    drl_silu_forward(a->a2, a->q2, s0 * c1);
    drl_conv2d_forward(a->out, a->a2, P + d->out_w, P + d->out_b, work, B, c1, H, W, C, 3, 1, 1);
}

void drl_decoder_backward(const drl_decoder *d, drl_decoder_acts *a, const float *P, float *G,
                          const float *z, const float *dout, float *dz, float *work, int B) {
    int C = d->C, H = d->H, W = d->W, c1 = d->ch[0], c2 = d->ch[1], c3 = d->ch[2];
    size_t s0 = (size_t)B * H * W, s1 = s0 / 4, s2 = s0 / 16;
    memset(a->g_a2, 0, s0 * c1 * sizeof(float));
    memset(a->g_q2, 0, s0 * c1 * sizeof(float));
    memset(a->g_u2, 0, s0 * c2 * sizeof(float));
    memset(a->g_a1, 0, s1 * c2 * sizeof(float));
    memset(a->g_q1, 0, s1 * c2 * sizeof(float));
    memset(a->g_u1, 0, s1 * c3 * sizeof(float));
    memset(a->g_a0, 0, s2 * c3 * sizeof(float));
    memset(a->g_h0, 0, s2 * c3 * sizeof(float));
    drl_conv2d_backward(a->g_a2, G + d->out_w, G + d->out_b, dout, a->a2, P + d->out_w, work, B, c1, H, W, C, 3, 1, 1);
    drl_silu_backward(a->g_q2, a->g_a2, a->q2, s0 * c1);
    drl_conv2d_backward(a->g_u2, G + d->up_w[1], G + d->up_b[1], a->g_q2, a->u2, P + d->up_w[1], work, B, c2, H, W, c1, 3, 1, 1);
    drl_upsample2x_backward(a->g_a1, a->g_u2, B, c2, H / 2, W / 2);
    drl_silu_backward(a->g_q1, a->g_a1, a->q1, s1 * c2);
    drl_conv2d_backward(a->g_u1, G + d->up_w[0], G + d->up_b[0], a->g_q1, a->u1, P + d->up_w[0], work, B, c3, H / 2, W / 2, c2, 3, 1, 1);
    drl_upsample2x_backward(a->g_a0, a->g_u1, B, c3, H / 4, W / 4);
    drl_silu_backward(a->g_h0, a->g_a0, a->h0, s2 * c3);
    drl_linear_backward(dz, G + d->fc_w, G + d->fc_b, a->g_h0, z, P + d->fc_w, B, d->Z, c3 * (H / 4) * (W / 4));
}
