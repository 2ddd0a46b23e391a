/* util.c - buffers, arrays and the writers' deterministic order. */
#include "io_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Grow to hold at least need bytes (plus the NUL); doubles so appends
 * are amortised O(1). */
static bool sbuf_reserve(kg_sbuf *b, size_t need)
{
    if (b->oom)
        return false;
    if (need + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void kg_sbuf_put(kg_sbuf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = true;
        return;
    }
    if (!sbuf_reserve(b, b->len + n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void kg_sbuf_puts(kg_sbuf *b, const char *s)
{
    kg_sbuf_put(b, s, strlen(s));
}

void kg_sbuf_putc(kg_sbuf *b, char c)
{
    kg_sbuf_put(b, &c, 1);
}

void kg_sbuf_free(kg_sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int kg_sbuf_take(kg_sbuf *b, char **out, size_t *len)
{
    if (!b->oom && !b->p)
        sbuf_reserve(b, 0);
    if (b->oom) {
        kg_sbuf_free(b);
        return KG_ENOMEM;
    }
    b->p[b->len] = '\0';
    *out = b->p;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return 0;
}

/* Shared growth rule for the two array types. */
static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    if (n >= KG_IO_MAX_PAIRS * 16u)
        return KG_ELIMIT;
    size_t c = *cap ? *cap * 2 : 8;
    void *p = realloc(*v, c * elem);
    if (!p)
        return KG_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

int kg_pairv_push(kg_pairv *a, const char *key, const char *value)
{
    void *v = a->v;
    int rc = grow(&v, &a->cap, a->n, sizeof *a->v);
    a->v = v;
    if (rc)
        return rc;
    a->v[a->n].key = key;
    a->v[a->n].value = value;
    a->n++;
    return 0;
}

void kg_pairv_free(kg_pairv *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}

int kg_strv_push(kg_strv *a, const char *s)
{
    void *v = (void *)a->v;
    int rc = grow(&v, &a->cap, a->n, sizeof *a->v);
    a->v = v;
    if (rc)
        return rc;
    a->v[a->n++] = s;
    return 0;
}

void kg_strv_free(kg_strv *a)
{
    free((void *)a->v);
    memset(a, 0, sizeof *a);
}

/* qsort has no context argument in C11: the graph being sorted is kept
 * here for the duration of one sort. Writers are not re-entrant per
 * thread anyway (the graph is single-writer), and the variable is
 * thread-local so that two threads may export two graphs. */
static _Thread_local const kg_graph *sort_graph;

static int cmp_eid(const void *a, const void *b)
{
    kg_eid x = *(const kg_eid *)a, y = *(const kg_eid *)b;
    int c = strcmp(kg_entity_id(sort_graph, x), kg_entity_id(sort_graph, y));
    if (c)
        return c;
    return x < y ? -1 : x > y;
}

static int cmp_pairs(const kg_graph *g, kg_rid x, kg_rid y, bool prov)
{
    size_t nx = prov ? kg_relation_prov_count(g, x) : kg_relation_qual_count(g, x);
    size_t ny = prov ? kg_relation_prov_count(g, y) : kg_relation_qual_count(g, y);
    for (size_t i = 0; i < nx && i < ny; i++) {
        kg_pair px = prov ? kg_relation_prov(g, x, i) : kg_relation_qual(g, x, i);
        kg_pair py = prov ? kg_relation_prov(g, y, i) : kg_relation_qual(g, y, i);
        int c = strcmp(px.key, py.key);
        if (!c)
            c = strcmp(px.value, py.value);
        if (c)
            return c;
    }
    return nx < ny ? -1 : nx > ny;
}

static int cmp_rid(const void *a, const void *b)
{
    const kg_graph *g = sort_graph;
    kg_rid x = *(const kg_rid *)a, y = *(const kg_rid *)b;
    int c = strcmp(kg_entity_id(g, kg_relation_subject(g, x)),
                   kg_entity_id(g, kg_relation_subject(g, y)));
    if (!c)
        c = strcmp(kg_relation_kind(g, x), kg_relation_kind(g, y));
    if (!c)
        c = strcmp(kg_entity_id(g, kg_relation_object(g, x)),
                   kg_entity_id(g, kg_relation_object(g, y)));
    if (!c)
        c = cmp_pairs(g, x, y, false);
    if (!c)
        c = cmp_pairs(g, x, y, true);
    if (c)
        return c;
    return x < y ? -1 : x > y;
}

int kg_io_sorted_entities(const kg_graph *g, kg_eid **out, size_t *n)
{
    size_t cnt = kg_entity_count(g), i = 0;
    kg_eid *v = malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v)
        return KG_ENOMEM;
    for (kg_eid e = kg_entity_first(g); e != KG_NONE && i < cnt;
         e = kg_entity_next(g, e))
        v[i++] = e;
    sort_graph = g;
    qsort(v, i, sizeof *v, cmp_eid);
    sort_graph = NULL;
    *out = v;
    *n = i;
    return 0;
}

int kg_io_sorted_relations(const kg_graph *g, kg_rid **out, size_t *n)
{
    size_t cnt = kg_relation_count(g), i = 0;
    kg_rid *v = malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v)
        return KG_ENOMEM;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE && i < cnt;
         r = kg_relation_next(g, r))
        v[i++] = r;
    sort_graph = g;
    qsort(v, i, sizeof *v, cmp_rid);
    sort_graph = NULL;
    *out = v;
    *n = i;
    return 0;
}

size_t kg_io_utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool kg_io_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = kg_io_utf8_seq(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

unsigned kg_io_line_of(const char *data, size_t off)
{
    unsigned line = 1;
    for (size_t i = 0; i < off; i++)
        if (data[i] == '\n')
            line++;
    return line;
}
