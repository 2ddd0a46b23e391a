/* kg/query.h - read-only queries over a kg_graph: relation look-up,
 * neighbourhoods, shortest paths, subgraph extraction, conjunctive triple
 * patterns (match), entity listing, and "as of" time filtering.
 *
 * Conventions shared by every query:
 *  - Entity names are resolved with kg_entity_find (id, then alias,
 *    ASCII case-insensitive). An unknown entity name is KG_ENOTFOUND with
 *    a message naming it. An unknown relation kind is not an error: it
 *    simply matches nothing.
 *  - Results are plain structs filled by the query; the caller passes a
 *    struct (its previous contents are ignored and overwritten) and frees
 *    it with the matching kg_*_free function, which also accepts a result
 *    that was zeroed or left by a failed query. On any error the result is
 *    left empty (nothing to free, but freeing is harmless).
 *  - Handles in results (kg_eid, kg_rid) refer to the queried graph and
 *    are valid until its next mutation.
 *  - Queries never modify the graph, keep no global state and may run
 *    concurrently on one graph as long as nobody writes to it.
 *
 * Time ("as of"). A relation may carry the qualifiers `date`, `since` and
 * `until`, each an ISO date "YYYY-MM-DD" or a partial date "YYYY-MM" or
 * "YYYY". A partial date covers a range of days: "2024-10" is 2024-10-01
 * .. 2024-10-31, "2025" is 2025-01-01 .. 2025-12-31. With as_of = D, a
 * relation is in force when all of these hold:
 *    - since present:  the first day of `since` <= D
 *    - until present:  D <= the last day of `until`
 *    - only `date` present (neither since nor until): the first day of
 *      `date` <= D. `date` marks an event or a measure, in force from then
 *      on (a tariff imposed in 2024-10 is in force as of 2024-10-15).
 * When since or until is present, `date` is ignored. A relation with none
 * of the three is always in force. A qualifier value that is not a valid
 * (partial) date is ignored, as if absent. A partial as_of stands for its
 * LAST day ("as of 2024" = at the end of 2024). An as_of that is not a
 * valid (partial) date is KG_EINVAL.
 *
 * Deadline: opts.deadline is a CLOCK_MONOTONIC time in nanoseconds (see
 * kg_query_clock_ns); a query that runs past it stops and returns
 * KG_ETIMEOUT with an empty result. 0 means no deadline. A query looks at
 * the clock when it starts and then every 256 steps, and it reads the
 * coarse clock (kg_query_clock_coarse_ns), which costs a memory read
 * instead of a timer read: a query may run past its deadline by that
 * clock's resolution (a few ms) and 256 steps.
 */
#ifndef KG_QUERY_H
#define KG_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/error.h"
#include "kg/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options every query takes. A zeroed struct means: no time filter, no
 * limit, no deadline, default depth. */
typedef struct kg_query_opts {
    const char *as_of;  /* date "YYYY[-MM[-DD]]"; NULL = no time filter */
    size_t limit;       /* max results (rows, items, paths); 0 = no limit
                           (kg_query_path with all: KG_QUERY_PATHS_DEFAULT) */
    uint64_t deadline;  /* CLOCK_MONOTONIC ns; 0 = none */
    unsigned max_depth; /* neighbors/subgraph: BFS depth (0 = 1);
                           path: max length in edges (0 = no cap) */
} kg_query_opts;

/* Cap on the number of shortest paths returned with all = true when
 * opts.limit is 0 (their number can grow exponentially). */
#define KG_QUERY_PATHS_DEFAULT 1000
/* Most patterns a match query may have. */
#define KG_QUERY_MATCH_MAX_PATTERNS 32
/* Most qualifier terms in one match pattern or relations query. */
#define KG_QUERY_MAX_QUALS 32

/* The current CLOCK_MONOTONIC time in ns, to build deadlines:
 * opts.deadline = kg_query_clock_ns() + 500 * 1000000ull. */
