/* test_graph.c - the store: atoms, entities, relations, adjacency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kg/graph.h"

static kg_eid add_ent(kg_graph *g, const char *id, const char *kind)
{
    kg_entity_spec s = {.id = id, .kind = kind};
    kg_eid e = KG_NONE;
    int rc = kg_entity_add(g, &s, &e, NULL);
    assert_true(rc == 0 || rc == 1);
    return e;
}

static kg_rid add_rel(kg_graph *g, const char *s, const char *k, const char *o)
{
    kg_relation_spec r = {.subject = s, .relation = k, .object = o};
    kg_rid id = KG_NONE;
    assert_true(kg_relation_add(g, &r, &id, NULL) >= 0);
    return id;
}

static void test_atoms(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    assert_non_null(g);
    assert_int_equal(kg_atom_find(g, ""), 0);
    assert_string_equal(kg_atom_str(g, 0), "");
    kg_atom a = kg_atom_intern(g, "France", 6);
    assert_int_not_equal(a, KG_NONE);
    assert_int_equal(kg_atom_intern(g, "Francexyz", 6), a);
    assert_int_equal(kg_atom_find(g, "France"), a);
    assert_int_equal(kg_atom_find(g, "france"), KG_NONE); /* case-sensitive */
    kg_atom b = kg_atom_intern(g, "france", 6);
    assert_int_not_equal(a, b);
    assert_string_equal(kg_atom_str(g, a), "France");
    assert_string_equal(kg_atom_str(g, b), "france");
    assert_null(kg_atom_str(g, KG_NONE));
    assert_null(kg_atom_str(g, 1000000));
    assert_int_equal(kg_atom_intern(NULL, "x", 1), KG_NONE);
    assert_int_equal(kg_atom_intern(g, NULL, 3), KG_NONE);
    assert_int_equal(kg_atom_intern(g, NULL, 0), 0);
    assert_int_equal(kg_atom_find(g, NULL), KG_NONE);
    /* An atom ends at its first NUL. */
    assert_int_equal(kg_atom_intern(g, "France\0junk", 11), a);
    /* Many atoms survive table growth and arena chunking. */
    char buf[32];
    kg_atom ids[5000];
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "atom-%d", i);
        ids[i] = kg_atom_intern(g, buf, strlen(buf));
        assert_int_not_equal(ids[i], KG_NONE);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "atom-%d", i);
        assert_int_equal(kg_atom_find(g, buf), ids[i]);
        assert_string_equal(kg_atom_str(g, ids[i]), buf);
    }
    kg_graph_destroy(&g);
    assert_null(g);
    kg_graph_destroy(&g);
    kg_graph_destroy(NULL);
}

static void test_entity_basics(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    const char *al[] = {"French Republic", "FR"};
    kg_pair at[] = {{"iso", "FRA"}, {"capital", "Paris"}};
    kg_entity_spec s = {.id = "France", .kind = "country", .aliases = al,
                        .n_aliases = 2, .attrs = at, .n_attrs = 2};
    kg_eid e;
    kg_error err;
    assert_int_equal(kg_entity_add(g, &s, &e, &err), 0);
    assert_true(kg_entity_alive(g, e));
    assert_string_equal(kg_entity_id(g, e), "France");
    assert_string_equal(kg_entity_kind(g, e), "country");
    assert_int_equal(kg_entity_id_atom(g, e), kg_atom_find(g, "France"));
    assert_int_equal(kg_entity_kind_atom(g, e), kg_atom_find(g, "country"));
    assert_int_equal(kg_entity_alias_count(g, e), 2);
    assert_string_equal(kg_entity_alias(g, e, 0), "French Republic");
    assert_string_equal(kg_entity_alias(g, e, 1), "FR");
    assert_null(kg_entity_alias(g, e, 2));
    assert_int_equal(kg_entity_attr_count(g, e), 2);
    /* Attributes come sorted by key. */
    assert_string_equal(kg_entity_attr(g, e, 0).key, "capital");
    assert_string_equal(kg_entity_attr(g, e, 0).value, "Paris");
    assert_string_equal(kg_entity_attr(g, e, 1).key, "iso");
    assert_null(kg_entity_attr(g, e, 2).key);
    assert_string_equal(kg_entity_attr_get(g, e, "iso"), "FRA");
    assert_null(kg_entity_attr_get(g, e, "nope"));
    assert_null(kg_entity_attr_get(g, e, NULL));
    assert_int_equal(kg_entity_count(g), 1);

    /* Case-insensitive look-up by id and by alias. */
    assert_int_equal(kg_entity_find(g, "FRANCE"), e);
    assert_int_equal(kg_entity_find(g, "france"), e);
    assert_int_equal(kg_entity_find(g, "fr"), e);
    assert_int_equal(kg_entity_find(g, "french republic"), e);
    assert_int_equal(kg_entity_by_id(g, "fRaNcE"), e);
    assert_int_equal(kg_entity_by_id(g, "FR"), KG_NONE);
    assert_int_equal(kg_entity_find(g, "Franc"), KG_NONE);
    assert_int_equal(kg_entity_find(g, ""), KG_NONE);
    assert_int_equal(kg_entity_find(g, NULL), KG_NONE);

    /* Default kind. */
    kg_eid u = add_ent(g, "Somewhere", NULL);
    assert_string_equal(kg_entity_kind(g, u), "unknown");
    kg_eid u2 = add_ent(g, "Elsewhere", "");
    assert_string_equal(kg_entity_kind(g, u2), "unknown");

    /* Dead handles give nothing. */
    assert_false(kg_entity_alive(g, 12345));
    assert_null(kg_entity_id(g, 12345));
    assert_null(kg_entity_kind(g, KG_NONE));
    assert_int_equal(kg_entity_id_atom(g, KG_NONE), KG_NONE);
    assert_int_equal(kg_entity_alias_count(g, KG_NONE), 0);
    assert_int_equal(kg_entity_attr_count(g, KG_NONE), 0);
    assert_null(kg_entity_attr(g, KG_NONE, 0).key);
    kg_graph_destroy(&g);
}

