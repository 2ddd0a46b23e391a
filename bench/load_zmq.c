/* load_zmq.c - bench_server's libzmq load generator: one thread per
 * client, each with its own DEALER socket (see load.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "load.h"

typedef struct worker {
    const load_opts *o;
    void *ctx;
    int index;
    load_client *c;
} worker;

static void *run_worker(void *arg)
{
    worker *wk = arg;
    const load_opts *o = wk->o;
    load_client *c = wk->c;
    void *sock = zmq_socket(wk->ctx, ZMQ_DEALER);
    int zero = 0, hwm = 100000, rcvtimeo = 10000;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    if (zmq_connect(sock, o->endpoint) != 0) {
        snprintf(c->failure, sizeof c->failure, "connect %s: %s", o->endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    kg_writer *w = kg_writer_new();
    uint64_t *sent_at = calloc((size_t)o->depth, sizeof *sent_at);
    uint64_t rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(wk->index + 1);
    uint64_t next_id = 0, next_reply = 0;
    uint64_t t0 = bench_now_ns();
    uint64_t measure_from = t0 + (uint64_t)(o->warmup * 1e9);
    uint64_t end = measure_from + (uint64_t)(o->seconds * 1e9);
    uint64_t depth = (uint64_t)o->depth;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (w && sent_at) {
        uint64_t now = bench_now_ns();
        /* Keep the pipe full until the end (in burst mode: refill only
         * when it is empty), then drain. */
        if (!o->burst || next_id == next_reply) {
            while (now < end && next_id - next_reply < depth) {
                size_t len;
                if (load_encode(w, o, next_id, &rng) != 0)
                    goto out;
                const char *body = kg_writer_data(w, &len);
                sent_at[next_id % depth] = bench_now_ns();
                /* [body] alone: a DEALER needs no empty delimiter
                 * (docs/protocol.md, Framing). */
                if (zmq_send(sock, body, len, 0) < 0) {
                    snprintf(c->failure, sizeof c->failure, "send: %s",
                             zmq_strerror(zmq_errno()));
                    goto out;
                }
                next_id++;
            }
        }
        if (next_reply == next_id)
            break;
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            snprintf(c->failure, sizeof c->failure, "no reply within 10 s (%s)",
                     zmq_strerror(zmq_errno()));
            goto out;
        }
        if (zmq_msg_more(&msg)) {
            snprintf(c->failure, sizeof c->failure, "a reply of several frames");
            goto out;
        }
        uint64_t done = bench_now_ns();
        if (!load_check_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), next_reply, o->echo))
            c->errors++;
        if (load_record(c, o, sent_at[next_reply % depth], done, zmq_msg_size(&msg),
                        measure_from, end))
            goto out;
        next_reply++;
    }
out:
    zmq_msg_close(&msg);
    free(sent_at);
    kg_writer_destroy(&w);
    zmq_close(sock);
    return NULL;
}

int load_run_zmq(const load_opts *o, load_client *clients)
{
    void *ctx = zmq_ctx_new();
    worker *wk = calloc((size_t)o->clients, sizeof *wk);
    pthread_t *th = calloc((size_t)o->clients, sizeof *th);
    int rc = 0, started = 0;
    if (!ctx || !wk || !th) {
        snprintf(clients[0].failure, sizeof clients[0].failure, "out of memory");
        rc = -1;
        goto done;
    }
    for (int i = 0; i < o->clients; i++, started++) {
        wk[i] = (worker){.o = o, .ctx = ctx, .index = i, .c = &clients[i]};
        if (pthread_create(&th[i], NULL, run_worker, &wk[i]) != 0) {
            snprintf(clients[i].failure, sizeof clients[i].failure,
                     "cannot start a thread");
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
done:
    free(wk);
    free(th);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}
