/* journal.c - the append-only journal of a data directory and its
 * recovery (see kg/journal.h and docs/operations.md).
 *
 * Journal file, format version 1:
 *
 *     header (32 bytes): "KGJOURNL", u32 version, u32 header size (32),
 *                        u64 base seq, u32 reserved (0), u32 CRC32C of
 *                        the 28 bytes before it
 *     records:           u32 CRC32C of everything after it in the record,
 *                        u32 payload length, u64 seq, payload (codec.c)
 *
 * Like Redis's AOF, a bad record is forgiven only at the very end, where a
 * crash can leave one: when a record is torn or fails its checksum, the
 * rest of the file is searched for any valid record; none means a torn
 * tail (cut off, warn), one means corruption in the middle (refuse, or
 * with repair cut there and keep a copy of the original).
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JHDR_SIZE 32u
#define JREC_HDR 16u
#define JVERSION 1u
static const char jmagic[8] = { 'K', 'G', 'J', 'O', 'U', 'R', 'N', 'L' };

struct kg_journal {
    char *dir;
    kg_journal_options o;
    int lock_fd;
    int fd;              /* current journal, -1 until loaded */
    char *path;          /* its path */
    uint64_t base;       /* its base seq */
    uint64_t off;        /* end of the last good record */
    uint64_t synced;     /* offset known durable (policy always) */
    uint64_t seq;        /* last seq written */
    uint64_t synced_seq; /* last seq at offset synced */
    uint64_t snap_seq;   /* newest snapshot's seq */
    bool have_snap;
    bool loaded;
    bool needs_rebuild;
    bool dirty;          /* appended since the last fdatasync */
    bool vanished;       /* the journal file was removed under us */
    uint64_t last_sync_ms;
    jbuf buf;
};

/* ---- small things -------------------------------------------------------- */

int kg_fsync_policy_from_name(const char *name, kg_fsync_policy *out)
{
    static const char *const names[] = { "always", "interval", "none" };
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (kg_fsync_policy)i;
            return 0;
        }
    }
    return KG_EINVAL;
}

const char *kg_fsync_policy_name(kg_fsync_policy p)
{
    switch (p) {
    case KG_FSYNC_ALWAYS: return "always";
    case KG_FSYNC_INTERVAL: return "interval";
    case KG_FSYNC_NONE: return "none";
    }
    return "unknown";
}

void kg_journal_options_init(kg_journal_options *o)
{
    memset(o, 0, sizeof *o);
    o->fsync = KG_FSYNC_ALWAYS;
    o->fsync_interval_ms = 1000;
    o->snapshot_journal_bytes = 64u * 1024u * 1024u;
}

/* FNV-1a 64 over each path and its bytes: a cheap identity for "the base
 * files are the ones the snapshot was taken against". */
uint64_t kg_fingerprint_files(const char *const *paths, size_t n,
                              kg_error *err)
{
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[65536];
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f) {
            kg_error_set(err, KG_EIO, "%s: %s", paths[i], strerror(errno));
            return 0;
        }
        for (const char *s = paths[i];; s++) {
            h = (h ^ (unsigned char)*s) * 1099511628211ull;
            if (!*s)
                break;
        }
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0)
            for (size_t k = 0; k < got; k++)
                h = (h ^ buf[k]) * 1099511628211ull;
        bool bad = ferror(f);
        fclose(f);
        if (bad) {
            kg_error_set(err, KG_EIO, "%s: read failed", paths[i]);
            return 0;
        }
    }
    return h ? h : 1;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static char *seq_path(const char *dir, const char *prefix, uint64_t seq,
                      const char *ext)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%016" PRIx64 "%s", prefix, seq, ext);
    return path_join(dir, name);
}

