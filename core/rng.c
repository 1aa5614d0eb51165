/* rng.c — xoshiro256** with splitmix64 seeding (see rng.h). */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void drl_rng_seed(drl_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0f;
}

void drl_rng_stream(drl_rng *r, uint64_t seed, uint64_t id) {
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    drl_rng_seed(r, a ^ (id * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull));
}

uint64_t drl_rng_u64(drl_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float drl_rng_uniform(drl_rng *r) {
    return (float)(drl_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

uint64_t drl_rng_below(drl_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = drl_rng_u64(r);
    while (x >= limit);
    return x % n;
}

float drl_rng_normal(drl_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller on (0,1] x [0,1) in double for accuracy in the tails. */
    double u1 = ((double)(drl_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(drl_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    double rad = sqrt(-2.0 * log(u1));
    double th = 6.283185307179586 * u2;
    r->spare = (float)(rad * sin(th));
    r->has_spare = 1;
    return (float)(rad * cos(th));
}

void drl_rng_normal_fill(drl_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = drl_rng_normal(r);
}

void drl_rng_uniform_fill(drl_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = drl_rng_uniform(r);
}

void drl_rng_shuffle(drl_rng *r, uint32_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)drl_rng_below(r, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
