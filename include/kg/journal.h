/* kg/journal.h - the append-only journal and snapshots of a data directory.
 *
 * What is stored. The graph files named on the daemon's command line (or
 * in its configuration) are the *base*; the data directory holds only what
 * clients changed since: a snapshot of those changes, compacted, plus a
 * journal of the batches applied after it. The graph a daemon serves is
 *
 *     base files  +  snapshot (client changes up to seq S)  +  journal (> S)
 *
 * and both a restart and a reload (SIGHUP) rebuild it that way: load the
 * base files into a fresh graph, then kg_journal_load() into it. Editing a
 * base file therefore never loses a client change, and a client change is
 * never baked into a copy of an old base. See docs/operations.md.
 *
 * Files in the directory (NNNN = 16 hex digits of a sequence number):
 *     journal-NNNN.kgj   records with seq > NNNN (NNNN = snapshot seq)
 *     snapshot-NNNN.kgs  client changes up to and including seq NNNN
 *     kgd.lock           held (flock) by the process that owns the dir
 *
 * Durability. kg_journal_append() writes a record (length, seq, CRC32C,
 * payload) with write(2); kg_journal_sync() makes every record appended so
 * far durable according to the fsync policy. The server calls, for each
 * request: kg_graph_check -> kg_journal_append -> kg_graph_apply, and after
 * a run of requests that arrived together, one kg_journal_sync before it
 * sends their replies.
 *
 * Failure. A failed append (disk full, read-only file system, the journal
 * file removed) returns KG_EIO and leaves the journal as it was before the
 * call: the caller must not apply the batch and replies `io`; later appends
 * work again once space is freed. A failed kg_journal_sync returns KG_EIO
 * after cutting the journal back to the last successful sync: the batches
 * appended since were not acknowledged and are not on disk (their sequence
 * numbers go back too), so the caller must drop them from its graph too
 * (rebuild: base + kg_journal_load) - kg_journal_sync_needs_rebuild() says
 * so. A failed kg_journal_tick (policy interval) cuts nothing: those
 * batches were acknowledged already.
 *
 * The library never prints: recovery reports what it did through a
 * warning callback. Not thread-safe: one owner.
 */
#ifndef KG_JOURNAL_H
#define KG_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kg_fsync_policy {
    KG_FSYNC_ALWAYS = 0,   /* fdatasync before replies (default) */
    KG_FSYNC_INTERVAL = 1, /* fdatasync about every fsync_interval_ms */
    KG_FSYNC_NONE = 2      /* leave it to the kernel */
} kg_fsync_policy;

/* "always", "interval", "none" -> 0 and *out; KG_EINVAL otherwise. */
int kg_fsync_policy_from_name(const char *name, kg_fsync_policy *out);
const char *kg_fsync_policy_name(kg_fsync_policy p); /* static storage */

/* Largest record payload and snapshot section accepted when reading; larger
 * lengths are treated as corruption before anything is allocated. */
#define KG_JOURNAL_RECORD_MAX (64u * 1024u * 1024u)

typedef struct kg_journal_options {
    kg_fsync_policy fsync;          /* default KG_FSYNC_ALWAYS */
    unsigned fsync_interval_ms;     /* default 1000 (KG_FSYNC_INTERVAL) */
    uint64_t snapshot_journal_bytes; /* snapshot when the journal is this
                                        big (kg_journal_snapshot_due);
                                        0 = never automatically */
    bool repair;     /* cut the journal at a corrupt record (keeping a copy
                        journal.corrupt-<time>) instead of refusing */
    bool read_only;  /* inspect only: no lock, no create, no truncation,
                        no append (kg snapshot --data offline) */
    uint64_t base_fingerprint; /* of the base files (kg_fingerprint_files),
                                  stored in snapshots; 0 = not tracked */
} kg_journal_options;

/* Defaults: always, 1000 ms, 64 MiB, no repair, read-write, fingerprint 0. */
void kg_journal_options_init(kg_journal_options *o);

/* Receives one human-readable warning ("DIR/journal-...kgj: offset 123:
 * torn record at the end, truncated"). ctx is passed through. */
typedef void (*kg_journal_warn_fn)(void *ctx, const char *message);

typedef struct kg_journal kg_journal;

/* Open (creating if missing, mode 0700) and lock the data directory dir.
 * Reads nothing yet. NULL on error (KG_EBUSY: another process holds the
 * lock; KG_EIO: cannot create/open). Caller owns: kg_journal_destroy. */
kg_journal *kg_journal_open(const char *dir, const kg_journal_options *opts,
                            kg_error *err);
/* fdatasync what was appended (under every policy: a clean stop loses
 * nothing), close the files, release the lock; sets *j = NULL. */
void kg_journal_destroy(kg_journal **j);

/* Apply the client changes stored in the directory to g, which must hold
 * the base graph: the newest snapshot, then every journal record with a
 * greater seq, batch by batch. A change that no longer fits the base (it
 * removes something the base no longer has) is skipped with a warning.
 *
 * The first call recovers: a torn or corrupt tail of the newest journal
 * (nothing valid after it) is truncated with a warning naming the file and
 * offset; a corrupt record followed by valid ones fails with KG_ECORRUPT
 * naming file and offset, unless opts.repair (then the journal is cut
 * there, the original kept as journal.corrupt-<time>, and a warning says
 * so); leftover temporary files are removed; the journal is opened for
 * appending. A corrupt snapshot fails with KG_ECORRUPT. Later calls (a
 * reload) only read, and see everything appended since.
 * Returns 0 or a negative KG_E*; on error g may hold part of the changes. */
