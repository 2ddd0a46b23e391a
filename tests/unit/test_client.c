/* test_client.c - the C client (include/kg/client.h) against a tiny ROUTER
 * in a thread of this test that answers with canned replies: framing,
 * request ids, late replies, timeouts and reconnection, error mapping, and
 * the loading of typed replies into a local graph. Real behaviour against
 * kgd is tested in tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>
#include <zmq.h>

#include "kg/client.h"

/* ---- the fake server --------------------------------------------------------- */

/* What the handler wants the server to do with a request. */
enum { REPLY = 0, NO_REPLY = 1, RAW = 2 };

typedef struct fake fake;
/* Write the reply body for req into w (or return NO_REPLY, or RAW with
 * bytes in w sent as they are). */
typedef int (*handler_fn)(fake *f, const kg_value *req, int64_t id, kg_writer *w);

struct fake {
    void *ctx, *router;
    char endpoint[256];
    pthread_t thread;
    handler_fn handler;
    volatile int stop;
    int stale_first;     /* send a reply with another id first */
    int hold;            /* > 0: keep replies until this many, then send
                            them in reverse order */
    int requests;        /* how many the server got */
    int envelope_frames; /* frames before the body of the last request */
    kg_value *last;      /* the last request (decoded, clone) */
};

static void w_kv_str(kg_writer *w, const char *k, const char *v)
{
    kg_write_str(w, k);
    kg_write_str(w, v);
}

static void w_kv_int(kg_writer *w, const char *k, int64_t v)
{
    kg_write_str(w, k);
    kg_write_int(w, v);
}

static void w_kv_bool(kg_writer *w, const char *k, bool v)
{
    kg_write_str(w, k);
    kg_write_bool(w, v);
}

/* {"id": id, "ok": true, "result": <header only: caller writes a map of n>} */
static void w_ok(kg_writer *w, int64_t id, size_t n)
{
    kg_write_map(w, 3);
    w_kv_int(w, "id", id);
    w_kv_bool(w, "ok", true);
    kg_write_str(w, "result");
    kg_write_map(w, n);
}

/* {"id": *id, "ok": false, "error": {code, message}}; id NULL: "id" is nil,
 * as kgd answers a request it could not read. */
static void w_err(kg_writer *w, const int64_t *id, const char *code,
                  const char *msg)
{
    kg_write_map(w, 3);
    kg_write_str(w, "id");
    if (id)
        kg_write_int(w, *id);
    else
        kg_write_nil(w);
    w_kv_bool(w, "ok", false);
    kg_write_str(w, "error");
    kg_write_map(w, 2);
    w_kv_str(w, "code", code);
    w_kv_str(w, "message", msg);
}

static void w_rel(kg_writer *w, const char *s, const char *r, const char *o,
                  const char *qk, const char *qv)
{
    kg_pair q = {qk, qv};
    kg_pair p = {"source", "test"};
    kg_relation_spec spec = {.subject = s, .relation = r, .object = o,
                             .quals = qk ? &q : NULL, .n_quals = qk ? 1 : 0,
                             .prov = &p, .n_prov = 1};
    /* no cmocka assert here: this runs in the server thread */
    kg_proto_write_relation_spec(w, &spec);
}

/* "entities": [China], "relations": [China -tariffs-on-> cognac, with
 * qualifier qk=qv when qk]: the graph in subgraph and extract replies. */
static void w_china_graph(kg_writer *w, const char *qk, const char *qv)
{
    kg_write_str(w, "entities");
    kg_write_array(w, 1);
    kg_entity_spec e = {.id = "China", .kind = "country"};
    kg_proto_write_entity_spec(w, &e);
    kg_write_str(w, "relations");
    kg_write_array(w, 1);
    w_rel(w, "China", "tariffs-on", "cognac", qk, qv);
}

/* One item of a neighbors reply: a country reached at depth from `from`
 * through s -r-> o. */
static void w_neighbor(kg_writer *w, const char *entity, int64_t depth,
                       const char *from, const char *s, const char *r,
                       const char *o)
{
    kg_write_map(w, 5);
    w_kv_str(w, "entity", entity);
    w_kv_str(w, "kind", "country");
    w_kv_int(w, "depth", depth);
    w_kv_str(w, "from", from);
    kg_write_str(w, "via");
    w_rel(w, s, r, o, NULL, NULL);
}

/* A reply kept back (fake.hold): its envelope and body. */
typedef struct held {
    zmq_msg_t env[7];
    int n_env;
    char *body;
    size_t len;
} held;

static void *serve(void *arg)
{
    fake *f = arg;
    kg_writer *w = kg_writer_new();
    held kept[16];
    int n_kept = 0;
    while (!f->stop) {
        zmq_pollitem_t it = {f->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) <= 0)
            continue;
        zmq_msg_t frames[8];
        int n = 0;
        for (;;) {
            zmq_msg_init(&frames[n]);
            zmq_msg_recv(&frames[n], f->router, 0);
            int more = zmq_msg_more(&frames[n]);
            n++;
            if (!more || n == 8)
                break;
        }
        f->requests++;
        f->envelope_frames = n - 2;
        kg_value *req = NULL;
        kg_error err;
        int64_t id = -1;
        if (kg_proto_decode(zmq_msg_data(&frames[n - 1]), zmq_msg_size(&frames[n - 1]),
                            NULL, &req, &err) == 0) {
            kg_value_get_int(kg_value_get(req, "id"), &id);
            kg_value_destroy(&f->last);
            f->last = kg_value_clone(req);
        }
        kg_writer_reset(w);
        int what = f->handler(f, req, id, w);
        kg_value_destroy(&req);
        if (what != NO_REPLY) {
            size_t len;
            const char *data;
            if (f->stale_first) {
                kg_writer *s = kg_writer_new();
                w_ok(s, id + 1000, 1);
                w_kv_bool(s, "stale", true);
                data = kg_writer_data(s, &len);
                for (int i = 0; i < n - 1; i++)
                    zmq_send(f->router, zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i]),
                             ZMQ_SNDMORE);
                zmq_send(f->router, data, len, 0);
                kg_writer_destroy(&s);
            }
            data = kg_writer_data(w, &len);
            if (f->hold > 0 && f->hold <= 16) {
                held *h = &kept[n_kept++];
                h->n_env = n - 1;
                for (int i = 0; i < n - 1; i++) {
                    zmq_msg_init(&h->env[i]);
                    zmq_msg_copy(&h->env[i], &frames[i]);
                }
                h->body = malloc(len);
                memcpy(h->body, data, len);
                h->len = len;
                if (n_kept == f->hold) {
                    while (n_kept > 0) {
                        held *k = &kept[--n_kept];
                        for (int i = 0; i < k->n_env; i++) {
                            zmq_msg_send(&k->env[i], f->router, ZMQ_SNDMORE);
                            zmq_msg_close(&k->env[i]);
                        }
                        zmq_send(f->router, k->body, k->len, 0);
                        free(k->body);
                    }
                }
            } else {
                for (int i = 0; i < n - 1; i++)
                    zmq_send(f->router, zmq_msg_data(&frames[i]),
                             zmq_msg_size(&frames[i]), ZMQ_SNDMORE);
                zmq_send(f->router, data, len, 0);
            }
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&frames[i]);
    }
    for (int k = 0; k < n_kept; k++) {
        for (int i = 0; i < kept[k].n_env; i++)
            zmq_msg_close(&kept[k].env[i]);
        free(kept[k].body);
    }
    kg_writer_destroy(&w);
    return NULL;
}

