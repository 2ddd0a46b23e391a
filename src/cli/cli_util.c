/* cli_util.c - the default graph, graph loading, option helpers, tables,
 * JSON output and entity-name suggestions for the kg program. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "kg/io.h"

kg_cli_globals kg_cli;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("kg: out of memory\n", stderr);
        exit(KG_EXIT_ERROR);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xrealloc(NULL, n);
    memcpy(p, s, n);
    return p;
}

/* ---- default graph and loading ------------------------------------------------ */

/* Is this program running from the build folder it was built in? Then the
 * source tree's graphs are the ones that go with it. */
static bool running_from_build_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    size_t bl = strlen(KG_BUILD_DIR);
    return strncmp(exe, KG_BUILD_DIR, bl) == 0 && exe[bl] == '/';
}

const char *kg_cli_default_graph(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("KG_DEFAULT_GRAPH");
    if (env && env[0])
        return env;
    const char *src = KG_SOURCE_GRAPHS "/" KG_DEFAULT_GRAPH_NAME;
    const char *inst = KG_DATADIR "/graphs/" KG_DEFAULT_GRAPH_NAME;
    if (running_from_build_dir() && access(src, R_OK) == 0)
        snprintf(path, sizeof path, "%s", src);
    else if (access(inst, R_OK) == 0)
        snprintf(path, sizeof path, "%s", inst);
    else
        snprintf(path, sizeof path, "%s", src);
    return path;
}

kg_graph *kg_cli_load_graphs(const char *cmd, const char *const *paths,
                             size_t n)
{
    kg_graph *g = kg_graph_new();
    if (!g) {
        kg_cli_err(cmd, "out of memory");
        return NULL;
    }
    const char *def = kg_cli_default_graph();
    if (n == 0) {
        paths = &def;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        kg_error err = {0};
        int rc = kg_load_file(g, paths[i], KG_FORMAT_AUTO, &err);
        if (rc) {
            if (err.message[0])
                kg_cli_err(cmd, "%s", err.message);
            else
                kg_cli_err(cmd, "%s: %s", paths[i], kg_error_name(rc));
            kg_graph_destroy(&g);
            return NULL;
        }
    }
    return g;
}

/* ---- options --------------------------------------------------------------------- */

void kg_cli_list_add(kg_cli_list *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
}

void kg_cli_list_free(kg_cli_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

void kg_cli_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kg %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int kg_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kg %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'kg %s --help'.\n", cmd);
    va_end(ap);
    return KG_EXIT_USAGE;
}

int kg_cli_bad_option(const char *cmd, int c, char **argv)
{
    extern int optind, optopt;
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return kg_cli_usage(cmd, "option '%s' needs a value", arg);
    if (optopt && optopt != '?' && arg[0] == '-' && arg[1] != '-')
        return kg_cli_usage(cmd, "unknown option '-%c'", optopt);
    return kg_cli_usage(cmd, "unknown option '%s'", arg);
}

#ifdef KG_CLI_HAVE_CLIENT
kg_client *kg_cli_client(const char *endpoint, kg_error *err)
{
    kg_client *c = kg_client_new(endpoint, err);
    if (c)
        kg_client_set_fail_fast(c, true);
    return c;
}
#endif

