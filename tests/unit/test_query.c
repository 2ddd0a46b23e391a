/* test_query.c - kg/query.h on small hand-built graphs: dates and as_of,
 * relations, neighbors, path, subgraph, match (and its plan), entities,
 * limits, deadlines and unknown names. */
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

static kg_eid ent(kg_graph *g, const char *id, const char *kind,
                  const char *alias)
{
    kg_entity_spec s = {.id = id, .kind = kind, .aliases = &alias,
                        .n_aliases = alias ? 1 : 0};
    kg_eid e = KG_NONE;
    assert_true(kg_entity_add(g, &s, &e, NULL) >= 0);
    return e;
}

/* Add subject -relation-> object with up to two qualifiers "k=v". */
static kg_rid rel(kg_graph *g, const char *s, const char *k, const char *o,
                  const char *q1k, const char *q1v, const char *q2k,
                  const char *q2v)
{
    kg_pair q[2] = {{q1k, q1v}, {q2k, q2v}};
    kg_relation_spec r = {.subject = s, .relation = k, .object = o,
                          .quals = q, .n_quals = q2k ? 2 : q1k ? 1 : 0};
    kg_rid id = KG_NONE;
    assert_true(kg_relation_add(g, &r, &id, NULL) >= 0);
    return id;
}
#define REL(g, s, k, o) rel(g, s, k, o, NULL, NULL, NULL, NULL)

/* n<i> -k-> n<j>, for graphs of numbered entities. */
static void rel_n(kg_graph *g, int i, const char *k, int j)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "n%d", i);
    snprintf(b, sizeof b, "n%d", j);
    REL(g, a, k, b);
}

/* A query kind as the macros below take it: the name after kg_query_, the
 * result type, and the result's field that counts what was found. */
#define RELATIONS relations, kg_rid_list, n
#define NEIGHBORS neighbors, kg_neighbor_list, n
#define PATHS path, kg_path_list, n
#define ROWS match, kg_match_result, n_rows
#define ENTITIES entities, kg_eid_list, total

/* assert_query(K, g, q, err, rc, want): query q of kind K on g returns rc
 * and counts want; the result is freed. Macros, so that a failure names
 * the caller's line. */
