/* server.c - kgd's event loop.
 *
 * One thread serves everything: zmq_poll waits on the ROUTER socket, a
 * self-pipe written by the signal handler and a pipe the reload worker
 * writes when it is done. Each round reads every request that is waiting
 * (up to KG_ROUND_MAX), handles them in order, makes the round's writes
 * durable with ONE journal sync (group commit), then sends the replies and
 * finally publishes the changes. So a reply to a write is never sent
 * before the write is on disk, and nobody - not even a reader in the same
 * round - sees a change before it is durable. Unless the sync fails: then
 * the round's writes fail, and until rebuild() has replaced the graph,
 * readers (those of the round too) still see them.
 */
#include "server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kg/query.h"

#ifdef KG_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* Exit status for damaged data (corrupt journal or snapshot). */
#define KG_EXIT_DATA 3

/* Replies (and requests) queued per peer before ZeroMQ drops replies. */
#define KG_REPLY_QUEUE 10000

/* How long close waits for the last replies to leave (ms). */
#define CLOSE_LINGER_MS 200

void kg_server_notify(const char *state)
{
#ifdef KG_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/* ---- signals ------------------------------------------------------------- */

static int signal_fd = -1;
/* Set with the pipe byte, so that a busy loop notices without a poll. */
static volatile sig_atomic_t signal_pending;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    signal_pending = 1;
    if (signal_fd >= 0 && write(signal_fd, &c, 1) < 0) {
        /* The pipe is full: enough signals are already waiting. */
    }
    errno = saved;
}

