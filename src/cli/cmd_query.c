/* cmd_query.c - the read-only subcommands: entity, entities, relations,
 * neighbors, path, subgraph, match, stats, export.
 *
 * Every command parses its options with one shared getopt_long table
 * (each command allows a subset), loads the graphs (-g, or the default
 * graph) or connects to a daemon (-s), runs a kg/query.h query and prints
 * the answer with the printers below, which take a graph and result
 * handles - so a result that comes from a daemon, loaded into a local
 * graph, prints the same way.
 *
 * The steps every command takes are written once, in run_query(); a
 * command is its usage text, its hooks (check, ask, show: see query_cmd)
 * and a query_cmd at the bottom that names them, which its kg_cmd_NAME
 * hands to the runner. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "kg/io.h"
#ifdef KG_CLI_HAVE_CLIENT
#include "kg/client.h"
#endif

/* ---- options --------------------------------------------------------------------- */

enum {
    O_GRAPH = 'g', O_OUTPUT = 'o', O_HELP = 'h',
    O_FORMAT = 256, O_SUBJECT, O_RELATION, O_OBJECT, O_WHERE, O_AS_OF,
    O_LIMIT, O_DEPTH, O_DIRECTION, O_ALL, O_MAX_LENGTH, O_EXPLAIN, O_KIND,
    O_PREFIX, O_OFFSET
};

static const struct option all_options[] = {
    {"graph", required_argument, NULL, O_GRAPH},
    {"output", required_argument, NULL, O_OUTPUT},
    {"help", no_argument, NULL, O_HELP},
    {"format", required_argument, NULL, O_FORMAT},
    {"subject", required_argument, NULL, O_SUBJECT},
    {"relation", required_argument, NULL, O_RELATION},
    {"object", required_argument, NULL, O_OBJECT},
    {"where", required_argument, NULL, O_WHERE},
    {"as-of", required_argument, NULL, O_AS_OF},
    {"limit", required_argument, NULL, O_LIMIT},
    {"depth", required_argument, NULL, O_DEPTH},
    {"direction", required_argument, NULL, O_DIRECTION},
    {"all", no_argument, NULL, O_ALL},
    {"max-length", required_argument, NULL, O_MAX_LENGTH},
    {"explain", no_argument, NULL, O_EXPLAIN},
    {"kind", required_argument, NULL, O_KIND},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"offset", required_argument, NULL, O_OFFSET},
};
#define N_OPTIONS (sizeof all_options / sizeof all_options[0])

/* Deepest traversal the command line accepts (the daemon has its own
 * max_depth); keeps a typo like --depth 1000000 from meaning "all". */
#define CLI_MAX_DEPTH 1000u

/* The terms of one match PATTERN (owned strings). */
typedef struct toks {
    char **v;
    size_t n, cap;
} toks;

static void toks_free(toks *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    memset(t, 0, sizeof *t);
}

typedef struct args {
    const char *cmd;
    const char *usage; /* the --help text */
    kg_cli_list graphs, rels, wheres, pos;
    const char *subject, *relation, *object, *as_of, *output, *kind, *prefix;
    unsigned long limit, depth, max_length, offset;
    kg_dir dir;
    bool all, explain;
    int fmt; /* kg_cli_fmt, -1 = the command's default */
    /* Built from the strings above by a command's check, before any graph
     * is loaded (a malformed one is bad usage); freed by args_free. */
    kg_pair *where;             /* relations: --where KEY[=VALUE] as pairs */
    char **where_text;          /* their copies, cut at the '=' */
    kg_match_pattern *patterns; /* match: one per PATTERN */
    toks *terms;                /* each pattern's terms */
    kg_pair **quals;            /* each pattern's qualifiers (in its terms) */
} args;

static void args_free(args *a)
{
    for (size_t i = 0; a->where_text && i < a->wheres.n; i++)
        free(a->where_text[i]);
    for (size_t i = 0; a->terms && i < a->pos.n; i++)
        toks_free(&a->terms[i]);
    for (size_t i = 0; a->quals && i < a->pos.n; i++)
        free(a->quals[i]);
    free(a->where_text);
    free(a->where);
    free(a->terms);
    free(a->quals);
    free(a->patterns);
    kg_cli_list_free(&a->graphs);
    kg_cli_list_free(&a->rels);
    kg_cli_list_free(&a->wheres);
    kg_cli_list_free(&a->pos);
}

/* Parse argv for a command that allows the options listed in `allowed`
 * (0-terminated option values). Returns -1 to go on, else an exit status
 * (--help printed, or bad usage reported). */
static int parse(args *a, int argc, char **argv, const int *allowed,
                 bool allow_table, bool allow_dot)
{
    struct option opts[N_OPTIONS + 1];
    char shorts[16] = ":";
    size_t n = 0;
    for (size_t i = 0; i < N_OPTIONS; i++)
        for (const int *p = allowed; *p; p++)
            if (all_options[i].val == *p)
                opts[n++] = all_options[i];
    opts[n] = (struct option){0};
    for (const int *p = allowed; *p; p++)
        if (*p < 256) {
            size_t l = strlen(shorts);
            shorts[l] = (char)*p;
            shorts[l + 1] = '\0';
            if (*p != 'h')
                strcat(shorts, ":");
        }
    a->fmt = -1;
    a->dir = 0;
    optind = 0; /* glibc: reinitialise */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        switch (c) {
        case O_HELP:
            fputs(a->usage, stdout);
            return KG_EXIT_OK;
        case O_GRAPH: kg_cli_list_add(&a->graphs, optarg); break;
        case O_OUTPUT: a->output = optarg; break;
        case O_FORMAT:
            a->fmt = kg_cli_parse_fmt(optarg, allow_table, allow_dot);
            if (a->fmt < 0)
                return kg_cli_usage(a->cmd, "unknown format '%s' (%s)", optarg,
                                    allow_dot ? "dot, tsv or json"
                                              : "table, tsv or json");
            break;
        case O_SUBJECT: a->subject = optarg; break;
        case O_RELATION:
            a->relation = optarg;
            kg_cli_list_add(&a->rels, optarg);
            break;
        case O_OBJECT: a->object = optarg; break;
        case O_WHERE:
            if (optarg[0] == '=' || optarg[0] == '\0')
                return kg_cli_usage(a->cmd, "--where needs KEY=VALUE or KEY");
            kg_cli_list_add(&a->wheres, optarg);
            break;
        case O_AS_OF: {
            kg_date_range d;
            if (kg_date_parse(optarg, &d) != 0)
                return kg_cli_usage(a->cmd, "--as-of: '%s' is not a date "
                                    "(YYYY, YYYY-MM or YYYY-MM-DD)", optarg);
            a->as_of = optarg;
            break;
        }
        case O_LIMIT:
            if (!kg_cli_parse_uint(optarg, 100000000ul, &a->limit))
                return kg_cli_usage(a->cmd, "--limit: '%s' is not a count", optarg);
            break;
        case O_OFFSET:
            if (!kg_cli_parse_uint(optarg, 1000000000ul, &a->offset))
                return kg_cli_usage(a->cmd, "--offset: '%s' is not a count", optarg);
            break;
        case O_DEPTH:
            if (!kg_cli_parse_uint(optarg, CLI_MAX_DEPTH, &a->depth) || !a->depth)
                return kg_cli_usage(a->cmd, "--depth: '%s' is not 1..%u", optarg,
                                    CLI_MAX_DEPTH);
            break;
        case O_MAX_LENGTH:
            if (!kg_cli_parse_uint(optarg, CLI_MAX_DEPTH, &a->max_length) ||
                !a->max_length)
                return kg_cli_usage(a->cmd, "--max-length: '%s' is not 1..%u",
                                    optarg, CLI_MAX_DEPTH);
            break;
        case O_DIRECTION:
            if (strcmp(optarg, "out") == 0)
                a->dir = KG_OUT;
            else if (strcmp(optarg, "in") == 0)
                a->dir = KG_IN;
            else if (strcmp(optarg, "both") == 0)
                a->dir = KG_BOTH;
            else
                return kg_cli_usage(a->cmd, "--direction: '%s' is not out, in "
                                    "or both", optarg);
            break;
        case O_ALL: a->all = true; break;
        case O_EXPLAIN: a->explain = true; break;
        case O_KIND: a->kind = optarg; break;
        case O_PREFIX: a->prefix = optarg; break;
        default:
            return kg_cli_bad_option(a->cmd, c, argv);
        }
    }
    for (int i = optind; i < argc; i++)
        kg_cli_list_add(&a->pos, argv[i]);
    if (kg_cli.server && a->graphs.n)
        return kg_cli_usage(a->cmd, "-g FILE and --server do not mix");
    return -1;
}

