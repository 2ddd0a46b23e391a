/* test_journal_snapshot.c - snapshots: round trips (qualifiers,
 * provenance, aliases, attributes, reused handles), the difference against
 * a base and what it does on a changed base, damaged files, and crashes at
 * every step of taking a snapshot (simulated by leaving the files as the
 * crash would).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kg/change.h"
#include "kg/graph.h"
#include "kg/journal.h"

#include "test_journal_util.h"

/* ---- graph comparison ---------------------------------------------------- */

static bool alias_in(const kg_graph *g, kg_eid e, const char *a)
{
    for (size_t i = 0; i < kg_entity_alias_count(g, e); i++)
        if (!strcmp(kg_entity_alias(g, e, i), a))
            return true;
    return false;
}

/* a and b hold the same entities (id, kind, aliases, attributes) and the
 * same facts with the same provenance; handles may differ. */
static void assert_graph_equal(const kg_graph *a, const kg_graph *b)
{
    assert_int_equal(kg_entity_count(a), kg_entity_count(b));
    assert_int_equal(kg_relation_count(a), kg_relation_count(b));
    for (kg_eid e = kg_entity_first(a); e != KG_NONE; e = kg_entity_next(a, e)) {
        const char *id = kg_entity_id(a, e);
        kg_eid f = kg_entity_by_id(b, id);
        if (f == KG_NONE)
            fail_msg("entity %s missing", id);
        assert_string_equal(kg_entity_id(b, f), id);
        assert_string_equal(kg_entity_kind(b, f), kg_entity_kind(a, e));
        assert_int_equal(kg_entity_alias_count(b, f),
                         kg_entity_alias_count(a, e));
        for (size_t i = 0; i < kg_entity_alias_count(a, e); i++)
            assert_true(alias_in(b, f, kg_entity_alias(a, e, i)));
        assert_int_equal(kg_entity_attr_count(b, f), kg_entity_attr_count(a, e));
        for (size_t i = 0; i < kg_entity_attr_count(a, e); i++) {
            kg_pair p = kg_entity_attr(a, e, i);
            const char *v = kg_entity_attr_get(b, f, p.key);
            assert_non_null(v);
            assert_string_equal(v, p.value);
        }
    }
    for (kg_rid r = kg_relation_first(a); r != KG_NONE;
         r = kg_relation_next(a, r)) {
        kg_pair q[16];
        size_t nq = kg_relation_qual_count(a, r);
        assert_true(nq <= 16);
        for (size_t i = 0; i < nq; i++)
            q[i] = kg_relation_qual(a, r, i);
        kg_relation_spec s = { kg_entity_id(a, kg_relation_subject(a, r)),
                               kg_relation_kind(a, r),
                               kg_entity_id(a, kg_relation_object(a, r)), q,
                               nq, NULL, 0 };
        kg_rid x = kg_relation_find(b, &s);
        if (x == KG_NONE)
            fail_msg("relation %s %s %s missing", s.subject, s.relation,
                     s.object);
        assert_string_equal(kg_entity_id(b, kg_relation_subject(b, x)),
                            s.subject);
        assert_string_equal(kg_entity_id(b, kg_relation_object(b, x)),
                            s.object);
        assert_int_equal(kg_relation_prov_count(b, x),
                         kg_relation_prov_count(a, r));
        for (size_t i = 0; i < kg_relation_prov_count(a, r); i++) {
            kg_pair p = kg_relation_prov(a, r, i);
            const char *v = kg_relation_prov_get(b, x, p.key);
            assert_non_null(v);
            assert_string_equal(v, p.value);
        }
    }
}

/* Both ways: every entity and fact of a is in b and every one of b in a. */
static void assert_graphs_same(const kg_graph *a, const kg_graph *b)
{
    assert_graph_equal(a, b);
    assert_graph_equal(b, a);
}

/* ---- building graphs ----------------------------------------------------- */

static void ent(kg_graph *g, const char *id, const char *kind,
                const char *alias, const char *ak, const char *av)
{
    kg_error err;
    const char *al[] = { alias };
    kg_pair at[] = { { ak, av } };
    kg_entity_spec s = { id, kind, alias ? al : NULL, alias ? 1 : 0,
                         ak ? at : NULL, ak ? 1 : 0 };
    assert_true(kg_entity_add(g, &s, NULL, &err) >= 0);
}