int kg_journal_load(kg_journal *j, kg_graph *g, kg_journal_warn_fn warn,
                    void *ctx, kg_error *err);

/* Append one batch as the next record; *seq (optional) gets its sequence
 * number (the first is 1, then +1 per batch; the numbers of batches that a
 * failed kg_journal_sync cut are given out again, no other number is ever
 * reused). The batch is
 * written but durable only after kg_journal_sync (policy always). KG_EIO
 * on failure, with the journal unchanged. KG_EINVAL before kg_journal_load
 * or in read-only mode. */
int kg_journal_append(kg_journal *j, const kg_batch *b, uint64_t *seq,
                      kg_error *err);
/* Make appended records durable: fdatasync under `always`; under
 * `interval` and `none` only checks the file is still there. KG_EIO on
 * failure (see the header comment). */
int kg_journal_sync(kg_journal *j, kg_error *err);
/* True after a failed kg_journal_sync cut acknowledged-looking records:
 * the caller's graph holds changes the disk does not. Cleared by the next
 * kg_journal_load. */
bool kg_journal_sync_needs_rebuild(const kg_journal *j);
/* Call about every 100 ms with a monotonic clock in milliseconds; under
 * `interval` it fdatasyncs when fsync_interval_ms has passed since the
 * last sync and something was appended. 0 or KG_EIO. */
int kg_journal_tick(kg_journal *j, uint64_t now_ms, kg_error *err);
/* fdatasync what was appended since the last fdatasync, under every policy
 * (a clean stop: kg_journal_destroy does the same but cannot report). 0 or
 * KG_EIO. */
int kg_journal_flush(kg_journal *j, kg_error *err);

/* Figures for `stats` and the auto-snapshot rule. */
uint64_t kg_journal_seq(const kg_journal *j);       /* last seq written */
uint64_t kg_journal_snapshot_seq(const kg_journal *j); /* of the newest
                                                          snapshot, 0 */
uint64_t kg_journal_bytes(const kg_journal *j);     /* current journal file */
kg_fsync_policy kg_journal_fsync(const kg_journal *j);
const char *kg_journal_dir(const kg_journal *j);
/* The base files changed (a reload): later snapshots record this
 * fingerprint instead of opts.base_fingerprint. */
void kg_journal_set_base_fingerprint(kg_journal *j, uint64_t fp);
/* True when the journal has outgrown snapshot_journal_bytes. */
bool kg_journal_snapshot_due(const kg_journal *j);

typedef struct kg_snapshot_info {
    char path[4096];        /* file written or read */
    uint64_t bytes;         /* its size */
    uint64_t seq;           /* last seq it covers */
    uint64_t base_fingerprint;
    size_t entities, relations;                 /* changed/added */
    size_t entity_removals, relation_removals;  /* tombstones */
} kg_snapshot_info;

/* Take a snapshot: the difference between base (the graph of the base
 * files, NULL = empty) and g (the served graph) at the current seq, written
 * to a temporary file, fsynced, renamed to snapshot-<seq>.kgs, directory
 * fsynced; then a new journal is started and the old journal and older
 * snapshots are removed. A crash at any point recovers. info optional.
 * Returns 0 or KG_EIO/KG_ENOMEM; on error the old files are untouched. */
int kg_journal_snapshot(kg_journal *j, const kg_graph *base,
                        const kg_graph *g, kg_snapshot_info *info,
                        kg_error *err);

/* ---- snapshot files on their own (tools, tests, benchmarks) ------------- */

/* Write the difference base -> g (base NULL = empty, i.e. all of g) to
 * path durably (temporary file, fsync, rename, directory fsync). */
int kg_snapshot_write_file(const char *path, const kg_graph *base,
                           const kg_graph *g, uint64_t seq,
                           uint64_t base_fingerprint, kg_snapshot_info *info,
                           kg_error *err);
/* Apply the snapshot at path to g (which holds the base). Changes that do
 * not fit (removing what g lacks) are skipped with a warning. KG_ECORRUPT
 * for a bad checksum or structure, KG_EUNSUPPORTED for an unknown version,
 * KG_EIO when unreadable. info optional. */
int kg_snapshot_load_file(const char *path, kg_graph *g,
                          kg_snapshot_info *info, kg_journal_warn_fn warn,
                          void *ctx, kg_error *err);

/* ---- helpers ------------------------------------------------------------ */

/* CRC-32C (Castagnoli), table-driven: crc = kg_crc32c(0, p, n) for a
 * whole buffer, or chain calls over pieces. */
uint32_t kg_crc32c(uint32_t crc, const void *data, size_t len);
/* A 64-bit fingerprint of the named files' paths and contents (order
 * matters); 0 and KG_EIO in err when one cannot be read. */
uint64_t kg_fingerprint_files(const char *const *paths, size_t n,
                              kg_error *err);

#ifdef __cplusplus
}
#endif
#endif
