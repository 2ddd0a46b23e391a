/* json.c - the JSON graph format (docs/formats.md):
 *
 *   {"entities":[{"id":..,"kind":..,"aliases":[..],"attributes":{..}}],
 *    "relations":[{"subject":..,"relation":..,"object":..,
 *                  "qualifiers":{..},"provenance":{..}}]}
 *
 * The reader is a strict hand-written recursive-descent parser for exactly
 * this shape (RFC 8259 syntax, nesting bounded by the shape itself, every
 * string bounded by KG_IO_MAX_FIELD). Strings are decoded in place in the
 * caller's private copy: a decoded string is never longer than its
 * escaped form.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_util.h"

typedef struct json_ctx {
    char *p, *end, *start;
    const char *name;
    kg_batch *out;
    kg_error *err;
    kg_strv owned; /* number texts copied out of the buffer: freed at end */
    kg_pairv a, b;
    kg_strv aliases;
    unsigned line; /* raw newlines only occur between tokens: ws counts */
} json_ctx;

static unsigned cur_line(const json_ctx *c)
{
    return c->line;
}

static int jfail(json_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int jfail(json_ctx *c, int code, const char *fmt, ...)
{
    char msg[KG_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kg_error_set(c->err, code, "%s:%u: %s", c->name, cur_line(c), msg);
}

static void ws(json_ctx *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        if (*c->p == '\n')
            c->line++;
        c->p++;
    }
}

/* Consume ch after optional white space. */
static bool eat(json_ctx *c, char ch)
{
    ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static int expect(json_ctx *c, char ch)
{
    if (eat(c, ch))
        return 0;
    if (c->p >= c->end)
        return jfail(c, KG_EPARSE, "unexpected end of input, expected '%c'", ch);
    return jfail(c, KG_EPARSE, "expected '%c'", ch);
}

/* The end of a list or object, after its last item: ',' was not there. */
static int close_with(json_ctx *c, char ch)
{
    if (eat(c, ch))
        return 0;
    if (c->p >= c->end)
        return jfail(c, KG_EPARSE, "unexpected end of input, expected ',' or "
                                   "'%c'", ch);
    return jfail(c, KG_EPARSE, "expected ',' or '%c'", ch);
}

static int hex4(json_ctx *c, const char *q, uint32_t *v)
{
    *v = 0;
    if (c->end - q < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char h = q[i];
        int d = (h >= '0' && h <= '9')   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

static char *put_utf8(char *w, uint32_t cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xC0 | cp >> 6);
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | cp >> 12);
        *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | cp >> 18);
        *w++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *w++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* Parse a string at c->p, decode it in place, return it NUL terminated.
 * Raw bytes >= 0x80 are kept as they are (the writer never produces
 * invalid UTF-8, but a hand-edited Latin-1 file should not be refused). */
static int string(json_ctx *c, char **out)
{
    ws(c);
    if (c->p >= c->end || *c->p != '"')
        return jfail(c, KG_EPARSE, c->p >= c->end ? "unexpected end of input, "
                                                    "expected a string"
                                                  : "expected a string");
    char *s = ++c->p, *w = s;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20)
            return jfail(c, KG_EPARSE, "control byte 0x%02x in a string "
                                       "(unterminated string?)", ch);
        if ((size_t)(w - s) >= KG_IO_MAX_FIELD)
            return jfail(c, KG_ELIMIT, "string longer than %zu bytes",
                         KG_IO_MAX_FIELD);
        if (ch != '\\') {
            *w++ = *c->p++;
            continue;
        }
        if (c->end - c->p < 2)
            break;
        char e = c->p[1];
        c->p += 2;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(c, c->p, &cp))
                return jfail(c, KG_EPARSE, "bad \\u escape");
            c->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
                    hex4(c, c->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return jfail(c, KG_EPARSE, "unpaired surrogate in \\u "
                                               "escape");
                c->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return jfail(c, KG_EPARSE, "unpaired surrogate in \\u escape");
            }
            if (cp == 0)
                return jfail(c, KG_EPARSE, "\\u0000 is not allowed in names "
                                           "and values");
            w = put_utf8(w, cp);
            break;
        }
        default:
            c->p--;
            return jfail(c, KG_EPARSE, "bad escape '\\%c'", e);
        }
    }
    if (c->p >= c->end)
        return jfail(c, KG_EPARSE, "unterminated string");
    c->p++; /* closing quote; w <= its position, so this is safe: */
    *w = '\0';
    *out = s;
    return 0;
}

/* A number's text as written (validated against the JSON grammar); kept
 * as a string, e.g. "value": 461000000000. Copied: the buffer has no room
 * for a NUL after it. */