static void rel(kg_graph *g, const char *s, const char *k, const char *o,
                const char *qk, const char *qv, const char *src)
{
    kg_error err;
    kg_pair q[] = { { qk, qv } };
    kg_pair p[] = { { "source", src }, { "evidence", "it says so" } };
    kg_relation_spec r = { s, k, o, qk ? q : NULL, qk ? 1 : 0,
                           src ? p : NULL, src ? 2 : 0 };
    assert_true(kg_relation_add(g, &r, NULL, &err) >= 0);
}

static void rm_ent(kg_graph *g, const char *id)
{
    kg_error err;
    kg_eid e = kg_entity_by_id(g, id);
    assert_int_not_equal(e, KG_NONE);
    assert_int_equal(kg_entity_remove(g, e, &err), 0);
}

static void rm_rel(kg_graph *g, const char *s, const char *k, const char *o,
                   const char *qk, const char *qv)
{
    kg_error err;
    kg_pair q[] = { { qk, qv } };
    kg_relation_spec r = { s, k, o, qk ? q : NULL, qk ? 1 : 0, NULL, 0 };
    kg_rid x = kg_relation_find(g, &r);
    assert_int_not_equal(x, KG_NONE);
    assert_int_equal(kg_relation_remove(g, x, &err), 0);
}

/* The base: what graph files would give. */
static kg_graph *build_base(void)
{
    kg_graph *g = kg_graph_new();
    assert_non_null(g);
    ent(g, "China", "country", "Chinese", "iso2", "CN");
    ent(g, "France", "country", "French", "iso2", "FR");
    ent(g, "European Union", "bloc", "EU", NULL, NULL);
    ent(g, "cognac", "product", NULL, NULL, NULL);
    ent(g, "pork", "product", NULL, NULL, NULL);
    ent(g, "Doomed", "person", "D", "role", "x");
    ent(g, "Reborn", "person", "R1", "title", "Dr");
    ent(g, "Plain", "organization", NULL, NULL, NULL);
    rel(g, "China", "tariffs-on", "cognac", "origin", "France", "doc1");
    rel(g, "China", "tariffs-on", "cognac", "origin", "Spain", "doc1");
    rel(g, "China", "tariffs-on", "pork", "origin", "European Union", "doc2");
    rel(g, "France", "member-of", "European Union", NULL, NULL, NULL);
    rel(g, "Doomed", "visits", "China", "date", "2025-12", "doc3");
    rel(g, "Reborn", "visits", "France", NULL, NULL, "doc4");
    rel(g, "Plain", "based-in", "France", NULL, NULL, "doc5");
    return g;
}

/* What clients did on top of the base: every kind of change the diff has
 * to express. */
static void client_changes(kg_graph *g)
{
    /* new things, some naming base entities by alias */
    ent(g, "Canada", "country", "Canadian", "iso2", "CA");
    rel(g, "Canada", "exports-to", "Chinese", "date", "2025", "doc9");
    rel(g, "EU", "tariffs-on", "electric vehicles", "origin", "China", "doc9");
    /* removal of a base entity and of a base relation */
    rm_ent(g, "Doomed");
    rm_rel(g, "China", "tariffs-on", "pork", "origin", "European Union");
    /* a merge: kind change, an extra alias, an attribute value replaced */
    ent(g, "cognac", "beverage", "brandy", "abv", "40");
    ent(g, "France", "country", NULL, "iso2", "FX");
    /* removed and re-added with less: a merge cannot reach that */
    rm_ent(g, "Reborn");
    ent(g, "Reborn", "person", NULL, NULL, NULL);
    rel(g, "Reborn", "visits", "Canada", NULL, NULL, "doc10");
    /* same fact re-added with different provenance */
    rm_rel(g, "Plain", "based-in", "France", NULL, NULL);
    rel(g, "Plain", "based-in", "France", NULL, NULL, "doc11");
    /* a relation removed while a sibling with more qualifiers stays */
    rm_rel(g, "China", "tariffs-on", "cognac", "origin", "Spain");
    /* churn that leaves holes and reuses handles */
    ent(g, "Temp", "thing", NULL, NULL, NULL);
    rel(g, "Temp", "near", "Canada", NULL, NULL, NULL);
    rm_ent(g, "Temp");
    ent(g, "Later", "thing", "L8R", "k", "v");
    rel(g, "Later", "near", "pork", "since", "2024", NULL);
}

