/* kg/client.h - the C client of kgd (docs/protocol.md, docs/clients.md).
 *
 * A kg_client talks to one kgd over a ZeroMQ DEALER socket. Every request
 * gets a fresh integer "id"; replies whose id is not the one awaited
 * (late answers to requests that timed out) are dropped, so a timeout
 * never desynchronises the client. After a timeout or a transport error
 * the socket is recreated, so that requests queued for a dead server are
 * not delivered later.
 *
 * Two levels:
 *  - kg_client_call: any request map in, the reply's "result" out. An
 *    `ok: false` reply becomes the matching KG_E* code with the server's
 *    message (unchanged, so that `kg -s` prints what `kg` prints on a
 *    file).
 *  - typed calls, one per operation, shaped like include/kg/query.h: the
 *    caller passes the same query structs as for a local graph, and the
 *    entities and relations of the reply are loaded into a caller-owned
 *    LOCAL kg_graph (usually a new empty one) while the result handles
 *    (kg_rid_list, kg_neighbor_list, kg_path_list, ...) refer to that
 *    local graph. Printers written for local queries then work unchanged.
 *    The local graph holds only what the reply carried: relation ends
 *    that the reply names without describing get kind "unknown", and
 *    query-only fields that the protocol does not carry are zero (see
 *    each call).
 *
 * Client-side errors: KG_EINVAL (bad endpoint or arguments), KG_EIO (the
 * socket failed, or the reply is not a protocol reply), KG_ETIMEOUT (no
 * reply within the timeout; the message says "no reply from ENDPOINT
 * within N ms", unlike a server-side query timeout), KG_ENOMEM.
 * Server-side codes map as: parse -> KG_EPARSE, invalid -> KG_EINVAL,
 * unsupported -> KG_EUNSUPPORTED, not_found -> KG_ENOTFOUND, limit ->
 * KG_ELIMIT, timeout -> KG_ETIMEOUT, io -> KG_EIO, busy -> KG_EBUSY,
 * nomem -> KG_ENOMEM, internal (and any unknown code) -> KG_EIO with the
 * message prefixed "server internal error (CODE): ".
 *
 * A kg_client is not thread-safe: one client per thread.
 */
#ifndef KG_CLIENT_H
#define KG_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/graph.h"
#include "kg/proto.h"
#include "kg/query.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KG_CLIENT_DEFAULT_ENDPOINT "tcp://127.0.0.1:7411"
#define KG_CLIENT_DEFAULT_FEED "tcp://127.0.0.1:7412"
#define KG_CLIENT_DEFAULT_TIMEOUT_MS 10000

typedef struct kg_client kg_client;

/* Connect to endpoint ("tcp://HOST:PORT", "ipc://PATH"; a bare
 * "HOST:PORT" means tcp://HOST:PORT; NULL = KG_CLIENT_DEFAULT_ENDPOINT).
 * ZeroMQ connects lazily: a server that is not there shows as a timeout
 * on the first call. NULL on error (bad endpoint, out of memory). Caller
 * owns: kg_client_destroy. */
kg_client *kg_client_new(const char *endpoint, kg_error *err);
/* Close the socket (pending requests are dropped) and free; sets *c to
 * NULL. Accepts NULL. */
void kg_client_destroy(kg_client **c);

/* Fail fast (off by default): a request fails at once with KG_EIO
 * ("nothing listens on ENDPOINT (connection refused)") when connecting is
 * refused before any connection was made, instead of waiting out the
 * timeout while ZeroMQ retries quietly. Once connected, a client waits as
 * usual (a daemon restarting is waited for). For command-line tools. */
void kg_client_set_fail_fast(kg_client *c, bool on);

/* Time to wait for each reply (and to queue each request), in ms; <= 0
 * means wait forever. Default KG_CLIENT_DEFAULT_TIMEOUT_MS. */
void kg_client_set_timeout(kg_client *c, int timeout_ms);
int kg_client_timeout(const kg_client *c);
/* The endpoint connected to (owned by c). */
const char *kg_client_endpoint(const kg_client *c);

/* Map a protocol error code ("not_found", ...) to KG_E* as above. */
int kg_client_error_code(const char *code);

/* ---- generic call -------------------------------------------------------- */

/* Send request (a map with at least "op"; an "id" in it is replaced by
 * the client's own) and wait for its reply. On ok: true, *result (if
 * result is non-NULL) gets a copy of the reply's "result" value: caller
 * owns it (kg_value_destroy). On ok: false, the mapped KG_E* code is
 * returned and err carries the server's message; *result is NULL. */
int kg_client_call(kg_client *c, const kg_value *request, kg_value **result,
                   kg_error *err);

/* ---- many requests in flight --------------------------------------------- */

#define KG_CLIENT_DEFAULT_WINDOW 64

/* One request of kg_client_pipeline, and what became of it. */
typedef struct kg_client_job {
    const kg_value *request; /* in: as for kg_client_call (not owned) */
    int rc;                  /* out: 0, or the KG_E* code of its error */
    kg_value *result;        /* out: on rc 0, a copy of the reply's
                                "result" (kg_client_jobs_clear frees it) */
    kg_error err;            /* out: on rc != 0, what went wrong */
} kg_client_job;