static fake *fake_start(handler_fn h)
{
    fake *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->handler = h;
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof f->endpoint;
    assert_int_equal(zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    return f;
}

static void fake_stop(fake **fp)
{
    if (!*fp)
        return;
    fake *f = *fp;
    f->stop = 1;
    pthread_join(f->thread, NULL);
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    kg_value_destroy(&f->last);
    free(f);
    *fp = NULL;
}

static const char *op_of(const kg_value *req)
{
    const char *op = kg_value_cstr(kg_value_get(req, "op"));
    return op ? op : "";
}

/* ---- handlers ------------------------------------------------------------------- */

static int h_ping(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    (void)f;
    if (strcmp(op_of(req), "ping") != 0) {
        w_err(w, &id, "unsupported", "not ping");
        return REPLY;
    }
    w_ok(w, id, 2);
    w_kv_bool(w, "pong", true);
    w_kv_str(w, "version", "9.9.9");
    return REPLY;
}

/* stats with only a "feed" (this one; NULL: none). */
static const char *stats_feed;

static int h_feed_stats(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    (void)f;
    (void)req;
    w_ok(w, id, stats_feed ? 2 : 1);
    w_kv_int(w, "entities", 0);
    if (stats_feed)
        w_kv_str(w, "feed", stats_feed);
    return REPLY;
}

/* Replies with the error code given as the request's "code" argument. */
static int h_error(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    (void)f;
    const char *code = kg_value_cstr(kg_value_get(req, "code"));
    w_err(w, &id, code, "the server's own words");
    return REPLY;
}

/* The first request gets no reply, later ones a pong. */
static int h_silent_once(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    if (f->requests == 1)
        return NO_REPLY;
    return h_ping(f, req, id, w);
}

/* {"n": the request's n}; for n == 13 a not_found error, for n == 21 no
 * reply, for n == 22 an error without an id. */
static int h_number(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    (void)f;
    int64_t n = -1;
    kg_value_get_int(kg_value_get(req, "n"), &n);
    if (n == 13) {
        w_err(w, &id, "not_found", "no thirteen");
        return REPLY;
    }
    if (n == 21)
        return NO_REPLY;
    if (n == 22) {
        w_err(w, NULL, "limit", "request of 2000000 bytes");
        return REPLY;
    }
    w_ok(w, id, 1);
    w_kv_int(w, "n", n);
    return REPLY;
}

static int h_garbage(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    (void)f;
    (void)req;
    (void)id;
    kg_write_raw(w, "\xc1", 1);
    return RAW;
}

static int h_nil_id_error(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    (void)f;
    (void)req;
    (void)id;
    w_err(w, NULL, "limit", "body of 2000000 bytes (at most 1048576)");
    return REPLY;
}

/* The typed ops over the default graph's facts. */
static int h_typed(fake *f, const kg_value *req, int64_t id, kg_writer *w)
{
    (void)f;
    const char *op = op_of(req);
    if (strcmp(op, "relations") == 0) {
        w_ok(w, id, 2);
        kg_write_str(w, "relations");
        kg_write_array(w, 2);
        w_rel(w, "China", "tariffs-on", "pork", "origin", "European Union");
        w_rel(w, "China", "tariffs-on", "cognac", "origin", "France");
        w_kv_bool(w, "truncated", true);
    } else if (strcmp(op, "neighbors") == 0) {
        w_ok(w, id, 2);
        kg_write_str(w, "neighbors");
        kg_write_array(w, 2);
        /* depth 1 backwards (cognac <- China), depth 2 forwards */
        w_neighbor(w, "China", 1, "cognac", "China", "tariffs-on", "cognac");
        w_neighbor(w, "Russia", 2, "China", "China", "supplies", "Russia");
        w_kv_bool(w, "truncated", false);
    } else if (strcmp(op, "path") == 0) {
        w_ok(w, id, 3);
        kg_write_str(w, "paths");
        kg_write_array(w, 1);
        kg_write_array(w, 2);
        w_rel(w, "China", "tariffs-on", "cognac", NULL, NULL);
        w_rel(w, "China", "tariffs-on", "pork", NULL, NULL);
        w_kv_int(w, "length", 2);
        w_kv_bool(w, "truncated", false);
    } else if (strcmp(op, "entity") == 0) {
        const char *name = kg_value_cstr(kg_value_get(req, "name"));
        const char *canon = strcmp(name, "Cognac!") == 0 ? "cognac" : "pork";
        w_ok(w, id, 6);
        w_kv_str(w, "id", canon);
        w_kv_str(w, "kind", "product");
        kg_write_str(w, "aliases");
        kg_write_array(w, 1);
        kg_write_str(w, name);
        kg_write_str(w, "attributes");
        kg_write_map(w, 1);
        w_kv_str(w, "grade", "XO");
        kg_write_str(w, "out");
        kg_write_map(w, 0);
        kg_write_str(w, "in");
        kg_write_map(w, 2);
        w_kv_int(w, "tariffs-on", 1);
        w_kv_int(w, "exports", 4);
    } else if (strcmp(op, "match") == 0) {
        w_ok(w, id, 5);
        kg_write_str(w, "variables");
        kg_write_array(w, 2);
        kg_write_str(w, "?a");
        kg_write_str(w, "?p");
        kg_write_str(w, "rows");
        kg_write_array(w, 2);
        kg_write_array(w, 2);
        kg_write_str(w, "China");
        kg_write_str(w, "pork");
        kg_write_array(w, 2);
        kg_write_str(w, "China");
        kg_write_str(w, "cognac");
        w_kv_bool(w, "truncated", false);
        kg_write_str(w, "plan");
        kg_write_array(w, 2);
        kg_write_int(w, 1);
        kg_write_int(w, 0);
        kg_write_str(w, "estimates");
        kg_write_array(w, 2);
        kg_write_float(w, 1.0);
        kg_write_float(w, 0.25);
    } else if (strcmp(op, "entities") == 0) {
        w_ok(w, id, 3);
        kg_write_str(w, "entities");
        kg_write_array(w, 2);
        kg_write_map(w, 2);
        w_kv_str(w, "id", "China");
        w_kv_str(w, "kind", "country");
        kg_write_map(w, 3);
        w_kv_str(w, "id", "France");
        w_kv_str(w, "kind", "country");
        kg_write_str(w, "aliases");
        kg_write_array(w, 1);
        kg_write_str(w, "French");
        w_kv_int(w, "total", 7);
        w_kv_bool(w, "truncated", true);
    } else if (strcmp(op, "subgraph") == 0 || strcmp(op, "export") == 0) {
        const char *fmt = kg_value_cstr(kg_value_get(req, "format"));
        if (fmt && strcmp(fmt, "graph") != 0) {
            w_ok(w, id, 2);
            w_kv_str(w, "format", fmt);
            w_kv_str(w, "text", "digraph kg {}\n");
        } else {
            w_ok(w, id, 3);
            w_china_graph(w, NULL, NULL);
            w_kv_bool(w, "truncated", false);
        }
    } else if (strcmp(op, "stats") == 0) {
        w_ok(w, id, 6);
        w_kv_int(w, "entities", 33);
        w_kv_int(w, "relations", 34);
        kg_write_str(w, "entity_kinds");
        kg_write_map(w, 2);
        w_kv_int(w, "country", 5);
        w_kv_int(w, "bloc", 1);
        kg_write_str(w, "relation_kinds");
        kg_write_map(w, 1);
        w_kv_int(w, "tariffs-on", 3);
        w_kv_int(w, "memory_bytes", 4096);
        kg_write_str(w, "uptime_s");
        kg_write_float(w, 1.5);
    } else if (strcmp(op, "add") == 0 || strcmp(op, "remove") == 0) {
        bool add = strcmp(op, "add") == 0;
        w_ok(w, id, 3);
        w_kv_int(w, add ? "entities_added" : "entities_removed",
                 (int64_t)kg_value_len(kg_value_get(req, "entities")));
        w_kv_int(w, add ? "relations_added" : "relations_removed",
                 (int64_t)kg_value_len(kg_value_get(req, "relations")));
        w_kv_int(w, "seq", 42);
    } else if (strcmp(op, "extract") == 0) {
        w_ok(w, id, 4);
        w_china_graph(w, "origin", "France");
        w_kv_bool(w, "committed", true);
        w_kv_int(w, "seq", 9);
    } else if (strcmp(op, "snapshot") == 0) {
        w_ok(w, id, 3);
        w_kv_str(w, "path", "/var/lib/kgd/snapshot-1.kgs");
        w_kv_int(w, "bytes", 588);
        w_kv_int(w, "seq", 2);
    } else if (strcmp(op, "reload") == 0) {
        w_ok(w, id, 2);
        w_kv_int(w, "entities", 34);
        w_kv_int(w, "relations", 35);
    } else {
        w_err(w, &id, "unsupported", "unknown op");
    }
    return REPLY;
}

/* ---- the fixture ------------------------------------------------------------------ */

/* What a test works with. setup and teardown make and free it around each
 * test (also one that fails), so that a test says only which server it
 * talks to and what it checks. */
typedef struct fixture {
    fake *f;      /* the fake server, once with_server() started one */
    kg_client *c; /* once with_server() or connect_to() made one */
    kg_graph *g;  /* an empty local graph, for the typed calls */
    kg_error err;
} fixture;

static int setup(void **state)
{
    fixture *t = calloc(1, sizeof *t);
    if (!t || !(t->g = kg_graph_new())) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    fixture *t = *state;
    kg_client_destroy(&t->c);
    fake_stop(&t->f);
    kg_graph_destroy(&t->g);
    free(t);
    return 0;
}

/* The fixture's client, connected to endpoint (instead of any earlier
 * client). */
static fixture *connect_to(void **state, const char *endpoint)
{
    fixture *t = *state;
    kg_client_destroy(&t->c);
    t->c = kg_client_new(endpoint, &t->err);
    assert_non_null(t->c);
    return t;
}

/* A fake server answering with h (instead of any earlier one, which is
 * stopped with its client) and the fixture's client connected to it. */
static fixture *with_server(void **state, handler_fn h)
{
    fixture *t = *state;
    kg_client_destroy(&t->c);
    fake_stop(&t->f);
    t->f = fake_start(h);
    return connect_to(state, t->f->endpoint);
}

/* A test run between setup and teardown. */
#define FIXTURE_TEST(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

/* ---- tests ------------------------------------------------------------------------ */

static void test_new_and_endpoints(void **state)
{
    (void)state;
    kg_error err;
    kg_client *c = kg_client_new("127.0.0.1:7411", &err);
    assert_non_null(c);
    assert_string_equal(kg_client_endpoint(c), "tcp://127.0.0.1:7411");
    assert_int_equal(kg_client_timeout(c), KG_CLIENT_DEFAULT_TIMEOUT_MS);
    kg_client_set_timeout(c, 250);
    assert_int_equal(kg_client_timeout(c), 250);
    kg_client_destroy(&c);
    assert_null(c);
    kg_client_destroy(&c); /* NULL is fine */
    c = kg_client_new(NULL, &err);
    assert_non_null(c);
    assert_string_equal(kg_client_endpoint(c), KG_CLIENT_DEFAULT_ENDPOINT);
    kg_client_destroy(&c);
    assert_null(kg_client_new("", &err));
    assert_int_equal(err.code, KG_EINVAL);
    assert_null(kg_client_new("nonsense://x", &err));
    assert_int_equal(err.code, KG_EINVAL);
    assert_non_null(strstr(err.message, "nonsense://x"));
}

/* Fail fast: a refused connection is an error at once, not a timeout;
 * off, the same request waits out its timeout. */
static void test_fail_fast(void **state)
{
    (void)state;
    kg_error err;
    /* a port nobody listens on: bind one, note it, close it */
    void *ctx = zmq_ctx_new(), *tmp = zmq_socket(ctx, ZMQ_ROUTER);
    char ep[256];
    size_t len = sizeof ep;
    assert_int_equal(zmq_bind(tmp, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(tmp, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    zmq_close(tmp);
    zmq_ctx_term(ctx);

    kg_client *c = kg_client_new(ep, &err);
    assert_non_null(c);
    kg_client_set_timeout(c, 5000);
    kg_client_set_fail_fast(c, true);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(kg_client_ping(c, NULL, &err), KG_EIO);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(strstr(err.message, "nothing listens on"));
    assert_true(t1.tv_sec - t0.tv_sec < 4); /* not the 5 s timeout */
    /* and again (the socket was reopened with its monitor) */
    assert_int_equal(kg_client_ping(c, NULL, &err), KG_EIO);
    kg_client_set_fail_fast(c, false);
    kg_client_set_timeout(c, 200);
    assert_int_equal(kg_client_ping(c, NULL, &err), KG_ETIMEOUT);
    kg_client_destroy(&c);

    /* a server that is there: fail fast changes nothing */
    fake *f = fake_start(h_ping);
    c = kg_client_new(f->endpoint, &err);
    assert_non_null(c);
    kg_client_set_fail_fast(c, true);
    for (int i = 0; i < 3; i++)
        assert_int_equal(kg_client_ping(c, NULL, &err), 0);
    kg_client_destroy(&c);
    fake_stop(&f);
}

static void test_ping_and_framing(void **state)
{
    fixture *t = with_server(state, h_ping);
    char *version = NULL;
    assert_int_equal(kg_client_ping(t->c, &version, &t->err), 0);
    assert_string_equal(version, "9.9.9");
    free(version);
    /* [identity, "", body]: one empty delimiter, like REQ */
    assert_int_equal(t->f->envelope_frames, 1);
    int64_t id1, id2;
    assert_int_equal(kg_value_get_int(kg_value_get(t->f->last, "id"), &id1), 0);
    assert_int_equal(kg_client_ping(t->c, NULL, &t->err), 0);
    assert_int_equal(kg_value_get_int(kg_value_get(t->f->last, "id"), &id2), 0);
    assert_true(id2 > id1);
}

static void test_generic_call_replaces_id(void **state)
{
    fixture *t = with_server(state, h_ping);
    kg_value *req = kg_value_new_map();
    kg_value_map_set(req, "op", kg_value_new_str("ping"));
    kg_value_map_set(req, "id", kg_value_new_str("mine"));
    kg_value *res = NULL;
    assert_int_equal(kg_client_call(t->c, req, &res, &t->err), 0);
    bool pong = false;
    assert_int_equal(kg_value_get_bool(kg_value_get(res, "pong"), &pong), 0);
    assert_true(pong);
    assert_int_equal(kg_value_type_of(kg_value_get(t->f->last, "id")), KG_VAL_INT);
    /* the result is the caller's, mutable like any built value */
    assert_int_equal(kg_value_map_set(res, "extra", kg_value_new_nil()), 0);
    kg_value_destroy(&res);
    /* a request that is not a map with an op is refused before sending */
    int before = t->f->requests;
    kg_value *bad = kg_value_new_map();
    assert_int_equal(kg_client_call(t->c, bad, &res, &t->err), KG_EINVAL);
    assert_null(res);
    kg_value *arr = kg_value_new_array();
    assert_int_equal(kg_client_call(t->c, arr, &res, &t->err), KG_EINVAL);
    assert_int_equal(t->f->requests, before);
    kg_value_destroy(&bad);
    kg_value_destroy(&arr);
    kg_value_destroy(&req);
}

static void test_error_mapping(void **state)
{
    static const struct {
        const char *code;
        int want;
    } cases[] = {
        {"parse", KG_EPARSE},       {"invalid", KG_EINVAL},
        {"unsupported", KG_EUNSUPPORTED}, {"not_found", KG_ENOTFOUND},
        {"limit", KG_ELIMIT},       {"timeout", KG_ETIMEOUT},
        {"io", KG_EIO},             {"busy", KG_EBUSY},
        {"nomem", KG_ENOMEM},       {"internal", KG_EIO},
        {"martian", KG_EIO},
    };
    fixture *t = with_server(state, h_error);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kg_value *req = kg_value_new_map();
        kg_value_map_set(req, "op", kg_value_new_str("x"));
        kg_value_map_set(req, "code", kg_value_new_str(cases[i].code));
        kg_value *res = (kg_value *)1;
        int rc = kg_client_call(t->c, req, &res, &t->err);
        assert_int_equal(rc, cases[i].want);
        assert_int_equal(t->err.code, cases[i].want);
        assert_null(res);
        if (cases[i].want != KG_EIO || strcmp(cases[i].code, "io") == 0)
            assert_string_equal(t->err.message, "the server's own words");
        else
            assert_non_null(strstr(t->err.message, "server internal error"));
        assert_int_equal(kg_client_error_code(cases[i].code), cases[i].want);
        kg_value_destroy(&req);
    }
}

static void test_timeout_then_recovers(void **state)
{
    fixture *t = with_server(state, h_silent_once);
    kg_client_set_timeout(t->c, 200);
    uint64_t t0 = kg_query_clock_ns();
    assert_int_equal(kg_client_ping(t->c, NULL, &t->err), KG_ETIMEOUT);
    uint64_t ms = (kg_query_clock_ns() - t0) / 1000000u;
    assert_true(ms >= 190 && ms < 5000);
    assert_non_null(strstr(t->err.message, "no reply"));
    /* the next call works (a new socket) */
    assert_int_equal(kg_client_ping(t->c, NULL, &t->err), 0);
    assert_int_equal(t->f->requests, 2);
}

static void test_nobody_there(void **state)
{
    fixture *t = connect_to(state, "ipc:///nonexistent-dir-kg-test/sock");
    kg_client_set_timeout(t->c, 100);
    assert_int_equal(kg_client_ping(t->c, NULL, &t->err), KG_ETIMEOUT);
    assert_int_equal(kg_client_ping(t->c, NULL, &t->err), KG_ETIMEOUT);
}

static void test_late_reply_dropped(void **state)
{
    fixture *t = with_server(state, h_ping);
    t->f->stale_first = 1;
    char *version = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kg_client_ping(t->c, &version, &t->err), 0);
        assert_string_equal(version, "9.9.9");
        free(version);
    }
}

static void test_nil_id_error_is_ours(void **state)
{
    fixture *t = with_server(state, h_nil_id_error);
    assert_int_equal(kg_client_ping(t->c, NULL, &t->err), KG_ELIMIT);
    assert_non_null(strstr(t->err.message, "2000000"));
}

static void test_garbage_reply(void **state)
{
    fixture *t = with_server(state, h_garbage);
    assert_int_equal(kg_client_ping(t->c, NULL, &t->err), KG_EIO);
    assert_non_null(strstr(t->err.message, "reply"));
}

/* ---- kg_client_pipeline --------------------------------------------------- */

/* Requests {"op": "number", "n": first + i}, i < n; with jobs, also
 * made the requests of jobs[0..n). */
static kg_value **number_requests(int64_t first, size_t n, kg_client_job *jobs)
{
    kg_value **r = calloc(n, sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        r[i] = kg_value_new_map();
        assert_int_equal(kg_value_map_set(r[i], "op", kg_value_new_str("number")), 0);
        assert_int_equal(kg_value_map_set(r[i], "n", kg_value_new_int(first + (int64_t)i)), 0);
        if (jobs)
            jobs[i].request = r[i];
    }
    return r;
}

static void free_requests(kg_value **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kg_value_destroy(&r[i]);
    free(r);
}

static int64_t job_n(const kg_client_job *j)
{
    int64_t n = -1;
    assert_int_equal(kg_value_get_int(kg_value_get(j->result, "n"), &n), 0);
    return n;
}

/* Replies that come back in reverse order still reach their own jobs, and
 * a job's error stays that job's. */
static void test_pipeline_any_order(void **state)
{
    fixture *t = with_server(state, h_number);
    t->f->hold = 5;
    enum { N = 20 };
    kg_client_job jobs[N];
    kg_value **reqs = number_requests(0, N, jobs);
    assert_int_equal(kg_client_pipeline(t->c, jobs, N, 10, &t->err), 0);
    assert_int_equal(t->f->requests, N);
    for (size_t i = 0; i < N; i++) {
        if (i == 13) {
            assert_int_equal(jobs[i].rc, KG_ENOTFOUND);
            assert_null(jobs[i].result);
            assert_string_equal(jobs[i].err.message, "no thirteen");
            continue;
        }
        assert_int_equal(jobs[i].rc, 0);
        assert_int_equal(job_n(&jobs[i]), (int64_t)i);
    }
    kg_client_jobs_clear(jobs, N);
    for (size_t i = 0; i < N; i++)
        assert_null(jobs[i].result);
    /* The client goes on with single calls. */
    t->f->hold = 0;
    kg_value *res = NULL;
    assert_int_equal(kg_client_call(t->c, reqs[3], &res, &t->err), 0);
    kg_value_destroy(&res);
    free_requests(reqs, N);
}

/* No more than window requests are out at once: a server that answers
 * only once it holds 5 never answers a window of 4. */
static void test_pipeline_window(void **state)
{
    fixture *t = with_server(state, h_number);
    t->f->hold = 5;
    kg_client_set_timeout(t->c, 300);
    enum { N = 10 };
    kg_client_job jobs[N];
    kg_value **reqs = number_requests(0, N, jobs);
    assert_int_equal(kg_client_pipeline(t->c, jobs, N, 4, &t->err), KG_ETIMEOUT);
    assert_int_equal(t->f->requests, 4);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(jobs[i].rc, KG_ETIMEOUT);
        assert_null(jobs[i].result);
        assert_non_null(strstr(jobs[i].err.message, "no reply"));
    }
    /* With a window of 5 such a server answers everything (a new one: the
     * first still holds four replies). */
    t = with_server(state, h_number);
    t->f->hold = 5;
    kg_client_set_timeout(t->c, 2000);
    assert_int_equal(kg_client_pipeline(t->c, jobs, N, 5, &t->err), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(job_n(&jobs[i]), (int64_t)i);
    kg_client_jobs_clear(jobs, N);
    free_requests(reqs, N);
}

/* A request that cannot be encoded fails alone; an error without an id
 * goes to the one job left without a reply; a silent server fails the
 * jobs still out, and those answered keep their results. */
static void test_pipeline_failures(void **state)
{
    fixture *t = with_server(state, h_number);
    kg_client_set_timeout(t->c, 300);

    kg_value **reqs = number_requests(20, 4, NULL); /* 20, 21 (silent), 22, 23 */
    kg_value *not_map = kg_value_new_int(5);
    kg_client_job jobs[5];
    jobs[0].request = reqs[0];
    jobs[1].request = not_map;
    jobs[2].request = reqs[2]; /* 22: the server answers without an id */
    jobs[3].request = reqs[3];
    jobs[4].request = reqs[0];
    assert_int_equal(kg_client_pipeline(t->c, jobs, 5, 0, &t->err), 0);
    assert_int_equal(t->f->requests, 4);
    assert_int_equal(jobs[0].rc, 0);
    assert_int_equal(job_n(&jobs[0]), 20);
    assert_int_equal(jobs[1].rc, KG_EINVAL);
    assert_non_null(strstr(jobs[1].err.message, "map"));
    assert_int_equal(jobs[2].rc, KG_ELIMIT);
    assert_non_null(strstr(jobs[2].err.message, "2000000"));
    assert_int_equal(jobs[3].rc, 0);
    assert_int_equal(job_n(&jobs[3]), 23);
    assert_int_equal(jobs[4].rc, 0);
    assert_int_equal(job_n(&jobs[4]), 20);
    kg_client_jobs_clear(jobs, 5);

    jobs[0].request = reqs[0];
    jobs[1].request = reqs[1]; /* 21: no reply */
    jobs[2].request = reqs[3];
    assert_int_equal(kg_client_pipeline(t->c, jobs, 3, 0, &t->err), KG_ETIMEOUT);
    assert_non_null(strstr(t->err.message, "no reply"));
    assert_int_equal(jobs[0].rc, 0);
    assert_int_equal(job_n(&jobs[0]), 20);
    assert_int_equal(jobs[1].rc, KG_ETIMEOUT);
    assert_null(jobs[1].result);
    assert_int_equal(jobs[2].rc, 0);
    assert_int_equal(job_n(&jobs[2]), 23);
    kg_client_jobs_clear(jobs, 3);

    /* Nothing to do, and no client. */
    assert_int_equal(kg_client_pipeline(t->c, jobs, 0, 0, &t->err), 0);
    assert_int_equal(kg_client_pipeline(NULL, jobs, 1, 0, &t->err), KG_EINVAL);
    kg_value_destroy(&not_map);
    free_requests(reqs, 4);
}

static void test_relations_into_local_graph(void **state)
{
    fixture *t = with_server(state, h_typed);
    kg_pair where = {"origin", NULL};
    kg_relations_query q = {.subject = "PRC", .relation = "tariffs-on", .where = &where,
                            .n_where = 1, .opts = {.as_of = "2025", .limit = 2}};
    kg_rid_list l;
    assert_int_equal(kg_client_relations(t->c, &q, t->g, &l, &t->err), 0);
    /* the request */
    assert_string_equal(kg_value_cstr(kg_value_get(t->f->last, "subject")), "PRC");
    assert_string_equal(kg_value_cstr(kg_value_get(t->f->last, "as_of")), "2025");
    int64_t lim;
    assert_int_equal(kg_value_get_int(kg_value_get(t->f->last, "limit"), &lim), 0);
    assert_int_equal(lim, 2);
    const kg_value *wv = kg_value_get(t->f->last, "where");
    assert_int_equal(kg_value_type_of(kg_value_get(wv, "origin")), KG_VAL_NIL);
    assert_null(kg_value_get(t->f->last, "object"));
    /* the result */
    assert_int_equal(l.n, 2);
    assert_true(l.truncated);
    assert_string_equal(kg_entity_id(t->g, kg_relation_object(t->g, l.ids[0])), "pork");
    assert_string_equal(kg_entity_id(t->g, kg_relation_object(t->g, l.ids[1])), "cognac");
    assert_string_equal(kg_relation_qual_get(t->g, l.ids[1], "origin"), "France");
    assert_string_equal(kg_relation_prov_get(t->g, l.ids[1], "source"), "test");
    assert_string_equal(kg_relation_kind(t->g, l.ids[0]), "tariffs-on");
    kg_rid_list_free(&l);
}

static void test_neighbors_from_and_dir(void **state)
{
    fixture *t = with_server(state, h_typed);
    const char *rels[] = {"tariffs-on", "supplies"};
    kg_neighbors_query q = {.entity = "cognac", .dir = KG_BOTH, .relations = rels,
                            .n_relations = 2, .opts = {.max_depth = 2}};
    kg_neighbor_list l;
    assert_int_equal(kg_client_neighbors(t->c, &q, t->g, &l, &t->err), 0);
    assert_string_equal(kg_value_cstr(kg_value_get(t->f->last, "direction")), "both");
    assert_int_equal(kg_value_len(kg_value_get(t->f->last, "relations")), 2);
    assert_int_equal(l.n, 2);
    assert_string_equal(kg_entity_id(t->g, l.items[0].entity), "China");
    assert_string_equal(kg_entity_kind(t->g, l.items[0].entity), "country");
    assert_int_equal(l.items[0].depth, 1);
    assert_int_equal(l.items[0].dir, KG_IN);
    assert_string_equal(kg_entity_id(t->g, l.items[0].from), "cognac");
    assert_int_equal(l.items[1].dir, KG_OUT);
    assert_int_equal(l.items[1].depth, 2);
    assert_string_equal(kg_entity_id(t->g, l.items[1].from), "China");
    assert_string_equal(kg_relation_kind(t->g, l.items[1].via), "supplies");
    kg_neighbor_list_free(&l);
}

static void test_path_directions_and_alias_ends(void **state)
{
    fixture *t = with_server(state, h_typed);
    /* "Cognac!" is an alias the local graph cannot resolve: the client
     * asks the server (entity op) for the canonical id. */
    kg_path_query q = {.from = "Cognac!", .to = "pork", .dir = KG_BOTH};
    kg_path_list l;
    kg_eid from, to;
    assert_int_equal(kg_client_path(t->c, &q, t->g, &l, &from, &to, &t->err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.paths[0].n, 2);
    assert_int_equal(l.paths[0].steps[0].dir, KG_IN);  /* cognac <- China */
    assert_int_equal(l.paths[0].steps[1].dir, KG_OUT); /* China -> pork */
    assert_string_equal(kg_entity_id(t->g, from), "cognac");
    assert_string_equal(kg_entity_id(t->g, to), "pork");
    assert_int_equal(kg_entity_find(t->g, "Cognac!"), from); /* alias loaded */
    kg_path_list_free(&l);
}

static void test_entity_info(void **state)
{
    fixture *t = with_server(state, h_typed);
    kg_client_entity_info info;
    assert_int_equal(kg_client_entity(t->c, "Cognac!", "2024", t->g, &info, &t->err), 0);
    assert_string_equal(kg_entity_id(t->g, info.entity), "cognac");
    assert_string_equal(kg_entity_kind(t->g, info.entity), "product");
    assert_string_equal(kg_entity_attr_get(t->g, info.entity, "grade"), "XO");
    assert_int_equal(kg_entity_alias_count(t->g, info.entity), 1);
    assert_int_equal(info.n_out, 0);
    assert_int_equal(info.n_in, 2);
    assert_string_equal(info.in[0].kind, "tariffs-on");
    assert_int_equal(info.in[0].count, 1);
    assert_string_equal(info.in[1].kind, "exports");
    assert_int_equal(info.in[1].count, 4);
    kg_client_entity_info_free(&info);
    assert_null(info.in);
}

static void test_match_entities_stats(void **state)
{
    fixture *t = with_server(state, h_typed);
    kg_pair qual = {"origin", "?b"};
    kg_match_pattern pats[2] = {
        {.subject = "?a", .relation = "tariffs-on", .object = "?p", .quals = &qual,
         .n_quals = 1},
        {.subject = "?a", .relation = "exports-to", .object = "?b"}};
    kg_match_query mq = {.patterns = pats, .n_patterns = 2};
    kg_match_result m;
    assert_int_equal(kg_client_match(t->c, &mq, &m, &t->err), 0);
    const kg_value *pv = kg_value_get(t->f->last, "patterns");
    assert_int_equal(kg_value_len(pv), 2);
    assert_int_equal(kg_value_len(kg_value_at(pv, 0)), 4);
    assert_int_equal(kg_value_len(kg_value_at(pv, 1)), 3);
    assert_int_equal(m.n_vars, 2);
    assert_string_equal(m.vars[0], "a");
    assert_string_equal(m.vars[1], "p");
    assert_int_equal(m.n_rows, 2);
    assert_string_equal(m.cells[3], "cognac");
    assert_int_equal(m.n_plan, 2);
    assert_int_equal(m.plan[0].pattern, 1);
    assert_true(m.plan[1].estimate == 0.25);
    kg_match_result_free(&m);

    kg_entities_query eq = {.kind = "country", .prefix = "", .offset = 3,
                            .opts = {.limit = 2}};
    kg_eid_list el;
    assert_int_equal(kg_client_entities(t->c, &eq, t->g, &el, &t->err), 0);
    assert_null(kg_value_get(t->f->last, "prefix")); /* "" = any: not sent */
    assert_int_equal(el.n, 2);
    assert_int_equal(el.total, 7);
    assert_true(el.truncated);
    assert_string_equal(kg_entity_id(t->g, el.ids[1]), "France");
    assert_int_equal(kg_entity_find(t->g, "french"), el.ids[1]);
    kg_eid_list_free(&el);

    kg_client_stats st;
    assert_int_equal(kg_client_stats_get(t->c, &st, &t->err), 0);
    assert_int_equal(st.entities, 33);
    assert_int_equal(st.relations, 34);
    assert_int_equal(st.n_entity_kinds, 2);
    assert_string_equal(st.entity_kinds[1].kind, "bloc");
    assert_int_equal(st.relation_kinds[0].count, 3);
    assert_int_equal(st.memory_bytes, 4096);
    assert_true(st.uptime_s == 1.5);
    assert_non_null(st.result);
    kg_client_stats_free(&st);
}

static void test_subgraph_export_text(void **state)
{
    fixture *t = with_server(state, h_typed);
    const char *seeds[] = {"China"};
    kg_subgraph_query q = {.seeds = seeds, .n_seeds = 1};
    kg_subgraph sg;
    assert_int_equal(kg_client_subgraph(t->c, &q, &sg, &t->err), 0);
    assert_string_equal(kg_value_cstr(kg_value_get(t->f->last, "format")), "graph");
    assert_null(kg_value_get(t->f->last, "direction")); /* 0 = server default */
    assert_int_equal(kg_entity_count(sg.graph), 2);
    assert_int_equal(kg_relation_count(sg.graph), 1);
    kg_eid china = kg_entity_find(sg.graph, "china");
    assert_string_equal(kg_entity_kind(sg.graph, china), "country");
    kg_subgraph_free(&sg);
    char *text;
    size_t len;
    assert_int_equal(kg_client_subgraph_text(t->c, &q, "dot", &text, &len, &t->err), 0);
    assert_string_equal(text, "digraph kg {}\n");
    assert_int_equal(len, 14);
    free(text);
    assert_int_equal(kg_client_export(t->c, "tsv", "2025", &text, NULL, &t->err), 0);
    assert_string_equal(kg_value_cstr(kg_value_get(t->f->last, "as_of")), "2025");
    free(text);
}

static void test_writes(void **state)
{
    fixture *t = with_server(state, h_typed);
    kg_batch *b = kg_batch_new();
    const char *aliases[] = {"Canadian"};
    kg_entity_spec e = {.id = "Canada", .kind = "country", .aliases = aliases,
                        .n_aliases = 1};
    kg_pair q = {"origin", "Canada"}, p = {"evidence", "a sentence"};
    kg_relation_spec r = {.subject = "United States", .relation = "tariffs-on",
                          .object = "steel", .quals = &q, .n_quals = 1, .prov = &p,
                          .n_prov = 1};
    assert_int_equal(kg_batch_add_entity(b, &e, 0), 0);
    assert_int_equal(kg_batch_add_relation(b, &r, 0), 0);
    kg_client_write_result wr;
    assert_int_equal(kg_client_add(t->c, b, &wr, &t->err), 0);
    assert_int_equal(wr.entities_added, 1);
    assert_int_equal(wr.relations_added, 1);
    assert_int_equal(wr.seq, 42);
    /* the request is an add request the protocol module reads back */
    kg_batch *back = kg_batch_new();
    assert_int_equal(kg_proto_request_to_batch(t->f->last, false, back, &t->err), 0);
    assert_int_equal(kg_batch_count(back), 2);
    assert_string_equal(kg_batch_get(back, 0)->u.entity.aliases[0], "Canadian");
    assert_string_equal(kg_batch_get(back, 1)->u.relation.quals[0].value, "Canada");
    assert_int_equal(kg_batch_get(back, 1)->u.relation.n_prov, 1);
    /* an add batch is not a remove batch */
    assert_int_equal(kg_client_remove(t->c, b, &wr, &t->err), KG_EINVAL);
    kg_batch_clear(b);
    assert_int_equal(kg_batch_remove_entity(b, "Canada", 0), 0);
    assert_int_equal(kg_batch_remove_relation(b, &r, 0), 0);
    assert_int_equal(kg_client_remove(t->c, b, &wr, &t->err), 0);
    assert_int_equal(wr.entities_removed, 1);
    assert_int_equal(wr.relations_removed, 1);
    assert_string_equal(kg_value_cstr(kg_value_at(kg_value_get(t->f->last, "entities"), 0)),
                        "Canada");
    assert_null(kg_value_get(kg_value_at(kg_value_get(t->f->last, "relations"), 0),
                             "provenance"));
    /* extract */
    kg_batch_clear(back);
    bool committed = false;
    uint64_t seq = 0;
    assert_int_equal(kg_client_extract(t->c, "China imposed tariffs on French cognac.",
                                       "https://example.org", "2025-12-04", true, back,
                                       &committed, &seq, &t->err), 0);
    assert_true(committed);
    assert_int_equal(seq, 9);
    assert_int_equal(kg_batch_count(back), 2);
    assert_int_equal(kg_batch_get(back, 0)->op, KG_CHANGE_ENTITY_ADD);
    assert_int_equal(kg_batch_get(back, 1)->op, KG_CHANGE_RELATION_ADD);
    bool c_arg = false;
    assert_int_equal(kg_value_get_bool(kg_value_get(t->f->last, "commit"), &c_arg), 0);
    assert_true(c_arg);
    /* snapshot and reload */
    kg_client_snapshot_info si;
    assert_int_equal(kg_client_snapshot(t->c, &si, &t->err), 0);
    assert_string_equal(si.path, "/var/lib/kgd/snapshot-1.kgs");
    assert_int_equal(si.bytes, 588);
    free(si.path);
    uint64_t ne = 0, nr = 0;
    assert_int_equal(kg_client_reload(t->c, &ne, &nr, &t->err), 0);
    assert_int_equal(ne, 34);
    assert_int_equal(nr, 35);
    kg_batch_destroy(&back);
    kg_batch_destroy(&b);
}

/* ---- the change feed ------------------------------------------------------------ */

/* A PUB socket of this test's own, bound on a free port. */
typedef struct pub {
    void *ctx, *sock;
    char endpoint[256];
} pub;

static void pub_open(pub *p)
{
    p->ctx = zmq_ctx_new();
    p->sock = zmq_socket(p->ctx, ZMQ_PUB);
    int zero = 0;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(p->sock, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof p->endpoint;
    assert_int_equal(zmq_getsockopt(p->sock, ZMQ_LAST_ENDPOINT, p->endpoint, &len), 0);
}

static void pub_close(pub *p)
{
    zmq_close(p->sock);
    zmq_ctx_term(p->ctx);
}

/* Publish frames (NULL-terminated list of (data, len) pairs). */
static void pub_send(pub *p, int n, const void *const *data, const size_t *len)
{
    for (int i = 0; i < n; i++)
        assert_true(zmq_send(p->sock, data[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

/* A change body in the feed's shape, written with w. */
static void relation_change(kg_writer *w, int64_t seq, const char *op, const char *kind,
                            const char *rate)
{
    kg_writer_reset(w);
    kg_write_map(w, 3);
    w_kv_int(w, "seq", seq);
    w_kv_str(w, "op", op);
    kg_write_str(w, "relation");
    kg_write_map(w, 5);
    w_kv_str(w, "subject", "United States");
    w_kv_str(w, "relation", kind);
    w_kv_str(w, "object", "steel");
    kg_write_str(w, "qualifiers");
    kg_write_map(w, rate ? 1 : 0);
    if (rate)
        w_kv_str(w, "rate", rate);
    kg_write_str(w, "provenance");
    kg_write_map(w, 0);
}

static void pub_body(pub *p, const char *topic, kg_writer *w)
{
    size_t len;
    const char *body = kg_writer_data(w, &len);
    const void *d[2] = {topic, body};
    size_t l[2] = {strlen(topic), len};
    pub_send(p, 2, d, l);
}

static void test_feed(void **state)
{
    (void)state;
    kg_error err;
    assert_null(kg_feed_new("", NULL, 0, &err));
    assert_int_equal(err.code, KG_EINVAL);
    assert_null(kg_feed_new("nonsense://x", NULL, 0, &err));
    assert_int_equal(err.code, KG_EINVAL);

    pub p;
    pub_open(&p);
    const char *topics[] = {"tariffs-on", "entity"};
    kg_feed *f = kg_feed_new(p.endpoint, topics, 2, &err);
    assert_non_null(f);
    assert_string_equal(kg_feed_endpoint(f), p.endpoint);
    kg_batch *b = kg_batch_new();
    kg_writer *w = kg_writer_new();
    uint64_t seq = 0;

    /* The subscription takes a moment to reach the publisher: publish
     * until the first change comes through. */
    relation_change(w, 1, "add", "tariffs-on", "25%");
    int rc = KG_ETIMEOUT;
    for (int i = 0; i < 200 && rc == KG_ETIMEOUT; i++) {
        pub_body(&p, "tariffs-on", w);
        rc = kg_feed_next(f, 20, &seq, b, &err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(seq, 1);
    assert_int_equal(kg_batch_count(b), 1);
    const kg_change *c = kg_batch_get(b, 0);
    assert_int_equal(c->op, KG_CHANGE_RELATION_ADD);
    assert_string_equal(c->u.relation.subject, "United States");
    assert_string_equal(c->u.relation.relation, "tariffs-on");
    assert_int_equal(c->u.relation.n_quals, 1);
    assert_string_equal(c->u.relation.quals[0].value, "25%");
    /* drain the copies published while the subscription was joining */
    while (kg_feed_next(f, 50, &seq, b, &err) == 0)
        ;
    assert_int_equal(err.code, KG_ETIMEOUT);

    /* not subscribed: never delivered */
    relation_change(w, 2, "add", "exports-to", NULL);
    pub_body(&p, "exports-to", w);
    /* a removal, then an entity removal (by id) */
    relation_change(w, 3, "remove", "tariffs-on", NULL);
    pub_body(&p, "tariffs-on", w);
    kg_writer_reset(w);
    kg_write_map(w, 3);
    w_kv_int(w, "seq", 4);
    w_kv_str(w, "op", "remove");
    kg_write_str(w, "entity");
    kg_write_map(w, 1);
    w_kv_str(w, "id", "Canada");
    pub_body(&p, "entity", w);
    kg_batch_clear(b);
    assert_int_equal(kg_feed_next(f, 2000, &seq, b, &err), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(kg_batch_get(b, 0)->op, KG_CHANGE_RELATION_REMOVE);
    assert_int_equal(kg_feed_next(f, 2000, &seq, b, &err), 0);
    assert_int_equal(seq, 4);
    assert_int_equal(kg_batch_count(b), 2);
    assert_int_equal(kg_batch_get(b, 1)->op, KG_CHANGE_ENTITY_REMOVE);
    assert_string_equal(kg_batch_get(b, 1)->u.entity.id, "Canada");

    /* what is not a change: reported, consumed, and the next one reads */
    const char *bad_msgpack = "\xc1";
    const void *one[1] = {"entity"};
    size_t one_len[1] = {6};
    pub_send(&p, 1, one, one_len); /* no body */
    const void *junk[2] = {"entity", bad_msgpack};
    size_t junk_len[2] = {6, 1};
    pub_send(&p, 2, junk, junk_len);
    relation_change(w, 5, "replace", "tariffs-on", NULL); /* unknown op */
    pub_body(&p, "tariffs-on", w);
    kg_writer_reset(w);
    kg_write_map(w, 2);
    w_kv_int(w, "seq", 6);
    w_kv_str(w, "op", "add"); /* neither relation nor entity */
    pub_body(&p, "entity", w);
    relation_change(w, 7, "add", "tariffs-on", "10%");
    pub_body(&p, "tariffs-on", w);
    const char *want[] = {"frame", "offset", "add or remove", "one of relation"};
    kg_batch_clear(b);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(kg_feed_next(f, 2000, &seq, b, &err), KG_EPARSE);
        assert_non_null(strstr(err.message, want[i]));
    }
    assert_int_equal(kg_batch_count(b), 0);
    assert_int_equal(kg_feed_next(f, 2000, &seq, b, &err), 0);
    assert_int_equal(seq, 7);
    assert_string_equal(kg_batch_get(b, 0)->u.relation.quals[0].value, "10%");
    /* nothing more: a timeout */
    assert_int_equal(kg_feed_next(f, 30, &seq, b, &err), KG_ETIMEOUT);

    kg_writer_destroy(&w);
    kg_batch_destroy(&b);
    kg_feed_destroy(&f);
    assert_null(f);
    kg_feed_destroy(&f); /* NULL: fine */
    pub_close(&p);
}

static void test_feed_endpoint(void **state)
{
    fixture *t = with_server(state, h_feed_stats);
    char want[300], *out = NULL;
    stats_feed = "tcp://10.1.2.3:7412";
    assert_int_equal(kg_client_feed_endpoint(t->c, &out, &t->err), 0);
    assert_string_equal(out, "tcp://10.1.2.3:7412");
    free(out);
    /* wildcards: taken on the host the client reached the daemon on */
    const char *wild[] = {"tcp://0.0.0.0:7412", "tcp://*:7412", "tcp://[::]:7412"};
    for (size_t i = 0; i < 3; i++) {
        stats_feed = wild[i];
        assert_int_equal(kg_client_feed_endpoint(t->c, &out, &t->err), 0);
        snprintf(want, sizeof want, "%.*s:7412",
                 (int)(strrchr(t->f->endpoint, ':') - t->f->endpoint), t->f->endpoint);
        assert_string_equal(out, want);
        free(out);
    }
    stats_feed = "ipc:///run/kgd/feed";
    assert_int_equal(kg_client_feed_endpoint(t->c, &out, &t->err), 0);
    assert_string_equal(out, "ipc:///run/kgd/feed");
    free(out);
    stats_feed = NULL; /* an older daemon */
    assert_int_equal(kg_client_feed_endpoint(t->c, &out, &t->err), KG_EUNSUPPORTED);
    assert_null(out);
    assert_non_null(strstr(t->err.message, "does not say"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_endpoints),
        cmocka_unit_test(test_fail_fast),
        FIXTURE_TEST(test_ping_and_framing),
        FIXTURE_TEST(test_generic_call_replaces_id),
        FIXTURE_TEST(test_error_mapping),
        FIXTURE_TEST(test_timeout_then_recovers),
        FIXTURE_TEST(test_nobody_there),
        FIXTURE_TEST(test_late_reply_dropped),
        FIXTURE_TEST(test_nil_id_error_is_ours),
        FIXTURE_TEST(test_garbage_reply),
        FIXTURE_TEST(test_pipeline_any_order),
        FIXTURE_TEST(test_pipeline_window),
        FIXTURE_TEST(test_pipeline_failures),
        FIXTURE_TEST(test_relations_into_local_graph),
        FIXTURE_TEST(test_neighbors_from_and_dir),
        FIXTURE_TEST(test_path_directions_and_alias_ends),
        FIXTURE_TEST(test_entity_info),
        FIXTURE_TEST(test_match_entities_stats),
        FIXTURE_TEST(test_subgraph_export_text),
        FIXTURE_TEST(test_writes),
        cmocka_unit_test(test_feed),
        FIXTURE_TEST(test_feed_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