/* Where an answer comes from: the -g files, or with -s a daemon whose
 * reply the client loads into an empty local graph - then the same
 * printers run either way. */
typedef struct source {
    kg_graph *g;
#ifdef KG_CLI_HAVE_CLIENT
    kg_client *c; /* NULL for local files */
#endif
} source;

#ifdef KG_CLI_HAVE_CLIENT
/* A client for -s; prints why not and returns NULL on failure. */
static kg_client *connect_server(const args *a)
{
    kg_error err = {0};
    kg_client *c = kg_cli_client(kg_cli.server, &err);
    if (!c)
        kg_cli_err(a->cmd, "%s", err.message[0] ? err.message
                                                : "cannot reach the server");
    return c;
}
/* remote_call with -s, local_call without; without a client library the
 * remote expression is not even compiled. */
#define ASK(src, remote_call, local_call) ((src)->c ? (remote_call) : (local_call))
#else
#define ASK(src, remote_call, local_call) (local_call)
#endif

/* Open the source; NULL (reported) on failure. */
static kg_graph *open_source(const args *a, source *src)
{
    memset(src, 0, sizeof *src);
#ifdef KG_CLI_HAVE_CLIENT
    if (kg_cli.server) {
        src->c = connect_server(a);
        if (!src->c)
            return NULL;
        src->g = kg_graph_new();
        if (!src->g) {
            kg_cli_err(a->cmd, "out of memory");
            kg_client_destroy(&src->c);
        }
        return src->g;
    }
#endif
    src->g = kg_cli_load_graphs(a->cmd, a->graphs.v, a->graphs.n);
    return src->g;
}

static void close_source(source *src)
{
    kg_graph_destroy(&src->g);
#ifdef KG_CLI_HAVE_CLIENT
    kg_client_destroy(&src->c);
#endif
}

/* Locally, the entities the command line names (--subject, --object, and
 * with `positionals` every argument) are looked up before the query, so
 * that an unknown one is reported with suggestions; a daemon answers
 * not_found itself. */
static bool need_names(const args *a, const source *src, bool positionals)
{
#ifdef KG_CLI_HAVE_CLIENT
    if (src->c)
        return true;
#endif
    if (a->subject && !kg_cli_need_entity(a->cmd, src->g, a->subject))
        return false;
    if (a->object && !kg_cli_need_entity(a->cmd, src->g, a->object))
        return false;
    for (size_t i = 0; positionals && i < a->pos.n; i++)
        if (!kg_cli_need_entity(a->cmd, src->g, a->pos.v[i]))
            return false;
    return true;
}

/* The answer of whichever query a command ran. One member per kind of
 * answer rather than a union behind a void pointer: each hook reads and
 * writes its own typed member, the others stay zero, and since every
 * free function accepts a zeroed (or failed) result, result_free serves
 * every command. */
typedef struct result {
    kg_rid_list relations;
    kg_eid_list entities;
    kg_neighbor_list neighbors;
    kg_path_list paths;
    kg_eid from, to; /* path: its ends, as the paths start and end */
    kg_subgraph subgraph;
    kg_match_result match;
    kg_eid entity; /* entity: the entity and its relation counts */
    kg_cli_count *out, *in;
    size_t n_out, n_in;
    kg_cli_stats stats;
    char *text; /* export: the text a daemon rendered */
    size_t len;
#ifdef KG_CLI_HAVE_CLIENT
    /* the replies that own the kind strings of out and in, and of stats */
    kg_client_entity_info info;
    kg_client_stats server_stats;
#endif
} result;

static void result_free(result *r)
{
    kg_rid_list_free(&r->relations);
    kg_eid_list_free(&r->entities);
    kg_neighbor_list_free(&r->neighbors);
    kg_path_list_free(&r->paths);
    kg_subgraph_free(&r->subgraph);
    kg_match_result_free(&r->match);
    free(r->out);
    free(r->in);
    free(r->stats.entity_kinds);
    free(r->stats.relation_kinds);
    free(r->text);
#ifdef KG_CLI_HAVE_CLIENT
    kg_client_entity_info_free(&r->info);
    kg_client_stats_free(&r->server_stats);
#endif
}

#ifdef KG_CLI_HAVE_CLIENT
/* The counts per kind of a daemon's reply (entity, stats) as the printers
 * take them; the kind strings stay the reply's. Caller frees. */
