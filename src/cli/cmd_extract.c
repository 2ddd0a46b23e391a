/* cmd_extract.c - `kg extract` and `kg build`: articles in, facts out.
 *
 * Entity recognition uses the world catalog (graphs/world.gv beside the
 * default graph, or $KG_WORLD_GRAPH) plus every -g graph; never the
 * default graph itself, which is the hand-made answer for one article.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "kg/change.h"
#include "kg/extract.h"
#include "kg/io.h"

#ifdef KG_CLI_HAVE_CLIENT
#include "kg/client.h"
#endif

#define MAX_GRAPHS 64
#define MAX_ARTICLES 100000

typedef struct xopts {
    const char *cmd;
    const char *date, *out_dir, *out_file, *data_dir;
    kg_format fmt;
    bool no_world;
    bool commit; /* -s: the daemon adds the facts too */
    const char *graphs[MAX_GRAPHS];
    size_t n_graphs;
    char **articles;
    size_t n_articles;
} xopts;

static void usage(FILE *f, const char *cmd)
{
    if (!strcmp(cmd, "build"))
        fprintf(f,
                "usage: kg build ARTICLE... -o OUT.gv [-g GRAPH]... [--date YYYY-MM-DD]\n"
                "                [--format dot|tsv|json] [--data-dir DIR] [--no-world]\n"
                "Extract the facts of the articles and merge them into the -g graphs\n"
                "(or an empty graph); each relation keeps source, doc_date, evidence\n"
                "and span. Entities are recognised from graphs/world.gv and the -g\n"
                "graphs.\n");
    else if (kg_cli.server)
        fprintf(f,
                "usage: kg -s ENDPOINT extract ARTICLE... [--date YYYY-MM-DD] [--commit]\n"
                "                  [--format tsv|json|dot] [--output-dir DIR]\n"
                "Have the daemon extract the facts each article states, with its served\n"
                "graph as the gazetteer, and print them as on files. With --commit the\n"
                "daemon also adds them (journaled, published on its change feed), one\n"
                "all-or-nothing change per article.\n");
    else
        fprintf(f,
                "usage: kg extract ARTICLE... [--date YYYY-MM-DD] [--format tsv|json|dot]\n"
                "                  [--output-dir DIR] [-g GRAPH]... [--data-dir DIR] [--no-world]\n"
                "Print the facts each article states (TSV: subject relation object\n"
                "qualifiers evidence). With --output-dir, write DIR/NAME.tsv for each\n"
                "NAME.txt. Entities are recognised from graphs/world.gv and the -g\n"
                "graphs; --date gives the article date when it has no '# date:' line.\n");
}