/* What kgd serves: the base and the clients' changes. */
static kg_graph *served_graph(void)
{
    kg_graph *g = build_base();
    client_changes(g);
    return g;
}

/* The diff tests' graphs: the base and what kgd serves on it. */
typedef struct graphs {
    kg_graph *base, *served;
} graphs;

static int graphs_setup(void **state)
{
    graphs *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->base = build_base();
    x->served = served_graph();
    *state = x;
    return 0;
}

static int graphs_teardown(void **state)
{
    graphs *x = *state;
    kg_graph_destroy(&x->base);
    kg_graph_destroy(&x->served);
    free(x);
    return 0;
}

static kg_graph *snapshot_roundtrip(const kg_graph *base, const kg_graph *g,
                                    kg_graph *(*make_target)(void),
                                    kg_snapshot_info *wi, tj_warnings *w)
{
    char *dir = tj_dir_new("kg-snapshot");
    char path[4096];
    snprintf(path, sizeof path, "%s/snap.kgs", dir);
    kg_error err;
    assert_int_equal(kg_snapshot_write_file(path, base, g, 77, 1234, wi, &err),
                     0);
    assert_false(tj_exists(dir, "snap.kgs.tmp"));
    kg_graph *t = make_target ? make_target() : kg_graph_new();
    kg_snapshot_info ri;
    int rc = kg_snapshot_load_file(path, t, &ri, tj_collect, w, &err);
    if (rc)
        fail_msg("load: %s", err.message);
    assert_int_equal(ri.seq, 77);
    assert_int_equal(ri.base_fingerprint, 1234);
    assert_int_equal(ri.bytes, wi->bytes);
    assert_int_equal(ri.relations, wi->relations);
    tj_dir_destroy(&dir);
    return t;
}

/* ---- tests --------------------------------------------------------------- */

static void test_full_roundtrip(void **state)
{
    (void)state;
    kg_graph *g = served_graph();
    kg_snapshot_info wi;
    tj_warnings w = { 0 };
    kg_graph *t = snapshot_roundtrip(NULL, g, NULL, &wi, &w);
    assert_int_equal(w.n, 0);
    assert_int_equal(wi.entities, kg_entity_count(g));
    assert_int_equal(wi.relations, kg_relation_count(g));
    assert_int_equal(wi.entity_removals, 0);
    assert_graphs_same(g, t);
    kg_graph_destroy(&t);
    kg_graph_destroy(&g);

    /* the empty graph */
    g = kg_graph_new();
    t = snapshot_roundtrip(NULL, g, NULL, &wi, &w);
    assert_int_equal(kg_entity_count(t), 0);
    kg_graph_destroy(&t);
    kg_graph_destroy(&g);
}

/* base + diff == served graph, and the diff holds only what changed. */
static void test_diff_against_base(void **state)
{
    graphs *x = *state;
    kg_snapshot_info wi;
    tj_warnings w = { 0 };
    kg_graph *t = snapshot_roundtrip(x->base, x->served, build_base, &wi, &w);
    if (w.n)
        fail_msg("unexpected warnings: %s", w.all);
    assert_graphs_same(x->served, t);
    /* Doomed and Reborn are removed; China, European Union, pork and the
     * untouched others are not written at all */
    assert_int_equal(wi.entity_removals, 2);
    assert_true(wi.entities < kg_entity_count(x->served));
    assert_true(wi.relations < kg_relation_count(x->served));
    kg_graph_destroy(&t);

    /* unchanged graph: an empty diff */
    kg_graph *same = build_base();
    t = snapshot_roundtrip(x->base, same, build_base, &wi, &w);
    assert_int_equal(wi.entities + wi.relations + wi.entity_removals +
                         wi.relation_removals, 0);
    assert_graph_equal(same, t);
    kg_graph_destroy(&t);
    kg_graph_destroy(&same);
}

static kg_graph *build_new_base(void)
{
    /* the operator edited the graph file: Doomed is gone, a new entity and
     * relation appeared */
    kg_graph *g = build_base();
    rm_ent(g, "Doomed");
    ent(g, "Japan", "country", NULL, NULL, NULL);
    rel(g, "Japan", "exports-to", "France", NULL, NULL, "file");
    return g;
}

