/* test_journal_util.h - helpers shared by the journal, snapshot and disk
 * unit tests: a warning collector for kg_journal_load and the snapshot
 * loader, scratch directories, and the check that a test's numbered
 * batches came back. Include after cmocka.h. */
#ifndef KG_TEST_JOURNAL_UTIL_H
#define KG_TEST_JOURNAL_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kg/graph.h"
#include "kg/journal.h"

/* The warnings a load reported: how many, the last, and all of them (one a
 * line, cut at the buffer's end). */
typedef struct tj_warnings {
    int n;
    char last[2048];
    char all[8192];
} tj_warnings;

/* kg_journal_load's and kg_snapshot_load_file's warning callback; ctx is a
 * tj_warnings. */
static inline void tj_collect(void *ctx, const char *msg)
{
    tj_warnings *w = ctx;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", msg);
    size_t l = strlen(w->all);
    snprintf(w->all + l, sizeof w->all - l, "%s\n", msg);
}

/* A new empty directory /tmp/<prefix>-XXXXXX. Caller frees it with
 * tj_dir_destroy. */
static inline char *tj_dir_new(const char *prefix)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/%s-XXXXXX", prefix);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

/* Remove *dir and the files in it (the tests make no subdirectories), free
 * the name and clear the pointer; NULL is fine. */
static inline void tj_dir_destroy(char **dir)
{
    if (!dir || !*dir)
        return;
    DIR *dp = opendir(*dir);
    if (dp) {
        struct dirent *de;
        char p[4096];
        while ((de = readdir(dp)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", *dir, de->d_name);
            unlink(p);
        }
        closedir(dp);
        rmdir(*dir);
    }
    free(*dir);
    *dir = NULL;
}

/* cmocka setup and teardown for a test that works in a scratch directory:
 * *state is its name. The teardown runs even when the test fails. */
static inline int tj_dir_setup(void **state)
{
    *state = tj_dir_new("kg-journal");
    return 0;
}

static inline int tj_dir_teardown(void **state)
{
    char *dir = *state;
    tj_dir_destroy(&dir);
    *state = NULL;
    return 0;
}

/* A cmocka test that runs in a scratch directory (its *state). */
#define tj_test_in_dir(f) cmocka_unit_test_setup_teardown(f, tj_dir_setup, tj_dir_teardown)

/* Does dir/name exist? */
static inline bool tj_exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Batches 1..n of a test are in g, and nothing of n+1: entities
 * <prefix>1..<prefix>n of kind "thing" with one relation out each, n
 * relations in all, and no <prefix><n+1>. */
static inline void tj_assert_batches(const kg_graph *g, const char *prefix, int n)
{
    char id[32];
    for (int i = 1; i <= n; i++) {
        snprintf(id, sizeof id, "%s%d", prefix, i);
        kg_eid e = kg_entity_by_id(g, id);
        if (e == KG_NONE)
            fail_msg("%s missing", id);
        assert_string_equal(kg_entity_kind(g, e), "thing");
        assert_int_equal(kg_degree(g, e, KG_OUT), 1);
    }
    snprintf(id, sizeof id, "%s%d", prefix, n + 1);
    assert_int_equal(kg_entity_by_id(g, id), KG_NONE);
    assert_int_equal(kg_relation_count(g), (size_t)n);
}

/* Reopen dir read-only (a second opinion that repairs nothing) and check
 * that it holds exactly batches 1..n of prefix "B" (tj_assert_batches),
 * with no warning, and that its last seq is n. */
static inline void tj_assert_dir_holds(const char *dir, int n)
{
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.read_only = true;
    kg_error err;
    kg_journal *j = kg_journal_open(dir, &o, &err);
    if (!j)
        fail_msg("open %s: %s", dir, err.message);
    kg_graph *g = kg_graph_new();
    tj_warnings w = {0};
    if (kg_journal_load(j, g, tj_collect, &w, &err) != 0)
        fail_msg("load: %s", err.message);
    if (w.n)
        fail_msg("warnings: %s", w.all);
    tj_assert_batches(g, "B", n);
    assert_int_equal(kg_journal_seq(j), (uint64_t)n);
    kg_graph_destroy(&g);
    kg_journal_destroy(&j);
}

#endif
