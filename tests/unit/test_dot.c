/* test_dot.c - DOT reading and writing (src/dot through kg/io.h). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_io_util.h"

#define GV_EXAMPLES "/usr/share/doc/graphviz/examples/graphs"

static kg_eid must_find(const kg_graph *g, const char *id)
{
    kg_eid e = kg_entity_by_id(g, id);
    if (e == KG_NONE)
        print_message("no entity %s\n", id);
    assert_int_not_equal(e, KG_NONE);
    return e;
}

/* The only relation from s to o, of kind rel (asserts there is one). */
static kg_rid one_rel(const kg_graph *g, const char *s, const char *rel,
                      const char *o)
{
    kg_rid found = KG_NONE;
    int n = 0;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r))
        if (!strcmp(kg_entity_id(g, kg_relation_subject(g, r)), s) &&
            !strcmp(kg_relation_kind(g, r), rel) &&
            !strcmp(kg_entity_id(g, kg_relation_object(g, r)), o)) {
            found = r;
            n++;
        }
    assert_int_equal(n, 1);
    return found;
}

static const char basic_dot[] =
    "digraph t {\n"
    "  node [shape=box];\n"
    "  France [kind=country, aliases=\"French|R\\|F\", capital=Paris];\n"
    "  \"Xi Jinping\" [kind=person];\n"
    "  subgraph cluster_a { node [color=red]; Beijing [kind=place]; }\n"
    "  edge [source=\"doc 1\"];\n"
    "  \"Xi Jinping\" -> France [relation=visits, date=\"2025-12-04\", evidence=\"Xi came.\", span=\"3-9\", doc_date=2025];\n"
    "  \"Xi Jinping\" -> France [relation=visits, date=\"2024-01-01\"];\n"
    "  France -> Beijing [label=\"sends envoy to\"];\n"
    "  Beijing -> Beijing;\n"
    "  France -> Beijing [relation=r, label=lab, \"prov:model\"=v2, \"claimed-by\"=US];\n"
    "}\n";