static kg_cli_count *from_client_counts(const kg_kind_count *c, size_t n)
{
    kg_cli_count *v = calloc(n + 1, sizeof *v);
    if (!v) {
        fputs("kg: out of memory\n", stderr);
        exit(KG_EXIT_ERROR);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (kg_cli_count){c[i].kind, (size_t)c[i].count};
    return v;
}
#endif

/* A query subcommand: what it says and allows, and the steps that differ
 * from one command to the next, as hooks that run_query calls in this
 * order:
 *
 *   check  the positional arguments (their number, and what must be
 *          parsed before any graph is loaded); -1 to go on, else an exit
 *          status after reporting (kg_cli_usage).
 *   ask    run the query on src - locally, or with ASK through the client
 *          - into its member of r; 0 or a KG_E* code with err filled.
 *   show   print r (only after ask succeeded); returns the exit status,
 *          normally printed() (truncation note, then stdout flushed).
 *
 * Why one runner calling each command's hooks, rather than commands that
 * call shared helpers step by step: the steps, their order and the
 * cleanup (parse, check, open the graphs or the daemon, check the names,
 * ask, report a failure or show, free the result, the source, the
 * arguments) are then written once, so no command can skip, reorder or
 * leak one, and a command's code is only what is its own. Each hook is a
 * plain function called in plain sight: no macro hides a return or a
 * goto. */
typedef struct query_cmd {
    const char *name;
    const char *usage;          /* the --help text */
    const int *options;         /* allowed option values, 0-terminated */
    bool writes_graph;          /* --format dot|tsv|json, else table|tsv|json */
    bool positionals_entities;  /* every positional argument names an entity */
    int (*check)(args *a);
    int (*ask)(const args *a, source *src, result *r, kg_error *err);
    int (*show)(const args *a, const source *src, const result *r);
} query_cmd;

static int run_query(const query_cmd *qc, int argc, char **argv)
{
    args a = {.cmd = qc->name, .usage = qc->usage};
    int st = parse(&a, argc, argv, qc->options, !qc->writes_graph,
                   qc->writes_graph);
    if (st < 0)
        st = qc->check(&a);
    if (st < 0) {
        source src;
        result r;
        memset(&r, 0, sizeof r);
        st = KG_EXIT_ERROR;
        if (open_source(&a, &src) &&
            need_names(&a, &src, qc->positionals_entities)) {
            kg_error err = {0};
            int rc = qc->ask(&a, &src, &r, &err);
            st = rc ? kg_cli_query_failed(a.cmd, &err, rc)
                    : qc->show(&a, &src, &r);
        }
        result_free(&r);
        close_source(&src);
    }
    args_free(&a);
    return st;
}

/* ---- what the commands share ---------------------------------------------------- */

/* check of the commands that take no positional argument. */
static int no_positionals(args *a)
{
    return a->pos.n ? kg_cli_usage(a->cmd, "unexpected argument '%s'", a->pos.v[0])
                    : -1;
}

/* check of the commands that take exactly one entity, called `what` in
 * their usage text. */
static int one_entity(const args *a, const char *what)
{
    if (a->pos.n == 1)
        return -1;
    return a->pos.n ? kg_cli_usage(a->cmd, "one %s at a time", what)
                    : kg_cli_usage(a->cmd, "%s missing", what);
}

static kg_query_opts query_opts(const args *a, unsigned long max_depth)
{
    return (kg_query_opts){.as_of = a->as_of, .limit = a->limit,
                           .max_depth = (unsigned)max_depth};
}

/* The end of show for an answer printed to stdout: a note that --limit
 * cut it to n results, then stdout flushed (a write error is an error). */
static int printed(const args *a, bool truncated, size_t n)
{
    if (truncated)
        kg_cli_err(a->cmd, "showing the first %zu results (--limit)", n);
    return kg_cli_close_out(a->cmd, stdout, NULL);
}

static kg_cli_fmt fmt_or(const args *a, kg_cli_fmt def)
{
    return a->fmt < 0 ? def : (kg_cli_fmt)a->fmt;
}

/* "KEY=VALUE" -> {KEY, VALUE}, "KEY" -> {KEY, NULL}: s is cut at the
 * first '='. */
static kg_pair split_qual(char *s)
{
    char *eq = strchr(s, '=');
    if (eq)
        *eq = '\0';
    return (kg_pair){s, eq ? eq + 1 : NULL};
}

#define COMMON_HELP \
    "  -g, --graph FILE    read FILE (.gv/.dot, .tsv, .json; repeatable);\n" \
    "                      default: the shipped default graph\n" \
    "  -h, --help          this help\n"
#define EXIT_HELP \
    "\nExit status: 0 success, 1 error (bad graph file, unknown entity),\n" \
    "2 bad usage.\n"

/* ---- shared printers ------------------------------------------------------------ */

/* "subject -[kind]-> object" (or "<-[kind]-" when walked backwards from
 * the object). */
static void rel_text(char *buf, size_t n, const kg_graph *g, kg_rid r)
{
    snprintf(buf, n, "%s -[%s]-> %s",
             kg_entity_id(g, kg_relation_subject(g, r)), kg_relation_kind(g, r),
             kg_entity_id(g, kg_relation_object(g, r)));
}

/* Relations as a table; TSV is a fact table that kg reads back. */
void kg_cli_print_relations(const kg_graph *g, const kg_rid *ids, size_t n,
                            bool truncated, kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_obj(&j);
        kg_json_key(&j, "relations");
        kg_json_arr(&j);
        for (size_t i = 0; i < n; i++)
            kg_json_relation(&j, g, ids[i]);
        kg_json_arr_end(&j);
        kg_json_key(&j, "truncated");
        kg_json_bool(&j, truncated);
        kg_json_obj_end(&j);
        fputc('\n', out);
        return;
    }
    static const char *const full[] = {"subject", "relation", "object",
                                       "qualifiers", "evidence", "provenance"};
    kg_table *t = kg_table_new(fmt == KG_CLI_TSV ? 6 : 4, full);
    for (size_t i = 0; i < n; i++) {
        kg_rid r = ids[i];
        char *q = kg_cli_quals(g, r);
        char *p = kg_cli_prov(g, r);
        const char *cells[6] = {kg_entity_id(g, kg_relation_subject(g, r)),
                                kg_relation_kind(g, r),
                                kg_entity_id(g, kg_relation_object(g, r)), q,
                                kg_relation_prov_get(g, r, KG_PROV_EVIDENCE), p};
        kg_table_add(t, cells);
        free(q);
        free(p);
    }
    if (n || fmt == KG_CLI_TSV)
        kg_table_print(t, fmt, out);
    kg_table_destroy(&t);
}

/* ---- export ------------------------------------------------------------------------ */

static const char export_usage[] =
    "Usage: kg export [--format dot|tsv|json] [-o FILE] [-g FILE]...\n"
    "\n"
    "Write the whole graph. DOT is styled for `dot -Tsvg`; TSV is the fact\n"
    "table with #@entity lines; JSON is {\"entities\":[...],\"relations\":[...]}.\n"
    "All three read back with -g.\n"
    "\n"
    "  --format FMT        dot (default, or from the -o extension), tsv, json\n"
    "  -o, --output FILE   write to FILE instead of standard output\n"
    COMMON_HELP EXIT_HELP;

static int write_graph(const args *a, const kg_graph *g, kg_cli_fmt fmt)
{
    kg_format f = fmt == KG_CLI_TSV    ? KG_FORMAT_TSV
                  : fmt == KG_CLI_JSON ? KG_FORMAT_JSON
                                       : KG_FORMAT_DOT;
    FILE *out = kg_cli_open_out(a->cmd, a->output);
    if (!out)
        return KG_EXIT_ERROR;
    kg_error err = {0};
    int rc = kg_write_file(g, f, out, &err);
    int st = kg_cli_close_out(a->cmd, out, a->output);
    if (rc) {
        kg_cli_query_failed(a->cmd, &err, rc);
        return KG_EXIT_ERROR;
    }
    return st;
}

/* The format of a graph-writing command: --format, else the -o file's
 * extension, else DOT. */
static kg_cli_fmt graph_fmt(const args *a)
{
    if (a->fmt >= 0)
        return (kg_cli_fmt)a->fmt;
    if (a->output) {
        kg_format f = kg_format_from_path(a->output);
        if (f == KG_FORMAT_TSV)
            return KG_CLI_TSV;
        if (f == KG_FORMAT_JSON)
            return KG_CLI_JSON;
    }
    return KG_CLI_DOT;
}

/* A daemon renders the text itself: its whole graph never crosses as
 * entities and relations. Locally there is nothing to ask: show writes
 * the loaded graph. */
static int export_ask(const args *a, source *src, result *r, kg_error *err)
{
#ifdef KG_CLI_HAVE_CLIENT
    if (src->c) {
        kg_cli_fmt f = graph_fmt(a);
        return kg_client_export(src->c, f == KG_CLI_TSV    ? "tsv"
                                         : f == KG_CLI_JSON ? "json"
                                                            : "dot",
                                NULL, &r->text, &r->len, err);
    }
#endif
    (void)a, (void)src, (void)r, (void)err;
    return 0;
}

static int export_show(const args *a, const source *src, const result *r)
{
#ifdef KG_CLI_HAVE_CLIENT
    if (src->c) {
        FILE *out = kg_cli_open_out(a->cmd, a->output);
        if (!out)
            return KG_EXIT_ERROR;
        fwrite(r->text, 1, r->len, out);
        return kg_cli_close_out(a->cmd, out, a->output);
    }
#endif
    (void)r; /* used with the client library only */
    return write_graph(a, src->g, graph_fmt(a));
}

/* ---- entity ----------------------------------------------------------------------- */

static const char entity_usage[] =
    "Usage: kg entity NAME [--format table|tsv|json] [-g FILE]...\n"
    "\n"
    "Show an entity found by id or alias (case-insensitive): its kind,\n"
    "aliases, attributes and how many relations leave (out) and enter (in)\n"
    "it, by relation kind.\n"
    "\n"
    "  --format FMT        table (default), tsv, json\n"
    COMMON_HELP EXIT_HELP;

/* Relation counts of e in one direction, by kind: adjacency is sorted by
 * kind, so equal kinds are consecutive. Caller frees *out. */
