/* cli_util.h - private to the kg program: option helpers, output
 * formats (aligned tables, TSV, JSON) and printers shared by the query
 * subcommands, so that local and --server results print alike. */
#ifndef KG_CLI_UTIL_H
#define KG_CLI_UTIL_H

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "kg/query.h"

/* Not in cli.h (yet): the match and entities subcommands. */

/* ---- options ------------------------------------------------------------- */

/* A growable list of strings taken from argv (not copied). */
typedef struct kg_cli_list {
    const char **v;
    size_t n, cap;
} kg_cli_list;

/* Append; exits the program on out-of-memory (a CLI has nothing better
 * to do). */
void kg_cli_list_add(kg_cli_list *l, const char *s);
void kg_cli_list_free(kg_cli_list *l);

/* Print "kg CMD: message" (printf style) to stderr. */
void kg_cli_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Report bad usage: the message and "Try 'kg CMD --help'."; returns
 * KG_EXIT_USAGE. */
int kg_cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Report getopt's '?' or ':' for argv[optind - 1]; returns KG_EXIT_USAGE. */
int kg_cli_bad_option(const char *cmd, int c, char **argv);

/* Read all of f into a malloc'd buffer (*out, *len; caller frees), at
 * most max bytes. 0, or KG_ELIMIT (more than max), KG_EIO (read error:
 * errno), KG_ENOMEM; *out is NULL then. */
int kg_cli_read_all(FILE *f, size_t max, char **out, size_t *len);

#ifdef KG_CLI_HAVE_CLIENT
#include "kg/client.h"
/* A client of the daemon at endpoint (NULL: the default) that fails at
 * once when nothing listens there (kg_client_set_fail_fast). NULL with
 * err set. */
kg_client *kg_cli_client(const char *endpoint, kg_error *err);
#endif

/* Parse a non-negative integer option value within [0, max]. */
bool kg_cli_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* Output format of a subcommand. */
typedef enum kg_cli_fmt {
    KG_CLI_TABLE = 0, /* aligned columns for people */
    KG_CLI_TSV,
    KG_CLI_JSON,
    KG_CLI_DOT
} kg_cli_fmt;

/* "table", "tsv", "json", "dot" (only when allow_dot); -1 if unknown. */
int kg_cli_parse_fmt(const char *s, bool allow_table, bool allow_dot);

/* Open -o FILE (or stdout for NULL/"-"); prints and returns NULL on
 * failure. Close with kg_cli_close, which reports write errors and
 * returns 0 or KG_EXIT_ERROR. */
FILE *kg_cli_open_out(const char *cmd, const char *path);
int kg_cli_close_out(const char *cmd, FILE *f, const char *path);

/* Resolve an entity name; on failure print "unknown entity" with close
 * names as suggestions and return false. */
bool kg_cli_need_entity(const char *cmd, const kg_graph *g, const char *name);

/* Print a query failure "kg CMD: message" and return KG_EXIT_ERROR (or
 * KG_EXIT_USAGE for KG_EINVAL, which is always a bad argument here). */
int kg_cli_query_failed(const char *cmd, const kg_error *err, int rc);

/* ---- tables ------------------------------------------------------------------ */

typedef struct kg_table kg_table;

/* A table with n columns named by headers (copied). Caller owns:
 * kg_table_destroy. Exits on out-of-memory. */
kg_table *kg_table_new(size_t n, const char *const *headers);
void kg_table_destroy(kg_table **t);
/* Add a row of n cells (copied; NULL = ""). */
void kg_table_add(kg_table *t, const char *const *cells);
size_t kg_table_rows(const kg_table *t);
/* Print: TABLE aligns columns by their display width (UTF-8 aware) with
 * a header line; TSV prints the header and rows with \t \n \r \\ escaped;
 * JSON prints an array of objects keyed by the headers. */
void kg_table_print(const kg_table *t, kg_cli_fmt fmt, FILE *out);

/* Display width of a UTF-8 string in terminal columns. */
size_t kg_cli_width(const char *s);

/* ---- JSON ---------------------------------------------------------------------- */

typedef struct kg_json {
    FILE *f;
    int depth;
    bool first[64];
    bool after_key;
} kg_json;

void kg_json_init(kg_json *j, FILE *f);
void kg_json_obj(kg_json *j);
void kg_json_obj_end(kg_json *j);
void kg_json_arr(kg_json *j);
void kg_json_arr_end(kg_json *j);
void kg_json_key(kg_json *j, const char *k);
void kg_json_str(kg_json *j, const char *s); /* NULL -> null */
void kg_json_int(kg_json *j, long long v);
void kg_json_num(kg_json *j, double v);
void kg_json_bool(kg_json *j, bool v);

/* Protocol shapes (docs/protocol.md). */
void kg_json_relation(kg_json *j, const kg_graph *g, kg_rid r);
void kg_json_entity(kg_json *j, const kg_graph *g, kg_eid e);
/* The members of kg_json_entity (id, kind, aliases, attributes), in an
 * object the caller opened and may add to. */
void kg_json_entity_fields(kg_json *j, const kg_graph *g, kg_eid e);

/* "k=v;k=v" of a relation's qualifiers. Caller frees. */
char *kg_cli_quals(const kg_graph *g, kg_rid r);
/* "k=v;k=v" of a relation's provenance but its evidence (which tables
 * show in a column of its own). Caller frees. */
char *kg_cli_prov(const kg_graph *g, kg_rid r);

/* ---- result printers (cmd_query.c) ------------------------------------------------
 * They take a graph and result handles, so that an answer from a daemon,
 * loaded into a local graph, prints exactly like a local one. */

void kg_cli_print_relations(const kg_graph *g, const kg_rid *ids, size_t n,
                            bool truncated, kg_cli_fmt fmt, FILE *out);
/* A count per kind (kind owned by someone else). */
typedef struct kg_cli_count {
    const char *kind;
    size_t count;
} kg_cli_count;

typedef struct kg_cli_stats {
    size_t entities, relations, memory_bytes;
    kg_cli_count *entity_kinds, *relation_kinds;
    size_t n_entity_kinds, n_relation_kinds;
} kg_cli_stats;

void kg_cli_print_entity(const kg_graph *g, kg_eid e, const kg_cli_count *out_c,
                         size_t n_out, const kg_cli_count *in_c, size_t n_in,
                         kg_cli_fmt fmt, FILE *out);
void kg_cli_print_neighbors(const kg_graph *g, const kg_neighbor_list *l,
                            kg_cli_fmt fmt, FILE *out);
void kg_cli_print_paths(const kg_graph *g, kg_eid from, kg_eid to,
                        const kg_path_list *l, kg_cli_fmt fmt, FILE *out);
void kg_cli_print_stats(const kg_cli_stats *s, kg_cli_fmt fmt, FILE *out);
void kg_cli_print_match(const kg_match_result *r, const char *const *patterns,
                        bool explain, bool estimates, kg_cli_fmt fmt, FILE *out);

#endif
