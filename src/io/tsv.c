/* tsv.c - TSV fact tables and entity tables (docs/formats.md).
 *
 * The reader works in place on a private copy of the file: lines are cut
 * at '\n', fields at unescaped tabs, pairs at unescaped ';' and '=', and
 * backslash escapes are undone in place (an unescaped string is never
 * longer than its escaped form), so a file costs one copy and no
 * per-field allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_util.h"

#define MAX_COLS 6

enum table { T_NONE, T_FACTS, T_ENTITIES };

/* Column roles of a fact table, in the only order allowed. */
static const char *const fact_cols[] = {"subject",  "relation", "object",
                                        "qualifiers", "evidence",
                                        "provenance"};
static const char *const entity_cols[] = {"id", "kind", "aliases",
                                          "attributes"};

typedef struct tsv_ctx {
    const char *name;
    unsigned line;
    kg_batch *out;
    kg_error *err;
    kg_pairv quals, prov, attrs;
    kg_strv aliases;
} tsv_ctx;

static int fail(tsv_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(tsv_ctx *c, int code, const char *fmt, ...)
{
    char msg[KG_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kg_error_set(c->err, code, "%s:%u: %s", c->name, c->line, msg);
}

/* Undo backslash escapes in place: \t \n \r \\ \; \= \| \# give the
 * character; any other backslash is kept as it is, so hand-written files
 * with stray backslashes (paths, regexes) survive. */
static void unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            char n = r[1];
            char v = n == 't'   ? '\t'
                     : n == 'n' ? '\n'
                     : n == 'r' ? '\r'
                     : (n == '\\' || n == ';' || n == '=' || n == '|' ||
                        n == '#')
                         ? n
                         : 0;
            if (v) {
                *w++ = v;
                r++;
                continue;
            }
        }
        *w++ = *r;
    }
    *w = '\0';
}

/* Cut s at every unescaped sep; returns the number of pieces (stored in
 * parts, at most max; more is an error signalled by returning max + 1). */
static size_t split(char *s, char sep, char **parts, size_t max)
{
    size_t n = 0;
    parts[n++] = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == sep) {
            *p = '\0';
            if (n == max)
                return max + 1;
            parts[n++] = p + 1;
        }
    }
    return n;
}

/* The first unescaped c in s, or NULL. */
static char *find_unescaped(char *s, char c)
{
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == c)
            return p;
    }
    return NULL;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ')
            return false;
    return true;
}

/* "k=v;k=v" into v (cleared first). what names the column for messages. */
static int parse_pairs(tsv_ctx *c, char *s, kg_pairv *v, const char *what)
{
    v->n = 0;
    while (s) {
        char *semi = find_unescaped(s, ';');
        if (semi)
            *semi = '\0';
        if (!blank(s)) {
            char *eq = find_unescaped(s, '=');
            if (!eq)
                return fail(c, KG_EPARSE,
                            "bad %s '%.60s': expected key=value[;key=value]",
                            what, s);
            *eq = '\0';
            char *k = s, *val = eq + 1;
            unescape(k);
            unescape(val);
            if (!*k)
                return fail(c, KG_EPARSE, "bad %s: empty key", what);
            if (v->n >= KG_IO_MAX_PAIRS)
                return fail(c, KG_ELIMIT, "more than %d %s", KG_IO_MAX_PAIRS,
                            what);
            if (kg_pairv_push(v, k, val))
                return fail(c, KG_ENOMEM, "out of memory");
        }
        s = semi ? semi + 1 : NULL;
    }
    return 0;
}