/* The diff on a changed base: client changes all there, the new base's
 * additions kept, removals of what the new base lacks skipped with a
 * warning. */
static void test_diff_on_changed_base(void **state)
{
    graphs *x = *state;
    kg_snapshot_info wi;
    tj_warnings w = { 0 };
    kg_graph *t = snapshot_roundtrip(x->base, x->served, build_new_base, &wi, &w);
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.all, "Doomed"));
    assert_int_not_equal(kg_entity_by_id(t, "Japan"), KG_NONE);
    assert_int_not_equal(kg_entity_by_id(t, "Canada"), KG_NONE);
    assert_string_equal(kg_entity_kind(t, kg_entity_by_id(t, "cognac")),
                        "beverage");
    kg_graph_destroy(&t);
}

/* Replace the file at path with the n bytes at b. */
static void put_file(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* Write make()'s graph as a full snapshot to dir/s.kgs (its name to path)
 * and return the file's bytes, *n of them. Caller frees. */
static unsigned char *snapshot_bytes(const char *dir, kg_graph *(*make)(void),
                                     char *path, size_t path_size, size_t *n)
{
    snprintf(path, path_size, "%s/s.kgs", dir);
    kg_graph *g = make();
    kg_error err;
    kg_snapshot_info wi;
    assert_int_equal(kg_snapshot_write_file(path, NULL, g, 5, 0, &wi, &err), 0);
    kg_graph_destroy(&g);
    FILE *f = fopen(path, "rb");
    unsigned char *b = malloc(wi.bytes);
    assert_int_equal(fread(b, 1, wi.bytes, f), wi.bytes);
    fclose(f);
    *n = wi.bytes;
    return b;
}

static void test_damaged_snapshot(void **state)
{
    const char *dir = *state;
    char path[4096];
    size_t n;
    unsigned char *b = snapshot_bytes(dir, build_base, path, sizeof path, &n);
    kg_error err;
    /* every single flipped byte is caught before the graph is touched */
    for (size_t at = 0; at < n; at++) {
        b[at] ^= 0x21;
        put_file(path, b, n);
        b[at] ^= 0x21;
        kg_graph *t = kg_graph_new();
        int rc = kg_snapshot_load_file(path, t, NULL, NULL, NULL, &err);
        if (rc != KG_ECORRUPT && rc != KG_EUNSUPPORTED)
            fail_msg("flip at %zu: rc %d", at, rc);
        assert_int_equal(kg_entity_count(t), 0);
        assert_non_null(strstr(err.message, path));
        kg_graph_destroy(&t);
    }
    /* cut short anywhere */
    for (size_t cut = 0; cut < n; cut += 7) {
        put_file(path, b, cut);
        kg_graph *t = kg_graph_new();
        assert_int_equal(kg_snapshot_load_file(path, t, NULL, NULL, NULL, &err),
                         KG_ECORRUPT);
        kg_graph_destroy(&t);
    }
    /* missing */
    unlink(path);
    kg_graph *t = kg_graph_new();
    assert_int_equal(kg_snapshot_load_file(path, t, NULL, NULL, NULL, &err),
                     KG_EIO);
    kg_graph_destroy(&t);
    free(b);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Garbage with valid checksums (what a buggy writer or a crafted file
 * would give): every section in turn gets random bytes, its CRC is fixed
 * up, and the loader must refuse cleanly or load something, never crash
 * or read out of bounds (ASan). */
static void test_snapshot_structure_garbage(void **state)
{
    const char *dir = *state;
    char path[4096];
    size_t n;
    unsigned char *orig = snapshot_bytes(dir, served_graph, path, sizeof path, &n);
    unsigned char *b = malloc(n);
    kg_error err;
    /* section offsets */
    size_t sec_off[8], nsec = 0;
    for (size_t off = 48; off + 16 <= n && nsec < 8;) {
        sec_off[nsec++] = off;
        uint32_t lo = le32(orig + off + 8);
        off += 16 + lo;
    }
    assert_int_equal(nsec, 7);
    srand(7);
    int loaded = 0, refused = 0;
    for (int round = 0; round < 600; round++) {
        memcpy(b, orig, n);
        size_t sec = (size_t)round % 6; /* not END: it is empty */
        size_t start = sec_off[sec] + 16;
        size_t len = le32(b + sec_off[sec] + 8);
        if (len == 0)
            continue;
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++) {
            size_t at = start + (size_t)rand() % len;
            b[at] = (unsigned char)(round & 1 ? (unsigned)rand()
                                                : b[at] ^ (1u << (rand() % 8)));
        }
        uint32_t c = kg_crc32c(0, b + start, len);
        memcpy(b + sec_off[sec] + 4, &c, 4); /* little-endian host */
        put_file(path, b, n);
        kg_graph *t = kg_graph_new();
        tj_warnings w = { 0 };
        int rc = kg_snapshot_load_file(path, t, NULL, tj_collect, &w, &err);
        if (rc == 0)
            loaded++;
        else if (rc == KG_ECORRUPT)
            refused++;
        else
            fail_msg("round %d: rc %d: %s", round, rc, err.message);
        kg_graph_destroy(&t);
    }
    assert_true(refused > 0);
    assert_true(loaded + refused > 500);
    free(orig);
    free(b);
}

/* ---- the journal's snapshots and crashes around them ---------------------- */

static void add_and_log(kg_journal *j, kg_graph *g, int i)
{
    kg_error err;
    kg_batch *b = kg_batch_new();
    char id[32];
    snprintf(id, sizeof id, "N%d", i);
    kg_relation_spec r = { id, "rel", "China", NULL, 0, NULL, 0 };
    assert_int_equal(kg_batch_add_relation(b, &r, 0), 0);
    if (i % 3 == 0) {
        char prev[32];
        snprintf(prev, sizeof prev, "N%d", i - 1);
        assert_int_equal(kg_batch_remove_entity(b, prev, 0), 0);
    }
    assert_int_equal(kg_graph_check(g, b, &err), 0);
    assert_int_equal(kg_journal_append(j, b, NULL, &err), 0);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(kg_journal_sync(j, &err), 0);
    kg_batch_destroy(&b);
}

/* Start as kgd does: the base, then dir's snapshot and journal on top,
 * warnings to w (NULL: not kept). The journal stays open in *jo, or is
 * closed when jo is NULL. */
static kg_graph *reopen(const char *dir, tj_warnings *w, kg_journal **jo)
{
    kg_error err;
    kg_graph *g = build_base();
    kg_journal *j = kg_journal_open(dir, NULL, &err);
    assert_non_null(j);
    if (kg_journal_load(j, g, w ? tj_collect : NULL, w, &err) != 0)
        fail_msg("load: %s", err.message);
    if (jo)
        *jo = j;
    else
        kg_journal_destroy(&j);
    return g;
}

/* The daemon's life: base + journal, snapshots (manual and again after
 * more writes), restarts; only the newest snapshot and its journal stay. */
static void test_journal_snapshot_cycle(void **state)
{
    const char *dir = *state;
    kg_error err;
    kg_graph *base = build_base();
    tj_warnings w = { 0 };
    kg_journal *j;
    kg_graph *g = reopen(dir, &w, &j);
    for (int i = 1; i <= 10; i++)
        add_and_log(j, g, i);
    kg_snapshot_info info;
    assert_int_equal(kg_journal_snapshot(j, base, g, &info, &err), 0);
    assert_int_equal(info.seq, 10);
    assert_non_null(strstr(info.path, "snapshot-000000000000000a.kgs"));
    assert_true(tj_exists(dir, "journal-000000000000000a.kgj"));
    assert_false(tj_exists(dir, "journal-0000000000000000.kgj"));
    for (int i = 11; i <= 15; i++)
        add_and_log(j, g, i);
    assert_int_equal(kg_journal_snapshot(j, base, g, &info, &err), 0);
    assert_false(tj_exists(dir, "snapshot-000000000000000a.kgs"));
    assert_true(tj_exists(dir, "snapshot-000000000000000f.kgs"));
    /* a snapshot with nothing new keeps the journal */
    assert_int_equal(kg_journal_snapshot(j, base, g, &info, &err), 0);
    assert_true(tj_exists(dir, "journal-000000000000000f.kgj"));
    add_and_log(j, g, 16);
    kg_journal_destroy(&j);

    kg_graph *t = reopen(dir, &w, &j);
    assert_int_equal(w.n, 0);
    assert_graphs_same(g, t);
    assert_int_equal(kg_journal_seq(j), 16);
    assert_int_equal(kg_journal_snapshot_seq(j), 15);
    /* reload: the same load on a fresh base gives the same graph */
    kg_graph *r = build_base();
    assert_int_equal(kg_journal_load(j, r, tj_collect, &w, &err), 0);
    assert_graph_equal(g, r);
    kg_graph_destroy(&r);
    kg_journal_destroy(&j);
    kg_graph_destroy(&t);
    kg_graph_destroy(&g);
    kg_graph_destroy(&base);
}

static kg_journal *open_fp(const char *dir, uint64_t fp, kg_graph *g,
                           tj_warnings *w)
{
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.base_fingerprint = fp;
    kg_error err;
    kg_journal *j = kg_journal_open(dir, &o, &err);
    assert_non_null(j);
    assert_int_equal(kg_journal_load(j, g, tj_collect, w, &err), 0);
    return j;
}

/* A snapshot remembers the base files' fingerprint: a start on other
 * files says so; after a reload the new fingerprint is recorded. */
static void test_base_fingerprint(void **state)
{
    const char *dir = *state;
    kg_error err;
    kg_graph *base = build_base();
    kg_graph *g = build_base();
    tj_warnings w = { 0 };
    kg_journal *j = open_fp(dir, 111, g, &w);
    add_and_log(j, g, 1);
    assert_int_equal(kg_journal_snapshot(j, base, g, NULL, &err), 0);
    kg_journal_destroy(&j);
    kg_graph_destroy(&g);

    g = build_base();
    j = open_fp(dir, 111, g, &w);
    assert_int_equal(w.n, 0);
    kg_journal_destroy(&j);
    kg_graph_destroy(&g);

    g = build_base();
    j = open_fp(dir, 222, g, &w);
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.all, "base graph files changed"));
    kg_journal_set_base_fingerprint(j, 333);
    add_and_log(j, g, 2);
    assert_int_equal(kg_journal_snapshot(j, base, g, NULL, &err), 0);
    kg_journal_destroy(&j);
    kg_graph_destroy(&g);

    g = build_base();
    w.n = 0;
    j = open_fp(dir, 333, g, &w);
    assert_int_equal(w.n, 0);
    kg_journal_destroy(&j);
    kg_graph_destroy(&g);
    kg_graph_destroy(&base);
}

