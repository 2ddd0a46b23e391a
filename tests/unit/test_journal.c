/* test_journal.c - the journal tries not to lose data: records, torn tails
 * cut at every byte, corruption in the middle, --repair, lock, policies,
 * replay on a changed base, and the codec against garbage.
 *
 * Snapshots are in test_journal_snapshot.c, full and read-only disks in
 * test_journal_disk.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kg/change.h"
#include "kg/graph.h"
#include "kg/journal.h"

#include "test_journal_util.h"

/* ---- helpers ------------------------------------------------------------- */

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static size_t count_prefix(const char *dir, const char *prefix)
{
    DIR *dp = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (dp && (de = readdir(dp)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    if (dp)
        closedir(dp);
    return n;
}

static void journal_path(const char *dir, uint64_t base, char *out, size_t n)
{
    snprintf(out, n, "%s/journal-%016llx.kgj", dir, (unsigned long long)base);
}

static unsigned char *read_all(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_all(const char *p, const unsigned char *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* A new scratch directory whose journal-0 holds the n bytes at data; the
 * journal's path goes to jp. Caller removes it with tj_dir_destroy. */
static char *dir_with_journal(const unsigned char *data, size_t n, char *jp,
                              size_t jp_size)
{
    char *dir = tj_dir_new("kg-journal");
    journal_path(dir, 0, jp, jp_size);
    write_all(jp, data, n);
    return dir;
}

/* Batch i: entity E<i> (with an alias and attribute) and relation
 * E<i> -r-> E<i-1> with a qualifier and provenance: two changes that must
 * come back together or not at all. */
static kg_batch *make_batch(int i)
{
    kg_batch *b = kg_batch_new();
    assert_non_null(b);
    char id[32], alias[32], prev[32], val[32];
    snprintf(id, sizeof id, "E%d", i);
    snprintf(alias, sizeof alias, "alias-%d", i);
    snprintf(prev, sizeof prev, "E%d", i - 1);
    snprintf(val, sizeof val, "v%d", i);
    const char *aliases[] = { alias };
    kg_pair attrs[] = { { "n", val } };
    kg_entity_spec e = { id, "thing", aliases, 1, attrs, 1 };
    assert_int_equal(kg_batch_add_entity(b, &e, 0), 0);
    kg_pair q[] = { { "date", "2025-01" }, { "rate", val } };
    kg_pair pv[] = { { "source", "test" } };
    kg_relation_spec r = { id, "links-to", prev, q, 2, pv, 1 };
    assert_int_equal(kg_batch_add_relation(b, &r, 0), 0);
    return b;
}

/* A journal opened on a directory, the graph it was loaded into, and what
 * the load said. */
typedef struct opened {
    kg_journal *j;
    kg_graph *g;
    tj_warnings w;
    kg_error err;
} opened;

/* Open dir (o NULL: default options) and load it into a fresh graph, with
 * no warnings and no error yet; returns the load's rc, or the open's.
 * close_load frees what it opened, whatever it returned. */
static int open_load(const char *dir, const kg_journal_options *o, opened *t)
{
    memset(&t->w, 0, sizeof t->w);
    kg_error_clear(&t->err);
    t->g = kg_graph_new();
    assert_non_null(t->g);
    t->j = kg_journal_open(dir, o, &t->err);
    if (!t->j)
        return t->err.code;
    return kg_journal_load(t->j, t->g, tj_collect, &t->w, &t->err);
}

static void close_load(opened *t)
{
    kg_journal_destroy(&t->j);
    kg_graph_destroy(&t->g);
}

/* Append batch i to t's journal (no sync) and, if apply, to its graph;
 * returns the seq the journal gave it. */
static uint64_t append_batch(opened *t, int i, bool apply)
{
    kg_batch *b = make_batch(i);
    uint64_t seq = 0;
    assert_int_equal(kg_journal_append(t->j, b, &seq, &t->err), 0);
    if (apply)
        assert_int_equal(kg_graph_apply(t->g, b, &t->err), 0);
    kg_batch_destroy(&b);
    return seq;
}

/* Write n batches through the journal (applying each). Returns the file
 * offsets of each record's start in starts[0..n-1] and the end. */
static void write_batches(const char *dir, int n, long *starts, long *end)
{
    opened t;
    assert_int_equal(open_load(dir, NULL, &t), 0);
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    for (int i = 1; i <= n; i++) {
        if (starts)
            starts[i - 1] = file_size(jp);
        kg_batch *b = make_batch(i);
        uint64_t seq = 0;
        assert_int_equal(kg_graph_check(t.g, b, &t.err), 0);
        assert_int_equal(kg_journal_append(t.j, b, &seq, &t.err), 0);
        assert_int_equal(seq, (uint64_t)i);
        assert_int_equal(kg_graph_apply(t.g, b, &t.err), 0);
        assert_int_equal(kg_journal_sync(t.j, &t.err), 0);
        kg_batch_destroy(&b);
    }
    if (end)
        *end = file_size(jp);
    kg_journal_destroy(&t.j);
    assert_null(t.j);
    kg_graph_destroy(&t.g);
}

/* The bytes of a journal of batches 1..n, written by write_batches in a
 * scratch directory that is gone afterwards. Caller frees. */
static unsigned char *journal_image(int n, long *starts, long *end, size_t *len)
{
    char *src = tj_dir_new("kg-journal");
    write_batches(src, n, starts, end);
    char sp[4096];
    journal_path(src, 0, sp, sizeof sp);
    unsigned char *b = read_all(sp, len);
    tj_dir_destroy(&src);
    return b;
}

/* ---- tests --------------------------------------------------------------- */

static void test_crc32c(void **state)
{
    (void)state;
    /* The standard check value of CRC-32C. */
    assert_int_equal(kg_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(kg_crc32c(0, "", 0), 0);
    /* Chaining pieces gives the same as one call, at every split and for
     * unaligned starts (the slicing loop's alignment prologue). */
    char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 7 + 3);
    uint32_t whole = kg_crc32c(0, buf + 1, sizeof buf - 1);
    for (size_t k = 0; k < sizeof buf - 1; k += 13)
        assert_int_equal(kg_crc32c(kg_crc32c(0, buf + 1, k), buf + 1 + k,
                                   sizeof buf - 1 - k),
                         whole);
}

static void test_policy_names(void **state)
{
    (void)state;
    kg_fsync_policy p;
    assert_int_equal(kg_fsync_policy_from_name("always", &p), 0);
    assert_int_equal(p, KG_FSYNC_ALWAYS);
    assert_int_equal(kg_fsync_policy_from_name("interval", &p), 0);
    assert_int_equal(p, KG_FSYNC_INTERVAL);
    assert_int_equal(kg_fsync_policy_from_name("none", &p), 0);
    assert_int_equal(p, KG_FSYNC_NONE);
    assert_int_equal(kg_fsync_policy_from_name("sometimes", &p), KG_EINVAL);
    assert_int_equal(kg_fsync_policy_from_name(NULL, &p), KG_EINVAL);
    assert_string_equal(kg_fsync_policy_name(KG_FSYNC_INTERVAL), "interval");
    kg_journal_options o;
    kg_journal_options_init(&o);
    assert_int_equal(o.fsync, KG_FSYNC_ALWAYS);
    assert_int_equal(o.fsync_interval_ms, 1000);
    assert_false(o.repair);
}

static void test_roundtrip_and_seq(void **state)
{
    const char *dir = *state;
    write_batches(dir, 5, NULL, NULL);
    opened t;
    assert_int_equal(open_load(dir, NULL, &t), 0);
    assert_int_equal(t.w.n, 0);
    tj_assert_batches(t.g, "E", 5);
    kg_eid e = kg_entity_by_id(t.g, "E3");
    assert_string_equal(kg_entity_alias(t.g, e, 0), "alias-3");
    assert_string_equal(kg_entity_attr_get(t.g, e, "n"), "v3");
    kg_span out = kg_adjacent(t.g, e, KG_OUT, 0);
    assert_string_equal(kg_relation_qual_get(t.g, out.ids[0], "rate"), "v3");
    assert_string_equal(kg_relation_prov_get(t.g, out.ids[0], "source"), "test");
    assert_int_equal(kg_journal_seq(t.j), 5);
    /* seq continues after a restart */
    assert_int_equal(append_batch(&t, 6, false), 6);
    assert_int_equal(kg_journal_sync(t.j, &t.err), 0);
    assert_true(kg_journal_bytes(t.j) > 32);
    close_load(&t);

    assert_int_equal(open_load(dir, NULL, &t), 0);
    tj_assert_batches(t.g, "E", 6);
    close_load(&t);
}

/* A crash can cut the last record anywhere: at every byte offset inside
 * it, recovery keeps the earlier records, cuts the tail with a warning
 * naming file and offset, and later appends work. */
static void test_torn_tail_every_offset(void **state)
{
    (void)state;
    long starts[4], end;
    size_t len;
    unsigned char *orig = journal_image(4, starts, &end, &len);
    assert_int_equal((long)len, end);

    for (long cut = starts[3]; cut < end; cut++) {
        char jp[4096];
        char *dir = dir_with_journal(orig, (size_t)cut, jp, sizeof jp);
        opened t;
        assert_int_equal(open_load(dir, NULL, &t), 0);
        tj_assert_batches(t.g, "E", 3);
        if (cut == starts[3]) {
            assert_int_equal(t.w.n, 0); /* a clean end */
        } else {
            assert_int_equal(t.w.n, 1);
            char want[64];
            snprintf(want, sizeof want, "offset %ld:", starts[3]);
            assert_non_null(strstr(t.w.last, jp));
            assert_non_null(strstr(t.w.last, want));
            assert_non_null(strstr(t.w.last, "truncated"));
        }
        assert_int_equal(file_size(jp), starts[3]);
        assert_int_equal(kg_journal_seq(t.j), 3);
        /* the next append lands after record 3 and survives a restart */
        assert_int_equal(append_batch(&t, 4, false), 4);
        assert_int_equal(kg_journal_sync(t.j, &t.err), 0);
        close_load(&t);
        assert_int_equal(open_load(dir, NULL, &t), 0);
        tj_assert_batches(t.g, "E", 4);
        close_load(&t);
        tj_dir_destroy(&dir);
    }
    /* Zeros after the last record (a file system that extended the file
     * but never wrote the data) are a torn tail too. */
    {
        unsigned char *z = calloc(1, len + 4096);
        memcpy(z, orig, len);
        char jp[4096];
        char *dir = dir_with_journal(z, len + 4096, jp, sizeof jp);
        free(z);
        opened t;
        assert_int_equal(open_load(dir, NULL, &t), 0);
        tj_assert_batches(t.g, "E", 4);
        assert_int_equal(t.w.n, 1);
        assert_int_equal(file_size(jp), end);
        close_load(&t);
        tj_dir_destroy(&dir);
    }
    free(orig);
}

/* A flipped byte anywhere in record 2 of 4 is corruption before the tail:
 * refuse, naming file and offset; with repair, keep records before it and
 * a copy of the original. A flipped byte in the last record is a torn
 * tail. */
static void test_corruption_in_the_middle(void **state)
{
    (void)state;
    long starts[4], end;
    size_t len;
    unsigned char *orig = journal_image(4, starts, &end, &len);

    for (long at = starts[1]; at < starts[2]; at++) {
        char jp[4096];
        orig[at] ^= 0x5A;
        char *dir = dir_with_journal(orig, len, jp, sizeof jp);
        orig[at] ^= 0x5A;
        opened t;
        assert_int_equal(open_load(dir, NULL, &t), KG_ECORRUPT);
        char want[64];
        snprintf(want, sizeof want, "offset %ld:", starts[1]);
        assert_non_null(strstr(t.err.message, jp));
        assert_non_null(strstr(t.err.message, want));
        assert_non_null(strstr(t.err.message, "--repair"));
        assert_int_equal(file_size(jp), (long)len); /* untouched */
        close_load(&t);

        kg_journal_options o;
        kg_journal_options_init(&o);
        o.repair = true;
        assert_int_equal(open_load(dir, &o, &t), 0);
        tj_assert_batches(t.g, "E", 1);
        assert_int_equal(t.w.n, 1);
        assert_non_null(strstr(t.w.last, want));
        assert_non_null(strstr(t.w.last, "journal.corrupt-"));
        assert_int_equal(file_size(jp), starts[1]);
        assert_int_equal(count_prefix(dir, "journal.corrupt-"), 1);
        /* appends continue after the cut, with a fresh seq */
        assert_int_equal(append_batch(&t, 2, false), 2);
        close_load(&t);
        assert_int_equal(open_load(dir, NULL, &t), 0);
        tj_assert_batches(t.g, "E", 2);
        assert_int_equal(t.w.n, 0);
        close_load(&t);
        tj_dir_destroy(&dir);
    }
    /* the last record's checksum fails and nothing follows: a torn tail */
    {
        orig[(starts[3] + end) / 2] ^= 0xFF;
        char jp[4096];
        char *dir = dir_with_journal(orig, len, jp, sizeof jp);
        opened t;
        assert_int_equal(open_load(dir, NULL, &t), 0);
        tj_assert_batches(t.g, "E", 3);
        assert_int_equal(t.w.n, 1);
        close_load(&t);
        tj_dir_destroy(&dir);
    }
    free(orig);
}

static void test_bad_header_and_version(void **state)
{
    const char *dir = *state;
    write_batches(dir, 2, NULL, NULL);
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    size_t len;
    unsigned char *b = read_all(jp, &len);
    opened t;
    /* a version this build does not know (header CRC fixed up) */
    b[8] = 9;
    uint32_t c = kg_crc32c(0, b, 28);
    memcpy(b + 28, &c, 4); /* little-endian host */
    write_all(jp, b, len);
    assert_int_equal(open_load(dir, NULL, &t), KG_EUNSUPPORTED);
    assert_non_null(strstr(t.err.message, "version 9"));
    close_load(&t);
    /* a damaged magic */
    b[8] = 1;
    b[0] = 'X';
    write_all(jp, b, len);
    assert_int_equal(open_load(dir, NULL, &t), KG_ECORRUPT);
    assert_non_null(strstr(t.err.message, "offset 0"));
    close_load(&t);
    free(b);
}

static void test_lock_and_read_only(void **state)
{
    const char *dir = *state;
    write_batches(dir, 3, NULL, NULL);
    kg_error err;
    kg_journal *a = kg_journal_open(dir, NULL, &err);
    assert_non_null(a);
    kg_journal *b = kg_journal_open(dir, NULL, &err);
    assert_null(b);
    assert_int_equal(err.code, KG_EBUSY);
    /* read-only opens while the owner runs, and cannot append */
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.read_only = true;
    kg_journal *r = kg_journal_open(dir, &o, &err);
    assert_non_null(r);
    kg_graph *g = kg_graph_new();
    tj_warnings w = { 0 };
    assert_int_equal(kg_journal_load(r, g, tj_collect, &w, &err), 0);
    tj_assert_batches(g, "E", 3);
    kg_batch *bt = make_batch(4);
    assert_int_equal(kg_journal_append(r, bt, NULL, &err), KG_EINVAL);
    kg_batch_destroy(&bt);
    kg_journal_destroy(&r);
    kg_graph_destroy(&g);
    kg_journal_destroy(&a);
    b = kg_journal_open(dir, NULL, &err);
    assert_non_null(b);
    kg_journal_destroy(&b);
    kg_journal_destroy(&b); /* NULL is fine */
}

/* Reload (a second kg_journal_load) sees everything appended so far. */
static void test_reload_rereads(void **state)
{
    const char *dir = *state;
    opened t;
    assert_int_equal(open_load(dir, NULL, &t), 0);
    for (int i = 1; i <= 3; i++)
        append_batch(&t, i, true);
    assert_int_equal(kg_journal_sync(t.j, &t.err), 0);
    kg_graph *g2 = kg_graph_new();
    assert_int_equal(kg_journal_load(t.j, g2, tj_collect, &t.w, &t.err), 0);
    tj_assert_batches(g2, "E", 3);
    /* and appends go on after the reload */
    assert_int_equal(append_batch(&t, 4, false), 4);
    kg_graph_destroy(&g2);
    close_load(&t);
}

/* The base changed under the journal: a removal of something the new base
 * lacks is skipped with a warning, everything else still applies. */
static void test_replay_on_changed_base(void **state)
{
    const char *dir = *state;
    kg_journal *j;
    kg_graph *g;
    tj_warnings w = { 0 };
    kg_error err;
    g = kg_graph_new();
    kg_entity_spec base_e = { "Old", "country", NULL, 0, NULL, 0 };
    assert_true(kg_entity_add(g, &base_e, NULL, &err) >= 0);
    j = kg_journal_open(dir, NULL, &err);
    assert_non_null(j);
    assert_int_equal(kg_journal_load(j, g, tj_collect, &w, &err), 0);
    kg_batch *b = kg_batch_new();
    assert_int_equal(kg_batch_remove_entity(b, "Old", 0), 0);
    kg_entity_spec n = { "New", "country", NULL, 0, NULL, 0 };
    assert_int_equal(kg_batch_add_entity(b, &n, 0), 0);
    assert_int_equal(kg_graph_check(g, b, &err), 0);
    assert_int_equal(kg_journal_append(j, b, NULL, &err), 0);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    kg_batch_destroy(&b);
    kg_journal_destroy(&j);
    kg_graph_destroy(&g);

    /* restart on a base without "Old" */
    opened t;
    assert_int_equal(open_load(dir, NULL, &t), 0);
    assert_int_equal(t.w.n, 1);
    assert_non_null(strstr(t.w.last, "skipped"));
    assert_int_not_equal(kg_entity_by_id(t.g, "New"), KG_NONE);
    close_load(&t);
}

/* Someone deletes the journal file under a running daemon: appends and
 * syncs fail with KG_EIO instead of writing into an orphaned inode. */
static void test_vanished_file(void **state)
{
    const char *dir = *state;
    opened t;
    assert_int_equal(open_load(dir, NULL, &t), 0);
    kg_batch *b = make_batch(1);
    assert_int_equal(kg_journal_append(t.j, b, NULL, &t.err), 0);
    char jp[4096];
    journal_path(dir, 0, jp, sizeof jp);
    assert_int_equal(unlink(jp), 0);
    assert_int_equal(kg_journal_sync(t.j, &t.err), KG_EIO);
    assert_non_null(strstr(t.err.message, "removed"));
    assert_true(kg_journal_sync_needs_rebuild(t.j));
    assert_int_equal(kg_journal_append(t.j, b, NULL, &t.err), KG_EIO);
    kg_batch_destroy(&b);
    close_load(&t);
}

static void test_interval_tick(void **state)
{
    const char *dir = *state;
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.fsync = KG_FSYNC_INTERVAL;
    o.fsync_interval_ms = 50;
    opened t;
    assert_int_equal(open_load(dir, &o, &t), 0);
    assert_int_equal(kg_journal_fsync(t.j), KG_FSYNC_INTERVAL);
    assert_int_equal(kg_journal_tick(t.j, 1000, &t.err), 0);
    append_batch(&t, 1, false);
    assert_int_equal(kg_journal_sync(t.j, &t.err), 0); /* no fsync: fine */
    assert_int_equal(kg_journal_tick(t.j, 1010, &t.err), 0);
    assert_int_equal(kg_journal_tick(t.j, 1100, &t.err), 0);
    close_load(&t);
}

/* The auto-snapshot rule follows snapshot_journal_bytes. */
static void test_snapshot_due(void **state)
{
    const char *dir = *state;
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.snapshot_journal_bytes = 400;
    opened t;
    assert_int_equal(open_load(dir, &o, &t), 0);
    assert_false(kg_journal_snapshot_due(t.j));
    int i = 1;
    while (!kg_journal_snapshot_due(t.j)) {
        append_batch(&t, i++, true);
        assert_true(i < 100);
    }
    assert_true(kg_journal_bytes(t.j) >= 400);
    assert_int_equal(kg_journal_snapshot(t.j, NULL, t.g, NULL, &t.err), 0);
    assert_false(kg_journal_snapshot_due(t.j));
    assert_int_equal(kg_journal_snapshot_seq(t.j), (uint64_t)(i - 1));
    close_load(&t);
}

/* Records whose checksum is right but whose payload is garbage (as if a
 * buggy or hostile writer made them) are refused, never crash the
 * decoder: random payloads of every small length. */
static void test_codec_garbage(void **state)
{
    (void)state;
    size_t len;
    unsigned char *hdr = journal_image(1, NULL, NULL, &len);
    srand(42);
    for (int round = 0; round < 300; round++) {
        uint32_t plen = (uint32_t)(round % 60);
        unsigned char rec[16 + 64];
        for (uint32_t k = 0; k < plen; k++)
            rec[16 + k] = (unsigned char)(rand() & 0xFF);
        if (plen >= 4 && round % 2) { /* plausible count, bad body */
            rec[16] = 1;
            rec[17] = rec[18] = rec[19] = 0;
        }
        uint64_t seq = 1;
        memcpy(rec + 4, &plen, 4);
        memcpy(rec + 8, &seq, 8);
        uint32_t c = kg_crc32c(0, rec + 4, 12 + plen);
        memcpy(rec, &c, 4);
        unsigned char *file = malloc(32 + 16 + plen);
        memcpy(file, hdr, 32);
        memcpy(file + 32, rec, 16 + plen);
        char jp[4096];
        char *dir = dir_with_journal(file, 32 + 16 + plen, jp, sizeof jp);
        free(file);
        opened t;
        int rc = open_load(dir, NULL, &t);
        /* Either the payload happened to decode (an empty batch), or it
         * was cut as a bad tail record. */
        assert_int_equal(rc, 0);
        if (t.w.n == 0)
            assert_int_equal(kg_entity_count(t.g), 0);
        close_load(&t);
        tj_dir_destroy(&dir);
    }
    free(hdr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_policy_names),
        tj_test_in_dir(test_roundtrip_and_seq),
        cmocka_unit_test(test_torn_tail_every_offset),
        cmocka_unit_test(test_corruption_in_the_middle),
        tj_test_in_dir(test_bad_header_and_version),
        tj_test_in_dir(test_lock_and_read_only),
        tj_test_in_dir(test_reload_rereads),
        tj_test_in_dir(test_replay_on_changed_base),
        tj_test_in_dir(test_vanished_file),
        tj_test_in_dir(test_interval_tick),
        tj_test_in_dir(test_snapshot_due),
        cmocka_unit_test(test_codec_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