static size_t count_kinds(const kg_graph *g, kg_eid e, kg_dir d,
                          kg_cli_count **out)
{
    kg_span s = kg_adjacent(g, e, d, 0);
    *out = calloc(s.n + 1, sizeof **out);
    if (!*out) {
        fputs("kg: out of memory\n", stderr);
        exit(KG_EXIT_ERROR);
    }
    size_t n = 0;
    for (size_t i = 0; i < s.n;) {
        kg_atom k = kg_relation_kind_atom(g, s.ids[i]);
        size_t c = 0;
        while (i < s.n && kg_relation_kind_atom(g, s.ids[i]) == k) {
            i++;
            c++;
        }
        (*out)[n++] = (kg_cli_count){kg_atom_str(g, k), c};
    }
    return n;
}

static void json_counts(kg_json *j, const kg_cli_count *c, size_t n)
{
    kg_json_obj(j);
    for (size_t i = 0; i < n; i++) {
        kg_json_key(j, c[i].kind);
        kg_json_int(j, (long long)c[i].count);
    }
    kg_json_obj_end(j);
}

static void table_counts(kg_table *t, const char *what, const kg_cli_count *c,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char num[32];
        snprintf(num, sizeof num, "%zu", c[i].count);
        const char *cells[3] = {what, c[i].kind, num};
        kg_table_add(t, cells);
    }
}

void kg_cli_print_entity(const kg_graph *g, kg_eid e, const kg_cli_count *out_c,
                         size_t n_out, const kg_cli_count *in_c, size_t n_in,
                         kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_obj(&j);
        kg_json_entity_fields(&j, g, e);
        kg_json_key(&j, "out");
        json_counts(&j, out_c, n_out);
        kg_json_key(&j, "in");
        json_counts(&j, in_c, n_in);
        kg_json_obj_end(&j);
        fputc('\n', out);
        return;
    }
    /* TSV and table: one "field key value" row per fact about it. */
    static const char *const head[] = {"field", "key", "value"};
    kg_table *t = kg_table_new(3, head);
    const char *id[3] = {"id", "", kg_entity_id(g, e)};
    const char *kind[3] = {"kind", "", kg_entity_kind(g, e)};
    kg_table_add(t, id);
    kg_table_add(t, kind);
    for (size_t i = 0; i < kg_entity_alias_count(g, e); i++) {
        const char *c[3] = {"alias", "", kg_entity_alias(g, e, i)};
        kg_table_add(t, c);
    }
    for (size_t i = 0; i < kg_entity_attr_count(g, e); i++) {
        kg_pair p = kg_entity_attr(g, e, i);
        const char *c[3] = {"attribute", p.key, p.value};
        kg_table_add(t, c);
    }
    table_counts(t, "out", out_c, n_out);
    table_counts(t, "in", in_c, n_in);
    kg_table_print(t, fmt, out);
    kg_table_destroy(&t);
}

static int entity_check(args *a)
{
    return one_entity(a, "NAME");
}

static int entity_ask(const args *a, source *src, result *r, kg_error *err)
{
#ifdef KG_CLI_HAVE_CLIENT
    if (src->c) {
        int rc = kg_client_entity(src->c, a->pos.v[0], NULL, src->g, &r->info,
                                  err);
        if (rc)
            return rc;
        r->entity = r->info.entity;
        r->n_out = r->info.n_out;
        r->n_in = r->info.n_in;
        r->out = from_client_counts(r->info.out, r->n_out);
        r->in = from_client_counts(r->info.in, r->n_in);
        return 0;
    }
#endif
    (void)err; /* a local look-up cannot fail */
    r->entity = kg_entity_find(src->g, a->pos.v[0]);
    r->n_out = count_kinds(src->g, r->entity, KG_OUT, &r->out);
    r->n_in = count_kinds(src->g, r->entity, KG_IN, &r->in);
    return 0;
}

static int entity_show(const args *a, const source *src, const result *r)
{
    kg_cli_print_entity(src->g, r->entity, r->out, r->n_out, r->in, r->n_in,
                        fmt_or(a, KG_CLI_TABLE), stdout);
    return kg_cli_close_out(a->cmd, stdout, NULL);
}

/* ---- entities --------------------------------------------------------------------- */

static const char entities_usage[] =
    "Usage: kg entities [--kind KIND] [--prefix TEXT] [--limit N] [--offset N]\n"
    "                   [--format table|tsv|json] [-g FILE]...\n"
    "\n"
    "List entities sorted by id: all, or those of one kind, or those whose id\n"
    "or an alias starts with TEXT (case-insensitive).\n"
    "\n"
    "  --kind KIND         only entities of this kind (country, product, ...)\n"
    "  --prefix TEXT       only ids or aliases starting with TEXT\n"
    "  --limit N           at most N entities (default: all)\n"
    "  --offset N          skip the first N\n"
    "  --format FMT        table (default), tsv, json\n"
    COMMON_HELP EXIT_HELP;

/* JSON: {"entities": [{"id", "kind"}...], "total", "truncated"}; table
 * and TSV: id, kind and the aliases joined by '|'. */
static void print_entities(const kg_graph *g, const kg_eid_list *l,
                           kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_obj(&j);
        kg_json_key(&j, "entities");
        kg_json_arr(&j);
        for (size_t i = 0; i < l->n; i++) {
            kg_json_obj(&j);
            kg_json_key(&j, "id");
            kg_json_str(&j, kg_entity_id(g, l->ids[i]));
            kg_json_key(&j, "kind");
            kg_json_str(&j, kg_entity_kind(g, l->ids[i]));
            kg_json_obj_end(&j);
        }
        kg_json_arr_end(&j);
        kg_json_key(&j, "total");
        kg_json_int(&j, (long long)l->total);
        kg_json_key(&j, "truncated");
        kg_json_bool(&j, l->truncated);
        kg_json_obj_end(&j);
        fputc('\n', out);
        return;
    }
    static const char *const head[] = {"id", "kind", "aliases"};
    kg_table *t = kg_table_new(3, head);
    for (size_t i = 0; i < l->n; i++) {
        kg_eid e = l->ids[i];
        size_t len = 1;
        for (size_t k = 0; k < kg_entity_alias_count(g, e); k++)
            len += strlen(kg_entity_alias(g, e, k)) + 1;
        char *al = malloc(len);
        if (!al) {
            fputs("kg entities: out of memory\n", stderr);
            exit(KG_EXIT_ERROR);
        }
        al[0] = '\0';
        for (size_t k = 0; k < kg_entity_alias_count(g, e); k++) {
            if (k)
                strcat(al, "|");
            strcat(al, kg_entity_alias(g, e, k));
        }
        const char *cells[3] = {kg_entity_id(g, e), kg_entity_kind(g, e), al};
        kg_table_add(t, cells);
        free(al);
    }
    if (l->n || fmt == KG_CLI_TSV)
        kg_table_print(t, fmt, out);
    kg_table_destroy(&t);
}

static int entities_ask(const args *a, source *src, result *r, kg_error *err)
{
    kg_entities_query q = {.kind = a->kind, .prefix = a->prefix,
                           .offset = a->offset, .opts.limit = a->limit};
    return ASK(src, kg_client_entities(src->c, &q, src->g, &r->entities, err),
               kg_query_entities(src->g, &q, &r->entities, err));
}

static int entities_show(const args *a, const source *src, const result *r)
{
    kg_cli_fmt fmt = fmt_or(a, KG_CLI_TABLE);
    print_entities(src->g, &r->entities, fmt, stdout);
    /* JSON says "truncated" itself */
    if (r->entities.truncated && fmt != KG_CLI_JSON)
        kg_cli_err(a->cmd, "showing %zu of %zu entities (--limit, --offset)",
                   r->entities.n, r->entities.total);
    return kg_cli_close_out(a->cmd, stdout, NULL);
}

/* ---- relations -------------------------------------------------------------------- */

