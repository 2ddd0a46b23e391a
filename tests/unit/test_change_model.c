/* test_change_model.c - random batches: kg_graph_apply against the same
 * changes made one by one through the store API, and failed batches that
 * must leave the graph exactly as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kg/change.h"

#include "test_rng.h"

static tr_rng rng = {0x9E3779B97F4A7C15ULL};

static uint32_t rnd(uint32_t n)
{
    return tr_below(&rng, n);
}

/* A growable text buffer for canonical dumps. */
typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void put(text *t, const char *s)
{
    size_t k = strlen(s);
    if (t->n + k + 1 > t->cap) {
        t->cap = (t->n + k + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    memcpy(t->p + t->n, s, k + 1);
    t->n += k;
}

/* " <prefix><key>=<value>" */
static void put_pair(text *t, const char *prefix, kg_pair p)
{
    put(t, prefix);
    put(t, p.key);
    put(t, "=");
    put(t, p.value);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every entity and relation with all their strings, sorted, so that two
 * graphs with the same content dump the same whatever their handles. */
static char *dump(const kg_graph *g)
{
    size_t n = kg_entity_count(g) + kg_relation_count(g), k = 0;
    char **lines = calloc(n + 1, sizeof *lines);
    assert_non_null(lines);
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e)) {
        text t = {0};
        put(&t, "E ");
        put(&t, kg_entity_id(g, e));
        put(&t, " : ");
        put(&t, kg_entity_kind(g, e));
        for (size_t i = 0; i < kg_entity_alias_count(g, e); i++) {
            put(&t, " a=");
            put(&t, kg_entity_alias(g, e, i));
        }
        for (size_t i = 0; i < kg_entity_attr_count(g, e); i++)
            put_pair(&t, " ", kg_entity_attr(g, e, i));
        put(&t, "");
        lines[k++] = t.p;
    }
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r)) {
        text t = {0};
        put(&t, "R ");
        put(&t, kg_entity_id(g, kg_relation_subject(g, r)));
        put(&t, " -");
        put(&t, kg_relation_kind(g, r));
        put(&t, "-> ");
        put(&t, kg_entity_id(g, kg_relation_object(g, r)));
        for (size_t i = 0; i < kg_relation_qual_count(g, r); i++)
            put_pair(&t, " q:", kg_relation_qual(g, r, i));
        for (size_t i = 0; i < kg_relation_prov_count(g, r); i++)
            put_pair(&t, " p:", kg_relation_prov(g, r, i));
        lines[k++] = t.p;
    }
    assert_int_equal(k, n);
    qsort(lines, n, sizeof *lines, cmp_str);
    text all = {0};
    put(&all, "");
    for (size_t i = 0; i < n; i++) {
        put(&all, lines[i]);
        put(&all, "\n");
        free(lines[i]);
    }
    free(lines);
    return all.p;
}

static const char *names[] = {"France", "france", "FR", "China", "PRC",
                              "Beijing", "EU", "European Union", "Macron",
                              "Xi"};
static const char *kinds[] = {NULL, "country", "person", "unknown", "bloc"};
static const char *rkinds[] = {"exports-to", "meets", "member-of"};
static const char *vals[] = {"2024", "2025"};

#define NNAMES (sizeof names / sizeof names[0])

/* The one-by-one mirror of a RELATION_REMOVE: every relation of that kind
 * between the pair whose qualifiers include the given ones. */
static void mirror_remove_relations(kg_graph *g, const kg_relation_spec *rs)
{
    kg_eid s = kg_entity_find(g, rs->subject), o = kg_entity_find(g, rs->object);
    kg_rid victims[256];
    size_t n = 0;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r)) {
        if (kg_relation_subject(g, r) != s || kg_relation_object(g, r) != o ||
            strcmp(kg_relation_kind(g, r), rs->relation) != 0)
            continue;
        bool all = true;
        for (size_t i = 0; i < rs->n_quals; i++) {
            const char *v = kg_relation_qual_get(g, r, rs->quals[i].key);
            all = all && v && strcmp(v, rs->quals[i].value) == 0;
        }
        if (all) {
            assert_true(n < 256);
            victims[n++] = r;
        }
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kg_relation_remove(g, victims[i], NULL), 0);
}