/* Parse "PREFIX-<16 hex>EXT" exactly. */
static bool parse_seq_name(const char *name, const char *prefix,
                           const char *ext, uint64_t *seq)
{
    size_t pl = strlen(prefix), el = strlen(ext);
    if (strlen(name) != pl + 1 + 16 + el || strncmp(name, prefix, pl) != 0 ||
        name[pl] != '-' || strcmp(name + pl + 17, ext) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < 16; i++) {
        char c = name[pl + 1 + i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return true;
}

/* ---- directory listing --------------------------------------------------- */

typedef struct seqlist {
    uint64_t *v;
    size_t n, cap;
} seqlist;

static int seqlist_add(seqlist *l, uint64_t s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        uint64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return KG_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct dirlist {
    seqlist journals, snapshots;
} dirlist;

static void dirlist_free(dirlist *d)
{
    free(d->journals.v);
    free(d->snapshots.v);
    memset(d, 0, sizeof *d);
}

/* List journal and snapshot files; remove leftover temporary files
 * (unless read-only) with a warning: a crash while writing one leaves it,
 * and it was never renamed into place, so it holds nothing acknowledged. */
static int list_dir(kg_journal *j, dirlist *d, bool cleanup,
                    kg_journal_warn_fn warn, void *ctx, kg_error *err)
{
    memset(d, 0, sizeof *d);
    DIR *dp = opendir(j->dir);
    if (!dp)
        return kg_error_set(err, KG_EIO, "%s: %s", j->dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(dp)) != NULL) {
        uint64_t s;
        size_t nl = strlen(de->d_name);
        if (parse_seq_name(de->d_name, "journal", ".kgj", &s))
            rc = seqlist_add(&d->journals, s);
        else if (parse_seq_name(de->d_name, "snapshot", ".kgs", &s))
            rc = seqlist_add(&d->snapshots, s);
        else if (cleanup && nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0 &&
                 (strncmp(de->d_name, "journal-", 8) == 0 ||
                  strncmp(de->d_name, "snapshot-", 9) == 0)) {
            char *p = path_join(j->dir, de->d_name);
            if (!p) {
                rc = KG_ENOMEM;
                break;
            }
            if (unlink(p) == 0)
                jwarn(warn, ctx, "%s: removed an unfinished temporary file "
                      "(left by a crash)", p);
            free(p);
        }
    }
    closedir(dp);
    if (rc) {
        dirlist_free(d);
        return kg_error_set(err, rc, "out of memory");
    }
    if (d->journals.n > 1)
        qsort(d->journals.v, d->journals.n, sizeof(uint64_t), u64_cmp);
    if (d->snapshots.n > 1)
        qsort(d->snapshots.v, d->snapshots.n, sizeof(uint64_t), u64_cmp);
    return 0;
}

/* ---- open/close ---------------------------------------------------------- */

kg_journal *kg_journal_open(const char *dir, const kg_journal_options *opts,
                            kg_error *err)
{
    if (!dir || !*dir) {
        kg_error_set(err, KG_EINVAL, "no data directory given");
        return NULL;
    }
    kg_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->dir = strdup(dir))) {
        free(j);
        kg_error_set(err, KG_ENOMEM, "out of memory");
        return NULL;
    }
    if (opts)
        j->o = *opts;
    else
        kg_journal_options_init(&j->o);
    if (j->o.fsync_interval_ms == 0)
        j->o.fsync_interval_ms = 1000;
    j->fd = -1;
    j->lock_fd = -1;
    if (!j->o.read_only) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            kg_error_set(err, KG_EIO, "%s: cannot create data directory: %s",
                         dir, strerror(errno));
            goto fail;
        }
        char *lp = path_join(dir, "kgd.lock");
        if (!lp) {
            kg_error_set(err, KG_ENOMEM, "out of memory");
            goto fail;
        }
        j->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (j->lock_fd < 0) {
            kg_error_set(err, KG_EIO, "%s: %s", lp, strerror(errno));
            free(lp);
            goto fail;
        }
        if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            kg_error_set(err, e == EWOULDBLOCK ? KG_EBUSY : KG_EIO,
                         "%s: %s", lp,
                         e == EWOULDBLOCK ? "data directory in use by another "
                         "process" : strerror(e));
            free(lp);
            goto fail;
        }
        free(lp);
    } else {
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            kg_error_set(err, KG_EIO, "%s: not a data directory", dir);
            goto fail;
        }
    }
    return j;
fail:
    kg_journal_destroy(&j);
    return NULL;
}

void kg_journal_destroy(kg_journal **jp)
{
    if (!jp || !*jp)
        return;
    kg_journal *j = *jp;
    if (j->fd >= 0) {
        /* A clean stop flushes under every policy: "none" trades the
         * durability of a running daemon, not of one that was asked to
         * stop. */
        if (j->dirty)
            (void)fdatasync(j->fd);
        close(j->fd);
    }
    if (j->lock_fd >= 0)
        close(j->lock_fd); /* releases the flock */
    jbuf_free(&j->buf);
    free(j->path);
    free(j->dir);
    free(j);
    *jp = NULL;
}

/* ---- reading a journal file ---------------------------------------------- */