static int parse_aliases(tsv_ctx *c, char *s)
{
    c->aliases.n = 0;
    while (s) {
        char *bar = find_unescaped(s, '|');
        if (bar)
            *bar = '\0';
        unescape(s);
        if (*s) {
            if (c->aliases.n >= KG_IO_MAX_PAIRS)
                return fail(c, KG_ELIMIT, "more than %d aliases",
                            KG_IO_MAX_PAIRS);
            if (kg_strv_push(&c->aliases, s))
                return fail(c, KG_ENOMEM, "out of memory");
        }
        s = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* One entity row: id, kind, aliases, attributes (the last three may be
 * missing). */
static int entity_row(tsv_ctx *c, char **f, size_t n)
{
    unescape(f[0]);
    if (blank(f[0]))
        return fail(c, KG_EPARSE, "missing entity id");
    kg_entity_spec s = {.id = f[0]};
    if (n > 1) {
        unescape(f[1]);
        s.kind = f[1];
    }
    int rc;
    c->aliases.n = 0;
    c->attrs.n = 0;
    if (n > 2 && (rc = parse_aliases(c, f[2])))
        return rc;
    if (n > 3 && (rc = parse_pairs(c, f[3], &c->attrs, "attributes")))
        return rc;
    s.aliases = c->aliases.v;
    s.n_aliases = c->aliases.n;
    s.attrs = c->attrs.v;
    s.n_attrs = c->attrs.n;
    rc = kg_batch_add_entity(c->out, &s, c->line);
    return rc ? fail(c, rc, "cannot add entity '%.60s'", f[0]) : 0;
}

static int fact_row(tsv_ctx *c, char **f, size_t n)
{
    static const char *const names[] = {"subject", "relation", "object"};
    for (size_t i = 0; i < 3; i++) {
        unescape(f[i]);
        if (blank(f[i]))
            return fail(c, KG_EPARSE, "missing %s", names[i]);
    }
    kg_relation_spec s = {.subject = f[0], .relation = f[1], .object = f[2]};
    int rc;
    c->quals.n = 0;
    c->prov.n = 0;
    if (n > 3 && (rc = parse_pairs(c, f[3], &c->quals, "qualifiers")))
        return rc;
    if (n > 4) {
        unescape(f[4]);
        if (*f[4] && kg_pairv_push(&c->prov, KG_PROV_EVIDENCE, f[4]))
            return fail(c, KG_ENOMEM, "out of memory");
    }
    if (n > 5) {
        kg_pairv extra = {0};
        rc = parse_pairs(c, f[5], &extra, "provenance");
        for (size_t i = 0; !rc && i < extra.n; i++)
            if (kg_pairv_push(&c->prov, extra.v[i].key, extra.v[i].value))
                rc = fail(c, KG_ENOMEM, "out of memory");
        kg_pairv_free(&extra);
        if (rc)
            return rc;
    }
    s.quals = c->quals.v;
    s.n_quals = c->quals.n;
    s.prov = c->prov.v;
    s.n_prov = c->prov.n;
    rc = kg_batch_add_relation(c->out, &s, c->line);
    return rc ? fail(c, rc, "cannot add relation") : 0;
}

/* Recognise a header line; returns the table kind and its column count. */
static enum table header(char **f, size_t n, size_t *ncols)
{
    char lower[32];
    enum table t = T_NONE;
    for (size_t i = 0; i < n; i++) {
        const char *s = f[i];
        while (*s == ' ')
            s++;
        size_t k = 0;
        while (s[k] && s[k] != ' ' && k + 1 < sizeof lower) {
            char ch = s[k];
            lower[k++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        lower[k] = '\0';
        if (!blank(s + k))
            return T_NONE;
        if (i == 0)
            t = !strcmp(lower, "subject") ? T_FACTS
                : !strcmp(lower, "id")    ? T_ENTITIES
                                          : T_NONE;
        const char *const *want = t == T_FACTS ? fact_cols : entity_cols;
        size_t max = t == T_FACTS ? 6 : 4;
        if (t == T_NONE || i >= max || strcmp(lower, want[i]))
            return T_NONE;
    }
    if (t == T_FACTS && n < 3)
        return T_NONE;
    *ncols = n;
    return t;
}

/* Reject bytes that cannot be in a text table: NUL and C0 controls other
 * than tab, newline and a carriage return before the newline. */
static int check_bytes(tsv_ctx *c, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch >= 0x20 || ch == '\t' || ch == '\n')
            continue;
        if (ch == '\r' && (i + 1 == len || data[i + 1] == '\n'))
            continue;
        c->line = kg_io_line_of(data, i);
        if (ch == 0)
            return fail(c, KG_EPARSE, "NUL byte: binary data, not a TSV table");
        return fail(c, KG_EPARSE, "control byte 0x%02x: binary data, not a "
                                  "TSV table", ch);
    }
    return 0;
}

static int parse(tsv_ctx *c, char *data, size_t len)
{
    int rc = check_bytes(c, data, len);
    if (rc)
        return rc;
    enum table t = T_NONE;
    size_t ncols = 0;
    bool any = false;
    char *p = data, *end = data + len;
    c->line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        c->line++;
        *eol = '\0'; /* end is the copy's spare NUL byte */
        if (eol > p && eol[-1] == '\r')
            eol[-1] = '\0';
        char *line = p;
        p = eol + 1;
        if (blank(line))
            continue;
        char *f[MAX_COLS + 1];
        if (line[0] == '#') {
            if (strncmp(line, "#@entity\t", 9) != 0)
                continue;
            any = true;
            size_t n = split(line + 9, '\t', f, 4);
            if (n > 4)
                return fail(c, KG_EPARSE,
                            "#@entity line has more than 4 columns");
            if ((rc = entity_row(c, f, n)))
                return rc;
            continue;
        }
        any = true;
        size_t n = split(line, '\t', f, MAX_COLS);
        for (size_t i = 0; i < n && i < MAX_COLS; i++)
            if (strlen(f[i]) > KG_IO_MAX_FIELD)
                return fail(c, KG_ELIMIT, "column %zu is longer than %zu bytes",
                            i + 1, KG_IO_MAX_FIELD);
        if (t == T_NONE) {
            t = n <= MAX_COLS ? header(f, n, &ncols) : T_NONE;
            if (t == T_NONE)
                return fail(c, KG_EPARSE,
                            "unknown header: expected \"subject<TAB>relation"
                            "<TAB>object[<TAB>qualifiers[<TAB>evidence[<TAB>"
                            "provenance]]]\" or \"id<TAB>kind[<TAB>aliases["
                            "<TAB>attributes]]\"");
            continue;
        }
        if (n > ncols)
            return fail(c, KG_EPARSE, "%zu columns, the header has %zu",
                        n > MAX_COLS ? (size_t)MAX_COLS + 1 : n, ncols);
        if (t == T_FACTS) {
            if (n < 3)
                return fail(c, KG_EPARSE, "%zu column%s, a fact needs subject, "
                            "relation and object", n, n == 1 ? "" : "s");
            rc = fact_row(c, f, n);
        } else {
            rc = entity_row(c, f, n);
        }
        if (rc)
            return rc;
    }
    if (!any) {
        c->line = 1;
        return fail(c, KG_EPARSE, "empty file: no header and no #@entity line");
    }
    return 0;
}

int kg_tsv_read(char *data, size_t len, const char *name, kg_batch *out,
                kg_error *err)
{
    tsv_ctx c = {.name = name, .out = out, .err = err};
    int rc = parse(&c, data, len);
    kg_pairv_free(&c.quals);
    kg_pairv_free(&c.prov);
    kg_pairv_free(&c.attrs);
    kg_strv_free(&c.aliases);
    return rc;
}

/* ---- writer ------------------------------------------------------------ */

/* Write s escaping backslash, tab, newline, carriage return, and the
 * characters of extra (separators of the column being written). A leading
 * '#' is escaped where a line could start with it. */
static void put_esc(kg_sbuf *b, const char *s, const char *extra,
                    bool line_start)
{
    if (line_start && *s == '#') {
        kg_sbuf_puts(b, "\\#");
        s++;
    }
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        char one[3] = {'\\', *s, 0};
        switch (*s) {
        case '\\': rep = "\\\\"; break;
        case '\t': rep = "\\t"; break;
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        default:
            if (strchr(extra, *s))
                rep = one;
        }
        if (rep) {
            kg_sbuf_put(b, run, (size_t)(s - run));
            kg_sbuf_puts(b, rep);
            run = s + 1;
        }
    }
    kg_sbuf_put(b, run, (size_t)(s - run));
}

