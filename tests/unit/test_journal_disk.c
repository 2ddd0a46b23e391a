/* test_journal_disk.c - the journal on a full disk and on a read-only
 * file system, using a small tmpfs mounted by the test (tests run as root,
 * in CI too; root ignores file permissions, so chmod proves nothing and a
 * real read-only mount is used). Every mount is undone in the teardown,
 * which cmocka runs even when an assertion fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kg/change.h"
#include "kg/graph.h"
#include "kg/journal.h"

#include "test_journal_util.h"

typedef struct mnt {
    char dir[64];
    char data[128];
    bool mounted;
} mnt;

static int mount_small_tmpfs(void **state)
{
    mnt *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    snprintf(m->dir, sizeof m->dir, "/tmp/kg-disk-XXXXXX");
    if (!mkdtemp(m->dir)) {
        free(m);
        return -1;
    }
    if (mount("tmpfs", m->dir, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=64k,mode=0700") != 0) {
        /* Not skipped: these checks are the point of the file. */
        fprintf(stderr, "test_journal_disk: mount tmpfs on %s: %s (these "
                "tests need root or CAP_SYS_ADMIN)\n", m->dir, strerror(errno));
        rmdir(m->dir);
        free(m);
        return -1;
    }
    m->mounted = true;
    snprintf(m->data, sizeof m->data, "%s/data", m->dir);
    *state = m;
    return 0;
}

static int unmount_tmpfs(void **state)
{
    mnt *m = *state;
    if (m && m->mounted)
        umount2(m->dir, MNT_DETACH);
    if (m)
        rmdir(m->dir);
    free(m);
    return 0;
}

static int remount(const mnt *m, bool ro)
{
    return mount("tmpfs", m->dir, "tmpfs",
                 MS_REMOUNT | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0),
                 "size=64k,mode=0700");
}

/* A batch of about 1.5 KiB: an entity and a relation with long evidence. */
static kg_batch *big_batch(int i)
{
    kg_batch *b = kg_batch_new();
    assert_non_null(b);
    char id[32], ev[1500];
    snprintf(id, sizeof id, "B%d", i);
    memset(ev, 'a' + i % 26, sizeof ev - 1);
    ev[sizeof ev - 1] = '\0';
    kg_entity_spec e = { id, "thing", NULL, 0, NULL, 0 };
    assert_int_equal(kg_batch_add_entity(b, &e, 0), 0);
    kg_pair p[] = { { "evidence", ev } };
    kg_relation_spec r = { id, "rel", "hub", NULL, 0, p, 1 };
    assert_int_equal(kg_batch_add_relation(b, &r, 0), 0);
    return b;
}

/* Open the journal in dir for writing and load it into a new graph *g. */
static kg_journal *open_loaded(const char *dir, kg_graph **g)
{
    kg_error err;
    kg_journal *j = kg_journal_open(dir, NULL, &err);
    assert_non_null(j);
    *g = kg_graph_new();
    assert_int_equal(kg_journal_load(j, *g, NULL, NULL, &err), 0);
    return j;
}

