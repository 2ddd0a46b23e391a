/* test_graph_bulk.c - bulk scopes: hubs built with unsorted tails must end
 * up exactly as if every relation had been inserted in order. Behaviour
 * only; how fast a hub loads is measured by bench/bench_memory (hub mode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kg/change.h"
#include "kg/graph.h"

#include "test_rng.h"

static tr_rng rng = {0x9E3779B97F4A7C15ULL};

static uint32_t rnd(uint32_t n)
{
    return tr_below(&rng, n);
}

/* What the graph should hold, kept apart from the graph's own tables. */
typedef struct fact {
    kg_eid s, o;
    kg_atom k;
    kg_rid r;
    int alive;
} fact;

typedef struct model {
    fact *f;
    size_t n, cap;
} model;

static void model_add(model *m, kg_eid s, kg_atom k, kg_eid o, kg_rid r)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->f = realloc(m->f, m->cap * sizeof *m->f);
        assert_non_null(m->f);
    }
    m->f[m->n++] = (fact){s, o, k, r, 1};
}

static int by_kind_handle(const void *a, const void *b)
{
    const fact *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    return (x->r > y->r) - (x->r < y->r);
}

/* kg_adjacent(e, dir, kind) must be exactly the model's relations, sorted
 * by (kind, handle). Returns how many there were. */
static size_t check_adjacent(const kg_graph *g, const model *m, kg_eid e,
                             kg_dir dir, kg_atom kind)
{
    fact *want = malloc((m->n + 1) * sizeof *want);
    assert_non_null(want);
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const fact *f = &m->f[i];
        if (f->alive && (dir == KG_OUT ? f->s : f->o) == e &&
            (kind == 0 || f->k == kind))
            want[n++] = *f;
    }
    qsort(want, n, sizeof *want, by_kind_handle);
    kg_span sp = kg_adjacent(g, e, dir, kind);
    assert_int_equal(sp.n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sp.ids[i], want[i].r);
    free(want);
    return n;
}

/* Every direction and kind of e, plus a kind e does not use. */
static void check_entity(const kg_graph *g, const model *m, kg_eid e,
                         const kg_atom *kinds, int nk)
{
    size_t out = check_adjacent(g, m, e, KG_OUT, 0);
    size_t in = check_adjacent(g, m, e, KG_IN, 0);
    assert_int_equal(kg_degree(g, e, KG_OUT), out);
    assert_int_equal(kg_degree(g, e, KG_IN), in);
    size_t by_kind = 0;
    for (int k = 0; k < nk; k++) {
        by_kind += check_adjacent(g, m, e, KG_OUT, kinds[k]);
        by_kind += check_adjacent(g, m, e, KG_IN, kinds[k]);
    }
    assert_int_equal(by_kind, out + in);
    kg_atom none = kg_atom_find(g, "none"); /* interned by every test */
    assert_int_not_equal(none, KG_NONE);
    assert_int_equal(kg_adjacent(g, e, KG_OUT, none).n, 0);
    assert_int_equal(kg_adjacent(g, e, KG_IN, none).n, 0);
}

static void model_remove(model *m, kg_rid r)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->f[i].alive && m->f[i].r == r)
            m->f[i].alive = 0;
    }
}

/* An entity removed: every relation with e at either end goes too. */
static void model_remove_entity(model *m, kg_eid e)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->f[i].s == e || m->f[i].o == e)
            m->f[i].alive = 0;
    }
}

enum { KINDS = 5, LEAVES = 40, STEPS = 6000 };

/* The same random operations on two graphs, one of them inside a bulk
 * scope: two hubs linked to each other and to leaves in both directions,
 * interleaved kinds, self-loops, and removals half way (which must sort
 * the pending tails first). Afterwards both graphs must hold the same
 * adjacency, equal to the model, in the same memory. */
