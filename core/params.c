/* params.c — named parameter table over one float block, and the activation arena. */
#include "params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void drl_params_init(drl_params *p) { memset(p, 0, sizeof *p); }

void drl_params_release(drl_params *p) {
    if (!p) return;
    free(p->specs);
    free(p->data);
    free(p->grad);
    memset(p, 0, sizeof *p);
}

/* A declaration error is remembered as p->n > p->cap sentinel-free: we mark it with total = -1. */
#define PARAMS_BROKEN ((size_t)-1)

size_t drl_params_add(drl_params *p, const char *name, int ndim, const int64_t *shape,
                      drl_init init, float init_scale) {
    if (p->total == PARAMS_BROKEN) return 0;
    if (ndim < 1 || ndim > 4 || strlen(name) >= DRL_PARAM_NAME_MAX || drl_params_find(p, name)) {
        p->total = PARAMS_BROKEN;
        return 0;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        drl_param_spec *s = realloc(p->specs, cap * sizeof *s);
        if (!s) {
            p->total = PARAMS_BROKEN;
            return 0;
        }
        p->specs = s;
        p->cap = cap;
    }
    drl_param_spec *s = &p->specs[p->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    s->numel = 1;
    for (int i = 0; i < ndim; i++) {
        s->shape[i] = shape[i];
        s->numel *= (size_t)shape[i];
    }
    s->init = init;
    s->init_scale = init_scale;
    s->trainable = 1;
    /* Keep every tensor 16-float aligned so SIMD loads never straddle two tensors' ends. */
    s->offset = p->total;
    p->total += (s->numel + 15) & ~(size_t)15;
    return s->offset;
}

void drl_params_set_fixed(drl_params *p, size_t offset) {
    for (size_t i = 0; i < p->n; i++)
        if (p->specs[i].offset == offset) p->specs[i].trainable = 0;
}

int drl_params_alloc(drl_err *err, drl_params *p) {
    if (p->total == PARAMS_BROKEN)
        return drl_errf(err, DRL_EINVAL, "params: invalid or duplicate parameter declaration");
    free(p->data);
    free(p->grad);
    p->data = calloc(p->total ? p->total : 1, sizeof(float));
    p->grad = calloc(p->total ? p->total : 1, sizeof(float));
    if (!p->data || !p->grad) {
        free(p->data);
        free(p->grad);
        p->data = p->grad = NULL;
        return drl_errf(err, DRL_ENOMEM, "params: out of memory for %zu floats", p->total);
    }
    return 0;
}

void drl_params_init_values(drl_params *p, drl_rng *rng) {
    for (size_t i = 0; i < p->n; i++) {
        drl_param_spec *s = &p->specs[i];
        float *d = p->data + s->offset;
        switch (s->init) {
        case DRL_INIT_ZERO:
            memset(d, 0, s->numel * sizeof *d);
            break;
        case DRL_INIT_ONE:
            for (size_t k = 0; k < s->numel; k++) d[k] = 1.0f;
            break;
        case DRL_INIT_KAIMING: {
            size_t fan_in = s->numel / (size_t)s->shape[0];
            float bound = s->init_scale / sqrtf((float)(fan_in ? fan_in : 1));
            for (size_t k = 0; k < s->numel; k++) d[k] = (2.0f * drl_rng_uniform(rng) - 1.0f) * bound;
            break;
        }
        case DRL_INIT_NORMAL:
            for (size_t k = 0; k < s->numel; k++) d[k] = s->init_scale * drl_rng_normal(rng);
            break;
        }
    }
}

void drl_params_zero_grad(drl_params *p) {
    if (p->grad) memset(p->grad, 0, p->total * sizeof(float));
}

const drl_param_spec *drl_params_find(const drl_params *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->specs[i].name, name)) return &p->specs[i];
    return NULL;
}

size_t drl_params_trainable(const drl_params *p) {
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->specs[i].trainable) n += p->specs[i].numel;
    return n;
}

void drl_params_mask_fixed_grads(drl_params *p) {
    for (size_t i = 0; i < p->n; i++)
        if (!p->specs[i].trainable)
            memset(p->grad + p->specs[i].offset, 0, p->specs[i].numel * sizeof(float));
}

float *drl_arena_take(drl_arena *a, size_t n) {
    float *ptr = a->base ? a->base + a->used : NULL;
    a->used += (n + 15) & ~(size_t)15;
    return ptr;
}
