/* client.c - the transport of the kgd client: a DEALER socket, request
 * ids, timeouts, and the generic call (include/kg/client.h).
 *
 * Why DEALER and not REQ: a REQ socket that timed out waiting for a reply
 * refuses to send again until it is closed, and a late reply would then
 * answer the wrong request. A DEALER has no such state machine; each
 * request carries an "id" and replies with another id are dropped. After a
 * timeout the socket is recreated anyway so that requests still queued for
 * an unreachable server are discarded instead of being delivered (and
 * executed - an add!) when it comes back.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "client_int.h"

/* Replies can be big (an export of a large graph), but never unbounded:
 * ZeroMQ refuses larger messages before allocating them. */
#define REPLY_MAX_BYTES ((int64_t)1 << 30)
#define REPLY_MAX_ITEMS ((size_t)1 << 24)

struct kg_client {
    void *ctx;
    void *sock;
    void *mon;       /* fail fast: the socket's connection events, until one connects */
    unsigned mon_gen; /* makes each monitor's inproc address unique */
    bool fail_fast;
    char *endpoint;
    int timeout_ms;
    int64_t next_id;
    kg_writer *w;
};

static int zmq_fail(kg_error *err, int code, const char *what,
                    const char *endpoint)
{
    return kg_error_set(err, code, "%s %s: %s", what, endpoint,
                        zmq_strerror(zmq_errno()));
}

/* Stop monitoring s (the socket c->mon watches) and close the monitor. */
static void close_monitor(kg_client *c, void *s)
{
    if (!c->mon)
        return;
    if (s)
        zmq_socket_monitor(s, NULL, 0);
    zmq_close(c->mon);
    c->mon = NULL;
}

/* Fail fast: watch s's connection attempts on an inproc PAIR. Without it
 * (it could not be set up) requests just wait for their timeout. */
static void open_monitor(kg_client *c, void *s)
{
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://kg-client-%p-%u", (void *)c, ++c->mon_gen);
    if (zmq_socket_monitor(s, addr, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED))
        return;
    void *m = zmq_socket(c->ctx, ZMQ_PAIR);
    int zero = 0;
    if (!m || zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof zero) || zmq_connect(m, addr)) {
        if (m)
            zmq_close(m);
        zmq_socket_monitor(s, NULL, 0);
        return;
    }
    c->mon = m;
}

/* Read one monitor event ([event number (16 bits, host order) + value,
 * endpoint]). KG_EIO (err set) when a connection attempt failed before
 * any succeeded; else 0 (after a connection, monitoring ends). */
static int monitor_event(kg_client *c, kg_error *err)
{
    zmq_msg_t head, addr;
    zmq_msg_init(&head);
    zmq_msg_init(&addr);
    int rc = 0;
    if (zmq_msg_recv(&head, c->mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&head) &&
        zmq_msg_recv(&addr, c->mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&head) >= 2) {
        uint16_t event;
        memcpy(&event, zmq_msg_data(&head), sizeof event);
        if (event == ZMQ_EVENT_CONNECT_RETRIED)
            rc = kg_error_set(err, KG_EIO, "nothing listens on %s (connection "
                              "refused)", c->endpoint);
        else if (event == ZMQ_EVENT_CONNECTED)
            close_monitor(c, c->sock); /* connected once: from now on, wait as usual */
    }
    zmq_msg_close(&head);
    zmq_msg_close(&addr);
    return rc;
}

/* Open (or reopen) the DEALER socket and connect it. */
static int open_socket(kg_client *c, kg_error *err)
{
    close_monitor(c, c->sock);
    if (c->sock) {
        zmq_close(c->sock);
        c->sock = NULL;
    }
    void *s = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!s)
        return zmq_fail(err, KG_EIO, "cannot create a socket for", c->endpoint);
    int zero = 0;
    int64_t maxmsg = REPLY_MAX_BYTES;
    int sndtimeo = c->timeout_ms > 0 ? c->timeout_ms : -1;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo)) {
        int rc = zmq_fail(err, KG_EIO, "cannot configure the socket for",
                          c->endpoint);
        zmq_close(s);
        return rc;
    }
    if (c->fail_fast)
        open_monitor(c, s);
    if (zmq_connect(s, c->endpoint) != 0) {
        int e = zmq_errno();
        int rc = kg_error_set(err, e == EINVAL || e == EPROTONOSUPPORT ||
                                           e == ENOCOMPATPROTO
                                       ? KG_EINVAL
                                       : KG_EIO,
                              "cannot connect to '%.200s': %s", c->endpoint,
                              zmq_strerror(e));
        close_monitor(c, s);
        zmq_close(s);
        return rc;
    }
    c->sock = s;
    return 0;
}