static void test_random_batches(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();      /* through kg_graph_apply */
    kg_graph *mirror = kg_graph_new(); /* through the store API */
    kg_batch *b = kg_batch_new();
    assert_int_equal(kg_batch_set_source(b, "random.tsv"), 0);
    int applied = 0, refused = 0;
    for (int round = 0; round < 400; round++) {
        kg_batch_clear(b);
        int n = 1 + (int)rnd(8);
        for (int i = 0; i < n; i++) {
            unsigned line = (unsigned)(round * 10 + i + 1);
            int op = (int)rnd(10);
            const char *s = names[rnd(NNAMES)], *o = names[rnd(NNAMES)];
            kg_pair q[] = {{"year", vals[rnd(2)]}};
            kg_pair p[] = {{"source", vals[rnd(2)]}};
            if (op < 3) {
                const char *al[] = {names[rnd(NNAMES)]};
                kg_pair at[] = {{"iso", vals[rnd(2)]}};
                kg_entity_spec e = {.id = s, .kind = kinds[rnd(5)], .aliases = al,
                                    .n_aliases = rnd(2), .attrs = at, .n_attrs = rnd(2)};
                assert_int_equal(kg_batch_add_entity(b, &e, line), 0);
            } else if (op < 7) {
                kg_relation_spec r = {.subject = s, .relation = rkinds[rnd(3)], .object = o,
                                      .quals = q, .n_quals = rnd(2), .prov = p,
                                      .n_prov = rnd(2)};
                assert_int_equal(kg_batch_add_relation(b, &r, line), 0);
            } else if (op < 9) {
                kg_relation_spec r = {.subject = s, .relation = rkinds[rnd(3)], .object = o,
                                      .quals = q, .n_quals = rnd(2)};
                assert_int_equal(kg_batch_remove_relation(b, &r, line), 0);
            } else {
                assert_int_equal(kg_batch_remove_entity(b, s, line), 0);
            }
        }
        char *before = dump(g);
        size_t mem = kg_graph_memory(g);
        kg_error err;
        int rc = kg_graph_check(g, b, &err);
        int rc2 = kg_graph_apply(g, b, &err);
        assert_int_equal(rc, rc2);
        if (rc != 0) {
            /* Refused: nothing changed, and the message names the line. */
            assert_int_equal(rc, KG_ENOTFOUND);
            assert_non_null(strstr(err.message, "random.tsv:"));
            char *after = dump(g);
            assert_string_equal(before, after);
            assert_int_equal(kg_graph_memory(g), mem);
            free(after);
            refused++;
        } else {
            for (size_t i = 0; i < kg_batch_count(b); i++) {
                const kg_change *c = kg_batch_get(b, i);
                switch (c->op) {
                case KG_CHANGE_ENTITY_ADD:
                    assert_true(kg_entity_add(mirror, &c->u.entity, NULL, NULL) >= 0);
                    break;
                case KG_CHANGE_RELATION_ADD:
                    assert_true(kg_relation_add(mirror, &c->u.relation, NULL, NULL) >= 0);
                    break;
                case KG_CHANGE_RELATION_REMOVE:
                    mirror_remove_relations(mirror, &c->u.relation);
                    break;
                case KG_CHANGE_ENTITY_REMOVE: {
                    kg_eid e = kg_entity_find(mirror, c->u.entity.id);
                    if (e != KG_NONE)
                        assert_int_equal(kg_entity_remove(mirror, e, NULL), 0);
                    break;
                }
                }
            }
            applied++;
        }
        char *x = dump(g), *y = dump(mirror);
        assert_string_equal(x, y);
        free(x);
        free(y);
        free(before);
    }
    /* Both outcomes must have happened for the test to mean something. */
    assert_true(applied > 50);
    assert_true(refused > 50);
    kg_batch_destroy(&b);
    kg_graph_destroy(&mirror);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