/* Send jobs[0..n) on the client's one socket, keeping up to window of
 * them in flight (0 = KG_CLIENT_DEFAULT_WINDOW), and collect their
 * replies in whatever order they come; each job gets its own outcome, as
 * kg_client_call would have given it. A request that cannot be encoded
 * (not a map, no "op") fails alone with KG_EINVAL. The client's timeout
 * applies to each wait for the next reply.
 *
 * Returns 0 when every job has its outcome. On a transport failure or a
 * timeout it returns that code (err says what happened), every job not
 * answered by then gets it as well, and the socket is recreated as after
 * any failed call. Replies the server had to send without an id (a
 * request it could not read, e.g. one over its max_request_bytes) are
 * given to the jobs left without a reply at the end. Either way the
 * results of the jobs that succeeded are the caller's: free them with
 * kg_client_jobs_clear. */
int kg_client_pipeline(kg_client *c, kg_client_job *jobs, size_t n,
                       size_t window, kg_error *err);
/* Free the results of jobs[0..n) and set them to NULL. */
void kg_client_jobs_clear(kg_client_job *jobs, size_t n);

/* ---- typed calls --------------------------------------------------------- */

/* A count per kind (entity or relation kind), in the server's order. */
typedef struct kg_kind_count {
    char *kind; /* owned by the struct holding the array */
    uint64_t count;
} kg_kind_count;

/* ping: *version (may be NULL) gets the server's version string. Caller
 * owns *version (free). */
int kg_client_ping(kg_client *c, char **version, kg_error *err);

typedef struct kg_client_stats {
    uint64_t entities, relations;
    kg_kind_count *entity_kinds;   /* owned */
    size_t n_entity_kinds;
    kg_kind_count *relation_kinds; /* owned */
    size_t n_relation_kinds;
    uint64_t memory_bytes;
    double uptime_s;
    uint64_t requests_total;
    uint64_t journal_seq;     /* 0 without a journal */
    kg_value *result;         /* the whole result map, for other fields;
                                 owned */
} kg_client_stats;

/* stats. Caller frees st with kg_client_stats_free (also after failure). */
int kg_client_stats_get(kg_client *c, kg_client_stats *st, kg_error *err);
void kg_client_stats_free(kg_client_stats *st);

typedef struct kg_client_entity_info {
    kg_eid entity;      /* in the local graph: id, kind, aliases, attributes */
    kg_kind_count *out; /* relations leaving it, by kind (owned) */
    size_t n_out;
    kg_kind_count *in;  /* relations entering it, by kind (owned) */
    size_t n_in;
} kg_client_entity_info;

/* entity NAME (id or alias), as_of may be NULL. The entity is added to g.
 * Caller frees res with kg_client_entity_info_free. */
int kg_client_entity(kg_client *c, const char *name, const char *as_of,
                     kg_graph *g, kg_client_entity_info *res, kg_error *err);
void kg_client_entity_info_free(kg_client_entity_info *res);

/* entities: q->kind, q->prefix, q->offset, q->opts.limit are sent. The
 * listed entities (id, kind, and aliases/attributes when the server sends
 * them) are added to g; res->ids in the server's order, total and
 * truncated from the reply. Caller frees res with kg_eid_list_free. */
int kg_client_entities(kg_client *c, const kg_entities_query *q, kg_graph *g,
                       kg_eid_list *res, kg_error *err);

/* relations: subject, relation, object, where (a NULL value is sent as
 * nil: "key present"), opts.as_of and opts.limit are sent. res->ids are
 * the relations added to g, in the server's order. Caller frees res with
 * kg_rid_list_free. */
int kg_client_relations(kg_client *c, const kg_relations_query *q,
                        kg_graph *g, kg_rid_list *res, kg_error *err);

/* neighbors: entity, dir, relations, opts.max_depth (depth), as_of,
 * limit. Every neighbour (with its kind) and its via relation go into g;
 * from and dir of each item are derived from the via relation. Caller
 * frees res with kg_neighbor_list_free. */
int kg_client_neighbors(kg_client *c, const kg_neighbors_query *q,
                        kg_graph *g, kg_neighbor_list *res, kg_error *err);

/* path: from, to, relations, dir, all, opts.max_depth (max_length; 0 =
 * the server's max_depth), as_of, limit. The relations of every path go
 * into g; each step's dir is derived by walking from `from`. *from and
 * *to (may be NULL) get the two ends in g (added with their canonical
 * ids, asking the server with `entity` when the paths do not name them).
 * Caller frees res with kg_path_list_free. */
int kg_client_path(kg_client *c, const kg_path_query *q, kg_graph *g,
                   kg_path_list *res, kg_eid *from, kg_eid *to, kg_error *err);

/* match: patterns, opts.as_of, opts.limit. res->vars without '?', cells,
 * truncated, and plan (pattern order, with the reply's "estimates" when
 * the server sends them, else 0). Caller frees res with
 * kg_match_result_free. */
int kg_client_match(kg_client *c, const kg_match_query *q,
                    kg_match_result *res, kg_error *err);