char *kg_client_endpoint_dup(const char *endpoint)
{
    size_t n = strlen(endpoint);
    bool bare = strstr(endpoint, "://") == NULL;
    char *out = malloc(n + (bare ? 7 : 1));
    if (out)
        snprintf(out, n + (bare ? 7 : 1), "%s%s", bare ? "tcp://" : "", endpoint);
    return out;
}

kg_client *kg_client_new(const char *endpoint, kg_error *err)
{
    if (!endpoint)
        endpoint = KG_CLIENT_DEFAULT_ENDPOINT;
    if (!endpoint[0]) {
        kg_error_set(err, KG_EINVAL, "empty endpoint");
        return NULL;
    }
    kg_client *c = calloc(1, sizeof *c);
    if (!c) {
        kg_error_set(err, KG_ENOMEM, "out of memory");
        return NULL;
    }
    c->endpoint = kg_client_endpoint_dup(endpoint);
    c->w = kg_writer_new();
    c->ctx = zmq_ctx_new();
    c->timeout_ms = KG_CLIENT_DEFAULT_TIMEOUT_MS;
    c->next_id = 1;
    if (!c->endpoint || !c->w || !c->ctx) {
        kg_error_set(err, KG_ENOMEM, "out of memory");
        kg_client_destroy(&c);
        return NULL;
    }
    if (open_socket(c, err) != 0)
        kg_client_destroy(&c);
    return c;
}

void kg_client_destroy(kg_client **cp)
{
    if (!cp || !*cp)
        return;
    kg_client *c = *cp;
    close_monitor(c, c->sock);
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    kg_writer_destroy(&c->w);
    free(c->endpoint);
    free(c);
    *cp = NULL;
}

void kg_client_set_fail_fast(kg_client *c, bool on)
{
    if (!c || c->fail_fast == on)
        return;
    c->fail_fast = on;
    kg_error tmp;
    open_socket(c, &tmp); /* with or without its monitor */
}

void kg_client_set_timeout(kg_client *c, int timeout_ms)
{
    if (!c)
        return;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    int sndtimeo = c->timeout_ms > 0 ? c->timeout_ms : -1;
    if (c->sock)
        zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
}

int kg_client_timeout(const kg_client *c)
{
    return c ? c->timeout_ms : 0;
}

const char *kg_client_endpoint(const kg_client *c)
{
    return c ? c->endpoint : NULL;
}

int kg_client_error_code(const char *code)
{
    static const struct {
        const char *name;
        int code;
    } map[] = {
        {"parse", KG_EPARSE},       {"invalid", KG_EINVAL},
        {"unsupported", KG_EUNSUPPORTED}, {"not_found", KG_ENOTFOUND},
        {"limit", KG_ELIMIT},       {"timeout", KG_ETIMEOUT},
        {"io", KG_EIO},             {"busy", KG_EBUSY},
        {"nomem", KG_ENOMEM},
    };
    if (code)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(code, map[i].name) == 0)
                return map[i].code;
    return KG_EIO; /* "internal" and codes this client does not know */
}

