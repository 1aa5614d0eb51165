/* rng.h — deterministic random numbers.
 *
 * xoshiro256** seeded through splitmix64. There is no global state: every consumer owns a
 * drl_rng it seeded. Parallel work stays reproducible whatever the thread count by deriving one
 * stream per work item with drl_rng_stream(seed, id) instead of sharing a generator.
 */
#ifndef DRL_RNG_H
#define DRL_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
    int has_spare;   /* Box-Muller produces normals in pairs */
    float spare;
} drl_rng;

void drl_rng_seed(drl_rng *r, uint64_t seed);
/* A generator for work item `id` of a computation seeded with `seed`; independent of threads. */
void drl_rng_stream(drl_rng *r, uint64_t seed, uint64_t id);
uint64_t drl_rng_u64(drl_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float drl_rng_uniform(drl_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t drl_rng_below(drl_rng *r, uint64_t n);
/* Standard normal. */
float drl_rng_normal(drl_rng *r);
void drl_rng_normal_fill(drl_rng *r, float *x, size_t n);
void drl_rng_uniform_fill(drl_rng *r, float *x, size_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void drl_rng_shuffle(drl_rng *r, uint32_t *idx, size_t n);

#endif
