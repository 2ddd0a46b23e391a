/* test_graph_model.c - the store against a brute-force model, and high
 * degree adjacency with many kinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "kg/graph.h"

#include "test_rng.h"

static tr_rng rng = {88172645463325252ULL};

static uint32_t rnd(uint32_t n)
{
    return tr_below(&rng, n);
}

/* Every relation of e in direction dir (and kind, 0 = any), by brute
 * force over all relations, sorted by (kind, handle). */
static size_t brute_adjacent(const kg_graph *g, kg_eid e, kg_dir dir,
                             kg_atom kind, kg_rid *out, size_t max)
{
    size_t n = 0;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r)) {
        kg_eid end = dir == KG_OUT ? kg_relation_subject(g, r) : kg_relation_object(g, r);
        if (end != e || (kind && kg_relation_kind_atom(g, r) != kind))
            continue;
        assert_true(n < max);
        out[n++] = r;
    }
    /* insertion sort by (kind, handle); handles come in ascending order */
    for (size_t i = 1; i < n; i++) {
        kg_rid x = out[i];
        kg_atom kx = kg_relation_kind_atom(g, x);
        size_t j = i;
        while (j > 0 && kg_relation_kind_atom(g, out[j - 1]) > kx) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
    return n;
}

static void check_span(const kg_graph *g, kg_eid e, kg_dir dir, kg_atom kind,
                       kg_rid *buf, size_t max)
{
    size_t n = brute_adjacent(g, e, dir, kind, buf, max);
    kg_span sp = kg_adjacent(g, e, dir, kind);
    assert_int_equal(sp.n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sp.ids[i], buf[i]);
}

static void test_hub(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    enum { KINDS = 37, N = 10000 };
    kg_atom kinds[KINDS];
    for (int i = 0; i < KINDS; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "k%02d", (i * 17) % KINDS);
        kinds[i] = kg_atom_intern(g, buf, strlen(buf));
    }
    kg_entity_spec hs = {.id = "hub"};
    kg_eid hub;
    assert_int_equal(kg_entity_add(g, &hs, &hub, NULL), 0);
    kg_eid leaves[100];
    for (int i = 0; i < 100; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "leaf%d", i);
        kg_entity_spec s = {.id = buf};
        assert_int_equal(kg_entity_add(g, &s, &leaves[i], NULL), 0);
    }
    kg_rid *rids = malloc(2 * N * sizeof *rids);
    kg_rid *buf = malloc(2 * N * sizeof *buf);
    assert_non_null(rids);
    assert_non_null(buf);
    size_t nr = 0;
    for (int i = 0; i < 2 * N; i++) {
        kg_eid leaf = leaves[rnd(100)];
        char q[16];
        snprintf(q, sizeof q, "%d", i);
        kg_pair qual[] = {{"n", q}};
        bool out = i % 2 == 0;
        int rc = kg_relation_add_ids(g, out ? hub : leaf, kinds[rnd(KINDS)],
                                     out ? leaf : hub, qual, 1, NULL, 0,
                                     &rids[nr], NULL);
        assert_int_equal(rc, 0);
        nr++;
    }
    assert_int_equal(kg_degree(g, hub, KG_OUT), N);
    assert_int_equal(kg_degree(g, hub, KG_IN), N);
    for (int k = 0; k < KINDS; k++) {
        check_span(g, hub, KG_OUT, kinds[k], buf, 2 * N);
        check_span(g, hub, KG_IN, kinds[k], buf, 2 * N);
    }
    check_span(g, hub, KG_OUT, 0, buf, 2 * N);
    check_span(g, hub, KG_IN, 0, buf, 2 * N);
    check_span(g, leaves[3], KG_IN, kinds[5], buf, 2 * N);
    /* A kind nobody uses, and the kind atoms around the used ones. */
    kg_atom unused = kg_atom_intern(g, "unused", 6);
    assert_int_equal(kg_adjacent(g, hub, KG_OUT, unused).n, 0);

    /* Remove most of them at random; spans stay exact, the block shrinks. */
    size_t mem_full = kg_graph_memory(g);
    for (size_t i = 0; i < nr; i++) {
        size_t j = i + rnd((uint32_t)(nr - i));
        kg_rid t = rids[i];
        rids[i] = rids[j];
        rids[j] = t;
    }
    for (size_t i = 0; i < nr - 100; i++) {
        assert_int_equal(kg_relation_remove(g, rids[i], NULL), 0);
        if (i % 4999 == 0) {
            for (int k = 0; k < KINDS; k += 6)
                check_span(g, hub, KG_OUT, kinds[k], buf, 2 * N);
        }
    }
    assert_int_equal(kg_relation_count(g), 100);
    for (int k = 0; k < KINDS; k++) {
        check_span(g, hub, KG_OUT, kinds[k], buf, 2 * N);
        check_span(g, hub, KG_IN, kinds[k], buf, 2 * N);
    }
    assert_true(kg_graph_memory(g) < mem_full);
    assert_int_equal(kg_entity_remove(g, hub, NULL), 0);
    assert_int_equal(kg_relation_count(g), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(kg_degree(g, leaves[i], KG_BOTH), 0);
    free(rids);
    free(buf);
    kg_graph_destroy(&g);
}