uint64_t kg_query_clock_ns(void);
/* The same clock at the kernel tick's resolution (CLOCK_MONOTONIC_COARSE,
 * a few ms; it may lag kg_query_clock_ns by that much), for deadlines
 * set per request where a timer read would be a measurable cost. */
uint64_t kg_query_clock_coarse_ns(void);

/* ---- dates ----------------------------------------------------------------- */

/* A (partial) date as the inclusive range of days it covers, each day
 * encoded as YYYYMMDD (so that ranges compare as integers). */
typedef struct kg_date_range {
    int32_t first; /* e.g. 20241001 for "2024-10" */
    int32_t last;  /* e.g. 20241031 for "2024-10" */
} kg_date_range;

/* Parse "YYYY", "YYYY-MM" or "YYYY-MM-DD" (year 0001..9999, month and day
 * checked, leap years included). Returns 0 or KG_EINVAL. */
int kg_date_parse(const char *s, kg_date_range *out);

/* Is relation r in force on day (YYYYMMDD), by the rules above? */
bool kg_relation_in_force(const kg_graph *g, kg_rid r, int32_t day);

/* ---- relations ------------------------------------------------------------- */

typedef struct kg_relations_query {
    const char *subject;  /* entity name, NULL = any */
    const char *relation; /* relation kind, NULL = any */
    const char *object;   /* entity name, NULL = any */
    /* Qualifier filters, all must hold: value != NULL means the qualifier
     * key has exactly that value (case-sensitive); value == NULL means the
     * key is present with any value. At most KG_QUERY_MAX_QUALS. */
    const kg_pair *where;
    size_t n_where;
    kg_query_opts opts; /* as_of, limit, deadline (max_depth unused) */
} kg_relations_query;

typedef struct kg_rid_list {
    kg_rid *ids;    /* ascending handle order; owned, kg_rid_list_free */
    size_t n;
    bool truncated; /* more matched than opts.limit */
} kg_rid_list;

/* The relations matching q, in ascending handle order. Uses the most
 * selective index: the subject's out-adjacency (restricted to the kind by
 * binary search), or the object's in-adjacency, whichever is smaller;
 * with neither entity given, a scan of all relations. Returns 0,
 * KG_ENOTFOUND (unknown subject/object name), KG_EINVAL (bad as_of, too
 * many filters), KG_ETIMEOUT or KG_ENOMEM. Caller frees res with
 * kg_rid_list_free. */
int kg_query_relations(const kg_graph *g, const kg_relations_query *q,
                       kg_rid_list *res, kg_error *err);
void kg_rid_list_free(kg_rid_list *res);

/* ---- neighbours ------------------------------------------------------------ */

typedef struct kg_neighbors_query {
    const char *entity;              /* start entity name, required */
    kg_dir dir;                      /* 0 = KG_OUT (as in the protocol) */
    const char *const *relations;    /* relation kinds to follow; */
    size_t n_relations;              /* 0 = every kind */
    kg_query_opts opts;              /* max_depth = BFS depth (0 = 1) */
} kg_neighbors_query;

typedef struct kg_neighbor {
    kg_eid entity; /* the entity reached */
    unsigned depth;/* 1 = adjacent to the start */
    kg_rid via;    /* the relation it was first reached through */
    kg_eid from;   /* the entity at depth - 1 on that relation */
    kg_dir dir;    /* KG_OUT: via was followed subject -> object (from is
                      its subject); KG_IN: object -> subject */
} kg_neighbor;

typedef struct kg_neighbor_list {
    kg_neighbor *items; /* owned, kg_neighbor_list_free */
    size_t n;
    bool truncated;     /* stopped at opts.limit entities */
} kg_neighbor_list;

/* Breadth-first search from the entity, listing each entity reached once
 * (the start itself excluded) in BFS order: level by level, and within a
 * level in the order the frontier was expanded; each entity's relations
 * are visited out-edges first, then in-edges, each sorted by (kind,
 * handle). Only relations of the listed kinds that are in force as_of are
 * followed. Self-loops and cycles are harmless. Returns 0, KG_ENOTFOUND,
 * KG_EINVAL, KG_ETIMEOUT or KG_ENOMEM. Caller frees res. */