static const char relations_usage[] =
    "Usage: kg relations [--subject X] [--relation R] [--object Y]\n"
    "                    [--where KEY=VALUE|KEY]... [--as-of DATE] [--limit N]\n"
    "                    [--format table|tsv|json] [-g FILE]...\n"
    "\n"
    "Find relations. X and Y are entity names (id or alias); R is a relation\n"
    "kind (tariffs-on, exports-to, ...). --where KEY=VALUE keeps relations\n"
    "whose qualifier KEY is exactly VALUE; --where KEY those that have KEY.\n"
    "--as-of DATE (2025-06-01, 2025-06 or 2025) keeps relations in force on\n"
    "that date by their date/since/until qualifiers (docs/cli.md).\n"
    "\n"
    "  --limit N           at most N relations (default: all)\n"
    "  --format FMT        table (default), tsv (a fact table), json\n"
    COMMON_HELP EXIT_HELP;

/* One --relation (the query takes one kind); the --where filters as
 * pairs. */
static int relations_check(args *a)
{
    if (a->pos.n)
        return kg_cli_usage(a->cmd, "unexpected argument '%s' (use --subject, "
                            "--relation, --object)", a->pos.v[0]);
    if (a->rels.n > 1)
        return kg_cli_usage(a->cmd, "one --relation at a time");
    a->where = calloc(a->wheres.n + 1, sizeof *a->where);
    a->where_text = calloc(a->wheres.n + 1, sizeof *a->where_text);
    if (!a->where || !a->where_text) {
        kg_cli_err(a->cmd, "out of memory");
        return KG_EXIT_ERROR;
    }
    for (size_t i = 0; i < a->wheres.n; i++) {
        a->where_text[i] = strdup(a->wheres.v[i]);
        if (!a->where_text[i]) {
            kg_cli_err(a->cmd, "out of memory");
            return KG_EXIT_ERROR;
        }
        a->where[i] = split_qual(a->where_text[i]);
    }
    if (a->wheres.n > KG_QUERY_MAX_QUALS)
        return kg_cli_usage(a->cmd, "at most %d --where", KG_QUERY_MAX_QUALS);
    return -1;
}

static int relations_ask(const args *a, source *src, result *r, kg_error *err)
{
    kg_relations_query q = {.subject = a->subject, .relation = a->relation,
                            .object = a->object, .where = a->where,
                            .n_where = a->wheres.n, .opts = query_opts(a, 0)};
    return ASK(src, kg_client_relations(src->c, &q, src->g, &r->relations, err),
               kg_query_relations(src->g, &q, &r->relations, err));
}

static int relations_show(const args *a, const source *src, const result *r)
{
    const kg_rid_list *l = &r->relations;
    kg_cli_print_relations(src->g, l->ids, l->n, l->truncated,
                           fmt_or(a, KG_CLI_TABLE), stdout);
    return printed(a, l->truncated, l->n);
}

/* ---- neighbors -------------------------------------------------------------------- */

static const char neighbors_usage[] =
    "Usage: kg neighbors ENTITY [--depth N] [--relation R]... [--direction out|in|both]\n"
    "                    [--as-of DATE] [--limit N] [--format table|tsv|json]\n"
    "                    [-g FILE]...\n"
    "\n"
    "Entities reachable from ENTITY in at most N steps (breadth first),\n"
    "each with its depth and the relation it was reached by.\n"
    "\n"
    "  --depth N           steps (default 1)\n"
    "  --relation R        follow only relations of kind R (repeatable)\n"
    "  --direction D       out (default: subject to object), in, both\n"
    "  --as-of DATE        only relations in force on DATE\n"
    "  --limit N           at most N entities\n"
    "  --format FMT        table (default), tsv, json\n"
    COMMON_HELP EXIT_HELP;

void kg_cli_print_neighbors(const kg_graph *g, const kg_neighbor_list *l,
                            kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_obj(&j);
        kg_json_key(&j, "neighbors");
        kg_json_arr(&j);
        for (size_t i = 0; i < l->n; i++) {
            const kg_neighbor *nb = &l->items[i];
            kg_json_obj(&j);
            kg_json_key(&j, "entity");
            kg_json_str(&j, kg_entity_id(g, nb->entity));
            kg_json_key(&j, "kind");
            kg_json_str(&j, kg_entity_kind(g, nb->entity));
            kg_json_key(&j, "depth");
            kg_json_int(&j, nb->depth);
            kg_json_key(&j, "via");
            kg_json_relation(&j, g, nb->via);
            kg_json_obj_end(&j);
        }
        kg_json_arr_end(&j);
        kg_json_key(&j, "truncated");
        kg_json_bool(&j, l->truncated);
        kg_json_obj_end(&j);
        fputc('\n', out);
        return;
    }
    static const char *const head[] = {"depth", "entity", "kind", "subject",
                                       "relation", "object"};
    static const char *const thead[] = {"depth", "entity", "kind", "via"};
    kg_table *t = kg_table_new(fmt == KG_CLI_TSV ? 6 : 4,
                               fmt == KG_CLI_TSV ? head : thead);
    for (size_t i = 0; i < l->n; i++) {
        const kg_neighbor *nb = &l->items[i];
        char d[16], via[1024];
        snprintf(d, sizeof d, "%u", nb->depth);
        rel_text(via, sizeof via, g, nb->via);
        if (fmt == KG_CLI_TSV) {
            const char *c[6] = {d, kg_entity_id(g, nb->entity),
                                kg_entity_kind(g, nb->entity),
                                kg_entity_id(g, kg_relation_subject(g, nb->via)),
                                kg_relation_kind(g, nb->via),
                                kg_entity_id(g, kg_relation_object(g, nb->via))};
            kg_table_add(t, c);
        } else {
            const char *c[4] = {d, kg_entity_id(g, nb->entity),
                                kg_entity_kind(g, nb->entity), via};
            kg_table_add(t, c);
        }
    }
    if (l->n || fmt == KG_CLI_TSV)
        kg_table_print(t, fmt, out);
    kg_table_destroy(&t);
}

static int neighbors_check(args *a)
{
    return one_entity(a, "ENTITY");
}

static int neighbors_ask(const args *a, source *src, result *r, kg_error *err)
{
    kg_neighbors_query q = {.entity = a->pos.v[0], .dir = a->dir,
                            .relations = a->rels.v, .n_relations = a->rels.n,
                            .opts = query_opts(a, a->depth)};
    return ASK(src, kg_client_neighbors(src->c, &q, src->g, &r->neighbors, err),
               kg_query_neighbors(src->g, &q, &r->neighbors, err));
}

static int neighbors_show(const args *a, const source *src, const result *r)
{
    kg_cli_print_neighbors(src->g, &r->neighbors, fmt_or(a, KG_CLI_TABLE),
                           stdout);
    return printed(a, r->neighbors.truncated, r->neighbors.n);
}

/* ---- path ---------------------------------------------------------------------------- */

static const char path_usage[] =
    "Usage: kg path FROM TO [--relation R]... [--direction out|in|both] [--all]\n"
    "               [--max-length N] [--as-of DATE] [--limit N]\n"
    "               [--format table|tsv|json] [-g FILE]...\n"
    "\n"
    "A shortest path from FROM to TO (fewest relations). By default relations\n"
    "are followed from subject to object only; --direction both also walks\n"
    "them backwards (shown as <-[kind]-). No path is not an error: the output\n"
    "says so (table) or is empty (tsv), and the exit status is 0.\n"
    "\n"
    "  --all               every shortest path (at most --limit, default 1000)\n"
    "  --max-length N      give up beyond N relations\n"
    "  --relation R        follow only relations of kind R (repeatable)\n"
    "  --as-of DATE        only relations in force on DATE\n"
    "  --format FMT        table (default), tsv, json\n"
    COMMON_HELP EXIT_HELP;

