/* test_query_random.c - kg/query.h cross-checked against brute force on
 * random multigraphs (self-loops, parallel edges, dated relations):
 * relations, neighbors, path (lengths and number of shortest paths) and
 * match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kg/graph.h"
#include "kg/query.h"

#include "test_rng.h"

#define N 24
#define M 70
#define NK 3

static tr_rng rng = {88172645463325252ull};
static unsigned rnd(unsigned n)
{
    return tr_below(&rng, n);
}

static const char *kinds[NK] = {"ka", "kb", "kc"};
static const char *dates[] = {NULL, NULL, "2020", "2021-06", "2022-02-28"};

typedef struct edge {
    int s, o, k;
    const char *date;
    kg_rid r;
} edge;

typedef struct world {
    kg_graph *g;
    kg_eid e[N];
    edge ed[M];
    int m;
} world;

static void build(world *w)
{
    w->g = kg_graph_new();
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "e%d", i);
        kg_entity_spec s = {.id = name, .kind = "thing"};
        assert_true(kg_entity_add(w->g, &s, &w->e[i], NULL) == 0);
    }
    w->m = 0;
    for (int j = 0; j < M; j++) {
        edge x = {(int)rnd(N), (int)rnd(N), (int)rnd(NK), dates[rnd(5)], 0};
        if (rnd(10) == 0)
            x.o = x.s; /* self-loop */
        kg_pair q = {"date", x.date};
        int rc = kg_relation_add_ids(w->g, w->e[x.s],
                                     kg_atom_intern(w->g, kinds[x.k], 2),
                                     w->e[x.o], &q, x.date ? 1 : 0, NULL, 0,
                                     &x.r, NULL);
        assert_true(rc >= 0);
        if (rc == 0)
            w->ed[w->m++] = x;
    }
}

/* Ask `tries` random questions (check) of each of `rounds` random worlds. */
static void on_random_worlds(int rounds, int tries, void (*check)(const world *w))
{
    for (int round = 0; round < rounds; round++) {
        world w;
        build(&w);
        for (int t = 0; t < tries; t++)
            check(&w);
        kg_graph_destroy(&w.g);
    }
}

static int idx(const world *w, kg_eid e)
{
    for (int i = 0; i < N; i++)
        if (w->e[i] == e)
            return i;
    fail_msg("entity %u not in world", e);
    return -1;
}

/* Is edge j followed given the kind mask and as_of day (0 = none)? */
static bool usable(const edge *x, unsigned kmask, int32_t day)
{
    if (!(kmask & (1u << x->k)))
        return false;
    if (day && x->date) {
        kg_date_range d;
        assert_int_equal(kg_date_parse(x->date, &d), 0);
        if (d.first > day)
            return false;
    }
    return true;
}

static const char *as_ofs[] = {NULL, "2020-12", "2021-06-15", "2021"};

/* Distances from `from` by repeated relaxation (the brute force BFS). */
static void distances(const world *w, int from, kg_dir dir, unsigned kmask,
                      int32_t day, int *dist)
{
    for (int i = 0; i < N; i++)
        dist[i] = -1;
    dist[from] = 0;
    for (int round = 0; round < N; round++)
        for (int j = 0; j < w->m; j++) {
            const edge *x = &w->ed[j];
            if (!usable(x, kmask, day))
                continue;
            if ((dir & KG_OUT) && dist[x->s] >= 0 &&
                (dist[x->o] < 0 || dist[x->o] > dist[x->s] + 1))
                dist[x->o] = dist[x->s] + 1;
            if ((dir & KG_IN) && dist[x->o] >= 0 &&
                (dist[x->s] < 0 || dist[x->s] > dist[x->o] + 1))
                dist[x->s] = dist[x->o] + 1;
        }
}

static size_t kind_list(unsigned kmask, const char **out)
{
    size_t n = 0;
    for (int k = 0; k < NK; k++)
        if (kmask & (1u << k))
            out[n++] = kinds[k];
    return n;
}