static void test_dot_read_mapping(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    tu_stderr se;
    tu_stderr_begin(&se);
    int rc = tu_load_string(g, basic_dot, strlen(basic_dot), "basic.gv",
                            KG_FORMAT_DOT, &err);
    assert_int_equal(tu_stderr_end(&se), 0);
    if (rc)
        print_message("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(kg_entity_count(g), 3);
    kg_eid fr = must_find(g, "France");
    assert_string_equal(kg_entity_kind(g, fr), "country");
    assert_int_equal(kg_entity_alias_count(g, fr), 2);
    assert_int_equal(kg_entity_find(g, "french"), fr);
    assert_int_equal(kg_entity_find(g, "R|F"), fr); /* "\|" is a literal bar */
    assert_string_equal(kg_entity_attr_get(g, fr, "capital"), "Paris");
    /* declared defaults are effective values, kept as attributes */
    assert_string_equal(kg_entity_attr_get(g, fr, "shape"), "box");
    assert_null(kg_entity_attr_get(g, fr, "color"));
    kg_eid bj = must_find(g, "Beijing");
    assert_string_equal(kg_entity_kind(g, bj), "place");
    assert_string_equal(kg_entity_attr_get(g, bj, "color"), "red");
    assert_null(kg_entity_attr_get(g, bj, "kind"));

    assert_int_equal(kg_relation_count(g), 5); /* parallel visits kept */
    kg_rid r = one_rel(g, "France", "sends envoy to", "Beijing");
    assert_int_equal(kg_relation_qual_count(g, r), 0);
    assert_string_equal(kg_relation_prov_get(g, r, "source"), "doc 1");
    r = one_rel(g, "Beijing", "related-to", "Beijing"); /* self-loop */
    r = one_rel(g, "France", "r", "Beijing");
    assert_string_equal(kg_relation_qual_get(g, r, "label"), "lab");
    assert_string_equal(kg_relation_qual_get(g, r, "claimed-by"), "US");
    assert_string_equal(kg_relation_prov_get(g, r, "model"), "v2");
    int visits = 0;
    for (r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r)) {
        if (strcmp(kg_relation_kind(g, r), "visits"))
            continue;
        visits++;
        const char *d = kg_relation_qual_get(g, r, "date");
        assert_non_null(d);
        assert_null(kg_relation_qual_get(g, r, "evidence"));
        if (!strcmp(d, "2025-12-04")) {
            assert_string_equal(kg_relation_prov_get(g, r, "evidence"), "Xi came.");
            assert_string_equal(kg_relation_prov_get(g, r, "span"), "3-9");
            assert_string_equal(kg_relation_prov_get(g, r, "doc_date"), "2025");
            assert_int_equal(kg_relation_qual_count(g, r), 1);
        }
    }
    assert_int_equal(visits, 2);

    /* styled round trip gives the same graph, and is stable */
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "basic DOT round trip"));
    char *a = NULL, *b = NULL;
    size_t la, lb;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_DOT, &a, &la, NULL), 0);
    assert_int_equal(kg_write_buffer(h, KG_FORMAT_DOT, &b, &lb, NULL), 0);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "kg_styled=1"));
    assert_non_null(strstr(a, "\"kg:shape\"=box")); /* data named like styling */
    free(a);
    free(b);
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static void test_dot_undirected_and_keys(void **state)
{
    (void)state;
    static const char src[] =
        "graph u { b -- a; a -- b; a -- c [key=k1, w=1]; a -- c [key=k2, w=1] }";
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(tu_load_string(g, src, sizeof src - 1, "u.gv", KG_FORMAT_AUTO, &err), 0);
    one_rel(g, "b", "related-to", "a"); /* tail -> head as written */
    one_rel(g, "a", "related-to", "b");
    int keyed = 0;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r))
        if (kg_relation_qual_get(g, r, "key"))
            keyed++;
    assert_int_equal(keyed, 2);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "keys"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

/* A refused file: KG_EPARSE (or want), "NAME:LINE: ..." and the graph and
 * batch untouched, with nothing on stderr. */
static void expect_refused(const char *src, size_t len, const char *name,
                           unsigned line, int want)
{
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    static const char seed[] = "digraph { x -> y [relation=r] }";
    assert_int_equal(tu_load_string(g, seed, sizeof seed - 1, "seed.gv", KG_FORMAT_DOT, &err), 0);
    size_t ne = kg_entity_count(g), nr = kg_relation_count(g);

    kg_batch *b = kg_batch_new();
    kg_entity_spec spec = {.id = "keep"};
    assert_int_equal(kg_batch_add_entity(b, &spec, 1), 0);
    tu_stderr se;
    tu_stderr_begin(&se);
    int rc = kg_read_buffer(src, len, name, KG_FORMAT_DOT, b, &err);
    assert_int_equal(tu_stderr_end(&se), 0);
    assert_int_equal(rc, want);
    assert_int_equal(kg_batch_count(b), 1);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s:%u: ", name, line);
    if (strncmp(err.message, prefix, strlen(prefix)) != 0)
        print_message("expected prefix '%s', got '%s'\n", prefix, err.message);
    assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
    assert_true(strlen(err.message) > strlen(prefix));

    /* the same through a file and kg_load_file: graph unchanged */
    char *path = tu_temp_file(".gv", src, len);
    tu_stderr_begin(&se);
    rc = kg_load_file(g, path, KG_FORMAT_AUTO, &err);
    assert_int_equal(tu_stderr_end(&se), 0);
    assert_int_equal(rc, want);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(kg_entity_count(g), ne);
    assert_int_equal(kg_relation_count(g), nr);
    unlink(path);
    free(path);
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);

    /* cgraph must be usable right after: its lexer state was reset */
    g = kg_graph_new();
    static const char ok[] = "digraph { p -> q }";
    assert_int_equal(tu_load_string(g, ok, sizeof ok - 1, "ok.gv", KG_FORMAT_DOT, &err), 0);
    assert_int_equal(kg_relation_count(g), 1);
    kg_graph_destroy(&g);
}