typedef struct mapped {
    const unsigned char *p;
    size_t len;
    void *map;
} mapped;

static int map_file(const char *path, mapped *m, kg_error *err)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(e));
    }
    if (st.st_size > 0) {
        if ((uint64_t)st.st_size > SIZE_MAX) {
            close(fd);
            return kg_error_set(err, KG_ELIMIT, "%s: too large", path);
        }
        m->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m->map == MAP_FAILED) {
            int e = errno;
            m->map = NULL;
            close(fd);
            return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(e));
        }
        m->p = m->map;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

static void unmap_file(mapped *m)
{
    if (m->map)
        munmap(m->map, m->len);
    memset(m, 0, sizeof *m);
}

static void make_header(unsigned char h[JHDR_SIZE], uint64_t base)
{
    memset(h, 0, JHDR_SIZE);
    memcpy(h, jmagic, 8);
    put_u32le(h + 8, JVERSION);
    put_u32le(h + 12, JHDR_SIZE);
    put_u64le(h + 16, base);
    put_u32le(h + 28, kg_crc32c(0, h, 28));
}

/* Is there a valid record at off whose seq is after prev? */
static bool record_at(const mapped *m, size_t off, uint64_t prev,
                      uint32_t *plen, uint64_t *pseq)
{
    if (m->len < off || m->len - off < JREC_HDR)
        return false;
    const unsigned char *r = m->p + off;
    uint32_t len = get_u32le(r + 4);
    uint64_t seq = get_u64le(r + 8);
    if (len > KG_JOURNAL_RECORD_MAX || len > m->len - off - JREC_HDR ||
        seq <= prev)
        return false;
    if (kg_crc32c(0, r + 4, 12 + (size_t)len) != get_u32le(r))
        return false;
    *plen = len;
    *pseq = seq;
    return true;
}

/* After a bad record at off: does any valid record follow? Candidates are
 * filtered on a plausible seq before the checksum is computed, so the
 * search costs little even in a large file. */
static bool valid_record_after(const mapped *m, size_t off, uint64_t prev)
{
    for (size_t p = off + 1; m->len >= JREC_HDR && p <= m->len - JREC_HDR;
         p++) {
        uint64_t seq = get_u64le(m->p + p + 8);
        if (seq <= prev || seq - prev > (1ull << 32))
            continue;
        uint32_t len;
        uint64_t s;
        if (record_at(m, p, prev, &len, &s))
            return true;
    }
    return false;
}

typedef enum scan_end {
    SCAN_CLEAN,   /* every byte is a valid record */
    SCAN_TORN,    /* bad bytes at bad_off, nothing valid after */
    SCAN_CORRUPT, /* bad record at bad_off, valid ones after */
    SCAN_BADHDR   /* header missing or wrong */
} scan_end;

typedef struct scan_result {
    scan_end end;
    size_t good_end;  /* offset after the last good record */
    size_t bad_off;
    uint64_t last_seq;
    uint64_t base;
    size_t records;
} scan_result;

/* Read one journal file: check the header, decode every record with seq >
 * skip_upto and apply it to g (g NULL: just scan). Stops at the first bad
 * record and classifies what follows. limit caps the bytes looked at (a
 * reload reads only what this process wrote). */
static int scan_journal(const char *path, const mapped *m, size_t limit,
                        uint64_t skip_upto, kg_graph *g, kg_batch *batch,
                        kg_journal_warn_fn warn, void *ctx,
                        scan_result *res, kg_error *err)
{
    memset(res, 0, sizeof *res);
    mapped v = *m;
    if (v.len > limit)
        v.len = limit;
    if (v.len < JHDR_SIZE || memcmp(v.p, jmagic, 8) != 0 ||
        get_u32le(v.p + 28) != kg_crc32c(0, v.p, 28)) {
        res->end = SCAN_BADHDR;
        return 0;
    }
    uint32_t version = get_u32le(v.p + 8);
    if (version != JVERSION)
        return kg_error_set(err, KG_EUNSUPPORTED,
                            "%s: journal format version %u is not known to "
                            "this kgd (it reads version %u)", path, version,
                            JVERSION);
    uint32_t hsize = get_u32le(v.p + 12);
    if (hsize != JHDR_SIZE) {
        res->end = SCAN_BADHDR;
        return 0;
    }
    res->base = get_u64le(v.p + 16);
    uint64_t prev = res->base;
    size_t off = JHDR_SIZE;
    char where[4200];
    while (off < v.len) {
        uint32_t len;
        uint64_t seq;
        bool ok = record_at(&v, off, prev, &len, &seq);
        if (ok && seq > skip_upto && g) {
            int rc = jcodec_decode_batch(v.p + off + JREC_HDR, len, batch);
            if (rc == KG_ENOMEM)
                return kg_error_set(err, rc, "out of memory");
            if (rc < 0) {
                ok = false; /* checksum fine, contents not: still bad */
            } else {
                snprintf(where, sizeof where, "%s: offset %zu (seq %" PRIu64
                         ")", path, off, seq);
                if (japply_lenient(g, batch, where, warn, ctx) < 0)
                    return kg_error_set(err, KG_ENOMEM, "out of memory");
            }
        }
        if (!ok) {
            res->bad_off = off;
            res->end = valid_record_after(&v, off, prev) ? SCAN_CORRUPT
                                                         : SCAN_TORN;
            res->good_end = off;
            res->last_seq = prev;
            return 0;
        }
        prev = seq;
        res->records++;
        off += JREC_HDR + len;
    }
    res->end = SCAN_CLEAN;
    res->good_end = off;
    res->last_seq = prev;
    return 0;
}