static int32_t day_of(const char *as_of)
{
    kg_date_range d;
    if (!as_of)
        return 0;
    assert_int_equal(kg_date_parse(as_of, &d), 0);
    return d.last;
}

/* A random walk question, as neighbors and subgraph ask it: from entity
 * `from`, in directions dir, over the kinds in kmask (kl[0..nk-1] by
 * name), at most depth steps, as of a date (or none: day 0); and the brute
 * force's answer, every entity's distance (-1: not reached). */
typedef struct walk {
    int from;
    kg_dir dir;
    unsigned kmask, depth;
    const char *as_of;
    int32_t day;
    const char *kl[NK];
    size_t nk;
    int dist[N];
} walk;

static void random_walk(const world *w, walk *a, unsigned max_depth)
{
    a->from = (int)rnd(N);
    a->dir = (kg_dir)(1 + rnd(3));
    a->kmask = 1 + rnd(7);
    a->depth = 1 + rnd(max_depth);
    a->as_of = as_ofs[rnd(4)];
    a->day = day_of(a->as_of);
    a->nk = kind_list(a->kmask, a->kl);
    distances(w, a->from, a->dir, a->kmask, a->day, a->dist);
}

static void neighbors_once(const world *w)
{
    walk a;
    random_walk(w, &a, 4);
    char name[16];
    snprintf(name, sizeof name, "E%d", a.from); /* case-insensitive */
    kg_neighbors_query q = {.entity = name, .dir = a.dir,
                            .relations = a.kl, .n_relations = a.nk,
                            .opts = {.as_of = a.as_of, .max_depth = a.depth}};
    kg_neighbor_list l;
    assert_int_equal(kg_query_neighbors(w->g, &q, &l, NULL), 0);
    int expect = 0;
    for (int i = 0; i < N; i++)
        if (i != a.from && a.dist[i] > 0 && a.dist[i] <= (int)a.depth)
            expect++;
    assert_int_equal(l.n, (size_t)expect);
    unsigned prev = 1;
    for (size_t i = 0; i < l.n; i++) {
        const kg_neighbor *nb = &l.items[i];
        int v = idx(w, nb->entity);
        assert_int_equal(nb->depth, (unsigned)a.dist[v]);
        assert_true(nb->depth >= prev); /* BFS order */
        prev = nb->depth;
        kg_eid s = kg_relation_subject(w->g, nb->via);
        kg_eid o = kg_relation_object(w->g, nb->via);
        if (nb->dir == KG_OUT) {
            assert_true(s == nb->from && o == nb->entity);
        } else {
            assert_int_equal(nb->dir, KG_IN);
            assert_true(o == nb->from && s == nb->entity);
        }
        assert_true(a.dir & nb->dir);
    }
    kg_neighbor_list_free(&l);
}

static void test_random_neighbors(void **state)
{
    (void)state;
    on_random_worlds(40, 10, neighbors_once);
}

/* Number of distinct shortest paths (sequences of relations) from `from`
 * to every entity, by dynamic programming over the distance layers. */
static void count_paths(const world *w, int from, kg_dir dir, unsigned kmask,
                        int32_t day, const int *dist, double *cnt)
{
    for (int i = 0; i < N; i++)
        cnt[i] = 0;
    cnt[from] = 1;
    for (int d = 1; d < N; d++)
        for (int j = 0; j < w->m; j++) {
            const edge *x = &w->ed[j];
            if (!usable(x, kmask, day))
                continue;
            if ((dir & KG_OUT) && dist[x->s] == d - 1 && dist[x->o] == d)
                cnt[x->o] += cnt[x->s];
            /* a self-loop followed backwards is the same as forwards but
             * can never lie on a shortest path, so no double count */
            if ((dir & KG_IN) && dist[x->o] == d - 1 && dist[x->s] == d)
                cnt[x->s] += cnt[x->o];
        }
}

