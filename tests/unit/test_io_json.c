/* test_io_json.c - the JSON graph format: reader strictness, escaping,
 * round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_io_util.h"

#define DATA KG_TEST_DATA_DIR "/io"

static void test_json_read_file(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    int rc = kg_load_file(g, DATA "/graph.json", KG_FORMAT_AUTO, &err);
    if (rc)
        print_message("%s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(kg_entity_count(g), 2);
    kg_eid fr = kg_entity_find(g, "French");
    assert_int_not_equal(fr, KG_NONE);
    /* numbers are kept as their text */
    assert_string_equal(kg_entity_attr_get(g, fr, "population"), "68000000");
    kg_eid cafe = kg_entity_by_id(g, "Caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_int_not_equal(cafe, KG_NONE);
    kg_rid r = kg_relation_first(g);
    assert_int_equal(kg_relation_subject(g, r), fr);
    assert_int_equal(kg_relation_object(g, r), cafe);
    assert_string_equal(kg_relation_qual_get(g, r, "value"), "-1.5e3");
    assert_string_equal(kg_relation_prov_get(g, r, "evidence"),
                        "He said \"bonjour\"\n\ttwice \\ /");
    kg_graph *h = tu_round_trip(g, KG_FORMAT_JSON);
    assert_true(tu_graphs_equal(g, h, "graph.json"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static void test_json_writer_escapes(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_pair at[] = {{"ctl", "\x01\x1f\b\f\x7f"}, {"bad", "x\xff\xc3(y"}};
    kg_entity_spec es = {.id = "q\"\\/", .attrs = at, .n_attrs = 2};
    assert_true(kg_entity_add(g, &es, NULL, NULL) >= 0);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_JSON, &buf, &len, NULL), 0);
    assert_non_null(strstr(buf, "\"id\": \"q\\\"\\\\/\""));
    assert_non_null(strstr(buf, "\"ctl\": \"\\u0001\\u001f\\b\\f\x7f\""));
    assert_non_null(strstr(buf, "\"bad\": \"x\\ufffd\\ufffd(y\""));
    assert_true(tu_utf8_valid(buf));
    /* the output parses, and the invalid bytes came back as U+FFFD */
    kg_graph *h = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(tu_load_string(h, buf, len, "w.json", KG_FORMAT_JSON, &err), 0);
    kg_eid e = kg_entity_first(h);
    assert_string_equal(kg_entity_attr_get(h, e, "bad"), "x\xef\xbf\xbd\xef\xbf\xbd(y");
    assert_string_equal(kg_entity_attr_get(h, e, "ctl"), "\x01\x1f\b\f\x7f");
    free(buf);
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

static void expect_error(const char *text, size_t len, const char *message, int code)
{
    kg_batch *b = kg_batch_new();
    kg_error err = {0};
    tu_stderr se;
    tu_stderr_begin(&se);
    int rc = kg_read_buffer(text, len, "t.json", KG_FORMAT_JSON, b, &err);
    assert_int_equal(tu_stderr_end(&se), 0);
    if (rc != code || strcmp(err.message, message) != 0)
        print_message("input %.80s\nwanted %s\ngot    %s\n", text, message, err.message);
    assert_int_equal(rc, code);
    assert_string_equal(err.message, message);
    assert_int_equal(kg_batch_count(b), 0);
    kg_batch_destroy(&b);
}

#define ERR(text, msg) expect_error(text, sizeof text - 1, msg, KG_EPARSE)

static void test_json_errors(void **state)
{
    (void)state;
    ERR("", "t.json:1: empty file");
    ERR("  \n ", "t.json:2: empty file");
    ERR("[]", "t.json:1: expected '{'");
    ERR("{\"entities\": [{\"id\": \"a\"}]", "t.json:1: unexpected end of input, expected ',' or '}'");
    ERR("{\"entities\": [{\"id\": \"a}]}", "t.json:1: unterminated string");
    ERR("{\"entities\": [{\"id\": \"a\n\"}]}",
        "t.json:1: control byte 0x0a in a string (unterminated string?)");
    ERR("{\"entities\": [{\"id\": \"\\q\"}]}", "t.json:1: bad escape '\\q'");
    ERR("{\"entities\": [{\"id\": \"\\u12\"}]}", "t.json:1: bad \\u escape");
    ERR("{\"entities\": [{\"id\": \"\\ud800x\"}]}", "t.json:1: unpaired surrogate in \\u escape");
    ERR("{\"entities\": [{\"id\": \"\\udc00\"}]}", "t.json:1: unpaired surrogate in \\u escape");
    ERR("{\"entities\": [{\"id\": \"a\\u0000b\"}]}",
        "t.json:1: \\u0000 is not allowed in names and values");
    ERR("{\"entities\": [{\"kind\": \"country\"}]}", "t.json:1: entity without \"id\"");
    ERR("{\"entities\": [{\"id\": \"a\", \"id\": \"b\"}]}", "t.json:1: duplicate key \"id\"");
    ERR("{\"entities\": [{\"id\": 5}]}", "t.json:1: expected a string");
    ERR("{\"entities\": [{\"id\": \"a\", \"attributes\": {\"k\": null}}]}",
        "t.json:1: expected a string or a number");
    ERR("{\"entities\": [{\"id\": \"a\", \"attributes\": {\"k\": 01}}]}",
        "t.json:1: expected ',' or '}'");
    ERR("{\"entities\": [{\"id\": \"a\", \"attributes\": {\"k\": 1.}}]}", "t.json:1: bad number");
    ERR("{\"entities\": [{\"id\": \"a\", \"attributes\": {\"\": \"v\"}}]}",
        "t.json:1: empty key in attributes");
    ERR("{\"entities\": [{\"id\": \"a\", \"aliases\": [\"x\", 3]}]}", "t.json:1: expected a string");
    ERR("{\"relations\": [{\"subject\": \"a\", \"relation\": \"r\"}]}",
        "t.json:1: relation without \"object\"");
    ERR("{\"relations\": [{\"subject\": \"a\", \"relation\": \"\", \"object\": \"b\"}]}",
        "t.json:1: relation without \"relation\"");
    ERR("{\"relations\": [{\"subject\": \"a\", \"verb\": \"r\"}]}",
        "t.json:1: unknown relation field \"verb\"");
    ERR("{\"graph\": {}}", "t.json:1: unknown top-level field \"graph\"");
    ERR("{\"entities\": []} {}", "t.json:1: trailing data after the JSON document");
    ERR("{\"entities\": [],\n}", "t.json:2: expected a string");
    /* escaped newlines inside strings do not count as lines */
    ERR("{\"entities\": [{\"id\": \"a\\nb\\n\"},\n {\"id\": 1}]}",
        "t.json:2: expected a string");
    ERR("{\"entities\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "t.json:1: expected '{'");
    static const char nul[] = "{\"entities\": [\n{\"id\": \"a\0\"}]}";
    expect_error(nul, sizeof nul - 1, "t.json:2: NUL byte: binary data, not JSON", KG_EPARSE);
    static const char junk[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    expect_error(junk, sizeof junk - 1, "t.json:3: NUL byte: binary data, not JSON", KG_EPARSE);
}

static void test_json_limits(void **state)
{
    (void)state;
    size_t n = (1u << 20) + 1;
    char *t = malloc(n + 64);
    assert_non_null(t);
    strcpy(t, "{\"entities\": [{\"id\": \"");
    size_t k = strlen(t);
    memset(t + k, 'x', n);
    strcpy(t + k + n, "\"}]}");
    expect_error(t, strlen(t), "t.json:1: string longer than 1048576 bytes", KG_ELIMIT);
    memmove(t + k + n - 1, t + k + n, 5); /* exactly 1 MiB: accepted */
    kg_graph *g = kg_graph_new();
    assert_int_equal(tu_load_string(g, t, strlen(t), "t.json", KG_FORMAT_JSON, NULL), 0);
    assert_int_equal(strlen(kg_entity_id(g, kg_entity_first(g))), 1u << 20);
    kg_graph_destroy(&g);
    free(t);
}

/* The shipped default graph survives JSON. */
static void test_json_default_graph(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    assert_int_equal(kg_load_file(g, KG_TEST_SOURCE_DIR "/graphs/macron-xi-beijing.gv",
                                  KG_FORMAT_AUTO, NULL), 0);
    kg_graph *h = tu_round_trip(g, KG_FORMAT_JSON);
    assert_true(tu_graphs_equal(g, h, "default graph JSON"));
    kg_graph_destroy(&h);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_read_file),
        cmocka_unit_test(test_json_writer_escapes),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_limits),
        cmocka_unit_test(test_json_default_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
