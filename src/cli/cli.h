/* cli.h - private to the kg program: the subcommand contract.
 *
 * Each subcommand is one function `int kg_cmd_NAME(int argc, char **argv)`
 * where argv[0] is the subcommand name and the rest its arguments (global
 * options such as -s/--server have already been removed by main). It
 * prints its result to stdout, diagnostics to stderr prefixed "kg NAME: ",
 * supports --help, and returns an exit status:
 */
#ifndef KG_CLI_H
#define KG_CLI_H

#include "kg/graph.h"

#define KG_EXIT_OK 0    /* success */
#define KG_EXIT_ERROR 1 /* the command failed (bad file, unknown entity...) */
#define KG_EXIT_USAGE 2 /* bad usage */

/* Global options shared by every subcommand (set by main). */
typedef struct kg_cli_globals {
    const char *server; /* -s/--server ENDPOINT, or NULL for local files */
} kg_cli_globals;
extern kg_cli_globals kg_cli;

/* Path of the shipped default graph: $KG_DEFAULT_GRAPH, else the source
 * tree's graphs/ when run from a build folder, else the installed copy. */
const char *kg_cli_default_graph(void);

/* Load the graphs named by -g options (or the default graph when n == 0)
 * into a new graph. Prints "kg CMD: FILE:LINE: message" on failure and
 * returns NULL. Caller owns the graph. */
kg_graph *kg_cli_load_graphs(const char *cmd, const char *const *paths,
                             size_t n);

int kg_cmd_export(int argc, char **argv);
int kg_cmd_entity(int argc, char **argv);
int kg_cmd_entities(int argc, char **argv);
int kg_cmd_match(int argc, char **argv);
int kg_cmd_relations(int argc, char **argv);
int kg_cmd_neighbors(int argc, char **argv);
int kg_cmd_path(int argc, char **argv);
int kg_cmd_subgraph(int argc, char **argv);
int kg_cmd_stats(int argc, char **argv);
int kg_cmd_extract(int argc, char **argv);  /* src/cli/cmd_extract.c */
int kg_cmd_build(int argc, char **argv);    /* src/cli/cmd_extract.c */
int kg_cmd_snapshot(int argc, char **argv); /* src/cli/cmd_snapshot.c */
int kg_cmd_add(int argc, char **argv);      /* src/cli/cmd_daemon.c */
int kg_cmd_remove(int argc, char **argv);   /* src/cli/cmd_daemon.c */
int kg_cmd_reload(int argc, char **argv);   /* src/cli/cmd_daemon.c */
int kg_cmd_watch(int argc, char **argv);    /* src/cli/cmd_daemon.c */
int kg_cmd_status(int argc, char **argv);   /* src/cli/cmd_daemon.c */

#endif
