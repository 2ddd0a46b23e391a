/* server.h - private to the kgd program (src/server). */
#ifndef KG_SERVER_H
#define KG_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/error.h"
#include "kg/journal.h"

/* ---- logging (log.c) ------------------------------------------------------ */

enum { KG_LOG_DEBUG = 0, KG_LOG_INFO = 1, KG_LOG_WARN = 2, KG_LOG_ERROR = 3 };

/* "debug", "info", "warn" (or "warning"), "error" -> level; -1 if unknown. */
int kg_log_level_from_name(const char *name);
const char *kg_log_level_name(int level);
void kg_log_set_level(int level);
bool kg_log_enabled(int level);
/* One line on stderr: "2026-11-29T02:00:00Z info kgd: message". */
void kg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- configuration (config.c) --------------------------------------------- */

#define KG_SERVER_DEFAULT_BIND "tcp://127.0.0.1:7411"
#define KG_SERVER_DEFAULT_PUBLISH "tcp://127.0.0.1:7412"

typedef struct kg_server_config {
    char *bind;    /* request endpoint (ROUTER) */
    char *publish; /* change feed endpoint (PUB) */
    char *data;    /* data directory, NULL = in memory only */
    char **graphs; /* base graph files; none = the default graph */
    size_t n_graphs;
    int log_level;
    kg_fsync_policy fsync;
    unsigned fsync_interval_ms;
    uint64_t snapshot_journal_bytes;
    size_t max_request_bytes;
    size_t max_results;
    unsigned max_depth;
    unsigned query_timeout_ms;
    bool repair;
} kg_server_config;

/* Defaults (docs/configuration.md). */
void kg_server_config_init(kg_server_config *c);
/* Free what the config owns and re-initialise it. */
void kg_server_config_free(kg_server_config *c);
/* Set one key from its text value (a configuration file line or an
 * option). `graph` appends. KG_EINVAL with "unknown key 'x'" or
 * "bad value for 'x': ..." in err; KG_ENOMEM. */
int kg_server_config_set(kg_server_config *c, const char *key,
                         const char *value, kg_error *err);
/* Read a configuration file: "key = value" lines, blank lines and lines
 * starting with '#'. Errors say "FILE:LINE: what" (or "FILE: ..." when it
 * cannot be read). */
int kg_server_config_load(kg_server_config *c, const char *path,
                          kg_error *err);

/* What kg_server_config_parse_args found. */
enum { KG_ARGS_RUN = 0, KG_ARGS_HELP = 1, KG_ARGS_VERSION = 2 };
/* The command line: --config FILE is read first, then every other option
 * overrides it; graph files on the command line replace the file's
 * `graph` keys. Returns KG_ARGS_* or a negative KG_E* with err set. */
int kg_server_config_parse_args(kg_server_config *c, int argc, char **argv,
                                kg_error *err);
/* Usage text for --help. */
extern const char kg_server_usage[];

/* Path of the shipped default graph ($KG_DEFAULT_GRAPH, else the source
 * tree's graphs/ when kgd runs from its build folder, else the installed
 * copy). Static storage. */
const char *kg_server_default_graph(void);

/* ---- the daemon (server.c) ----------------------------------------------- */

/* Run the daemon with a complete configuration; returns the exit status. */
int kg_server_run(const kg_server_config *cfg);

#endif
