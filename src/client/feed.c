/* feed.c - the change feed's subscriber (include/kg/client.h): a SUB
 * socket on kgd's PUB endpoint; each [topic, body] message becomes one
 * change record through kg_proto_change_from_value, the reader of what
 * the server writes with kg_proto_write_change (kg/proto.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "client_int.h"

/* A published change is one relation or entity with its qualifiers and
 * evidence: far below the request limit, which also bounds it. */
#define FEED_MAX_BYTES ((int64_t)KG_PROTO_MAX_BYTES)

struct kg_feed {
    void *ctx;
    void *sock;
    char *endpoint;
};

kg_feed *kg_feed_new(const char *endpoint, const char *const *topics,
                     size_t n, kg_error *err)
{
    if (!endpoint)
        endpoint = KG_CLIENT_DEFAULT_FEED;
    if (!endpoint[0]) {
        kg_error_set(err, KG_EINVAL, "empty endpoint");
        return NULL;
    }
    kg_feed *f = calloc(1, sizeof *f);
    if (f) {
        f->endpoint = kg_client_endpoint_dup(endpoint);
        f->ctx = zmq_ctx_new();
    }
    if (!f || !f->endpoint || !f->ctx) {
        kg_error_set(err, KG_ENOMEM, "out of memory");
        kg_feed_destroy(&f);
        return NULL;
    }
    f->sock = zmq_socket(f->ctx, ZMQ_SUB);
    int zero = 0;
    int64_t maxmsg = FEED_MAX_BYTES;
    if (!f->sock || zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(f->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg)) {
        kg_error_set(err, KG_EIO, "cannot create a socket for %s: %s",
                     f->endpoint, zmq_strerror(zmq_errno()));
        kg_feed_destroy(&f);
        return NULL;
    }
    for (size_t i = 0; i < (n ? n : 1); i++) {
        const char *t = n ? topics[i] : "";
        if (!t || zmq_setsockopt(f->sock, ZMQ_SUBSCRIBE, t, strlen(t))) {
            kg_error_set(err, KG_EINVAL, "cannot subscribe to '%s'",
                         t ? t : "(null)");
            kg_feed_destroy(&f);
            return NULL;
        }
    }
    if (zmq_connect(f->sock, f->endpoint) != 0) {
        int e = zmq_errno();
        kg_error_set(err, e == EINVAL || e == EPROTONOSUPPORT ? KG_EINVAL : KG_EIO,
                     "cannot connect to '%.200s': %s", f->endpoint, zmq_strerror(e));
        kg_feed_destroy(&f);
        return NULL;
    }
    return f;
}

void kg_feed_destroy(kg_feed **fp)
{
    if (!fp || !*fp)
        return;
    kg_feed *f = *fp;
    if (f->sock)
        zmq_close(f->sock);
    if (f->ctx)
        zmq_ctx_term(f->ctx);
    free(f->endpoint);
    free(f);
    *fp = NULL;
}

int kg_client_feed_endpoint(kg_client *c, char **out, kg_error *err)
{
    *out = NULL;
    kg_value *req = kg_value_new_map(), *res = NULL;
    int rc = !req || kg_value_map_set(req, "op", kg_value_new_str("stats"))
                 ? kg_error_set(err, KG_ENOMEM, "out of memory")
                 : kg_client_call(c, req, &res, err);
    kg_value_destroy(&req);
    if (rc)
        return rc;
    const char *ep = kg_client_endpoint(c);
    const char *feed = kg_value_cstr(kg_value_get(res, "feed"));
    static const char *const wild[] = {"tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:"};
    size_t w = 0;
    while (feed && w < sizeof wild / sizeof *wild && strncmp(feed, wild[w], strlen(wild[w])))
        w++;
    if (!feed || !strstr(feed, "://")) {
        rc = kg_error_set(err, KG_EUNSUPPORTED, "%s does not say where its change "
                          "feed is", ep);
    } else if (w == sizeof wild / sizeof *wild) {
        if (!(*out = strdup(feed)))
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
    } else if (strncmp(ep, "tcp://", 6)) {
        rc = kg_error_set(err, KG_EINVAL, "the change feed %s is on tcp, the daemon "
                          "is reached on %s", feed, ep);
    } else {
        /* the host of the request endpoint, the port of the feed */
        const char *host = ep + 6, *colon = strrchr(host, ':');
        const char *port = feed + strlen(wild[w]);
        size_t hlen = colon ? (size_t)(colon - host) : strlen(host);
        size_t n = 6 + hlen + 1 + strlen(port) + 1;
        if (!(*out = malloc(n)))
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
        else
            snprintf(*out, n, "tcp://%.*s:%s", (int)hlen, host, port);
    }
    kg_value_destroy(&res);
    return rc;
}