static int number(json_ctx *c, char **out)
{
    char *s = c->p, *q = s;
    if (q < c->end && *q == '-')
        q++;
    if (q < c->end && *q == '0') {
        q++;
    } else if (q < c->end && *q >= '1' && *q <= '9') {
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return jfail(c, KG_EPARSE, "expected a value");
    }
    if (q < c->end && *q == '.') {
        q++;
        if (q >= c->end || *q < '0' || *q > '9')
            return jfail(c, KG_EPARSE, "bad number");
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < c->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < c->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= c->end || *q < '0' || *q > '9')
            return jfail(c, KG_EPARSE, "bad number");
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    }
    size_t n = (size_t)(q - s);
    if (n > 64)
        return jfail(c, KG_ELIMIT, "number longer than 64 characters");
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    if (!copy || kg_strv_push(&c->owned, copy)) {
        free(copy);
        return jfail(c, KG_ENOMEM, "out of memory");
    }
    c->p = q;
    *out = copy;
    return 0;
}

/* A scalar value of an attribute map: a string or a number. */
static int scalar(json_ctx *c, char **out)
{
    ws(c);
    if (c->p < c->end && *c->p == '"')
        return string(c, out);
    if (c->p < c->end && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')))
        return number(c, out);
    if (c->p >= c->end)
        return jfail(c, KG_EPARSE, "unexpected end of input");
    return jfail(c, KG_EPARSE, "expected a string or a number");
}

/* {"k": "v", ...} into v. */
static int pair_map(json_ctx *c, kg_pairv *v, const char *what)
{
    int rc;
    v->n = 0;
    if ((rc = expect(c, '{')))
        return rc;
    if (eat(c, '}'))
        return 0;
    do {
        char *k, *val;
        if ((rc = string(c, &k)) || (rc = expect(c, ':')) ||
            (rc = scalar(c, &val)))
            return rc;
        if (!*k)
            return jfail(c, KG_EPARSE, "empty key in %s", what);
        if (v->n >= KG_IO_MAX_PAIRS)
            return jfail(c, KG_ELIMIT, "more than %d %s", KG_IO_MAX_PAIRS, what);
        if (kg_pairv_push(v, k, val))
            return jfail(c, KG_ENOMEM, "out of memory");
    } while (eat(c, ','));
    return close_with(c, '}');
}

static int string_array(json_ctx *c, kg_strv *v)
{
    int rc;
    v->n = 0;
    if ((rc = expect(c, '[')))
        return rc;
    if (eat(c, ']'))
        return 0;
    do {
        char *s;
        if ((rc = string(c, &s)))
            return rc;
        if (v->n >= KG_IO_MAX_PAIRS)
            return jfail(c, KG_ELIMIT, "more than %d aliases", KG_IO_MAX_PAIRS);
        if (*s && kg_strv_push(v, s))
            return jfail(c, KG_ENOMEM, "out of memory");
    } while (eat(c, ','));
    return close_with(c, ']');
}

/* Each field once; a second occurrence is an error (strict). */
static int once(json_ctx *c, unsigned *seen, unsigned bit, const char *key)
{
    if (*seen & bit)
        return jfail(c, KG_EPARSE, "duplicate key \"%s\"", key);
    *seen |= bit;
    return 0;
}

static int entity(json_ctx *c)
{
    int rc;
    unsigned line = cur_line(c);
    kg_entity_spec s = {0};
    unsigned seen = 0;
    c->a.n = 0;
    c->aliases.n = 0;
    if ((rc = expect(c, '{')))
        return rc;
    if (!eat(c, '}')) {
        do {
            char *k;
            if ((rc = string(c, &k)) || (rc = expect(c, ':')))
                return rc;
            if (!strcmp(k, "id")) {
                char *v;
                if ((rc = once(c, &seen, 1, k)) || (rc = string(c, &v)))
                    return rc;
                s.id = v;
            } else if (!strcmp(k, "kind")) {
                char *v;
                if ((rc = once(c, &seen, 2, k)) || (rc = string(c, &v)))
                    return rc;
                s.kind = v;
            } else if (!strcmp(k, "aliases")) {
                if ((rc = once(c, &seen, 4, k)) ||
                    (rc = string_array(c, &c->aliases)))
                    return rc;
            } else if (!strcmp(k, "attributes")) {
                if ((rc = once(c, &seen, 8, k)) ||
                    (rc = pair_map(c, &c->a, "attributes")))
                    return rc;
            } else {
                return jfail(c, KG_EPARSE, "unknown entity field \"%.40s\"", k);
            }
        } while (eat(c, ','));
        if ((rc = close_with(c, '}')))
            return rc;
    }
    if (!s.id || !*s.id)
        return jfail(c, KG_EPARSE, "entity without \"id\"");
    s.aliases = c->aliases.v;
    s.n_aliases = c->aliases.n;
    s.attrs = c->a.v;
    s.n_attrs = c->a.n;
    rc = kg_batch_add_entity(c->out, &s, line);
    return rc ? jfail(c, rc, "cannot add entity") : 0;
}

static int relation(json_ctx *c)
{
    static const char *const names[] = {"subject", "relation", "object"};
    int rc;
    unsigned line = cur_line(c);
    const char *v3[3] = {NULL, NULL, NULL};
    unsigned seen = 0;
    c->a.n = 0;
    c->b.n = 0;
    if ((rc = expect(c, '{')))
        return rc;
    if (!eat(c, '}')) {
        do {
            char *k;
            if ((rc = string(c, &k)) || (rc = expect(c, ':')))
                return rc;
            size_t i;
            for (i = 0; i < 3 && strcmp(k, names[i]); i++)
                ;
            if (i < 3) {
                char *v;
                if ((rc = once(c, &seen, 1u << i, k)) || (rc = string(c, &v)))
                    return rc;
                v3[i] = v;
            } else if (!strcmp(k, "qualifiers")) {
                if ((rc = once(c, &seen, 8, k)) ||
                    (rc = pair_map(c, &c->a, "qualifiers")))
                    return rc;
            } else if (!strcmp(k, "provenance")) {
                if ((rc = once(c, &seen, 16, k)) ||
                    (rc = pair_map(c, &c->b, "provenance")))
                    return rc;
            } else {
                return jfail(c, KG_EPARSE, "unknown relation field \"%.40s\"",
                             k);
            }
        } while (eat(c, ','));
        if ((rc = close_with(c, '}')))
            return rc;
    }
    for (size_t i = 0; i < 3; i++)
        if (!v3[i] || !*v3[i])
            return jfail(c, KG_EPARSE, "relation without \"%s\"", names[i]);
    kg_relation_spec s = {.subject = v3[0], .relation = v3[1],
                          .object = v3[2], .quals = c->a.v,
                          .n_quals = c->a.n, .prov = c->b.v,
                          .n_prov = c->b.n};
    rc = kg_batch_add_relation(c->out, &s, line);
    return rc ? jfail(c, rc, "cannot add relation") : 0;
}

static int array_of(json_ctx *c, int (*item)(json_ctx *))
{
    int rc;
    if ((rc = expect(c, '[')))
        return rc;
    if (eat(c, ']'))
        return 0;
    do {
        if ((rc = item(c)))
            return rc;
    } while (eat(c, ','));
    return close_with(c, ']');
}

static int document(json_ctx *c)
{
    int rc;
    unsigned seen = 0;
    ws(c);
    if (c->p >= c->end)
        return jfail(c, KG_EPARSE, "empty file");
    if ((rc = expect(c, '{')))
        return rc;
    if (!eat(c, '}')) {
        do {
            char *k;
            if ((rc = string(c, &k)) || (rc = expect(c, ':')))
                return rc;
            if (!strcmp(k, "entities")) {
                if ((rc = once(c, &seen, 1, k)) ||
                    (rc = array_of(c, entity)))
                    return rc;
            } else if (!strcmp(k, "relations")) {
                if ((rc = once(c, &seen, 2, k)) ||
                    (rc = array_of(c, relation)))
                    return rc;
            } else {
                return jfail(c, KG_EPARSE, "unknown top-level field \"%.40s\"",
                             k);
            }
        } while (eat(c, ','));
        if ((rc = close_with(c, '}')))
            return rc;
    }
    ws(c);
    if (c->p < c->end)
        return jfail(c, KG_EPARSE, "trailing data after the JSON document");
    return 0;
}

int kg_json_read(char *data, size_t len, const char *name, kg_batch *out,
                 kg_error *err)
{
    json_ctx c = {.p = data, .end = data + len, .start = data, .name = name,
                  .out = out, .err = err, .line = 1};
    if (memchr(data, '\0', len)) {
        c.p = memchr(data, '\0', len);
        c.line = kg_io_line_of(data, (size_t)(c.p - data));
        int rc = jfail(&c, KG_EPARSE, "NUL byte: binary data, not JSON");
        return rc;
    }
    int rc = document(&c);
    for (size_t i = 0; i < c.owned.n; i++)
        free((void *)c.owned.v[i]);
    kg_strv_free(&c.owned);
    kg_pairv_free(&c.a);
    kg_pairv_free(&c.b);
    kg_strv_free(&c.aliases);
    return rc;
}

/* ---- writer ------------------------------------------------------------ */

/* A JSON string: control characters escaped, invalid UTF-8 bytes replaced
 * by U+FFFD (JSON text must be Unicode; the loss is documented). */
static void jstr(kg_sbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    kg_sbuf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            kg_sbuf_putc(b, '\\');
            kg_sbuf_putc(b, (char)ch);
            i++;
        } else if (ch < 0x20) {
            char esc[8];
            const char *e = ch == '\n'   ? "\\n"
                            : ch == '\t' ? "\\t"
                            : ch == '\r' ? "\\r"
                            : ch == '\b' ? "\\b"
                            : ch == '\f' ? "\\f"
                                         : NULL;
            if (!e) {
                snprintf(esc, sizeof esc, "\\u%04x", ch);
                e = esc;
            }
            kg_sbuf_puts(b, e);
            i++;
        } else if (ch < 0x80) {
            kg_sbuf_putc(b, (char)ch);
            i++;
        } else {
            size_t k = kg_io_utf8_seq(p + i, n - i);
            if (k) {
                kg_sbuf_put(b, s + i, k);
                i += k;
            } else {
                kg_sbuf_puts(b, "\\ufffd");
                i++;
            }
        }
    }
    kg_sbuf_putc(b, '"');
}