/* ---- creating, cutting, copying ------------------------------------------ */

/* Write a fresh journal file with base seq durably: temporary file, fsync,
 * rename, directory fsync. */
static int create_journal(kg_journal *j, uint64_t base, kg_error *err)
{
    char *path = seq_path(j->dir, "journal", base, ".kgj");
    char *tmp = seq_path(j->dir, "journal", base, ".kgj.tmp");
    int rc = 0;
    if (!path || !tmp) {
        rc = kg_error_set(err, KG_ENOMEM, "out of memory");
        goto out;
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = kg_error_set(err, KG_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    unsigned char h[JHDR_SIZE];
    make_header(h, base);
    int e = jpwrite_all(fd, h, sizeof h, 0);
    if (e == 0 && fsync(fd) < 0)
        e = -errno;
    close(fd);
    if (e == 0 && rename(tmp, path) < 0)
        e = -errno;
    if (e == 0)
        e = jfsync_dir(j->dir);
    if (e) {
        unlink(tmp);
        rc = kg_error_set(err, KG_EIO, "%s: cannot create journal: %s", path,
                          strerror(-e));
    }
out:
    free(path);
    free(tmp);
    return rc;
}

static int cut_file(const char *path, uint64_t at, kg_error *err)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(errno));
    int e = 0;
    if (ftruncate(fd, (off_t)at) < 0 || fsync(fd) < 0)
        e = errno;
    close(fd);
    if (e)
        return kg_error_set(err, KG_EIO, "%s: cannot truncate at offset %" PRIu64
                            ": %s", path, at, strerror(e));
    return 0;
}

/* Copy path to DIR/journal.corrupt-<YYYYmmddTHHMMSS>[-N], durably; the
 * chosen name goes to out. */
static int keep_copy(kg_journal *j, const char *path, const mapped *m,
                     char *out, size_t outsz, kg_error *err)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {
        if (i == 0)
            snprintf(out, outsz, "%s/journal.corrupt-%s", j->dir, stamp);
        else
            snprintf(out, outsz, "%s/journal.corrupt-%s-%d", j->dir, stamp, i);
        fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0)
        return kg_error_set(err, KG_EIO, "%s: cannot keep a copy of %s: %s",
                            out, path, strerror(errno));
    int e = jpwrite_all(fd, m->p, m->len, 0);
    if (e == 0 && fsync(fd) < 0)
        e = -errno;
    close(fd);
    if (e == 0)
        e = jfsync_dir(j->dir);
    if (e)
        return kg_error_set(err, KG_EIO, "%s: %s", out, strerror(-e));
    return 0;
}

/* ---- load / recovery ----------------------------------------------------- */

static int open_for_append(kg_journal *j, uint64_t base, uint64_t end,
                           kg_error *err)
{
    char *path = seq_path(j->dir, "journal", base, ".kgj");
    if (!path)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int rc = kg_error_set(err, KG_EIO, "%s: %s", path, strerror(e));
        free(path);
        return rc;
    }
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    j->fd = fd;
    j->path = path;
    j->base = base;
    j->off = j->synced = end;
    j->dirty = false;
    j->vanished = false;
    return 0;
}

