/* server_int.h - private to src/server: the daemon's state, shared by the
 * event loop (server.c), the operations (ops.c) and reload (reload.c). */
#ifndef KG_SERVER_INT_H
#define KG_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "kg/change.h"
#include "kg/extract.h"
#include "kg/graph.h"
#include "kg/journal.h"
#include "kg/proto.h"
#include "server.h"

/* Most frames of one request: the peer's identity (added by ROUTER) plus
 * up to 8 frames from the client (envelope + body); a message with more
 * is dropped (docs/protocol.md). */
#define KG_SLOT_FRAMES 9
/* Most requests read and answered in one round (one journal sync). */
#define KG_ROUND_MAX 512

/* One request of the current round. */
typedef struct kg_slot {
    zmq_msg_t frames[KG_SLOT_FRAMES]; /* envelope, then the body last */
    size_t n_frames;
    kg_value *req;    /* decoded body (NULL when it did not decode) */
    kg_proto_buffer req_mem; /* where req lives, reused round after round */
    kg_writer *w;     /* the reply */
    kg_batch *batch;  /* a write's changes, published after the reply */
    uint64_t seq;     /* its journal sequence number */
    bool wrote;       /* applied a write this round: wait for the sync */
    bool deferred;    /* the reply is sent later (reload) */
} kg_slot;

/* A reload request waiting for the worker. */
typedef struct kg_pending {
    zmq_msg_t frames[KG_SLOT_FRAMES - 1];
    size_t n_frames;
    kg_value *id; /* a copy of the request's id (NULL = nil) */
} kg_pending;

/* The reload worker's job: read the base files into new graphs. */
typedef struct kg_reload_job {
    char **paths;
    size_t n_paths;
    bool keep_base;   /* also build a separate base graph (data dir) */
    kg_graph *base;   /* out: the base files (keep_base) */
    kg_graph *served; /* out: the base files again, to serve */
    int rc;
    kg_error err;
    uint64_t elapsed_ns;
    uint64_t fingerprint; /* of the files read (kg_fingerprint_files) */
    int done_fd;      /* written when the job is finished (-1 = none) */
    atomic_bool *done_flag; /* set when the job is finished */
} kg_reload_job;

enum {
    KG_OP_PING, KG_OP_STATS, KG_OP_ENTITY, KG_OP_ENTITIES, KG_OP_RELATIONS,
    KG_OP_NEIGHBORS, KG_OP_PATH, KG_OP_MATCH, KG_OP_SUBGRAPH, KG_OP_EXPORT,
    KG_OP_ADD, KG_OP_REMOVE, KG_OP_EXTRACT, KG_OP_SNAPSHOT, KG_OP_RELOAD,
    KG_OP_COUNT
};

typedef struct kg_server {
    const kg_server_config *cfg;
    void *ctx, *router, *pub;
    char bound[256], published[256]; /* actual endpoints */

    kg_graph *g;    /* served */
    kg_graph *base; /* the base files alone (with a data dir), for snapshots */
    kg_journal *j;  /* NULL: in memory only */
    uint64_t mem_seq; /* change sequence without a journal */
    bool read_only;   /* after a journal failure */
    kg_extractor *x;  /* built on first use, dropped on reload */
    uint64_t base_fingerprint;

    kg_proto_limits lim;
    uint64_t started_ns;
    uint64_t requests_total;
    uint64_t requests_by_op[KG_OP_COUNT];
    uint64_t requests_bad; /* did not decode or named no op */
    uint64_t rounds;       /* rounds that read at least one request */

    kg_slot *slots;  /* KG_ROUND_MAX of them */
    size_t n_writes; /* writes applied in this round */
    kg_writer *pubw; /* change-feed bodies */

    int sig_pipe[2];
    int done_pipe[2];
    volatile bool stopping;

    atomic_bool reload_done; /* set by the worker with its pipe byte */
    bool reloading;
    bool rebuild_after_failure;
    pthread_t reload_thread;
    kg_reload_job *job;
    kg_pending *pending;
    size_t n_pending, cap_pending;
} kg_server;

/* ---- ops.c ---------------------------------------------------------------- */

/* Handle one decoded request: write the whole reply into slot->w (or set
 * slot->deferred). */
void kg_server_dispatch(kg_server *s, kg_slot *slot);
/* Write a failure reply {"id": id, "ok": false, "error": {...}}. */
void kg_server_write_error(kg_writer *w, const kg_value *id, int code,
                           const char *message);
/* The protocol's name for an error code ("invalid", "io", ...). */
const char *kg_server_error_code(int code);
/* Op names, for stats. */
const char *kg_server_op_name(int op);

/* ---- reload.c ------------------------------------------------------------- */

/* Read the job's files (the same code at start-up and on reload). */
void kg_reload_run(kg_reload_job *job);
/* New job for the configured (or default) graph files; NULL on OOM. */
kg_reload_job *kg_reload_job_new(const kg_server_config *cfg, bool keep_base);
void kg_reload_job_destroy(kg_reload_job **job);
/* Start a reload in a worker thread. KG_EBUSY when one is running. */
int kg_server_reload_start(kg_server *s, kg_error *err);
/* The worker said it finished: swap in the new graph (or keep the old
 * one), answer pending reload requests. */
void kg_server_reload_finish(kg_server *s);
/* Queue a reply for when the running reload finishes; takes the slot's
 * envelope. */
int kg_server_reload_defer(kg_server *s, kg_slot *slot, const kg_value *id);
/* Journal warnings go to the log. */
void kg_server_journal_warn(void *ctx, const char *message);

/* ---- server.c ------------------------------------------------------------- */

/* Send a reply (envelope frames, then body) on the ROUTER socket. The
 * frames are consumed. */
void kg_server_send(kg_server *s, zmq_msg_t *frames, size_t n,
                    const char *body, size_t len);
/* Tell systemd (no-op without libsystemd or NOTIFY_SOCKET). */
void kg_server_notify(const char *state);
/* Commit slot->batch: check, journal, apply (see server.c). 0 or KG_E*;
 * on success slot->seq is its sequence number, and its changes are
 * published once the round's replies are out. */
int kg_server_commit(kg_server *s, kg_slot *slot, kg_error *err);

#endif