const char *kg_feed_endpoint(const kg_feed *f)
{
    return f ? f->endpoint : "";
}

/* Wait for a message: 1 there is one, 0 timed out, <0 error (err set). */
static int wait_message(kg_feed *f, int timeout_ms, kg_error *err)
{
    uint64_t deadline = timeout_ms >= 0 ? kg_client_now_ms() + (uint64_t)timeout_ms : 0;
    for (;;) {
        long wait = -1;
        if (timeout_ms >= 0) {
            uint64_t t = kg_client_now_ms();
            wait = t >= deadline ? 0 : (long)(deadline - t);
        }
        zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, wait);
        if (n > 0)
            return 1;
        if (n < 0 && zmq_errno() != EINTR)
            return kg_error_set(err, KG_EIO, "cannot poll %s: %s", f->endpoint,
                                zmq_strerror(zmq_errno()));
        if (n == 0 && wait >= 0 && kg_client_now_ms() >= deadline)
            return 0;
    }
}

/* Read one whole message: its first frame (the topic) and its last (the
 * body). 0 or <0 (err set). */
static int read_message(kg_feed *f, zmq_msg_t *topic, zmq_msg_t *body,
                        size_t *frames, kg_error *err)
{
    *frames = 0;
    for (;;) {
        zmq_msg_t *into = *frames == 0 ? topic : body;
        zmq_msg_close(into);
        zmq_msg_init(into);
        if (zmq_msg_recv(into, f->sock, ZMQ_DONTWAIT) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return kg_error_set(err, KG_EIO, "cannot receive from %s: %s",
                                f->endpoint, zmq_strerror(zmq_errno()));
        }
        ++*frames;
        if (!zmq_msg_more(into))
            return 0;
    }
}

int kg_feed_next(kg_feed *f, int timeout_ms, uint64_t *seq, kg_batch *out,
                 kg_error *err)
{
    if (!f || !out)
        return kg_error_set(err, KG_EINVAL, "feed: no feed or batch");
    int rc = wait_message(f, timeout_ms, err);
    if (rc <= 0)
        return rc < 0 ? KG_EIO
                      : kg_error_set(err, KG_ETIMEOUT, "no change from %s within "
                                     "%d ms", f->endpoint, timeout_ms);
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    size_t frames;
    rc = read_message(f, &topic, &body, &frames, err);
    kg_value *m = NULL;
    if (!rc && frames != 2)
        rc = kg_error_set(err, KG_EPARSE, "a change is [topic, body], not %zu "
                          "frame%s", frames, frames == 1 ? "" : "s");
    if (!rc) {
        kg_proto_limits lim;
        kg_proto_limits_init(&lim);
        lim.utf8 = true;
        kg_error derr;
        int d = kg_proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &lim,
                                &m, &derr);
        if (d == KG_ENOMEM)
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
        else if (d)
            rc = kg_error_set(err, KG_EPARSE, "%s", derr.message);
        else if ((d = kg_proto_change_from_value(m, out, seq, &derr)))
            rc = kg_error_set(err, d == KG_ENOMEM ? KG_ENOMEM : KG_EPARSE, "%s",
                              derr.message);
    }
    kg_value_destroy(&m);
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return rc;
}
