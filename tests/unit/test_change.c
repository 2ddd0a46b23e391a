/* test_change.c - change records, batches, kg_graph_check/apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kg/change.h"

static void test_batch_copies(void **state)
{
    (void)state;
    kg_batch *b = kg_batch_new();
    assert_non_null(b);
    assert_string_equal(kg_batch_source(b), "");
    char id[16] = "France", alias[16] = "FR", key[8] = "iso", val[8] = "FRA";
    const char *al[] = {alias};
    kg_pair at[] = {{key, val}};
    kg_entity_spec e = {.id = id, .kind = "country", .aliases = al,
                        .n_aliases = 1, .attrs = at, .n_attrs = 1};
    assert_int_equal(kg_batch_add_entity(b, &e, 7), 0);
    /* The batch owns copies: changing the caller's buffers changes nothing. */
    strcpy(id, "XXXX");
    strcpy(alias, "YY");
    strcpy(key, "k");
    strcpy(val, "v");
    /* Grow the batch well past one arena chunk and the record array. */
    char big[5000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 200; i++) {
        kg_relation_spec r = {.subject = big, .relation = "r", .object = "o"};
        assert_int_equal(kg_batch_add_relation(b, &r, (unsigned)i + 10), 0);
    }
    assert_int_equal(kg_batch_count(b), 201);
    const kg_change *c = kg_batch_get(b, 0);
    assert_int_equal(c->op, KG_CHANGE_ENTITY_ADD);
    assert_int_equal(c->line, 7);
    assert_string_equal(c->u.entity.id, "France");
    assert_string_equal(c->u.entity.kind, "country");
    assert_int_equal(c->u.entity.n_aliases, 1);
    assert_string_equal(c->u.entity.aliases[0], "FR");
    assert_string_equal(c->u.entity.attrs[0].key, "iso");
    assert_string_equal(c->u.entity.attrs[0].value, "FRA");
    c = kg_batch_get(b, 200);
    assert_int_equal(c->op, KG_CHANGE_RELATION_ADD);
    assert_int_equal(c->line, 209);
    assert_string_equal(c->u.relation.subject, big);
    assert_null(kg_batch_get(b, 201));

    /* push copies a record */
    kg_batch *b2 = kg_batch_new();
    assert_int_equal(kg_batch_push(b2, kg_batch_get(b, 0)), 0);
    assert_string_equal(kg_batch_get(b2, 0)->u.entity.aliases[0], "FR");
    /* Pushing a batch's own record while the batch grows. */
    for (int i = 0; i < 300; i++)
        assert_int_equal(kg_batch_push(b2, kg_batch_get(b2, (size_t)i)), 0);
    assert_int_equal(kg_batch_count(b2), 301);
    assert_string_equal(kg_batch_get(b2, 300)->u.entity.attrs[0].value, "FRA");
    kg_change bogus = {.op = (kg_change_op)99};
    assert_int_equal(kg_batch_push(b2, &bogus), KG_EINVAL);
    assert_int_equal(kg_batch_push(b2, NULL), KG_EINVAL);
    kg_batch_destroy(&b2);

    assert_int_equal(kg_batch_set_source(b, "facts.tsv"), 0);
    assert_string_equal(kg_batch_source(b), "facts.tsv");
    kg_batch_clear(b);
    assert_int_equal(kg_batch_count(b), 0);
    assert_int_equal(kg_batch_remove_entity(b, "x", 1), 0);
    assert_string_equal(kg_batch_get(b, 0)->u.entity.id, "x");
    assert_int_equal(kg_batch_get(b, 0)->op, KG_CHANGE_ENTITY_REMOVE);
    kg_batch_destroy(&b);
    assert_null(b);
    kg_batch_destroy(&b);
    kg_batch_destroy(NULL);
}