static void test_full_disk(void **state)
{
    mnt *m = *state;
    kg_error err;
    kg_graph *g;
    kg_journal *j = open_loaded(m->data, &g);

    /* a filler to free later */
    char filler[256];
    snprintf(filler, sizeof filler, "%s/filler", m->dir);
    int fd = open(filler, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    char blk[4096];
    memset(blk, 'f', sizeof blk);
    for (int i = 0; i < 4; i++)
        assert_int_equal(write(fd, blk, sizeof blk), (ssize_t)sizeof blk);
    close(fd);

    int ok = 0, rc = 0;
    while (ok < 200) {
        kg_batch *b = big_batch(ok + 1);
        rc = kg_journal_append(j, b, NULL, &err);
        if (rc == 0) {
            assert_int_equal(kg_graph_apply(g, b, &err), 0);
            assert_int_equal(kg_journal_sync(j, &err), 0);
            ok++;
        }
        kg_batch_destroy(&b);
        if (rc)
            break;
    }
    assert_int_equal(rc, KG_EIO);
    assert_true(ok > 3);
    assert_non_null(strstr(err.message, "No space left"));
    assert_non_null(strstr(err.message, "journal-"));
    uint64_t bytes = kg_journal_bytes(j);
    assert_int_equal(kg_journal_seq(j), (uint64_t)ok);
    /* nothing acknowledged is lost, no half record is left behind */
    tj_assert_dir_holds(m->data, ok);
    char jp[256];
    snprintf(jp, sizeof jp, "%s/journal-0000000000000000.kgj", m->data);
    struct stat st;
    assert_int_equal(stat(jp, &st), 0);
    assert_int_equal((uint64_t)st.st_size, bytes);
    /* it keeps failing cleanly while the disk is full */
    kg_batch *b = big_batch(ok + 1);
    assert_int_equal(kg_journal_append(j, b, NULL, &err), KG_EIO);
    /* a snapshot fails too, and leaves the old files as they were */
    assert_int_equal(kg_journal_snapshot(j, NULL, g, NULL, &err), KG_EIO);
    assert_int_equal(access(jp, F_OK), 0);
    char sp[256];
    snprintf(sp, sizeof sp, "%s/snapshot-%016x.kgs.tmp", m->data, ok);
    assert_int_not_equal(access(sp, F_OK), 0);
    tj_assert_dir_holds(m->data, ok);

    /* space comes back: appends work again, with the next seq */
    assert_int_equal(unlink(filler), 0);
    uint64_t seq = 0;
    assert_int_equal(kg_journal_append(j, b, &seq, &err), 0);
    assert_int_equal(seq, (uint64_t)ok + 1);
    assert_int_equal(kg_journal_sync(j, &err), 0);
    kg_batch_destroy(&b);
    kg_journal_destroy(&j);
    kg_graph_destroy(&g);
    tj_assert_dir_holds(m->data, ok + 1);
}

static void test_read_only_fs(void **state)
{
    mnt *m = *state;
    kg_error err;
    kg_graph *g;
    kg_journal *j = open_loaded(m->data, &g);
    for (int i = 1; i <= 3; i++) {
        kg_batch *b = big_batch(i);
        assert_int_equal(kg_journal_append(j, b, NULL, &err), 0);
        assert_int_equal(kg_journal_sync(j, &err), 0);
        kg_batch_destroy(&b);
    }
    /* Linux refuses to remount a file system read-only while a file on it
     * is open for writing (EBUSY), so the read-only case a daemon meets is
     * at start: a data directory it cannot write (a read-only mount, a
     * unit without ReadWritePaths). It must refuse with the reason. */
    kg_journal_destroy(&j);
    if (remount(m, true) != 0)
        fail_msg("remount ro: %s", strerror(errno));
    j = kg_journal_open(m->data, NULL, &err);
    assert_null(j);
    assert_int_equal(err.code, KG_EIO);
    assert_non_null(strstr(err.message, "Read-only file system"));
    /* an offline reader (kg snapshot --data) still gets everything */
    tj_assert_dir_holds(m->data, 3);
    kg_batch *b = big_batch(4);

    /* writable again: start, append, all there */
    if (remount(m, false) != 0)
        fail_msg("remount rw: %s", strerror(errno));
    kg_graph_destroy(&g);
    j = open_loaded(m->data, &g);
    assert_int_equal(kg_journal_append(j, b, NULL, &err), 0);
    assert_int_equal(kg_journal_sync(j, &err), 0);
    kg_batch_destroy(&b);
    kg_journal_destroy(&j);
    kg_graph_destroy(&g);
    tj_assert_dir_holds(m->data, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_disk, mount_small_tmpfs,
                                        unmount_tmpfs),
        cmocka_unit_test_setup_teardown(test_read_only_fs, mount_small_tmpfs,
                                        unmount_tmpfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