uint64_t kg_client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Encode request with our id in place of any "id" it has. */
static int encode(kg_client *c, const kg_value *req, int64_t id, kg_error *err)
{
    if (kg_value_type_of(req) != KG_VAL_MAP)
        return kg_error_set(err, KG_EINVAL, "request: expected a map, got %s",
                            kg_value_type_name(kg_value_type_of(req)));
    if (kg_value_cstr(kg_value_get(req, "op")) == NULL)
        return kg_error_set(err, KG_EINVAL, "request: no \"op\" string");
    size_t n = 0;
    for (size_t i = 0; i < kg_value_len(req); i++)
        if (strcmp(kg_value_entry(req, i)->key, "id") != 0)
            n++;
    kg_writer_reset(c->w);
    kg_write_map(c->w, n + 1);
    kg_write_str(c->w, "id");
    kg_write_int(c->w, id);
    for (size_t i = 0; i < kg_value_len(req); i++) {
        const kg_kv *kv = kg_value_entry(req, i);
        if (strcmp(kv->key, "id") == 0)
            continue;
        kg_write_strn(c->w, kv->key, kv->key_len);
        kg_write_value(c->w, &kv->value);
    }
    if (kg_writer_error(c->w))
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    return 0;
}

/* The transport failed or timed out: start over with a fresh socket so
 * that nothing stale is delivered later, and return code. */
static int reset_after(kg_client *c, int code)
{
    kg_error tmp;
    /* On failure c->sock stays NULL and the next call tries again; the
     * caller's error message (the first failure) is kept. */
    open_socket(c, &tmp);
    return code;
}

/* Receive one whole message; *body gets its last frame. 1 when a message
 * came, 0 on timeout, <0 on error. */
static int recv_message(kg_client *c, uint64_t deadline, zmq_msg_t *body,
                        kg_error *err)
{
    for (;;) {
        long wait = -1;
        if (deadline) {
            uint64_t t = kg_client_now_ms();
            if (t >= deadline)
                return 0;
            wait = (long)(deadline - t);
        }
        zmq_pollitem_t it[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(it, c->mon ? 2 : 1, wait);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return zmq_fail(err, KG_EIO, "cannot poll", c->endpoint);
        }
        if (n > 0 && c->mon && (it[1].revents & ZMQ_POLLIN)) {
            int rc = monitor_event(c, err);
            if (rc)
                return rc;
        }
        if (!(it[0].revents & ZMQ_POLLIN))
            continue; /* re-check the deadline */
        /* A whole multipart message is there: read every frame, keep the
         * last (the body; the ones before are the envelope). */
        for (;;) {
            zmq_msg_close(body);
            zmq_msg_init(body);
            if (zmq_msg_recv(body, c->sock, ZMQ_DONTWAIT) < 0) {
                if (zmq_errno() == EINTR)
                    continue;
                return zmq_fail(err, KG_EIO, "cannot receive from", c->endpoint);
            }
            if (!zmq_msg_more(body))
                return 1;
        }
    }
}

/* The id a reply answers. 1: *id set; 0: nil or no id (an error about a
 * request the server could not read); <0: not a protocol reply (err set). */
static int reply_id(const kg_value *rep, int64_t *id, kg_error *err)
{
    if (kg_value_type_of(rep) != KG_VAL_MAP)
        return kg_error_set(err, KG_EIO, "reply: expected a map, got %s",
                            kg_value_type_name(kg_value_type_of(rep)));
    bool ok;
    if (kg_value_get_bool(kg_value_get(rep, "ok"), &ok) != 0)
        return kg_error_set(err, KG_EIO, "reply: no \"ok\" boolean");
    const kg_value *rid = kg_value_get(rep, "id");
    if (!rid || rid->type == KG_VAL_NIL)
        return 0;
    if (kg_value_get_int(rid, id) != 0)
        *id = -1; /* not one of ours: dropped as a late reply */
    return 1;
}

/* Turn an ok: false reply into a code and message. */
static int reply_error(const kg_value *rep, kg_error *err)
{
    const kg_value *e = kg_value_get(rep, "error");
    const char *code = kg_value_cstr(kg_value_get(e, "code"));
    const char *msg = kg_value_cstr(kg_value_get(e, "message"));
    if (!msg)
        msg = "";
    int rc = kg_client_error_code(code);
    if (code && rc == KG_EIO && strcmp(code, "io") != 0)
        return kg_error_set(err, rc, "server internal error (%.64s): %s", code,
                            msg);
    if (!code)
        return kg_error_set(err, KG_EIO, "reply: ok is false but no error "
                            "code: %s", msg);
    if (!msg[0])
        return kg_error_set(err, rc, "%s", code);
    return kg_error_set(err, rc, "%s", msg);
}