static void remove_file(kg_journal *j, uint64_t seq, bool journal,
                        const char *why, kg_journal_warn_fn warn, void *ctx)
{
    char *p = journal ? seq_path(j->dir, "journal", seq, ".kgj")
                      : seq_path(j->dir, "snapshot", seq, ".kgs");
    if (p && unlink(p) == 0 && why)
        jwarn(warn, ctx, "%s: removed (%s)", p, why);
    free(p);
}

/* First load: the recovery described in kg/journal.h. */
static int recover(kg_journal *j, kg_graph *g, kg_journal_warn_fn warn,
                   void *ctx, kg_error *err)
{
    bool rw = !j->o.read_only;
    dirlist d;
    int rc = list_dir(j, &d, rw, warn, ctx, err);
    if (rc)
        return rc;
    kg_batch *batch = kg_batch_new();
    if (!batch) {
        dirlist_free(&d);
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    }

    /* 1. The newest snapshot. A broken one is not skipped for an older
     * one: the journals that led up to it are gone, so falling back would
     * silently lose changes. */
    uint64_t S = 0;
    if (d.snapshots.n) {
        S = d.snapshots.v[d.snapshots.n - 1];
        char *sp = seq_path(j->dir, "snapshot", S, ".kgs");
        if (!sp) {
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
            goto out;
        }
        kg_snapshot_info info;
        rc = kg_snapshot_load_file(sp, g, &info, warn, ctx, err);
        free(sp);
        if (rc)
            goto out;
        if (info.seq != S) {
            rc = kg_error_set(err, KG_ECORRUPT, "%s: snapshot file name says "
                              "seq %" PRIu64 ", contents say %" PRIu64,
                              info.path, S, info.seq);
            goto out;
        }
        if (j->o.base_fingerprint && info.base_fingerprint &&
            info.base_fingerprint != j->o.base_fingerprint)
            jwarn(warn, ctx, "%s: the base graph files changed since this "
                  "snapshot; the client changes are applied on top of the "
                  "new base", info.path);
        j->have_snap = true;
    }
    j->snap_seq = S;

    /* 2. The journal to start from: the newest one whose base <= S. Older
     * ones are covered by the snapshot (a crash during a snapshot leaves
     * them). One whose base > S means a snapshot went missing. */
    size_t first = d.journals.n;
    for (size_t i = 0; i < d.journals.n; i++)
        if (d.journals.v[i] <= S)
            first = i;
    if (d.journals.n && first == d.journals.n) {
        rc = kg_error_set(err, KG_ECORRUPT, "%s: journal-%016" PRIx64
                          ".kgj starts after seq %" PRIu64 " but there is no "
                          "snapshot-%016" PRIx64 ".kgs: changes are missing",
                          j->dir, d.journals.v[0], S, d.journals.v[0]);
        goto out;
    }
    uint64_t last_seq = S, cur_base = S, cur_end = 0;
    bool have_cur = false;
    for (size_t i = first; i < d.journals.n; i++) {
        uint64_t jb = d.journals.v[i];
        bool is_last = i + 1 == d.journals.n;
        char *jp = seq_path(j->dir, "journal", jb, ".kgj");
        mapped m;
        if (!jp) {
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
            goto out;
        }
        rc = map_file(jp, &m, err);
        scan_result sr;
        if (rc == 0)
            rc = scan_journal(jp, &m, SIZE_MAX, last_seq, g, batch, warn, ctx,
                              &sr, err);
        if (rc == 0 && sr.end == SCAN_BADHDR) {
            if (is_last && m.len <= JHDR_SIZE && rw) {
                /* A journal is created through a temporary file, so this
                 * needs a file system that lost the data of a rename;
                 * it held no records. */
                jwarn(warn, ctx, "%s: offset 0: incomplete header, journal "
                      "restarted", jp);
                unmap_file(&m);
                free(jp);
                if ((rc = create_journal(j, jb, err)) != 0)
                    goto out;
                cur_base = jb;
                cur_end = JHDR_SIZE;
                have_cur = true;
                break;
            }
            rc = kg_error_set(err, KG_ECORRUPT, "%s: offset 0: not a kgd "
                              "journal (bad header)", jp);
        } else if (rc == 0 && sr.base != jb) {
            rc = kg_error_set(err, KG_ECORRUPT, "%s: offset 16: header says "
                              "base seq %" PRIu64, jp, sr.base);
        }
        if (rc == 0 && sr.end == SCAN_TORN && !is_last)
            sr.end = SCAN_CORRUPT; /* a later file follows: not the tail */
        if (rc == 0 && sr.end == SCAN_TORN) {
            if (rw) {
                rc = cut_file(jp, sr.good_end, err);
                if (rc == 0)
                    jwarn(warn, ctx, "%s: offset %zu: torn or corrupt record "
                          "at the end (%zu bytes) truncated; the %zu records "
                          "before it are kept", jp, sr.bad_off,
                          m.len - sr.bad_off, sr.records);
            } else {
                jwarn(warn, ctx, "%s: offset %zu: torn record at the end "
                      "ignored", jp, sr.bad_off);
            }
        } else if (rc == 0 && sr.end == SCAN_CORRUPT) {
            if (!rw || !j->o.repair) {
                rc = kg_error_set(err, KG_ECORRUPT, "%s: offset %zu: corrupt "
                                  "record followed by valid records; refusing "
                                  "to start (kgd --repair cuts the journal "
                                  "there and keeps a copy)", jp, sr.bad_off);
            } else {
                char copy[4200];
                rc = keep_copy(j, jp, &m, copy, sizeof copy, err);
                if (rc == 0)
                    rc = cut_file(jp, sr.good_end, err);
                if (rc == 0) {
                    jwarn(warn, ctx, "%s: offset %zu: corrupt record; repaired "
                          "by cutting the journal there (%zu records before it "
                          "kept, everything after it dropped); the original is "
                          "kept as %s", jp, sr.bad_off, sr.records, copy);
                    /* Later files continue a history that is now cut: move
                     * them aside too. */
                    for (size_t k = i + 1; k < d.journals.n && rc == 0; k++) {
                        char *lp = seq_path(j->dir, "journal", d.journals.v[k],
                                            ".kgj");
                        mapped lm;
                        if (lp && map_file(lp, &lm, NULL) == 0) {
                            rc = keep_copy(j, lp, &lm, copy, sizeof copy, err);
                            unmap_file(&lm);
                            if (rc == 0 && unlink(lp) == 0)
                                jwarn(warn, ctx, "%s: moved aside as %s after "
                                      "the repair", lp, copy);
                        }
                        free(lp);
                    }
                    is_last = true;
                }
            }
        }
        unmap_file(&m);
        free(jp);
        if (rc)
            goto out;
        if (sr.last_seq > last_seq)
            last_seq = sr.last_seq;
        cur_base = jb;
        cur_end = sr.good_end;
        have_cur = true;
        if (is_last)
            break;
    }

    if (rw) {
        if (!have_cur) {
            if ((rc = create_journal(j, S, err)) != 0)
                goto out;
            cur_base = S;
            cur_end = JHDR_SIZE;
        }
        /* Files the snapshot covers: a crash during a snapshot leaves
         * them, and only now that the snapshot has loaded are they safe to
         * remove. */
        bool removed = false;
        for (size_t i = 0; i < d.journals.n; i++)
            if (d.journals.v[i] < cur_base) {
                remove_file(j, d.journals.v[i], true,
                            "covered by the newest snapshot", warn, ctx);
                removed = true;
            }
        for (size_t i = 0; i + 1 < d.snapshots.n; i++) {
            remove_file(j, d.snapshots.v[i], false,
                        "superseded by a newer snapshot", warn, ctx);
            removed = true;
        }
        if (removed)
            (void)jfsync_dir(j->dir);
        if ((rc = open_for_append(j, cur_base, cur_end, err)) != 0)
            goto out;
    } else {
        j->base = cur_base;
        j->off = cur_end;
    }
    j->seq = j->synced_seq = last_seq;
out:
    kg_batch_destroy(&batch);
    dirlist_free(&d);
    return rc;
}