int kg_cli_read_all(FILE *f, size_t max, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : KG_ENOMEM;
    while (!rc) {
        if (n == cap) {
            char *nb = cap <= max ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rc = cap <= max ? KG_ENOMEM : KG_ELIMIT;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (!rc && ferror(f))
        rc = KG_EIO;
    if (!rc && n > max)
        rc = KG_ELIMIT;
    if (rc) {
        free(buf);
        buf = NULL;
        n = 0;
    }
    *out = buf;
    *len = n;
    return rc;
}

bool kg_cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

int kg_cli_parse_fmt(const char *s, bool allow_table, bool allow_dot)
{
    if (allow_table && strcmp(s, "table") == 0)
        return KG_CLI_TABLE;
    if (strcmp(s, "tsv") == 0)
        return KG_CLI_TSV;
    if (strcmp(s, "json") == 0)
        return KG_CLI_JSON;
    if (allow_dot && (strcmp(s, "dot") == 0 || strcmp(s, "gv") == 0))
        return KG_CLI_DOT;
    return -1;
}

FILE *kg_cli_open_out(const char *cmd, const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        kg_cli_err(cmd, "%s: %s", path, strerror(errno));
    return f;
}

int kg_cli_close_out(const char *cmd, FILE *f, const char *path)
{
    bool bad = ferror(f) != 0;
    if (f == stdout)
        bad = fflush(f) != 0 || bad;
    else
        bad = fclose(f) != 0 || bad;
    if (bad) {
        kg_cli_err(cmd, "%s: write error: %s", path && f != stdout ? path
                                                  : "standard output",
                   strerror(errno));
        return KG_EXIT_ERROR;
    }
    return KG_EXIT_OK;
}

int kg_cli_query_failed(const char *cmd, const kg_error *err, int rc)
{
    if (err->message[0])
        kg_cli_err(cmd, "%s", err->message);
    else
        kg_cli_err(cmd, "%s", kg_error_name(rc));
    return rc == KG_EINVAL ? KG_EXIT_USAGE : KG_EXIT_ERROR;
}

/* ---- suggestions ------------------------------------------------------------------ */

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive Levenshtein distance, giving up above `cap`. */
static size_t distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (lower((unsigned char)a[i - 1]) !=
                                 lower((unsigned char)b[j - 1]));
            size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return row[lb];
}

static bool prefix_ci(const char *s, const char *p)
{
    for (; *p; p++, s++)
        if (!*s || lower((unsigned char)*s) != lower((unsigned char)*p))
            return false;
    return true;
}

bool kg_cli_need_entity(const char *cmd, const kg_graph *g, const char *name)
{
    if (kg_entity_find(g, name) != KG_NONE)
        return true;
    /* Up to three entities whose id or an alias is close to the name (edit
     * distance within a third of its length) or starts with it. */
    size_t cap = strlen(name) / 3 + 1;
    if (cap > 3)
        cap = 3;
    kg_eid best[3];
    size_t bestd[3], nb = 0;
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e)) {
        size_t d = distance(name, kg_entity_id(g, e), cap);
        if (strlen(name) >= 3 && prefix_ci(kg_entity_id(g, e), name))
            d = d < cap ? d : cap;
        for (size_t i = 0; i < kg_entity_alias_count(g, e); i++) {
            const char *al = kg_entity_alias(g, e, i);
            size_t da = distance(name, al, cap);
            if (strlen(name) >= 3 && prefix_ci(al, name))
                da = da < cap ? da : cap;
            d = da < d ? da : d;
        }
        if (d > cap)
            continue;
        if (nb < 3) {
            best[nb] = e;
            bestd[nb++] = d;
        } else if (d < bestd[2]) {
            best[2] = e;
            bestd[2] = d;
        } else {
            continue;
        }
        for (size_t k = nb - 1; k > 0 && bestd[k - 1] > bestd[k]; k--) {
            kg_eid te = best[k];
            size_t td = bestd[k];
            best[k] = best[k - 1];
            bestd[k] = bestd[k - 1];
            best[k - 1] = te;
            bestd[k - 1] = td;
        }
    }
    if (nb == 0) {
        kg_cli_err(cmd, "unknown entity \"%s\"", name);
        return false;
    }
    fprintf(stderr, "kg %s: unknown entity \"%s\" (did you mean ", cmd, name);
    for (size_t i = 0; i < nb; i++)
        fprintf(stderr, "%s\"%s\"", i == 0 ? "" : i + 1 == nb ? " or " : ", ",
                kg_entity_id(g, best[i]));
    fputs("?)\n", stderr);
    return false;
}

/* ---- display width ---------------------------------------------------------------- */

/* Decode one UTF-8 sequence; invalid bytes count as one column each. */
static unsigned decode(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned c = s[0];
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                                        : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n <= 0) {
        *p = s + 1;
        return n == 0 ? c : 0xFFFD;
    }
    unsigned v = c & (0x3Fu >> n);
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p = s + 1;
            return 0xFFFD;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *p = s + n + 1;
    return v;
}

static unsigned cp_width(unsigned c)
{
    if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) ||
        (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
        (c >= 0x20D0 && c <= 0x20FF))
        return 0; /* combining marks, zero-width characters */
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
        (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
        (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
        (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
        (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD))
        return 2; /* East Asian wide and emoji */
    return 1;
}

size_t kg_cli_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p)
        w += cp_width(decode(&p));
    return w;
}