static void jmap_begin(kg_sbuf *b, const char *key)
{
    kg_sbuf_puts(b, ", ");
    jstr(b, key);
    kg_sbuf_puts(b, ": {");
}

static void jpair(kg_sbuf *b, kg_pair p, bool *first)
{
    if (!*first)
        kg_sbuf_puts(b, ", ");
    *first = false;
    jstr(b, p.key);
    kg_sbuf_puts(b, ": ");
    jstr(b, p.value);
}

int kg_json_write(const kg_graph *g, kg_sbuf *b, kg_error *err)
{
    kg_eid *ents = NULL;
    kg_rid *rels = NULL;
    size_t ne = 0, nr = 0;
    if (kg_io_sorted_entities(g, &ents, &ne) ||
        kg_io_sorted_relations(g, &rels, &nr)) {
        free(ents);
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    kg_sbuf_puts(b, "{\n  \"entities\": [");
    for (size_t i = 0; i < ne; i++) {
        kg_eid e = ents[i];
        kg_sbuf_puts(b, i ? ",\n    {\"id\": " : "\n    {\"id\": ");
        jstr(b, kg_entity_id(g, e));
        kg_sbuf_puts(b, ", \"kind\": ");
        jstr(b, kg_entity_kind(g, e));
        kg_sbuf_puts(b, ", \"aliases\": [");
        for (size_t k = 0, n = kg_entity_alias_count(g, e); k < n; k++) {
            if (k)
                kg_sbuf_puts(b, ", ");
            jstr(b, kg_entity_alias(g, e, k));
        }
        kg_sbuf_putc(b, ']');
        jmap_begin(b, "attributes");
        bool first = true;
        for (size_t k = 0, n = kg_entity_attr_count(g, e); k < n; k++)
            jpair(b, kg_entity_attr(g, e, k), &first);
        kg_sbuf_puts(b, "}}");
    }
    kg_sbuf_puts(b, ne ? "\n  ],\n  \"relations\": [" : "],\n  \"relations\": [");
    for (size_t i = 0; i < nr; i++) {
        kg_rid r = rels[i];
        kg_sbuf_puts(b, i ? ",\n    {\"subject\": " : "\n    {\"subject\": ");
        jstr(b, kg_entity_id(g, kg_relation_subject(g, r)));
        kg_sbuf_puts(b, ", \"relation\": ");
        jstr(b, kg_relation_kind(g, r));
        kg_sbuf_puts(b, ", \"object\": ");
        jstr(b, kg_entity_id(g, kg_relation_object(g, r)));
        jmap_begin(b, "qualifiers");
        bool first = true;
        for (size_t k = 0, n = kg_relation_qual_count(g, r); k < n; k++)
            jpair(b, kg_relation_qual(g, r, k), &first);
        kg_sbuf_putc(b, '}');
        jmap_begin(b, "provenance");
        first = true;
        for (size_t k = 0, n = kg_relation_prov_count(g, r); k < n; k++)
            jpair(b, kg_relation_prov(g, r, k), &first);
        kg_sbuf_puts(b, "}}");
    }
    kg_sbuf_puts(b, nr ? "\n  ]\n}\n" : "]\n}\n");
    free(ents);
    free(rels);
    if (b->oom)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    return 0;
}