/* Later loads (reload): read what this process owns, change nothing. */
static int reread(kg_journal *j, kg_graph *g, kg_journal_warn_fn warn,
                  void *ctx, kg_error *err)
{
    int rc = 0;
    if (j->have_snap) {
        char *sp = seq_path(j->dir, "snapshot", j->snap_seq, ".kgs");
        if (!sp)
            return kg_error_set(err, KG_ENOMEM, "out of memory");
        rc = kg_snapshot_load_file(sp, g, NULL, warn, ctx, err);
        free(sp);
        if (rc)
            return rc;
    }
    if (!j->path)
        return 0;
    kg_batch *batch = kg_batch_new();
    if (!batch)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    mapped m;
    rc = map_file(j->path, &m, err);
    if (rc == 0) {
        scan_result sr;
        rc = scan_journal(j->path, &m, (size_t)j->off, j->snap_seq, g, batch,
                          warn, ctx, &sr, err);
        if (rc == 0 && (sr.end != SCAN_CLEAN || sr.good_end != j->off))
            rc = kg_error_set(err, KG_ECORRUPT, "%s: offset %zu: the journal "
                              "changed under the running daemon", j->path,
                              sr.bad_off);
        unmap_file(&m);
    }
    kg_batch_destroy(&batch);
    return rc;
}

