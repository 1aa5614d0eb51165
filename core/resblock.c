/* resblock.c — NCSN++-style residual block, forward and backward (see resblock.h). */
#include "resblock.h"

#include <stdio.h>
#include <string.h>

#include "act.h"
#include "combine.h"
#include "conv.h"
#include "linear.h"
#include "norm.h"

static size_t add(drl_params *p, const char *prefix, const char *name, int ndim, const int64_t *shape,
                  drl_init init) {
    char full[DRL_PARAM_NAME_MAX];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return drl_params_add(p, full, ndim, shape, init, 1.0f);
}

void drl_resblock_declare(drl_resblock *rb, drl_params *p, const char *prefix, int Cin, int Cout,
                          int H, int W, int G, int cond_dim, float dropout) {
    memset(rb, 0, sizeof *rb);
    rb->Cin = Cin;
    rb->Cout = Cout;
    rb->H = H;
    rb->W = W;
    rb->G = G;
    rb->cond_dim = cond_dim;
    rb->dropout = dropout;
    rb->gn1_g = add(p, prefix, "gn1.weight", 1, (int64_t[]){Cin}, DRL_INIT_ONE);
    rb->gn1_b = add(p, prefix, "gn1.bias", 1, (int64_t[]){Cin}, DRL_INIT_ZERO);
    rb->conv1_w = add(p, prefix, "conv1.weight", 4, (int64_t[]){Cout, Cin, 3, 3}, DRL_INIT_KAIMING);
    rb->conv1_b = add(p, prefix, "conv1.bias", 1, (int64_t[]){Cout}, DRL_INIT_ZERO);
    if (cond_dim > 0) {
        rb->dense_w = add(p, prefix, "dense.weight", 2, (int64_t[]){Cout, cond_dim}, DRL_INIT_KAIMING);
        rb->dense_b = add(p, prefix, "dense.bias", 1, (int64_t[]){Cout}, DRL_INIT_ZERO);
    }
    rb->gn2_g = add(p, prefix, "gn2.weight", 1, (int64_t[]){Cout}, DRL_INIT_ONE);
    rb->gn2_b = add(p, prefix, "gn2.bias", 1, (int64_t[]){Cout}, DRL_INIT_ZERO);
    rb->conv2_w = add(p, prefix, "conv2.weight", 4, (int64_t[]){Cout, Cout, 3, 3}, DRL_INIT_KAIMING);
    rb->conv2_b = add(p, prefix, "conv2.bias", 1, (int64_t[]){Cout}, DRL_INIT_ZERO);
    if (Cin != Cout) {
        rb->skip_w = add(p, prefix, "skip.weight", 4, (int64_t[]){Cout, Cin, 1, 1}, DRL_INIT_KAIMING);
        rb->skip_b = add(p, prefix, "skip.bias", 1, (int64_t[]){Cout}, DRL_INIT_ZERO);
    }
}

void drl_resblock_layout(const drl_resblock *rb, drl_resblock_acts *a, drl_arena *ar, int B, int grad) {
    size_t HW = (size_t)rb->H * rb->W, nin = (size_t)B * rb->Cin * HW, nout = (size_t)B * rb->Cout * HW;
    size_t ng = (size_t)B * rb->G;
    a->gn1 = grad ? drl_arena_take(ar, nin) : NULL; /* GroupNorm outputs: for backward only */
    a->mean1 = drl_arena_take(ar, ng);
    a->rstd1 = drl_arena_take(ar, ng);
    a->a1 = drl_arena_take(ar, nin);
    a->h1 = drl_arena_take(ar, nout);
    a->cb = rb->cond_dim > 0 ? drl_arena_take(ar, (size_t)B * rb->Cout) : NULL;
    a->gn2 = grad ? drl_arena_take(ar, nout) : NULL;
    a->mean2 = drl_arena_take(ar, ng);
    a->rstd2 = drl_arena_take(ar, ng);
    a->a2 = drl_arena_take(ar, nout);
    a->mask = rb->dropout > 0.0f ? drl_arena_take(ar, nout) : NULL;
    a->out = drl_arena_take(ar, nout);
    if (!grad) {
        a->dgn1 = a->da1 = a->dh1 = a->dcb = a->dgn2 = a->da2 = a->dh2 = NULL;
        /* the skip conv still needs a scratch of the output size in forward */
        if (rb->Cin != rb->Cout) a->dh2 = drl_arena_take(ar, nout);
        return;
    }
    a->dgn1 = drl_arena_take(ar, nin);
    a->da1 = drl_arena_take(ar, nin);
    a->dh1 = drl_arena_take(ar, nout);
    a->dcb = rb->cond_dim > 0 ? drl_arena_take(ar, (size_t)B * rb->Cout) : NULL;
    a->dgn2 = drl_arena_take(ar, nout);
    a->da2 = rb->dropout > 0.0f ? drl_arena_take(ar, nout) : NULL;
    a->dh2 = drl_arena_take(ar, nout);
}

size_t drl_resblock_work_size(const drl_resblock *rb, int B) {
    size_t w1 = drl_conv2d_work_size(B, rb->Cin, rb->H, rb->W, rb->Cout, 3, 1, 1);
    size_t w2 = drl_conv2d_work_size(B, rb->Cout, rb->H, rb->W, rb->Cout, 3, 1, 1);
    size_t w3 = drl_conv2d_work_size(B, rb->Cin, rb->H, rb->W, rb->Cout, 1, 1, 0);
    size_t w = w1 > w2 ? w1 : w2;
    return w > w3 ? w : w3;
}

