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

/* Open (or reopen) the DEALER socket and connect it. */
static int open_socket(kg_client *c, kg_error *err)
{
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
    if (zmq_connect(s, c->endpoint) != 0) {
        int e = zmq_errno();
        int rc = kg_error_set(err, e == EINVAL || e == EPROTONOSUPPORT ||
                                           e == ENOCOMPATPROTO
                                       ? KG_EINVAL
                                       : KG_EIO,
                              "cannot connect to '%.200s': %s", c->endpoint,
                              zmq_strerror(e));
        zmq_close(s);
        return rc;
    }
    c->sock = s;
    return 0;
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
    /* "HOST:PORT" is the common shorthand for tcp://HOST:PORT. */
    size_t n = strlen(endpoint);
    bool bare = strstr(endpoint, "://") == NULL;
    c->endpoint = malloc(n + (bare ? 7 : 1));
    c->w = kg_writer_new();
    c->ctx = zmq_ctx_new();
    c->timeout_ms = KG_CLIENT_DEFAULT_TIMEOUT_MS;
    c->next_id = 1;
    if (!c->endpoint || !c->w || !c->ctx) {
        kg_error_set(err, KG_ENOMEM, "out of memory");
        kg_client_destroy(&c);
        return NULL;
    }
    snprintf(c->endpoint, n + (bare ? 7 : 1), "%s%s", bare ? "tcp://" : "",
             endpoint);
    if (open_socket(c, err) != 0)
        kg_client_destroy(&c);
    return c;
}

void kg_client_destroy(kg_client **cp)
{
    if (!cp || !*cp)
        return;
    kg_client *c = *cp;
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    kg_writer_destroy(&c->w);
    free(c->endpoint);
    free(c);
    *cp = NULL;
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

static uint64_t now_ms(void)
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
            uint64_t t = now_ms();
            if (t >= deadline)
                return 0;
            wait = (long)(deadline - t);
        }
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, wait);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return zmq_fail(err, KG_EIO, "cannot poll", c->endpoint);
        }
        if (n == 0)
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

/* Check the shape of a reply to request id. 1 = ours, 0 = someone else's
 * (a late reply), <0 = not a protocol reply. */
static int check_reply(const kg_value *rep, int64_t id, kg_error *err)
{
    if (kg_value_type_of(rep) != KG_VAL_MAP)
        return kg_error_set(err, KG_EIO, "reply: expected a map, got %s",
                            kg_value_type_name(kg_value_type_of(rep)));
    const kg_value *rid = kg_value_get(rep, "id");
    int64_t got;
    /* A nil id is an error about a request the server could not read
     * (parse, an oversized body): with one request in flight, ours. */
    if (rid && rid->type != KG_VAL_NIL &&
        (kg_value_get_int(rid, &got) != 0 || got != id))
        return 0;
    bool ok;
    if (kg_value_get_bool(kg_value_get(rep, "ok"), &ok) != 0)
        return kg_error_set(err, KG_EIO, "reply: no \"ok\" boolean");
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
    uint64_t deadline = c->timeout_ms > 0 ? now_ms() + (uint64_t)c->timeout_ms : 0;
    zmq_msg_t body;
    zmq_msg_init(&body);
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    lim.max_bytes = (size_t)REPLY_MAX_BYTES;
    lim.max_items = REPLY_MAX_ITEMS;
    for (;;) {
        rc = recv_message(c, deadline, &body, err);
        if (rc <= 0) {
            if (rc == 0)
                rc = kg_error_set(err, KG_ETIMEOUT, "no reply from %s within "
                                  "%d ms", c->endpoint, c->timeout_ms);
            zmq_msg_close(&body);
            return reset_after(c, rc);
        }
        kg_value *rep = NULL;
        kg_error derr;
        rc = kg_proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &lim,
                             &rep, &derr);
        if (rc) {
            zmq_msg_close(&body);
            if (rc == KG_ENOMEM)
                return kg_error_set(err, rc, "out of memory");
            return reset_after(c, kg_error_set(err, KG_EIO, "reply from %s: "
                                               "%s", c->endpoint, derr.message));
        }
        rc = check_reply(rep, id, err);
        if (rc == 0) {
            kg_value_destroy(&rep);
            continue; /* a late reply to an earlier request */
        }
        zmq_msg_close(&body);
        if (rc < 0) {
            kg_value_destroy(&rep);
            return reset_after(c, rc);
        }
        bool ok = false;
        kg_value_get_bool(kg_value_get(rep, "ok"), &ok);
        if (!ok) {
            rc = reply_error(rep, err);
            kg_value_destroy(&rep);
            return rc;
        }
        const kg_value *res = kg_value_get(rep, "result");
        if (!res) {
            kg_value_destroy(&rep);
            return kg_error_set(err, KG_EIO, "reply: ok but no \"result\"");
        }
        *reply = rep;
        if (result)
            *result = res;
        return 0;
    }
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

/* ---- request building ---------------------------------------------------- */

kg_value *kg_cl_request_new(const char *op)
{
    kg_value *m = kg_value_new_map();
    if (m && kg_cl_set_str(m, "op", op) != 0)
        kg_value_destroy(&m);
    return m;
}

int kg_cl_set_str(kg_value *map, const char *key, const char *s)
{
    if (!s)
        return 0;
    kg_value *v = kg_value_new_str(s);
    return v ? kg_value_map_set(map, key, v) : KG_ENOMEM;
}

int kg_cl_set_int(kg_value *map, const char *key, int64_t i)
{
    kg_value *v = kg_value_new_int(i);
    return v ? kg_value_map_set(map, key, v) : KG_ENOMEM;
}

int kg_cl_set_bool(kg_value *map, const char *key, bool b)
{
    kg_value *v = kg_value_new_bool(b);
    return v ? kg_value_map_set(map, key, v) : KG_ENOMEM;
}