static void test_dot_broken_files(void **state)
{
    (void)state;
    static const char syntax[] = "digraph {\n a -> b;\n c;\n d -> -> e;\n f;\n}\n";
    expect_refused(syntax, sizeof syntax - 1, "syntax.gv", 4, KG_EPARSE);
    expect_refused("", 0, "empty.gv", 1, KG_EPARSE);
    expect_refused("  \n\n", 4, "blank.gv", 1, KG_EPARSE);
    static const char trunc[] = "digraph {\n a -> b [relation=\"x\"];\n c -> ";
    expect_refused(trunc, sizeof trunc - 1, "trunc.gv", 3, KG_EPARSE);
    static const char unterm[] = "digraph {\n a [label=\"never closed];\n}\n";
    expect_refused(unterm, sizeof unterm - 1, "unterm.gv", 2, KG_EPARSE);
    static const char junk[] = "\x7f" "ELF\x02\x01\x01\xff\xfe\xfd{{{;;";
    expect_refused(junk, sizeof junk - 1, "junk.gv", 1, KG_EPARSE);
    static const char nul[] = "digraph {\n a -> b;\n c\0 -> d\n}";
    expect_refused(nul, sizeof nul - 1, "nul.gv", 3, KG_EPARSE);
    static const char second[] = "digraph A { a }\ndigraph B {\n b -> }";
    expect_refused(second, sizeof second - 1, "second.gv", 3, KG_EPARSE);
    static const char emptyname[] = "digraph {\n\n \"\" -> b }";
    expect_refused(emptyname, sizeof emptyname - 1, "emptyname.gv", 3, KG_EPARSE);
}

static void test_dot_lexer_recovers_from_open_comment(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    static const char a[] = "digraph { a -> b } /* never closed";
    static const char b[] = "digraph { c -> d }";
    tu_stderr se;
    tu_stderr_begin(&se);
    assert_int_equal(tu_load_string(g, a, sizeof a - 1, "a.gv", KG_FORMAT_DOT, &err), 0);
    assert_int_equal(tu_load_string(g, b, sizeof b - 1, "b.gv", KG_FORMAT_DOT, &err), 0);
    assert_int_equal(tu_stderr_end(&se), 0);
    assert_int_equal(kg_relation_count(g), 2);
    kg_graph_destroy(&g);
}

static void test_dot_several_graphs_in_one_file(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    static const char src[] = "digraph A { a -> b }\ngraph B { c -- d }\n";
    assert_int_equal(tu_load_string(g, src, sizeof src - 1, "two.gv", KG_FORMAT_DOT, NULL), 0);
    assert_int_equal(kg_entity_count(g), 4);
    assert_int_equal(kg_relation_count(g), 2);
    kg_graph_destroy(&g);
}

