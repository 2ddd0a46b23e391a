/* bench_server.c - load generator for kgd (and bench_echo), and the
 * generator of the big benchmark graph. Driven by bench/run-server-bench.py;
 * results in docs/performance-server.md.
 *
 *   bench_server gen ENTITIES RELATIONS FILE [SEED]
 *       a TSV fact table with #@entity lines: entities e0..e{N-1} of 6
 *       kinds, RELATIONS relations between uniformly random pairs with one
 *       of 20 kinds, no qualifiers.
 *
 *   bench_server load --endpoint EP --op ping|entity|neighbors
 *                     [--clients N] [--depth D] [--seconds S] [--warmup S]
 *                     [--entities N | --names A,B,C] [--echo]
 *       N client threads, each with its own DEALER socket, each keeping up
 *       to D requests in flight for S seconds (after a warm-up that is not
 *       counted). entity and neighbors (one hop, out) ask about a random
 *       entity: e0..e{N-1}, or one of the --names. Every reply is checked:
 *       its id must be the one expected (replies to one DEALER come in
 *       order) and, unless --echo, "ok" must be true. Prints one line:
 *       op clients depth requests rps p50_us p99_us errors reply_bytes
 *
 * The requests are encoded with kg_writer (include/kg/proto.h); replies
 * are checked by reading their first bytes ({"id": N, "ok": true, ...}),
 * not decoded, so that the load generator spends little of the machine's
 * CPU (the daemon runs on the same machine).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "kg/proto.h"

/* ---- gen ------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int gen(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_server gen ENTITIES RELATIONS FILE [SEED]\n");
        return 2;
    }
    unsigned long ne = strtoul(argv[2], NULL, 10), nr = strtoul(argv[3], NULL, 10);
    uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 42;
    if (ne == 0 || seed == 0) {
        fprintf(stderr, "bench_server gen: ENTITIES and SEED must be > 0\n");
        return 2;
    }
    FILE *f = fopen(argv[4], "w");
    if (!f) {
        fprintf(stderr, "bench_server gen: %s: %s\n", argv[4], strerror(errno));
        return 1;
    }
    static const char *kinds[] = {"country", "organization", "person", "product",
                                  "place", "agreement"};
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fputs("subject\trelation\tobject\n", f);
    for (unsigned long i = 0; i < ne; i++)
        fprintf(f, "#@entity\te%lu\t%s\n", i, kinds[i % 6]);
    uint64_t s = seed;
    for (unsigned long i = 0; i < nr; i++) {
        unsigned long a = (unsigned long)(rng_next(&s) % ne);
        unsigned long b = (unsigned long)(rng_next(&s) % ne);
        unsigned k = (unsigned)(rng_next(&s) % 20);
        fprintf(f, "e%lu\tr%u\te%lu\n", a, k, b);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_server gen: %s: %s\n", argv[4], strerror(errno));
        return 1;
    }
    return 0;
}

/* ---- load -------------------------------------------------------------------- */

typedef struct opts {
    const char *endpoint;
    const char *op;
    int clients, depth;
    double seconds, warmup;
    unsigned long entities;
    char **names;
    size_t n_names;
    bool echo;
} opts;

typedef struct worker {
    const opts *o;
    void *ctx;
    int index;
    uint64_t *lat; /* ns, measured replies */
    size_t n_lat, cap_lat;
    uint64_t measured; /* replies inside the window */
    uint64_t errors;
    uint64_t reply_bytes;
    char failure[256];
} worker;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read a msgpack string at p (fixstr/str8/str16); its length or -1. */
static long rd_str(const unsigned char *p, size_t n, size_t *at, const char **s)
{
    if (*at >= n)
        return -1;
    unsigned c = p[*at];
    size_t len, hdr;
    if ((c & 0xe0) == 0xa0) {
        len = c & 0x1f;
        hdr = 1;
    } else if (c == 0xd9 && *at + 1 < n) {
        len = p[*at + 1];
        hdr = 2;
    } else {
        return -1;
    }
    if (*at + hdr + len > n)
        return -1;
    *s = (const char *)p + *at + hdr;
    *at += hdr + len;
    return (long)len;
}

/* Read a msgpack non-negative integer at p; 0 or -1. */
static int rd_uint(const unsigned char *p, size_t n, size_t *at, uint64_t *v)
{
    if (*at >= n)
        return -1;
    unsigned c = p[*at];
    size_t w;
    if (c <= 0x7f) {
        *v = c;
        *at += 1;
        return 0;
    }
    switch (c) {
    case 0xcc: case 0xd0: w = 1; break;
    case 0xcd: case 0xd1: w = 2; break;
    case 0xce: case 0xd2: w = 4; break;
    case 0xcf: case 0xd3: w = 8; break;
    default: return -1;
    }
    if (*at + 1 + w > n)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < w; i++)
        x = x << 8 | p[*at + 1 + i];
    *v = x;
    *at += 1 + w;
    return 0;
}