static void paths_once(const world *w)
{
    int from = (int)rnd(N), to = (int)rnd(N);
    kg_dir dir = (kg_dir)(1 + rnd(3));
    unsigned kmask = 1 + rnd(7);
    const char *as_of = as_ofs[rnd(4)];
    const char *kl[NK];
    size_t nk = kind_list(kmask, kl);
    char fn[16], tn[16];
    snprintf(fn, sizeof fn, "e%d", from);
    snprintf(tn, sizeof tn, "e%d", to);
    size_t limit = 1 + rnd(50);
    kg_path_query q = {.from = fn, .to = tn, .relations = kl,
                       .n_relations = nk, .dir = dir,
                       .all = rnd(2) == 0,
                       .opts = {.as_of = as_of, .limit = limit}};
    int dist[N];
    double cnt[N];
    int32_t day = day_of(as_of);
    distances(w, from, dir, kmask, day, dist);
    count_paths(w, from, dir, kmask, day, dist, cnt);
    kg_path_list l;
    assert_int_equal(kg_query_path(w->g, &q, &l, NULL), 0);
    if (dist[to] < 0) {
        assert_int_equal(l.n, 0);
        kg_path_list_free(&l);
        return;
    }
    size_t want = q.all ? (cnt[to] < (double)limit ? (size_t)cnt[to]
                                                  : limit)
                        : 1;
    assert_int_equal(l.n, want);
    assert_int_equal(l.truncated, q.all && cnt[to] > (double)limit);
    for (size_t p = 0; p < l.n; p++) {
        const kg_path *path = &l.paths[p];
        assert_int_equal(path->n, (size_t)dist[to]);
        kg_eid at = w->e[from];
        for (size_t i = 0; i < path->n; i++) {
            kg_rid r = path->steps[i].rel;
            kg_eid s = kg_relation_subject(w->g, r);
            kg_eid o = kg_relation_object(w->g, r);
            if (path->steps[i].dir == KG_OUT) {
                assert_int_equal(s, at);
                at = o;
            } else {
                assert_int_equal(o, at);
                at = s;
            }
            assert_true(dir & path->steps[i].dir);
        }
        assert_int_equal(at, w->e[to]);
        for (size_t p2 = 0; p2 < p; p2++) /* distinct */
            assert_true(memcmp(l.paths[p2].steps, path->steps,
                               path->n * sizeof *path->steps) != 0 ||
                        path->n == 0);
    }
    kg_path_list_free(&l);
}

static void test_random_paths(void **state)
{
    (void)state;
    on_random_worlds(40, 15, paths_once);
}

static void match_once(const world *w)
{
    /* [?a K1 ?b] [?b ?k ?c {date: ?d}] (and sometimes ?c = ?a) */
    int k1 = (int)rnd(NK);
    bool close = rnd(2) == 0;
    const char *as_of = as_ofs[rnd(4)];
    int32_t day = day_of(as_of);
    kg_pair qd = {"date", "?d"};
    kg_match_pattern p[2] = {
        {"?a", kinds[k1], "?b", NULL, 0},
        {"?b", "?k", close ? "?a" : "?c", &qd, 1},
    };
    kg_match_query q = {.patterns = p, .n_patterns = 2,
                        .opts.as_of = as_of};
    kg_match_result r;
    assert_int_equal(kg_query_match(w->g, &q, &r, NULL), 0);
    /* brute force: distinct (a, b, k, c, d) */
    char rows[M * M][64];
    size_t n = 0;
    for (int i = 0; i < w->m; i++) {
        const edge *x = &w->ed[i];
        if (x->k != k1 || !usable(x, 7, day))
            continue;
        for (int j = 0; j < w->m; j++) {
            const edge *y = &w->ed[j];
            if (y->s != x->o || !y->date || !usable(y, 7, day))
                continue;
            if (close && y->o != x->s)
                continue;
            char row[64];
            if (close)
                snprintf(row, sizeof row, "e%d|e%d|%s|%s", x->s, x->o,
                         kinds[y->k], y->date);
            else
                snprintf(row, sizeof row, "e%d|e%d|%s|e%d|%s", x->s,
                         x->o, kinds[y->k], y->o, y->date);
            size_t z = 0;
            while (z < n && strcmp(rows[z], row) != 0)
                z++;
            if (z == n)
                strcpy(rows[n++], row);
        }
    }
    assert_int_equal(r.n_rows, n);
    assert_int_equal(r.n_vars, close ? 4 : 5);
    for (size_t i = 0; i < r.n_rows; i++) {
        char row[64] = "";
        for (size_t v = 0; v < r.n_vars; v++) {
            if (v)
                strcat(row, "|");
            strcat(row, r.cells[i * r.n_vars + v]);
        }
        size_t z = 0;
        while (z < n && strcmp(rows[z], row) != 0)
            z++;
        assert_true(z < n);
    }
    kg_match_result_free(&r);
}