static void test_dot_huge_names(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *src = malloc(n + 200);
    assert_non_null(src);
    strcpy(src, "digraph { \"");
    memset(src + 11, 'n', n);
    strcpy(src + 11 + n, "\" -> b [relation=r] }");
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(tu_load_string(g, src, strlen(src), "huge.gv", KG_FORMAT_DOT, &err), 0);
    kg_eid e = kg_entity_first(g);
    size_t longest = 0;
    for (; e != KG_NONE; e = kg_entity_next(g, e))
        if (strlen(kg_entity_id(g, e)) > longest)
            longest = strlen(kg_entity_id(g, e));
    assert_int_equal(longest, n);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "huge DOT"));
    kg_graph_destroy(&h);
    h = tu_round_trip(g, KG_FORMAT_TSV);
    assert_true(tu_graphs_equal(g, h, "huge TSV"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
    free(src);

    /* beyond the 1 MiB field limit: refused, nothing loaded */
    n = 2u << 20;
    src = malloc(n + 200);
    assert_non_null(src);
    strcpy(src, "digraph { a [x=\"");
    memset(src + 16, 'v', n);
    strcpy(src + 16 + n, "\"] }");
    g = kg_graph_new();
    assert_int_equal(tu_load_string(g, src, strlen(src), "big.gv", KG_FORMAT_DOT, &err), KG_ELIMIT);
    assert_true(strncmp(err.message, "big.gv:", 7) == 0);
    assert_int_equal(kg_entity_count(g), 0);
    kg_graph_destroy(&g);
    free(src);
}

static void test_dot_latin1_bytes_kept(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    const char *path = GV_EXAMPLES "/directed/Latin1.gv";
    if (access(path, R_OK) != 0)
        skip();
    assert_int_equal(kg_load_file(g, path, KG_FORMAT_AUTO, &err), 0);
    kg_eid a = must_find(g, "a");
    const char *label = kg_entity_attr_get(g, a, "label");
    assert_non_null(label);
    assert_false(tu_utf8_valid(label));
    assert_true((unsigned char)label[0] >= 0xA0);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "Latin1"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static void test_dot_styled_data_round_trip(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    const char *al[] = {"A|B", "back\\slash", "q\"uote"};
    kg_pair attrs[] = {{"shape", "data-shape"}, {"label", "data label"},
                       {"kg:x", "prefixed"}, {"note", "ends with \\\\"},
                       {"nl", "line1\nline2"}};
    kg_entity_spec es = {.id = "node \"one\"", .kind = "organization",
                         .aliases = al, .n_aliases = 3, .attrs = attrs,
                         .n_attrs = 5};
    assert_true(kg_entity_add(g, &es, NULL, &err) >= 0);
    kg_entity_spec e2 = {.id = "graph", .kind = "strange-kind"};
    assert_true(kg_entity_add(g, &e2, NULL, &err) >= 0);
    kg_pair q[] = {{"color", "blue"}, {"label", "l"}, {"relation", "inner"},
                   {"prov:y", "q"}, {"key", "k"}, {"date", "2025"}};
    kg_pair p[] = {{"source", "s"}, {"evidence", "He said \"yes\"."},
                   {"model", "m1"}};
    kg_relation_spec rs = {.subject = "node \"one\"", .relation = "has a -> b",
                           .object = "graph", .quals = q, .n_quals = 6,
                           .prov = p, .n_prov = 3};
    assert_true(kg_relation_add(g, &rs, NULL, &err) >= 0);
    kg_relation_spec self = {.subject = "graph", .relation = "loops",
                             .object = "graph"};
    assert_true(kg_relation_add(g, &self, NULL, &err) >= 0);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "styled data"));
    kg_graph_destroy(&h);
    h = tu_round_trip(g, KG_FORMAT_TSV);
    assert_true(tu_graphs_equal(g, h, "styled data TSV"));
    kg_graph_destroy(&h);
    h = tu_round_trip(g, KG_FORMAT_JSON);
    assert_true(tu_graphs_equal(g, h, "styled data JSON"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

/* cgraph reads and writes a node name that starts with '%' as an
 * anonymous node's ("%1"): such ids travel in a kg_id attribute under
 * another node name, distinct from any real id, and a hand-written one is
 * refused rather than renamed. */
static void test_dot_percent_ids(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    kg_pair data[] = {{"kg_id", "data named like the attribute"}};
    kg_entity_spec e1 = {.id = "%foo", .kind = "country", .attrs = data, .n_attrs = 1};
    kg_entity_spec e2 = {.id = "kg_id:%foo", .kind = "product"}; /* the first name tried */
    kg_entity_spec e3 = {.id = "%", .kind = "place"};            /* unlinked */
    assert_true(kg_entity_add(g, &e1, NULL, &err) >= 0);
    assert_true(kg_entity_add(g, &e2, NULL, &err) >= 0);
    assert_true(kg_entity_add(g, &e3, NULL, &err) >= 0);
    kg_relation_spec r1 = {.subject = "%foo", .relation = "tariffs-on", .object = "kg_id:%foo"};
    kg_relation_spec r2 = {.subject = "kg_id:%foo", .relation = "made-in", .object = "%foo"};
    assert_true(kg_relation_add(g, &r1, NULL, &err) >= 0);
    assert_true(kg_relation_add(g, &r2, NULL, &err) >= 0);
    char *dot = NULL;
    size_t len = 0;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_DOT, &dot, &len, NULL), 0);
    assert_non_null(strstr(dot, "kg_id=\"%foo\""));
    assert_non_null(strstr(dot, "\"kg_id:%foo#2\""));
    assert_null(strstr(dot, "\"%1\""));
    free(dot);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "percent ids"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);

    static const char hand[] = "digraph {\n \"%foo\" -> bar\n}\n";
    kg_batch *b = kg_batch_new();
    int rc = kg_read_buffer(hand, sizeof hand - 1, "hand.gv", KG_FORMAT_DOT, b, &err);
    assert_int_equal(rc, KG_EPARSE);
    assert_non_null(strstr(err.message, "starts with '%'"));
    assert_non_null(strstr(err.message, "kg_id"));
    assert_int_equal(kg_batch_count(b), 0);
    kg_batch_destroy(&b);
}

