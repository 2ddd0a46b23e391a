/* test_io.c - format dispatch, files, gzip, all-or-nothing loading,
 * merging several files, and every broken file in tests/data/io. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <zlib.h>

#include "test_io_util.h"

#define DATA KG_TEST_DATA_DIR "/io"

static void test_io_format_names(void **state)
{
    (void)state;
    assert_int_equal(kg_format_from_name("dot"), KG_FORMAT_DOT);
    assert_int_equal(kg_format_from_name("GV"), KG_FORMAT_DOT);
    assert_int_equal(kg_format_from_name("tsv"), KG_FORMAT_TSV);
    assert_int_equal(kg_format_from_name("json"), KG_FORMAT_JSON);
    assert_int_equal(kg_format_from_name("xml"), KG_FORMAT_AUTO);
    assert_int_equal(kg_format_from_name(NULL), KG_FORMAT_AUTO);
    assert_int_equal(kg_format_from_path("a/b.gv"), KG_FORMAT_DOT);
    assert_int_equal(kg_format_from_path("a/b.dot"), KG_FORMAT_DOT);
    assert_int_equal(kg_format_from_path("x.gv.gz"), KG_FORMAT_DOT);
    assert_int_equal(kg_format_from_path("x.TSV"), KG_FORMAT_TSV);
    assert_int_equal(kg_format_from_path("x.tsv.gz"), KG_FORMAT_TSV);
    assert_int_equal(kg_format_from_path("x.json"), KG_FORMAT_JSON);
    assert_int_equal(kg_format_from_path("dir.gv/file"), KG_FORMAT_AUTO);
    assert_int_equal(kg_format_from_path("noext"), KG_FORMAT_AUTO);
    assert_int_equal(kg_format_from_path(".gz"), KG_FORMAT_AUTO);
    assert_string_equal(kg_format_name(KG_FORMAT_DOT), "dot");
    assert_string_equal(kg_format_name(KG_FORMAT_TSV), "tsv");
    assert_string_equal(kg_format_name(KG_FORMAT_JSON), "json");
}

/* AUTO on a buffer looks at the content. */
static void test_io_sniff_content(void **state)
{
    (void)state;
    struct {
        const char *text;
        const char *kind;
    } cases[] = {
        {"  digraph { a -> b }", "related-to"},
        {"/* c */ strict graph { a -- b }", "related-to"},
        {"\n{\"relations\":[{\"subject\":\"a\",\"relation\":\"j\",\"object\":\"b\"}]}", "j"},
        {"subject\trelation\tobject\na\tt\tb\n", "t"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kg_graph *g = kg_graph_new();
        kg_error err = {0};
        int rc = tu_load_string(g, cases[i].text, strlen(cases[i].text), "buf",
                                KG_FORMAT_AUTO, &err);
        if (rc)
            print_message("case %zu: %s\n", i, err.message);
        assert_int_equal(rc, 0);
        assert_int_equal(kg_relation_count(g), 1);
        assert_string_equal(kg_relation_kind(g, kg_relation_first(g)), cases[i].kind);
        kg_graph_destroy(&g);
    }
}

/* Every tests/data/io/bad-NAME-lN.EXT is refused with "PATH:N: ...",
 * nothing reaches stderr, and the graph keeps what it had. */
static void test_io_broken_files(void **state)
{
    (void)state;
    DIR *d = opendir(DATA);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "bad-", 4) != 0)
            continue;
        const char *l = strrchr(de->d_name, 'l');
        assert_non_null(l);
        unsigned line = (unsigned)strtoul(l + 1, NULL, 10);
        assert_true(line > 0);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", DATA, de->d_name);

        kg_graph *g = kg_graph_new();
        kg_error err = {0};
        assert_int_equal(kg_load_file(g, DATA "/merge-a.gv", KG_FORMAT_AUTO, &err), 0);
        size_t ne = kg_entity_count(g), nr = kg_relation_count(g);
        tu_stderr se;
        tu_stderr_begin(&se);
        int rc = kg_load_file(g, path, KG_FORMAT_AUTO, &err);
        assert_int_equal(tu_stderr_end(&se), 0);
        char prefix[1100];
        snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
        if (rc != KG_EPARSE || strncmp(err.message, prefix, strlen(prefix)))
            print_message("%s: rc %d, message '%s'\n", de->d_name, rc, err.message);
        assert_int_equal(rc, KG_EPARSE);
        assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
        assert_int_equal(kg_entity_count(g), ne);
        assert_int_equal(kg_relation_count(g), nr);
        kg_graph_destroy(&g);
        n++;
    }
    closedir(d);
    assert_true(n >= 20);
}

