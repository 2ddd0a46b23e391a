/* load_zmtp.c - bench_server's single-threaded load generator: every
 * client is a plain stream socket speaking ZMTP 3.0 (rfc.zeromq.org/spec/23)
 * with the NULL mechanism, announcing itself as a DEALER, so a ROUTER
 * (kgd, bench_echo) sees an ordinary DEALER peer. One poll loop drives all
 * clients, and each writes its pipeline of requests with one send - the
 * shape of redis-benchmark, which drives its connections from one thread.
 *
 * A request goes out as one frame, [body] (a DEALER needs no delimiter);
 * the ROUTER's reply comes back as one frame too. Command frames the
 * server may send after the handshake (PING) are skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "load.h"

#define GREETING 64
#define IN_START ((size_t)1 << 16)
#define FRAME_MAX ((size_t)64 << 20)
#define REPLY_WAIT_MS 10000

typedef struct conn {
    int fd;
    load_client *c;
    uint64_t rng;
    uint64_t next_id, next_reply;
    uint64_t *sent_at;
    unsigned char *out, *in;
    size_t out_len, out_off, out_cap;
    size_t in_len, in_cap;
    bool done;
} conn;

static int fail(conn *k, const char *what, const char *why)
{
    snprintf(k->c->failure, sizeof k->c->failure, "%.64s: %.180s", what, why);
    return -1;
}

/* ---- connecting ----------------------------------------------------------- */