/* Build a data dir with records 1..n in journal-0 and the graph they give. */
static kg_graph *dir_with_records(const char *dir, int n)
{
    tj_warnings w = { 0 };
    kg_journal *j;
    kg_graph *g = reopen(dir, &w, &j);
    for (int i = 1; i <= n; i++)
        add_and_log(j, g, i);
    kg_journal_destroy(&j);
    return g;
}

static void write_snapshot_in(const char *dir, const kg_graph *g, uint64_t s)
{
    kg_error err;
    char p[4096];
    snprintf(p, sizeof p, "%s/snapshot-%016llx.kgs", dir, (unsigned long long)s);
    kg_graph *base = build_base();
    assert_int_equal(kg_snapshot_write_file(p, base, g, s, 0, NULL, &err), 0);
    kg_graph_destroy(&base);
}

/* dir_with_records, and a snapshot of the graph at record n next to it. */
static kg_graph *dir_with_snapshot(const char *dir, int n)
{
    kg_graph *g = dir_with_records(dir, n);
    write_snapshot_in(dir, g, (uint64_t)n);
    return g;
}

/* A start on dir (on the base) is refused as corrupt, and the message
 * has fragment in it. */
static void assert_start_refused(const char *dir, const char *fragment)
{
    kg_error err;
    kg_journal *j = kg_journal_open(dir, NULL, &err);
    kg_graph *t = build_base();
    assert_int_equal(kg_journal_load(j, t, NULL, NULL, &err), KG_ECORRUPT);
    assert_non_null(strstr(err.message, fragment));
    kg_journal_destroy(&j);
    kg_graph_destroy(&t);
}

