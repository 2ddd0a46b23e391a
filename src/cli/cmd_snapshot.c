/* cmd_snapshot.c - `kg snapshot`: have a running kgd take a snapshot, or
 * compact a data directory offline into one snapshot file.
 *
 *   kg [-s ENDPOINT] snapshot              ask the daemon (default
 *                                          tcp://127.0.0.1:7411)
 *   kg snapshot --data DIR -o FILE [-g GRAPH]...
 *                                          offline: DIR's snapshot + journal,
 *                                          relative to the base graph files,
 *                                          written to FILE
 *
 * The offline form reads DIR without locking or changing it, so it may run
 * next to a live daemon (it sees what was written so far) or on a copy.
 * The base graph files must be the daemon's (`graph` in kgd.conf; the
 * shipped default graph when it has none): the snapshot stores client
 * changes relative to them (docs/operations.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "kg/journal.h"

#ifdef KG_CLI_HAVE_CLIENT
#include "kg/client.h"
#endif

#define CMD "snapshot"
#define DEFAULT_ENDPOINT "tcp://127.0.0.1:7411"

static void usage(FILE *f)
{
    fputs("Usage: kg [-s ENDPOINT] snapshot\n"
          "       kg snapshot --data DIR -o FILE [-g GRAPH]...\n"
          "Take a snapshot of kgd's journal.\n"
          "\n"
          "  -s, --server ENDPOINT  the daemon to ask (default "
          DEFAULT_ENDPOINT ")\n"
          "  --data DIR             offline: read this data directory instead\n"
          "                         (read-only; safe next to a running kgd)\n"
          "  -o, --output FILE      offline: where to write the snapshot\n"
          "  -g, --graph FILE       offline: the daemon's base graph files\n"
          "                         (default: the shipped default graph)\n"
          "  -h, --help\n"
          "\n"
          "A snapshot file restores a data directory: copy it there as\n"
          "snapshot-<SEQ as 16 hex digits>.kgs (the name printed below) with\n"
          "no journal files beside it (docs/operations.md, Backup).\n",
          f);
}

static void print_warning(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "kg " CMD ": warning: %s\n", msg);
}

static int offline(const char *dir, const char *out,
                   const char *const *graphs, size_t n_graphs)
{
    kg_error err;
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.read_only = true;
    int status = KG_EXIT_ERROR;
    kg_graph *base = NULL, *g = NULL;
    kg_journal *j = kg_journal_open(dir, &o, &err);
    if (!j) {
        kg_cli_err(CMD, "%s", err.message);
        return KG_EXIT_ERROR;
    }
    base = kg_cli_load_graphs(CMD, graphs, n_graphs);
    g = base ? kg_cli_load_graphs(CMD, graphs, n_graphs) : NULL;
    if (!base || !g)
        goto out;
    if (kg_journal_load(j, g, print_warning, NULL, &err) != 0) {
        kg_cli_err(CMD, "%s", err.message);
        goto out;
    }
    kg_snapshot_info info;
    uint64_t seq = kg_journal_seq(j);
    if (kg_snapshot_write_file(out, base, g, seq, 0, &info, &err) != 0) {
        kg_cli_err(CMD, "%s", err.message);
        goto out;
    }
    printf("%s: %" PRIu64 " bytes, seq %" PRIu64 ", %zu entities and %zu "
           "relations changed, %zu entity and %zu relation removals\n",
           info.path, info.bytes, info.seq, info.entities, info.relations,
           info.entity_removals, info.relation_removals);
    printf("restore as: snapshot-%016" PRIx64 ".kgs\n", info.seq);
    status = KG_EXIT_OK;
out:
    kg_graph_destroy(&g);
    kg_graph_destroy(&base);
    kg_journal_destroy(&j);
    return status;
}

#ifdef KG_CLI_HAVE_CLIENT
static int online(const char *endpoint)
{
    kg_error err;
    kg_client *c = kg_cli_client(endpoint, &err);
    if (!c) {
        kg_cli_err(CMD, "%s: %s", endpoint, err.message);
        return KG_EXIT_ERROR;
    }
    /* A snapshot of a big graph takes seconds (docs/performance-journal.md):
     * once a ping shows the daemon is there (failing fast when it is not),
     * wait well past the default request timeout. */
    kg_client_set_timeout(c, 5000);
    kg_client_snapshot_info info = { 0 };
    int rc = kg_client_ping(c, NULL, &err);
    if (rc == 0) {
        kg_client_set_timeout(c, 10 * 60 * 1000);
        rc = kg_client_snapshot(c, &info, &err);
    }
    int status = KG_EXIT_OK;
    if (rc) {
        kg_cli_err(CMD, "%s", err.message);
        status = KG_EXIT_ERROR;
    } else {
        printf("%s: %" PRIu64 " bytes, seq %" PRIu64 "\n",
               info.path ? info.path : "?", info.bytes, info.seq);
    }
    free(info.path);
    kg_client_destroy(&c);
    return status;
}
#else
static int online(const char *endpoint)
{
    kg_cli_err(CMD, "cannot reach %s: this kg was built without the client "
               "library; use --data DIR -o FILE", endpoint);
    return KG_EXIT_ERROR;
}
#endif

int kg_cmd_snapshot(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "data", required_argument, NULL, 'd' },
        { "output", required_argument, NULL, 'o' },
        { "graph", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *server = kg_cli.server, *dir = NULL, *out = NULL;
    kg_cli_list graphs = { 0 };
    int c, status;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:d:o:g:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'd': dir = optarg; break;
        case 'o': out = optarg; break;
        case 'g': kg_cli_list_add(&graphs, optarg); break;
        case 'h':
            usage(stdout);
            kg_cli_list_free(&graphs);
            return KG_EXIT_OK;
        default:
            kg_cli_list_free(&graphs);
            return kg_cli_bad_option(CMD, c, argv);
        }
    }
    if (optind < argc)
        status = kg_cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
    else if (dir && server)
        status = kg_cli_usage(CMD, "--data and --server exclude each other");
    else if (dir && !out)
        status = kg_cli_usage(CMD, "--data needs -o FILE");
    else if (!dir && (out || graphs.n))
        status = kg_cli_usage(CMD, "-o and -g go with --data DIR (a daemon "
                              "writes its snapshot into its own data "
                              "directory)");
    else if (dir)
        status = offline(dir, out, graphs.v, graphs.n);
    else
        status = online(server ? server : DEFAULT_ENDPOINT);
    kg_cli_list_free(&graphs);
    return status;
}