static int parse_args(int argc, char **argv, xopts *o)
{
    o->cmd = argv[0];
    o->fmt = !strcmp(argv[0], "build") ? KG_FORMAT_AUTO : KG_FORMAT_TSV;
    o->articles = calloc((size_t)argc, sizeof *o->articles);
    if (!o->articles)
        return KG_EXIT_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout, o->cmd);
            return -1;
        }
        if (!strcmp(a, "--no-world")) {
            o->no_world = true;
            continue;
        }
        if (!strcmp(a, "--commit")) {
            o->commit = true;
            continue;
        }
        bool takes = !strcmp(a, "-g") || !strcmp(a, "--graph") ||
                     !strcmp(a, "--date") || !strcmp(a, "--format") ||
                     !strcmp(a, "-f") || !strcmp(a, "--output-dir") ||
                     !strcmp(a, "-o") || !strcmp(a, "--output") ||
                     !strcmp(a, "--data-dir");
        if (takes && !v) {
            fprintf(stderr, "kg %s: %s needs a value\n", o->cmd, a);
            return KG_EXIT_USAGE;
        }
        if (!takes) {
            if (a[0] == '-' && a[1]) {
                fprintf(stderr, "kg %s: unknown option %s\n", o->cmd, a);
                return KG_EXIT_USAGE;
            }
            o->articles[o->n_articles++] = argv[i];
            continue;
        }
        i++;
        if (!strcmp(a, "-g") || !strcmp(a, "--graph")) {
            if (o->n_graphs == MAX_GRAPHS - 1) {
                fprintf(stderr, "kg %s: too many -g graphs\n", o->cmd);
                return KG_EXIT_USAGE;
            }
            o->graphs[o->n_graphs++] = v;
        } else if (!strcmp(a, "--date")) {
            int y, m, d;
            char extra;
            if (strlen(v) != 10 || sscanf(v, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 ||
                m < 1 || m > 12 || d < 1 || d > 31) {
                fprintf(stderr, "kg %s: --date wants YYYY-MM-DD, not '%s'\n", o->cmd, v);
                return KG_EXIT_USAGE;
            }
            o->date = v;
        } else if (!strcmp(a, "--format") || !strcmp(a, "-f")) {
            o->fmt = kg_format_from_name(v);
            if (o->fmt == KG_FORMAT_AUTO) {
                fprintf(stderr, "kg %s: unknown format '%s' (tsv, json, dot)\n", o->cmd, v);
                return KG_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--output-dir")) {
            o->out_dir = v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            o->out_file = v;
        } else {
            o->data_dir = v;
        }
    }
    if (!o->n_articles) {
        fprintf(stderr, "kg %s: no article given\n", o->cmd);
        usage(stderr, o->cmd);
        return KG_EXIT_USAGE;
    }
    if (kg_cli.server && !strcmp(o->cmd, "build")) {
        fprintf(stderr, "kg build: writes a graph file from articles and files; to add "
                        "an article's facts to a daemon use 'kg -s ENDPOINT extract "
                        "--commit'\n");
        return KG_EXIT_USAGE;
    }
    if (kg_cli.server && (o->n_graphs || o->data_dir || o->no_world)) {
        fprintf(stderr, "kg %s: -g, --data-dir and --no-world choose a local gazetteer; "
                        "with -s the daemon's graph is the gazetteer\n", o->cmd);
        return KG_EXIT_USAGE;
    }
    if (o->commit && !kg_cli.server) {
        fprintf(stderr, "kg %s: --commit adds the facts to a daemon: give -s ENDPOINT\n",
                o->cmd);
        return KG_EXIT_USAGE;
    }
    if (!strcmp(o->cmd, "build") && !o->out_file) {
        fprintf(stderr, "kg build: -o OUT is required\n");
        return KG_EXIT_USAGE;
    }
    if (o->n_articles > MAX_ARTICLES) {
        fprintf(stderr, "kg %s: more than %d articles\n", o->cmd, MAX_ARTICLES);
        return KG_EXIT_USAGE;
    }
    return 0;
}

/* The world catalog: $KG_WORLD_GRAPH, else world.gv beside the default
 * graph. Returns NULL (and says why) when there is none. */