int kg_query_neighbors(const kg_graph *g, const kg_neighbors_query *q,
                       kg_neighbor_list *res, kg_error *err);
void kg_neighbor_list_free(kg_neighbor_list *res);

/* ---- paths ----------------------------------------------------------------- */

typedef struct kg_path_query {
    const char *from;             /* entity names, required */
    const char *to;
    const char *const *relations; /* kinds to follow; 0 = every kind */
    size_t n_relations;
    kg_dir dir;                   /* 0 = KG_OUT: follow relations subject
                                     -> object only; KG_BOTH: either way;
                                     KG_IN: object -> subject only */
    bool all;                     /* every shortest path, not just one */
    kg_query_opts opts;           /* max_depth = max length (0 = no cap);
                                     limit = max paths with all */
} kg_path_query;

typedef struct kg_path_step {
    kg_rid rel;  /* the relation taken */
    kg_dir dir;  /* KG_OUT: taken subject -> object; KG_IN: backwards */
} kg_path_step;

typedef struct kg_path {
    kg_path_step *steps; /* from `from` to `to`; owned by the list */
    size_t n;            /* length in edges; 0 when from == to */
} kg_path;

typedef struct kg_path_list {
    kg_path *paths; /* owned, kg_path_list_free */
    size_t n;       /* 0 when `to` cannot be reached within max_depth */
    bool truncated; /* all: more shortest paths than the limit */
} kg_path_list;

/* Shortest path(s) by number of edges, by BFS. The shortest paths are
 * ordered lexicographically by the visiting order of kg_query_neighbors
 * (at each step: out-edges, then in-edges, each by (kind, handle)).
 * Without `all`, the first of them; with `all`, every distinct shortest
 * path (two relations between the same pair make two paths), at most
 * opts.limit of them (KG_QUERY_PATHS_DEFAULT when 0), truncated set when
 * there are more. The work is bounded by the paths returned, not by how
 * many exist. No path (or none within max_depth) is not an error:
 * res->n == 0. Returns 0, KG_ENOTFOUND, KG_EINVAL, KG_ETIMEOUT or
 * KG_ENOMEM. Caller frees res. */
int kg_query_path(const kg_graph *g, const kg_path_query *q,
                  kg_path_list *res, kg_error *err);
void kg_path_list_free(kg_path_list *res);

/* ---- subgraph -------------------------------------------------------------- */

typedef struct kg_subgraph_query {
    const char *const *seeds;     /* entity names, at least one */
    size_t n_seeds;
    const char *const *relations; /* kinds to follow; 0 = every kind */
    size_t n_relations;
    kg_dir dir;                   /* 0 = KG_BOTH */
    kg_query_opts opts;           /* max_depth = BFS depth (0 = 1; the
                                     seeds alone are not expressible: use
                                     kg_query_entities); limit = max
                                     entities, seeds included */
} kg_subgraph_query;

typedef struct kg_subgraph {
    kg_graph *graph; /* owned: kg_subgraph_free (or take it and NULL it) */
    bool truncated;  /* the BFS stopped at opts.limit entities */
} kg_subgraph;

/* A new graph holding the seeds, every entity reached from them by the
 * BFS of kg_query_neighbors, and every relation among those entities that
 * is of a listed kind and in force as_of (the induced subgraph, not only
 * the BFS tree). Entities and relations are copies with kinds, aliases,
 * attributes, qualifiers and provenance; entities are added in BFS order,
 * relations in ascending handle order of g. Returns 0, KG_ENOTFOUND,
 * KG_EINVAL, KG_ETIMEOUT or KG_ENOMEM. Caller frees res. */
int kg_query_subgraph(const kg_graph *g, const kg_subgraph_query *q,
                      kg_subgraph *res, kg_error *err);
void kg_subgraph_free(kg_subgraph *res);

/* ---- match: conjunctive triple patterns ----------------------------------- */