/* ---- randomized comparison with a model --------------------------------- */

enum { NAMES = 40, MKINDS = 4, QVALS = 3, MAXREL = 4000 };

typedef struct mrel {
    int s, o, kind, qual; /* qual: 0 none, else value index */
    int prov_set;         /* first provenance value given, or -1 */
    bool alive;
} mrel;

typedef struct model {
    bool ent[NAMES];
    int ekind[NAMES]; /* -1 = unknown */
    mrel rel[MAXREL];
    int n_rel;
} model;

static const char *ekind_names[] = {"country", "person", "bloc"};
static const char *rkind_names[MKINDS] = {"b-rel", "a-rel", "d-rel", "c-rel"};

static void name_of(int i, char *buf, size_t n, bool shout)
{
    snprintf(buf, n, shout ? "NAME-%d" : "name-%d", i);
}

/* A model relation as the store is asked for it: its ends spelled in
 * lower or upper case, its qualifier if it has one. */
typedef struct mspec {
    char sn[32], on[32], qv[8];
    kg_pair q;
    kg_relation_spec spec;
} mspec;

static void mspec_of(mspec *x, const mrel *r, bool shout_s, bool shout_o)
{
    name_of(r->s, x->sn, sizeof x->sn, shout_s);
    name_of(r->o, x->on, sizeof x->on, shout_o);
    snprintf(x->qv, sizeof x->qv, "v%d", r->qual);
    x->q = (kg_pair){"q", x->qv};
    x->spec = (kg_relation_spec){.subject = x->sn, .relation = rkind_names[r->kind],
                                 .object = x->on, .quals = &x->q,
                                 .n_quals = r->qual ? 1 : 0};
}

static int mfind(const model *m, int s, int kind, int o, int qual)
{
    for (int i = 0; i < m->n_rel; i++) {
        const mrel *r = &m->rel[i];
        if (r->alive && r->s == s && r->o == o && r->kind == kind && r->qual == qual)
            return i;
    }
    return -1;
}

static void check_model(const kg_graph *g, const model *m, kg_rid *buf)
{
    size_t ne = 0, nr = 0;
    for (int i = 0; i < NAMES; i++) {
        char name[32];
        name_of(i, name, sizeof name, i % 2);
        kg_eid e = kg_entity_find(g, name);
        assert_int_equal(e != KG_NONE, m->ent[i]);
        if (!m->ent[i])
            continue;
        ne++;
        assert_true(strcasecmp(kg_entity_id(g, e), name) == 0);
        assert_string_equal(kg_entity_kind(g, e),
                            m->ekind[i] < 0 ? "unknown" : ekind_names[m->ekind[i]]);
        size_t out = 0, in = 0;
        for (int k = 0; k < m->n_rel; k++) {
            out += m->rel[k].alive && m->rel[k].s == i;
            in += m->rel[k].alive && m->rel[k].o == i;
        }
        assert_int_equal(kg_degree(g, e, KG_OUT), out);
        assert_int_equal(kg_degree(g, e, KG_IN), in);
        check_span(g, e, KG_OUT, 0, buf, MAXREL);
        check_span(g, e, KG_IN, 0, buf, MAXREL);
        for (int k = 0; k < MKINDS; k++) {
            kg_atom ka = kg_atom_find(g, rkind_names[k]);
            if (ka != KG_NONE) {
                check_span(g, e, KG_OUT, ka, buf, MAXREL);
                check_span(g, e, KG_IN, ka, buf, MAXREL);
            }
        }
    }
    for (int k = 0; k < m->n_rel; k++) {
        const mrel *r = &m->rel[k];
        if (!r->alive)
            continue;
        nr++;
        mspec x;
        mspec_of(&x, r, false, true);
        kg_rid rid = kg_relation_find(g, &x.spec);
        assert_int_not_equal(rid, KG_NONE);
        assert_string_equal(kg_relation_kind(g, rid), rkind_names[r->kind]);
        if (r->qual)
            assert_string_equal(kg_relation_qual_get(g, rid, "q"), x.qv);
        else
            assert_int_equal(kg_relation_qual_count(g, rid), 0);
        char pv[8];
        snprintf(pv, sizeof pv, "p%d", r->prov_set);
        if (r->prov_set >= 0)
            assert_string_equal(kg_relation_prov_get(g, rid, "source"), pv);
        else
            assert_null(kg_relation_prov_get(g, rid, "source"));
    }
    assert_int_equal(kg_entity_count(g), ne);
    assert_int_equal(kg_relation_count(g), nr);
    size_t it = 0;
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e))
        it++;
    assert_int_equal(it, ne);
    it = 0;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r))
        it++;
    assert_int_equal(it, nr);
    /* Per-kind relation counts. */
    kg_atom ks[MKINDS + 1];
    size_t cs[MKINDS + 1];
    size_t nk = kg_relation_kinds(g, ks, cs, MKINDS + 1);
    size_t total = 0;
    for (size_t i = 0; i < nk && i <= MKINDS; i++)
        total += cs[i];
    assert_int_equal(total, nr);
}

