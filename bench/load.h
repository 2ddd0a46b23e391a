/* load.h - the two load generators of bench_server, and what they share.
 *
 * Both keep, per client, up to `depth` requests in flight against one
 * endpoint and check every reply. They differ in how a client talks:
 *
 *   zmtp (default): one thread drives every client, each a plain TCP or
 *        Unix socket speaking ZMTP 3.0 (NULL security) as a DEALER, and
 *        writes a whole pipeline of requests in one write - the shape of
 *        redis-benchmark -P, so the load generator spends little CPU;
 *   zmq: one thread per client, each with a libzmq DEALER socket - what a
 *        client built on libzmq pays (an I/O thread, a pipe per socket).
 */
#ifndef KG_BENCH_LOAD_H
#define KG_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"
#include "kg/proto.h"

typedef struct load_opts {
    const char *endpoint;
    const char *op;
    int clients, depth;
    double seconds, warmup;
    unsigned long entities;
    char **names;
    size_t n_names;
    bool echo;
    bool burst; /* send a whole pipeline, wait for all of it (redis -P) */
    const char *detail; /* neighbors: full (NULL), brief or ids */
} load_opts;

/* One client's figures. */
typedef struct load_client {
    uint64_t *lat; /* ns, measured replies */
    size_t n_lat, cap_lat;
    uint64_t measured; /* replies inside the window */
    uint64_t errors;
    uint64_t reply_bytes;
    char failure[256];
} load_client;


/* Encode request `id` for o into w (reset first): 0 or nonzero. */
int load_encode(kg_writer *w, const load_opts *o, uint64_t id, uint64_t *rng);

/* Whether a reply body answers request `id` (and, unless echo, is ok). */
bool load_check_reply(const void *data, size_t n, uint64_t id, bool echo);

/* Account one reply to request sent at `sent`, received at `done`. */
int load_record(load_client *c, const load_opts *o, uint64_t sent, uint64_t done,
                size_t bytes, uint64_t measure_from, uint64_t end);

/* Run the clients until the measuring window ends; 0 or -1 (then a
 * client's failure says why). */
int load_run_zmq(const load_opts *o, load_client *clients);
int load_run_zmtp(const load_opts *o, load_client *clients);

#endif
