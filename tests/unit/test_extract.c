/* test_extract.c - the extractor's mechanics with a small hand-built
 * gazetteer: sentence splitting, normalisation of money and dates,
 * references, deduplication, provenance, data-file errors and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_extract_util.h"

#define DATA KG_TEST_SOURCE_DIR "/data/extract"

static void add_ent(kg_graph *g, const char *id, const char *kind,
                    const char *const *aliases, size_t na)
{
    kg_entity_spec s = {.id = id, .kind = kind, .aliases = aliases, .n_aliases = na};
    assert_true(kg_entity_add(g, &s, NULL, NULL) >= 0);
}

static void add_rel(kg_graph *g, const char *s, const char *r, const char *o)
{
    kg_relation_spec rs = {.subject = s, .relation = r, .object = o};
    assert_true(kg_relation_add(g, &rs, NULL, NULL) >= 0);
}

/* A gazetteer the way graphs/world.gv shapes it. */
static kg_graph *gazetteer(void)
{
    kg_graph *g = kg_graph_new();
    assert_non_null(g);
    static const char *const fr[] = {"French", "French Republic"};
    static const char *const cn[] = {"Chinese", "PRC"};
    static const char *const us[] = {"US", "U.S.", "USA", "American"};
    static const char *const eu[] = {"EU", "E.U."};
    static const char *const ru[] = {"Russian"};
    static const char *const it[] = {"Italian"};
    add_ent(g, "France", "country", fr, 2);
    add_ent(g, "China", "country", cn, 2);
    add_ent(g, "United States", "country", us, 4);
    add_ent(g, "Russia", "country", ru, 1);
    add_ent(g, "Italy", "country", it, 1);
    add_ent(g, "European Union", "bloc", eu, 2);
    add_ent(g, "NATO", "organization", NULL, 0);
    add_ent(g, "Beijing", "place", NULL, 0);
    add_ent(g, "Paris", "place", NULL, 0);
    add_ent(g, "Moscow", "place", NULL, 0);
    /* products the graph already knows must still be found, and their
     * aliases normalise to the graph's id */
    static const char *const ree[] = {"rare-earth elements"};
    add_ent(g, "cognac", "product", NULL, 0);
    add_ent(g, "rare earths", "product", ree, 1);
    add_rel(g, "Beijing", "capital-of", "China");
    add_rel(g, "Paris", "capital-of", "France");
    add_rel(g, "Moscow", "capital-of", "Russia");
    add_rel(g, "France", "member-of", "European Union");
    return g;
}

static kg_extractor *xt;

static int setup(void **state)
{
    (void)state;
    kg_graph *g = gazetteer();
    kg_error err = {0};
    xt = kg_extractor_new(g, DATA, &err);
    kg_graph_destroy(&g);
    if (!xt)
        fprintf(stderr, "%s\n", err.message);
    return xt ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kg_extractor_destroy(&xt);
    return 0;
}

/* Extract text (date 2025-12-04 unless the text says otherwise). */
static kg_batch *run(const char *text, kg_extract_stats *st)
{
    kg_batch *b = kg_batch_new();
    assert_non_null(b);
    kg_extract_options o = {"unit", "2025-12-04"};
    kg_error err = {0};
    assert_int_equal(kg_extract_text(xt, text, strlen(text), &o, b, st, &err), 0);
    return b;
}

static size_t n_facts(const kg_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < kg_batch_count(b); i++)
        n += kg_batch_get(b, i)->op == KG_CHANGE_RELATION_ADD;
    return n;
}

static void expect(const char *text, const char *s, const char *r, const char *o,
                   const char *quals)
{
    kg_batch *b = run(text, NULL);
    const kg_change *c = tx_find(b, s, r, o);
    if (!c || !tx_quals_ok(c, quals)) {
        fprintf(stderr, "  want %s | %s | %s | %s\n  in: %s\n", s, r, o,
                quals ? quals : "", text);
        tx_dump(b);
    }
    assert_non_null(c);
    assert_true(tx_quals_ok(c, quals));
    kg_batch_destroy(&b);
}

static void expect_none(const char *text, const char *r)
{
    kg_batch *b = run(text, NULL);
    const kg_change *c = tx_find(b, "*", r, "*");
    if (c)
        tx_dump(b);
    assert_null(c);
    kg_batch_destroy(&b);
}

static void test_sentences_and_abbreviations(void **state)
{
    (void)state;
    kg_extract_stats st = {0};
    kg_batch *b = run("Mr. Smith met Gen. Jones on Dec. 4 in the U.S. capital. "
                      "“It was useful,” he said. Prices rose 3.5 percent!\n"
                      "Ukraine\nA new paragraph starts here", &st);
    assert_int_equal(st.sentences, 5);
    kg_batch_destroy(&b);
}

static void test_money(void **state)
{
    (void)state;
    expect("China shipped goods worth $461 billion to the EU.", "China",
           "exports-to", "European Union", "value=461000000000;currency=USD");
    expect("France exported €20 million of wine to China.", "France", "exports-to",
           "China", "value=20000000;currency=EUR");
    expect("China exported 1.5 trillion yuan of goods to Russia.", "China",
           "exports-to", "Russia", "value=1500000000000;currency=CNY");
    expect("Italy sold 300 million euros of machinery to China.", "Italy",
           "exports-to", "China", "value=300000000;currency=EUR");
}