static void test_entity_merge(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    const char *al[] = {"PRC"};
    kg_pair at[] = {{"iso", "CHN"}};
    kg_entity_spec s = {.id = "China", .kind = "country", .aliases = al,
                        .n_aliases = 1, .attrs = at, .n_attrs = 1};
    kg_eid e, e2;
    assert_int_equal(kg_entity_add(g, &s, &e, NULL), 0);

    /* Merge by alias: aliases and attributes are added, values replaced. */
    const char *al2[] = {"Beijing", "prc", "People's Republic of China"};
    kg_pair at2[] = {{"iso", "CN"}, {"region", "Asia"}};
    kg_entity_spec m = {.id = "prc", .kind = "unknown", .aliases = al2,
                        .n_aliases = 3, .attrs = at2, .n_attrs = 2};
    assert_int_equal(kg_entity_add(g, &m, &e2, NULL), 1);
    assert_int_equal(e2, e);
    assert_string_equal(kg_entity_id(g, e), "China");
    assert_string_equal(kg_entity_kind(g, e), "country"); /* unknown does not replace */
    assert_int_equal(kg_entity_alias_count(g, e), 3);     /* "prc" was already there */
    assert_string_equal(kg_entity_alias(g, e, 1), "Beijing");
    assert_string_equal(kg_entity_attr_get(g, e, "iso"), "CN");
    assert_string_equal(kg_entity_attr_get(g, e, "region"), "Asia");
    assert_int_equal(kg_entity_count(g), 1);

    /* Kind replaced when a real one is given; kind lists follow. */
    kg_entity_spec k = {.id = "CHINA", .kind = "state"};
    assert_int_equal(kg_entity_add(g, &k, NULL, NULL), 1);
    assert_string_equal(kg_entity_kind(g, e), "state");
    assert_int_equal(kg_entities_of_kind(g, "country").n, 0);
    assert_int_equal(kg_entities_of_kind(g, "state").n, 1);

    /* Id beats alias: a place called Beijing takes the name. */
    kg_eid bj = add_ent(g, "Beijing", "place");
    /* "Beijing" was an alias of China, so adding id "Beijing" merges... */
    assert_int_equal(bj, e);
    kg_graph_destroy(&g);

    g = kg_graph_new();
    kg_eid place = add_ent(g, "Beijing", "place");
    const char *al3[] = {"Beijing", "Peking"};
    kg_entity_spec c = {.id = "China", .kind = "country", .aliases = al3, .n_aliases = 2};
    assert_int_equal(kg_entity_add(g, &c, &e, NULL), 0);
    assert_int_not_equal(place, e);
    assert_int_equal(kg_entity_find(g, "beijing"), place); /* id wins */
    assert_int_equal(kg_entity_find(g, "peking"), e);
    /* The first owner keeps an alias. */
    const char *al4[] = {"Peking"};
    kg_entity_spec o = {.id = "Other", .aliases = al4, .n_aliases = 1};
    kg_eid other;
    assert_int_equal(kg_entity_add(g, &o, &other, NULL), 0);
    assert_int_equal(kg_entity_alias_count(g, other), 0);
    assert_int_equal(kg_entity_find(g, "Peking"), e);
    /* When the id owner goes, the alias resolves. */
    assert_int_equal(kg_entity_remove(g, place, NULL), 0);
    assert_int_equal(kg_entity_find(g, "Beijing"), e);
    assert_int_equal(kg_entity_by_id(g, "Beijing"), KG_NONE);
    kg_graph_destroy(&g);
}