static int dial(const char *endpoint, char *why, size_t size)
{
    int fd = -1;
    if (strncmp(endpoint, "ipc://", 6) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(endpoint + 6) >= sizeof sa.sun_path) {
            snprintf(why, size, "ipc path too long");
            return -1;
        }
        strcpy(sa.sun_path, endpoint + 6);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            snprintf(why, size, "%s", strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        return fd;
    }
    if (strncmp(endpoint, "tcp://", 6) != 0) {
        snprintf(why, size, "only tcp:// and ipc:// endpoints");
        return -1;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", endpoint + 6);
    char *colon = strrchr(host, ':');
    if (!colon) {
        snprintf(why, size, "no port");
        return -1;
    }
    *colon = '\0';
    const char *port = colon + 1;
    if (host[0] == '[') { /* [::1]:port */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        snprintf(why, size, "%s", gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        snprintf(why, size, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        /* As libzmq does for its TCP connections. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *s = p;
    while (n) {
        ssize_t r = recv(fd, s, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

/* The greeting, then READY with Socket-Type DEALER; the server's greeting
 * and its READY (or ERROR). Blocking: done before the clock starts. */
static int handshake(conn *k)
{
    unsigned char g[GREETING] = {0};
    g[0] = 0xFF;
    g[8] = 1; /* padding: identity length + 1, for ZMTP 1.0 peers */
    g[9] = 0x7F;
    g[10] = 3; /* version 3.0 */
    g[11] = 0;
    memcpy(g + 12, "NULL", 4); /* mechanism, zero-padded to 20 */
    /* g[32] as-server = 0; the filler stays zero */
    static const char type[] = "Socket-Type";
    static const char dealer[] = "DEALER";
    unsigned char ready[64];
    size_t n = 0;
    ready[n++] = 0x04; /* command, short */
    ready[n++] = 0;    /* size, set below */
    ready[n++] = 5;
    memcpy(ready + n, "READY", 5);
    n += 5;
    ready[n++] = (unsigned char)(sizeof type - 1);
    memcpy(ready + n, type, sizeof type - 1);
    n += sizeof type - 1;
    ready[n++] = 0;
    ready[n++] = 0;
    ready[n++] = 0;
    ready[n++] = (unsigned char)(sizeof dealer - 1);
    memcpy(ready + n, dealer, sizeof dealer - 1);
    n += sizeof dealer - 1;
    ready[1] = (unsigned char)(n - 2);
    if (write_all(k->fd, g, sizeof g) || write_all(k->fd, ready, n))
        return fail(k, "handshake", "cannot write the greeting");
    unsigned char peer[GREETING];
    if (read_all(k->fd, peer, sizeof peer))
        return fail(k, "handshake", "the server closed the connection");
    if (peer[0] != 0xFF || peer[9] != 0x7F || peer[10] < 3 ||
        memcmp(peer + 12, "NULL", 5) != 0)
        return fail(k, "handshake", "not a ZMTP 3 server with the NULL mechanism");
    unsigned char head[9];
    if (read_all(k->fd, head, 2))
        return fail(k, "handshake", "no READY");
    size_t size = head[1];
    if (head[0] & 0x02) {
        if (read_all(k->fd, head + 2, 7))
            return fail(k, "handshake", "no READY");
        size = 0;
        for (int i = 1; i < 9; i++)
            size = size << 8 | head[i];
    }
    if (!(head[0] & 0x04) || size < 6 || size > 65536)
        return fail(k, "handshake", "expected a READY command");
    unsigned char *body = malloc(size);
    if (!body || read_all(k->fd, body, size)) {
        free(body);
        return fail(k, "handshake", "no READY");
    }
    bool ok = body[0] == 5 && memcmp(body + 1, "READY", 5) == 0;
    free(body);
    if (!ok)
        return fail(k, "handshake", "the server refused (not READY)");
    int fl = fcntl(k->fd, F_GETFL);
    if (fl < 0 || fcntl(k->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return fail(k, "handshake", strerror(errno));
    return 0;
}

/* ---- sending and receiving ------------------------------------------------ */

static int out_reserve(conn *k, size_t more)
{
    if (k->out_len + more <= k->out_cap)
        return 0;
    size_t cap = k->out_cap ? k->out_cap : 4096;
    while (cap < k->out_len + more)
        cap *= 2;
    unsigned char *p = realloc(k->out, cap);
    if (!p)
        return -1;
    k->out = p;
    k->out_cap = cap;
    return 0;
}

/* Queue requests up to the depth, stamped `now`, as one frame each. */
static int fill(conn *k, const load_opts *o, kg_writer *w, uint64_t now)
{
    uint64_t depth = (uint64_t)o->depth;
    if (o->burst && k->next_id != k->next_reply)
        return 0;
    while (k->next_id - k->next_reply < depth) {
        size_t len;
        if (load_encode(w, o, k->next_id, &k->rng))
            return fail(k, "encode", "out of memory");
        const char *body = kg_writer_data(w, &len);
        if (out_reserve(k, len + 9))
            return fail(k, "send", "out of memory");
        unsigned char *p = k->out + k->out_len;
        if (len < 256) {
            *p++ = 0x00;
            *p++ = (unsigned char)len;
        } else {
            *p++ = 0x02;
            for (int i = 7; i >= 0; i--)
                *p++ = (unsigned char)((uint64_t)len >> (8 * i));
        }
        memcpy(p, body, len);
        k->out_len = (size_t)(p + len - k->out);
        k->sent_at[k->next_id % depth] = now;
        k->next_id++;
    }
    return 0;
}

static int flush_out(conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return fail(k, "send", n < 0 ? strerror(errno) : "connection closed");
        k->out_off += (size_t)n;
    }
    k->out_off = k->out_len = 0;
    return 0;
}

/* Read what is there and account every whole reply frame in it. */
static int drain(conn *k, const load_opts *o, uint64_t measure_from, uint64_t end)
{
    for (;;) {
        if (k->in_cap - k->in_len < 4096) {
            size_t cap = k->in_cap * 2;
            unsigned char *p = realloc(k->in, cap);
            if (!p)
                return fail(k, "recv", "out of memory");
            k->in = p;
            k->in_cap = cap;
        }
        ssize_t n = recv(k->fd, k->in + k->in_len, k->in_cap - k->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return fail(k, "recv", n < 0 ? strerror(errno) : "connection closed");
        k->in_len += (size_t)n;
        if ((size_t)n < k->in_cap - (k->in_len - (size_t)n))
            break; /* the socket is empty for now */
    }
    uint64_t done = bench_now_ns();
    size_t at = 0;
    while (k->in_len - at >= 2) {
        const unsigned char *p = k->in + at;
        size_t hdr = 2, size = p[1];
        if (p[0] & 0x02) {
            if (k->in_len - at < 9)
                break;
            hdr = 9;
            size = 0;
            for (int i = 1; i < 9; i++)
                size = size << 8 | p[i];
            if (size > FRAME_MAX)
                return fail(k, "recv", "a frame over 64 MiB");
        }
        if (k->in_len - at - hdr < size)
            break;
        at += hdr + size;
        if (p[0] & 0x04)
            continue; /* a command (PING): nothing to answer for */
        if (p[0] & 0x01)
            return fail(k, "recv", "a reply of several frames");
        if (k->next_reply == k->next_id)
            return fail(k, "recv", "a reply to no request");
        uint64_t depth = (uint64_t)o->depth;
        if (!load_check_reply(p + hdr, size, k->next_reply, o->echo))
            k->c->errors++;
        if (load_record(k->c, o, k->sent_at[k->next_reply % depth], done, size,
                        measure_from, end))
            return fail(k, "recv", "out of memory");
        k->next_reply++;
    }
    if (at) {
        memmove(k->in, k->in + at, k->in_len - at);
        k->in_len -= at;
    }
    /* Grow the buffer when one frame does not fit it. */
    return 0;
}

/* ---- the loop ------------------------------------------------------------- */

int load_run_zmtp(const load_opts *o, load_client *clients)
{
    int nc = o->clients, rc = -1;
    conn *k = calloc((size_t)nc, sizeof *k);
    struct pollfd *pf = calloc((size_t)nc, sizeof *pf);
    kg_writer *w = kg_writer_new();
    if (!k || !pf || !w) {
        snprintf(clients[0].failure, sizeof clients[0].failure, "out of memory");
        goto out;
    }
    for (int i = 0; i < nc; i++) {
        k[i].fd = -1;
        k[i].c = &clients[i];
        k[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
        k[i].sent_at = calloc((size_t)o->depth, sizeof *k[i].sent_at);
        k[i].in = malloc(IN_START);
        k[i].in_cap = IN_START;
        if (!k[i].sent_at || !k[i].in) {
            fail(&k[i], "start", "out of memory");
            goto out;
        }
        char why[256];
        k[i].fd = dial(o->endpoint, why, sizeof why);
        if (k[i].fd < 0) {
            fail(&k[i], o->endpoint, why);
            goto out;
        }
        if (handshake(&k[i]))
            goto out;
    }
    uint64_t t0 = bench_now_ns();
    uint64_t measure_from = t0 + (uint64_t)(o->warmup * 1e9);
    uint64_t end = measure_from + (uint64_t)(o->seconds * 1e9);
    for (;;) {
        uint64_t now = bench_now_ns();
        int live = 0;
        for (int i = 0; i < nc; i++) {
            conn *c = &k[i];
            if (now < end && fill(c, o, w, now))
                goto out;
            if (c->out_len && flush_out(c))
                goto out;
            c->done = now >= end && c->next_reply == c->next_id;
            pf[i].fd = c->done ? -1 : c->fd;
            pf[i].events = (short)(POLLIN | (c->out_len ? POLLOUT : 0));
            pf[i].revents = 0;
            live += !c->done;
        }
        if (!live)
            break;
        int n = poll(pf, (nfds_t)nc, REPLY_WAIT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            for (int i = 0; i < nc; i++)
                if (!k[i].done)
                    fail(&k[i], "recv", n ? strerror(errno) : "no reply within 10 s");
            goto out;
        }
        for (int i = 0; i < nc; i++)
            if ((pf[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
                drain(&k[i], o, measure_from, end))
                goto out;
    }
    rc = 0;
out:
    for (int i = 0; k && i < nc; i++) {
        if (k[i].fd >= 0)
            close(k[i].fd);
        free(k[i].sent_at);
        free(k[i].in);
        free(k[i].out);
    }
    free(k);
    free(pf);
    kg_writer_destroy(&w);
    return rc;
}
