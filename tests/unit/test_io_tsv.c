/* test_io_tsv.c - TSV fact and entity tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_io_util.h"

#define DATA KG_TEST_DATA_DIR "/io"
#define GOLD KG_TEST_SOURCE_DIR "/../shared/eval/gold/01-macron-xi-beijing.tsv"

static kg_rid find_rel(const kg_graph *g, const char *s, const char *rel,
                       const char *o)
{
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r))
        if (!strcmp(kg_entity_id(g, kg_relation_subject(g, r)), s) &&
            !strcmp(kg_relation_kind(g, r), rel) &&
            !strcmp(kg_entity_id(g, kg_relation_object(g, r)), o))
            return r;
    return KG_NONE;
}

static void test_tsv_gold_file(void **state)
{
    (void)state;
    if (access(GOLD, R_OK) != 0)
        skip();
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    int rc = kg_load_file(g, GOLD, KG_FORMAT_AUTO, &err);
    if (rc)
        print_message("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_true(kg_relation_count(g) >= 25);
    kg_rid r = find_rel(g, "China", "exports-to", "European Union");
    assert_int_not_equal(r, KG_NONE);
    assert_string_equal(kg_relation_qual_get(g, r, "value"), "461000000000");
    assert_string_equal(kg_relation_qual_get(g, r, "period"), "2025-01/2025-10");
    assert_string_equal(kg_relation_prov_get(g, r, "evidence"),
                        "China shipped goods worth $461 billion to the EU");
    r = find_rel(g, "China", "supplies", "Russia");
    assert_int_not_equal(r, KG_NONE);
    /* facts without qualifiers have none; new names are "unknown" */
    r = find_rel(g, "France", "trade-deficit-with", "China");
    assert_int_not_equal(r, KG_NONE);
    assert_int_equal(kg_relation_qual_count(g, r), 0);
    assert_string_equal(kg_entity_kind(g, kg_entity_by_id(g, "France")), "unknown");
    kg_graph *h = tu_round_trip(g, KG_FORMAT_TSV);
    assert_true(tu_graphs_equal(g, h, "gold TSV"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static void test_tsv_entities_escapes_crlf(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    int rc = kg_load_file(g, DATA "/facts.tsv", KG_FORMAT_AUTO, &err);
    if (rc)
        print_message("%s\n", err.message);
    assert_int_equal(rc, 0);
    kg_eid fr = kg_entity_by_id(g, "France");
    assert_int_not_equal(fr, KG_NONE);
    assert_string_equal(kg_entity_kind(g, fr), "country");
    assert_int_equal(kg_entity_find(g, "the French Republic"), fr);
    assert_string_equal(kg_entity_attr_get(g, fr, "capital"), "Paris");
    /* "\;" is a literal ';'; an unknown escape ("\u") is kept as written */
    assert_string_equal(kg_entity_attr_get(g, fr, "motto"),
                        "Libert\xc3\xa9; \\u00e9galit\xc3\xa9");
    /* aliases resolve subjects and objects */
    kg_rid r = find_rel(g, "France", "member-of", "European Union");
    assert_int_not_equal(r, KG_NONE);
    assert_string_equal(kg_relation_prov_get(g, r, "evidence"), "France is in the EU.");
    assert_string_equal(kg_relation_prov_get(g, r, "source"), "doc.txt");
    assert_string_equal(kg_relation_prov_get(g, r, "doc_date"), "2025-12-04");
    assert_string_equal(kg_relation_prov_get(g, r, "span"), "10-30");
    r = find_rel(g, "China", "exports-to", "European Union");
    assert_int_not_equal(r, KG_NONE);
    assert_string_equal(kg_relation_qual_get(g, r, "goods"), "cars, chips");
    assert_string_equal(kg_relation_prov_get(g, r, "evidence"),
                        "\"China shipped goods\tworth $461 billion\"");
    r = find_rel(g, "China", "says", "France");
    assert_int_not_equal(r, KG_NONE);
    assert_string_equal(kg_relation_qual_get(g, r, "quote"), "a;b=c\\d\ne");
    assert_string_equal(kg_relation_prov_get(g, r, "evidence"), "line one\nline two");
    assert_int_not_equal(find_rel(g, "#hashtag", "mentions", "France"), KG_NONE);
    assert_string_equal(kg_entity_kind(g, kg_entity_by_id(g, "China")), "unknown");

    /* and the writer escapes so that it all comes back */
    kg_graph *h = tu_round_trip(g, KG_FORMAT_TSV);
    assert_true(tu_graphs_equal(g, h, "facts.tsv"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static void test_tsv_entity_table(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(kg_load_file(g, DATA "/entities.tsv", KG_FORMAT_AUTO, &err), 0);
    assert_int_equal(kg_entity_count(g), 3);
    assert_int_equal(kg_relation_count(g), 0);
    kg_eid xi = kg_entity_find(g, "Xi");
    assert_int_not_equal(xi, KG_NONE);
    assert_string_equal(kg_entity_id(g, xi), "Xi Jinping");
    assert_string_equal(kg_entity_kind(g, xi), "person");
    assert_string_equal(kg_entity_attr_get(g, xi, "party"), "CCP");
    assert_string_equal(kg_entity_kind(g, kg_entity_by_id(g, "rare earths")), "product");
    kg_graph_destroy(&g);
}

/* A graph with every awkward byte in every field. dot_safe leaves out
 * what DOT documents it cannot carry: empty values and an odd trailing
 * backslash. */
static kg_graph *awkward_graph(int dot_safe)
{
    kg_graph *g = kg_graph_new();
    const char *al[] = {"a|b", "tab\there", dot_safe ? "back\\x" : "back\\", "#x"};
    kg_pair at[] = {{"k;=", dot_safe ? "v;=|\\." : "v;=|\\"}, {"nl", "\r\n"},
                    {"empty", ""}};
    kg_entity_spec es = {.id = "#id\twith tab", .kind = "k\\ind", .aliases = al,
                         .n_aliases = 4, .attrs = at, .n_attrs = dot_safe ? 2 : 3};
    assert_true(kg_entity_add(g, &es, NULL, NULL) >= 0);
    kg_pair q[] = {{"a=b", "c;d"}, {"x", "="}, {"y", "\\;"}, {"sp", " lead and trail "}};
    kg_pair p[] = {{"evidence", dot_safe ? "tab\tnewline\nbackslash\\end"
                                         : "tab\tnewline\nbackslash\\end\\"},
                   {"source", "s;t=u"}, {"other key", "v"}};
    kg_relation_spec rs = {.subject = "#id\twith tab", .relation = "rel\\n",
                           .object = "subject", .quals = q, .n_quals = 4,
                           .prov = p, .n_prov = 3};
    assert_true(kg_relation_add(g, &rs, NULL, NULL) >= 0);
    kg_relation_spec loop = {.subject = "subject", .relation = "relation",
                             .object = "subject"};
    assert_true(kg_relation_add(g, &loop, NULL, NULL) >= 0);
    return g;
}

static void test_tsv_escaping_round_trip(void **state)
{
    (void)state;
    kg_graph *g = awkward_graph(0);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_TSV);
    assert_true(tu_graphs_equal(g, h, "escapes TSV"));
    kg_graph_destroy(&h);
    h = tu_round_trip(g, KG_FORMAT_JSON);
    assert_true(tu_graphs_equal(g, h, "escapes JSON"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
    g = awkward_graph(1);
    h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "escapes DOT"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static void expect_error(const char *text, const char *message)
{
    kg_batch *b = kg_batch_new();
    kg_error err = {0};
    int rc = kg_read_buffer(text, strlen(text), "t.tsv", KG_FORMAT_TSV, b, &err);
    if (rc == 0 || strcmp(err.message, message) != 0)
        print_message("input %s\nwanted %s\ngot    %s\n", text, message, err.message);
    assert_int_not_equal(rc, 0);
    assert_string_equal(err.message, message);
    assert_int_equal(kg_batch_count(b), 0);
    kg_batch_destroy(&b);
}

static void test_tsv_errors(void **state)
{
    (void)state;
    expect_error("subject\trelation\tobject\na\tb\tc\td\n",
                 "t.tsv:2: 4 columns, the header has 3");
    expect_error("subject\trelation\tobject\tqualifiers\na\tb\tc\tk=v;novalue\n",
                 "t.tsv:2: bad qualifiers 'novalue': expected key=value[;key=value]");
    expect_error("subject\trelation\tobject\tqualifiers\tevidence\tprovenance\n"
                 "a\tb\tc\t\t\tsource\n",
                 "t.tsv:2: bad provenance 'source': expected key=value[;key=value]");
    expect_error("\n\n# only comments\n", "t.tsv:1: empty file: no header and no #@entity line");
    expect_error("subject\tobject\trelation\n", "t.tsv:1: unknown header: expected "
                 "\"subject<TAB>relation<TAB>object[<TAB>qualifiers[<TAB>evidence"
                 "[<TAB>provenance]]]\" or \"id<TAB>kind[<TAB>aliases[<TAB>attributes]]\"");
    expect_error("subject\trelation\tobject\na\t \tc\n", "t.tsv:2: missing relation");
    expect_error("subject\trelation\tobject\na\tb\t\n", "t.tsv:2: missing object");
    expect_error("subject\trelation\tobject\na\tb\tc\r\rd\n",
                 "t.tsv:2: control byte 0x0d: binary data, not a TSV table");
    expect_error("#@entity\tx\tk\ta\tb\tc\n", "t.tsv:1: #@entity line has more than 4 columns");
    expect_error("id\tkind\nx\tk\textra\n", "t.tsv:2: 3 columns, the header has 2");

    /* 7 columns: more than any header allows */
    expect_error("subject\trelation\tobject\tqualifiers\tevidence\tprovenance\n"
                 "a\tb\tc\t\t\t\tx\tz\n", "t.tsv:2: 7 columns, the header has 6");
    /* NUL in the middle of a buffer */
    kg_batch *b = kg_batch_new();
    kg_error err = {0};
    static const char nul[] = "subject\trelation\tobject\na\tb\0\tc\n";
    assert_int_equal(kg_read_buffer(nul, sizeof nul - 1, "n.tsv", KG_FORMAT_TSV, b, &err), KG_EPARSE);
    assert_string_equal(err.message, "n.tsv:2: NUL byte: binary data, not a TSV table");
    assert_int_equal(kg_batch_count(b), 0);
    kg_batch_destroy(&b);
}

static void test_tsv_huge_field(void **state)
{
    (void)state;
    size_t n = (1u << 20) + 1;
    char *t = malloc(n + 64);
    assert_non_null(t);
    strcpy(t, "subject\trelation\tobject\na\tb\t");
    size_t k = strlen(t);
    memset(t + k, 'x', n);
    t[k + n] = '\0';
    kg_batch *b = kg_batch_new();
    kg_error err = {0};
    assert_int_equal(kg_read_buffer(t, strlen(t), "h.tsv", KG_FORMAT_TSV, b, &err), KG_ELIMIT);
    assert_string_equal(err.message, "h.tsv:2: column 3 is longer than 1048576 bytes");
    t[k + n - 1] = '\0'; /* exactly the limit: accepted */
    assert_int_equal(kg_read_buffer(t, strlen(t), "h.tsv", KG_FORMAT_TSV, b, &err), 0);
    assert_int_equal(kg_batch_count(b), 1);
    free(t);
    kg_batch_destroy(&b);
}

/* A header with only the first three columns is enough (as the scorer);
 * short rows are allowed, header names are case-insensitive. */
static void test_tsv_short_forms(void **state)
{
    (void)state;
    static const char t[] = "Subject\tRelation\tObject\tQualifiers\n"
                            "a\tr\tb\n"
                            "a\tr\tb\tk=v;;\n";
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(tu_load_string(g, t, sizeof t - 1, "s.tsv", KG_FORMAT_TSV, &err), 0);
    assert_int_equal(kg_relation_count(g), 2); /* with and without k=v */
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsv_gold_file),
        cmocka_unit_test(test_tsv_entities_escapes_crlf),
        cmocka_unit_test(test_tsv_entity_table),
        cmocka_unit_test(test_tsv_escaping_round_trip),
        cmocka_unit_test(test_tsv_errors),
        cmocka_unit_test(test_tsv_huge_field),
        cmocka_unit_test(test_tsv_short_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