/* What a protocol reply says: 0 with *result pointing into rep, or the
 * mapped error code with err set. */
static int reply_outcome(const kg_value *rep, const kg_value **result,
                         kg_error *err)
{
    bool ok = false;
    kg_value_get_bool(kg_value_get(rep, "ok"), &ok);
    if (!ok)
        return reply_error(rep, err);
    *result = kg_value_get(rep, "result");
    if (!*result)
        return kg_error_set(err, KG_EIO, "reply: ok but no \"result\"");
    return 0;
}

/* Encode request with id and queue it. 0; KG_EINVAL or KG_ENOMEM for a
 * request that cannot be encoded (the socket is fine); or a transport
 * error or timeout, after which the socket has been recreated. */
static int send_request(kg_client *c, const kg_value *request, int64_t id,
                        kg_error *err)
{
    int rc = encode(c, request, id, err);
    if (rc)
        return rc;
    size_t len;
    const char *data = kg_writer_data(c->w, &len);
    /* ["", body]: the same envelope as a REQ socket, so that the reply
     * comes back as ["", body] too. */
    if (zmq_send(c->sock, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(c->sock, data, len, 0) < 0) {
        if (zmq_errno() == EAGAIN)
            rc = kg_error_set(err, KG_ETIMEOUT, "cannot send to %s within %d ms",
                              c->endpoint, c->timeout_ms);
        else
            rc = zmq_fail(err, KG_EIO, "cannot send to", c->endpoint);
        return reset_after(c, rc);
    }
    return 0;
}

/* The next reply, decoded, within the client's timeout. 0 with *rep
 * (caller owns), or an error or timeout after which the socket has been
 * recreated (KG_ENOMEM leaves it). */
static int next_reply(kg_client *c, kg_value **rep, kg_error *err)
{
    *rep = NULL;
    uint64_t deadline = c->timeout_ms > 0 ? kg_client_now_ms() + (uint64_t)c->timeout_ms : 0;
    zmq_msg_t body;
    zmq_msg_init(&body);
    int rc = recv_message(c, deadline, &body, err);
    if (rc <= 0) {
        if (rc == 0)
            rc = kg_error_set(err, KG_ETIMEOUT, "no reply from %s within "
                              "%d ms", c->endpoint, c->timeout_ms);
        zmq_msg_close(&body);
        return reset_after(c, rc);
    }
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    lim.max_bytes = (size_t)REPLY_MAX_BYTES;
    lim.max_items = REPLY_MAX_ITEMS;
    kg_error derr;
    rc = kg_proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &lim, rep,
                         &derr);
    zmq_msg_close(&body);
    if (rc == KG_ENOMEM)
        return kg_error_set(err, rc, "out of memory");
    if (rc)
        return reset_after(c, kg_error_set(err, KG_EIO, "reply from %s: %s",
                                           c->endpoint, derr.message));
    return 0;
}

int kg_client_request(kg_client *c, const kg_value *request, kg_value **reply,
                      const kg_value **result, kg_error *err)
{
    *reply = NULL;
    if (result)
        *result = NULL;
    if (!c)
        return kg_error_set(err, KG_EINVAL, "no client");
    if (!c->sock) {
        int rc = open_socket(c, err);
        if (rc)
            return rc;
    }
    int64_t id = c->next_id++;
    int rc = send_request(c, request, id, err);
    if (rc)
        return rc;
    for (;;) {
        kg_value *rep;
        if ((rc = next_reply(c, &rep, err)))
            return rc;
        int64_t got;
        rc = reply_id(rep, &got, err);
        if (rc < 0) {
            kg_value_destroy(&rep);
            return reset_after(c, rc);
        }
        /* With one request in flight, a reply without an id is ours. */
        if (rc == 1 && got != id) {
            kg_value_destroy(&rep);
            continue; /* a late reply to an earlier request */
        }
        const kg_value *res;
        if ((rc = reply_outcome(rep, &res, err))) {
            kg_value_destroy(&rep);
            return rc;
        }
        *reply = rep;
        if (result)
            *result = res;
        return 0;
    }
}