static void test_scope_matches_inserts(void **state)
{
    (void)state;
    kg_graph *gs[2] = {kg_graph_new(), kg_graph_new()};
    model m = {0};
    kg_atom kinds[KINDS];
    kg_eid hub = 0, hub2 = 0, leaf[LEAVES];
    for (int v = 0; v < 2; v++) {
        kg_graph *g = gs[v];
        assert_non_null(g);
        /* Kind atoms not in name order, so (kind, handle) is not (name, handle). */
        const char *names[KINDS] = {"e-kind", "b-kind", "d-kind", "a-kind", "c-kind"};
        for (int k = 0; k < KINDS; k++)
            kinds[k] = kg_atom_intern(g, names[k], strlen(names[k]));
        kg_atom_intern(g, "none", 4);
        kg_entity_spec hs = {.id = "hub"}, h2 = {.id = "hub2"};
        assert_int_equal(kg_entity_add(g, &hs, &hub, NULL), 0);
        assert_int_equal(kg_entity_add(g, &h2, &hub2, NULL), 0);
        for (int i = 0; i < LEAVES; i++) {
            char id[16];
            snprintf(id, sizeof id, "leaf%d", i);
            kg_entity_spec s = {.id = id};
            assert_int_equal(kg_entity_add(g, &s, &leaf[i], NULL), 0);
        }
    }
    kg_graph_bulk_begin(gs[0]);
    for (int i = 0; i < STEPS; i++) {
        kg_eid s, o;
        switch (rnd(10)) {
        case 0: case 1: case 2: s = hub; o = leaf[rnd(LEAVES)]; break;
        case 3: case 4: case 5: s = leaf[rnd(LEAVES)]; o = hub; break;
        case 6: s = o = hub; break;
        case 7: s = hub; o = hub2; break;
        case 8: s = hub2; o = hub; break;
        default: s = leaf[rnd(LEAVES)]; o = hub2; break;
        }
        kg_atom k = kinds[rnd(KINDS)];
        char n[16];
        snprintf(n, sizeof n, "%d", i);
        kg_pair q[] = {{"n", n}};
        kg_rid r[2];
        for (int v = 0; v < 2; v++)
            assert_int_equal(kg_relation_add_ids(gs[v], s, k, o, q, 1, NULL, 0,
                                                 &r[v], NULL), 0);
        assert_int_equal(r[0], r[1]);
        model_add(&m, s, k, o, r[0]);
        if (i == STEPS / 2) {
            /* Removals inside the scope, then fresh handles reuse their slots. */
            for (int j = 0; j < 200; j++) {
                fact *f = &m.f[rnd((uint32_t)m.n)];
                if (!f->alive)
                    continue;
                for (int v = 0; v < 2; v++)
                    assert_int_equal(kg_relation_remove(gs[v], f->r, NULL), 0);
                f->alive = 0;
            }
        }
        if (i == STEPS / 4) {
            /* After a flush the scope's graph can be read. */
            kg_graph_bulk_flush(gs[0]);
            check_entity(gs[0], &m, hub, kinds, KINDS);
            check_entity(gs[0], &m, hub2, kinds, KINDS);
        }
    }
    /* Degrees stay exact inside the scope. */
    assert_int_equal(kg_degree(gs[0], hub, KG_BOTH), kg_degree(gs[1], hub, KG_BOTH));
    kg_graph_bulk_end(gs[0]);
    kg_graph_bulk_end(gs[0]); /* unbalanced: ignored */
    for (int v = 0; v < 2; v++) {
        check_entity(gs[v], &m, hub, kinds, KINDS);
        check_entity(gs[v], &m, hub2, kinds, KINDS);
        for (int i = 0; i < LEAVES; i++)
            check_entity(gs[v], &m, leaf[i], kinds, KINDS);
    }
    assert_int_equal(kg_graph_memory(gs[0]), kg_graph_memory(gs[1]));

    /* Removals after the scope: the hub's spans shrink exactly. */
    for (size_t i = 0; i < m.n; i += 3) {
        if (!m.f[i].alive)
            continue;
        for (int v = 0; v < 2; v++)
            assert_int_equal(kg_relation_remove(gs[v], m.f[i].r, NULL), 0);
        m.f[i].alive = 0;
    }
    check_entity(gs[0], &m, hub, kinds, KINDS);
    check_entity(gs[0], &m, hub2, kinds, KINDS);
    assert_int_equal(kg_graph_memory(gs[0]), kg_graph_memory(gs[1]));
    assert_int_equal(kg_entity_remove(gs[0], hub, NULL), 0);
    model_remove_entity(&m, hub);
    check_entity(gs[0], &m, hub2, kinds, KINDS);
    for (int i = 0; i < LEAVES; i++)
        check_entity(gs[0], &m, leaf[i], kinds, KINDS);
    free(m.f);
    kg_graph_destroy(&gs[0]);
    kg_graph_destroy(&gs[1]);
}