static void test_batch_invalid(void **state)
{
    (void)state;
    kg_batch *b = kg_batch_new();
    kg_entity_spec e = {.id = ""};
    assert_int_equal(kg_batch_add_entity(b, &e, 1), KG_EINVAL);
    e.id = NULL;
    assert_int_equal(kg_batch_add_entity(b, &e, 1), KG_EINVAL);
    assert_int_equal(kg_batch_add_entity(b, NULL, 1), KG_EINVAL);
    assert_int_equal(kg_batch_add_entity(NULL, &e, 1), KG_EINVAL);
    assert_int_equal(kg_batch_remove_entity(b, "", 1), KG_EINVAL);
    assert_int_equal(kg_batch_remove_entity(b, NULL, 1), KG_EINVAL);
    kg_relation_spec r = {.subject = "a", .relation = NULL, .object = "b"};
    assert_int_equal(kg_batch_add_relation(b, &r, 1), KG_EINVAL);
    r.relation = "";
    assert_int_equal(kg_batch_remove_relation(b, &r, 1), KG_EINVAL);
    assert_int_equal(kg_batch_add_relation(b, NULL, 1), KG_EINVAL);
    r.relation = "k";
    r.n_quals = 2; /* NULL array */
    assert_int_equal(kg_batch_add_relation(b, &r, 1), KG_EINVAL);
    assert_int_equal(kg_batch_count(b), 0);
    assert_int_equal(kg_batch_count(NULL), 0);
    assert_null(kg_batch_get(NULL, 0));
    assert_int_equal(kg_batch_set_source(NULL, "x"), KG_EINVAL);
    assert_string_equal(kg_batch_source(NULL), "");
    kg_graph *g = kg_graph_new();
    kg_error err;
    assert_int_equal(kg_graph_apply(g, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_graph_apply(NULL, b, &err), KG_EINVAL);
    assert_int_equal(kg_graph_check(NULL, b, &err), KG_EINVAL);
    assert_int_equal(kg_graph_apply_one(g, NULL, &err), KG_EINVAL);
    kg_graph_destroy(&g);
    kg_batch_destroy(&b);
}

static void test_apply(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_batch *b = kg_batch_new();
    const char *al[] = {"EU"};
    kg_entity_spec eu = {.id = "European Union", .kind = "bloc", .aliases = al, .n_aliases = 1};
    kg_pair q[] = {{"year", "2024"}};
    kg_pair q2[] = {{"year", "2025"}};
    kg_relation_spec r1 = {.subject = "China", .relation = "exports-to", .object = "EU",
                           .quals = q, .n_quals = 1};
    kg_relation_spec r2 = r1;
    r2.quals = q2;
    assert_int_equal(kg_batch_add_entity(b, &eu, 1), 0);
    assert_int_equal(kg_batch_add_relation(b, &r1, 2), 0);
    assert_int_equal(kg_batch_add_relation(b, &r2, 3), 0);
    kg_error err;
    assert_int_equal(kg_graph_check(g, b, &err), 0);
    assert_int_equal(kg_entity_count(g), 0); /* check changes nothing */
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(kg_entity_count(g), 2);
    assert_int_equal(kg_relation_count(g), 2);
    kg_eid e = kg_entity_find(g, "eu");
    assert_string_equal(kg_entity_id(g, e), "European Union");
    assert_int_equal(kg_degree(g, e, KG_IN), 2);

    /* Remove by subset of qualifiers; without qualifiers, all of them. */
    kg_batch_clear(b);
    kg_relation_spec rm = {.subject = "china", .relation = "exports-to",
                           .object = "European Union", .quals = q2, .n_quals = 1};
    assert_int_equal(kg_batch_remove_relation(b, &rm, 4), 0);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(kg_relation_count(g), 1);
    assert_string_equal(kg_relation_qual_get(g, kg_relation_first(g), "year"), "2024");
    kg_batch_clear(b);
    assert_int_equal(kg_batch_add_relation(b, &r2, 5), 0);
    rm.n_quals = 0;
    assert_int_equal(kg_batch_remove_relation(b, &rm, 6), 0);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(kg_relation_count(g), 0);

    /* Entity removal by alias, through apply_one. */
    kg_change c = {.op = KG_CHANGE_ENTITY_REMOVE, .line = 9};
    c.u.entity.id = "eu";
    assert_int_equal(kg_graph_apply_one(g, &c, &err), 0);
    assert_int_equal(kg_entity_find(g, "European Union"), KG_NONE);
    assert_int_equal(kg_graph_apply_one(g, &c, &err), KG_ENOTFOUND);
    assert_non_null(strstr(err.message, "line 9"));
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
}

static void test_all_or_nothing(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_relation_spec keep = {.subject = "A", .relation = "r", .object = "B"};
    assert_int_equal(kg_relation_add(g, &keep, NULL, NULL), 0);
    size_t mem = kg_graph_memory(g);

    kg_batch *b = kg_batch_new();
    assert_int_equal(kg_batch_set_source(b, "news/article-7.txt"), 0);
    kg_entity_spec e = {.id = "C", .kind = "country"};
    kg_relation_spec r = {.subject = "C", .relation = "r", .object = "A"};
    kg_relation_spec missing = {.subject = "A", .relation = "r", .object = "Z"};
    assert_int_equal(kg_batch_add_entity(b, &e, 10), 0);
    assert_int_equal(kg_batch_add_relation(b, &r, 11), 0);
    assert_int_equal(kg_batch_remove_relation(b, &missing, 12), 0);
    assert_int_equal(kg_batch_remove_entity(b, "A", 13), 0);
    kg_error err;
    assert_int_equal(kg_graph_apply(g, b, &err), KG_ENOTFOUND);
    assert_int_equal(err.code, KG_ENOTFOUND);
    assert_non_null(strstr(err.message, "news/article-7.txt:12: "));
    assert_int_equal(kg_graph_check(g, b, &err), KG_ENOTFOUND);
    /* Nothing was applied. */
    assert_int_equal(kg_entity_count(g), 2);
    assert_int_equal(kg_relation_count(g), 1);
    assert_int_equal(kg_entity_find(g, "C"), KG_NONE);
    assert_int_equal(kg_graph_memory(g), mem);

    /* Removals may name what the batch adds earlier, even by alias, and
     * may repeat a removal. */
    kg_batch_clear(b);
    const char *al[] = {"Zed"};
    kg_entity_spec z = {.id = "Z", .aliases = al, .n_aliases = 1};
    kg_relation_spec az = {.subject = "a", .relation = "r", .object = "Zed"};
    kg_relation_spec az2 = {.subject = "A", .relation = "r", .object = "z"};
    assert_int_equal(kg_batch_add_entity(b, &z, 1), 0);
    assert_int_equal(kg_batch_add_relation(b, &az, 2), 0);
    assert_int_equal(kg_batch_remove_relation(b, &az2, 3), 0);
    assert_int_equal(kg_batch_remove_entity(b, "zed", 4), 0);
    assert_int_equal(kg_batch_remove_entity(b, "Z", 5), 0);
    assert_int_equal(kg_batch_remove_entity(b, "Q", 6), 0); /* unknown */
    assert_int_equal(kg_graph_apply(g, b, &err), KG_ENOTFOUND);
    assert_non_null(strstr(err.message, "news/article-7.txt:6: "));
    assert_int_equal(kg_entity_count(g), 2);
    /* Drop the bad one by rebuilding without it. */
    kg_batch *b2 = kg_batch_new();
    for (size_t i = 0; i + 1 < kg_batch_count(b); i++)
        assert_int_equal(kg_batch_push(b2, kg_batch_get(b, i)), 0);
    assert_int_equal(kg_graph_apply(g, b2, &err), 0);
    assert_int_equal(kg_entity_find(g, "Z"), KG_NONE);
    assert_int_equal(kg_entity_count(g), 2);
    assert_int_equal(kg_relation_count(g), 1);

    /* Invalid record in the middle: all or nothing again, no source. */
    kg_batch_clear(b2);
    assert_int_equal(kg_batch_add_entity(b2, &e, 1), 0);
    assert_int_equal(kg_batch_add_relation(b2, &r, 2), 0);
    kg_change bad = {.op = KG_CHANGE_RELATION_ADD, .line = 3};
    bad.u.relation.subject = "A";
    bad.u.relation.object = "B";
    bad.u.relation.relation = "";
    assert_int_equal(kg_graph_apply_one(g, &bad, &err), KG_EINVAL);
    assert_non_null(strstr(err.message, "line 3"));
    kg_batch_destroy(&b2);
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
}

static void test_check_then_apply(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_relation_spec xy = {.subject = "X", .relation = "r", .object = "Y"};
    assert_int_equal(kg_relation_add(g, &xy, NULL, NULL), 0);
    kg_batch *b = kg_batch_new();
    /* Both removals name things that exist now; the second one finds
     * nothing left when it is applied, which is not an error. */
    assert_int_equal(kg_batch_remove_entity(b, "x", 1), 0);
    assert_int_equal(kg_batch_remove_relation(b, &xy, 2), 0);
    assert_int_equal(kg_batch_remove_entity(b, "X", 3), 0);
    kg_error err;
    assert_int_equal(kg_graph_check(g, b, &err), 0);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(err.code, 0);
    assert_int_equal(kg_entity_count(g), 1);
    assert_int_equal(kg_relation_count(g), 0);

    /* An empty qualifier key in the third change: nothing is applied. */
    kg_batch_clear(b);
    kg_entity_spec e = {.id = "A", .kind = "country"};
    kg_relation_spec ok = {.subject = "A", .relation = "r", .object = "Y"};
    kg_pair badq[] = {{"", "x"}};
    kg_relation_spec bad = {.subject = "A", .relation = "r", .object = "Y",
                            .quals = badq, .n_quals = 1};
    assert_int_equal(kg_batch_set_source(b, "in.tsv"), 0);
    assert_int_equal(kg_batch_add_entity(b, &e, 4), 0);
    assert_int_equal(kg_batch_add_relation(b, &ok, 5), 0);
    assert_int_equal(kg_batch_add_relation(b, &bad, 6), 0);
    assert_int_equal(kg_graph_apply(g, b, &err), KG_EINVAL);
    assert_string_equal(err.message, "in.tsv:6: qualifier without a key");
    assert_int_equal(kg_entity_count(g), 1);
    assert_int_equal(kg_relation_count(g), 0);
    assert_int_equal(kg_entity_find(g, "A"), KG_NONE);

    /* Without a line number the change is counted from 1. */
    kg_batch_clear(b);
    assert_int_equal(kg_batch_remove_entity(b, "Nobody", 0), 0);
    assert_int_equal(kg_graph_check(g, b, &err), KG_ENOTFOUND);
    assert_string_equal(err.message, "in.tsv: change 1: no entity 'Nobody' to remove");
    assert_int_equal(kg_batch_set_source(b, NULL), 0);
    assert_int_equal(kg_graph_check(g, b, &err), KG_ENOTFOUND);
    assert_string_equal(err.message, "change 1: no entity 'Nobody' to remove");

    /* Removal of a relation added earlier in the batch under other names
     * (alias, case), with qualifiers as a subset. */
    kg_batch_clear(b);
    const char *al[] = {"Deutschland"};
    kg_entity_spec de = {.id = "Germany", .aliases = al, .n_aliases = 1};
    kg_pair q[] = {{"year", "2024"}, {"goods", "cars"}};
    kg_relation_spec add = {.subject = "Germany", .relation = "exports-to",
                            .object = "y", .quals = q, .n_quals = 2};
    kg_relation_spec rm = {.subject = "deutschland", .relation = "exports-to",
                           .object = "Y", .quals = q + 1, .n_quals = 1};
    assert_int_equal(kg_batch_add_entity(b, &de, 1), 0);
    assert_int_equal(kg_batch_add_relation(b, &add, 2), 0);
    assert_int_equal(kg_batch_remove_relation(b, &rm, 3), 0);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(kg_relation_count(g), 0);
    assert_int_equal(kg_entity_count(g), 2);
    /* A kind that differs only in case is another kind. */
    kg_batch_clear(b);
    rm.relation = "Exports-To";
    assert_int_equal(kg_batch_add_relation(b, &add, 1), 0);
    assert_int_equal(kg_batch_remove_relation(b, &rm, 2), 0);
    assert_int_equal(kg_graph_check(g, b, &err), KG_ENOTFOUND);
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_copies),
        cmocka_unit_test(test_batch_invalid),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_check_then_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