#define assert_query(...) assert_query_(__VA_ARGS__) /* K: three arguments */
#define assert_query_(kind, list, field, g, q, err, rc, want)                \
    do {                                                                     \
        list r_;                                                             \
        assert_int_equal(kg_query_##kind(g, q, &r_, err), rc);               \
        assert_int_equal(r_.field, want);                                    \
        list##_free(&r_);                                                    \
    } while (0)
/* q succeeds and finds want things */
#define assert_found(K, g, q, want) assert_query(K, g, q, NULL, 0, want)
/* q fails with rc (the message in err) and leaves an empty result */
#define assert_refused(K, g, q, err, rc) assert_query(K, g, q, err, rc, 0)

/* ---- dates ------------------------------------------------------------------ */

static void test_date_parse(void **state)
{
    (void)state;
    /* The days each text covers; 0: not a date (KG_EINVAL). */
    static const struct {
        const char *text;
        int32_t first, last;
    } cases[] = {
        {"2025-06-01", 20250601, 20250601},
        {"2024-10", 20241001, 20241031},
        {"2024-02", 20240201, 20240229}, /* leap year */
        {"2023-02", 20230201, 20230228},
        {"1900-02", 19000201, 19000228}, /* century, not leap */
        {"2000-02-29", 20000229, 20000229},
        {"2025", 20250101, 20251231},
        {"2023-02-29", 0, 0},
        {"2025-13", 0, 0},
        {"2025-00-10", 0, 0},
        {"2025-04-31", 0, 0},
        {"2025-1", 0, 0},
        {"2025/10", 0, 0},
        {"December 2025", 0, 0},
        {"0000", 0, 0},
        {"", 0, 0},
        {NULL, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kg_date_range d = {0, 0};
        int rc = kg_date_parse(cases[i].text, &d);
        int want = cases[i].first ? 0 : KG_EINVAL;
        if (rc != want || (rc == 0 && (d.first != cases[i].first ||
                                       d.last != cases[i].last)))
            fail_msg("\"%s\": rc %d, days %d..%d; expected rc %d, days %d..%d",
                     cases[i].text ? cases[i].text : "(NULL)", rc,
                     (int)d.first, (int)d.last, want, (int)cases[i].first,
                     (int)cases[i].last);
    }
}

static void test_in_force(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_rid plain = REL(g, "A", "r", "B");
    kg_rid dated = rel(g, "A", "r", "C", "date", "2024-10", NULL, NULL);
    kg_rid since = rel(g, "A", "r", "D", "since", "2024", NULL, NULL);
    kg_rid until = rel(g, "A", "r", "E", "until", "2024-10", NULL, NULL);
    kg_rid both = rel(g, "A", "r", "F", "since", "2024-03-15", "until", "2024-06");
    kg_rid bad = rel(g, "A", "r", "G", "date", "sometime", NULL, NULL);
    /* since/until present: date is ignored */
    kg_rid mix = rel(g, "A", "r", "H", "date", "2030", "until", "2020");

    /* Days each relation is in force on, and days it is not (0 ends a
     * list). */
    const struct {
        kg_rid r;
        int32_t in[4], out[4];
    } cases[] = {
        {plain, {19000101}, {0}},
        {dated, {20241001, 20241015, 20260101}, {20240930}},
        {since, {20240101}, {20231231}},
        {until, {20241031, 19990101}, {20241101}}, /* whole month */
        {both, {20240315, 20240630}, {20240314, 20240701}},
        {bad, {10000101}, {0}},
        {mix, {20100101}, {20210101}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *o = kg_entity_id(g, kg_relation_object(g, cases[i].r));
        for (int k = 0; k < 4 && cases[i].in[k]; k++)
            if (!kg_relation_in_force(g, cases[i].r, cases[i].in[k]))
                fail_msg("A -r-> %s should be in force on %d", o,
                         (int)cases[i].in[k]);
        for (int k = 0; k < 4 && cases[i].out[k]; k++)
            if (kg_relation_in_force(g, cases[i].r, cases[i].out[k]))
                fail_msg("A -r-> %s should not be in force on %d", o,
                         (int)cases[i].out[k]);
    }

    /* as_of in a query: a partial as_of stands for its last day. */
    kg_relations_query q = {.subject = "A", .opts.as_of = "2024-10"};
    kg_rid_list l;
    assert_int_equal(kg_query_relations(g, &q, &l, NULL), 0);
    /* plain, dated (from 10-01), since 2024, until 2024-10, bad */
    assert_int_equal(l.n, 5);
    assert_int_equal(l.ids[0], plain);
    assert_int_equal(l.ids[1], dated);
    assert_int_equal(l.ids[2], since);
    assert_int_equal(l.ids[3], until);
    assert_int_equal(l.ids[4], bad);
    kg_rid_list_free(&l);
    q.opts.as_of = "2024-09-30";
    assert_found(RELATIONS, g, &q, 4); /* plain, since, until, bad */
    q.opts.as_of = "2024-13";
    kg_error err;
    assert_refused(RELATIONS, g, &q, &err, KG_EINVAL);
    assert_non_null(strstr(err.message, "2024-13"));
    kg_graph_destroy(&g);
}

/* ---- relations -------------------------------------------------------------- */

/* A small trade graph used by several tests. */
static kg_graph *trade_graph(void)
{
    kg_graph *g = kg_graph_new();
    assert_non_null(g);
    ent(g, "China", "country", "PRC");
    ent(g, "France", "country", "French");
    ent(g, "European Union", "bloc", "EU");
    ent(g, "United States", "country", "US");
    ent(g, "electric vehicles", "product", "EV");
    ent(g, "cognac", "product", NULL);
    ent(g, "pork", "product", NULL);
    rel(g, "EU", "tariffs-on", "electric vehicles", "origin", "China", "date",
        "2024-10");
    rel(g, "China", "tariffs-on", "cognac", "origin", "France", NULL, NULL);
    rel(g, "China", "tariffs-on", "pork", "origin", "EU", NULL, NULL);
    rel(g, "United States", "tariffs-on", "electric vehicles", "origin",
        "China", NULL, NULL);
    REL(g, "China", "exports-to", "European Union");
    REL(g, "China", "exports-to", "France");
    REL(g, "European Union", "exports-to", "China");
    REL(g, "France", "exports-to", "United States");
    REL(g, "France", "member-of", "European Union");
    return g;
}

static void test_relations(void **state)
{
    (void)state;
    kg_graph *g = trade_graph();
    kg_rid_list l;
    kg_error err;

    kg_relations_query q = {.subject = "prc"}; /* alias, any case */
    assert_int_equal(kg_query_relations(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 4);
    for (size_t i = 1; i < l.n; i++)
        assert_true(l.ids[i - 1] < l.ids[i]); /* handle order */
    kg_rid_list_free(&l);

    q = (kg_relations_query){.subject = "China", .relation = "tariffs-on"};
    assert_int_equal(kg_query_relations(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(kg_entity_id(g, kg_relation_object(g, l.ids[0])),
                        "cognac");
    kg_rid_list_free(&l);

    q = (kg_relations_query){.object = "electric vehicles"};
    assert_found(RELATIONS, g, &q, 2);

    q = (kg_relations_query){.subject = "EU", .object = "EV"};
    assert_found(RELATIONS, g, &q, 1);

    /* kind only: a scan */
    q = (kg_relations_query){.relation = "exports-to"};
    assert_found(RELATIONS, g, &q, 4);

    /* qualifier filters: exact value, and key present */
    kg_pair w[2] = {{"origin", "China"}, {"date", NULL}};
    q = (kg_relations_query){.relation = "tariffs-on", .where = w, .n_where = 1};
    assert_found(RELATIONS, g, &q, 2);
    q.n_where = 2;
    assert_int_equal(kg_query_relations(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(kg_entity_id(g, kg_relation_subject(g, l.ids[0])),
                        "European Union");
    kg_rid_list_free(&l);
    q.where = &w[1];
    q.n_where = 1;
    q.opts.as_of = "2024-09";
    assert_found(RELATIONS, g, &q, 0);
    kg_pair w2 = {"origin", "china"}; /* values are case-sensitive */
    q = (kg_relations_query){.where = &w2, .n_where = 1};
    assert_found(RELATIONS, g, &q, 0);

    /* limit and truncated, for each index path */
    q = (kg_relations_query){.opts.limit = 3};
    assert_int_equal(kg_query_relations(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 3);
    assert_true(l.truncated);
    kg_rid_list_free(&l);
    q = (kg_relations_query){.subject = "China", .opts.limit = 2};
    assert_int_equal(kg_query_relations(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    assert_true(l.truncated);
    kg_rid first = l.ids[0];
    kg_rid_list_free(&l);
    q.opts.limit = 4;
    assert_int_equal(kg_query_relations(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 4);
    assert_false(l.truncated);
    assert_int_equal(l.ids[0], first); /* the limit keeps the first ones */
    kg_rid_list_free(&l);

    /* unknown names */
    q = (kg_relations_query){.subject = "Atlantis"};
    assert_refused(RELATIONS, g, &q, &err, KG_ENOTFOUND);
    assert_non_null(strstr(err.message, "Atlantis"));
    q = (kg_relations_query){.object = "Atlantis"};
    assert_refused(RELATIONS, g, &q, &err, KG_ENOTFOUND);
    q = (kg_relations_query){.subject = "China", .relation = "no-such-kind"};
    assert_found(RELATIONS, g, &q, 0);
    /* a string that is an atom but no relation kind */
    q = (kg_relations_query){.relation = "France"};
    assert_found(RELATIONS, g, &q, 0);

    /* deadline already past */
    q = (kg_relations_query){.opts.deadline = 1};
    assert_int_equal(kg_query_relations(g, &q, &l, &err), KG_ETIMEOUT);
    assert_int_equal(l.n, 0);
    assert_null(l.ids);
    q.opts.deadline = kg_query_clock_ns() + 60ull * 1000000000ull;
    assert_int_equal(kg_query_relations(g, &q, &l, &err), 0);
    assert_int_equal(l.n, 9);
    kg_rid_list_free(&l);
    kg_graph_destroy(&g);
}

/* ---- neighbours ------------------------------------------------------------- */

static const char *eid_name(const kg_graph *g, kg_eid e)
{
    return kg_entity_id(g, e);
}

static void test_neighbors(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    /* A -> B -> C -> A (cycle), A -> A (self-loop), D -> A, C -> E, and a
     * second kind B -k2-> F */
    REL(g, "A", "k", "B");
    REL(g, "B", "k", "C");
    REL(g, "C", "k", "A");
    REL(g, "A", "k", "A");
    REL(g, "D", "k", "A");
    REL(g, "C", "k", "E");
    REL(g, "B", "k2", "F");
    kg_neighbor_list l;
    kg_error err;

    kg_neighbors_query q = {.entity = "A"}; /* default: out, depth 1 */
    assert_int_equal(kg_query_neighbors(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(eid_name(g, l.items[0].entity), "B");
    kg_neighbor_list_free(&l);
    q.dir = KG_BOTH;
    assert_int_equal(kg_query_neighbors(g, &q, &l, NULL), 0);
    /* depth 1, both directions: out-edges first (B; the self-loop is
     * skipped), then in-edges (C, D) */
    assert_int_equal(l.n, 3);
    assert_string_equal(eid_name(g, l.items[0].entity), "B");
    assert_int_equal(l.items[0].dir, KG_OUT);
    assert_string_equal(eid_name(g, l.items[1].entity), "C");
    assert_int_equal(l.items[1].dir, KG_IN);
    assert_string_equal(eid_name(g, l.items[2].entity), "D");
    for (size_t i = 0; i < l.n; i++) {
        assert_int_equal(l.items[i].depth, 1);
        assert_string_equal(eid_name(g, l.items[i].from), "A");
    }
    kg_neighbor_list_free(&l);

    q.dir = KG_OUT;
    q.opts.max_depth = 10;
    assert_int_equal(kg_query_neighbors(g, &q, &l, NULL), 0);
    /* B (1); C, F (2); E (3) - the cycle back to A is not listed */
    assert_int_equal(l.n, 4);
    assert_string_equal(eid_name(g, l.items[0].entity), "B");
    assert_string_equal(eid_name(g, l.items[1].entity), "C");
    assert_int_equal(l.items[1].depth, 2);
    assert_string_equal(eid_name(g, l.items[2].entity), "F");
    assert_string_equal(eid_name(g, l.items[3].entity), "E");
    assert_int_equal(l.items[3].depth, 3);
    assert_string_equal(eid_name(g, l.items[3].from), "C");
    assert_string_equal(kg_relation_kind(g, l.items[2].via), "k2");
    kg_neighbor_list_free(&l);

    const char *kinds[] = {"k", "nonexistent"};
    q.relations = kinds;
    q.n_relations = 2;
    assert_found(NEIGHBORS, g, &q, 3); /* no F */
    q.relations = &kinds[1];
    q.n_relations = 1;
    assert_found(NEIGHBORS, g, &q, 0);

    q = (kg_neighbors_query){.entity = "A", .dir = KG_IN, .opts.max_depth = 2};
    assert_int_equal(kg_query_neighbors(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 3); /* C, D; B */
    assert_string_equal(eid_name(g, l.items[2].entity), "B");
    assert_int_equal(l.items[2].dir, KG_IN);
    kg_neighbor_list_free(&l);

    /* limit */
    q = (kg_neighbors_query){.entity = "A", .dir = KG_BOTH,
                             .opts = {.limit = 2, .max_depth = 5}};
    assert_int_equal(kg_query_neighbors(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    assert_true(l.truncated);
    kg_neighbor_list_free(&l);
    q.opts.limit = 5; /* exactly all of B C D E F */
    assert_int_equal(kg_query_neighbors(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 5);
    assert_false(l.truncated);
    kg_neighbor_list_free(&l);

    /* errors */
    q = (kg_neighbors_query){.entity = "Z"};
    assert_refused(NEIGHBORS, g, &q, &err, KG_ENOTFOUND);
    assert_non_null(strstr(err.message, "\"Z\""));
    q = (kg_neighbors_query){.entity = "A", .dir = (kg_dir)7};
    assert_refused(NEIGHBORS, g, &q, &err, KG_EINVAL);
    q = (kg_neighbors_query){.entity = "A", .opts.deadline = 1};
    assert_refused(NEIGHBORS, g, &q, &err, KG_ETIMEOUT);
    kg_graph_destroy(&g);
}

/* ---- paths ------------------------------------------------------------------ */

/* q finds exactly one path, of len steps, left in l (a kg_path_list the
 * caller frees). A macro, so that a failure names the caller's line. */
#define assert_one_path(g, q, l, len)                                        \
    do {                                                                     \
        assert_int_equal(kg_query_path(g, q, &(l), NULL), 0);                \
        assert_int_equal((l).n, 1);                                          \
        assert_int_equal((l).paths[0].n, len);                               \
    } while (0)

static void test_path(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    /*   A -> B -> D      two shortest A..D paths through B and C, and B->D
     *   A -> C -> D      has two relations (two kinds): 3 paths of length 2
     *   D -> E,  F -> E  (F reachable from A only backwards) */
    kg_rid ab = REL(g, "A", "k", "B");
    kg_rid ac = REL(g, "A", "k", "C");
    kg_rid bd = REL(g, "B", "k", "D");
    kg_rid bd2 = REL(g, "B", "other", "D");
    kg_rid cd = REL(g, "C", "k", "D");
    kg_rid de = REL(g, "D", "k", "E");
    kg_rid fe = REL(g, "F", "k", "E");
    REL(g, "A", "k", "A");
    kg_path_list l;
    kg_error err;

    kg_path_query q = {.from = "A", .to = "E"};
    assert_one_path(g, &q, l, 3);
    assert_int_equal(l.paths[0].steps[0].rel, ab);
    assert_int_equal(l.paths[0].steps[1].rel, bd);
    assert_int_equal(l.paths[0].steps[2].rel, de);
    assert_int_equal(l.paths[0].steps[2].dir, KG_OUT);
    kg_path_list_free(&l);

    q = (kg_path_query){.from = "A", .to = "D", .all = true};
    assert_int_equal(kg_query_path(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 3);
    assert_false(l.truncated);
    /* lexicographic visiting order: A-k-B-k-D, A-k-B-other-D, A-k-C-k-D
     * (kinds are visited in atom order: k was interned before other) */
    assert_int_equal(l.paths[0].steps[1].rel, bd);
    assert_int_equal(l.paths[1].steps[1].rel, bd2);
    assert_int_equal(l.paths[2].steps[0].rel, ac);
    assert_int_equal(l.paths[2].steps[1].rel, cd);
    kg_path_list_free(&l);
    q.opts.limit = 2;
    assert_int_equal(kg_query_path(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    assert_true(l.truncated);
    kg_path_list_free(&l);
    const char *k[] = {"k"};
    q = (kg_path_query){.from = "A", .to = "D", .all = true, .relations = k,
                        .n_relations = 1};
    assert_found(PATHS, g, &q, 2);

    /* direction: F is only reachable following E<-F backwards */
    q = (kg_path_query){.from = "A", .to = "F"};
    assert_found(PATHS, g, &q, 0);
    q.dir = KG_BOTH;
    assert_one_path(g, &q, l, 4);
    assert_int_equal(l.paths[0].steps[3].rel, fe);
    assert_int_equal(l.paths[0].steps[3].dir, KG_IN);
    kg_path_list_free(&l);
    q = (kg_path_query){.from = "E", .to = "A", .dir = KG_IN};
    assert_one_path(g, &q, l, 3);
    assert_int_equal(l.paths[0].steps[0].rel, de);
    assert_int_equal(l.paths[0].steps[0].dir, KG_IN);
    kg_path_list_free(&l);

    /* max length */
    q = (kg_path_query){.from = "A", .to = "E", .opts.max_depth = 2};
    assert_found(PATHS, g, &q, 0);
    q.opts.max_depth = 3;
    assert_found(PATHS, g, &q, 1);

    /* from == to: one empty path */
    q = (kg_path_query){.from = "A", .to = "a"};
    assert_one_path(g, &q, l, 0);
    kg_path_list_free(&l);

    q = (kg_path_query){.from = "A", .to = "Nowhere"};
    assert_refused(PATHS, g, &q, &err, KG_ENOTFOUND);
    assert_non_null(strstr(err.message, "Nowhere"));
    q = (kg_path_query){.from = "A", .to = "E", .opts.deadline = 1};
    assert_refused(PATHS, g, &q, &err, KG_ETIMEOUT);
    kg_graph_destroy(&g);
}

/* Paths on a ladder: 2^n shortest paths; the limit bounds the work. */
static void test_path_many(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    for (int i = 0; i < 40; i++) {
        rel_n(g, i, "x", i + 1);
        rel_n(g, i, "y", i + 1);
    }
    kg_path_list l;
    kg_path_query q = {.from = "n0", .to = "n40", .all = true};
    assert_int_equal(kg_query_path(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, KG_QUERY_PATHS_DEFAULT);
    assert_true(l.truncated);
    assert_int_equal(l.paths[0].n, 40);
    kg_path_list_free(&l);
    q.opts.limit = 7;
    assert_found(PATHS, g, &q, 7);
    kg_graph_destroy(&g);
}

/* ---- subgraph --------------------------------------------------------------- */

static void test_subgraph(void **state)
{
    (void)state;
    kg_graph *g = trade_graph();
    kg_pair prov = {"source", "doc1"};
    kg_pair attr = {"capital", "Paris"};
    kg_entity_spec fr = {.id = "France", .attrs = &attr, .n_attrs = 1};
    assert_int_equal(kg_entity_add(g, &fr, NULL, NULL), 1);
    kg_relation_spec rs = {.subject = "France", .relation = "signs",
                           .object = "deal", .prov = &prov, .n_prov = 1};
    assert_int_equal(kg_relation_add(g, &rs, NULL, NULL), 0);

    kg_subgraph sg;
    kg_error err;
    const char *seeds[] = {"French"};
    kg_subgraph_query q = {.seeds = seeds, .n_seeds = 1};
    assert_int_equal(kg_query_subgraph(g, &q, &sg, NULL), 0);
    assert_false(sg.truncated);
    kg_graph *s = sg.graph;
    assert_non_null(s);
    /* France, and (both directions, depth 1): US, EU, deal, China */
    assert_int_equal(kg_entity_count(s), 5);
    assert_int_equal(kg_entity_first(s), kg_entity_find(s, "France"));
    kg_eid f = kg_entity_find(s, "French"); /* aliases copied */
    assert_int_not_equal(f, KG_NONE);
    assert_string_equal(kg_entity_attr_get(s, f, "capital"), "Paris");
    assert_string_equal(kg_entity_kind(s, f), "country");
    assert_int_not_equal(kg_entity_find(s, "PRC"), KG_NONE);
    assert_int_equal(kg_entity_find(s, "cognac"), KG_NONE);
    /* induced: France's 4 relations plus China<->EU exports (2) */
    assert_int_equal(kg_relation_count(s), 6);
    kg_relation_spec find = {.subject = "France", .relation = "signs",
                             .object = "deal"};
    kg_rid r = kg_relation_find(s, &find);
    assert_int_not_equal(r, KG_NONE);
    assert_string_equal(kg_relation_prov_get(s, r, "source"), "doc1");
    kg_subgraph_free(&sg);
    assert_null(sg.graph);

    /* qualifiers are copied, kinds filter */
    const char *seeds2[] = {"EV", "electric vehicles"};
    const char *kinds[] = {"tariffs-on"};
    q = (kg_subgraph_query){.seeds = seeds2, .n_seeds = 2, .relations = kinds,
                            .n_relations = 1, .opts.max_depth = 2};
    assert_int_equal(kg_query_subgraph(g, &q, &sg, NULL), 0);
    /* EV; EU, US; (depth 2) nothing else via tariffs-on... China? no:
     * China's tariffs are on cognac and pork, not reachable from EU/US */
    assert_int_equal(kg_entity_count(sg.graph), 3);
    assert_int_equal(kg_relation_count(sg.graph), 2);
    kg_rid t = kg_relation_first(sg.graph);
    assert_string_equal(kg_relation_qual_get(sg.graph, t, "origin"), "China");
    kg_subgraph_free(&sg);

    /* as_of drops the dated EU tariff */
    q.opts.as_of = "2024";
    assert_int_equal(kg_query_subgraph(g, &q, &sg, NULL), 0);
    assert_int_equal(kg_entity_count(sg.graph), 3);
    q.opts.as_of = "2024-09";
    kg_subgraph_free(&sg);
    assert_int_equal(kg_query_subgraph(g, &q, &sg, NULL), 0);
    assert_int_equal(kg_entity_count(sg.graph), 2);
    assert_int_equal(kg_relation_count(sg.graph), 1);
    kg_subgraph_free(&sg);

    /* limit counts the seeds */
    const char *seeds3[] = {"China"};
    q = (kg_subgraph_query){.seeds = seeds3, .n_seeds = 1, .opts.limit = 3};
    assert_int_equal(kg_query_subgraph(g, &q, &sg, NULL), 0);
    assert_true(sg.truncated);
    assert_int_equal(kg_entity_count(sg.graph), 3);
    kg_subgraph_free(&sg);

    const char *bad[] = {"China", "Atlantis"};
    q = (kg_subgraph_query){.seeds = bad, .n_seeds = 2};
    assert_int_equal(kg_query_subgraph(g, &q, &sg, &err), KG_ENOTFOUND);
    assert_null(sg.graph);
    q.n_seeds = 0;
    assert_int_equal(kg_query_subgraph(g, &q, &sg, &err), KG_EINVAL);
    q = (kg_subgraph_query){.seeds = seeds3, .n_seeds = 1, .opts.deadline = 1};
    assert_int_equal(kg_query_subgraph(g, &q, &sg, &err), KG_ETIMEOUT);
    assert_null(sg.graph);
    kg_graph_destroy(&g);
}

/* An alias of one entity that equals another's id must not merge them in
 * the copy. */
static void test_subgraph_alias_clash(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    ent(g, "Georgia", "country", NULL);
    ent(g, "Georgia (US state)", "place", "Georgia");
    REL(g, "Georgia (US state)", "near", "Georgia");
    const char *seeds[] = {"Georgia (US state)"};
    kg_subgraph_query q = {.seeds = seeds, .n_seeds = 1};
    kg_subgraph sg;
    assert_int_equal(kg_query_subgraph(g, &q, &sg, NULL), 0);
    assert_int_equal(kg_entity_count(sg.graph), 2);
    assert_int_equal(kg_relation_count(sg.graph), 1);
    kg_eid c = kg_entity_find(sg.graph, "Georgia");
    assert_string_equal(kg_entity_kind(sg.graph, c), "country");
    kg_subgraph_free(&sg);
    kg_graph_destroy(&g);
}

/* ---- match ------------------------------------------------------------------ */

static const char *cell(const kg_match_result *r, size_t row, const char *var)
{
    for (size_t i = 0; i < r->n_vars; i++)
        if (strcmp(r->vars[i], var) == 0)
            return r->cells[row * r->n_vars + i];
    fail_msg("no variable %s", var);
    return NULL;
}

static void test_match_example(void **state)
{
    (void)state;
    kg_graph *g = trade_graph();
    /* countries that put tariffs on goods from a country they also export
     * to */
    kg_pair qa = {"origin", "?b"};
    kg_match_pattern p[2] = {
        {"?a", "tariffs-on", "?p", &qa, 1},
        {"?a", "exports-to", "?b", NULL, 0},
    };
    kg_match_query q = {.patterns = p, .n_patterns = 2};
    kg_match_result r;
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_vars, 3);
    assert_string_equal(r.vars[0], "a");
    assert_string_equal(r.vars[1], "p");
    assert_string_equal(r.vars[2], "b");
    /* China -> cognac (France), China -> pork (origin "EU" = European
     * Union), European Union -> EV (China) */
    assert_int_equal(r.n_rows, 3);
    int seen = 0;
    for (size_t i = 0; i < r.n_rows; i++) {
        const char *a = cell(&r, i, "a"), *pr = cell(&r, i, "p"),
                   *b = cell(&r, i, "b");
        if (!strcmp(a, "China") && !strcmp(pr, "cognac") && !strcmp(b, "France"))
            seen |= 1;
        if (!strcmp(a, "China") && !strcmp(pr, "pork") &&
            !strcmp(b, "European Union"))
            seen |= 2;
        if (!strcmp(a, "European Union") && !strcmp(b, "China"))
            seen |= 4;
    }
    assert_int_equal(seen, 7);
    assert_int_equal(r.n_plan, 2);
    kg_match_result_free(&r);

    /* the other pattern order binds ?b from a subject first: same rows */
    kg_match_pattern rev[2] = {p[1], p[0]};
    kg_match_query qr = {.patterns = rev, .n_patterns = 2};
    assert_int_equal(kg_query_match(g, &qr, &r, NULL), 0);
    assert_int_equal(r.n_rows, 3);
    assert_string_equal(r.vars[0], "a");
    assert_string_equal(r.vars[1], "b");
    for (size_t i = 0; i < r.n_rows; i++)
        if (!strcmp(cell(&r, i, "p"), "pork"))
            assert_string_equal(cell(&r, i, "b"), "European Union");
    kg_match_result_free(&r);

    q.opts.as_of = "2024-01-01"; /* the EU tariff is dated 2024-10 */
    assert_found(ROWS, g, &q, 2);

    q.opts = (kg_query_opts){.limit = 2};
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_rows, 2);
    assert_true(r.truncated);
    kg_match_result_free(&r);
    q.opts = (kg_query_opts){.deadline = 1};
    kg_error err;
    assert_int_equal(kg_query_match(g, &q, &r, &err), KG_ETIMEOUT);
    assert_int_equal(r.n_rows, 0);
    assert_null(r.vars);
    kg_graph_destroy(&g);
}

static void test_match_plan(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    /* 200 "link" relations, one "rare" relation out of n7 */
    for (int i = 0; i < 200; i++)
        rel_n(g, i, "link", (i * 7 + 3) % 200);
    REL(g, "n7", "rare", "n9");
    kg_match_pattern p[3] = {
        {"?x", "link", "?y", NULL, 0},
        {"?y", "link", "?z", NULL, 0},
        {"?w", "rare", "?x", NULL, 0},
    };
    kg_match_query q = {.patterns = p, .n_patterns = 3};
    kg_match_result r;
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_plan, 3);
    assert_int_equal(r.plan[0].pattern, 2); /* 1 relation of kind rare */
    assert_true(r.plan[0].estimate == 1.0);
    assert_int_equal(r.plan[1].pattern, 0); /* joined on ?x */
    assert_int_equal(r.plan[2].pattern, 1);
    assert_true(r.plan[1].estimate < 200.0);
    assert_int_equal(r.n_rows, 1);
    assert_string_equal(cell(&r, 0, "w"), "n7");
    assert_string_equal(cell(&r, 0, "x"), "n9");
    assert_string_equal(cell(&r, 0, "y"), "n66"); /* 9*7+3 */
    assert_string_equal(cell(&r, 0, "z"), "n65"); /* 66*7+3 = 465 % 200 */
    kg_match_result_free(&r);

    /* a constant subject beats a kind-only pattern */
    kg_match_pattern p2[2] = {
        {"?x", "link", "?y", NULL, 0},
        {"n5", "link", "?x", NULL, 0},
    };
    q = (kg_match_query){.patterns = p2, .n_patterns = 2};
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.plan[0].pattern, 1);
    assert_true(r.plan[0].estimate == 1.0);
    assert_int_equal(r.n_rows, 1);
    assert_string_equal(cell(&r, 0, "x"), "n38");
    kg_match_result_free(&r);
    kg_graph_destroy(&g);
}

static void test_match_terms(void **state)
{
    (void)state;
    kg_graph *g = trade_graph();
    REL(g, "France", "likes", "France"); /* self-loop */
    kg_match_result r;
    kg_error err;

    /* same variable twice: self-loops only */
    kg_match_pattern self = {"?x", "?k", "?x", NULL, 0};
    kg_match_query q = {.patterns = &self, .n_patterns = 1};
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_rows, 1);
    assert_string_equal(cell(&r, 0, "x"), "France");
    assert_string_equal(cell(&r, 0, "k"), "likes");
    kg_match_result_free(&r);

    /* relation variable, dedupe: China's relation kinds */
    kg_match_pattern kinds = {"PRC", "?k", "?o", NULL, 0};
    q.patterns = &kinds;
    assert_found(ROWS, g, &q, 4);
    kg_match_pattern k2[2] = {{"China", "?k", "?o", NULL, 0},
                              {"China", "?k", "?o2", NULL, 0}};
    q = (kg_match_query){.patterns = k2, .n_patterns = 2};
    assert_found(ROWS, g, &q, 8); /* (2 tariffs)^2 + (2 exports)^2 */

    /* qualifier constant, qualifier present, qualifier value variable */
    kg_pair qc = {"origin", "China"};
    kg_match_pattern pc = {"?a", "tariffs-on", "?p", &qc, 1};
    q = (kg_match_query){.patterns = &pc, .n_patterns = 1};
    assert_found(ROWS, g, &q, 2);
    kg_pair qp = {"date", NULL};
    pc.quals = &qp;
    assert_found(ROWS, g, &q, 1);
    kg_pair qv = {"origin", "?o"};
    kg_match_pattern pv = {"China", "tariffs-on", "?p", &qv, 1};
    q.patterns = &pv;
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_rows, 2);
    assert_string_equal(cell(&r, 1, "o"), "EU"); /* the string as stored */
    kg_match_result_free(&r);

    /* a string binding used as an entity resolves through aliases */
    kg_match_pattern chain[2] = {{"China", "tariffs-on", "pork", &qv, 1},
                                 {"?o", "exports-to", "?t", NULL, 0}};
    q = (kg_match_query){.patterns = chain, .n_patterns = 2};
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_rows, 1);
    assert_string_equal(cell(&r, 0, "t"), "China");
    kg_match_result_free(&r);

    /* no variables: a yes/no question */
    kg_match_pattern yes = {"France", "member-of", "EU", NULL, 0};
    q = (kg_match_query){.patterns = &yes, .n_patterns = 1};
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_vars, 0);
    assert_int_equal(r.n_rows, 1);
    kg_match_result_free(&r);
    yes.object = "China";
    assert_found(ROWS, g, &q, 0);

    /* unknown constants: an empty answer, not an error */
    kg_match_pattern unk = {"Atlantis", "?k", "?o", NULL, 0};
    q.patterns = &unk;
    assert_int_equal(kg_query_match(g, &q, &r, NULL), 0);
    assert_int_equal(r.n_rows, 0);
    assert_int_equal(r.n_vars, 2);
    kg_match_result_free(&r);
    kg_match_pattern unk2 = {"?s", "no-such-kind", "?o", NULL, 0};
    q.patterns = &unk2;
    assert_found(ROWS, g, &q, 0);

    /* bad patterns */
    kg_match_pattern bad = {"?", "k", "?o", NULL, 0};
    q.patterns = &bad;
    assert_int_equal(kg_query_match(g, &q, &r, &err), KG_EINVAL);
    assert_null(r.vars);
    bad.subject = "?a b";
    assert_int_equal(kg_query_match(g, &q, &r, &err), KG_EINVAL);
    bad.subject = "";
    assert_int_equal(kg_query_match(g, &q, &r, &err), KG_EINVAL);
    assert_non_null(strstr(err.message, "subject"));
    q.n_patterns = 0;
    assert_int_equal(kg_query_match(g, &q, &r, &err), KG_EINVAL);
    kg_graph_destroy(&g);
}

/* ---- entities --------------------------------------------------------------- */

static void test_entities(void **state)
{
    (void)state;
    kg_graph *g = trade_graph();
    kg_eid_list l;
    kg_entities_query q = {0};
    assert_int_equal(kg_query_entities(g, &q, &l, NULL), 0);
    assert_int_equal(l.total, 7);
    assert_int_equal(l.n, 7);
    assert_string_equal(kg_entity_id(g, l.ids[0]), "China");
    assert_string_equal(kg_entity_id(g, l.ids[1]), "cognac"); /* folded */
    assert_string_equal(kg_entity_id(g, l.ids[6]), "United States");
    kg_eid_list_free(&l);

    q.kind = "country";
    assert_found(ENTITIES, g, &q, 3);
    q.kind = "nope";
    assert_found(ENTITIES, g, &q, 0);

    q = (kg_entities_query){.prefix = "e"}; /* "electric..", "European..", EV, EU */
    assert_found(ENTITIES, g, &q, 2);
    q.prefix = "fRe"; /* France by its alias French */
    assert_int_equal(kg_query_entities(g, &q, &l, NULL), 0);
    assert_int_equal(l.total, 1);
    assert_string_equal(kg_entity_id(g, l.ids[0]), "France");
    kg_eid_list_free(&l);
    q.prefix = "pr"; /* PRC alias of China */
    assert_found(ENTITIES, g, &q, 1);

    q = (kg_entities_query){.offset = 2, .opts.limit = 3};
    assert_int_equal(kg_query_entities(g, &q, &l, NULL), 0);
    assert_int_equal(l.total, 7);
    assert_int_equal(l.n, 3);
    assert_true(l.truncated);
    assert_string_equal(kg_entity_id(g, l.ids[0]), "electric vehicles");
    kg_eid_list_free(&l);
    q.offset = 5;
    assert_int_equal(kg_query_entities(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    assert_false(l.truncated);
    kg_eid_list_free(&l);
    q.offset = 50;
    assert_int_equal(kg_query_entities(g, &q, &l, NULL), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.total, 7);
    kg_eid_list_free(&l);
    q = (kg_entities_query){.opts.deadline = 1};
    assert_refused(ENTITIES, g, &q, NULL, KG_ETIMEOUT);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_in_force),
        cmocka_unit_test(test_relations),
        cmocka_unit_test(test_neighbors),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_path_many),
        cmocka_unit_test(test_subgraph),
        cmocka_unit_test(test_subgraph_alias_clash),
        cmocka_unit_test(test_match_example),
        cmocka_unit_test(test_match_plan),
        cmocka_unit_test(test_match_terms),
        cmocka_unit_test(test_entities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