static void test_invalid_args(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err;
    kg_entity_spec s = {.id = NULL};
    assert_int_equal(kg_entity_add(g, &s, NULL, &err), KG_EINVAL);
    assert_int_equal(err.code, KG_EINVAL);
    s.id = "";
    assert_int_equal(kg_entity_add(g, &s, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_entity_add(g, NULL, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_entity_add(NULL, &s, NULL, NULL), KG_EINVAL);
    s.id = "x";
    s.n_aliases = 1;
    assert_int_equal(kg_entity_add(g, &s, NULL, &err), KG_EINVAL);
    const char *nulls[] = {NULL};
    s.aliases = nulls;
    assert_int_equal(kg_entity_add(g, &s, NULL, &err), KG_EINVAL);
    s.n_aliases = 0;
    kg_pair bad[] = {{"", "v"}};
    s.attrs = bad;
    s.n_attrs = 1;
    assert_int_equal(kg_entity_add(g, &s, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_entity_count(g), 0);

    kg_relation_spec r = {.subject = "a", .relation = "", .object = "b"};
    assert_int_equal(kg_relation_add(g, &r, NULL, &err), KG_EINVAL);
    r.relation = NULL;
    assert_int_equal(kg_relation_add(g, &r, NULL, &err), KG_EINVAL);
    r.relation = "k";
    r.subject = NULL;
    assert_int_equal(kg_relation_add(g, &r, NULL, &err), KG_EINVAL);
    r.subject = "a";
    r.object = "";
    assert_int_equal(kg_relation_add(g, &r, NULL, &err), KG_EINVAL);
    r.object = "b";
    r.quals = bad;
    r.n_quals = 1;
    assert_int_equal(kg_relation_add(g, &r, NULL, &err), KG_EINVAL);
    r.quals = NULL;
    assert_int_equal(kg_relation_add(g, &r, NULL, &err), KG_EINVAL);
    r.n_quals = 0;
    r.prov = bad;
    r.n_prov = 1;
    assert_int_equal(kg_relation_add(g, &r, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_relation_add(g, NULL, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_relation_add(NULL, &r, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_entity_count(g), 0);
    assert_int_equal(kg_relation_count(g), 0);
    assert_int_equal(kg_relation_find(g, NULL), KG_NONE);
    assert_int_equal(kg_relation_find(NULL, &r), KG_NONE);

    kg_eid a = add_ent(g, "a", NULL);
    assert_int_equal(kg_relation_add_ids(g, a, 0, a, NULL, 0, NULL, 0, NULL, &err),
                     KG_EINVAL);
    assert_int_equal(kg_relation_add_ids(g, a, 999999, a, NULL, 0, NULL, 0, NULL, &err),
                     KG_EINVAL);
    kg_atom k = kg_atom_intern(g, "k", 1);
    assert_int_equal(kg_relation_add_ids(g, a, k, 77, NULL, 0, NULL, 0, NULL, &err),
                     KG_ENOTFOUND);
    assert_int_equal(kg_relation_add_ids(NULL, a, k, a, NULL, 0, NULL, 0, NULL, &err),
                     KG_EINVAL);
    assert_int_equal(kg_relation_remove(g, 0, &err), KG_ENOTFOUND);
    assert_int_equal(kg_relation_remove(NULL, 0, &err), KG_EINVAL);
    assert_int_equal(kg_entity_remove(g, 99, &err), KG_ENOTFOUND);
    assert_int_equal(kg_entity_remove(NULL, 0, &err), KG_EINVAL);
    assert_int_equal(kg_adjacent(g, a, (kg_dir)7, 0).n, 0);
    assert_int_equal(kg_adjacent(NULL, a, KG_OUT, 0).n, 0);
    assert_int_equal(kg_degree(NULL, a, KG_OUT), 0);
    assert_int_equal(kg_entity_count(NULL), 0);
    assert_int_equal(kg_relation_count(NULL), 0);
    assert_int_equal(kg_entity_first(NULL), KG_NONE);
    assert_int_equal(kg_relation_first(NULL), KG_NONE);
    assert_int_equal(kg_entities_of_kind(NULL, "x").n, 0);
    assert_int_equal(kg_entities_of_kind(g, NULL).n, 0);
    assert_int_equal(kg_entity_kinds(NULL, NULL, NULL, 0), 0);
    assert_int_equal(kg_graph_memory(NULL), 0);
    kg_graph_destroy(&g);
}

static void test_relations(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_pair q1[] = {{"year", "2024"}, {"goods", "cars"}};
    kg_pair q2[] = {{"goods", "cars"}, {"year", "2025"}};
    kg_pair p1[] = {{KG_PROV_SOURCE, "a.txt"}};
    kg_pair p2[] = {{KG_PROV_SOURCE, "b.txt"}, {KG_PROV_EVIDENCE, "It says so."}};
    kg_relation_spec r = {.subject = "China", .relation = "exports-to",
                          .object = "France", .quals = q1, .n_quals = 2,
                          .prov = p1, .n_prov = 1};
    kg_rid a, b, c;
    assert_int_equal(kg_relation_add(g, &r, &a, NULL), 0);
    assert_int_equal(kg_entity_count(g), 2);
    kg_eid cn = kg_entity_find(g, "china"), fr = kg_entity_find(g, "FRANCE");
    assert_string_equal(kg_entity_kind(g, cn), "unknown");
    assert_int_equal(kg_relation_subject(g, a), cn);
    assert_int_equal(kg_relation_object(g, a), fr);
    assert_string_equal(kg_relation_kind(g, a), "exports-to");
    assert_int_equal(kg_relation_kind_atom(g, a), kg_atom_find(g, "exports-to"));
    assert_int_equal(kg_relation_qual_count(g, a), 2);
    assert_string_equal(kg_relation_qual(g, a, 0).key, "goods");
    assert_string_equal(kg_relation_qual(g, a, 1).key, "year");
    assert_null(kg_relation_qual(g, a, 2).key);
    assert_string_equal(kg_relation_qual_get(g, a, "year"), "2024");
    assert_null(kg_relation_qual_get(g, a, "value"));

    /* Same fact again (quals in another order, names in another case):
     * one relation; provenance kept, missing keys filled in. */
    kg_pair q1b[] = {{"goods", "cars"}, {"year", "2024"}};
    kg_relation_spec again = {.subject = "CHINA", .relation = "exports-to",
                              .object = "france", .quals = q1b, .n_quals = 2,
                              .prov = p2, .n_prov = 2};
    assert_int_equal(kg_relation_add(g, &again, &b, NULL), 1);
    assert_int_equal(b, a);
    assert_int_equal(kg_relation_count(g), 1);
    assert_int_equal(kg_relation_prov_count(g, a), 2);
    assert_string_equal(kg_relation_prov_get(g, a, KG_PROV_SOURCE), "a.txt");
    assert_string_equal(kg_relation_prov_get(g, a, KG_PROV_EVIDENCE), "It says so.");
    assert_string_equal(kg_relation_prov(g, a, 0).key, KG_PROV_EVIDENCE);
    assert_null(kg_relation_prov(g, a, 5).key);

    /* Different qualifiers: a second relation. */
    r.quals = q2;
    assert_int_equal(kg_relation_add(g, &r, &c, NULL), 0);
    assert_int_not_equal(c, a);
    assert_int_equal(kg_relation_count(g), 2);
    /* No qualifiers: a third. */
    r.n_quals = 0;
    r.quals = NULL;
    kg_rid d;
    assert_int_equal(kg_relation_add(g, &r, &d, NULL), 0);
    assert_int_equal(kg_relation_count(g), 3);

    /* find */
    r.quals = q1b;
    r.n_quals = 2;
    assert_int_equal(kg_relation_find(g, &r), a);
    r.n_quals = 1; /* only goods=cars: no such fact */
    assert_int_equal(kg_relation_find(g, &r), KG_NONE);
    r.n_quals = 0;
    assert_int_equal(kg_relation_find(g, &r), d);
    kg_pair unk[] = {{"never-seen-key", "x"}};
    r.quals = unk;
    r.n_quals = 1;
    assert_int_equal(kg_relation_find(g, &r), KG_NONE);
    r.n_quals = 0;
    r.object = "Nobody";
    assert_int_equal(kg_relation_find(g, &r), KG_NONE);
    assert_int_equal(kg_entity_count(g), 2); /* find does not create */

    /* Adjacency and degree. */
    assert_int_equal(kg_degree(g, cn, KG_OUT), 3);
    assert_int_equal(kg_degree(g, cn, KG_IN), 0);
    assert_int_equal(kg_degree(g, fr, KG_IN), 3);
    assert_int_equal(kg_degree(g, fr, KG_BOTH), 3);
    kg_span sp = kg_adjacent(g, cn, KG_OUT, 0);
    assert_int_equal(sp.n, 3);
    assert_int_equal(sp.ids[0], a);
    assert_int_equal(sp.ids[1], c);
    assert_int_equal(sp.ids[2], d);
    assert_int_equal(kg_adjacent(g, cn, KG_OUT, kg_atom_find(g, "exports-to")).n, 3);
    assert_int_equal(kg_adjacent(g, cn, KG_OUT, kg_atom_find(g, "year")).n, 0);
    assert_int_equal(kg_adjacent(g, cn, KG_OUT, KG_NONE).n, 0);

    /* Remove one; the handle is reused. */
    assert_int_equal(kg_relation_remove(g, c, NULL), 0);
    assert_false(kg_relation_alive(g, c));
    assert_null(kg_relation_kind(g, c));
    assert_int_equal(kg_relation_subject(g, c), KG_NONE);
    assert_int_equal(kg_relation_qual_count(g, c), 0);
    assert_int_equal(kg_relation_count(g), 2);
    assert_int_equal(kg_degree(g, cn, KG_OUT), 2);
    assert_int_equal(kg_relation_remove(g, c, NULL), KG_ENOTFOUND);
    r.quals = q2;
    r.n_quals = 2;
    r.object = "France";
    assert_int_equal(kg_relation_find(g, &r), KG_NONE);
    kg_rid c2;
    assert_int_equal(kg_relation_add(g, &r, &c2, NULL), 0);
    assert_int_equal(c2, c);

    /* Iteration. */
    size_t n = 0;
    for (kg_rid x = kg_relation_first(g); x != KG_NONE; x = kg_relation_next(g, x))
        n++;
    assert_int_equal(n, kg_relation_count(g));
    kg_graph_destroy(&g);
}

static void test_self_loop(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_rid r = add_rel(g, "X", "likes", "X");
    kg_eid x = kg_entity_find(g, "x");
    assert_int_equal(kg_entity_count(g), 1);
    assert_int_equal(kg_degree(g, x, KG_OUT), 1);
    assert_int_equal(kg_degree(g, x, KG_IN), 1);
    assert_int_equal(kg_adjacent(g, x, KG_OUT, 0).ids[0], r);
    assert_int_equal(kg_adjacent(g, x, KG_IN, 0).ids[0], r);
    kg_rid r2 = add_rel(g, "X", "aaa", "X");
    assert_int_equal(kg_degree(g, x, KG_BOTH), 4);
    assert_int_equal(kg_relation_remove(g, r, NULL), 0);
    assert_int_equal(kg_degree(g, x, KG_BOTH), 2);
    assert_int_equal(kg_adjacent(g, x, KG_IN, 0).ids[0], r2);
    add_rel(g, "X", "likes", "X");
    assert_int_equal(kg_entity_remove(g, x, NULL), 0);
    assert_int_equal(kg_relation_count(g), 0);
    assert_int_equal(kg_entity_count(g), 0);
    kg_graph_destroy(&g);
}

static void test_entity_remove(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    const char *al[] = {"Alias-A"};
    kg_entity_spec s = {.id = "A", .kind = "country", .aliases = al, .n_aliases = 1};
    kg_eid a;
    assert_int_equal(kg_entity_add(g, &s, &a, NULL), 0);
    kg_eid b = add_ent(g, "B", "country");
    kg_eid c = add_ent(g, "C", "bloc");
    add_rel(g, "A", "trades", "B");
    add_rel(g, "B", "trades", "A");
    add_rel(g, "C", "has", "A");
    kg_rid keep = add_rel(g, "B", "member-of", "C");
    assert_int_equal(kg_relation_count(g), 4);
    size_t counts[4];
    kg_atom kinds[4];
    assert_int_equal(kg_entity_kinds(g, kinds, counts, 4), 2);
    assert_int_equal(kg_relation_kinds(g, kinds, counts, 4), 3);

    assert_int_equal(kg_entity_remove(g, a, NULL), 0);
    assert_false(kg_entity_alive(g, a));
    assert_int_equal(kg_entity_count(g), 2);
    assert_int_equal(kg_relation_count(g), 1);
    assert_true(kg_relation_alive(g, keep));
    assert_int_equal(kg_entity_find(g, "A"), KG_NONE);
    assert_int_equal(kg_entity_find(g, "alias-a"), KG_NONE);
    assert_int_equal(kg_degree(g, b, KG_BOTH), 1);
    assert_int_equal(kg_degree(g, c, KG_BOTH), 1);
    assert_int_equal(kg_entities_of_kind(g, "country").n, 1);
    assert_int_equal(kg_entities_of_kind(g, "country").ids[0], b);
    assert_int_equal(kg_entity_kinds(g, kinds, counts, 4), 2);
    assert_int_equal(kg_relation_kinds(g, kinds, counts, 4), 1);
    assert_int_equal(kinds[0], kg_atom_find(g, "member-of"));
    assert_int_equal(counts[0], 1);
    assert_int_equal(kg_entity_remove(g, a, NULL), KG_ENOTFOUND);

    /* Handle reuse, and the alias is free again. */
    const char *al2[] = {"alias-a"};
    kg_entity_spec s2 = {.id = "D", .aliases = al2, .n_aliases = 1};
    kg_eid d;
    assert_int_equal(kg_entity_add(g, &s2, &d, NULL), 0);
    assert_int_equal(d, a);
    assert_int_equal(kg_entity_find(g, "ALIAS-A"), d);
    assert_string_equal(kg_entity_id(g, d), "D");

    /* Iteration skips dead slots. */
    assert_int_equal(kg_entity_remove(g, b, NULL), 0);
    size_t n = 0;
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e)) {
        assert_true(kg_entity_alive(g, e));
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(kg_relation_count(g), 0);
    kg_graph_destroy(&g);
}

static void test_kinds_stats(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_eid a = add_ent(g, "a", "country");
    kg_eid b = add_ent(g, "b", "person");
    kg_eid c = add_ent(g, "c", "country");
    kg_span sp = kg_entities_of_kind(g, "country");
    assert_int_equal(sp.n, 2);
    assert_int_equal(sp.ids[0], a);
    assert_int_equal(sp.ids[1], c);
    assert_int_equal(kg_entities_of_kind(g, "person").ids[0], b);
    assert_int_equal(kg_entities_of_kind(g, "planet").n, 0);
    assert_null(kg_entities_of_kind(g, "planet").ids);
    kg_atom kinds[1];
    size_t counts[1];
    /* max smaller than the number of kinds: fills what fits. */
    assert_int_equal(kg_entity_kinds(g, kinds, counts, 1), 2);
    assert_int_equal(kinds[0], kg_atom_find(g, "country"));
    assert_int_equal(counts[0], 2);
    assert_int_equal(kg_entity_kinds(g, NULL, NULL, 0), 2);
    size_t m0 = kg_graph_memory(g);
    assert_true(m0 > 0);
    for (int i = 0; i < 100; i++) {
        char n1[16], n2[16];
        snprintf(n1, sizeof n1, "x%d", i);
        snprintf(n2, sizeof n2, "y%d", i);
        add_rel(g, n1, "r", n2);
    }
    assert_true(kg_graph_memory(g) > m0);
    kg_graph_destroy(&g);
}

static void test_huge_names(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    size_t n = (size_t)1 << 20;
    char *id = malloc(n + 1);
    assert_non_null(id);
    for (size_t i = 0; i < n; i++)
        id[i] = (char)('a' + i % 26);
    id[n] = '\0';
    kg_eid e = add_ent(g, id, "country");
    assert_string_equal(kg_entity_id(g, e), id);
    id[0] = 'A';
    assert_int_equal(kg_entity_find(g, id), e);
    kg_rid r = add_rel(g, id, "big", "small");
    assert_int_equal(kg_relation_subject(g, r), e);
    /* Small atoms after a big one still work. */
    assert_string_equal(kg_entity_id(g, kg_entity_find(g, "small")), "small");
    /* A string of several chunks. */
    char *id2 = malloc(3 * n + 1);
    assert_non_null(id2);
    memset(id2, 'z', 3 * n);
    id2[3 * n] = '\0';
    kg_eid e2 = add_ent(g, id2, NULL);
    assert_string_equal(kg_entity_id(g, e2), id2);
    assert_int_equal(kg_entity_find(g, id2), e2);
    /* Sizes around the arena's chunk boundaries, interleaved. */
    static const size_t sizes[] = {100, 16383, 16384, 16385, 30000, 65534,
                                   65535, 65536, 65537, 200000, 7, 40000};
    kg_atom at[3][sizeof sizes / sizeof sizes[0]];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            memset(id2, 'a' + (int)i, sizes[i]);
            id2[sizes[i]] = (char)('0' + round);
            id2[sizes[i] + 1] = '\0';
            at[round][i] = kg_atom_intern(g, id2, sizes[i] + 1);
            assert_int_not_equal(at[round][i], KG_NONE);
        }
    }
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            const char *a = kg_atom_str(g, at[round][i]);
            assert_int_equal(strlen(a), sizes[i] + 1);
            assert_int_equal(a[0], 'a' + (int)i);
            assert_int_equal(a[sizes[i] - 1], 'a' + (int)i);
            assert_int_equal(a[sizes[i]], '0' + round);
            assert_int_equal(kg_atom_find(g, a), at[round][i]);
        }
    }
    free(id2);
    free(id);
    kg_graph_destroy(&g);
}

static void test_provenance_and_memory(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_eid a = add_ent(g, "A", NULL), b = add_ent(g, "B", NULL);
    kg_atom k = kg_atom_intern(g, "rel", 3);
    kg_pair p1[] = {{"span", "1-5"}, {"source", "x"}};
    kg_pair p2[] = {{"source", "y"}, {"doc_date", "2025-01-01"}, {"span", "9-9"}};
    kg_rid r, r2;
    assert_int_equal(kg_relation_add_ids(g, a, k, b, NULL, 0, p1, 2, &r, NULL), 0);
    assert_int_equal(kg_relation_add_ids(g, a, k, b, NULL, 0, p2, 3, &r2, NULL), 1);
    assert_int_equal(r, r2);
    assert_int_equal(kg_relation_prov_count(g, r), 3);
    assert_string_equal(kg_relation_prov_get(g, r, "source"), "x");
    assert_string_equal(kg_relation_prov_get(g, r, "span"), "1-5");
    assert_string_equal(kg_relation_prov_get(g, r, "doc_date"), "2025-01-01");
    /* sorted by key */
    assert_string_equal(kg_relation_prov(g, r, 0).key, "doc_date");
    assert_string_equal(kg_relation_prov(g, r, 1).key, "source");
    assert_string_equal(kg_relation_prov(g, r, 2).key, "span");
    /* The same key twice in one call: the last value counts. */
    kg_pair dup[] = {{"q", "1"}, {"q", "2"}};
    kg_pair one[] = {{"q", "2"}};
    kg_rid d1, d2;
    assert_int_equal(kg_relation_add_ids(g, a, k, b, dup, 2, NULL, 0, &d1, NULL), 0);
    assert_int_equal(kg_relation_add_ids(g, a, k, b, one, 1, NULL, 0, &d2, NULL), 1);
    assert_int_equal(d1, d2);
    /* A NULL value is the empty string. */
    kg_pair nv[] = {{"q", NULL}};
    kg_rid n1;
    assert_int_equal(kg_relation_add_ids(g, a, k, b, nv, 1, NULL, 0, &n1, NULL), 0);
    assert_string_equal(kg_relation_qual_get(g, n1, "q"), "");

    /* Memory goes back down when relations and entities go. */
    size_t base = kg_graph_memory(g);
    kg_eid hub = add_ent(g, "hub", NULL);
    kg_rid rs[3000];
    for (int i = 0; i < 3000; i++) {
        char q[16];
        snprintf(q, sizeof q, "%d", i);
        kg_pair qq[] = {{"n", q}};
        assert_int_equal(kg_relation_add_ids(g, hub, k, i % 2 ? a : hub, qq, 1,
                                             NULL, 0, &rs[i], NULL), 0);
    }
    size_t full = kg_graph_memory(g);
    assert_true(full > base + 3000 * 8);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(kg_relation_remove(g, rs[i], NULL), 0);
    size_t after = kg_graph_memory(g);
    assert_true(after < full);
    /* Re-adding reuses the freed handles: no new relation chunk. */
    kg_rid again;
    kg_pair qq[] = {{"n", "0"}};
    assert_int_equal(kg_relation_add_ids(g, hub, k, hub, qq, 1, NULL, 0, &again, NULL), 0);
    assert_true(again <= rs[2999]);
    kg_graph_destroy(&g);
}

static void test_kind_changes(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_eid e[6];
    for (int i = 0; i < 6; i++) {
        char n[8];
        snprintf(n, sizeof n, "n%d", i);
        e[i] = add_ent(g, n, i % 2 ? "person" : "country");
    }
    /* Relations create "unknown" entities; a later kind replaces it. */
    add_rel(g, "n0", "knows", "stranger");
    kg_eid s = kg_entity_find(g, "stranger");
    assert_int_equal(kg_entities_of_kind(g, "unknown").n, 1);
    assert_int_equal(kg_entities_of_kind(g, "").n, 1);
    add_ent(g, "STRANGER", "person");
    assert_string_equal(kg_entity_kind(g, s), "person");
    assert_int_equal(kg_entities_of_kind(g, "unknown").n, 0);
    kg_span p = kg_entities_of_kind(g, "person");
    assert_int_equal(p.n, 4);
    assert_int_equal(p.ids[0], e[1]);
    assert_int_equal(p.ids[3], s);
    /* Removing keeps the insertion order of the others. */
    assert_int_equal(kg_entity_remove(g, e[3], NULL), 0);
    p = kg_entities_of_kind(g, "person");
    assert_int_equal(p.n, 3);
    assert_int_equal(p.ids[0], e[1]);
    assert_int_equal(p.ids[1], e[5]);
    assert_int_equal(p.ids[2], s);
    kg_atom kinds[8];
    size_t counts[8];
    size_t nk = kg_entity_kinds(g, kinds, counts, 8);
    assert_int_equal(nk, 2);
    size_t total = 0;
    for (size_t i = 0; i < nk; i++)
        total += counts[i];
    assert_int_equal(total, kg_entity_count(g));
    assert_int_equal(kg_relation_kinds(g, kinds, counts, 8), 1);
    assert_int_equal(counts[0], 1);
    kg_graph_destroy(&g);
}

/* The bulk path with interned sets gives what kg_relation_add_ids gives. */
static void test_relation_add_sets(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err;
    kg_eid a = add_ent(g, "A", "country"), b = add_ent(g, "B", "product");
    kg_atom k = kg_atom_intern(g, "tariffs-on", 10);
    kg_pair q[] = {{"origin", "C"}, {"kind", "duty"}};
    kg_pair p1[] = {{"source", "s1"}};
    kg_pair p2[] = {{"source", "s2"}, {"evidence", "e2"}};
    uint32_t qs = kg_pairs_intern(g, q, 2), ps1 = kg_pairs_intern(g, p1, 1);
    uint32_t ps2 = kg_pairs_intern(g, p2, 2);
    assert_int_not_equal(qs, KG_NONE);
    assert_int_equal(kg_pairs_intern(g, NULL, 0), 0);
    /* the same pairs in another order are the same set */
    kg_pair qr[] = {{"kind", "duty"}, {"origin", "C"}};
    assert_int_equal(kg_pairs_intern(g, qr, 2), qs);
    kg_pair bad[] = {{"", "x"}};
    assert_int_equal(kg_pairs_intern(g, bad, 1), KG_NONE);

    kg_rid r1, r2;
    assert_int_equal(kg_relation_add_sets(g, a, k, b, qs, ps1, &r1, &err), 0);
    assert_string_equal(kg_relation_qual_get(g, r1, "origin"), "C");
    assert_string_equal(kg_relation_prov_get(g, r1, "source"), "s1");
    /* the same fact again: kept once, missing provenance keys filled in */
    assert_int_equal(kg_relation_add_sets(g, a, k, b, qs, ps2, &r2, &err), 1);
    assert_int_equal(r1, r2);
    assert_string_equal(kg_relation_prov_get(g, r1, "source"), "s1");
    assert_string_equal(kg_relation_prov_get(g, r1, "evidence"), "e2");
    /* and kg_relation_add_ids sees it as the same fact */
    assert_int_equal(kg_relation_add_ids(g, a, k, b, q, 2, NULL, 0, &r2, &err), 1);
    assert_int_equal(r1, r2);
    assert_int_equal(kg_relation_add_sets(g, a, k, b, 0, 0, &r2, &err), 0);
    assert_int_not_equal(r1, r2);
    assert_int_equal(kg_relation_count(g), 2);
    assert_int_equal(kg_adjacent(g, a, KG_OUT, k).n, 2);
    /* bad handles are refused */
    assert_int_equal(kg_relation_add_sets(g, a, k, b, 999999, 0, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_relation_add_sets(g, a, k, 4242, 0, 0, NULL, &err), KG_ENOTFOUND);
    assert_int_equal(kg_relation_add_sets(g, a, 0, b, 0, 0, NULL, &err), KG_EINVAL);
    kg_graph_destroy(&g);
}

/* The batch readers answer exactly what the one-at-a-time ones do, for
 * batches longer than their internal block, removed entities and handles
 * that were never valid; the prefetch hints change nothing. */
static void test_batch_reads(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    assert_non_null(g);
    enum { N = 100 };
    kg_eid es[N + 3];
    char name[32];
    const char *names[N + 2];
    static char keep[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(keep[i], sizeof keep[i], "Entity-%d", i);
        es[i] = add_ent(g, keep[i], i % 2 ? "country" : "product");
        names[i] = keep[i];
    }
    for (int i = 0; i + 1 < N; i++)
        add_rel(g, keep[i], "supplies", keep[i + 1]);
    assert_int_equal(kg_entity_remove(g, es[7], NULL), 0);
    es[N] = KG_NONE;
    es[N + 1] = 1u << 30;
    es[N + 2] = es[3];
    names[N] = NULL;
    names[N + 1] = "";
    const char *ids[N + 3];
    kg_entity_ids(g, es, N + 3, ids);
    for (int i = 0; i < N + 3; i++) {
        if (i == 7 || i == N || i == N + 1) {
            assert_null(ids[i]);
            continue;
        }
        assert_non_null(ids[i]);
        assert_string_equal(ids[i], kg_entity_id(g, es[i]));
    }
    assert_string_equal(ids[N + 2], "Entity-3");
    kg_entities_prefetch(g, names, N + 2, KG_PREFETCH_ENTITY);
    kg_entities_prefetch(g, names, N + 2, KG_PREFETCH_RELATIONS);
    kg_entities_prefetch(g, names, N + 2, KG_PREFETCH_NEIGHBORS);
    kg_entities_prefetch(g, NULL, 0, KG_PREFETCH_NEIGHBORS);
    kg_entities_prefetch(NULL, names, N, KG_PREFETCH_NEIGHBORS);
    kg_entity_ids(g, es, 0, ids);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "entity-%d", i); /* case-insensitive */
        assert_int_equal(kg_entity_find(g, name), i == 7 ? KG_NONE : es[i]);
    }
    kg_span sp = kg_adjacent(g, es[10], KG_OUT, 0);
    assert_int_equal(sp.n, 1);
    kg_rid rs[3] = {sp.ids[0], KG_NONE, 1u << 30};
    kg_relations_prefetch(g, rs, 3);
    kg_relations_prefetch(NULL, rs, 3);
    assert_int_equal(kg_relation_object(g, rs[0]), es[11]);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atoms),
        cmocka_unit_test(test_batch_reads),
        cmocka_unit_test(test_relation_add_sets),
        cmocka_unit_test(test_entity_basics),
        cmocka_unit_test(test_entity_merge),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_relations),
        cmocka_unit_test(test_self_loop),
        cmocka_unit_test(test_entity_remove),
        cmocka_unit_test(test_kinds_stats),
        cmocka_unit_test(test_huge_names),
        cmocka_unit_test(test_provenance_and_memory),
        cmocka_unit_test(test_kind_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