int kg_journal_load(kg_journal *j, kg_graph *g, kg_journal_warn_fn warn,
                    void *ctx, kg_error *err)
{
    if (!j || !g)
        return kg_error_set(err, KG_EINVAL, "kg_journal_load: no journal/graph");
    int rc = j->loaded ? reread(j, g, warn, ctx, err)
                       : recover(j, g, warn, ctx, err);
    if (rc == 0) {
        j->loaded = true;
        j->needs_rebuild = false;
    }
    return rc;
}

/* ---- appending ----------------------------------------------------------- */

/* The file we append to must still be the one in the directory: if an
 * operator (or a cleanup script) removed it, every write would land in an
 * orphaned inode and vanish at the next start. */
static int check_present(kg_journal *j, kg_error *err)
{
    struct stat st;
    if (!j->vanished && fstat(j->fd, &st) == 0 && st.st_nlink > 0)
        return 0;
    j->vanished = true;
    return kg_error_set(err, KG_EIO, "%s: the journal file was removed while "
                        "kgd was running; writes are refused (restart kgd: it "
                        "recovers from what is left in %s)", j->path, j->dir);
}

int kg_journal_append(kg_journal *j, const kg_batch *b, uint64_t *seq,
                      kg_error *err)
{
    if (!j || !b || !j->loaded || j->fd < 0)
        return kg_error_set(err, KG_EINVAL, "journal not loaded, or read-only");
    int rc = check_present(j, err);
    if (rc)
        return rc;
    j->buf.len = 0;
    j->buf.oom = false;
    jbuf_reserve(&j->buf, JREC_HDR);
    j->buf.len = JREC_HDR;
    rc = jcodec_encode_batch(&j->buf, b);
    if (rc == 0 && j->buf.oom)
        rc = KG_ENOMEM;
    if (rc)
        return kg_error_set(err, rc, "cannot encode the change record");
    size_t plen = j->buf.len - JREC_HDR;
    if (plen > KG_JOURNAL_RECORD_MAX)
        return kg_error_set(err, KG_ELIMIT, "change record of %zu bytes is "
                            "larger than the journal accepts (%u)", plen,
                            KG_JOURNAL_RECORD_MAX);
    uint64_t s = j->seq + 1;
    unsigned char *h = j->buf.p;
    put_u32le(h + 4, (uint32_t)plen);
    put_u64le(h + 8, s);
    put_u32le(h, kg_crc32c(0, h + 4, 12 + plen));
    int e = jpwrite_all(j->fd, j->buf.p, j->buf.len, j->off);
    if (e) {
        /* Cut any partial record so the next append starts clean. If even
         * that fails, the next append will retry the cut before writing
         * (pwrite at j->off overwrites the partial bytes anyway). */
        (void)!ftruncate(j->fd, (off_t)j->off);
        return kg_error_set(err, KG_EIO, "%s: offset %" PRIu64 ": cannot "
                            "write the change record: %s", j->path, j->off,
                            strerror(-e));
    }
    j->off += j->buf.len;
    j->seq = s;
    j->dirty = true;
    if (seq)
        *seq = s;
    return 0;
}

int kg_journal_sync(kg_journal *j, kg_error *err)
{
    if (!j || j->fd < 0)
        return kg_error_set(err, KG_EINVAL, "journal not loaded, or read-only");
    int rc = check_present(j, err);
    if (rc) {
        if (j->off > j->synced)
            j->needs_rebuild = true;
        return rc;
    }
    if (j->o.fsync != KG_FSYNC_ALWAYS || j->off == j->synced) {
        if (j->o.fsync != KG_FSYNC_ALWAYS) {
            j->synced = j->off;
            j->synced_seq = j->seq;
        }
        return 0;
    }
    if (fdatasync(j->fd) < 0) {
        int e = errno;
        /* After a failed fsync the kernel may have dropped the dirty pages
         * and forgotten the error; the records since the last good sync
         * are in doubt. Cut them so the disk never holds a change the
         * client was told failed. */
        (void)!ftruncate(j->fd, (off_t)j->synced);
        (void)fdatasync(j->fd);
        j->off = j->synced;
        /* Their numbers go too: they were never acknowledged nor
         * published, and a restart would hand them out again anyway. */
        j->seq = j->synced_seq;
        j->needs_rebuild = true;
        return kg_error_set(err, KG_EIO, "%s: fsync failed: %s; the changes "
                            "since the last sync were not saved", j->path,
                            strerror(e));
    }
    j->synced = j->off;
    j->synced_seq = j->seq;
    j->dirty = false;
    return 0;
}

