/* traverse.c - breadth-first queries: neighbors, shortest paths, subgraph.
 *
 * Visited sets are hash maps rather than arrays indexed by handle, so that
 * a shallow query costs in proportion to what it touches, not to the size
 * of the graph. */
#include <stdlib.h>
#include <string.h>

#include "qint.h"

#define TIMEOUT(err) kg_error_set(err, KG_ETIMEOUT, "query ran past its deadline")
#define NOMEM(err) kg_error_set(err, KG_ENOMEM, "out of memory")

/* ---- neighbours ------------------------------------------------------------- */

void kg_neighbor_list_free(kg_neighbor_list *res)
{
    if (!res)
        return;
    free(res->items);
    memset(res, 0, sizeof *res);
}

/* The BFS shared by neighbors and subgraph. seeds are marked visited and
 * not listed. Stops after depth levels, or when `limit` entities (counting
 * n_seeds) are listed and another is found (*truncated). */
static int bfs(const kg_graph *g, const kg_q_follow *f, const kg_eid *seeds,
               size_t n_seeds, unsigned depth, size_t limit,
               kg_q_clock *clk, kg_q_map *seen, kg_neighbor_list *out,
               kg_error *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < n_seeds; i++)
        if (kg_q_map_put(seen, seeds[i], 0) < 0)
            return NOMEM(err);
    /* Frontier of level d: seeds for d = 0, then out->items[lo..hi). */
    size_t lo = 0, hi = 0;
    for (unsigned d = 0; d < depth; d++) {
        size_t nf = d == 0 ? n_seeds : hi - lo;
        if (nf == 0)
            break;
        size_t level_start = out->n;
        for (size_t i = 0; i < nf; i++) {
            kg_eid u = d == 0 ? seeds[i] : out->items[lo + i].entity;
            kg_q_edges it;
            kg_q_edges_start(&it, u);
            kg_rid r;
            kg_eid v;
            kg_dir dir;
            while (kg_q_edges_next(g, f, &it, &r, &v, &dir)) {
                if (kg_q_expired(clk))
                    return TIMEOUT(err);
                int put = kg_q_map_put(seen, v, d + 1);
                if (put < 0)
                    return NOMEM(err);
                if (put == 0)
                    continue;
                if (limit && n_seeds + out->n >= limit) {
                    out->truncated = true;
                    return 0;
                }
                if (kg_q_grow((void **)&out->items, &cap, out->n,
                              sizeof *out->items))
                    return NOMEM(err);
                out->items[out->n++] = (kg_neighbor){
                    .entity = v, .depth = d + 1, .via = r, .from = u,
                    .dir = dir};
            }
        }
        lo = level_start;
        hi = out->n;
    }
    return 0;
}

int kg_query_neighbors(const kg_graph *g, const kg_neighbors_query *q,
                       kg_neighbor_list *res, kg_error *err)
{
    if (!res)
        return kg_error_set(err, KG_EINVAL, "no result");
    memset(res, 0, sizeof *res);
    if (!g || !q)
        return kg_error_set(err, KG_EINVAL, "no graph or query");
    kg_eid start;
    int rc = kg_q_entity(g, q->entity, "neighbors", &start, err);
    if (rc)
        return rc;
    kg_q_follow f;
    rc = kg_q_follow_init(&f, g, q->relations, q->n_relations,
                          q->dir ? q->dir : KG_OUT, q->opts.as_of, err);
    if (rc)
        return rc;
    kg_q_clock clk = {q->opts.deadline, 0};
    kg_q_map seen = {0};
    unsigned depth = q->opts.max_depth ? q->opts.max_depth : 1;
    /* The start is not listed, so the limit counts only the others. */
    rc = bfs(g, &f, &start, 1, depth, q->opts.limit ? q->opts.limit + 1 : 0,
             &clk, &seen, res, err);
    kg_q_map_free(&seen);
    kg_q_follow_free(&f);
    if (rc)
        kg_neighbor_list_free(res);
    return rc;
}

/* ---- paths ------------------------------------------------------------------ */

void kg_path_list_free(kg_path_list *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n; i++)
        free(res->paths[i].steps);
    free(res->paths);
    memset(res, 0, sizeof *res);
}

/* Append a copy of steps[0..n) as a path. */
static int path_emit(kg_path_list *res, size_t *cap, const kg_path_step *steps,
                     size_t n)
{
    if (kg_q_grow((void **)&res->paths, cap, res->n, sizeof *res->paths))
        return KG_ENOMEM;
    kg_path *p = &res->paths[res->n];
    p->n = n;
    p->steps = NULL;
    if (n) {
        p->steps = malloc(n * sizeof *p->steps);
        if (!p->steps)
            return KG_ENOMEM;
        memcpy(p->steps, steps, n * sizeof *steps);
    }
    res->n++;
    return 0;
}