void kg_cli_print_paths(const kg_graph *g, kg_eid from, kg_eid to,
                        const kg_path_list *l, kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_obj(&j);
        kg_json_key(&j, "paths");
        kg_json_arr(&j);
        for (size_t p = 0; p < l->n; p++) {
            kg_json_arr(&j);
            for (size_t i = 0; i < l->paths[p].n; i++)
                kg_json_relation(&j, g, l->paths[p].steps[i].rel);
            kg_json_arr_end(&j);
        }
        kg_json_arr_end(&j);
        kg_json_key(&j, "length");
        if (l->n)
            kg_json_int(&j, (long long)l->paths[0].n);
        else
            kg_json_str(&j, NULL);
        kg_json_key(&j, "truncated");
        kg_json_bool(&j, l->truncated);
        kg_json_obj_end(&j);
        fputc('\n', out);
        return;
    }
    if (fmt == KG_CLI_TSV) {
        static const char *const head[] = {"path", "step", "subject",
                                           "relation", "object", "direction"};
        kg_table *t = kg_table_new(6, head);
        for (size_t p = 0; p < l->n; p++)
            for (size_t i = 0; i < l->paths[p].n; i++) {
                kg_path_step s = l->paths[p].steps[i];
                char pn[24], sn[24];
                snprintf(pn, sizeof pn, "%zu", p + 1);
                snprintf(sn, sizeof sn, "%zu", i + 1);
                const char *c[6] = {pn, sn,
                                    kg_entity_id(g, kg_relation_subject(g, s.rel)),
                                    kg_relation_kind(g, s.rel),
                                    kg_entity_id(g, kg_relation_object(g, s.rel)),
                                    s.dir == KG_OUT ? "out" : "in"};
                kg_table_add(t, c);
            }
        kg_table_print(t, fmt, out);
        kg_table_destroy(&t);
        return;
    }
    if (l->n == 0) {
        fprintf(out, "no path from %s to %s\n", kg_entity_id(g, from),
                kg_entity_id(g, to));
        return;
    }
    for (size_t p = 0; p < l->n; p++) {
        fputs(kg_entity_id(g, from), out);
        kg_eid at = from;
        for (size_t i = 0; i < l->paths[p].n; i++) {
            kg_path_step s = l->paths[p].steps[i];
            if (s.dir == KG_OUT) {
                at = kg_relation_object(g, s.rel);
                fprintf(out, " -[%s]-> %s", kg_relation_kind(g, s.rel),
                        kg_entity_id(g, at));
            } else {
                at = kg_relation_subject(g, s.rel);
                fprintf(out, " <-[%s]- %s", kg_relation_kind(g, s.rel),
                        kg_entity_id(g, at));
            }
        }
        fputc('\n', out);
    }
}

static int path_check(args *a)
{
    return a->pos.n == 2 ? -1 : kg_cli_usage(a->cmd, "needs FROM and TO");
}

/* A daemon names the ends as the paths start and end (the canonical ids
 * of FROM and TO); locally they are looked up. */
static int path_ask(const args *a, source *src, result *r, kg_error *err)
{
    kg_path_query q = {.from = a->pos.v[0], .to = a->pos.v[1],
                       .relations = a->rels.v, .n_relations = a->rels.n,
                       .dir = a->dir, .all = a->all,
                       .opts = query_opts(a, a->max_length)};
    r->from = r->to = KG_NONE;
    int rc = ASK(src, kg_client_path(src->c, &q, src->g, &r->paths, &r->from,
                                     &r->to, err),
                 kg_query_path(src->g, &q, &r->paths, err));
    if (r->from == KG_NONE) {
        r->from = kg_entity_find(src->g, q.from);
        r->to = kg_entity_find(src->g, q.to);
    }
    return rc;
}

static int path_show(const args *a, const source *src, const result *r)
{
    kg_cli_print_paths(src->g, r->from, r->to, &r->paths,
                       fmt_or(a, KG_CLI_TABLE), stdout);
    return printed(a, r->paths.truncated, r->paths.n);
}

/* ---- subgraph ------------------------------------------------------------------------- */

static const char subgraph_usage[] =
    "Usage: kg subgraph ENTITY... [--depth N] [--relation R]... [--direction out|in|both]\n"
    "                   [--as-of DATE] [--limit N] [--format dot|tsv|json] [-o FILE]\n"
    "                   [-g FILE]...\n"
    "\n"
    "The neighbourhood of the ENTITYs as a graph: the entities within N steps\n"
    "and every relation among them, written like `kg export`:\n"
    "    kg subgraph China --depth 1 | dot -Tsvg > china.svg\n"
    "\n"
    "  --depth N           steps (default 1)\n"
    "  --relation R        follow and keep only relations of kind R (repeatable)\n"
    "  --direction D       both (default), out, in\n"
    "  --as-of DATE        only relations in force on DATE\n"
    "  --limit N           at most N entities, the seeds included\n"
    "  --format FMT        dot (default, or from the -o extension), tsv, json\n"
    "  -o, --output FILE   write to FILE instead of standard output\n"
    COMMON_HELP EXIT_HELP;

static int subgraph_check(args *a)
{
    return a->pos.n ? -1 : kg_cli_usage(a->cmd, "ENTITY missing");
}

static int subgraph_ask(const args *a, source *src, result *r, kg_error *err)
{
    kg_subgraph_query q = {.seeds = a->pos.v, .n_seeds = a->pos.n,
                           .relations = a->rels.v, .n_relations = a->rels.n,
                           .dir = a->dir, .opts = query_opts(a, a->depth)};
    return ASK(src, kg_client_subgraph(src->c, &q, &r->subgraph, err),
               kg_query_subgraph(src->g, &q, &r->subgraph, err));
}

/* Written like export; --limit counts entities. */
static int subgraph_show(const args *a, const source *src, const result *r)
{
    (void)src;
    int st = write_graph(a, r->subgraph.graph, graph_fmt(a));
    if (r->subgraph.truncated)
        kg_cli_err(a->cmd, "stopped at %zu entities (--limit)",
                   kg_entity_count(r->subgraph.graph));
    return st;
}

/* ---- stats ------------------------------------------------------------------------------ */

static const char stats_usage[] =
    "Usage: kg stats [--format table|tsv|json] [-g FILE]...\n"
    "\n"
    "Count entities and relations, by kind, and the memory the graph uses.\n"
    "\n"
    "  --format FMT        table (default), tsv, json\n"
    COMMON_HELP EXIT_HELP;

void kg_cli_print_stats(const kg_cli_stats *s, kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_obj(&j);
        kg_json_key(&j, "entities");
        kg_json_int(&j, (long long)s->entities);
        kg_json_key(&j, "relations");
        kg_json_int(&j, (long long)s->relations);
        kg_json_key(&j, "entity_kinds");
        json_counts(&j, s->entity_kinds, s->n_entity_kinds);
        kg_json_key(&j, "relation_kinds");
        json_counts(&j, s->relation_kinds, s->n_relation_kinds);
        kg_json_key(&j, "memory_bytes");
        kg_json_int(&j, (long long)s->memory_bytes);
        kg_json_obj_end(&j);
        fputc('\n', out);
        return;
    }
    static const char *const head[] = {"what", "kind", "count"};
    kg_table *t = kg_table_new(3, head);
    char num[32];
    snprintf(num, sizeof num, "%zu", s->entities);
    kg_table_add(t, (const char *const[]){"entities", "", num});
    table_counts(t, "entity_kind", s->entity_kinds, s->n_entity_kinds);
    snprintf(num, sizeof num, "%zu", s->relations);
    kg_table_add(t, (const char *const[]){"relations", "", num});
    table_counts(t, "relation_kind", s->relation_kinds, s->n_relation_kinds);
    snprintf(num, sizeof num, "%zu", s->memory_bytes);
    kg_table_add(t, (const char *const[]){"memory_bytes", "", num});
    kg_table_print(t, fmt, out);
    kg_table_destroy(&t);
}