static void test_random_model(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    model *m = calloc(1, sizeof *m);
    kg_rid *buf = malloc(MAXREL * sizeof *buf);
    assert_non_null(m);
    assert_non_null(buf);
    for (int i = 0; i < NAMES; i++)
        m->ekind[i] = -1;
    for (int step = 0; step < 6000; step++) {
        int op = (int)rnd(100);
        char sn[32], on[32];
        if (op < 15) { /* add or merge an entity */
            int i = (int)rnd(NAMES);
            int k = (int)rnd(4) - 1;
            name_of(i, sn, sizeof sn, rnd(2));
            kg_entity_spec s = {.id = sn, .kind = k < 0 ? NULL : ekind_names[k]};
            int rc = kg_entity_add(g, &s, NULL, NULL);
            assert_int_equal(rc, m->ent[i] ? 1 : 0);
            if (!m->ent[i]) {
                m->ent[i] = true;
                m->ekind[i] = k;
            } else if (k >= 0) {
                m->ekind[i] = k;
            }
        } else if (op < 70 && m->n_rel < MAXREL) { /* add a relation */
            int s = (int)rnd(NAMES), o = rnd(10) == 0 ? s : (int)rnd(NAMES);
            int kind = (int)rnd(MKINDS), qual = (int)rnd(QVALS);
            int pv = (int)rnd(3) - 1;
            name_of(s, sn, sizeof sn, rnd(2));
            name_of(o, on, sizeof on, rnd(2));
            char qv[16], pvs[16];
            snprintf(qv, sizeof qv, "v%d", qual);
            snprintf(pvs, sizeof pvs, "p%d", pv);
            kg_pair q[] = {{"q", qv}};
            kg_pair p[] = {{"source", pvs}};
            kg_relation_spec spec = {.subject = sn, .relation = rkind_names[kind],
                                     .object = on, .quals = q, .n_quals = qual ? 1 : 0,
                                     .prov = p, .n_prov = pv >= 0};
            kg_rid rid;
            int rc = kg_relation_add(g, &spec, &rid, NULL);
            int have = mfind(m, s, kind, o, qual);
            assert_int_equal(rc, have >= 0 ? 1 : 0);
            if (have < 0) {
                mrel *r = &m->rel[m->n_rel++];
                r->s = s;
                r->o = o;
                r->kind = kind;
                r->qual = qual;
                r->prov_set = pv;
                r->alive = true;
                for (int e = 0; e < 2; e++) {
                    int x = e ? o : s;
                    if (!m->ent[x]) {
                        m->ent[x] = true;
                        m->ekind[x] = -1;
                    }
                }
            } else if (m->rel[have].prov_set < 0) {
                m->rel[have].prov_set = pv; /* missing provenance filled */
            }
            assert_int_equal(kg_relation_subject(g, rid), kg_entity_find(g, sn));
            assert_int_equal(kg_relation_object(g, rid), kg_entity_find(g, on));
        } else if (op < 90) { /* remove a relation */
            if (m->n_rel == 0)
                continue;
            int k = (int)rnd((uint32_t)m->n_rel);
            mrel *r = &m->rel[k];
            if (!r->alive)
                continue;
            bool shout_s = rnd(2); /* the subject's case is drawn first */
            mspec x;
            mspec_of(&x, r, shout_s, rnd(2));
            kg_rid rid = kg_relation_find(g, &x.spec);
            assert_int_not_equal(rid, KG_NONE);
            assert_int_equal(kg_relation_remove(g, rid, NULL), 0);
            assert_false(kg_relation_alive(g, rid));
            r->alive = false;
        } else { /* remove an entity */
            int i = (int)rnd(NAMES);
            name_of(i, sn, sizeof sn, rnd(2));
            kg_eid e = kg_entity_find(g, sn);
            assert_int_equal(e != KG_NONE, m->ent[i]);
            if (e == KG_NONE)
                continue;
            assert_int_equal(kg_entity_remove(g, e, NULL), 0);
            m->ent[i] = false;
            m->ekind[i] = -1;
            for (int k = 0; k < m->n_rel; k++) {
                if (m->rel[k].s == i || m->rel[k].o == i)
                    m->rel[k].alive = false;
            }
        }
        /* Compact the model's dead relations now and then. */
        if (m->n_rel == MAXREL || step % 97 == 0) {
            int w = 0;
            for (int k = 0; k < m->n_rel; k++) {
                if (m->rel[k].alive)
                    m->rel[w++] = m->rel[k];
            }
            m->n_rel = w;
        }
        if (step % 50 == 0)
            check_model(g, m, buf);
    }
    check_model(g, m, buf);
    free(buf);
    free(m);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub),
        cmocka_unit_test(test_random_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