static void test_dot_trailing_backslash_stays_parseable(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_pair attrs[] = {{"path", "C:\\dir\\"}};
    kg_entity_spec es = {.id = "x\\", .attrs = attrs, .n_attrs = 1};
    assert_true(kg_entity_add(g, &es, NULL, NULL) >= 0);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_DOT, &buf, &len, NULL), 0);
    kg_graph *h = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(tu_load_string(h, buf, len, "bs.gv", KG_FORMAT_DOT, &err), 0);
    assert_int_equal(kg_entity_count(h), 1);
    /* documented loss: an odd trailing backslash is doubled, in names too */
    kg_eid e = kg_entity_first(h);
    assert_string_equal(kg_entity_id(h, e), "x\\\\");
    assert_string_equal(kg_entity_attr_get(h, e, "path"), "C:\\dir\\\\");
    free(buf);
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Load a file, then DOT, TSV and JSON round trips must give it back. */
static int round_trip_file(const char *path)
{
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    tu_stderr se;
    tu_stderr_begin(&se);
    int rc = kg_load_file(g, path, KG_FORMAT_AUTO, &err);
    long noise = tu_stderr_end(&se);
    if (rc)
        print_message("%s: %s\n", path, err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(noise, 0);
    assert_true(kg_entity_count(g) > 0);
    int ok = 1;
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    ok &= tu_graphs_equal(g, h, path);
    kg_graph_destroy(&h);
    h = tu_round_trip(g, KG_FORMAT_TSV);
    ok &= tu_graphs_equal(g, h, path);
    kg_graph_destroy(&h);
    /* JSON text is Unicode: only graphs whose strings are UTF-8 come back
     * byte for byte (others get U+FFFD, documented) */
    char *js = NULL;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_JSON, &js, NULL, NULL), 0);
    char *dot = NULL;
    size_t dl = 0;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_DOT, &dot, &dl, NULL), 0);
    if (tu_utf8_valid(dot)) {
        h = tu_round_trip(g, KG_FORMAT_JSON);
        ok &= tu_graphs_equal(g, h, path);
        kg_graph_destroy(&h);
    } else {
        assert_null(strstr(js, "\xff"));
        assert_non_null(strstr(js, "\\ufffd"));
    }
    free(js);
    free(dot);
    kg_graph_destroy(&g);
    return ok;
}

static int walk(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    int ok = 1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!has_suffix(de->d_name, ".gv") && !has_suffix(de->d_name, ".gv.gz") &&
            !has_suffix(de->d_name, ".dot"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        ok &= round_trip_file(path);
        (*count)++;
    }
    closedir(d);
    return ok;
}