static void put_pair(kg_sbuf *b, kg_pair p, bool *first)
{
    if (!*first)
        kg_sbuf_putc(b, ';');
    *first = false;
    put_esc(b, p.key, ";=", false);
    kg_sbuf_putc(b, '=');
    put_esc(b, p.value, ";", false);
}

int kg_tsv_write(const kg_graph *g, kg_sbuf *b, kg_error *err)
{
    kg_eid *ents = NULL;
    kg_rid *rels = NULL;
    size_t ne = 0, nr = 0;
    if (kg_io_sorted_entities(g, &ents, &ne) ||
        kg_io_sorted_relations(g, &rels, &nr)) {
        free(ents);
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    /* The header comes first: fact-table readers such as the shared scorer
     * skip only line 1 as a header and every '#' line after it. */
    kg_sbuf_puts(b, "subject\trelation\tobject\tqualifiers\tevidence\t"
                    "provenance\n");
    for (size_t i = 0; i < ne; i++) {
        kg_eid e = ents[i];
        kg_sbuf_puts(b, "#@entity\t");
        put_esc(b, kg_entity_id(g, e), "", false);
        kg_sbuf_putc(b, '\t');
        put_esc(b, kg_entity_kind(g, e), "", false);
        kg_sbuf_putc(b, '\t');
        for (size_t k = 0, na = kg_entity_alias_count(g, e); k < na; k++) {
            if (k)
                kg_sbuf_putc(b, '|');
            put_esc(b, kg_entity_alias(g, e, k), "|", false);
        }
        kg_sbuf_putc(b, '\t');
        bool first = true;
        for (size_t k = 0, na = kg_entity_attr_count(g, e); k < na; k++)
            put_pair(b, kg_entity_attr(g, e, k), &first);
        kg_sbuf_putc(b, '\n');
    }
    for (size_t i = 0; i < nr; i++) {
        kg_rid r = rels[i];
        put_esc(b, kg_entity_id(g, kg_relation_subject(g, r)), "", true);
        kg_sbuf_putc(b, '\t');
        put_esc(b, kg_relation_kind(g, r), "", false);
        kg_sbuf_putc(b, '\t');
        put_esc(b, kg_entity_id(g, kg_relation_object(g, r)), "", false);
        kg_sbuf_putc(b, '\t');
        bool first = true;
        for (size_t k = 0, nq = kg_relation_qual_count(g, r); k < nq; k++)
            put_pair(b, kg_relation_qual(g, r, k), &first);
        kg_sbuf_putc(b, '\t');
        const char *ev = kg_relation_prov_get(g, r, KG_PROV_EVIDENCE);
        if (ev)
            put_esc(b, ev, "", false);
        kg_sbuf_putc(b, '\t');
        first = true;
        for (size_t k = 0, np = kg_relation_prov_count(g, r); k < np; k++) {
            kg_pair p = kg_relation_prov(g, r, k);
            if (strcmp(p.key, KG_PROV_EVIDENCE) != 0)
                put_pair(b, p, &first);
        }
        kg_sbuf_putc(b, '\n');
    }
    free(ents);
    free(rels);
    if (b->oom)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    return 0;
}