/* The shortest-path DAG is found in three passes:
 *  1. BFS from `from` recording each entity's distance, stopping as soon
 *     as `to` is reached (every entity closer than `to` is known by then);
 *  2. backwards from `to`, mark the entities that lie on a shortest path
 *     (predecessors at distance exactly one less);
 *  3. a depth-first walk from `from` over marked entities in visiting
 *     order emits the paths in lexicographic visiting order.
 * Pass 3 is bounded by the number of paths emitted (limit), not by their
 * total number, and checks the deadline. */
int kg_query_path(const kg_graph *g, const kg_path_query *q, kg_path_list *res,
                  kg_error *err)
{
    if (!res)
        return kg_error_set(err, KG_EINVAL, "no result");
    memset(res, 0, sizeof *res);
    if (!g || !q)
        return kg_error_set(err, KG_EINVAL, "no graph or query");
    kg_eid from, to;
    int rc = kg_q_entity(g, q->from, "path", &from, err);
    if (!rc)
        rc = kg_q_entity(g, q->to, "path", &to, err);
    if (rc)
        return rc;
    kg_dir dir = q->dir ? q->dir : KG_OUT;
    kg_q_follow f, back;
    rc = kg_q_follow_init(&f, g, q->relations, q->n_relations, dir,
                          q->opts.as_of, err);
    if (rc)
        return rc;
    rc = kg_q_follow_init(&back, g, q->relations, q->n_relations,
                          dir == KG_BOTH ? KG_BOTH : (kg_dir)(KG_BOTH ^ dir),
                          q->opts.as_of, err);
    if (rc) {
        kg_q_follow_free(&f);
        return rc;
    }
    size_t limit = q->all ? (q->opts.limit ? q->opts.limit
                                           : KG_QUERY_PATHS_DEFAULT)
                          : 1;
    size_t pcap = 0;
    kg_q_clock clk = {q->opts.deadline, 0};
    kg_q_map dist = {0}, useful = {0};
    kg_eid *queue = NULL;
    size_t qcap = 0, qn = 0;
    kg_q_edges *stack = NULL;
    kg_path_step *steps = NULL;

    if (from == to) {
        rc = path_emit(res, &pcap, NULL, 0) ? NOMEM(err) : 0;
        goto done;
    }
    /* 1. BFS distances. */
    unsigned maxd = q->opts.max_depth ? q->opts.max_depth : UINT32_MAX;
    if (kg_q_map_put(&dist, from, 0) < 0 ||
        kg_q_grow((void **)&queue, &qcap, 0, sizeof *queue)) {
        rc = NOMEM(err);
        goto done;
    }
    queue[qn++] = from;
    bool found = false;
    for (size_t qi = 0; qi < qn && !found; qi++) {
        kg_eid u = queue[qi];
        uint32_t du = kg_q_map_get(&dist, u);
        if (du >= maxd)
            break; /* BFS order: every later entity is at least as far */
        kg_q_edges it;
        kg_q_edges_start(&it, u);
        kg_rid r;
        kg_eid v;
        kg_dir d;
        while (kg_q_edges_next(g, &f, &it, &r, &v, &d)) {
            if (kg_q_expired(&clk)) {
                rc = TIMEOUT(err);
                goto done;
            }
            int put = kg_q_map_put(&dist, v, du + 1);
            if (put < 0 || (put && kg_q_grow((void **)&queue, &qcap, qn,
                                              sizeof *queue))) {
                rc = NOMEM(err);
                goto done;
            }
            if (!put)
                continue;
            queue[qn++] = v;
            if (v == to) {
                found = true;
                break;
            }
        }
    }
    if (!found)
        goto done; /* no path: an empty answer */
    uint32_t len = kg_q_map_get(&dist, to);

    /* 2. Entities on a shortest path: backwards from `to`, reusing the
     * queue. */
    qn = 0;
    if (kg_q_map_put(&useful, to, 0) < 0) {
        rc = NOMEM(err);
        goto done;
    }
    queue[qn++] = to;
    for (size_t qi = 0; qi < qn; qi++) {
        kg_eid v = queue[qi];
        uint32_t dv = kg_q_map_get(&dist, v);
        if (dv == 0)
            continue;
        kg_q_edges it;
        kg_q_edges_start(&it, v);
        kg_rid r;
        kg_eid u;
        kg_dir d;
        while (kg_q_edges_next(g, &back, &it, &r, &u, &d)) {
            if (kg_q_expired(&clk)) {
                rc = TIMEOUT(err);
                goto done;
            }
            uint32_t du = kg_q_map_get(&dist, u);
            if (du == KG_NONE || du + 1 != dv)
                continue;
            int put = kg_q_map_put(&useful, u, 0);
            if (put < 0 || (put && kg_q_grow((void **)&queue, &qcap, qn,
                                              sizeof *queue))) {
                rc = NOMEM(err);
                goto done;
            }
            if (put)
                queue[qn++] = u;
        }
    }

    /* 3. Depth-first enumeration with an explicit stack of edge iterators
     * (a path may be as long as the graph is large). */
    stack = malloc((size_t)len * sizeof *stack);
    steps = malloc((size_t)len * sizeof *steps);
    if (!stack || !steps) {
        rc = NOMEM(err);
        goto done;
    }
    size_t top = 0;
    kg_q_edges_start(&stack[0], from);
    for (;;) {
        kg_rid r;
        kg_eid v;
        kg_dir d;
        bool more = false;
        while (kg_q_edges_next(g, &f, &stack[top], &r, &v, &d)) {
            if (kg_q_expired(&clk)) {
                rc = TIMEOUT(err);
                goto done;
            }
            if (kg_q_map_get(&dist, v) == top + 1 &&
                kg_q_map_get(&useful, v) != KG_NONE) {
                more = true;
                break;
            }
        }
        if (!more) {
            if (top == 0)
                break;
            top--;
            continue;
        }
        steps[top] = (kg_path_step){r, d};
        if (top + 1 == len) {
            if (res->n == limit) {
                res->truncated = true;
                break;
            }
            if (path_emit(res, &pcap, steps, len)) {
                rc = NOMEM(err);
                goto done;
            }
            if (!q->all)
                break;
            continue;
        }
        top++;
        kg_q_edges_start(&stack[top], v);
    }
    rc = 0;
done:
    free(queue);
    free(stack);
    free(steps);
    kg_q_map_free(&dist);
    kg_q_map_free(&useful);
    kg_q_follow_free(&f);
    kg_q_follow_free(&back);
    if (rc)
        kg_path_list_free(res);
    return rc;
}