static void test_random_match(void **state)
{
    (void)state;
    on_random_worlds(30, 6, match_once);
}

static void relations_once(const world *w)
{
    int s = rnd(3) ? -1 : (int)rnd(N);
    int o = rnd(3) ? -1 : (int)rnd(N);
    int k = rnd(2) ? -1 : (int)rnd(NK);
    const char *as_of = as_ofs[rnd(4)];
    char sn[16], on[16];
    snprintf(sn, sizeof sn, "e%d", s);
    snprintf(on, sizeof on, "e%d", o);
    kg_pair has_date = {"date", NULL};
    bool wd = rnd(3) == 0;
    kg_relations_query q = {
        .subject = s < 0 ? NULL : sn, .object = o < 0 ? NULL : on,
        .relation = k < 0 ? NULL : kinds[k], .where = &has_date,
        .n_where = wd ? 1 : 0, .opts.as_of = as_of};
    kg_rid_list l;
    assert_int_equal(kg_query_relations(w->g, &q, &l, NULL), 0);
    kg_rid want[M];
    size_t n = 0;
    for (int j = 0; j < w->m; j++) {
        const edge *x = &w->ed[j];
        if ((s >= 0 && x->s != s) || (o >= 0 && x->o != o) ||
            (k >= 0 && x->k != k) || (wd && !x->date) ||
            !usable(x, 7, day_of(as_of)))
            continue;
        want[n++] = x->r;
    }
    /* handles ascend in insertion order in a fresh graph */
    assert_int_equal(l.n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(l.ids[i], want[i]);
    kg_rid_list_free(&l);
}

static void test_random_relations(void **state)
{
    (void)state;
    on_random_worlds(30, 20, relations_once);
}

static void subgraph_once(const world *w)
{
    walk a; /* from: the seed */
    random_walk(w, &a, 3);
    char name[16];
    snprintf(name, sizeof name, "e%d", a.from);
    const char *seeds[] = {name};
    kg_subgraph_query q = {.seeds = seeds, .n_seeds = 1, .relations = a.kl,
                           .n_relations = a.nk, .dir = a.dir,
                           .opts = {.as_of = a.as_of, .max_depth = a.depth}};
    kg_subgraph sg;
    assert_int_equal(kg_query_subgraph(w->g, &q, &sg, NULL), 0);
    bool in[N];
    size_t ne = 0, nr = 0;
    for (int i = 0; i < N; i++) {
        in[i] = a.dist[i] >= 0 && a.dist[i] <= (int)a.depth;
        ne += in[i];
        snprintf(name, sizeof name, "e%d", i);
        assert_int_equal(kg_entity_find(sg.graph, name) != KG_NONE, in[i]);
    }
    for (int j = 0; j < w->m; j++) {
        const edge *x = &w->ed[j];
        if (in[x->s] && in[x->o] && usable(x, a.kmask, a.day))
            nr++;
    }
    assert_int_equal(kg_entity_count(sg.graph), ne);
    assert_int_equal(kg_relation_count(sg.graph), nr);
    kg_subgraph_free(&sg);
}

static void test_random_subgraph(void **state)
{
    (void)state;
    on_random_worlds(30, 6, subgraph_once);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_relations),
        cmocka_unit_test(test_random_neighbors),
        cmocka_unit_test(test_random_paths),
        cmocka_unit_test(test_random_match),
        cmocka_unit_test(test_random_subgraph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
