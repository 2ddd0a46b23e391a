/* test_rng.h - the pseudo-random generator of the randomized unit tests:
 * xorshift64 (Marsaglia 2003), a few lines that give the same sequence on
 * every platform and C library, so that a failure replays exactly. Each
 * program keeps its own state and seed: what its checks cover depends on
 * the sequence, so a seed is changed only with a reason. */
#ifndef KG_TEST_RNG_H
#define KG_TEST_RNG_H

#include <stdint.h>

typedef struct tr_rng {
    uint64_t s; /* never 0: xorshift stays at 0 */
} tr_rng;

/* The next number of r's sequence, in [0, n); n > 0. */
static inline uint32_t tr_below(tr_rng *r, uint32_t n)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return (uint32_t)(x % n);
}

#endif
