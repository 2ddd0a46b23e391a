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
 *                     [--client zmtp|zmq] [--burst] [--detail full|brief|ids]
 *       N clients, each keeping up to D requests in flight for S seconds
 *       (after a warm-up that is not counted); --burst sends D requests
 *       and waits for all D replies before sending again, as
 *       redis-benchmark -P does. --client says how a client talks
 *       (load.h): zmtp (default) drives every client from one thread over
 *       plain sockets speaking ZMTP as a DEALER; zmq gives each client a
 *       thread and a libzmq DEALER. entity and neighbors (one hop, out)
 *       ask about a random entity: e0..e{N-1}, or one of the --names;
 *       --detail is passed on to neighbors (docs/protocol.md).
 *       Every reply is checked: its id must be the one expected (replies
 *       to one DEALER come in order) and, unless --echo, "ok" must be
 *       true. Prints one line:
 *       op clients depth requests rps p50_us p99_us errors reply_bytes
 *
 * Requests are encoded with kg_writer (include/kg/proto.h); replies are
 * checked by reading their first bytes ({"id": N, "ok": true, ...}), not
 * decoded, so that the load generator spends little of the machine's CPU
 * (the daemon runs on the same machine).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "load.h"

/* ---- gen ------------------------------------------------------------------- */

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
        unsigned long a = (unsigned long)(bench_rng_next(&s) % ne);
        unsigned long b = (unsigned long)(bench_rng_next(&s) % ne);
        unsigned k = (unsigned)(bench_rng_next(&s) % 20);
        fprintf(f, "e%lu\tr%u\te%lu\n", a, k, b);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_server gen: %s: %s\n", argv[4], strerror(errno));
        return 1;
    }
    return 0;
}

/* ---- what both load generators share ----------------------------------------- */

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
bool load_check_reply(const void *data, size_t n, uint64_t id, bool echo)
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

int load_encode(kg_writer *w, const load_opts *o, uint64_t id, uint64_t *rng)
{
    char name[32];
    const char *who = name;
    kg_writer_reset(w);
    bool ping = strcmp(o->op, "ping") == 0;
    bool detail = o->detail && strcmp(o->op, "neighbors") == 0;
    kg_write_map(w, ping ? 2 : detail ? 4 : 3);
    kg_write_str(w, "id");
    kg_write_uint(w, id);
    kg_write_str(w, "op");
    kg_write_str(w, o->op);
    if (!ping) {
        if (o->n_names)
            who = o->names[bench_rng_next(rng) % o->n_names];
        else
            snprintf(name, sizeof name, "e%lu",
                     (unsigned long)(bench_rng_next(rng) % o->entities));
        kg_write_str(w, strcmp(o->op, "entity") == 0 ? "name" : "entity");
        kg_write_str(w, who);
        if (detail) {
            kg_write_str(w, "detail");
            kg_write_str(w, o->detail);
        }
    }
    return kg_writer_error(w);
}

int load_record(load_client *c, const load_opts *o, uint64_t sent, uint64_t done,
                size_t bytes, uint64_t measure_from, uint64_t end)
{
    (void)o;
    if (sent < measure_from || done > end)
        return 0;
    c->measured++;
    c->reply_bytes += bytes;
    if (c->n_lat == c->cap_lat) {
        size_t cap = c->cap_lat ? 2 * c->cap_lat : 1 << 16;
        uint64_t *nl = realloc(c->lat, cap * sizeof *nl);
        if (!nl)
            return -1;
        c->lat = nl;
        c->cap_lat = cap;
    }
    c->lat[c->n_lat++] = done - sent;
    return 0;
}

/* ---- load -------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int load(int argc, char **argv)
{
    load_opts o = {.endpoint = NULL, .op = "ping", .clients = 1, .depth = 64, .seconds = 3,
                   .warmup = 0.5, .entities = 0};
    const char *client = "zmtp";
    char *names = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--echo") == 0) {
            o.echo = true;
            continue;
        }
        if (strcmp(a, "--burst") == 0) {
            o.burst = true;
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
        else if (strcmp(a, "--client") == 0) client = v;
        else if (strcmp(a, "--detail") == 0) o.detail = v;
        else {
            fprintf(stderr, "bench_server load: unknown option %s\n", a);
            return 2;
        }
    }
    if (!o.endpoint || o.clients < 1 || o.clients > 256 || o.depth < 1 ||
        o.depth > 10000 || o.seconds <= 0 || o.seconds > 600 || o.warmup < 0 ||
        (strcmp(o.op, "ping") && strcmp(o.op, "entity") && strcmp(o.op, "neighbors")) ||
        (strcmp(client, "zmtp") && strcmp(client, "zmq"))) {
        fprintf(stderr, "bench_server load: needs --endpoint; --op ping|entity|neighbors, "
                        "--client zmtp|zmq, 1..256 clients, 1..10000 depth, 0..600 "
                        "seconds\n");
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
    load_client *cl = calloc((size_t)o.clients, sizeof *cl);
    if (!cl)
        return 1;
    int status = strcmp(client, "zmq") == 0 ? load_run_zmq(&o, cl) : load_run_zmtp(&o, cl);
    status = status ? 1 : 0;
    uint64_t measured = 0, errors = 0, bytes = 0;
    size_t n_lat = 0;
    for (int i = 0; i < o.clients; i++) {
        if (cl[i].failure[0]) {
            fprintf(stderr, "bench_server load: client %d: %s\n", i, cl[i].failure);
            status = 1;
        }
        measured += cl[i].measured;
        errors += cl[i].errors;
        bytes += cl[i].reply_bytes;
        n_lat += cl[i].n_lat;
    }
    uint64_t *all = malloc((n_lat ? n_lat : 1) * sizeof *all);
    if (!all)
        return 1;
    size_t k = 0;
    for (int i = 0; i < o.clients; i++) {
        if (cl[i].n_lat)
            memcpy(all + k, cl[i].lat, cl[i].n_lat * sizeof *all);
        k += cl[i].n_lat;
        free(cl[i].lat);
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
    free(cl);
    free(o.names);
    free(copy);
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
                    "[--entities N | --names A,B] [--echo] [--client zmtp|zmq] [--burst] "
                    "[--detail full|brief|ids]\n");
    return 2;
}