static void test_io_missing_file(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(kg_load_file(g, DATA "/no-such-file.gv", KG_FORMAT_AUTO, &err), KG_EIO);
    assert_non_null(strstr(err.message, "no-such-file.gv"));
    kg_batch *b = kg_batch_new();
    assert_int_equal(kg_read_file(DATA, KG_FORMAT_TSV, b, &err), KG_EIO); /* a directory */
    assert_int_equal(kg_batch_count(b), 0);
    assert_int_equal(kg_read_file(NULL, KG_FORMAT_TSV, b, &err), KG_EINVAL);
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
}

/* Several files into one graph merge by id and alias. */
static void test_io_merge_files(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(kg_load_file(g, DATA "/merge-a.gv", KG_FORMAT_AUTO, &err), 0);
    assert_int_equal(kg_load_file(g, DATA "/merge-b.tsv", KG_FORMAT_AUTO, &err), 0);
    assert_int_equal(kg_load_file(g, DATA "/merge-c.json", KG_FORMAT_AUTO, &err), 0);
    /* France, European Union, China (created unknown by merge-b, then
     * given its kind by merge-c whose "china" matches case-insensitively) */
    assert_int_equal(kg_entity_count(g), 3);
    assert_int_equal(kg_relation_count(g), 3);
    kg_eid cn = kg_entity_find(g, "PRC");
    assert_int_not_equal(cn, KG_NONE);
    assert_string_equal(kg_entity_id(g, cn), "China");
    assert_string_equal(kg_entity_kind(g, cn), "country");
    kg_eid fr = kg_entity_by_id(g, "France");
    assert_int_equal(kg_degree(g, fr, KG_OUT), 2);
    kg_graph_destroy(&g);
}

/* kg_read_buffer appends; on error the batch is exactly as before. */
static void test_io_batch_append_and_rollback(void **state)
{
    (void)state;
    kg_batch *b = kg_batch_new();
    kg_error err = {0};
    static const char ok[] = "subject\trelation\tobject\na\tr\tb\nc\tr\td\n";
    static const char bad[] = "subject\trelation\tobject\na\tr\tb\nc\tr\n";
    assert_int_equal(kg_read_buffer(ok, sizeof ok - 1, "one.tsv", KG_FORMAT_TSV, b, &err), 0);
    assert_int_equal(kg_batch_count(b), 2);
    assert_string_equal(kg_batch_source(b), "one.tsv");
    assert_int_equal(kg_batch_get(b, 1)->line, 3);
    assert_int_equal(kg_read_buffer(ok, sizeof ok - 1, "two.tsv", KG_FORMAT_TSV, b, &err), 0);
    assert_int_equal(kg_batch_count(b), 4);
    assert_int_equal(kg_read_buffer(bad, sizeof bad - 1, "bad.tsv", KG_FORMAT_TSV, b, &err), KG_EPARSE);
    assert_string_equal(err.message, "bad.tsv:3: 2 columns, a fact needs subject, relation and object");
    assert_int_equal(kg_batch_count(b), 4);
    kg_batch_clear(b);
    assert_int_equal(kg_read_buffer(bad, sizeof bad - 1, "bad.tsv", KG_FORMAT_TSV, b, &err), KG_EPARSE);
    assert_int_equal(kg_batch_count(b), 0);
    kg_batch_destroy(&b);
}

static void write_gz(const char *path, const char *text, size_t len)
{
    gzFile z = gzopen(path, "wb");
    assert_non_null(z);
    assert_int_equal(gzwrite(z, text, (unsigned)len), (int)len);
    assert_int_equal(gzclose(z), Z_OK);
}

static void test_io_gzip(void **state)
{
    (void)state;
    static const char tsv[] = "subject\trelation\tobject\nFrance\tmeets\tChina\n";
    char *path = tu_temp_file(".tsv.gz", "", 0);
    write_gz(path, tsv, sizeof tsv - 1);
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(kg_load_file(g, path, KG_FORMAT_AUTO, &err), 0);
    assert_int_equal(kg_relation_count(g), 1);

    /* truncated gzip: refused, graph unchanged */
    FILE *f = fopen(path, "rb");
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 20);
    char *cut = tu_temp_file(".tsv.gz", buf, n - 12);
    assert_int_equal(kg_load_file(g, cut, KG_FORMAT_AUTO, &err), KG_EPARSE);
    assert_non_null(strstr(err.message, "gzip"));
    /* corrupt body */
    buf[n / 2] ^= 0x55;
    buf[n / 2 + 1] ^= 0x55;
    char *bad = tu_temp_file(".gv.gz", buf, n);
    assert_int_equal(kg_load_file(g, bad, KG_FORMAT_AUTO, &err), KG_EPARSE);
    assert_int_equal(kg_relation_count(g), 1);
    assert_int_equal(kg_entity_count(g), 2);
    unlink(path);
    unlink(cut);
    unlink(bad);
    free(path);
    free(cut);
    free(bad);
    kg_graph_destroy(&g);
}

