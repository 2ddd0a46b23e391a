/* test_extract_sentences.c - the extractor against the world catalog:
 * one sentence per relation pattern family (tests/data/extract/
 * sentences.tsv, active and passive voice, nominalisations, negation,
 * wishes), and whole articles against hand-made gold facts
 * (tests/data/extract/{articles,gold}, plus the shared evaluation set
 * when it is present), scored like ../shared/eval/score. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>

#include "kg/io.h"
#include "test_extract_util.h"

static kg_extractor *xt;

static int setup(void **state)
{
    (void)state;
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    if (!g || kg_load_file(g, KG_TEST_SOURCE_DIR "/graphs/world.gv", KG_FORMAT_AUTO, &err)) {
        fprintf(stderr, "world.gv: %s\n", err.message);
        kg_graph_destroy(&g);
        return -1;
    }
    xt = kg_extractor_new(g, KG_TEST_SOURCE_DIR "/data/extract", &err);
    kg_graph_destroy(&g);
    if (!xt)
        fprintf(stderr, "extractor: %s\n", err.message);
    return xt ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kg_extractor_destroy(&xt);
    return 0;
}

static void test_sentences(void **state)
{
    (void)state;
    FILE *f = fopen(KG_TEST_DATA_DIR "/extract/sentences.tsv", "r");
    assert_non_null(f);
    char line[2048];
    int n = 0, failed = 0;
    kg_batch *b = kg_batch_new();
    assert_non_null(b);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *col[6] = {0};
        int nc = 0;
        char *save = NULL;
        for (char *p = strtok_r(line, "\t", &save); p && nc < 6;
             p = strtok_r(NULL, "\t", &save))
            col[nc++] = p;
        assert_true(nc >= 5);
        kg_batch_clear(b);
        kg_extract_options o = {"test", "2025-06-15"};
        kg_error err = {0};
        assert_int_equal(kg_extract_text(xt, col[1], strlen(col[1]), &o, b, NULL, &err), 0);
        const kg_change *c = tx_find(b, col[2], col[3], col[4]);
        bool ok = col[0][0] == '+' ? c && tx_quals_ok(c, nc > 5 ? col[5] : NULL) : !c;
        n++;
        if (!ok) {
            failed++;
            fprintf(stderr, "  FAIL %s %s | %s | %s %s\n    in: %s\n", col[0], col[2],
                    col[3], col[4], nc > 5 ? col[5] : "", col[1]);
            tx_dump(b);
        }
    }
    fclose(f);
    kg_batch_destroy(&b);
    fprintf(stderr, "  %d sentences, %d failed\n", n, failed);
    assert_true(n >= 90);
    assert_int_equal(failed, 0);
}

/* ---- article scoring, as ../shared/eval/score does ------------------- */

static void norm(const char *s, char *out, size_t cap)
{
    char tmp[512];
    size_t o = 0;
    while (*s == ' ')
        s++;
    if (!strncasecmp(s, "the ", 4))
        s += 4;
    for (; *s && o + 1 < sizeof tmp; s++)
        tmp[o++] = (char)tolower((unsigned char)*s);
    while (o && tmp[o - 1] == ' ')
        o--;
    tmp[o] = '\0';
    char *last = strrchr(tmp, ' ');
    last = last ? last + 1 : tmp;
    size_t ll = strlen(last);
    if (ll > 3 && !strcmp(last + ll - 3, "ies"))
        strcpy(last + ll - 3, "y");
    else if (ll > 3 && last[ll - 1] == 's' && last[ll - 2] != 's')
        last[ll - 1] = '\0';
    size_t tl = strlen(tmp);
    if (tl >= cap)
        tl = cap - 1;
    memcpy(out, tmp, tl);
    out[tl] = '\0';
}

typedef struct fact {
    char s[256], r[64], o[256], origin[256];
} fact;

static bool fact_match(const fact *g, const fact *p)
{
    if (strcmp(g->r, p->r))
        return false;
    if (g->origin[0] && strcmp(g->origin, p->origin))
        return false;
    const char *gs[2] = {g->s, g->o}, *ps[2] = {p->s, p->o};
    for (int i = 0; i < 2; i++) {
        if (strstr(gs[i], "agreement")) {
            if (!strstr(ps[i], "agreement"))
                return false;
        } else if (strcmp(gs[i], ps[i])) {
            return false;
        }
    }
    return true;
}

static void set_origin(fact *f, const char *quals)
{
    const char *p = quals ? strstr(quals, "origin=") : NULL;
    f->origin[0] = '\0';
    if (p && (p == quals || p[-1] == ';')) {
        char v[256];
        snprintf(v, sizeof v, "%s", p + 7);
        v[strcspn(v, ";")] = '\0';
        norm(v, f->origin, sizeof f->origin);
    }
}