/* The reply body starts {"id": <id>, "ok": true ...} (kgd writes id
 * first); an echo is the request itself, {"id": <id>, ...}. */
static bool check_reply(const void *data, size_t n, uint64_t id, bool echo)
{
    const unsigned char *p = data;
    size_t at = 1;
    const char *s;
    uint64_t got;
    if (n < 2 || (p[0] & 0xf0) != 0x80)
        return false;
    if (rd_str(p, n, &at, &s) != 2 || memcmp(s, "id", 2) != 0 ||
        rd_uint(p, n, &at, &got) != 0 || got != id)
        return false;
    if (echo)
        return true;
    return rd_str(p, n, &at, &s) == 2 && memcmp(s, "ok", 2) == 0 && at < n &&
           p[at] == 0xc3;
}

static int encode(kg_writer *w, const opts *o, uint64_t id, uint64_t *rng)
{
    char name[32];
    const char *who = name;
    kg_writer_reset(w);
    bool ping = strcmp(o->op, "ping") == 0;
    kg_write_map(w, ping ? 2 : 3);
    kg_write_str(w, "id");
    kg_write_uint(w, id);
    kg_write_str(w, "op");
    kg_write_str(w, o->op);
    if (!ping) {
        if (o->n_names)
            who = o->names[rng_next(rng) % o->n_names];
        else
            snprintf(name, sizeof name, "e%lu",
                     (unsigned long)(rng_next(rng) % o->entities));
        kg_write_str(w, strcmp(o->op, "entity") == 0 ? "name" : "entity");
        kg_write_str(w, who);
    }
    return kg_writer_error(w);
}

