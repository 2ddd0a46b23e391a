/* main.c - the kg program: global options, then one subcommand.
 *
 *   kg [-s ENDPOINT] COMMAND [ARGS...]
 *
 * Subcommands live in cmd_*.c (contract: cli.h). Commands whose module is
 * not in this build (a developer subset) are weak symbols and report
 * themselves as not built. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"

#pragma weak kg_cmd_extract
#pragma weak kg_cmd_build
#pragma weak kg_cmd_snapshot
#pragma weak kg_cmd_add
#pragma weak kg_cmd_remove
#pragma weak kg_cmd_reload
#pragma weak kg_cmd_watch
#pragma weak kg_cmd_status

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} subcommand;

static const subcommand commands[] = {
    {"entity", kg_cmd_entity, "show one entity: kind, aliases, attributes, relation counts"},
    {"entities", kg_cmd_entities, "list entities by kind or name prefix"},
    {"relations", kg_cmd_relations, "find relations by subject, kind, object, qualifiers, date"},
    {"neighbors", kg_cmd_neighbors, "entities reachable within N steps"},
    {"path", kg_cmd_path, "shortest path(s) between two entities"},
    {"subgraph", kg_cmd_subgraph, "the neighbourhood of entities as a graph (DOT, TSV, JSON)"},
    {"match", kg_cmd_match, "conjunctive triple patterns with ?variables"},
    {"stats", kg_cmd_stats, "entities and relations by kind, memory"},
    {"export", kg_cmd_export, "write the whole graph as DOT, TSV or JSON"},
    {"extract", kg_cmd_extract, "extract facts from news articles"},
    {"build", kg_cmd_build, "build a graph from articles and graph files"},
    {"add", kg_cmd_add, "add the facts of files to a daemon (all or nothing)"},
    {"remove", kg_cmd_remove, "remove facts or entities from a daemon"},
    {"reload", kg_cmd_reload, "have a daemon read its graph files again"},
    {"watch", kg_cmd_watch, "print a daemon's changes as they are applied"},
    {"status", kg_cmd_status, "a daemon's health: uptime, requests, journal, writes"},
    {"snapshot", kg_cmd_snapshot, "journal snapshots"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fputs("Usage: kg [-s ENDPOINT] COMMAND [ARGS...]\n"
          "       kg COMMAND --help\n"
          "\n"
          "Query and build knowledge graphs (kgd).\n"
          "\n"
          "Commands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s%s\n", commands[i].name, commands[i].help,
                commands[i].fn ? "" : " (not built)");
    fputs("\n"
          "Global options (before the command):\n"
          "  -s, --server ENDPOINT  ask a kgd daemon instead of reading files\n"
          "  -h, --help             this help\n"
          "      --version          print the version\n"
          "\n"
          "Without -g FILE, commands read the default graph:\n", out);
    fprintf(out, "  %s\n", kg_cli_default_graph());
    fputs("\n"
          "Exit status: 0 success, 1 error (bad file, unknown entity...),\n"
          "2 bad usage. See docs/cli.md.\n", out);
}

static int global_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int global_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kg: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'kg --help'.\n", stderr);
    va_end(ap);
    return KG_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return KG_EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("kg (kgd) %s\n", KG_VERSION);
            return KG_EXIT_OK;
        }
        if (strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0) {
            if (i + 1 >= argc)
                return global_usage("option '%s' needs a value", a);
            kg_cli.server = argv[++i];
        } else if (strncmp(a, "--server=", 9) == 0) {
            kg_cli.server = a + 9;
        } else if (strncmp(a, "-s", 2) == 0) {
            kg_cli.server = a + 2;
        } else if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else {
            return global_usage("unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        usage(stderr);
        return KG_EXIT_USAGE;
    }
    const char *name = argv[i];
    if (strcmp(name, "help") == 0) {
        usage(stdout);
        return KG_EXIT_OK;
    }
    for (size_t c = 0; c < N_COMMANDS; c++) {
        if (strcmp(commands[c].name, name) != 0)
            continue;
        if (!commands[c].fn) {
            fprintf(stderr, "kg %s: not built into this kg\n", name);
            return KG_EXIT_ERROR;
        }
        if (kg_cli.server && kg_cli.server[0] == '\0')
            return global_usage("--server needs an endpoint");
#ifndef KG_CLI_HAVE_CLIENT
        if (kg_cli.server) {
            fputs("kg: --server: not built yet\n", stderr);
            return KG_EXIT_ERROR;
        }
#endif
        return commands[c].fn(argc - i, argv + i);
    }
    fprintf(stderr, "kg: unknown command '%s'\n", name);
    for (size_t c = 0; c < N_COMMANDS; c++)
        if (strncmp(commands[c].name, name, 3) == 0) {
            fprintf(stderr, "Did you mean 'kg %s'?\n", commands[c].name);
            break;
        }
    fputs("Try 'kg --help'.\n", stderr);
    return KG_EXIT_USAGE;
}