static void test_dot_graphviz_examples_round_trip(void **state)
{
    (void)state;
    int n = 0, ok = 1;
    ok &= walk(GV_EXAMPLES "/directed", &n);
    ok &= walk(GV_EXAMPLES "/undirected", &n);
    if (n == 0)
        skip(); /* graphviz-doc not installed */
    print_message("%d graphviz examples\n", n);
    assert_true(ok);
}

static void test_dot_shipped_graphs_round_trip(void **state)
{
    (void)state;
    int n = 0;
    assert_true(walk(KG_TEST_SOURCE_DIR "/graphs", &n));
    assert_true(n >= 1);
}

/* Plain attributes of a foreign file are data and survive. */
static void test_dot_foreign_attributes_kept(void **state)
{
    (void)state;
    const char *path = GV_EXAMPLES "/directed/structs.gv";
    if (access(path, R_OK) != 0)
        skip();
    kg_graph *g = kg_graph_new();
    assert_int_equal(kg_load_file(g, path, KG_FORMAT_AUTO, NULL), 0);
    kg_eid s1 = must_find(g, "struct1");
    assert_string_equal(kg_entity_attr_get(g, s1, "shape"), "record");
    assert_non_null(kg_entity_attr_get(g, s1, "label"));
    int ported = 0;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r))
        if (kg_relation_qual_get(g, r, "tailport"))
            ported++;
    assert_true(ported > 0);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_DOT);
    assert_true(tu_graphs_equal(g, h, "structs"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

/* The default graph's export draws with `dot -Tsvg` without a warning. */
static void test_dot_export_renders_cleanly(void **state)
{
    (void)state;
    if (access("/usr/bin/dot", X_OK) != 0)
        skip();
    const char *files[] = {KG_TEST_SOURCE_DIR "/graphs/macron-xi-beijing.gv",
                           GV_EXAMPLES "/directed/structs.gv",
                           GV_EXAMPLES "/undirected/process.gv"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (access(files[i], R_OK) != 0)
            continue;
        kg_graph *g = kg_graph_new();
        assert_int_equal(kg_load_file(g, files[i], KG_FORMAT_AUTO, NULL), 0);
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(kg_write_buffer(g, KG_FORMAT_DOT, &buf, &len, NULL), 0);
        char *in = tu_temp_file(".gv", buf, len);
        char cmd[512];
        snprintf(cmd, sizeof cmd, "/usr/bin/dot -Tsvg -o /dev/null %s 2>%s.err", in, in);
        assert_int_equal(system(cmd), 0);
        char errp[300];
        snprintf(errp, sizeof errp, "%s.err", in);
        struct stat st;
        assert_int_equal(stat(errp, &st), 0);
        if (st.st_size)
            print_message("dot warned on the export of %s\n", files[i]);
        assert_int_equal(st.st_size, 0);
        unlink(errp);
        unlink(in);
        free(in);
        free(buf);
        kg_graph_destroy(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_read_mapping),
        cmocka_unit_test(test_dot_undirected_and_keys),
        cmocka_unit_test(test_dot_broken_files),
        cmocka_unit_test(test_dot_lexer_recovers_from_open_comment),
        cmocka_unit_test(test_dot_several_graphs_in_one_file),
        cmocka_unit_test(test_dot_huge_names),
        cmocka_unit_test(test_dot_latin1_bytes_kept),
        cmocka_unit_test(test_dot_styled_data_round_trip),
        cmocka_unit_test(test_dot_percent_ids),
        cmocka_unit_test(test_dot_trailing_backslash_stays_parseable),
        cmocka_unit_test(test_dot_foreign_attributes_kept),
        cmocka_unit_test(test_dot_graphviz_examples_round_trip),
        cmocka_unit_test(test_dot_shipped_graphs_round_trip),
        cmocka_unit_test(test_dot_export_renders_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