/* The statistics of a local graph. Free the two arrays. */
static void local_stats(const kg_graph *g, kg_cli_stats *s)
{
    memset(s, 0, sizeof *s);
    size_t nek = kg_entity_kinds(g, NULL, NULL, 0);
    size_t nrk = kg_relation_kinds(g, NULL, NULL, 0);
    kg_atom *ek = calloc(nek + 1, sizeof *ek), *rk = calloc(nrk + 1, sizeof *rk);
    size_t *ec = calloc(nek + 1, sizeof *ec), *rc = calloc(nrk + 1, sizeof *rc);
    s->entity_kinds = calloc(nek + 1, sizeof *s->entity_kinds);
    s->relation_kinds = calloc(nrk + 1, sizeof *s->relation_kinds);
    if (!ek || !rk || !ec || !rc || !s->entity_kinds || !s->relation_kinds) {
        fputs("kg stats: out of memory\n", stderr);
        exit(KG_EXIT_ERROR);
    }
    s->n_entity_kinds = kg_entity_kinds(g, ek, ec, nek);
    s->n_relation_kinds = kg_relation_kinds(g, rk, rc, nrk);
    for (size_t i = 0; i < s->n_entity_kinds; i++)
        s->entity_kinds[i] = (kg_cli_count){kg_atom_str(g, ek[i]), ec[i]};
    for (size_t i = 0; i < s->n_relation_kinds; i++)
        s->relation_kinds[i] = (kg_cli_count){kg_atom_str(g, rk[i]), rc[i]};
    s->entities = kg_entity_count(g);
    s->relations = kg_relation_count(g);
    s->memory_bytes = kg_graph_memory(g);
    free(ek);
    free(rk);
    free(ec);
    free(rc);
}

static int stats_ask(const args *a, source *src, result *r, kg_error *err)
{
    (void)a;
#ifdef KG_CLI_HAVE_CLIENT
    if (src->c) {
        kg_client_stats *cs = &r->server_stats;
        int rc = kg_client_stats_get(src->c, cs, err);
        if (rc)
            return rc;
        r->stats.entities = (size_t)cs->entities;
        r->stats.relations = (size_t)cs->relations;
        r->stats.memory_bytes = (size_t)cs->memory_bytes;
        r->stats.n_entity_kinds = cs->n_entity_kinds;
        r->stats.n_relation_kinds = cs->n_relation_kinds;
        r->stats.entity_kinds = from_client_counts(cs->entity_kinds,
                                                   cs->n_entity_kinds);
        r->stats.relation_kinds = from_client_counts(cs->relation_kinds,
                                                     cs->n_relation_kinds);
        return 0;
    }
#endif
    (void)err; /* local statistics cannot fail */
    local_stats(src->g, &r->stats);
    return 0;
}

static int stats_show(const args *a, const source *src, const result *r)
{
    (void)src;
    kg_cli_print_stats(&r->stats, fmt_or(a, KG_CLI_TABLE), stdout);
    return kg_cli_close_out(a->cmd, stdout, NULL);
}

/* ---- match -------------------------------------------------------------------------------- */

static const char match_usage[] =
    "Usage: kg match PATTERN... [--as-of DATE] [--limit N] [--explain]\n"
    "                [--format table|tsv|json] [-g FILE]...\n"
    "\n"
    "Find every binding of the ?variables that satisfies all patterns. A\n"
    "pattern is one argument: SUBJECT RELATION OBJECT, then qualifiers:\n"
    "KEY=VALUE (must equal), KEY=?var (binds the value), KEY (must be there).\n"
    "Any term may be a ?variable; quote names with spaces inside the pattern:\n"
    "    kg match '?a tariffs-on ?p origin=?b' '?a exports-to ?b'\n"
    "    kg match '\"Emmanuel Macron\" meets ?who place=Beijing'\n"
    "\n"
    "  --as-of DATE        only relations in force on DATE\n"
    "  --limit N           at most N rows\n"
    "  --explain           show the order the patterns ran in first\n"
    "  --format FMT        table (default), tsv, json\n"
    COMMON_HELP EXIT_HELP;

/* Split a pattern into terms: whitespace separates; "..." and '...' quote
 * (also inside a term: place="New York"); in "...", backslash escapes the
 * next character. Returns NULL or a static message. */
static const char *tokenize(const char *s, toks *t)
{
    size_t len = strlen(s);
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            return NULL;
        char *buf = malloc(len + 1);
        if (!buf)
            return "out of memory";
        size_t n = 0;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
            if (*s == '"' || *s == '\'') {
                char q = *s++;
                while (*s && *s != q) {
                    if (q == '"' && *s == '\\' && s[1])
                        s++;
                    buf[n++] = *s++;
                }
                if (*s != q) {
                    free(buf);
                    return "unterminated quote";
                }
                s++;
            } else {
                buf[n++] = *s++;
            }
        }
        buf[n] = '\0';
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 8;
            char **v = realloc(t->v, t->cap * sizeof *v);
            if (!v) {
                free(buf);
                return "out of memory";
            }
            t->v = v;
        }
        t->v[t->n++] = buf;
    }
}

void kg_cli_print_match(const kg_match_result *r, const char *const *patterns,
                        bool explain, bool estimates, kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_obj(&j);
        kg_json_key(&j, "variables");
        kg_json_arr(&j);
        char name[256];
        for (size_t v = 0; v < r->n_vars; v++) {
            snprintf(name, sizeof name, "?%s", r->vars[v]);
            kg_json_str(&j, name);
        }
        kg_json_arr_end(&j);
        kg_json_key(&j, "rows");
        kg_json_arr(&j);
        for (size_t i = 0; i < r->n_rows; i++) {
            kg_json_arr(&j);
            for (size_t v = 0; v < r->n_vars; v++)
                kg_json_str(&j, r->cells[i * r->n_vars + v]);
            kg_json_arr_end(&j);
        }
        kg_json_arr_end(&j);
        kg_json_key(&j, "truncated");
        kg_json_bool(&j, r->truncated);
        kg_json_key(&j, "plan");
        kg_json_arr(&j);
        for (size_t i = 0; i < r->n_plan; i++)
            kg_json_int(&j, (long long)r->plan[i].pattern);
        kg_json_arr_end(&j);
        if (estimates) {
            kg_json_key(&j, "estimates");
            kg_json_arr(&j);
            for (size_t i = 0; i < r->n_plan; i++)
                kg_json_num(&j, r->plan[i].estimate);
            kg_json_arr_end(&j);
        }
        kg_json_obj_end(&j);
        fputc('\n', out);
        return;
    }
    if (explain) {
        /* table: before the rows; tsv: on stderr, to keep stdout a table */
        FILE *ef = fmt == KG_CLI_TSV ? stderr : out;
        fputs("plan:\n", ef);
        for (size_t i = 0; i < r->n_plan; i++) {
            fprintf(ef, "  %zu. pattern %zu  %s", i + 1, r->plan[i].pattern + 1,
                    patterns[r->plan[i].pattern]);
            if (estimates)
                fprintf(ef, "  (estimate %.3g per row)", r->plan[i].estimate);
            fputc('\n', ef);
        }
        if (ef == out)
            fputc('\n', out);
    }
    if (r->n_vars == 0) {
        if (fmt != KG_CLI_TSV)
            fputs(r->n_rows ? "yes\n" : "no\n", out);
        else
            fputs(r->n_rows ? "true\n" : "false\n", out);
        return;
    }
    char **head = malloc(r->n_vars * sizeof *head);
    if (!head) {
        fputs("kg match: out of memory\n", stderr);
        exit(KG_EXIT_ERROR);
    }
    for (size_t v = 0; v < r->n_vars; v++) {
        head[v] = malloc(strlen(r->vars[v]) + 2);
        if (!head[v]) {
            fputs("kg match: out of memory\n", stderr);
            exit(KG_EXIT_ERROR);
        }
        head[v][0] = '?';
        strcpy(head[v] + 1, r->vars[v]);
    }
    kg_table *t = kg_table_new(r->n_vars, (const char *const *)head);
    for (size_t i = 0; i < r->n_rows; i++)
        kg_table_add(t, (const char *const *)r->cells + i * r->n_vars);
    if (r->n_rows || fmt == KG_CLI_TSV)
        kg_table_print(t, fmt, out);
    kg_table_destroy(&t);
    for (size_t v = 0; v < r->n_vars; v++)
        free(head[v]);
    free(head);
}