/* ---- subgraph --------------------------------------------------------------- */

void kg_subgraph_free(kg_subgraph *res)
{
    if (!res)
        return;
    kg_graph_destroy(&res->graph);
    res->truncated = false;
}

static int rid_cmp(const void *a, const void *b)
{
    kg_rid x = *(const kg_rid *)a, y = *(const kg_rid *)b;
    return x < y ? -1 : x > y;
}

/* Copy entity e of g into out: pass 1 with id and kind only (so that an
 * alias of an earlier entity cannot capture a later id), pass 2 merges
 * aliases and attributes by id. */
static int copy_entity(kg_graph *out, const kg_graph *g, kg_eid e, bool full,
                       kg_eid *ne, kg_error *err)
{
    kg_entity_spec spec = {.id = kg_entity_id(g, e),
                           .kind = kg_entity_kind(g, e)};
    const char **aliases = NULL;
    kg_pair *attrs = NULL;
    if (full) {
        size_t na = kg_entity_alias_count(g, e), nt = kg_entity_attr_count(g, e);
        aliases = malloc((na ? na : 1) * sizeof *aliases);
        attrs = malloc((nt ? nt : 1) * sizeof *attrs);
        if (!aliases || !attrs) {
            free(aliases);
            free(attrs);
            return NOMEM(err);
        }
        for (size_t i = 0; i < na; i++)
            aliases[i] = kg_entity_alias(g, e, i);
        for (size_t i = 0; i < nt; i++)
            attrs[i] = kg_entity_attr(g, e, i);
        spec.aliases = aliases;
        spec.n_aliases = na;
        spec.attrs = attrs;
        spec.n_attrs = nt;
    }
    int rc = kg_entity_add(out, &spec, ne, err);
    free(aliases);
    free(attrs);
    return rc < 0 ? rc : 0;
}

static int copy_relation(kg_graph *out, const kg_graph *g, kg_rid r,
                         kg_eid s, kg_eid o, kg_error *err)
{
    const char *k = kg_relation_kind(g, r);
    kg_atom kind = kg_atom_intern(out, k, strlen(k));
    if (kind == KG_NONE)
        return NOMEM(err);
    size_t nq = kg_relation_qual_count(g, r), np = kg_relation_prov_count(g, r);
    kg_pair *pairs = malloc((nq + np + 1) * sizeof *pairs);
    if (!pairs)
        return NOMEM(err);
    for (size_t i = 0; i < nq; i++)
        pairs[i] = kg_relation_qual(g, r, i);
    for (size_t i = 0; i < np; i++)
        pairs[nq + i] = kg_relation_prov(g, r, i);
    int rc = kg_relation_add_ids(out, s, kind, o, pairs, nq, pairs + nq, np,
                                 NULL, err);
    free(pairs);
    return rc < 0 ? rc : 0;
}