static int make_pipe(int fds[2])
{
    if (pipe(fds) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

static void install_signals(kg_server *s)
{
    signal_fd = s->sig_pipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void handle_signals(kg_server *s)
{
    unsigned char buf[64];
    ssize_t n;
    signal_pending = 0;
    while ((n = read(s->sig_pipe[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGHUP) {
                kg_error err;
                if (kg_server_reload_start(s, &err))
                    kg_log(KG_LOG_WARN, "SIGHUP: %s", err.message);
            } else if (!s->stopping) {
                kg_log(KG_LOG_INFO, "%s: shutting down",
                       buf[i] == SIGINT ? "SIGINT" : "SIGTERM");
                s->stopping = true;
            }
        }
    }
}

/* ---- sending ------------------------------------------------------------- */

void kg_server_send(kg_server *s, zmq_msg_t *frames, size_t n,
                    const char *body, size_t len)
{
    /* Never block: a peer that does not read its replies (past the high
     * water mark) or has gone loses them, the others are served. */
    for (size_t i = 0; i < n; i++) {
        if (zmq_msg_send(&frames[i], s->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            kg_log(KG_LOG_DEBUG, "reply dropped: %s", zmq_strerror(errno));
            return;
        }
    }
    if (zmq_send(s->router, body, len, ZMQ_DONTWAIT) < 0)
        kg_log(KG_LOG_DEBUG, "reply dropped: %s", zmq_strerror(errno));
}

static void publish(kg_server *s, const kg_slot *slot)
{
    for (size_t i = 0; i < kg_batch_count(slot->batch); i++) {
        const kg_change *c = kg_batch_get(slot->batch, i);
        const char *topic = kg_proto_change_topic(c);
        kg_writer_reset(s->pubw);
        if (kg_proto_write_change(s->pubw, slot->seq, c))
            continue;
        size_t len;
        const char *body = kg_writer_data(s->pubw, &len);
        if (zmq_send(s->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(s->pub, body, len, ZMQ_DONTWAIT) < 0)
            kg_log(KG_LOG_DEBUG, "change not published: %s", zmq_strerror(errno));
    }
    kg_writer_reset(s->pubw);
}

/* ---- writes -------------------------------------------------------------- */

/* Stop accepting writes; reads go on. */
static void go_read_only(kg_server *s, const char *why)
{
    if (!s->read_only)
        kg_log(KG_LOG_ERROR, "%s; refusing writes until the graph is rebuilt "
               "(read-only), reads continue", why);
    s->read_only = true;
}

/* The graph holds changes the journal does not: rebuild it from the
 * files and the journal (a reload); writes resume when it is done. If the
 * rebuild cannot even start, kgd stays read-only. */
static void rebuild(kg_server *s)
{
    s->rebuild_after_failure = true;
    kg_error err;
    if (kg_server_reload_start(s, &err) && !s->reloading)
        kg_log(KG_LOG_ERROR, "cannot rebuild the graph: %s; read-only until "
               "restart", err.message);
}

int kg_server_commit(kg_server *s, kg_slot *slot, kg_error *err)
{
    if (s->read_only)
        return kg_error_set(err, KG_EIO, "the server is read-only after a "
                            "journal failure; see its log");
    int rc = kg_graph_check(s->g, slot->batch, err);
    if (rc)
        return rc;
    uint64_t seq;
    if (s->j) {
        rc = kg_journal_append(s->j, slot->batch, &seq, err);
        if (rc) {
            /* The journal is as it was and nothing was applied: this write
             * fails, the next one may succeed (disk space freed). */
            char why[KG_ERROR_MESSAGE_MAX + 64];
            snprintf(why, sizeof why, "journal write failed: %s",
                     err ? err->message : kg_error_name(rc));
            kg_log(KG_LOG_ERROR, "%s", why);
            return kg_error_set(err, KG_EIO, "%s", why);
        }
    } else {
        seq = ++s->mem_seq;
    }
    rc = kg_graph_apply(s->g, slot->batch, err);
    if (rc) {
        /* Only out-of-memory gets here (the batch was checked); the
         * journal holds a change the graph does not. */
        go_read_only(s, "a journaled change could not be applied");
        if (s->j)
            rebuild(s);
        return rc;
    }
    slot->seq = seq;
    slot->wrote = true;
    s->n_writes++;
    return 0;
}

/* ---- rounds -------------------------------------------------------------- */

/* Receive one whole message into slot. 1: got one; 0: none waiting;
 * 2: one was read and dropped (too many frames). */
static int recv_one(kg_server *s, kg_slot *slot)
{
    zmq_msg_t *f = slot->frames;
    slot->n_frames = 0;
    if (zmq_msg_recv(&f[0], s->router, ZMQ_DONTWAIT) < 0)
        return 0;
    slot->n_frames = 1;
    bool dropped = false;
    while (zmq_msg_more(&f[slot->n_frames - 1])) {
        if (slot->n_frames == KG_SLOT_FRAMES) {
            /* Read and discard the rest of an oversized envelope. */
            zmq_msg_t junk;
            zmq_msg_init(&junk);
            int more = 1;
            while (more) {
                if (zmq_msg_recv(&junk, s->router, 0) < 0)
                    break;
                more = zmq_msg_more(&junk);
            }
            zmq_msg_close(&junk);
            dropped = true;
            break;
        }
        if (zmq_msg_recv(&f[slot->n_frames], s->router, 0) < 0)
            break;
        slot->n_frames++;
    }
    /* A ROUTER message is [identity, ..., body]: at least two frames. */
    if (dropped || slot->n_frames < 2) {
        kg_log(KG_LOG_DEBUG, "dropped a message of %s frames",
               dropped ? "too many" : "too few");
        for (size_t i = 0; i < slot->n_frames; i++) {
            zmq_msg_close(&f[i]);
            zmq_msg_init(&f[i]);
        }
        slot->n_frames = 0;
        s->requests_bad++;
        return 2;
    }
    return 1;
}

/* Decode and check a request. True: slot->req is a map to dispatch;
 * false: slot->w holds the error reply. */
static bool prepare(kg_server *s, kg_slot *slot)
{
    kg_writer *w = slot->w;
    kg_writer_reset(w);
    slot->wrote = slot->deferred = false;
    kg_batch_clear(slot->batch);
    s->requests_total++;
    zmq_msg_t *body = &slot->frames[slot->n_frames - 1];
    size_t len = zmq_msg_size(body);
    kg_error err;
    if (len > s->cfg->max_request_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg, "request of %zu bytes (max_request_bytes is %zu)",
                 len, s->cfg->max_request_bytes);
        s->requests_bad++;
        kg_server_write_error(w, NULL, KG_ELIMIT, msg);
        return false;
    }
    int rc = kg_proto_decode_in(&slot->req_mem, zmq_msg_data(body), len, &s->lim,
                                &slot->req, &err);
    if (rc) {
        s->requests_bad++;
        /* KG_EINVAL: a string that is not UTF-8 (s->lim.utf8) */
        bool own_code = rc == KG_ELIMIT || rc == KG_ENOMEM || rc == KG_EINVAL;
        kg_server_write_error(w, NULL, own_code ? rc : KG_EPARSE, err.message);
        return false;
    }
    if (slot->req->type != KG_VAL_MAP) {
        char msg[64];
        snprintf(msg, sizeof msg, "the body is %s, not a map",
                 kg_value_type_name(slot->req->type));
        s->requests_bad++;
        kg_server_write_error(w, NULL, KG_EPARSE, msg);
        return false;
    }
    return true;
}

/* A graph smaller than this mostly sits in the cache: prefetching it
 * would only hash every name twice. */
#define PREFETCH_MIN_BYTES ((size_t)32 << 20)
/* Requests prefetched together: while one chunk runs, the next one's
 * memory is on its way, and a chunk's lines stay in the cache until it
 * runs (a whole round of 512 would not). */
#define PREFETCH_CHUNK 32

/* Look-ups name entities; on a big graph each is a chain of cache misses
 * (index slot, record, id, relations). Fetch those of requests [from, to)
 * together, so that their misses overlap, before they run one by one. */
static void prefetch_requests(kg_server *s, size_t from, size_t to,
                              const bool *ok)
{
    static const char *const keys[] = {"entity", "name", "from", "subject"};
    const char *names[3][PREFETCH_CHUNK];
    size_t k[3] = {0, 0, 0};
    for (size_t i = from; i < to; i++) {
        if (!ok[i])
            continue;
        const kg_value *req = s->slots[i].req;
        for (size_t j = 0; j < sizeof keys / sizeof *keys; j++) {
            const char *v = kg_value_cstr(kg_value_get(req, keys[j]));
            if (!v)
                continue;
            /* What the op reads next: entity counts the entity's
             * relations by kind, neighbors and relations go on to the
             * entities at the other ends. */
            const char *op = kg_value_cstr(kg_value_get(req, "op"));
            kg_prefetch reach = KG_PREFETCH_ENTITY;
            if (op && strcmp(op, "entity") == 0)
                reach = KG_PREFETCH_RELATIONS;
            else if (op && (strcmp(op, "neighbors") == 0 || strcmp(op, "relations") == 0))
                reach = KG_PREFETCH_NEIGHBORS;
            names[reach][k[reach]++] = v;
            break;
        }
    }
    for (int r = 0; r < 3; r++)
        kg_entities_prefetch(s->g, names[r], k[r], (kg_prefetch)r);
}

static void do_snapshot_auto(kg_server *s)
{
    kg_snapshot_info info;
    kg_error err;
    if (kg_journal_snapshot(s->j, s->base, s->g, &info, &err))
        kg_log(KG_LOG_WARN, "automatic snapshot failed: %s", err.message);
    else
        kg_log(KG_LOG_INFO, "snapshot %s: %llu bytes, seq %llu", info.path,
               (unsigned long long)info.bytes, (unsigned long long)info.seq);
}

/* What a round slot keeps between rounds: a reply buffer that held at
 * most this much (so of at most twice that: it grows by doubling) and a
 * decoding buffer of at most this size. KG_ROUND_MAX slots then keep
 * at most 512 x (128 + 16) KiB = 72 MiB, whatever came before. */
#define SLOT_KEEP_REPLY_BYTES ((size_t)64 << 10)
#define SLOT_KEEP_REQUEST_BYTES ((size_t)16 << 10)

static void send_reply(kg_server *s, kg_slot *sl)
{
    size_t len;
    const char *data = kg_writer_data(sl->w, &len);
    if (kg_writer_error(sl->w)) {
        kg_writer_reset(sl->w);
        kg_server_write_error(sl->w, kg_value_get(sl->req, "id"), KG_ENOMEM,
                              "out of memory writing the reply");
        data = kg_writer_data(sl->w, &len);
    }
    kg_server_send(s, sl->frames, sl->n_frames - 1, data, len);
}

static void run_round(kg_server *s)
{
    size_t n = 0;
    while (n < KG_ROUND_MAX) {
        int r = recv_one(s, &s->slots[n]);
        if (r == 0)
            break;
        if (r == 1)
            n++;
    }
    if (n)
        s->rounds++;
    s->n_writes = 0;
    bool ok[KG_ROUND_MAX];
    for (size_t i = 0; i < n; i++)
        ok[i] = prepare(s, &s->slots[i]);
    bool prefetch = kg_graph_memory(s->g) >= PREFETCH_MIN_BYTES;
    if (prefetch)
        prefetch_requests(s, 0, n < PREFETCH_CHUNK ? n : PREFETCH_CHUNK, ok);
    for (size_t i = 0; i < n; i++) {
        /* At the start of each chunk, send for the next one. */
        if (prefetch && i % PREFETCH_CHUNK == 0 && i + PREFETCH_CHUNK < n) {
            size_t end = i + 2 * PREFETCH_CHUNK;
            prefetch_requests(s, i + PREFETCH_CHUNK, end < n ? end : n, ok);
        }
        if (ok[i])
            kg_server_dispatch(s, &s->slots[i]);
    }

    if (s->n_writes && s->j) {
        kg_error err;
        if (kg_journal_sync(s->j, &err)) {
            char why[KG_ERROR_MESSAGE_MAX + 64];
            snprintf(why, sizeof why, "journal sync failed: %s", err.message);
            go_read_only(s, why);
            for (size_t i = 0; i < n; i++) {
                kg_slot *sl = &s->slots[i];
                if (!sl->wrote)
                    continue;
                sl->wrote = false;
                kg_writer_reset(sl->w);
                kg_server_write_error(sl->w, kg_value_get(sl->req, "id"), KG_EIO,
                                      why);
            }
            /* Whether the journal cut the records or lost its file, the
             * graph holds changes the disk does not: rebuild it. */
            rebuild(s);
        }
    }

    for (size_t i = 0; i < n; i++) {
        kg_slot *sl = &s->slots[i];
        if (!sl->deferred)
            send_reply(s, sl);
    }
    for (size_t i = 0; i < n; i++) {
        kg_slot *sl = &s->slots[i];
        if (sl->wrote)
            publish(s, sl);
        size_t len;
        kg_writer_data(sl->w, &len);
        /* Don't keep a big reply's buffer (an export) for ever: with
         * KG_ROUND_MAX slots, that could be gigabytes. */
        kg_writer *fresh = len > SLOT_KEEP_REPLY_BYTES ? kg_writer_new() : NULL;
        if (fresh) {
            kg_writer_destroy(&sl->w);
            sl->w = fresh;
        } else {
            kg_writer_reset(sl->w);
        }
        kg_value_destroy(&sl->req);
        /* Nor a big request's decoding room. */
        if (sl->req_mem.cap > SLOT_KEEP_REQUEST_BYTES)
            kg_proto_buffer_free(&sl->req_mem);
        for (size_t f = 0; f < sl->n_frames; f++) {
            zmq_msg_close(&sl->frames[f]);
            zmq_msg_init(&sl->frames[f]);
        }
        sl->n_frames = 0;
        sl->wrote = sl->deferred = false;
    }
    if (s->n_writes && s->j && !s->read_only && kg_journal_snapshot_due(s->j))
        do_snapshot_auto(s);
}

/* ---- start and stop ------------------------------------------------------ */

/* ZeroMQ replaces an existing ipc:// socket file, even one a running
 * kgd listens on. Refuse when something answers on it; a stale file (no
 * listener) is left for ZeroMQ to replace. */
static bool ipc_in_use(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) != 0)
        return false;
    const char *path = endpoint + 6;
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path)
        return false; /* ZeroMQ reports it */
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool used = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return used;
}

static int bind_socket(void *sock, const char *endpoint, char *bound,
                       size_t size)
{
    if (ipc_in_use(endpoint)) {
        kg_log(KG_LOG_ERROR, "cannot bind %s: %s (another process listens "
               "on it)", endpoint, strerror(EADDRINUSE));
        return -1;
    }
    if (zmq_bind(sock, endpoint) < 0) {
        kg_log(KG_LOG_ERROR, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    size_t n = size;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &n) < 0)
        snprintf(bound, size, "%s", endpoint);
    return 0;
}

static int open_sockets(kg_server *s)
{
    const kg_server_config *c = s->cfg;
    s->ctx = zmq_ctx_new();
    if (!s->ctx) {
        kg_log(KG_LOG_ERROR, "zmq_ctx_new: %s", zmq_strerror(errno));
        return -1;
    }
    s->router = zmq_socket(s->ctx, ZMQ_ROUTER);
    s->pub = zmq_socket(s->ctx, ZMQ_PUB);
    if (!s->router || !s->pub) {
        kg_log(KG_LOG_ERROR, "zmq_socket: %s", zmq_strerror(errno));
        return -1;
    }
    /* A message far beyond max_request_bytes disconnects its sender
     * instead of being buffered; one a little over it gets a `limit`
     * reply. */
    int64_t maxmsg = (int64_t)c->max_request_bytes * 2 + 65536;
    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    /* ROUTER drops replies to a peer whose queue is full rather than
     * block everyone: leave room for a client with many requests in
     * flight (docs/protocol.md, Framing). */
    int hwm = KG_REPLY_QUEUE;
    zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    int linger = CLOSE_LINGER_MS;
    zmq_setsockopt(s->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->pub, ZMQ_LINGER, &linger, sizeof linger);
    if (bind_socket(s->router, c->bind ? c->bind : KG_SERVER_DEFAULT_BIND,
                    s->bound, sizeof s->bound) < 0)
        return -1;
    if (bind_socket(s->pub, c->publish ? c->publish : KG_SERVER_DEFAULT_PUBLISH,
                    s->published, sizeof s->published) < 0)
        return -1;
    return 0;
}

static int open_data(kg_server *s, kg_reload_job *job)
{
    const kg_server_config *c = s->cfg;
    kg_error err;
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.fsync = c->fsync;
    o.fsync_interval_ms = c->fsync_interval_ms;
    o.snapshot_journal_bytes = c->snapshot_journal_bytes;
    o.repair = c->repair;
    o.base_fingerprint = kg_fingerprint_files((const char *const *)job->paths,
                                              job->n_paths, &err);
    s->base_fingerprint = o.base_fingerprint;
    s->j = kg_journal_open(c->data, &o, &err);
    if (!s->j) {
        kg_log(KG_LOG_ERROR, "%s", err.message);
        return -1;
    }
    if (kg_journal_load(s->j, job->served, kg_server_journal_warn, s, &err)) {
        kg_log(KG_LOG_ERROR, "%s%s", err.message,
               err.code == KG_ECORRUPT && !c->repair
                   ? " (docs/operations.md: restore a backup, or start once "
                     "with --repair to cut the journal there)"
                   : "");
        /* Damaged data is not fixed by restarting: a distinct status that
         * the unit does not restart on (RestartPreventExitStatus=3). */
        return err.code == KG_ECORRUPT ? KG_EXIT_DATA : -1;
    }
    kg_log(KG_LOG_INFO, "data directory %s: seq %llu, fsync %s", c->data,
           (unsigned long long)kg_journal_seq(s->j),
           kg_fsync_policy_name(c->fsync));
    return 0;
}

static int init_slots(kg_server *s)
{
    s->slots = calloc(KG_ROUND_MAX, sizeof *s->slots);
    if (!s->slots)
        return -1;
    for (size_t i = 0; i < KG_ROUND_MAX; i++) {
        kg_slot *sl = &s->slots[i];
        for (size_t f = 0; f < KG_SLOT_FRAMES; f++)
            zmq_msg_init(&sl->frames[f]);
        sl->w = kg_writer_new();
        sl->batch = kg_batch_new();
        if (!sl->w || !sl->batch)
            return -1;
    }
    s->pubw = kg_writer_new();
    return s->pubw ? 0 : -1;
}

static void free_server(kg_server *s)
{
    if (s->reloading) {
        pthread_join(s->reload_thread, NULL);
        kg_reload_job_destroy(&s->job);
        s->reloading = false;
    }
    for (size_t i = 0; i < s->n_pending; i++) {
        for (size_t f = 0; f < s->pending[i].n_frames; f++)
            zmq_msg_close(&s->pending[i].frames[f]);
        kg_value_destroy(&s->pending[i].id);
    }
    free(s->pending);
    for (size_t i = 0; s->slots && i < KG_ROUND_MAX; i++) {
        kg_slot *sl = &s->slots[i];
        for (size_t f = 0; f < KG_SLOT_FRAMES; f++)
            zmq_msg_close(&sl->frames[f]);
        kg_writer_destroy(&sl->w);
        kg_batch_destroy(&sl->batch);
        kg_value_destroy(&sl->req);
        kg_proto_buffer_free(&sl->req_mem);
    }
    free(s->slots);
    s->slots = NULL;
    kg_writer_destroy(&s->pubw);
    if (s->j) {
        kg_error err;
        if (!s->read_only && kg_journal_sync(s->j, &err))
            kg_log(KG_LOG_ERROR, "final journal sync: %s", err.message);
        /* Under `interval` and `none` the last writes are flushed only
         * now: a failure must not pass in silence. */
        else if (kg_journal_flush(s->j, &err))
            kg_log(KG_LOG_ERROR, "final journal flush: %s; the writes since "
                   "the last flush may not be on disk", err.message);
        kg_journal_destroy(&s->j);
    }
    if (s->router)
        zmq_close(s->router);
    if (s->pub)
        zmq_close(s->pub);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    kg_extractor_destroy(&s->x);
    kg_graph_destroy(&s->g);
    kg_graph_destroy(&s->base);
    signal_fd = -1;
    for (int i = 0; i < 2; i++) {
        if (s->sig_pipe[i] >= 0)
            close(s->sig_pipe[i]);
        if (s->done_pipe[i] >= 0)
            close(s->done_pipe[i]);
    }
}

/* The next thing to do: while requests keep arriving, rounds follow each
 * other without a poll (ZMQ_EVENTS says whether one is waiting), which
 * saves a system call per round under load; signals and the reload
 * worker raise flags as well as writing their pipes, so they are seen
 * between rounds. Idle, zmq_poll sleeps on the socket and both pipes. */
static void loop(kg_server *s)
{
    const kg_server_config *c = s->cfg;
    bool ticking = s->j && c->fsync == KG_FSYNC_INTERVAL;
    uint64_t last_tick = 0;
    /* The ROUTER's ZMQ_FD only says "look again": it is readable after
     * the socket's state changed, and ZMQ_EVENTS, asked before every
     * wait, is what tells whether a request is there (zmq_getsockopt(3)).
     * Waiting with poll() on it and the two pipes costs fewer system calls
     * per round than zmq_poll, which asks ZMQ_EVENTS around its own wait. */
    int zfd = -1;
    size_t fdlen = sizeof zfd;
    if (zmq_getsockopt(s->router, ZMQ_FD, &zfd, &fdlen) < 0) {
        kg_log(KG_LOG_ERROR, "ZMQ_FD: %s", zmq_strerror(errno));
        return;
    }
    while (!s->stopping) {
        if (signal_pending) {
            handle_signals(s);
            continue; /* it may have set stopping */
        }
        if (atomic_load(&s->reload_done)) {
            char buf[16];
            while (read(s->done_pipe[0], buf, sizeof buf) > 0)
                ;
            atomic_store(&s->reload_done, false);
            kg_server_reload_finish(s);
        }
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(s->router, ZMQ_EVENTS, &events, &len) < 0) {
            kg_log(KG_LOG_ERROR, "ZMQ_EVENTS: %s", zmq_strerror(errno));
            break;
        }
        if (events & ZMQ_POLLIN) {
            run_round(s);
        } else {
            struct pollfd p[3] = {{zfd, POLLIN, 0},
                                  {s->sig_pipe[0], POLLIN, 0},
                                  {s->done_pipe[0], POLLIN, 0}};
            int rc = poll(p, 3, ticking ? 100 : -1);
            if (rc < 0 && errno != EINTR) {
                kg_log(KG_LOG_ERROR, "poll: %s", strerror(errno));
                break;
            }
            /* A signal may be caught by another thread, which sets
             * signal_pending and writes the pipe after this thread looked
             * at the flag: the pipe's byte is the news then. */
            if (p[1].revents)
                handle_signals(s);
            /* The reload worker sets reload_done before it writes its
             * byte, so the flag (handled at the top) is already there;
             * the byte only has to go, or poll would not sleep again. */
            if (p[2].revents) {
                char buf[16];
                while (read(s->done_pipe[0], buf, sizeof buf) > 0)
                    ;
            }
        }
        if (ticking && !s->read_only) {
            uint64_t now = kg_query_clock_ns() / 1000000u;
            if (now - last_tick < 50)
                continue;
            last_tick = now;
            kg_error err;
            if (kg_journal_tick(s->j, now, &err)) {
                char why[KG_ERROR_MESSAGE_MAX + 64];
                snprintf(why, sizeof why, "journal sync failed: %s", err.message);
                go_read_only(s, why);
                rebuild(s);
            }
        }
    }
}

int kg_server_run(const kg_server_config *cfg)
{
    kg_server s;
    memset(&s, 0, sizeof s);
    atomic_init(&s.reload_done, false);
    s.cfg = cfg;
    s.sig_pipe[0] = s.sig_pipe[1] = s.done_pipe[0] = s.done_pipe[1] = -1;
    s.started_ns = kg_query_clock_ns();
    kg_proto_limits_init(&s.lim);
    s.lim.max_bytes = cfg->max_request_bytes;
    s.lim.utf8 = true; /* every client must be able to decode what we echo */
    int status = 1;
    kg_reload_job *job = NULL;

    if (make_pipe(s.sig_pipe) < 0 || make_pipe(s.done_pipe) < 0) {
        kg_log(KG_LOG_ERROR, "pipe: %s", strerror(errno));
        goto out;
    }
    if (init_slots(&s) < 0) {
        kg_log(KG_LOG_ERROR, "out of memory");
        goto out;
    }
    /* Bind first: a taken port fails at once, before a long load. */
    if (open_sockets(&s) < 0)
        goto out;
    install_signals(&s);

    job = kg_reload_job_new(cfg, cfg->data != NULL);
    if (!job) {
        kg_log(KG_LOG_ERROR, "out of memory");
        goto out;
    }
    kg_reload_run(job);
    if (job->rc) {
        kg_log(KG_LOG_ERROR, "%s", job->err.message);
        goto out;
    }
    if (cfg->data) {
        int rc = open_data(&s, job);
        if (rc) {
            if (rc == KG_EXIT_DATA)
                status = KG_EXIT_DATA;
            goto out;
        }
    } else {
        kg_log(KG_LOG_WARN, "no data directory (--data): changes are kept in "
               "memory only and lost at exit or reload");
    }
    s.g = job->served;
    s.base = job->base;
    job->served = job->base = NULL;
    for (size_t i = 0; i < job->n_paths; i++)
        kg_log(KG_LOG_INFO, "graph file %s", job->paths[i]);
    kg_log(KG_LOG_INFO, "loaded %zu entities, %zu relations in %.1f ms",
           kg_entity_count(s.g), kg_relation_count(s.g),
           (double)job->elapsed_ns / 1e6);
    kg_reload_job_destroy(&job);

    kg_log(KG_LOG_INFO, "listening on %s", s.bound);
    kg_log(KG_LOG_INFO, "publishing on %s", s.published);
    kg_server_notify("READY=1");
    loop(&s);
    kg_server_notify("STOPPING=1");
    status = 0;
out:
    kg_reload_job_destroy(&job);
    free_server(&s);
    if (status == 0)
        kg_log(KG_LOG_INFO, "stopped");
    return status;
}