static size_t conv1_prepared(const drl_resblock *rb) {
    return drl_conv2d_prepared_size(rb->Cin, rb->Cout, 3, 1, 1);
}

size_t drl_resblock_prepared_size(const drl_resblock *rb) {
    return conv1_prepared(rb) + drl_conv2d_prepared_size(rb->Cout, rb->Cout, 3, 1, 1);
}

void drl_resblock_prepare(const drl_resblock *rb, float *pw, const float *P) {
    drl_conv2d_prepare(pw, P + rb->conv1_w, rb->Cin, rb->Cout, 3, 1, 1);
    drl_conv2d_prepare(pw + conv1_prepared(rb), P + rb->conv2_w, rb->Cout, rb->Cout, 3, 1, 1);
}

void drl_resblock_forward(const drl_resblock *rb, drl_resblock_acts *a, const float *P,
                          const float *pw, const float *x, const float *scond, float *work, int B,
                          int train, drl_rng *rng) {
    int Cin = rb->Cin, Cout = rb->Cout, H = rb->H, W = rb->W, HW = H * W, G = rb->G;
    size_t nout = (size_t)B * Cout * HW;
    const float *pw2 = pw ? pw + conv1_prepared(rb) : NULL; /* unused by shapes with no prepared form */

    drl_groupnorm_silu_forward(a->gn1, a->a1, a->mean1, a->rstd1, x, P + rb->gn1_g, P + rb->gn1_b, B,
                               Cin, HW, G);
    drl_conv2d_forward_prepared(a->h1, a->a1, P + rb->conv1_w, pw, P + rb->conv1_b, work, B, Cin, H,
                                W, Cout, 3, 1, 1);
    if (rb->cond_dim > 0) {
        drl_linear_forward(a->cb, scond, P + rb->dense_w, P + rb->dense_b, B, rb->cond_dim, Cout);
        drl_bias_bcast_forward(a->h1, a->cb, B, Cout, HW);
    }
    drl_groupnorm_silu_forward(a->gn2, a->a2, a->mean2, a->rstd2, a->h1, P + rb->gn2_g, P + rb->gn2_b,
                               B, Cout, HW, G);
    if (a->mask) drl_dropout_forward(a->a2, a->mask, a->a2, nout, train ? rb->dropout : 0.0f, rng);
    drl_conv2d_forward_prepared(a->out, a->a2, P + rb->conv2_w, pw2, P + rb->conv2_b, work, B, Cout,
                                H, W, Cout, 3, 1, 1);
    if (Cin != Cout) {
        /* out += skip(x): run the 1x1 conv into dh2 (free until backward) and add. */
        drl_conv2d_forward(a->dh2, x, P + rb->skip_w, P + rb->skip_b, work, B, Cin, H, W, Cout, 1, 1, 0);
        drl_add_forward(a->out, a->out, a->dh2, nout);
    } else {
        drl_add_forward(a->out, a->out, x, nout);
    }
}

void drl_resblock_backward(const drl_resblock *rb, drl_resblock_acts *a, const float *P, float *G,
                           const float *x, const float *scond, const float *dout, float *dx,
                           float *dscond, float *work, int B) {
    int Cin = rb->Cin, Cout = rb->Cout, H = rb->H, W = rb->W, HW = H * W, Gn = rb->G;
    size_t nin = (size_t)B * Cin * HW, nout = (size_t)B * Cout * HW;

    /* skip path */
    if (Cin != Cout)
        drl_conv2d_backward(dx, G + rb->skip_w, G + rb->skip_b, dout, x, P + rb->skip_w, work, B, Cin,
                            H, W, Cout, 1, 1, 0);
    else if (dx)
        drl_add_backward(dx, NULL, dout, nin);

    /* main path, reversed; dh2 receives the gradient at conv2's input (after dropout) */
    memset(a->dh2, 0, nout * sizeof(float));
    drl_conv2d_backward(a->dh2, G + rb->conv2_w, G + rb->conv2_b, dout, a->a2, P + rb->conv2_w, work,
                        B, Cout, H, W, Cout, 3, 1, 1);
    const float *dsilu_out = a->dh2;
    if (a->mask) {
        memset(a->da2, 0, nout * sizeof(float));
        drl_dropout_backward(a->da2, a->dh2, a->mask, nout);
        dsilu_out = a->da2;
    }
    memset(a->dh1, 0, nout * sizeof(float));
    drl_groupnorm_silu_backward(a->dh1, G + rb->gn2_g, G + rb->gn2_b, a->dgn2, dsilu_out, a->gn2, a->h1,
                                a->mean2, a->rstd2, P + rb->gn2_g, B, Cout, HW, Gn);
    if (rb->cond_dim > 0) {
        memset(a->dcb, 0, (size_t)B * Cout * sizeof(float));
        drl_bias_bcast_backward(a->dcb, a->dh1, B, Cout, HW);
        drl_linear_backward(dscond, G + rb->dense_w, G + rb->dense_b, a->dcb, scond, P + rb->dense_w, B,
                            rb->cond_dim, Cout);
    }
    memset(a->da1, 0, nin * sizeof(float));
    drl_conv2d_backward(a->da1, G + rb->conv1_w, G + rb->conv1_b, a->dh1, a->a1, P + rb->conv1_w, work,
                        B, Cin, H, W, Cout, 3, 1, 1);
    /* dx may be NULL: the gamma/beta gradients are still accumulated */
    drl_groupnorm_silu_backward(dx, G + rb->gn1_g, G + rb->gn1_b, a->dgn1, a->da1, a->gn1, x, a->mean1,
                                a->rstd1, P + rb->gn1_g, B, Cin, HW, Gn);
}