int kg_query_subgraph(const kg_graph *g, const kg_subgraph_query *q,
                      kg_subgraph *res, kg_error *err)
{
    if (!res)
        return kg_error_set(err, KG_EINVAL, "no result");
    memset(res, 0, sizeof *res);
    if (!g || !q)
        return kg_error_set(err, KG_EINVAL, "no graph or query");
    if (q->n_seeds == 0 || !q->seeds)
        return kg_error_set(err, KG_EINVAL, "subgraph: no seed entity");
    kg_eid *seeds = malloc(q->n_seeds * sizeof *seeds);
    if (!seeds)
        return NOMEM(err);
    size_t ns = 0;
    kg_q_map seen = {0}, map = {0};
    kg_q_follow f = {0};
    kg_neighbor_list reached = {0};
    kg_rid *rels = NULL;
    size_t nr = 0, rcap = 0;
    int rc = 0;
    for (size_t i = 0; i < q->n_seeds; i++) {
        kg_eid e;
        if ((rc = kg_q_entity(g, q->seeds[i], "subgraph", &e, err)))
            goto done;
        int put = kg_q_map_put(&map, e, 0); /* dedupe the seeds */
        if (put < 0) {
            rc = NOMEM(err);
            goto done;
        }
        if (put)
            seeds[ns++] = e;
    }
    kg_q_map_free(&map);
    if (q->opts.limit && ns > q->opts.limit) {
        ns = q->opts.limit;
        res->truncated = true;
    }
    rc = kg_q_follow_init(&f, g, q->relations, q->n_relations,
                          q->dir ? q->dir : KG_BOTH, q->opts.as_of, err);
    if (rc)
        goto done;
    kg_q_clock clk = {q->opts.deadline, 0};
    unsigned depth = q->opts.max_depth ? q->opts.max_depth : 1;
    if (!res->truncated) {
        rc = bfs(g, &f, seeds, ns, depth, q->opts.limit, &clk, &seen,
                 &reached, err);
        if (rc)
            goto done;
        res->truncated = reached.truncated;
    }

    /* The induced relations: out-edges of every member whose object is a
     * member (each relation is seen once, from its subject). The kind
     * filter and as_of apply; the direction does not. */
    kg_q_follow outf = f;
    outf.dirs = KG_OUT;
    size_t total = ns + reached.n;
    /* `seen` may hold entities found after the limit was hit; rebuild the
     * member set from the listed ones only. */
    kg_q_map_free(&seen);
    for (size_t i = 0; i < total; i++) {
        kg_eid u = i < ns ? seeds[i] : reached.items[i - ns].entity;
        if (kg_q_map_put(&seen, u, (uint32_t)i) < 0) {
            rc = NOMEM(err);
            goto done;
        }
    }
    for (size_t i = 0; i < total; i++) {
        kg_eid u = i < ns ? seeds[i] : reached.items[i - ns].entity;
        kg_q_edges it;
        kg_q_edges_start(&it, u);
        kg_rid r;
        kg_eid v;
        kg_dir d;
        while (kg_q_edges_next(g, &outf, &it, &r, &v, &d)) {
            if (kg_q_expired(&clk)) {
                rc = TIMEOUT(err);
                goto done;
            }
            if (kg_q_map_get(&seen, v) == KG_NONE)
                continue;
            if (kg_q_grow((void **)&rels, &rcap, nr, sizeof *rels)) {
                rc = NOMEM(err);
                goto done;
            }
            rels[nr++] = r;
        }
    }
    if (nr > 1)
        qsort(rels, nr, sizeof *rels, rid_cmp);

    res->graph = kg_graph_new();
    kg_eid *ne = malloc((total ? total : 1) * sizeof *ne);
    if (!res->graph || !ne) {
        free(ne);
        rc = NOMEM(err);
        goto done;
    }
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (size_t i = 0; i < total && !rc; i++) {
            kg_eid u = i < ns ? seeds[i] : reached.items[i - ns].entity;
            rc = copy_entity(res->graph, g, u, pass == 1, &ne[i], err);
        }
    /* A subgraph around a hub gives one entity many relations: a bulk
     * scope sorts its adjacency once (kg_graph_bulk_begin). */
    kg_graph_bulk_begin(res->graph);
    for (size_t i = 0; i < nr && !rc; i++) {
        kg_rid r = rels[i];
        uint32_t si = kg_q_map_get(&seen, kg_relation_subject(g, r));
        uint32_t oi = kg_q_map_get(&seen, kg_relation_object(g, r));
        rc = copy_relation(res->graph, g, r, ne[si], ne[oi], err);
    }
    kg_graph_bulk_end(res->graph);
    free(ne);
done:
    free(seeds);
    free(rels);
    kg_q_map_free(&seen);
    kg_q_map_free(&map);
    kg_q_follow_free(&f);
    kg_neighbor_list_free(&reached);
    if (rc)
        kg_subgraph_free(res);
    return rc;
}