/* One pattern. subject, relation and object are each a constant (an
 * entity name, a relation kind) or a variable "?name" (name: letters,
 * digits, '_' and '-'). Qualifier terms: key = constant (the qualifier
 * must have exactly that value), key = "?var" (binds or joins the
 * qualifier's value), value NULL (the key must be present). A variable
 * may appear in several positions and patterns. A variable that appears
 * in a subject or object position anywhere is an entity variable: it
 * binds entities, and a string met in a relation or qualifier position is
 * resolved with kg_entity_find (a string naming no entity does not match)
 * - so origin = "?b" joins with ?b = China when the qualifier says "China"
 * or "PRC", and the row shows "China". Other variables bind strings,
 * which compare exactly. */
typedef struct kg_match_pattern {
    const char *subject;
    const char *relation;
    const char *object;
    const kg_pair *quals;
    size_t n_quals; /* at most KG_QUERY_MAX_QUALS */
} kg_match_pattern;

typedef struct kg_match_query {
    const kg_match_pattern *patterns; /* 1..KG_QUERY_MATCH_MAX_PATTERNS */
    size_t n_patterns;
    kg_query_opts opts; /* as_of, limit (rows), deadline */
} kg_match_query;

/* One step of the evaluation plan. */
typedef struct kg_match_step {
    size_t pattern;  /* index into q->patterns */
    double estimate; /* estimated candidate relations per incoming row */
} kg_match_step;

typedef struct kg_match_result {
    char **vars;          /* variable names without '?', in order of first
                             appearance in the patterns */
    size_t n_vars;
    char **cells;         /* n_rows * n_vars strings, row-major: entity
                             ids, relation kinds or qualifier values */
    size_t n_rows;
    bool truncated;       /* more distinct rows than opts.limit */
    kg_match_step *plan;  /* n_patterns steps, in evaluation order */
    size_t n_plan;
} kg_match_result;

/* Every distinct binding of the variables that satisfies all patterns
 * (relations in force as_of), rows in discovery order.
 *
 * Plan: a greedy join order. The cost estimate of a pattern, given the
 * variables bound so far, is: with a constant or bound subject, its
 * out-degree for the kind (constant kind) or in total (a bound variable
 * counts as the average out-degree for the kind); likewise the object
 * with in-degrees, the smaller of the two when both are bound; with a
 * constant relation kind only, the number of relations of that kind;
 * with nothing bound, the number of relations. The cheapest pattern is
 * evaluated next (ties: the earlier one), then nested-loop index joins.
 * The plan is returned in res->plan (an "explain").
 *
 * A constant entity name that names no entity makes the answer empty (it
 * is not an error: a match is a question). Returns 0, KG_EINVAL (bad
 * pattern, bad as_of), KG_ETIMEOUT or KG_ENOMEM. Caller frees res. */
int kg_query_match(const kg_graph *g, const kg_match_query *q,
                   kg_match_result *res, kg_error *err);
void kg_match_result_free(kg_match_result *res);

/* ---- entity listing -------------------------------------------------------- */

typedef struct kg_entities_query {
    const char *kind;   /* exact kind, NULL = any */
    const char *prefix; /* id or any alias starts with it (ASCII
                           case-insensitive); NULL or "" = any */
    size_t offset;      /* skip this many matches */
    kg_query_opts opts; /* limit, deadline (as_of, max_depth unused) */
} kg_entities_query;

typedef struct kg_eid_list {
    kg_eid *ids;    /* owned, kg_eid_list_free */
    size_t n;
    size_t total;   /* number of matches before offset and limit */
    bool truncated; /* offset + n < total */
} kg_eid_list;

/* Entities matching q, sorted by id (ASCII case-insensitive, then
 * bytewise), paged by offset and opts.limit. Returns 0, KG_ETIMEOUT or
 * KG_ENOMEM. Caller frees res. */
int kg_query_entities(const kg_graph *g, const kg_entities_query *q,
                      kg_eid_list *res, kg_error *err);
void kg_eid_list_free(kg_eid_list *res);

#ifdef __cplusplus
}
#endif
#endif