/* A gzip bomb must stop at the size limit, not exhaust memory. */
static void test_io_gzip_bomb(void **state)
{
    (void)state;
    char *path = tu_temp_file(".tsv.gz", "", 0);
    gzFile z = gzopen(path, "wb1R"); /* run-length: fast */
    assert_non_null(z);
    char *zeros = calloc(1, 1 << 20);
    assert_non_null(zeros);
    memset(zeros, 'a', 1 << 20);
    for (int i = 0; i < 300; i++) /* 300 MiB of 'a' */
        assert_int_equal(gzwrite(z, zeros, 1 << 20), 1 << 20);
    gzclose(z);
    free(zeros);
    kg_batch *b = kg_batch_new();
    kg_error err = {0};
    assert_int_equal(kg_read_file(path, KG_FORMAT_AUTO, b, &err), KG_ELIMIT);
    assert_int_equal(kg_batch_count(b), 0);
    unlink(path);
    free(path);
    kg_batch_destroy(&b);
}

static void test_io_write_file_and_errors(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(kg_load_file(g, DATA "/merge-a.gv", KG_FORMAT_AUTO, &err), 0);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(kg_write_file(g, KG_FORMAT_TSV, f, &err), 0);
    rewind(f);
    char line[256];
    /* header on line 1 (the scorer skips only line 1), then entities */
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "subject\trelation\tobject\tqualifiers\tevidence\tprovenance\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_true(strncmp(line, "#@entity\t", 9) == 0);
    fclose(f);
    char *buf = NULL;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_AUTO, &buf, NULL, &err), KG_EUNSUPPORTED);
    assert_null(buf);
    assert_int_equal(kg_write_file(g, KG_FORMAT_DOT, NULL, &err), KG_EINVAL);
    /* an empty graph writes valid, re-readable files in every format */
    kg_graph *e = kg_graph_new();
    for (int fmt = KG_FORMAT_DOT; fmt <= KG_FORMAT_JSON; fmt++) {
        kg_graph *h = tu_round_trip(e, (kg_format)fmt);
        assert_int_equal(kg_entity_count(h), 0);
        kg_graph_destroy(&h);
    }
    kg_graph_destroy(&e);
    kg_graph_destroy(&g);
}

/* The default graph's TSV export has the columns the scorer reads. */
static void test_io_default_graph_tsv_columns(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    assert_int_equal(kg_load_file(g, KG_TEST_SOURCE_DIR "/graphs/macron-xi-beijing.gv",
                                  KG_FORMAT_AUTO, &err), 0);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(kg_write_buffer(g, KG_FORMAT_TSV, &buf, &len, &err), 0);
    const char *first = "subject\trelation\tobject\tqualifiers\tevidence\tprovenance\n";
    assert_true(strncmp(buf, first, strlen(first)) == 0);
    /* skip the header and the #@entity lines */
    const char *facts_start = buf + strlen(first);
    while (*facts_start == '#')
        facts_start = strchr(facts_start, '\n') + 1;
    /* every fact line has exactly 6 columns and the default graph's
     * "Emmanuel Macron meets Xi Jinping" has its qualifiers in column 4 */
    int facts = 0, found = 0;
    for (const char *p = facts_start; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        int tabs = 0;
        for (const char *q = p; q < nl; q++)
            tabs += *q == '\t';
        assert_int_equal(tabs, 5);
        if (!strncmp(p, "Emmanuel Macron\tmeets\tXi Jinping\tdate=2025-12-04;place=Beijing\t", 62))
            found = 1;
        facts++;
        p = nl + 1;
    }
    assert_int_equal((size_t)facts, kg_relation_count(g));
    assert_true(found);
    free(buf);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io_format_names),
        cmocka_unit_test(test_io_sniff_content),
        cmocka_unit_test(test_io_broken_files),
        cmocka_unit_test(test_io_missing_file),
        cmocka_unit_test(test_io_merge_files),
        cmocka_unit_test(test_io_batch_append_and_rollback),
        cmocka_unit_test(test_io_gzip),
        cmocka_unit_test(test_io_gzip_bomb),
        cmocka_unit_test(test_io_write_file_and_errors),
        cmocka_unit_test(test_io_default_graph_tsv_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
