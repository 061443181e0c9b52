/*
 * rng.h — the tests' seeded pseudo-random numbers (xorshift64), so runs are
 * repeatable: raw 32-bit words, uniform floats and a rough Gaussian.
 *
 * Not for: the library (the sampler has its own generator) or anything
 * needing statistical quality.
 */
#ifndef LLP_TESTS_RNG_H
#define LLP_TESTS_RNG_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static inline uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Uniform in [-1, 1). */
static inline float rng_float(void)
{
    return (float)((int32_t)rng_u32()) / 2147483648.0f;
}

/* Roughly Gaussian (sum of four uniforms), unit-ish scale. */
static inline float rng_normal(void)
{
    return rng_float() + rng_float() + rng_float() + rng_float();
}

#endif