/* subgraph: seeds, relations, dir, opts.max_depth (depth), as_of, limit.
 * res->graph is a new graph with the reply's entities then relations, in
 * the server's order. Caller frees res with kg_subgraph_free. */
int kg_client_subgraph(kg_client *c, const kg_subgraph_query *q,
                       kg_subgraph *res, kg_error *err);

/* subgraph or export as text rendered by the server: format is "dot",
 * "tsv" or "json". q NULL = export the whole graph (as_of may then be
 * given separately; it is ignored when q is given). *text is
 * NUL-terminated, *len (may be NULL) its length. Caller owns *text
 * (free). */
int kg_client_subgraph_text(kg_client *c, const kg_subgraph_query *q,
                            const char *format, char **text, size_t *len,
                            kg_error *err);
int kg_client_export(kg_client *c, const char *format, const char *as_of,
                     char **text, size_t *len, kg_error *err);

/* What an add or remove did (fields of the other op stay 0). */
typedef struct kg_client_write_result {
    uint64_t entities_added, entities_merged;
    uint64_t relations_added, relations_existing;
    uint64_t entities_removed, relations_removed;
    uint64_t seq;
} kg_client_write_result;

/* add: the ENTITY_ADD and RELATION_ADD records of b (any other record is
 * KG_EINVAL, nothing sent). All or nothing on the server. res may be
 * NULL. */
int kg_client_add(kg_client *c, const kg_batch *b,
                  kg_client_write_result *res, kg_error *err);
/* remove: the ENTITY_REMOVE and RELATION_REMOVE records of b. */
int kg_client_remove(kg_client *c, const kg_batch *b,
                     kg_client_write_result *res, kg_error *err);

/* extract: the facts the server's extractor finds in text (source and
 * date may be NULL), appended to out as ENTITY_ADD and RELATION_ADD
 * records (entities first). With commit they are also added on the
 * server; *committed and *seq (may be NULL) say so. */
int kg_client_extract(kg_client *c, const char *text, const char *source,
                      const char *date, bool commit, kg_batch *out,
                      bool *committed, uint64_t *seq, kg_error *err);

typedef struct kg_client_snapshot_info {
    char *path;      /* owned: free */
    uint64_t bytes;
    uint64_t seq;
} kg_client_snapshot_info;

/* snapshot: the server writes a snapshot into its data directory. Caller
 * frees info->path (also zeroed on failure). */
int kg_client_snapshot(kg_client *c, kg_client_snapshot_info *info,
                       kg_error *err);

/* reload: the server reads its graph files again; *entities and
 * *relations (may be NULL) are the new counts. */
int kg_client_reload(kg_client *c, uint64_t *entities, uint64_t *relations,
                     kg_error *err);

/* ---- the change feed ----------------------------------------------------------
 *
 * kgd publishes every applied change on a PUB socket as [topic, body]
 * (docs/protocol.md, "The change feed"). A kg_feed is a SUB socket on it.
 * Like any ZeroMQ subscriber it sees only what is published after it has
 * connected and subscribed (a few ms after kg_feed_new), and loses
 * messages when it reads too slowly; a gap in seq shows lost requests
 * (when subscribed to every topic). */
typedef struct kg_feed kg_feed;

/* Subscribe to endpoint (NULL = KG_CLIENT_DEFAULT_FEED; a bare
 * "HOST:PORT" means tcp://) for the given topics: relation kinds and
 * "entity". ZeroMQ topics are prefixes; n == 0 subscribes to every
 * change. NULL on error (bad endpoint, out of memory). Caller owns:
 * kg_feed_destroy. */
kg_feed *kg_feed_new(const char *endpoint, const char *const *topics,
                     size_t n, kg_error *err);
/* Where the daemon that c talks to publishes its changes: the `feed` its
 * `stats` report, a wildcard bind address there (tcp://0.0.0.0:P,
 * tcp://[::]:P, tcp://<asterisk>:P) taken on the host c reaches it on.
 * *out is malloc'd (caller frees). KG_EUNSUPPORTED: the daemon does not
 * say; KG_EINVAL: a wildcard tcp feed of a daemon reached otherwise;
 * any error of kg_client_call. */
int kg_client_feed_endpoint(kg_client *c, char **out, kg_error *err);
/* Close and free; sets *f to NULL. Accepts NULL. */
void kg_feed_destroy(kg_feed **f);
const char *kg_feed_endpoint(const kg_feed *f);

/* Wait up to timeout_ms (< 0: for ever) for the next change and append
 * it to out as one change record (ENTITY_ADD/REMOVE or RELATION_ADD/
 * REMOVE, as the request that made it said it: the names the client
 * used, a removal's qualifier filter); *seq (may be NULL) is the journal
 * sequence number of that request. KG_ETIMEOUT: nothing came. A message
 * that is not a change (bad msgpack, wrong shape) is consumed and
 * reported as KG_EPARSE with what was wrong; the next call reads on. */
int kg_feed_next(kg_feed *f, int timeout_ms, uint64_t *seq, kg_batch *out,
                 kg_error *err);

#ifdef __cplusplus
}
#endif
#endif
