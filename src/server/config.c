/* config.c - kgd's configuration: defaults, the key = value file, the
 * command line. Keys are documented in docs/configuration.md; keep the
 * two in step.
 */
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kg/proto.h"

#ifndef KG_BUILD_DIR
#define KG_BUILD_DIR ""
#endif
#ifndef KG_SOURCE_GRAPHS
#define KG_SOURCE_GRAPHS "graphs"
#endif
#ifndef KG_DATADIR
#define KG_DATADIR "/usr/local/share/kgd"
#endif
#ifndef KG_DEFAULT_GRAPH_NAME
#define KG_DEFAULT_GRAPH_NAME "macron-xi-beijing.gv"
#endif

/* Longest line of a configuration file. */
#define CONFIG_LINE_MAX 4096

const char kg_server_usage[] =
    "usage: kgd [OPTION]... [GRAPH FILE]...\n"
    "Serve a knowledge graph over ZeroMQ (docs/protocol.md).\n"
    "\n"
    "  --config FILE        read key = value settings (docs/configuration.md)\n"
    "  --bind ENDPOINT      requests (ROUTER), default " KG_SERVER_DEFAULT_BIND "\n"
    "  --publish ENDPOINT   change feed (PUB), default " KG_SERVER_DEFAULT_PUBLISH "\n"
    "  --data DIR           journal and snapshots; without it changes are\n"
    "                       kept in memory only\n"
    "  --log-level LEVEL    debug, info (default), warn or error\n"
    "  --repair             cut a corrupt journal instead of refusing to start\n"
    "  --help, --version\n"
    "\n"
    "Without graph files kgd serves the shipped default graph.\n"
    "The command line wins over the configuration file.\n";

void kg_server_config_init(kg_server_config *c)
{
    memset(c, 0, sizeof *c);
    c->log_level = KG_LOG_INFO;
    c->fsync = KG_FSYNC_ALWAYS;
    c->fsync_interval_ms = 1000;
    c->snapshot_journal_bytes = 64u * 1024u * 1024u;
    c->max_request_bytes = KG_PROTO_MAX_BYTES;
    c->max_results = 10000;
    c->max_depth = 6;
    c->query_timeout_ms = 2000;
}

void kg_server_config_free(kg_server_config *c)
{
    free(c->bind);
    free(c->publish);
    free(c->data);
    for (size_t i = 0; i < c->n_graphs; i++)
        free(c->graphs[i]);
    free(c->graphs);
    kg_server_config_init(c);
}

/* An unsigned number with an optional K, M or G suffix (powers of 1024)
 * when `sizes`; within [lo, hi]. */
static int parse_num(const char *key, const char *v, bool sizes, uint64_t lo,
                     uint64_t hi, uint64_t *out, kg_error *err)
{
    if (!v[0] || !isdigit((unsigned char)v[0]))
        return kg_error_set(err, KG_EINVAL,
                            "bad value for '%s': '%s' is not a number", key, v);
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    uint64_t mul = 1;
    if (sizes && *end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1024; end++; break;
        case 'M': mul = 1024 * 1024; end++; break;
        case 'G': mul = 1024 * 1024 * 1024; end++; break;
        default: break;
        }
    }
    if (errno || *end)
        return kg_error_set(err, KG_EINVAL,
                            "bad value for '%s': '%s' is not a number%s", key,
                            v, sizes ? " (suffixes K, M, G)" : "");
    if (n > hi / mul || n * mul < lo || n * mul > hi)
        return kg_error_set(err, KG_EINVAL,
                            "bad value for '%s': %s is out of range "
                            "(%llu..%llu)",
                            key, v, (unsigned long long)lo,
                            (unsigned long long)hi);
    *out = (uint64_t)n * mul;
    return 0;
}

static int set_str(char **slot, const char *v, kg_error *err)
{
    char *s = strdup(v);
    if (!s)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    free(*slot);
    *slot = s;
    return 0;
}