bool kg_journal_sync_needs_rebuild(const kg_journal *j)
{
    return j && j->needs_rebuild;
}

int kg_journal_tick(kg_journal *j, uint64_t now_ms, kg_error *err)
{
    if (!j || j->fd < 0 || j->o.fsync != KG_FSYNC_INTERVAL)
        return 0;
    if (j->last_sync_ms == 0 || now_ms < j->last_sync_ms)
        j->last_sync_ms = now_ms;
    if (!j->dirty || now_ms - j->last_sync_ms < j->o.fsync_interval_ms)
        return 0;
    j->last_sync_ms = now_ms;
    int rc = check_present(j, err);
    if (rc)
        return rc;
    if (fdatasync(j->fd) < 0)
        return kg_error_set(err, KG_EIO, "%s: fsync failed: %s", j->path,
                            strerror(errno));
    j->dirty = false;
    return 0;
}

int kg_journal_flush(kg_journal *j, kg_error *err)
{
    if (!j || j->fd < 0 || !j->dirty)
        return 0;
    if (fdatasync(j->fd) < 0)
        return kg_error_set(err, KG_EIO, "%s: fsync failed: %s", j->path,
                            strerror(errno));
    j->dirty = false;
    return 0;
}

uint64_t kg_journal_seq(const kg_journal *j) { return j ? j->seq : 0; }
uint64_t kg_journal_snapshot_seq(const kg_journal *j)
{
    return j ? j->snap_seq : 0;
}
uint64_t kg_journal_bytes(const kg_journal *j) { return j ? j->off : 0; }
kg_fsync_policy kg_journal_fsync(const kg_journal *j)
{
    return j ? j->o.fsync : KG_FSYNC_ALWAYS;
}
const char *kg_journal_dir(const kg_journal *j) { return j ? j->dir : ""; }

void kg_journal_set_base_fingerprint(kg_journal *j, uint64_t fp)
{
    if (j)
        j->o.base_fingerprint = fp;
}

bool kg_journal_snapshot_due(const kg_journal *j)
{
    return j && j->fd >= 0 && j->o.snapshot_journal_bytes > 0 &&
           j->seq > j->snap_seq && j->off >= j->o.snapshot_journal_bytes;
}

/* ---- snapshots ----------------------------------------------------------- */

int kg_journal_snapshot(kg_journal *j, const kg_graph *base, const kg_graph *g,
                        kg_snapshot_info *info, kg_error *err)
{
    if (!j || !g || !j->loaded || j->fd < 0)
        return kg_error_set(err, KG_EINVAL, "journal not loaded, or read-only");
    uint64_t S = j->seq;
    char *sp = seq_path(j->dir, "snapshot", S, ".kgs");
    if (!sp)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    kg_snapshot_info local;
    if (!info)
        info = &local;
    int rc = kg_snapshot_write_file(sp, base, g, S, j->o.base_fingerprint,
                                    info, err);
    free(sp);
    if (rc)
        return rc;
    /* The snapshot is durable. Start the journal over; until the new file
     * exists the old one stays in use, and recovery skips its records up
     * to S, so a crash between any two steps loses nothing. */
    uint64_t old_snap = j->snap_seq;
    bool had_snap = j->have_snap;
    j->snap_seq = S;
    j->have_snap = true;
    if (j->base != S) {
        uint64_t old_base = j->base;
        rc = create_journal(j, S, err);
        if (rc == 0)
            rc = open_for_append(j, S, JHDR_SIZE, err);
        if (rc)
            return rc; /* old journal still current and consistent */
        remove_file(j, old_base, true, NULL, NULL, NULL);
    }
    j->synced_seq = S; /* durable in the snapshot, synced or not before */
    if (had_snap && old_snap != S)
        remove_file(j, old_snap, false, NULL, NULL, NULL);
    (void)jfsync_dir(j->dir);
    return 0;
}