static const char *world_graph(char *buf, size_t cap)
{
    const char *env = getenv("KG_WORLD_GRAPH");
    if (env && *env)
        return env;
    const char *def = kg_cli_default_graph();
    if (!def)
        return NULL;
    const char *slash = strrchr(def, '/');
    if (slash)
        snprintf(buf, cap, "%.*s/world.gv", (int)(slash - def), def);
    else
        snprintf(buf, cap, "world.gv");
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* Read a whole article, bounded. Caller owns *out. */
static int read_article(const char *cmd, const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "kg %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "kg %s: %s: is a directory\n", cmd, path);
        fclose(f);
        return -1;
    }
    char *buf;
    size_t n;
    errno = 0;
    int rc = kg_cli_read_all(f, KG_EXTRACT_MAX_TEXT, &buf, &n);
    int e = errno;
    fclose(f);
    if (rc == KG_ELIMIT)
        fprintf(stderr, "kg %s: %s: larger than %zu MiB\n", cmd, path,
                (size_t)KG_EXTRACT_MAX_TEXT >> 20);
    else if (rc)
        fprintf(stderr, "kg %s: %s: %s\n", cmd, path,
                rc == KG_ENOMEM ? "out of memory" : e ? strerror(e) : "read error");
    if (rc)
        return -1;
    /* NUL bytes in the first 8 KiB: not a text article */
    if (memchr(buf, '\0', n < 8192 ? n : 8192)) {
        fprintf(stderr, "kg %s: %s: binary data, not an article\n", cmd, path);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Does the article's header carry a "# source:" line? */
static bool has_source_line(const char *text, size_t len)
{
    size_t pos = 0;
    while (pos < len && text[pos] == '#') {
        if (len - pos > 9 && !strncmp(text + pos, "# source:", 9))
            return true;
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl)
            break;
        pos = (size_t)(nl - text) + 1;
    }
    return false;
}

static int write_graph(const char *cmd, const kg_graph *g, kg_format fmt,
                       const char *path)
{
    kg_error err = {0};
    FILE *f = path ? fopen(path, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "kg %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    int rc = kg_write_file(g, fmt, f, &err);
    if (path && fclose(f) != 0 && !rc)
        rc = KG_EIO;
    else if (!path)
        fflush(stdout);
    if (rc) {
        fprintf(stderr, "kg %s: %s: %s\n", cmd, path ? path : "stdout",
                err.message[0] ? err.message : kg_error_name(rc));
        return -1;
    }
    return 0;
}

/* Output path DIR/NAME.ext for article path a/b/NAME.txt. */
static void out_path(const char *dir, const char *article, kg_format fmt,
                     char *buf, size_t cap)
{
    const char *base = strrchr(article, '/');
    base = base ? base + 1 : article;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        n = (size_t)(dot - base);
    const char *ext = fmt == KG_FORMAT_JSON ? "json" : fmt == KG_FORMAT_DOT ? "gv" : "tsv";
    snprintf(buf, cap, "%s/%.*s.%s", dir, (int)n, base, ext);
}

/* The local extractor: its gazetteer is the world catalog and the -g
 * graphs; for build, *base gets the -g graphs (or an empty graph). */
static kg_extractor *local_extractor(const xopts *o, bool build, kg_graph **base,
                                     kg_error *err)
{
    const char *paths[MAX_GRAPHS + 1];
    size_t np = 0;
    char wbuf[4096];
    const char *world = o->no_world ? NULL : world_graph(wbuf, sizeof wbuf);
    if (!o->no_world && !world)
        fprintf(stderr, "kg %s: warning: no world catalog (graphs/world.gv); "
                        "only -g graphs name entities\n", o->cmd);
    if (world)
        paths[np++] = world;
    for (size_t i = 0; i < o->n_graphs; i++)
        paths[np++] = o->graphs[i];
    kg_graph *gaz = np ? kg_cli_load_graphs(o->cmd, paths, np) : kg_graph_new();
    if (build)
        *base = o->n_graphs ? kg_cli_load_graphs(o->cmd, o->graphs, o->n_graphs)
                            : kg_graph_new();
    kg_extractor *x = gaz && (!build || *base) ? kg_extractor_new(gaz, o->data_dir, err)
                                                : NULL;
    kg_graph_destroy(&gaz);
    return x;
}

/* Where an article's facts come from: the local extractor, or a daemon's
 * (`kg -s ENDPOINT extract`). */
typedef struct source {
    kg_extractor *x;
#ifdef KG_CLI_HAVE_CLIENT
    kg_client *c;
    uint64_t last_seq;
    size_t committed;
#endif
} source;

static int extract_one(source *src, const xopts *o, const char *path, const char *text,
                       size_t len, kg_batch *batch, kg_extract_stats *stats,
                       kg_error *err)
{
    /* The article's "# source:" line, when it has one, wins over its path. */
    const char *name = has_source_line(text, len) ? NULL : path;
#ifdef KG_CLI_HAVE_CLIENT
    if (src->c) {
        bool committed = false;
        uint64_t seq = 0;
        size_t before = kg_batch_count(batch);
        int rc = kg_client_extract(src->c, text, name, o->date, o->commit, batch,
                                   &committed, &seq, err);
        if (rc)
            return rc;
        for (size_t i = before; i < kg_batch_count(batch); i++)
            stats->facts += kg_batch_get(batch, i)->op == KG_CHANGE_RELATION_ADD;
        if (committed) {
            src->committed++;
            src->last_seq = seq;
        }
        return 0;
    }
#endif
    kg_extract_options eo = {name, o->date};
    return kg_extract_text(src->x, text, len, &eo, batch, stats, err);
}

/* Connect for `kg -s ENDPOINT extract`: 0, or an exit status. */
static int open_daemon(source *src, const char *cmd)
{
#ifdef KG_CLI_HAVE_CLIENT
    kg_error err;
    src->c = kg_cli_client(kg_cli.server, &err);
    if (src->c && kg_client_ping(src->c, NULL, &err) == 0)
        return 0;
    fprintf(stderr, "kg %s: %s\n", cmd, err.message);
    kg_client_destroy(&src->c);
    return KG_EXIT_ERROR;
#else
    fprintf(stderr, "kg %s: --server: this kg was built without the client library\n",
            cmd);
    (void)src;
    return KG_EXIT_ERROR;
#endif
}

static void close_source(source *src)
{
    kg_extractor_destroy(&src->x);
#ifdef KG_CLI_HAVE_CLIENT
    kg_client_destroy(&src->c);
#endif
}

static int run(int argc, char **argv)
{
    xopts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        free(o.articles);
        return rc < 0 ? KG_EXIT_OK : rc;
    }
    bool build = !strcmp(o.cmd, "build");
    if (build && o.fmt == KG_FORMAT_AUTO)
        o.fmt = kg_format_from_path(o.out_file);
    if (o.fmt == KG_FORMAT_AUTO)
        o.fmt = KG_FORMAT_DOT;

    source src = {0};
    kg_error err = {0};
    kg_graph *base = NULL;
    if (kg_cli.server) {
        rc = open_daemon(&src, o.cmd);
    } else if (!(src.x = local_extractor(&o, build, &base, &err))) {
        if (err.message[0])
            fprintf(stderr, "kg %s: %s\n", o.cmd, err.message);
        rc = KG_EXIT_ERROR;
    }
    if (rc) {
        kg_graph_destroy(&base);
        free(o.articles);
        return rc;
    }
    rc = 0;
    kg_extract_stats stats = {0};
    kg_batch *batch = kg_batch_new();
    kg_graph *all = (!build && !o.out_dir) ? kg_graph_new() : NULL;
    if (o.out_dir && mkdir(o.out_dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "kg %s: %s: %s\n", o.cmd, o.out_dir, strerror(errno));
        rc = KG_EIO;
    }
    bool tty = isatty(STDERR_FILENO);
    size_t failed = 0, done = 0;
    if (!rc)
        rc = batch && (build || o.out_dir || all) ? 0 : KG_ENOMEM;
    for (size_t i = 0; i < o.n_articles && !rc; i++) {
        const char *path = o.articles[i];
        char *text = NULL;
        size_t len = 0;
        if (read_article(o.cmd, path, &text, &len)) {
            failed++;
            continue;
        }
        kg_batch_clear(batch);
        if (extract_one(&src, &o, path, text, len, batch, &stats, &err)) {
            fprintf(stderr, "kg %s: %s: %s\n", o.cmd, path, err.message);
            free(text);
            failed++;
            continue;
        }
        free(text);
        kg_graph *target = build ? base : all;
        kg_graph *own = NULL;
        if (!target)
            target = own = kg_graph_new();
        if (!target || kg_graph_apply(target, batch, &err)) {
            fprintf(stderr, "kg %s: %s: %s\n", o.cmd, path,
                    target ? err.message : "out of memory");
            kg_graph_destroy(&own);
            rc = KG_EIO;
            break;
        }
        if (own) {
            char op[4096];
            out_path(o.out_dir, path, o.fmt, op, sizeof op);
            if (write_graph(o.cmd, own, o.fmt, op))
                failed++;
            kg_graph_destroy(&own);
        }
        done++;
        if (tty && o.n_articles > 1)
            fprintf(stderr, "\rkg %s: %zu/%zu articles, %zu facts", o.cmd, i + 1,
                    o.n_articles, stats.facts);
    }
    if (tty && o.n_articles > 1)
        fputc('\n', stderr);
    if (!rc && all && write_graph(o.cmd, all, o.fmt, NULL))
        rc = KG_EIO;
    if (!rc && build && write_graph(o.cmd, base, o.fmt, o.out_file))
        rc = KG_EIO;
    const char *some = failed ? " (some articles failed)" : "";
    if (!kg_cli.server)
        fprintf(stderr, "kg %s: %zu articles, %zu sentences, %zu facts, %zu unresolved "
                "mentions%s\n", o.cmd, done, stats.sentences, stats.facts, stats.unresolved,
                some);
#ifdef KG_CLI_HAVE_CLIENT
    else if (src.committed)
        fprintf(stderr, "kg %s: %zu articles, %zu facts, added to %s (last seq %" PRIu64
                ")%s\n", o.cmd, done, stats.facts, kg_client_endpoint(src.c),
                src.last_seq, some);
#endif
    else
        fprintf(stderr, "kg %s: %zu articles, %zu facts (by the daemon's extractor)%s\n",
                o.cmd, done, stats.facts, some);
    kg_graph_destroy(&all);
    kg_graph_destroy(&base);
    kg_batch_destroy(&batch);
    close_source(&src);
    free(o.articles);
    return rc || failed ? KG_EXIT_ERROR : KG_EXIT_OK;
}

int kg_cmd_extract(int argc, char **argv)
{
    return run(argc, argv);
}

int kg_cmd_build(int argc, char **argv)
{
    return run(argc, argv);
}
