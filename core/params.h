/* params.h — one block of parameters carved into named tensors, and an arena for activations.
 *
 * A network declares its parameters once, in order, through drl_params_add(); each declaration
 * returns an offset into one flat float block. The same offset indexes the weights, their
 * gradients, Adam's moments and the EMA copy, so saving, loading, optimising and averaging are
 * loops over one table — never per-layer code. The table's names are the safetensors names.
 *
 * Activations use the same idea per batch size: a layout pass counts the floats every buffer
 * needs (drl_arena with base == NULL), one allocation follows, and a second pass hands out
 * pointers. No allocation happens in forward or backward. */
#ifndef DRL_PARAMS_H
#define DRL_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

#define DRL_PARAM_NAME_MAX 64

typedef enum {
    DRL_INIT_ZERO,    /* biases, and output layers that start silent */
    DRL_INIT_ONE,     /* GroupNorm gamma */
    DRL_INIT_KAIMING, /* uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for conv/linear */
    DRL_INIT_NORMAL,  /* N(0, scale²): fixed random Fourier frequencies */
} drl_init;

typedef struct {
    char name[DRL_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[4];
    size_t offset; /* into drl_params.data */
    size_t numel;
    drl_init init;
    float init_scale; /* for DRL_INIT_NORMAL; a multiplier for KAIMING */
    int trainable;    /* 0 for fixed buffers (Fourier frequencies): no gradient, no Adam */
} drl_param_spec;

typedef struct {
    drl_param_spec *specs;
    size_t n, cap;
    size_t total; /* floats */
    float *data;  /* (total) weights, after drl_params_alloc */
    float *grad;  /* (total) gradients */
} drl_params;

void drl_params_init(drl_params *p);
void drl_params_release(drl_params *p);
/* Declares a tensor and returns its offset. Names are "prefix.name" built by the caller.
 * Errors (duplicate name, bad shape, no memory) are sticky: drl_params_alloc reports them. */
size_t drl_params_add(drl_params *p, const char *name, int ndim, const int64_t *shape,
                      drl_init init, float init_scale);
/* Marks the most recently added tensor as a fixed buffer. */
void drl_params_set_fixed(drl_params *p, size_t offset);
/* Allocates data and grad (zeroed). */
int drl_params_alloc(drl_err *err, drl_params *p);
/* Fills data from each spec's init rule, in table order, from rng. */
void drl_params_init_values(drl_params *p, drl_rng *rng);
void drl_params_zero_grad(drl_params *p);
const drl_param_spec *drl_params_find(const drl_params *p, const char *name);
/* Number of trainable floats. */
size_t drl_params_trainable(const drl_params *p);
/* Zeroes gradients of fixed buffers (so Adam leaves them alone). */
void drl_params_mask_fixed_grads(drl_params *p);

/* Activation arena: pass 1 with base == NULL counts, pass 2 hands out pointers. */
typedef struct {
    float *base;
    size_t used; /* floats */
} drl_arena;

/* Reserves n floats (64-byte aligned) and returns a pointer (NULL in the counting pass). */
float *drl_arena_take(drl_arena *a, size_t n);

#endif