static size_t read_gold(const char *path, fact *out, size_t max)
{
    size_t len = 0, n = 0;
    char *buf = tx_read(path, &len);
    assert_non_null(buf);
    buf[len ? len - 1 : 0] = buf[len ? len - 1 : 0] == '\n' ? '\0' : buf[len ? len - 1 : 0];
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#' || !strncmp(l, "subject\t", 8))
            continue;
        char *c[5] = {0};
        int nc = 0;
        for (char *p = l; nc < 5; nc++) {
            c[nc] = p;
            char *t = strchr(p, '\t');
            if (!t) {
                nc++;
                break;
            }
            *t = '\0';
            p = t + 1;
        }
        if (nc < 3)
            continue;
        norm(c[0], out[n].s, sizeof out[n].s);
        norm(c[1], out[n].r, sizeof out[n].r);
        norm(c[2], out[n].o, sizeof out[n].o);
        set_origin(&out[n], nc > 3 ? c[3] : NULL);
        bool dup = false; /* the scorer counts a triple (+origin) once */
        for (size_t k = 0; k < n && !dup; k++)
            dup = !strcmp(out[k].s, out[n].s) && !strcmp(out[k].r, out[n].r) &&
                  !strcmp(out[k].o, out[n].o) && !strcmp(out[k].origin, out[n].origin);
        if (!dup)
            n++;
    }
    free(buf);
    return n;
}

/* Score one article; adds to *tp, *ng, *np. */
static void score_article(const char *article, const char *gold, size_t *tp,
                          size_t *ng, size_t *np)
{
    static fact g[256], p[256];
    size_t len = 0;
    char *text = tx_read(article, &len);
    assert_non_null(text);
    kg_batch *b = kg_batch_new();
    kg_error err = {0};
    assert_int_equal(kg_extract_text(xt, text, len, NULL, b, NULL, &err), 0);
    free(text);
    size_t n_g = read_gold(gold, g, 256), n_p = 0;
    for (size_t i = 0; i < kg_batch_count(b) && n_p < 256; i++) {
        const kg_change *c = kg_batch_get(b, i);
        if (c->op != KG_CHANGE_RELATION_ADD)
            continue;
        fact f;
        norm(c->u.relation.subject, f.s, sizeof f.s);
        norm(c->u.relation.relation, f.r, sizeof f.r);
        norm(c->u.relation.object, f.o, sizeof f.o);
        const char *origin = NULL;
        for (size_t k = 0; k < c->u.relation.n_quals; k++)
            if (!strcmp(c->u.relation.quals[k].key, "origin"))
                origin = c->u.relation.quals[k].value;
        f.origin[0] = '\0';
        if (origin)
            norm(origin, f.origin, sizeof f.origin);
        bool dup = false; /* the scorer counts a triple (+origin) once */
        for (size_t k = 0; k < n_p && !dup; k++)
            dup = !strcmp(p[k].s, f.s) && !strcmp(p[k].r, f.r) &&
                  !strcmp(p[k].o, f.o) && !strcmp(p[k].origin, f.origin);
        if (!dup)
            p[n_p++] = f;
    }
    kg_batch_destroy(&b);
    bool used[256] = {false};
    size_t hit = 0;
    for (size_t i = 0; i < n_g; i++) {
        size_t k;
        for (k = 0; k < n_p; k++)
            if (!used[k] && fact_match(&g[i], &p[k]))
                break;
        if (k < n_p) {
            used[k] = true;
            hit++;
        } else {
            fprintf(stderr, "    missed: %s | %s | %s\n", g[i].s, g[i].r, g[i].o);
        }
    }
    for (size_t k = 0; k < n_p; k++)
        if (!used[k])
            fprintf(stderr, "    extra:  %s | %s | %s\n", p[k].s, p[k].r, p[k].o);
    fprintf(stderr, "  %s: %zu/%zu gold, %zu predicted\n", strrchr(article, '/') + 1,
            hit, n_g, n_p);
    *tp += hit;
    *ng += n_g;
    *np += n_p;
}

static void score_dir(const char *articles, const char *gold, double min_p,
                      double min_f1)
{
    DIR *d = opendir(articles);
    if (!d) {
        fprintf(stderr, "  (%s not present, skipped)\n", articles);
        return;
    }
    struct dirent *e;
    size_t tp = 0, ng = 0, np = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt"))
            continue;
        char a[1024], g[1024];
        snprintf(a, sizeof a, "%s/%s", articles, e->d_name);
        snprintf(g, sizeof g, "%s/%.*s.tsv", gold, (int)(l - 4), e->d_name);
        score_article(a, g, &tp, &ng, &np);
    }
    closedir(d);
    assert_true(ng > 0);
    double p = np ? (double)tp / (double)np : 0, r = (double)tp / (double)ng;
    double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
    fprintf(stderr, "  F1 %.3f P %.3f R %.3f\n", f1, p, r);
    assert_true(p >= min_p);
    assert_true(f1 >= min_f1);
}

static void test_own_articles(void **state)
{
    (void)state;
    score_dir(KG_TEST_DATA_DIR "/extract/articles", KG_TEST_DATA_DIR "/extract/gold",
              0.9, 0.85);
}

static void test_shared_articles(void **state)
{
    (void)state;
    score_dir(KG_TEST_SOURCE_DIR "/../shared/eval/articles",
              KG_TEST_SOURCE_DIR "/../shared/eval/gold", 0.9, 0.85);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentences),
        cmocka_unit_test(test_own_articles),
        cmocka_unit_test(test_shared_articles),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