static void *run_worker(void *arg)
{
    worker *wk = arg;
    const opts *o = wk->o;
    void *sock = zmq_socket(wk->ctx, ZMQ_DEALER);
    int zero = 0, hwm = 100000, rcvtimeo = 10000;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    if (zmq_connect(sock, o->endpoint) != 0) {
        snprintf(wk->failure, sizeof wk->failure, "connect %s: %s", o->endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    kg_writer *w = kg_writer_new();
    uint64_t *sent_at = calloc((size_t)o->depth, sizeof *sent_at);
    uint64_t rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(wk->index + 1);
    uint64_t next_id = 0, next_reply = 0;
    uint64_t t0 = now_ns();
    uint64_t measure_from = t0 + (uint64_t)(o->warmup * 1e9);
    uint64_t end = measure_from + (uint64_t)(o->seconds * 1e9);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (w && sent_at) {
        uint64_t now = now_ns();
        /* Keep the pipe full until the end, then drain. */
        while (now < end && next_id - next_reply < (uint64_t)o->depth) {
            size_t len;
            if (encode(w, o, next_id, &rng) != 0)
                goto out;
            const char *body = kg_writer_data(w, &len);
            sent_at[next_id % (uint64_t)o->depth] = now_ns();
            if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(sock, body, len, 0) < 0) {
                snprintf(wk->failure, sizeof wk->failure, "send: %s",
                         zmq_strerror(zmq_errno()));
                goto out;
            }
            next_id++;
        }
        if (next_reply == next_id)
            break;
        /* [""] [body]: the delimiter, then the body. */
        if (zmq_msg_recv(&msg, sock, 0) < 0 ||
            (zmq_msg_more(&msg) && zmq_msg_recv(&msg, sock, 0) < 0)) {
            snprintf(wk->failure, sizeof wk->failure, "no reply within 10 s (%s)",
                     zmq_strerror(zmq_errno()));
            goto out;
        }
        uint64_t done = now_ns();
        if (!check_reply(zmq_msg_data(&msg), zmq_msg_size(&msg), next_reply, o->echo))
            wk->errors++;
        uint64_t sent = sent_at[next_reply % (uint64_t)o->depth];
        if (sent >= measure_from && done <= end) {
            wk->measured++;
            wk->reply_bytes += zmq_msg_size(&msg);
            if (wk->n_lat == wk->cap_lat) {
                size_t cap = wk->cap_lat ? 2 * wk->cap_lat : 1 << 16;
                uint64_t *nl = realloc(wk->lat, cap * sizeof *nl);
                if (!nl)
                    goto out;
                wk->lat = nl;
                wk->cap_lat = cap;
            }
            wk->lat[wk->n_lat++] = done - sent;
        }
        next_reply++;
    }
out:
    zmq_msg_close(&msg);
    free(sent_at);
    kg_writer_destroy(&w);
    zmq_close(sock);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int load(int argc, char **argv)
{
    opts o = {.endpoint = NULL, .op = "ping", .clients = 1, .depth = 64, .seconds = 3,
              .warmup = 0.5, .entities = 0};
    char *names = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--echo") == 0) {
            o.echo = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_server load: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--endpoint") == 0) o.endpoint = v;
        else if (strcmp(a, "--op") == 0) o.op = v;
        else if (strcmp(a, "--clients") == 0) o.clients = atoi(v);
        else if (strcmp(a, "--depth") == 0) o.depth = atoi(v);
        else if (strcmp(a, "--seconds") == 0) o.seconds = atof(v);
        else if (strcmp(a, "--warmup") == 0) o.warmup = atof(v);
        else if (strcmp(a, "--entities") == 0) o.entities = strtoul(v, NULL, 10);
        else if (strcmp(a, "--names") == 0) names = (char *)v;
        else {
            fprintf(stderr, "bench_server load: unknown option %s\n", a);
            return 2;
        }
    }
    if (!o.endpoint || o.clients < 1 || o.clients > 256 || o.depth < 1 ||
        o.depth > 10000 || o.seconds <= 0 || o.seconds > 600 || o.warmup < 0 ||
        (strcmp(o.op, "ping") && strcmp(o.op, "entity") && strcmp(o.op, "neighbors"))) {
        fprintf(stderr, "bench_server load: needs --endpoint; --op ping|entity|neighbors, "
                        "1..256 clients, 1..10000 depth, 0..600 seconds\n");
        return 2;
    }
    char *copy = NULL;
    if (names) {
        copy = strdup(names);
        o.names = calloc(strlen(names) + 1, sizeof *o.names);
        if (!copy || !o.names)
            return 1;
        for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
            o.names[o.n_names++] = tok;
    }
    if (strcmp(o.op, "ping") != 0 && !o.n_names && !o.entities) {
        fprintf(stderr, "bench_server load: --op %s needs --entities N or --names\n", o.op);
        return 2;
    }
    void *ctx = zmq_ctx_new();
    int io_threads = 1;
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, io_threads);
    worker *wk = calloc((size_t)o.clients, sizeof *wk);
    pthread_t *th = calloc((size_t)o.clients, sizeof *th);
    if (!wk || !th)
        return 1;
    for (int i = 0; i < o.clients; i++) {
        wk[i].o = &o;
        wk[i].ctx = ctx;
        wk[i].index = i;
        if (pthread_create(&th[i], NULL, run_worker, &wk[i]) != 0) {
            fprintf(stderr, "bench_server load: cannot start thread %d\n", i);
            return 1;
        }
    }
    uint64_t measured = 0, errors = 0, bytes = 0;
    size_t n_lat = 0;
    int status = 0;
    for (int i = 0; i < o.clients; i++) {
        pthread_join(th[i], NULL);
        if (wk[i].failure[0]) {
            fprintf(stderr, "bench_server load: client %d: %s\n", i, wk[i].failure);
            status = 1;
        }
        measured += wk[i].measured;
        errors += wk[i].errors;
        bytes += wk[i].reply_bytes;
        n_lat += wk[i].n_lat;
    }
    uint64_t *all = malloc((n_lat ? n_lat : 1) * sizeof *all);
    if (!all)
        return 1;
    size_t k = 0;
    for (int i = 0; i < o.clients; i++) {
        memcpy(all + k, wk[i].lat, wk[i].n_lat * sizeof *all);
        k += wk[i].n_lat;
        free(wk[i].lat);
    }
    qsort(all, n_lat, sizeof *all, cmp_u64);
    double p50 = n_lat ? (double)all[n_lat / 2] / 1e3 : 0;
    double p99 = n_lat ? (double)all[(size_t)((double)n_lat * 0.99)] / 1e3 : 0;
    printf("op=%s clients=%d depth=%d requests=%" PRIu64 " rps=%.0f p50_us=%.1f "
           "p99_us=%.1f errors=%" PRIu64 " reply_bytes=%.0f\n",
           o.op, o.clients, o.depth, measured, (double)measured / o.seconds, p50, p99,
           errors, measured ? (double)bytes / (double)measured : 0.0);
    if (errors)
        status = 1;
    free(all);
    free(wk);
    free(th);
    free(o.names);
    free(copy);
    zmq_ctx_term(ctx);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "gen") == 0)
        return gen(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "load") == 0)
        return load(argc, argv);
    fprintf(stderr, "usage: bench_server gen ENTITIES RELATIONS FILE [SEED]\n"
                    "       bench_server load --endpoint EP --op ping|entity|neighbors "
                    "[--clients N] [--depth D] [--seconds S] [--warmup S] "
                    "[--entities N | --names A,B] [--echo]\n");
    return 2;
}
