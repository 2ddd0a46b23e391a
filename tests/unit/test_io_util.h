/* test_io_util.h - helpers shared by the io and dot unit tests: graph
 * equality (entities with kinds, aliases and attributes; relations as a
 * multiset with qualifiers and provenance), loading from strings, and a
 * guard that nothing is written to stderr. Include after cmocka.h. */
#ifndef KG_TEST_IO_UTIL_H
#define KG_TEST_IO_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kg/io.h"

static inline int tu_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append s to a malloc'd string with a separator byte. */
static char *tu_cat(char *acc, const char *s, char sep)
{
    size_t a = acc ? strlen(acc) : 0, n = strlen(s);
    char *r = realloc(acc, a + n + 2);
    assert_non_null(r);
    memcpy(r + a, s, n);
    r[a + n] = sep;
    r[a + n + 1] = '\0';
    return r;
}

/* Canonical text of one entity: id, kind, sorted aliases, sorted attrs. */
static char *tu_entity_text(const kg_graph *g, kg_eid e)
{
    char *t = tu_cat(NULL, kg_entity_id(g, e), '\x1f');
    t = tu_cat(t, kg_entity_kind(g, e), '\x1f');
    size_t na = kg_entity_alias_count(g, e), nt = kg_entity_attr_count(g, e);
    char **v = calloc(na + nt + 1, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < na; i++)
        v[i] = tu_cat(NULL, kg_entity_alias(g, e, i), 0);
    qsort(v, na, sizeof *v, tu_cmp_str);
    for (size_t i = 0; i < nt; i++) {
        kg_pair p = kg_entity_attr(g, e, i);
        v[na + i] = tu_cat(tu_cat(NULL, p.key, '='), p.value, 0);
    }
    qsort(v + na, nt, sizeof *v, tu_cmp_str);
    for (size_t i = 0; i < na + nt; i++) {
        t = tu_cat(t, v[i], i + 1 == na ? '\x1d' : '\x1e');
        free(v[i]);
    }
    free(v);
    return t;
}

static char *tu_pairs_text(char *t, const kg_graph *g, kg_rid r, int prov)
{
    size_t n = prov ? kg_relation_prov_count(g, r) : kg_relation_qual_count(g, r);
    char **v = calloc(n + 1, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        kg_pair p = prov ? kg_relation_prov(g, r, i) : kg_relation_qual(g, r, i);
        v[i] = tu_cat(tu_cat(NULL, p.key, '='), p.value, 0);
    }
    qsort(v, n, sizeof *v, tu_cmp_str);
    for (size_t i = 0; i < n; i++) {
        t = tu_cat(t, v[i], '\x1e');
        free(v[i]);
    }
    free(v);
    return tu_cat(t, "", '\x1d');
}

static char *tu_relation_text(const kg_graph *g, kg_rid r)
{
    char *t = tu_cat(NULL, kg_entity_id(g, kg_relation_subject(g, r)), '\x1f');
    t = tu_cat(t, kg_relation_kind(g, r), '\x1f');
    t = tu_cat(t, kg_entity_id(g, kg_relation_object(g, r)), '\x1f');
    t = tu_pairs_text(t, g, r, 0);
    return tu_pairs_text(t, g, r, 1);
}

/* Sorted canonical texts of all entities (rel = 0) or relations. */
static char **tu_texts(const kg_graph *g, int rel, size_t *n)
{
    size_t cnt = rel ? kg_relation_count(g) : kg_entity_count(g), i = 0;
    char **v = calloc(cnt + 1, sizeof *v);
    assert_non_null(v);
    if (rel) {
        for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r))
            v[i++] = tu_relation_text(g, r);
    } else {
        for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e))
            v[i++] = tu_entity_text(g, e);
    }
    assert_int_equal(i, cnt);
    qsort(v, cnt, sizeof *v, tu_cmp_str);
    *n = cnt;
    return v;
}

/* Printable excerpt of a canonical text for failure messages. */
static inline void tu_show(const char *label, const char *s)
{
    char buf[240];
    size_t k = 0;
    for (; s[k] && k + 1 < sizeof buf; k++)
        buf[k] = (unsigned char)s[k] < 0x20 ? '|' : s[k];
    buf[k] = '\0';
    print_message("%s: %s\n", label, buf);
}