/* Crash after the snapshot was renamed into place, before the new journal
 * existed: the old journal is still the current one, its records up to the
 * snapshot are skipped. */
static void test_crash_after_snapshot_rename(void **state)
{
    const char *dir = *state;
    kg_graph *g = dir_with_snapshot(dir, 6);
    tj_warnings w = { 0 };
    kg_journal *j;
    kg_graph *t = reopen(dir, &w, &j);
    assert_graphs_same(g, t);
    assert_int_equal(kg_journal_seq(j), 6);
    add_and_log(j, t, 7);
    add_and_log(j, g, 7);
    kg_journal_destroy(&j);
    kg_graph_destroy(&t);
    t = reopen(dir, &w, NULL);
    assert_graph_equal(g, t);
    kg_graph_destroy(&t);
    kg_graph_destroy(&g);
}

/* Crash after the new journal was created, before the old one was
 * removed; and a leftover temporary snapshot from an earlier crash. */
static void test_crash_before_old_journal_removed(void **state)
{
    const char *dir = *state;
    kg_graph *g = dir_with_snapshot(dir, 6);
    /* the new journal: copy the header of journal-0 with base 6 */
    {
        kg_journal *j;
        kg_graph *t = reopen(dir, NULL, &j); /* journal-0 stays current */
        kg_error err;
        kg_graph *base = build_base();
        /* a full kg_journal_snapshot makes journal-6 and removes journal-0;
         * put journal-0 back afterwards, as a crash would have left it */
        char j0[4096], keep[4096];
        snprintf(j0, sizeof j0, "%s/journal-0000000000000000.kgj", dir);
        snprintf(keep, sizeof keep, "%s/keep", dir);
        assert_int_equal(link(j0, keep), 0);
        assert_int_equal(kg_journal_snapshot(j, base, t, NULL, &err), 0);
        kg_journal_destroy(&j);
        assert_int_equal(rename(keep, j0), 0);
        kg_graph_destroy(&base);
        kg_graph_destroy(&t);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/snapshot-0000000000000009.kgs.tmp", dir);
    FILE *f = fopen(tmp, "w");
    fputs("half a snapshot", f);
    fclose(f);
    assert_true(tj_exists(dir, "journal-0000000000000000.kgj"));
    assert_true(tj_exists(dir, "journal-0000000000000006.kgj"));

    tj_warnings w = { 0 };
    kg_graph *t = reopen(dir, &w, NULL);
    assert_graphs_same(g, t);
    assert_int_equal(w.n, 2);
    assert_non_null(strstr(w.all, "journal-0000000000000000.kgj: removed"));
    assert_non_null(strstr(w.all, "temporary"));
    assert_false(tj_exists(dir, "journal-0000000000000000.kgj"));
    assert_false(tj_exists(dir, "snapshot-0000000000000009.kgs.tmp"));
    kg_graph_destroy(&t);
    kg_graph_destroy(&g);
}

/* A journal that starts after the newest snapshot: changes are missing,
 * and kgd must say so instead of starting with a hole. */
static void test_missing_snapshot_refused(void **state)
{
    const char *dir = *state;
    kg_graph *g = dir_with_records(dir, 3);
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/journal-0000000000000000.kgj", dir);
    snprintf(b, sizeof b, "%s/journal-0000000000000002.kgj", dir);
    assert_int_equal(rename(a, b), 0);
    assert_start_refused(dir, "missing");
    kg_graph_destroy(&g);
}

/* A damaged newest snapshot refuses to start (no silent fall-back to an
 * older state). */
static void test_corrupt_snapshot_in_dir(void **state)
{
    const char *dir = *state;
    kg_graph *g = dir_with_snapshot(dir, 4);
    char p[4096];
    snprintf(p, sizeof p, "%s/snapshot-0000000000000004.kgs", dir);
    FILE *f = fopen(p, "r+b");
    fseek(f, 60, SEEK_SET);
    fputc('#', f);
    fclose(f);
    assert_start_refused(dir, p);
    kg_graph_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_roundtrip),
        cmocka_unit_test_setup_teardown(test_diff_against_base, graphs_setup,
                                        graphs_teardown),
        cmocka_unit_test_setup_teardown(test_diff_on_changed_base, graphs_setup,
                                        graphs_teardown),
        tj_test_in_dir(test_damaged_snapshot),
        tj_test_in_dir(test_snapshot_structure_garbage),
        tj_test_in_dir(test_journal_snapshot_cycle),
        tj_test_in_dir(test_base_fingerprint),
        tj_test_in_dir(test_crash_after_snapshot_rename),
        tj_test_in_dir(test_crash_before_old_journal_removed),
        tj_test_in_dir(test_missing_snapshot_refused),
        tj_test_in_dir(test_corrupt_snapshot_in_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