/* Each PATTERN split into terms and qualifiers (a->patterns), so that a
 * malformed one is bad usage before any graph is loaded. */
static int match_check(args *a)
{
    size_t np = a->pos.n;
    if (np == 0)
        return kg_cli_usage(a->cmd, "PATTERN missing");
    if (np > KG_QUERY_MATCH_MAX_PATTERNS)
        return kg_cli_usage(a->cmd, "at most %d patterns",
                            KG_QUERY_MATCH_MAX_PATTERNS);
    a->terms = calloc(np, sizeof *a->terms);
    a->patterns = calloc(np, sizeof *a->patterns);
    a->quals = calloc(np, sizeof *a->quals);
    if (!a->terms || !a->patterns || !a->quals) {
        kg_cli_err(a->cmd, "out of memory");
        return KG_EXIT_ERROR;
    }
    for (size_t i = 0; i < np; i++) {
        toks *t = &a->terms[i];
        const char *msg = tokenize(a->pos.v[i], t);
        if (!msg && t->n < 3)
            msg = "needs SUBJECT RELATION OBJECT";
        if (!msg && t->n - 3 > KG_QUERY_MAX_QUALS)
            msg = "too many qualifiers";
        if (msg)
            return kg_cli_usage(a->cmd, "pattern %zu (%s): %s", i + 1,
                                a->pos.v[i], msg);
        size_t nq = t->n - 3;
        a->quals[i] = calloc(nq + 1, sizeof *a->quals[i]);
        if (!a->quals[i]) {
            kg_cli_err(a->cmd, "out of memory");
            return KG_EXIT_ERROR;
        }
        for (size_t k = 0; k < nq; k++) {
            char *term = t->v[3 + k];
            if (term[0] == '=')
                return kg_cli_usage(a->cmd, "pattern %zu: qualifier '%s' has "
                                    "no key", i + 1, term);
            a->quals[i][k] = split_qual(term);
        }
        a->patterns[i] = (kg_match_pattern){t->v[0], t->v[1], t->v[2],
                                            a->quals[i], nq};
    }
    return -1;
}

static int match_ask(const args *a, source *src, result *r, kg_error *err)
{
    kg_match_query q = {.patterns = a->patterns, .n_patterns = a->pos.n,
                        .opts = query_opts(a, 0)};
    return ASK(src, kg_client_match(src->c, &q, &r->match, err),
               kg_query_match(src->g, &q, &r->match, err));
}

static int match_show(const args *a, const source *src, const result *r)
{
    (void)src; /* unused without the client library */
    /* a daemon may send the plan without its estimates (all 0) */
    bool estimates = ASK(src, false, true);
    for (size_t i = 0; i < r->match.n_plan; i++)
        estimates = estimates || r->match.plan[i].estimate != 0;
    kg_cli_print_match(&r->match, a->pos.v, a->explain, estimates,
                       fmt_or(a, KG_CLI_TABLE), stdout);
    return printed(a, r->match.truncated, r->match.n_rows);
}

/* ---- the commands --------------------------------------------------------------------------- */

static const query_cmd entity_cmd = {
    .name = "entity", .usage = entity_usage, .positionals_entities = true,
    .options = (const int[]){O_GRAPH, O_HELP, O_FORMAT, 0},
    .check = entity_check, .ask = entity_ask, .show = entity_show};
static const query_cmd entities_cmd = {
    .name = "entities", .usage = entities_usage,
    .options = (const int[]){O_GRAPH, O_HELP, O_FORMAT, O_KIND, O_PREFIX,
                             O_LIMIT, O_OFFSET, 0},
    .check = no_positionals, .ask = entities_ask, .show = entities_show};
static const query_cmd relations_cmd = {
    .name = "relations", .usage = relations_usage,
    .options = (const int[]){O_GRAPH, O_HELP, O_FORMAT, O_SUBJECT, O_RELATION,
                             O_OBJECT, O_WHERE, O_AS_OF, O_LIMIT, 0},
    .check = relations_check, .ask = relations_ask, .show = relations_show};
static const query_cmd neighbors_cmd = {
    .name = "neighbors", .usage = neighbors_usage, .positionals_entities = true,
    .options = (const int[]){O_GRAPH, O_HELP, O_FORMAT, O_DEPTH, O_RELATION,
                             O_DIRECTION, O_AS_OF, O_LIMIT, 0},
    .check = neighbors_check, .ask = neighbors_ask, .show = neighbors_show};
static const query_cmd path_cmd = {
    .name = "path", .usage = path_usage, .positionals_entities = true,
    .options = (const int[]){O_GRAPH, O_HELP, O_FORMAT, O_RELATION,
                             O_DIRECTION, O_ALL, O_MAX_LENGTH, O_AS_OF,
                             O_LIMIT, 0},
    .check = path_check, .ask = path_ask, .show = path_show};
static const query_cmd subgraph_cmd = {
    .name = "subgraph", .usage = subgraph_usage, .writes_graph = true,
    .positionals_entities = true,
    .options = (const int[]){O_GRAPH, O_OUTPUT, O_HELP, O_FORMAT, O_DEPTH,
                             O_RELATION, O_DIRECTION, O_AS_OF, O_LIMIT, 0},
    .check = subgraph_check, .ask = subgraph_ask, .show = subgraph_show};
static const query_cmd match_cmd = {
    .name = "match", .usage = match_usage,
    .options = (const int[]){O_GRAPH, O_HELP, O_FORMAT, O_AS_OF, O_LIMIT,
                             O_EXPLAIN, 0},
    .check = match_check, .ask = match_ask, .show = match_show};
static const query_cmd stats_cmd = {
    .name = "stats", .usage = stats_usage,
    .options = (const int[]){O_GRAPH, O_HELP, O_FORMAT, 0},
    .check = no_positionals, .ask = stats_ask, .show = stats_show};
static const query_cmd export_cmd = {
    .name = "export", .usage = export_usage, .writes_graph = true,
    .options = (const int[]){O_GRAPH, O_OUTPUT, O_HELP, O_FORMAT, 0},
    .check = no_positionals, .ask = export_ask, .show = export_show};

/* The subcommands of cli.h. */
int kg_cmd_entity(int argc, char **argv) { return run_query(&entity_cmd, argc, argv); }
int kg_cmd_entities(int argc, char **argv) { return run_query(&entities_cmd, argc, argv); }
int kg_cmd_relations(int argc, char **argv) { return run_query(&relations_cmd, argc, argv); }
int kg_cmd_neighbors(int argc, char **argv) { return run_query(&neighbors_cmd, argc, argv); }
int kg_cmd_path(int argc, char **argv) { return run_query(&path_cmd, argc, argv); }
int kg_cmd_subgraph(int argc, char **argv) { return run_query(&subgraph_cmd, argc, argv); }
int kg_cmd_match(int argc, char **argv) { return run_query(&match_cmd, argc, argv); }
int kg_cmd_stats(int argc, char **argv) { return run_query(&stats_cmd, argc, argv); }
int kg_cmd_export(int argc, char **argv) { return run_query(&export_cmd, argc, argv); }