/* True when a and b hold the same entities and the same multiset of
 * relations (kind, endpoints, qualifiers, provenance). what names the
 * comparison in messages. */
static inline int tu_graphs_equal(const kg_graph *a, const kg_graph *b, const char *what)
{
    int same = 1;
    for (int rel = 0; rel < 2; rel++) {
        size_t na, nb;
        char **va = tu_texts(a, rel, &na), **vb = tu_texts(b, rel, &nb);
        if (na != nb) {
            print_message("%s: %zu vs %zu %s\n", what, na, nb,
                          rel ? "relations" : "entities");
            same = 0;
        }
        for (size_t i = 0; i < na && i < nb; i++) {
            if (strcmp(va[i], vb[i]) != 0) {
                print_message("%s: first %s difference:\n", what,
                              rel ? "relation" : "entity");
                tu_show("  before", va[i]);
                tu_show("  after ", vb[i]);
                same = 0;
                break;
            }
        }
        for (size_t i = 0; i < na; i++)
            free(va[i]);
        for (size_t i = 0; i < nb; i++)
            free(vb[i]);
        free(va);
        free(vb);
    }
    return same;
}

/* Load a string as if it were a file of the given format into g. */
static inline int tu_load_string(kg_graph *g, const char *text, size_t len,
                          const char *name, kg_format fmt, kg_error *err)
{
    kg_batch *b = kg_batch_new();
    assert_non_null(b);
    int rc = kg_read_buffer(text, len, name, fmt, b, err);
    if (rc == 0)
        rc = kg_graph_apply(g, b, err);
    kg_batch_destroy(&b);
    return rc;
}

/* Export g in fmt and read it back into a new graph. */
static kg_graph *tu_round_trip(const kg_graph *g, kg_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    kg_error err = {0};
    int rc = kg_write_buffer(g, fmt, &buf, &len, &err);
    if (rc)
        print_message("write %s: %s\n", kg_format_name(fmt), err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(strlen(buf), len);
    kg_graph *h = kg_graph_new();
    assert_non_null(h);
    rc = tu_load_string(h, buf, len, "round-trip", fmt, &err);
    if (rc)
        print_message("re-read %s: %s\n", kg_format_name(fmt), err.message);
    assert_int_equal(rc, 0);
    free(buf);
    return h;
}

/* stderr guard: fd 2 goes to a temporary file between begin and end;
 * end returns how many bytes were written there. */
typedef struct tu_stderr {
    int saved;
    char path[64];
} tu_stderr;

static inline void tu_stderr_begin(tu_stderr *s)
{
    fflush(stderr);
    snprintf(s->path, sizeof s->path, "/tmp/kg-test-stderr-XXXXXX");
    int fd = mkstemp(s->path);
    assert_true(fd >= 0);
    s->saved = dup(2);
    assert_true(s->saved >= 0);
    assert_true(dup2(fd, 2) >= 0);
    close(fd);
}

static inline long tu_stderr_end(tu_stderr *s)
{
    fflush(stderr);
    dup2(s->saved, 2);
    close(s->saved);
    struct stat st;
    long n = stat(s->path, &st) == 0 ? (long)st.st_size : -1;
    if (n > 0) {
        FILE *f = fopen(s->path, "r");
        char buf[200] = {0};
        if (f) {
            size_t k = fread(buf, 1, sizeof buf - 1, f);
            buf[k] = '\0';
            fclose(f);
        }
        print_message("stderr got: %s\n", buf);
    }
    unlink(s->path);
    return n;
}

/* Write data to a temporary file named with suffix; returns the path
 * (static storage per call site is not needed: caller frees). */
static inline char *tu_temp_file(const char *suffix, const void *data, size_t len)
{
    char tmpl[] = "/tmp/kg-test-io-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    close(fd);
    unlink(tmpl);
    size_t n = strlen(tmpl) + strlen(suffix) + 1;
    char *path = malloc(n);
    assert_non_null(path);
    snprintf(path, n, "%s%s", tmpl, suffix);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

/* True when s is valid UTF-8 (a simple check, enough for tests). */
static inline int tu_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (*p >= 0x80 && *p < 0xC2))
            return 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

#endif