/* ---- tables ----------------------------------------------------------------------- */

struct kg_table {
    size_t ncol;
    char **head;
    char **cells; /* rows * ncol */
    size_t rows, cap;
};

kg_table *kg_table_new(size_t n, const char *const *headers)
{
    kg_table *t = xrealloc(NULL, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ncol = n;
    t->head = xrealloc(NULL, n * sizeof *t->head);
    for (size_t i = 0; i < n; i++)
        t->head[i] = xstrdup(headers[i]);
    return t;
}

void kg_table_destroy(kg_table **tp)
{
    if (!tp || !*tp)
        return;
    kg_table *t = *tp;
    for (size_t i = 0; i < t->ncol; i++)
        free(t->head[i]);
    for (size_t i = 0; i < t->rows * t->ncol; i++)
        free(t->cells[i]);
    free(t->head);
    free(t->cells);
    free(t);
    *tp = NULL;
}

void kg_table_add(kg_table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = xrealloc(t->cells, t->cap * t->ncol * sizeof *t->cells);
    }
    for (size_t i = 0; i < t->ncol; i++)
        t->cells[t->rows * t->ncol + i] = xstrdup(cells[i] ? cells[i] : "");
    t->rows++;
}

size_t kg_table_rows(const kg_table *t)
{
    return t->rows;
}

static void tsv_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\t': fputs("\\t", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\\': fputs("\\\\", out); break;
        default: fputc(*s, out);
        }
    }
}

/* Table cells are shown on one line: control characters become spaces. */
static void table_cell(FILE *out, const char *s, size_t pad)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 ? ' ' : *s, out);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', out);
}

void kg_table_print(const kg_table *t, kg_cli_fmt fmt, FILE *out)
{
    if (fmt == KG_CLI_JSON) {
        kg_json j;
        kg_json_init(&j, out);
        kg_json_arr(&j);
        for (size_t r = 0; r < t->rows; r++) {
            kg_json_obj(&j);
            for (size_t c = 0; c < t->ncol; c++) {
                kg_json_key(&j, t->head[c]);
                kg_json_str(&j, t->cells[r * t->ncol + c]);
            }
            kg_json_obj_end(&j);
        }
        kg_json_arr_end(&j);
        fputc('\n', out);
        return;
    }
    if (fmt == KG_CLI_TSV) {
        for (size_t r = 0; r <= t->rows; r++)
            for (size_t c = 0; c < t->ncol; c++) {
                tsv_cell(out, r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncol + c]);
                fputc(c + 1 == t->ncol ? '\n' : '\t', out);
            }
        return;
    }
    size_t *w = xrealloc(NULL, t->ncol * sizeof *w);
    for (size_t c = 0; c < t->ncol; c++) {
        w[c] = kg_cli_width(t->head[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t x = kg_cli_width(t->cells[r * t->ncol + c]);
            w[c] = x > w[c] ? x : w[c];
        }
    }
    for (size_t r = 0; r <= t->rows; r++)
        for (size_t c = 0; c < t->ncol; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncol + c];
            bool last = c + 1 == t->ncol;
            table_cell(out, s, last ? 0 : w[c] - kg_cli_width(s) + 2);
            if (last)
                fputc('\n', out);
        }
    free(w);
}

/* ---- JSON --------------------------------------------------------------------------- */

void kg_json_init(kg_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = true;
}

/* Before a value: a comma unless first in its container or after a key. */
static void sep(kg_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
}

static void open_c(kg_json *j, char c)
{
    sep(j);
    fputc(c, j->f);
    if (j->depth < 63)
        j->depth++;
    j->first[j->depth] = true;
}

static void close_c(kg_json *j, char c)
{
    if (j->depth > 0)
        j->depth--;
    fputc(c, j->f);
}

void kg_json_obj(kg_json *j) { open_c(j, '{'); }
void kg_json_obj_end(kg_json *j) { close_c(j, '}'); }
void kg_json_arr(kg_json *j) { open_c(j, '['); }
void kg_json_arr_end(kg_json *j) { close_c(j, ']'); }

static void raw_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void kg_json_key(kg_json *j, const char *k)
{
    sep(j);
    raw_str(j->f, k);
    fputc(':', j->f);
    j->after_key = true;
}