static void test_dates(void **state)
{
    (void)state;
    expect("In October 2024, the EU imposed tariffs on electric vehicles made in China.",
           "European Union", "tariffs-on", "electric vehicles",
           "date=2024-10;origin=China;kind=tariff");
    expect("On Dec. 1, China imposed duties on pork from the EU.", "China", "tariffs-on",
           "pork", "date=2025-12-01");
    expect("Earlier this year, China introduced export controls on rare earths.",
           "China", "export-controls-on", "rare earths", "date=2025");
    expect("Last year, China introduced export controls on graphite.", "China",
           "export-controls-on", "graphite", "date=2024");
    expect("In the first 10 months of this year, China shipped goods worth $461 billion "
           "to the EU.", "China", "exports-to", "European Union",
           "period=2025-01/2025-10");
    expect("French President Emmanuel Macron is on a three-day visit to China.",
           "Emmanuel Macron", "visits", "China", "duration=3 days;date=2025-12-04");
    expect("On Tuesday, China imposed duties on pork from the EU.", "China",
           "tariffs-on", "pork", "date=2025-12-02");
}

static void test_capitals_and_state_organs(void **state)
{
    (void)state;
    expect("Beijing slapped duties on pork from the EU.", "China", "tariffs-on", "pork",
           "origin=European Union;kind=duty");
    expect("Brussels imposed tariffs on Chinese steel.", "European Union", "tariffs-on",
           "steel", "origin=China");
    expect("The CCP's commerce ministry is conducting an anti-dumping review of dairy "
           "products originating from the EU.", "China", "anti-dumping-probe-on",
           "dairy products", "origin=European Union");
    expect("Chinese officials imposed duties on French cognac.", "China", "tariffs-on",
           "cognac", "origin=France");
    /* "us" and "it" are words, not countries */
    expect_none("Let us impose tariffs on it.", "tariffs-on");
}

static void test_references(void **state)
{
    (void)state;
    expect("French President Emmanuel Macron spoke. He called on Beijing to act.",
           "Emmanuel Macron", "calls-on", "China", "demand=act");
    expect("China shipped goods to the EU while importing $219 billion from the bloc.",
           "China", "imports-from", "European Union", "value=219000000000");
    expect("France and China held talks. The two countries signed 3 agreements.",
           "France", "signs", "agreement", "count=3");
    /* a person from one article is unknown in the next */
    kg_batch *b = run("Macron called on Beijing to act.", NULL);
    assert_null(tx_find(b, "*", "calls-on", "*"));
    kg_batch_destroy(&b);
}

static void test_known_products(void **state)
{
    (void)state;
    expect("China imposed tariffs on French cognac.", "China", "tariffs-on",
           "cognac", "origin=France");
    expect("The EU imposed tariffs on rare-earth elements made in China.",
           "European Union", "tariffs-on", "rare earths", "origin=China");
}

static void test_lists_and_negation(void **state)
{
    (void)state;
    kg_batch *b = run("Officials from France and China signed 12 cooperation agreements "
                      "covering nuclear energy, agricultural products, education, and "
                      "other fields.", NULL);
    assert_non_null(tx_find(b, "agreement", "covers", "nuclear energy"));
    assert_non_null(tx_find(b, "agreement", "covers", "agricultural products"));
    assert_non_null(tx_find(b, "agreement", "covers", "education"));
    assert_null(tx_find(b, "*", "covers", "fields"));
    assert_null(tx_find(b, "*", "covers", "other fields"));
    kg_batch_destroy(&b);
    expect_none("China did not impose tariffs on French cognac.", "tariffs-on");
    expect_none("China refused to impose tariffs on French cognac.", "tariffs-on");
    expect_none("China denied that it had slapped duties on pork.", "tariffs-on");
    expect_none("China should impose tariffs on French cognac.", "tariffs-on");
}