static int set_endpoint(const char *key, char **slot, const char *v,
                        kg_error *err)
{
    if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0)
        return kg_error_set(err, KG_EINVAL,
                            "bad value for '%s': '%s' is not a tcp:// or "
                            "ipc:// endpoint", key, v);
    if (!v[6])
        return kg_error_set(err, KG_EINVAL, "bad value for '%s': empty address",
                            key);
    return set_str(slot, v, err);
}

static int add_graph(kg_server_config *c, const char *v, kg_error *err)
{
    if (!v[0])
        return kg_error_set(err, KG_EINVAL, "bad value for 'graph': empty path");
    char **g = realloc(c->graphs, (c->n_graphs + 1) * sizeof *g);
    if (!g)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    c->graphs = g;
    if (!(g[c->n_graphs] = strdup(v)))
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    c->n_graphs++;
    return 0;
}

int kg_server_config_set(kg_server_config *c, const char *key,
                         const char *value, kg_error *err)
{
    uint64_t n;
    int rc;
    if (strcmp(key, "bind") == 0)
        return set_endpoint(key, &c->bind, value, err);
    if (strcmp(key, "publish") == 0)
        return set_endpoint(key, &c->publish, value, err);
    if (strcmp(key, "data") == 0) {
        if (!value[0]) { /* "data =" means in memory */
            free(c->data);
            c->data = NULL;
            return 0;
        }
        return set_str(&c->data, value, err);
    }
    if (strcmp(key, "graph") == 0)
        return add_graph(c, value, err);
    if (strcmp(key, "log_level") == 0) {
        int l = kg_log_level_from_name(value);
        if (l < 0)
            return kg_error_set(err, KG_EINVAL,
                                "bad value for 'log_level': '%s' (debug, "
                                "info, warn or error)", value);
        c->log_level = l;
        return 0;
    }
    if (strcmp(key, "fsync") == 0) {
        if (kg_fsync_policy_from_name(value, &c->fsync))
            return kg_error_set(err, KG_EINVAL,
                                "bad value for 'fsync': '%s' (always, "
                                "interval or none)", value);
        return 0;
    }
    if (strcmp(key, "repair") == 0) {
        if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
            strcmp(value, "1") == 0)
            c->repair = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
                 strcmp(value, "0") == 0)
            c->repair = false;
        else
            return kg_error_set(err, KG_EINVAL,
                                "bad value for 'repair': '%s' (true or false)",
                                value);
        return 0;
    }
    if (strcmp(key, "fsync_interval_ms") == 0) {
        if ((rc = parse_num(key, value, false, 1, 3600000, &n, err)))
            return rc;
        c->fsync_interval_ms = (unsigned)n;
        return 0;
    }
    if (strcmp(key, "snapshot_journal_bytes") == 0) {
        if ((rc = parse_num(key, value, true, 0, UINT64_MAX / 2, &n, err)))
            return rc;
        c->snapshot_journal_bytes = n;
        return 0;
    }
    if (strcmp(key, "max_request_bytes") == 0) {
        if ((rc = parse_num(key, value, true, 64, 1024u * 1024u * 1024u, &n,
                            err)))
            return rc;
        c->max_request_bytes = (size_t)n;
        return 0;
    }
    if (strcmp(key, "max_results") == 0) {
        if ((rc = parse_num(key, value, false, 1, 100000000, &n, err)))
            return rc;
        c->max_results = (size_t)n;
        return 0;
    }
    if (strcmp(key, "max_depth") == 0) {
        if ((rc = parse_num(key, value, false, 1, 64, &n, err)))
            return rc;
        c->max_depth = (unsigned)n;
        return 0;
    }
    if (strcmp(key, "query_timeout_ms") == 0) {
        if ((rc = parse_num(key, value, false, 0, 3600000, &n, err)))
            return rc;
        c->query_timeout_ms = (unsigned)n;
        return 0;
    }
    return kg_error_set(err, KG_EINVAL, "unknown key '%.100s'", key);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                 s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int kg_server_config_load(kg_server_config *c, const char *path,
                          kg_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return kg_error_set(err, KG_EIO, "%s: cannot open: %s", path,
                            strerror(errno));
    char line[CONFIG_LINE_MAX + 2];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = kg_error_set(err, KG_EINVAL, "%s:%u: line longer than %d bytes",
                              path, lineno, CONFIG_LINE_MAX);
            break;
        }
        char *s = trim(line);
        if (!s[0] || s[0] == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = kg_error_set(err, KG_EINVAL, "%s:%u: expected 'key = value'",
                              path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        kg_error e;
        if (kg_server_config_set(c, key, value, &e)) {
            rc = kg_error_set(err, e.code, "%s:%u: %s", path, lineno, e.message);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = kg_error_set(err, KG_EIO, "%s: read error", path);
    fclose(f);
    return rc;
}

/* The value of option argv[*i] ("--opt VALUE" or "--opt=VALUE"), or NULL
 * when it is not this option. */
static const char *opt_value(const char *name, int argc, char **argv, int *i,
                             bool *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

int kg_server_config_parse_args(kg_server_config *c, int argc, char **argv,
                                kg_error *err)
{
    /* Pass 1: --help, --version and --config, so that the file is read
     * before the options that override it. */
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return KG_ARGS_HELP;
        if (strcmp(argv[i], "--version") == 0)
            return KG_ARGS_VERSION;
        const char *v = opt_value("--config", argc, argv, &i, &missing);
        if (missing)
            return kg_error_set(err, KG_EINVAL, "--config needs a value");
        if (v) {
            int rc = kg_server_config_load(c, v, err);
            if (rc)
                return rc;
        }
    }
    static const struct {
        const char *opt, *key;
    } opts[] = {
        {"--bind", "bind"},   {"--publish", "publish"},
        {"--data", "data"},   {"--log-level", "log_level"},
        {"--config", NULL},
    };
    bool graphs_given = false, only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = true;
            continue;
        }
        if (!only_files && a[0] == '-' && a[1]) {
            if (strcmp(a, "--repair") == 0) {
                c->repair = true;
                continue;
            }
            size_t k;
            const char *v = NULL;
            bool missing = false;
            for (k = 0; k < sizeof opts / sizeof opts[0]; k++)
                if ((v = opt_value(opts[k].opt, argc, argv, &i, &missing)) ||
                    missing)
                    break;
            if (missing)
                return kg_error_set(err, KG_EINVAL, "%s needs a value",
                                    opts[k].opt);
            if (!v)
                return kg_error_set(err, KG_EINVAL, "unknown option '%s'", a);
            if (!opts[k].key)
                continue; /* --config: read in pass 1 */
            kg_error e;
            if (kg_server_config_set(c, opts[k].key, v, &e))
                return kg_error_set(err, e.code, "%s: %s", opts[k].opt,
                                    e.message);
            continue;
        }
        if (!graphs_given) {
            /* Files on the command line replace those of the file. */
            for (size_t g = 0; g < c->n_graphs; g++)
                free(c->graphs[g]);
            c->n_graphs = 0;
            graphs_given = true;
        }
        int rc = add_graph(c, a, err);
        if (rc)
            return rc;
    }
    return KG_ARGS_RUN;
}

const char *kg_server_default_graph(void)
{
    static char path[4096];
    const char *env = getenv("KG_DEFAULT_GRAPH");
    if (env && env[0])
        return env;
    /* Run from its build folder (the executable lives under the build
     * tree), kgd serves the source tree's copy; installed, the installed
     * one. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t bl = strlen(KG_BUILD_DIR);
    if (n > 0 && bl > 0) {
        exe[n] = '\0';
        if (strncmp(exe, KG_BUILD_DIR, bl) == 0 && exe[bl] == '/') {
            snprintf(path, sizeof path, "%s/%s", KG_SOURCE_GRAPHS,
                     KG_DEFAULT_GRAPH_NAME);
            return path;
        }
    }
    snprintf(path, sizeof path, "%s/graphs/%s", KG_DATADIR,
             KG_DEFAULT_GRAPH_NAME);
    return path;
}