void kg_json_str(kg_json *j, const char *s)
{
    sep(j);
    if (s)
        raw_str(j->f, s);
    else
        fputs("null", j->f);
}

void kg_json_int(kg_json *j, long long v)
{
    sep(j);
    fprintf(j->f, "%lld", v);
}

void kg_json_num(kg_json *j, double v)
{
    sep(j);
    fprintf(j->f, "%.6g", v);
}

void kg_json_bool(kg_json *j, bool v)
{
    sep(j);
    fputs(v ? "true" : "false", j->f);
}

/* The key=value lists of the graph - a relation's qualifiers and
 * provenance, an entity's attributes - all read as a count and an i-th
 * pair of a handle (kg_rid and kg_eid are both uint32_t), so one JSON
 * writer and one text writer serve the three. */
typedef struct pair_list {
    size_t (*count)(const kg_graph *g, uint32_t h);
    kg_pair (*at)(const kg_graph *g, uint32_t h, size_t i);
} pair_list;

static const pair_list qualifiers = {kg_relation_qual_count, kg_relation_qual};
static const pair_list provenance = {kg_relation_prov_count, kg_relation_prov};
static const pair_list attributes = {kg_entity_attr_count, kg_entity_attr};

/* "key": {"k": "v", ...} */
static void json_pairs(kg_json *j, const char *key, const kg_graph *g,
                       uint32_t h, const pair_list *l)
{
    kg_json_key(j, key);
    kg_json_obj(j);
    for (size_t i = 0; i < l->count(g, h); i++) {
        kg_pair p = l->at(g, h, i);
        kg_json_key(j, p.key);
        kg_json_str(j, p.value);
    }
    kg_json_obj_end(j);
}

void kg_json_relation(kg_json *j, const kg_graph *g, kg_rid r)
{
    kg_json_obj(j);
    kg_json_key(j, "subject");
    kg_json_str(j, kg_entity_id(g, kg_relation_subject(g, r)));
    kg_json_key(j, "relation");
    kg_json_str(j, kg_relation_kind(g, r));
    kg_json_key(j, "object");
    kg_json_str(j, kg_entity_id(g, kg_relation_object(g, r)));
    json_pairs(j, "qualifiers", g, r, &qualifiers);
    json_pairs(j, "provenance", g, r, &provenance);
    kg_json_obj_end(j);
}

void kg_json_entity_fields(kg_json *j, const kg_graph *g, kg_eid e)
{
    kg_json_key(j, "id");
    kg_json_str(j, kg_entity_id(g, e));
    kg_json_key(j, "kind");
    kg_json_str(j, kg_entity_kind(g, e));
    kg_json_key(j, "aliases");
    kg_json_arr(j);
    for (size_t i = 0; i < kg_entity_alias_count(g, e); i++)
        kg_json_str(j, kg_entity_alias(g, e, i));
    kg_json_arr_end(j);
    json_pairs(j, "attributes", g, e, &attributes);
}

void kg_json_entity(kg_json *j, const kg_graph *g, kg_eid e)
{
    kg_json_obj(j);
    kg_json_entity_fields(j, g, e);
    kg_json_obj_end(j);
}

/* "k=v;k=v" of the pairs but the one keyed `skip` (NULL: none). */
static char *pairs_text(const kg_graph *g, uint32_t h, const pair_list *l,
                        const char *skip)
{
    size_t n = 1;
    for (size_t i = 0; i < l->count(g, h); i++) {
        kg_pair p = l->at(g, h, i);
        if (!skip || strcmp(p.key, skip) != 0)
            n += strlen(p.key) + strlen(p.value) + 2;
    }
    char *s = xrealloc(NULL, n);
    s[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < l->count(g, h); i++) {
        kg_pair p = l->at(g, h, i);
        if (!skip || strcmp(p.key, skip) != 0)
            len += (size_t)snprintf(s + len, n - len, "%s%s=%s", len ? ";" : "",
                                    p.key, p.value);
    }
    return s;
}

char *kg_cli_quals(const kg_graph *g, kg_rid r)
{
    return pairs_text(g, r, &qualifiers, NULL);
}

char *kg_cli_prov(const kg_graph *g, kg_rid r)
{
    return pairs_text(g, r, &provenance, KG_PROV_EVIDENCE);
}