/* The relation kinds of test_apply_batch's hub, interleaved by index. */
static const char *const kn[3] = {"works-for", "meets", "owns"};

/* Relation i of test_apply_batch's hub: every third one goes out of the
 * hub to leaf p<i> (written to leaf), the others come in from it. hs and
 * ho spell the hub as subject and as object (names fold case). */
static kg_relation_spec hub_relation(int i, const char *hs, const char *ho,
                                     char leaf[16])
{
    snprintf(leaf, 16, "p%d", i);
    bool out = i % 3 == 1;
    return (kg_relation_spec){.subject = out ? hs : leaf,
                              .relation = kn[i % 3],
                              .object = out ? leaf : ho};
}

/* A batch that builds a hub (interleaved kinds, hub as subject and as
 * object) and removes things in the middle goes through kg_graph_apply,
 * which works in a bulk scope; afterwards every span is exact. */
static void test_apply_batch(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_batch *b = kg_batch_new();
    assert_non_null(g);
    assert_non_null(b);
    kg_atom_intern(g, "none", 4);
    enum { N = 3000 };
    kg_entity_spec hs = {.id = "Hub", .kind = "org"};
    assert_int_equal(kg_batch_add_entity(b, &hs, 1), 0);
    for (int i = 0; i < N; i++) {
        char leaf[16];
        kg_relation_spec r = hub_relation(i, "hub", "HUB", leaf);
        assert_int_equal(kg_batch_add_relation(b, &r, (unsigned)i + 2), 0);
        if (i == N / 2) {
            /* These need sorted adjacency in the middle of the scope: the
             * hub's (a removal looks its relations up by kind), and p3's. */
            kg_relation_spec rm = {.subject = "hub", .relation = "meets",
                                   .object = "p1"};
            assert_int_equal(kg_batch_remove_relation(b, &rm, 0), 0);
            assert_int_equal(kg_batch_remove_entity(b, "p3", 0), 0);
        }
    }
    kg_error err;
    kg_error_clear(&err);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);

    kg_atom kinds[3];
    for (int k = 0; k < 3; k++)
        kinds[k] = kg_atom_find(g, kn[k]);
    kg_eid hub = kg_entity_find(g, "hub");
    assert_int_not_equal(hub, KG_NONE);
    model m = {0};
    for (int i = 0; i < N; i++) {
        char leaf[16];
        kg_relation_spec r = hub_relation(i, "Hub", "Hub", leaf);
        kg_rid rid = kg_relation_find(g, &r);
        if (i == 1 || i == 3) {
            assert_int_equal(rid, KG_NONE);
            continue;
        }
        assert_int_not_equal(rid, KG_NONE);
        kg_eid e = kg_entity_find(g, leaf);
        bool out = i % 3 == 1;
        model_add(&m, out ? hub : e, kinds[i % 3], out ? e : hub, rid);
    }
    assert_int_equal(kg_relation_count(g), m.n);
    check_entity(g, &m, hub, kinds, 3);
    check_entity(g, &m, kg_entity_find(g, "p7"), kinds, 3);

    /* Removing through a batch and one by one still finds the handles. */
    kg_batch_clear(b);
    for (int i = 8; i < N; i += 7) {
        char leaf[16];
        kg_relation_spec r = hub_relation(i, "Hub", "Hub", leaf);
        model_remove(&m, kg_relation_find(g, &r));
        assert_int_equal(kg_batch_remove_relation(b, &r, 0), 0);
    }
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    check_entity(g, &m, hub, kinds, 3);
    kg_span sp = kg_adjacent(g, hub, KG_IN, kinds[2]);
    assert_true(sp.n > 10);
    kg_rid gone = sp.ids[sp.n / 2];
    assert_int_equal(kg_relation_remove(g, gone, NULL), 0);
    model_remove(&m, gone);
    check_entity(g, &m, hub, kinds, 3);

    free(m.f);
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
}

