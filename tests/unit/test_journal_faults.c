/* test_journal_faults.c - the journal on a disk whose fsync fails: a
 * failed kg_journal_sync cuts the records since the last good sync and
 * gives their sequence numbers back (also when a snapshot came in
 * between); a failed kg_journal_tick (policy interval) cuts nothing, and
 * kg_journal_flush reports a failure.
 *
 * The disk is tests/integration/faultfs.py, a passthrough FUSE file system
 * whose fsync fails while a control file says so, run with Debian's
 * python3 and python3-fusepy (scripts/install-deps). Tests run as root (in
 * CI too); without /dev/fuse or fusepy the setup fails, with a message,
 * rather than skipping. Every mount is undone in the teardown, which
 * cmocka runs even when an assertion fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kg/change.h"
#include "kg/graph.h"
#include "kg/journal.h"

#include "test_journal_util.h"

#define FAULTFS KG_TEST_SOURCE_DIR "/tests/integration/faultfs.py"

typedef struct fmount {
    char root[64];
    char mnt[128], backing[128], control[128];
    char data[160];  /* the data directory, through the mount */
    char under[160]; /* the same directory underneath */
    pid_t pid;
} fmount;

static bool is_mounted(const char *dir)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return false;
    char line[4096], mp[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
                strcmp(mp, dir) == 0;
    fclose(f);
    return found;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Remove dir/sub and the files in it (no deeper directories). */
static void rm_flat(const char *dir, const char *sub)
{
    char d[4096], p[8192];
    snprintf(d, sizeof d, "%s%s%s", dir, *sub ? "/" : "", sub);
    DIR *dp = opendir(d);
    if (dp) {
        struct dirent *de;
        while ((de = readdir(dp)) != NULL) {
            snprintf(p, sizeof p, "%s/%s", d, de->d_name);
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlink(p);
        }
        closedir(dp);
    }
    rmdir(d);
}

static int unmount_faultfs(void **state)
{
    fmount *m = *state;
    if (!m)
        return 0;
    if (m->pid > 0) {
        if (is_mounted(m->mnt) && umount2(m->mnt, 0) != 0)
            umount2(m->mnt, MNT_DETACH);
        int status;
        int i = 0;
        while (waitpid(m->pid, &status, WNOHANG) == 0) {
            if (++i == 1000) { /* 10 s */
                kill(m->pid, SIGKILL);
                waitpid(m->pid, &status, 0);
                break;
            }
            sleep_ms(10);
        }
        if (is_mounted(m->mnt)) /* killed before it could unmount */
            umount2(m->mnt, MNT_DETACH);
    }
    if (!is_mounted(m->mnt)) {
        static const char *const subs[] = { "backing/data", "backing",
                                            "control", "mnt", "" };
        for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
            rm_flat(m->root, subs[i]);
    }
    free(m);
    *state = NULL;
    return 0;
}

static int mount_faultfs(void **state)
{
    if (access("/dev/fuse", F_OK) != 0) {
        /* Not skipped: these checks are the point of the file. */
        fprintf(stderr, "test_journal_faults: /dev/fuse is missing: these "
                "tests need FUSE (in a container: --device /dev/fuse "
                "--cap-add SYS_ADMIN)\n");
        return -1;
    }
    fmount *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    snprintf(m->root, sizeof m->root, "/tmp/kg-faultfs-XXXXXX");
    if (!mkdtemp(m->root)) {
        free(m);
        return -1;
    }
    snprintf(m->mnt, sizeof m->mnt, "%s/mnt", m->root);
    snprintf(m->backing, sizeof m->backing, "%s/backing", m->root);
    snprintf(m->control, sizeof m->control, "%s/control", m->root);
    snprintf(m->data, sizeof m->data, "%s/data", m->mnt);
    snprintf(m->under, sizeof m->under, "%s/data", m->backing);
    *state = m;
    if (mkdir(m->mnt, 0700) || mkdir(m->backing, 0700) || mkdir(m->control, 0700))
        return -1;
    m->pid = fork();
    if (m->pid < 0)
        return -1;
    if (m->pid == 0) {
        execl("/usr/bin/python3", "python3", FAULTFS, m->backing, m->mnt,
              m->control, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 2000 && !is_mounted(m->mnt); i++) {
        int status;
        if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
            fprintf(stderr, "test_journal_faults: %s exited (status %d) "
                    "without mounting %s: it needs /dev/fuse, Debian's "
                    "python3-fusepy (scripts/install-deps) and root\n",
                    FAULTFS, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                    m->mnt);
            m->pid = 0;
            unmount_faultfs(state);
            return -1;
        }
        sleep_ms(10);
    }
    if (!is_mounted(m->mnt)) {
        fprintf(stderr, "test_journal_faults: %s not mounted after 20 s\n",
                m->mnt);
        unmount_faultfs(state);
        return -1;
    }
    return 0;
}

/* Make fsync of the journal files fail with EIO (on) or work (off). */
static void fail_fsync(const fmount *m, bool on)
{
    char p[256];
    snprintf(p, sizeof p, "%s/fail-fsync", m->control);
    if (on) {
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("EIO journal-*.kgj\n", f);
        fclose(f);
    } else {
        assert_int_equal(unlink(p), 0);
    }
}

/* Batch i: entity B<i> and one relation from it. */
static kg_batch *batch(int i)
{
    kg_batch *b = kg_batch_new();
    assert_non_null(b);
    char id[32];
    snprintf(id, sizeof id, "B%d", i);
    kg_entity_spec e = { id, "thing", NULL, 0, NULL, 0 };
    assert_int_equal(kg_batch_add_entity(b, &e, 0), 0);
    kg_relation_spec r = { id, "rel", "hub", NULL, 0, NULL, 0 };
    assert_int_equal(kg_batch_add_relation(b, &r, 0), 0);
    return b;
}

static uint64_t append(kg_journal *j, int i)
{
    kg_batch *b = batch(i);
    kg_error err;
    uint64_t seq = 0;
    if (kg_journal_append(j, b, &seq, &err) != 0)
        fail_msg("append %d: %s", i, err.message);
    kg_batch_destroy(&b);
    return seq;
}

static kg_journal *open_loaded(const char *dir, kg_fsync_policy policy)
{
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.fsync = policy;
    o.fsync_interval_ms = 100;
    kg_error err;
    kg_journal *j = kg_journal_open(dir, &o, &err);
    if (!j)
        fail_msg("open: %s", err.message);
    kg_graph *g = kg_graph_new();
    if (kg_journal_load(j, g, NULL, NULL, &err) != 0)
        fail_msg("load: %s", err.message);
    kg_graph_destroy(&g);
    return j;
}

static long size_under(const fmount *m, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", m->under, name);
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void test_failed_sync_cuts_and_gives_back_seqs(void **state)
{
    fmount *m = *state;
    kg_error err;
    kg_journal *j = open_loaded(m->data, KG_FSYNC_ALWAYS);
    assert_int_equal(append(j, 1), 1);
    assert_int_equal(append(j, 2), 2);
    assert_int_equal(kg_journal_sync(j, &err), 0);
    uint64_t good = kg_journal_bytes(j);

    assert_int_equal(append(j, 3), 3);
    assert_int_equal(append(j, 4), 4);
    fail_fsync(m, true);
    assert_int_equal(kg_journal_sync(j, &err), KG_EIO);
    assert_non_null(strstr(err.message, "journal-0000000000000000.kgj: fsync "
                           "failed: Input/output error"));
    fail_fsync(m, false);
    assert_true(kg_journal_sync_needs_rebuild(j));
    /* cut on disk and in the numbering: 3 and 4 never happened */
    assert_int_equal(kg_journal_bytes(j), good);
    assert_int_equal(size_under(m, "journal-0000000000000000.kgj"), (long)good);
    assert_int_equal(kg_journal_seq(j), 2);

    /* the rebuild: a reload sees 1 and 2 */
    kg_graph *g = kg_graph_new();
    assert_int_equal(kg_journal_load(j, g, NULL, NULL, &err), 0);
    assert_false(kg_journal_sync_needs_rebuild(j));
    tj_assert_batches(g, "B", 2);
    kg_graph_destroy(&g);

    assert_int_equal(append(j, 3), 3);
    assert_int_equal(kg_journal_sync(j, &err), 0);
    kg_journal_destroy(&j);
    tj_assert_dir_holds(m->data, 3);
    j = open_loaded(m->data, KG_FSYNC_ALWAYS);
    assert_int_equal(append(j, 4), 4);
    kg_journal_destroy(&j);
    tj_assert_dir_holds(m->data, 4);
}

/* A snapshot between an append and a failed sync holds that append durably:
 * the numbers given back stop at the snapshot's. */
static void test_failed_sync_after_a_snapshot(void **state)
{
    fmount *m = *state;
    kg_error err;
    kg_journal *j = open_loaded(m->data, KG_FSYNC_ALWAYS);
    kg_graph *g = kg_graph_new();
    for (int i = 1; i <= 2; i++) {
        kg_batch *b = batch(i);
        assert_int_equal(kg_journal_append(j, b, NULL, &err), 0);
        assert_int_equal(kg_graph_apply(g, b, &err), 0);
        kg_batch_destroy(&b);
        if (i == 1)
            assert_int_equal(kg_journal_sync(j, &err), 0);
    }
    /* 2 is not synced; the snapshot takes it */
    kg_snapshot_info info;
    assert_int_equal(kg_journal_snapshot(j, NULL, g, &info, &err), 0);
    assert_int_equal(info.seq, 2);
    kg_graph_destroy(&g);
    assert_int_equal(append(j, 3), 3);
    fail_fsync(m, true);
    assert_int_equal(kg_journal_sync(j, &err), KG_EIO);
    fail_fsync(m, false);
    assert_int_equal(kg_journal_seq(j), 2);
    assert_int_equal(append(j, 3), 3);
    assert_int_equal(kg_journal_sync(j, &err), 0);
    kg_journal_destroy(&j);
    tj_assert_dir_holds(m->data, 3);
}

/* Under `interval` the records were acknowledged before their flush: a
 * failed flush cuts nothing, and the next tick tries again. */
static void test_failed_tick_cuts_nothing(void **state)
{
    fmount *m = *state;
    kg_error err;
    kg_journal *j = open_loaded(m->data, KG_FSYNC_INTERVAL);
    assert_int_equal(kg_journal_tick(j, 1000, &err), 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(append(j, i), (uint64_t)i);
        assert_int_equal(kg_journal_sync(j, &err), 0); /* no fsync here */
    }
    uint64_t bytes = kg_journal_bytes(j);
    fail_fsync(m, true);
    assert_int_equal(kg_journal_tick(j, 1050, &err), 0); /* not due yet */
    assert_int_equal(kg_journal_tick(j, 1100, &err), KG_EIO);
    assert_non_null(strstr(err.message, "fsync failed: Input/output error"));
    assert_int_equal(kg_journal_bytes(j), bytes);
    assert_int_equal(size_under(m, "journal-0000000000000000.kgj"), (long)bytes);
    assert_int_equal(kg_journal_seq(j), 3);
    assert_int_equal(kg_journal_tick(j, 1200, &err), KG_EIO); /* still failing */
    /* the flush of a clean stop reports it too */
    assert_int_equal(kg_journal_flush(j, &err), KG_EIO);
    assert_non_null(strstr(err.message, "fsync failed: Input/output error"));
    fail_fsync(m, false);
    assert_int_equal(kg_journal_tick(j, 1300, &err), 0);
    assert_int_equal(append(j, 4), 4);
    assert_int_equal(kg_journal_flush(j, &err), 0);
    kg_journal_destroy(&j);
    tj_assert_dir_holds(m->data, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_sync_cuts_and_gives_back_seqs,
                                        mount_faultfs, unmount_faultfs),
        cmocka_unit_test_setup_teardown(test_failed_sync_after_a_snapshot,
                                        mount_faultfs, unmount_faultfs),
        cmocka_unit_test_setup_teardown(test_failed_tick_cuts_nothing,
                                        mount_faultfs, unmount_faultfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
