/* bench_neighbors.c - what one-hop `neighbors` costs kgd's request loop
 * on a big graph, without the transport: resolve the name, walk the
 * relations, write the reply, for rounds of 512 random entities (kgd's
 * largest round), with and without the prefetch kgd does
 * (kg_entities_prefetch). The variants alternate in one process, so they
 * share the machine's state; the figures are medians over the repetitions.
 *
 *   bench_neighbors GRAPH.tsv ENTITIES [REPEATS]
 *       GRAPH.tsv as written by `bench_server gen` (entities e0..e{N-1})
 *
 * Prints ns per query for: no prefetch; for the whole round first, the
 * entity only (KG_PREFETCH_ENTITY) or the entity and its one-hop
 * neighbourhood (KG_PREFETCH_NEIGHBORS); and the neighbourhood of the
 * next 32 requests while the current 32 run (what kgd does).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "kg/graph.h"
#include "kg/io.h"
#include "kg/proto.h"
#include "kg/query.h"

#define ROUND 512 /* kgd's KG_ROUND_MAX */
#define ROUNDS 250
#define CHUNK 32  /* kgd's PREFETCH_CHUNK */
#define MODES 4

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One pass of ROUNDS rounds; ns per query. mode: -1 no prefetch, 0 the
 * entity only, 1 its one-hop neighbourhood (KG_PREFETCH_NEIGHBORS), for
 * the whole round first; 2 the neighbourhood a chunk ahead. */
static double pass(const kg_graph *g, unsigned long n_ent, int mode, uint64_t *rng,
                   kg_writer *w, size_t *sink)
{
    static char buf[ROUND][24];
    const char *names[ROUND];
    uint64_t total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < ROUND; i++) {
            snprintf(buf[i], sizeof buf[i], "e%lu", (unsigned long)(bench_rng_next(rng) % n_ent));
            names[i] = buf[i];
        }
        uint64_t t0 = bench_now_ns();
        if (mode == 0 || mode == 1)
            kg_entities_prefetch(g, names, ROUND,
                                 mode ? KG_PREFETCH_NEIGHBORS : KG_PREFETCH_ENTITY);
        else if (mode == 2)
            kg_entities_prefetch(g, names, CHUNK, KG_PREFETCH_NEIGHBORS);
        for (int i = 0; i < ROUND; i++) {
            /* Mode 2, as kgd does: at the start of each chunk, the next. */
            if (mode == 2 && i % CHUNK == 0 && i + CHUNK < ROUND)
                kg_entities_prefetch(g, names + i + CHUNK, CHUNK, KG_PREFETCH_NEIGHBORS);
            kg_neighbors_query q;
            memset(&q, 0, sizeof q);
            q.entity = names[i];
            kg_neighbor_list res;
            if (kg_query_neighbors(g, &q, &res, NULL) != 0)
                continue;
            /* As kgd's op does: the ids a batch at a time. */
            kg_writer_reset(w);
            kg_write_array(w, res.n);
            for (size_t at = 0; at < res.n; at += 32) {
                size_t m = res.n - at < 32 ? res.n - at : 32;
                kg_eid es[32];
                const char *ids[32];
                for (size_t k = 0; k < m; k++)
                    es[k] = res.items[at + k].entity;
                kg_entity_ids(g, es, m, ids);
                for (size_t k = 0; k < m; k++) {
                    kg_write_str(w, ids[k]);
                    kg_write_str(w, kg_relation_kind(g, res.items[at + k].via));
                }
            }
            size_t len;
            kg_writer_data(w, &len);
            *sink += len;
            kg_neighbor_list_free(&res);
        }
        total += bench_now_ns() - t0;
    }
    return (double)total / (ROUNDS * ROUND);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_neighbors GRAPH.tsv ENTITIES [REPEATS]\n");
        return 2;
    }
    unsigned long n_ent = strtoul(argv[2], NULL, 10);
    int reps = argc > 3 ? atoi(argv[3]) : 9;
    if (n_ent == 0 || reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_neighbors: ENTITIES > 0, REPEATS 1..1000\n");
        return 2;
    }
    kg_graph *g = kg_graph_new();
    kg_error err;
    uint64_t t = bench_now_ns();
    if (!g || kg_load_file(g, argv[1], KG_FORMAT_AUTO, &err) != 0) {
        fprintf(stderr, "bench_neighbors: %s\n", g ? err.message : "out of memory");
        return 1;
    }
    printf("loaded %zu entities, %zu relations in %.1f s\n", kg_entity_count(g),
           kg_relation_count(g), (double)(bench_now_ns() - t) / 1e9);
    kg_writer *w = kg_writer_new();
    uint64_t rng = 42;
    size_t sink = 0;
    double *f[MODES];
    for (int m = 0; m < MODES; m++)
        f[m] = calloc((size_t)reps, sizeof **f);
    const char *only = getenv("BENCH_NEIGHBORS_ONLY"); /* -1, 0, 1 or 2: for perf */
    for (int r = 0; r < reps; r++)
        for (int m = 0; m < MODES; m++)
            f[m][r] = only && atoi(only) != m - 1 ? 0
                                                  : pass(g, n_ent, m - 1, &rng, w, &sink);
    static const char *label[] = {"no prefetch", "prefetch the entity",
                                  "prefetch its neighbourhood",
                                  "neighbourhood, chunk ahead"};
    double med[MODES];
    for (int m = 0; m < MODES; m++) {
        qsort(f[m], (size_t)reps, sizeof *f[m], cmp_double);
        med[m] = f[m][reps / 2];
        printf("%-28s %7.0f ns/query  (min %.0f, max %.0f, %d x %d queries)\n", label[m],
               med[m], f[m][0], f[m][reps - 1], reps, ROUNDS * ROUND);
        free(f[m]);
    }
    printf("ratio to none: entity %.2f, neighbourhood %.2f, chunk ahead %.2f"
           "   (%zu bytes written)\n",
           med[1] / med[0], med[2] / med[0], med[3] / med[0], sink);
    kg_writer_destroy(&w);
    kg_graph_destroy(&g);
    return 0;
}
