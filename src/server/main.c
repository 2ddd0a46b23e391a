/* main.c - kgd: the knowledge-graph query daemon (docs/protocol.md,
 * docs/configuration.md). */
#include <stdio.h>
#include <stdlib.h>

#include <zmq.h>

#include "server.h"

#ifndef KG_VERSION
#define KG_VERSION "0.0.0"
#endif
#ifdef KG_HAVE_JEMALLOC
#define KG_MALLOC_NAME "jemalloc"
#else
#define KG_MALLOC_NAME "the C library's malloc"
#endif

int main(int argc, char **argv)
{
    kg_server_config cfg;
    kg_server_config_init(&cfg);
    kg_error err;
    kg_error_clear(&err);
    int rc = kg_server_config_parse_args(&cfg, argc, argv, &err);
    if (rc == KG_ARGS_HELP) {
        fputs(kg_server_usage, stdout);
        kg_server_config_free(&cfg);
        return 0;
    }
    if (rc == KG_ARGS_VERSION) {
        printf("kgd %s (ZeroMQ %d.%d.%d, %s)\n", KG_VERSION, ZMQ_VERSION_MAJOR,
               ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH, KG_MALLOC_NAME);
        kg_server_config_free(&cfg);
        return 0;
    }
    if (rc < 0) {
        kg_log(KG_LOG_ERROR, "%s", err.message);
        fprintf(stderr, "Try 'kgd --help'.\n");
        kg_server_config_free(&cfg);
        return 1;
    }
    kg_log_set_level(cfg.log_level);
    int status = kg_server_run(&cfg);
    kg_server_config_free(&cfg);
    return status;
}
