/* bench_memlat.c - what a cache miss costs on this machine: random 8-byte
 * loads from an array much bigger than the cache, each depending on the
 * one before (a pointer chase: the latency a chain of look-ups pays per
 * link) and independent of each other (what the core overlaps: the floor
 * for loads issued together). docs/performance-server.md quotes it to
 * explain the cost of queries on big graphs.
 *
 *   bench_memlat [MIB] [LOADS]     defaults: 512 MiB, 2,000,000 loads
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
    size_t loads = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000000;
    if (mib < 1 || mib > 65536 || loads < 1000) {
        fprintf(stderr, "usage: bench_memlat [MIB 1..65536] [LOADS >= 1000]\n");
        return 2;
    }
    size_t n = mib * ((size_t)1 << 20) / sizeof(uint64_t);
    uint64_t *a = malloc(n * sizeof *a);
    if (!a) {
        fprintf(stderr, "bench_memlat: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    /* One cycle through every slot in random order (Sattolo's shuffle),
     * so that the chase never falls into a short loop. */
    for (size_t i = 0; i < n; i++)
        a[i] = i;
    uint64_t rng = 42;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(bench_rng_next(&rng) % i);
        uint64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    uint64_t sink = 0, p = 0;
    uint64_t t0 = bench_now_ns();
    for (size_t i = 0; i < loads; i++)
        p = a[p];
    double dependent = (double)(bench_now_ns() - t0) / (double)loads;
    sink += p;
    t0 = bench_now_ns();
    for (size_t i = 0; i < loads; i++)
        sink += a[bench_rng_next(&rng) % n];
    double independent = (double)(bench_now_ns() - t0) / (double)loads;
    printf("%zu MiB: dependent random load %.1f ns, independent %.1f ns (%d)\n", mib,
           dependent, independent, (int)(sink & 1));
    free(a);
    return 0;
}