static void test_dedupe_and_provenance(void **state)
{
    (void)state;
    const char *text = "# source: https://example.org/a\n# date: 2025-05-01\n"
                       "Beijing slapped duties on pork from the EU.\n"
                       "Beijing slapped duties on pork from the EU.\n";
    kg_batch *b = kg_batch_new();
    kg_extract_stats st = {0};
    kg_error err = {0};
    assert_int_equal(kg_extract_text(xt, text, strlen(text), NULL, b, &st, &err), 0);
    assert_int_equal(n_facts(b), 1);
    assert_int_equal(st.facts, 1);
    assert_int_equal(st.sentences, 2);
    const kg_change *c = tx_find(b, "China", "tariffs-on", "pork");
    assert_non_null(c);
    const char *src = NULL, *date = NULL, *ev = NULL, *span = NULL;
    for (size_t i = 0; i < c->u.relation.n_prov; i++) {
        const kg_pair *p = &c->u.relation.prov[i];
        if (!strcmp(p->key, KG_PROV_SOURCE)) src = p->value;
        if (!strcmp(p->key, KG_PROV_DOC_DATE)) date = p->value;
        if (!strcmp(p->key, KG_PROV_EVIDENCE)) ev = p->value;
        if (!strcmp(p->key, KG_PROV_SPAN)) span = p->value;
    }
    assert_string_equal(src, "https://example.org/a");
    assert_string_equal(date, "2025-05-01");
    assert_string_equal(ev, "Beijing slapped duties on pork from the EU.");
    unsigned a, z;
    assert_int_equal(sscanf(span, "%u-%u", &a, &z), 2);
    assert_true(z > a && z <= strlen(text));
    assert_memory_equal(text + a, ev, z - a);
    /* entity records come first, with their kinds */
    const kg_change *first = kg_batch_get(b, 0);
    assert_int_equal(first->op, KG_CHANGE_ENTITY_ADD);
    bool product = false;
    for (size_t i = 0; i < kg_batch_count(b); i++) {
        const kg_change *e = kg_batch_get(b, i);
        if (e->op == KG_CHANGE_ENTITY_ADD && !strcmp(e->u.entity.id, "pork"))
            product = !strcmp(e->u.entity.kind, "product");
    }
    assert_true(product);
    /* the batch applies to a graph */
    kg_graph *g = kg_graph_new();
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(kg_relation_count(g), 1);
    kg_graph_destroy(&g);
    kg_batch_destroy(&b);
}

static void test_bad_input(void **state)
{
    (void)state;
    kg_extract_stats st = {0};
    kg_batch *b = run("", &st);
    assert_int_equal(kg_batch_count(b), 0);
    kg_batch_destroy(&b);
    b = run("Der französische Präsident Emmanuel Macron hat China besucht. "
            "中国对欧盟猪肉征收关税。", NULL);
    assert_int_equal(n_facts(b), 0);
    kg_batch_destroy(&b);
    b = run("The weather was fine and nobody said anything about trade.", NULL);
    assert_int_equal(n_facts(b), 0);
    kg_batch_destroy(&b);

    /* binary noise, NUL bytes included */
    size_t n = 1 << 20;
    char *noise = malloc(n);
    assert_non_null(noise);
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) {
        r = r * 1103515245u + 12345u;
        noise[i] = (char)(r >> 16);
    }
    b = kg_batch_new();
    kg_error err = {0};
    assert_int_equal(kg_extract_text(xt, noise, n, NULL, b, NULL, &err), 0);
    kg_batch_destroy(&b);
    /* one enormous line without punctuation */
    for (size_t i = 0; i < n; i++)
        noise[i] = i % 7 == 6 ? ' ' : 'a' + (char)(i % 5);
    b = kg_batch_new();
    assert_int_equal(kg_extract_text(xt, noise, n, NULL, b, NULL, &err), 0);
    assert_int_equal(n_facts(b), 0);
    kg_batch_destroy(&b);
    free(noise);

    /* too large: refused before anything is read */
    b = kg_batch_new();
    char one = 'x';
    assert_int_equal(kg_extract_text(xt, &one, KG_EXTRACT_MAX_TEXT + 1, NULL, b, NULL, &err),
                     KG_ELIMIT);
    kg_extract_options bad = {NULL, "2025-13-40"};
    assert_int_equal(kg_extract_text(xt, "x", 1, &bad, b, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_extract_text(NULL, "x", 1, NULL, b, NULL, &err), KG_EINVAL);
    assert_int_equal(kg_batch_count(b), 0);
    kg_batch_destroy(&b);
}

static void test_data_errors(void **state)
{
    (void)state;
    kg_error err = {0};
    kg_extractor *x = kg_extractor_new(NULL, "/nonexistent/kgd-data", &err);
    assert_null(x);
    assert_non_null(strstr(err.message, "/nonexistent/kgd-data/"));

    char dir[] = "/tmp/kg-extract-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *files[] = {"words.txt", "titles.txt", "products.tsv", "entities.tsv",
                           "relations.tsv", "patterns.txt"};
    char path[256], cmd[512];
    for (size_t i = 0; i < 6; i++) {
        snprintf(cmd, sizeof cmd, "cp %s/%s %s/", DATA, files[i], dir);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(path, sizeof path, "%s/patterns.txt", dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("tariffs-on : S:actor imposed X:nonsense on P:products\n", f);
    fclose(f);
    x = kg_extractor_new(NULL, dir, &err);
    assert_null(x);
    assert_non_null(strstr(err.message, "patterns.txt:"));
    assert_non_null(strstr(err.message, "unknown slot type"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);

    /* no gazetteer at all: still works, finds fewer entities */
    x = kg_extractor_new(NULL, DATA, &err);
    assert_non_null(x);
    kg_batch *b = kg_batch_new();
    assert_int_equal(kg_extract_text(x, "Nothing here.", 13, NULL, b, NULL, &err), 0);
    kg_batch_destroy(&b);
    kg_extractor_destroy(&x);
    kg_extractor_destroy(&x); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentences_and_abbreviations),
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_capitals_and_state_organs),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_known_products),
        cmocka_unit_test(test_lists_and_negation),
        cmocka_unit_test(test_dedupe_and_provenance),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_data_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