/* Scopes nest; kg_graph_apply and removals inside a caller's scope see
 * sorted adjacency; removing a pending entity takes its relations. */
static void test_nested_scopes(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    assert_non_null(g);
    kg_graph_bulk_begin(NULL);
    kg_graph_bulk_flush(NULL);
    kg_graph_bulk_end(NULL);
    kg_atom kinds[2] = {kg_atom_intern(g, "x", 1), kg_atom_intern(g, "y", 1)};
    kg_atom_intern(g, "none", 4);
    kg_entity_spec a = {.id = "a"}, c = {.id = "c"};
    kg_eid ea, ec;
    assert_int_equal(kg_entity_add(g, &a, &ea, NULL), 0);
    assert_int_equal(kg_entity_add(g, &c, &ec, NULL), 0);
    model m = {0};
    kg_graph_bulk_begin(g);
    kg_graph_bulk_begin(g);
    for (int i = 0; i < 500; i++) {
        char id[16];
        snprintf(id, sizeof id, "n%d", i);
        kg_entity_spec s = {.id = id};
        kg_eid e;
        kg_rid r;
        assert_int_equal(kg_entity_add(g, &s, &e, NULL), 0);
        kg_eid from = i % 2 ? ea : e, to = i % 2 ? e : ea;
        assert_int_equal(kg_relation_add_ids(g, from, kinds[i % 2 ? 1 : 0], to,
                                             NULL, 0, NULL, 0, &r, NULL), 0);
        model_add(&m, from, kinds[i % 2 ? 1 : 0], to, r);
        assert_int_equal(kg_relation_add_ids(g, ec, kinds[i % 2], e, NULL, 0,
                                             NULL, 0, &r, NULL), 0);
        model_add(&m, ec, kinds[i % 2], e, r);
    }
    kg_graph_bulk_end(g); /* inner: still in the outer scope */

    /* A batch removing a relation added in the scope: its check reads
     * a's adjacency, which is pending. */
    kg_batch *b = kg_batch_new();
    kg_relation_spec rm = {.subject = "a", .relation = "y", .object = "n11"};
    assert_int_equal(kg_batch_remove_relation(b, &rm, 0), 0);
    kg_relation_spec add = {.subject = "a", .relation = "y", .object = "c"};
    assert_int_equal(kg_batch_add_relation(b, &add, 0), 0);
    kg_error err;
    kg_error_clear(&err);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    for (size_t i = 0; i < m.n; i++) {
        if (m.f[i].s == ea && m.f[i].o == kg_entity_find(g, "n11"))
            m.f[i].alive = 0;
    }
    kg_relation_spec added = {.subject = "a", .relation = "y", .object = "c"};
    model_add(&m, ea, kinds[1], ec, kg_relation_find(g, &added));

    /* More relations (new ones, and one already there: no new handle),
     * then remove c, which is pending, inside the scope. */
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "n%d", i);
        kg_eid e = kg_entity_find(g, id);
        kg_pair q[] = {{"round", "2"}};
        kg_rid r;
        assert_int_equal(kg_relation_add_ids(g, ea, kinds[0], e, q, 1, NULL, 0,
                                             &r, NULL), 0);
        model_add(&m, ea, kinds[0], e, r);
        kg_pair p[] = {{"source", "again"}};
        assert_int_equal(kg_relation_add_ids(g, ea, kinds[0], e, q, 1, p, 1,
                                             NULL, NULL), 1);
    }
    assert_int_equal(kg_entity_remove(g, ec, NULL), 0);
    model_remove_entity(&m, ec);
    kg_graph_bulk_end(g);
    check_entity(g, &m, ea, kinds, 2);
    check_entity(g, &m, kg_entity_find(g, "n1"), kinds, 2);
    check_entity(g, &m, kg_entity_find(g, "n10"), kinds, 2);
    check_entity(g, &m, kg_entity_find(g, "n11"), kinds, 2);
    size_t alive = 0;
    for (size_t i = 0; i < m.n; i++)
        alive += (size_t)m.f[i].alive;
    assert_int_equal(kg_relation_count(g), alive);
    free(m.f);
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_matches_inserts),
        cmocka_unit_test(test_apply_batch),
        cmocka_unit_test(test_nested_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
