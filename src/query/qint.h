/* qint.h - private to src/query: helpers shared by the query files. */
#ifndef KG_QINT_H
#define KG_QINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/query.h"

/* ---- deadline ------------------------------------------------------------ */

/* Reading the clock costs a syscall-ish vDSO call: check it on the first
 * call and then every 256 calls. */
typedef struct kg_q_clock {
    uint64_t deadline;
    unsigned tick;
} kg_q_clock;

static inline bool kg_q_expired(kg_q_clock *c)
{
    if (!c->deadline)
        return false;
    if ((c->tick++ & 255u) != 0)
        return false;
    return kg_query_clock_coarse_ns() >= c->deadline;
}

/* ---- u32 -> u32 hash map (keys != KG_NONE) -------------------------------- */

/* Slots kept inside the map itself: a one-hop traversal's few entities
 * need no allocation. */
#define KG_Q_MAP_INLINE 32

typedef struct kg_q_map {
    uint32_t *keys; /* KG_NONE = empty slot */
    uint32_t *vals;
    size_t cap;     /* power of two or 0 */
    size_t n;
    uint32_t inline_slots[2 * KG_Q_MAP_INLINE]; /* keys, then values */
} kg_q_map;

/* Insert key -> val unless key is there. Returns 1 inserted, 0 present
 * (value untouched), KG_ENOMEM. */
int kg_q_map_put(kg_q_map *m, uint32_t key, uint32_t val);
/* The value of key, or KG_NONE. */
uint32_t kg_q_map_get(const kg_q_map *m, uint32_t key);
void kg_q_map_free(kg_q_map *m);

/* ---- growable arrays -------------------------------------------------------- */

/* Make room for one more element of size elem in *arr (capacity *cap,
 * count n). Returns 0 or KG_ENOMEM. */
int kg_q_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* ---- traversal context ------------------------------------------------------ */

/* What a traversal follows: directions, relation kinds (sorted atoms,
 * so that visiting adjacency per kind keeps the (kind, handle) order),
 * and the as_of day. */
typedef struct kg_q_follow {
    kg_dir dirs;      /* KG_OUT, KG_IN or KG_BOTH */
    kg_atom *kinds;   /* NULL with any_kind */
    size_t n_kinds;
    bool any_kind;    /* no kind filter */
    int32_t day;      /* 0 = no time filter */
} kg_q_follow;

/* Fill f from kind names (unknown kinds are dropped: they match nothing),
 * a direction and an as_of date. Returns 0, KG_EINVAL (bad as_of or dir)
 * or KG_ENOMEM. Free with kg_q_follow_free. */
int kg_q_follow_init(kg_q_follow *f, const kg_graph *g,
                     const char *const *kinds, size_t n_kinds, kg_dir dir,
                     const char *as_of, kg_error *err);
void kg_q_follow_free(kg_q_follow *f);

/* Parse an as_of into a day (its last day); NULL -> 0. */
int kg_q_as_of(const char *as_of, int32_t *day, kg_error *err);

/* Iterates the relations of one entity that a traversal follows, in the
 * documented order: out-edges then in-edges, each by (kind, handle). */
typedef struct kg_q_edges {
    kg_eid u;
    int phase;    /* 0 = out, 1 = in, 2 = done */
    size_t ki;    /* index into kinds */
    size_t pos;   /* position in span */
    kg_span span;
    bool loaded;
} kg_q_edges;

void kg_q_edges_start(kg_q_edges *it, kg_eid u);
/* Next followed relation in force: *r, the entity at its other end *v and
 * the direction it was followed *d. false at the end. */
bool kg_q_edges_next(const kg_graph *g, const kg_q_follow *f, kg_q_edges *it,
                     kg_rid *r, kg_eid *v, kg_dir *d);

/* Resolve an entity name or fail with KG_ENOTFOUND ("unknown entity"). */
int kg_q_entity(const kg_graph *g, const char *name, const char *what,
                kg_eid *out, kg_error *err);

#endif
