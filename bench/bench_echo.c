/* bench_echo.c - a bare ZeroMQ ROUTER that sends every message back as it
 * came, doing no work: the transport's ceiling for bench/run-server-bench.py
 * (docs/performance-server.md). Same socket type, framing and loop shape as
 * kgd's request socket, minus decoding, the op and the reply encoding.
 *
 * Usage: bench_echo [ENDPOINT] [SECONDS]
 *   ENDPOINT  default tcp://127.0.0.1:* (a free port); the bound endpoint is
 *             printed on stdout as "listening on ENDPOINT"
 *   SECONDS   stop after this long (default 600); SIGTERM/SIGINT stop too
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#define MAX_FRAMES 8

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *endpoint = argc > 1 ? argv[1] : "tcp://127.0.0.1:*";
    double seconds = argc > 2 ? atof(argv[2]) : 600;
    if (seconds <= 0)
        seconds = 600;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0, hwm = 100000;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(router, endpoint) != 0) {
        fprintf(stderr, "bench_echo: cannot bind %s: %s\n", endpoint,
                zmq_strerror(zmq_errno()));
        return 1;
    }
    char bound[256];
    size_t len = sizeof bound;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, bound, &len);
    printf("listening on %s\n", bound);
    fflush(stdout);

    double end = now_s() + seconds;
    unsigned long long messages = 0;
    zmq_msg_t frames[MAX_FRAMES];
    while (!stop && now_s() < end) {
        zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        /* Drain everything that is there before polling again, as a
         * server loop does. */
        for (;;) {
            int n = 0, dropped = 0;
            zmq_msg_init(&frames[0]);
            if (zmq_msg_recv(&frames[0], router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&frames[0]);
                break;
            }
            n = 1;
            while (zmq_msg_more(&frames[n - 1])) {
                if (n == MAX_FRAMES) {
                    zmq_msg_t skip;
                    zmq_msg_init(&skip);
                    zmq_msg_recv(&skip, router, 0);
                    int more = zmq_msg_more(&skip);
                    zmq_msg_close(&skip);
                    dropped = 1;
                    if (!more)
                        break;
                    continue;
                }
                zmq_msg_init(&frames[n]);
                zmq_msg_recv(&frames[n], router, 0);
                n++;
            }
            for (int i = 0; i < n; i++) {
                if (!dropped)
                    zmq_msg_send(&frames[i], router,
                                 (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
                zmq_msg_close(&frames[i]);
            }
            messages++;
        }
    }
    fprintf(stderr, "bench_echo: %llu messages\n", messages);
    zmq_close(router);
    zmq_ctx_term(ctx);
    return 0;
}