/* ---- many requests in flight ------------------------------------------- */

/* The call failed with rc (err): so did every job without an outcome. */
static int fail_pending(kg_client_job *jobs, const bool *done, size_t n, int rc,
                        const kg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        jobs[i].rc = rc;
        jobs[i].err = *err;
    }
    return rc;
}

int kg_client_pipeline(kg_client *c, kg_client_job *jobs, size_t n,
                       size_t window, kg_error *err)
{
    kg_error local;
    if (!err)
        err = &local;
    for (size_t i = 0; i < n; i++) {
        jobs[i].rc = 0;
        jobs[i].result = NULL;
        kg_error_clear(&jobs[i].err);
    }
    if (!c)
        return kg_error_set(err, KG_EINVAL, "no client");
    if (n == 0)
        return 0;
    bool *done = calloc(n, sizeof *done);
    if (!done)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    int rc = 0;
    if (!c->sock && (rc = open_socket(c, err))) {
        rc = fail_pending(jobs, done, n, rc, err);
        free(done);
        return rc;
    }
    if (window == 0)
        window = KG_CLIENT_DEFAULT_WINDOW;
    /* Job i has id base + i. */
    int64_t base = c->next_id;
    c->next_id += (int64_t)n;
    size_t sent = 0, finished = 0, anonymous = 0;
    kg_error anon_err;
    int anon_rc = 0;
    while (finished + anonymous < n) {
        while (sent < n && sent - finished - anonymous < window) {
            size_t i = sent++;
            rc = send_request(c, jobs[i].request, base + (int64_t)i, &jobs[i].err);
            if (rc == KG_EINVAL || rc == KG_ENOMEM) {
                jobs[i].rc = rc; /* this one only */
                done[i] = true;
                finished++;
                continue;
            }
            if (rc) {
                *err = jobs[i].err;
                goto fail;
            }
        }
        if (finished + anonymous == n)
            break;
        kg_value *rep;
        if ((rc = next_reply(c, &rep, err)))
            goto fail;
        int64_t id;
        int has = reply_id(rep, &id, err);
        if (has < 0) {
            kg_value_destroy(&rep);
            rc = reset_after(c, has);
            goto fail;
        }
        if (has == 0) {
            /* An error about a request the server could not read: which
             * one is not said; it is one of those left at the end. */
            anon_rc = reply_error(rep, &anon_err);
            anonymous++;
            kg_value_destroy(&rep);
            continue;
        }
        if (id < base || id >= base + (int64_t)sent || done[id - base]) {
            kg_value_destroy(&rep);
            continue; /* a late reply to an earlier call */
        }
        kg_client_job *j = &jobs[id - base];
        const kg_value *res;
        j->rc = reply_outcome(rep, &res, &j->err);
        if (j->rc == 0 && !(j->result = kg_value_clone(res)))
            j->rc = kg_error_set(&j->err, KG_ENOMEM, "out of memory");
        kg_value_destroy(&rep);
        done[id - base] = true;
        finished++;
    }
    if (anonymous)
        fail_pending(jobs, done, n, anon_rc, &anon_err);
    free(done);
    return 0;
fail:
    rc = fail_pending(jobs, done, n, rc, err);
    free(done);
    return rc;
}

void kg_client_jobs_clear(kg_client_job *jobs, size_t n)
{
    for (size_t i = 0; jobs && i < n; i++)
        kg_value_destroy(&jobs[i].result);
}

int kg_client_call(kg_client *c, const kg_value *request, kg_value **result,
                   kg_error *err)
{
    if (result)
        *result = NULL;
    kg_value *rep;
    const kg_value *res;
    int rc = kg_client_request(c, request, &rep, &res, err);
    if (rc)
        return rc;
    if (result) {
        *result = kg_value_clone(res);
        if (!*result)
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    kg_value_destroy(&rep);
    return rc;
}
