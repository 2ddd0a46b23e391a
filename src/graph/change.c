/* change.c - change records, batches and kg_graph_apply (see kg/change.h).
 *
 * A batch keeps its kg_change records in one growable array and every
 * string, alias array and pair array they point to in a chunked arena
 * whose chunks never move, so the pointers inside the records stay valid
 * while the batch grows.
 */
#include "kg/change.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_CHUNK ((size_t)64 * 1024)
#define BATCH_PAIRS_MAX ((size_t)1 << 20)
#define BATCH_MAX ((size_t)1 << 30)

typedef struct bchunk {
    struct bchunk *next;
    size_t size; /* bytes of data[] */
    size_t used;
    /* data follows, aligned for pointers */
} bchunk;

struct kg_batch {
    kg_change *ch;
    size_t n, cap;
    bchunk *head, *tail;
    char *source;
};

static unsigned char *chunk_data(bchunk *c)
{
    return (unsigned char *)c + ((sizeof(bchunk) + 15) & ~(size_t)15);
}

/* n bytes from the batch arena, 16-byte aligned; NULL on OOM. */
static void *b_alloc(kg_batch *b, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    bchunk *c = b->tail;
    if (!c || c->size - c->used < n) {
        size_t size = n > BATCH_CHUNK ? n : BATCH_CHUNK;
        size_t hdr = (sizeof(bchunk) + 15) & ~(size_t)15;
        if (size > SIZE_MAX - hdr)
            return NULL;
        c = malloc(hdr + size);
        if (!c)
            return NULL;
        c->next = NULL;
        c->size = size;
        c->used = 0;
        if (b->tail)
            b->tail->next = c;
        else
            b->head = c;
        b->tail = c;
    }
    void *p = chunk_data(c) + c->used;
    c->used += n;
    return p;
}

static const char *b_str(kg_batch *b, const char *s, bool *ok)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = b_alloc(b, n + 1);
    if (!d) {
        *ok = false;
        return NULL;
    }
    memcpy(d, s, n + 1);
    return d;
}

static const kg_pair *b_pairs(kg_batch *b, const kg_pair *p, size_t n, bool *ok)
{
    if (n == 0 || !p)
        return NULL;
    kg_pair *d = b_alloc(b, n * sizeof *d);
    if (!d) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        d[i].key = b_str(b, p[i].key, ok);
        d[i].value = b_str(b, p[i].value, ok);
    }
    return d;
}

kg_batch *kg_batch_new(void)
{
    return calloc(1, sizeof(kg_batch));
}

void kg_batch_destroy(kg_batch **bp)
{
    if (!bp || !*bp)
        return;
    kg_batch *b = *bp;
    for (bchunk *c = b->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(b->ch);
    free(b->source);
    free(b);
    *bp = NULL;
}

void kg_batch_clear(kg_batch *b)
{
    if (!b)
        return;
    /* Keep the first chunk and the record array for the next batch. */
    if (b->head) {
        for (bchunk *c = b->head->next, *next; c; c = next) {
            next = c->next;
            free(c);
        }
        b->head->next = NULL;
        b->head->used = 0;
        b->tail = b->head;
    }
    b->n = 0;
}

static int pairs_ok(const kg_pair *p, size_t n)
{
    if (n && !p)
        return 0;
    if (n > BATCH_PAIRS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].key)
            return 0;
    }
    return 1;
}

/* Append c (whose strings already live in the arena). */
static int b_append(kg_batch *b, const kg_change *c)
{
    if (b->n == b->cap) {
        if (b->cap >= BATCH_MAX)
            return KG_ENOMEM;
        size_t nc = b->cap ? b->cap * 2 : 64;
        kg_change *p = realloc(b->ch, nc * sizeof *p);
        if (!p)
            return KG_ENOMEM;
        b->ch = p;
        b->cap = nc;
    }
    b->ch[b->n++] = *c;
    return 0;
}

int kg_batch_add_entity(kg_batch *b, const kg_entity_spec *spec, unsigned line)
{
    if (!b || !spec || !spec->id || !spec->id[0])
        return KG_EINVAL;
    if (spec->n_aliases && !spec->aliases)
        return KG_EINVAL;
    for (size_t i = 0; i < spec->n_aliases; i++) {
        if (!spec->aliases[i])
            return KG_EINVAL;
    }
    if (spec->n_aliases > BATCH_PAIRS_MAX || !pairs_ok(spec->attrs, spec->n_attrs))
        return KG_EINVAL;
    kg_change c;
    memset(&c, 0, sizeof c);
    c.op = KG_CHANGE_ENTITY_ADD;
    c.line = line;
    bool ok = true;
    kg_entity_spec *e = &c.u.entity;
    e->id = b_str(b, spec->id, &ok);
    e->kind = b_str(b, spec->kind, &ok);
    if (spec->n_aliases) {
        const char **al = b_alloc(b, spec->n_aliases * sizeof *al);
        if (!al)
            return KG_ENOMEM;
        for (size_t i = 0; i < spec->n_aliases; i++)
            al[i] = b_str(b, spec->aliases[i], &ok);
        e->aliases = al;
        e->n_aliases = spec->n_aliases;
    }
    e->attrs = b_pairs(b, spec->attrs, spec->n_attrs, &ok);
    e->n_attrs = e->attrs ? spec->n_attrs : 0;
    if (!ok)
        return KG_ENOMEM;
    return b_append(b, &c);
}

int kg_batch_remove_entity(kg_batch *b, const char *id, unsigned line)
{
    if (!b || !id || !id[0])
        return KG_EINVAL;
    kg_change c;
    memset(&c, 0, sizeof c);
    c.op = KG_CHANGE_ENTITY_REMOVE;
    c.line = line;
    bool ok = true;
    c.u.entity.id = b_str(b, id, &ok);
    if (!ok)
        return KG_ENOMEM;
    return b_append(b, &c);
}

static int b_relation(kg_batch *b, kg_change_op op, const kg_relation_spec *spec,
                      unsigned line)
{
    if (!b || !spec || !spec->relation || !spec->relation[0] ||
        !spec->subject || !spec->subject[0] || !spec->object || !spec->object[0])
        return KG_EINVAL;
    if (!pairs_ok(spec->quals, spec->n_quals) || !pairs_ok(spec->prov, spec->n_prov))
        return KG_EINVAL;
    kg_change c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.line = line;
    bool ok = true;
    kg_relation_spec *r = &c.u.relation;
    r->subject = b_str(b, spec->subject, &ok);
    r->relation = b_str(b, spec->relation, &ok);
    r->object = b_str(b, spec->object, &ok);
    r->quals = b_pairs(b, spec->quals, spec->n_quals, &ok);
    r->n_quals = r->quals ? spec->n_quals : 0;
    r->prov = b_pairs(b, spec->prov, spec->n_prov, &ok);
    r->n_prov = r->prov ? spec->n_prov : 0;
    if (!ok)
        return KG_ENOMEM;
    return b_append(b, &c);
}

int kg_batch_add_relation(kg_batch *b, const kg_relation_spec *spec,
                          unsigned line)
{
    return b_relation(b, KG_CHANGE_RELATION_ADD, spec, line);
}

int kg_batch_remove_relation(kg_batch *b, const kg_relation_spec *spec,
                             unsigned line)
{
    return b_relation(b, KG_CHANGE_RELATION_REMOVE, spec, line);
}

int kg_batch_push(kg_batch *b, const kg_change *c)
{
    if (!b || !c)
        return KG_EINVAL;
    switch (c->op) {
    case KG_CHANGE_ENTITY_ADD:
        return kg_batch_add_entity(b, &c->u.entity, c->line);
    case KG_CHANGE_ENTITY_REMOVE:
        return kg_batch_remove_entity(b, c->u.entity.id, c->line);
    case KG_CHANGE_RELATION_ADD:
    case KG_CHANGE_RELATION_REMOVE:
        return b_relation(b, c->op, &c->u.relation, c->line);
    }
    return KG_EINVAL;
}

size_t kg_batch_count(const kg_batch *b)
{
    return b ? b->n : 0;
}

const kg_change *kg_batch_get(const kg_batch *b, size_t i)
{
    return (b && i < b->n) ? &b->ch[i] : NULL;
}

int kg_batch_set_source(kg_batch *b, const char *name)
{
    if (!b)
        return KG_EINVAL;
    char *s = NULL;
    if (name && name[0]) {
        s = strdup(name);
        if (!s)
            return KG_ENOMEM;
    }
    free(b->source);
    b->source = s;
    return 0;
}

const char *kg_batch_source(const kg_batch *b)
{
    return (b && b->source) ? b->source : "";
}

/* ---- validation and application ----------------------------------------- */

/* Fill err with "SOURCE:LINE: message" (or the best location there is). */
static int fail(const kg_batch *b, size_t idx, const kg_change *c, int code,
                kg_error *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail(const kg_batch *b, size_t idx, const kg_change *c, int code,
                kg_error *err, const char *fmt, ...)
{
    if (!err)
        return code;
    char msg[KG_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *src = b ? kg_batch_source(b) : "";
    if (src[0] && c->line)
        return kg_error_set(err, code, "%s:%u: %s", src, c->line, msg);
    if (src[0])
        return kg_error_set(err, code, "%s: change %zu: %s", src, idx + 1, msg);
    if (c->line)
        return kg_error_set(err, code, "line %u: %s", c->line, msg);
    return kg_error_set(err, code, "change %zu: %s", idx + 1, msg);
}

static bool ascii_caseeq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

static bool nonempty(const char *s)
{
    return s && s[0];
}

static bool pairs_valid(const kg_pair *p, size_t n)
{
    if (n && !p)
        return false;
    if (n > BATCH_PAIRS_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!nonempty(p[i].key))
            return false;
    }
    return true;
}

/* Index of the first ENTITY_ADD before change i whose id or an alias is
 * name (case-insensitive), or SIZE_MAX. */
static size_t batch_entity(const kg_batch *b, size_t i, const char *name)
{
    for (size_t j = 0; b && j < i; j++) {
        const kg_change *c = &b->ch[j];
        if (c->op != KG_CHANGE_ENTITY_ADD)
            continue;
        if (ascii_caseeq(c->u.entity.id, name))
            return j;
        for (size_t k = 0; k < c->u.entity.n_aliases; k++) {
            if (ascii_caseeq(c->u.entity.aliases[k], name))
                return j;
        }
    }
    return SIZE_MAX;
}

/* Is name introduced by a change before i (entity add, or an end of a
 * relation add, which creates its entities)? */
static bool batch_names(const kg_batch *b, size_t i, const char *name)
{
    if (batch_entity(b, i, name) != SIZE_MAX)
        return true;
    for (size_t j = 0; b && j < i; j++) {
        const kg_change *c = &b->ch[j];
        if (c->op == KG_CHANGE_RELATION_ADD &&
            (ascii_caseeq(c->u.relation.subject, name) ||
             ascii_caseeq(c->u.relation.object, name)))
            return true;
    }
    return false;
}

/* Do two names denote the same entity, in the graph or in the batch? */
static bool same_entity(const kg_graph *g, const kg_batch *b, size_t i,
                        const char *x, const char *y)
{
    if (ascii_caseeq(x, y))
        return true;
    kg_eid ex = kg_entity_find(g, x);
    if (ex != KG_NONE && ex == kg_entity_find(g, y))
        return true;
    size_t bx = batch_entity(b, i, x);
    return bx != SIZE_MAX && bx == batch_entity(b, i, y);
}

/* Does every given qualifier appear on a set of pairs? */
static bool quals_subset(const kg_pair *have, size_t n_have,
                         const kg_pair *want, size_t n_want)
{
    for (size_t i = 0; i < n_want; i++) {
        const char *v = want[i].value ? want[i].value : "";
        bool found = false;
        /* The last value given for a key is the one that counts. */
        for (size_t k = n_have; k-- > 0;) {
            if (strcmp(have[k].key, want[i].key) == 0) {
                found = strcmp(have[k].value ? have[k].value : "", v) == 0;
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

static bool rel_matches(const kg_graph *g, kg_rid r, kg_eid s, kg_eid o,
                        const kg_relation_spec *rs)
{
    if (kg_relation_subject(g, r) != s || kg_relation_object(g, r) != o)
        return false;
    for (size_t i = 0; i < rs->n_quals; i++) {
        const char *v = kg_relation_qual_get(g, r, rs->quals[i].key);
        if (!v || strcmp(v, rs->quals[i].value ? rs->quals[i].value : "") != 0)
            return false;
    }
    return true;
}

/* The relations a RELATION_REMOVE may name, in the graph as it is: those
 * of its kind at whichever end has fewer, since every candidate is read
 * and one end may be a hub with a million of them. */
static kg_span remove_targets(const kg_graph *g, const kg_relation_spec *rs,
                              kg_eid *s, kg_eid *o)
{
    kg_span none = {NULL, 0};
    *s = kg_entity_find(g, rs->subject);
    *o = kg_entity_find(g, rs->object);
    kg_atom k = kg_atom_find(g, rs->relation);
    if (*s == KG_NONE || *o == KG_NONE || k == KG_NONE || k == 0)
        return none;
    kg_span out = kg_adjacent(g, *s, KG_OUT, k);
    kg_span in = kg_adjacent(g, *o, KG_IN, k);
    return in.n < out.n ? in : out;
}

static bool graph_has_relation(const kg_graph *g, const kg_relation_spec *rs)
{
    kg_eid s, o;
    kg_span sp = remove_targets(g, rs, &s, &o);
    for (size_t i = 0; i < sp.n; i++) {
        if (rel_matches(g, sp.ids[i], s, o, rs))
            return true;
    }
    return false;
}

static bool batch_has_relation(const kg_graph *g, const kg_batch *b, size_t i,
                               const kg_relation_spec *rs)
{
    for (size_t j = 0; b && j < i; j++) {
        const kg_change *c = &b->ch[j];
        if (c->op != KG_CHANGE_RELATION_ADD)
            continue;
        const kg_relation_spec *a = &c->u.relation;
        if (strcmp(a->relation, rs->relation) == 0 &&
            same_entity(g, b, i, a->subject, rs->subject) &&
            same_entity(g, b, i, a->object, rs->object) &&
            quals_subset(a->quals, a->n_quals, rs->quals, rs->n_quals))
            return true;
    }
    return false;
}

/* Validate change i (b may be NULL for a lone change). */
static int check_one(const kg_graph *g, const kg_batch *b, size_t i,
                     const kg_change *c, kg_error *err)
{
    switch (c->op) {
    case KG_CHANGE_ENTITY_ADD: {
        const kg_entity_spec *e = &c->u.entity;
        if (!nonempty(e->id))
            return fail(b, i, c, KG_EINVAL, err, "entity without an id");
        if (e->n_aliases && !e->aliases)
            return fail(b, i, c, KG_EINVAL, err, "entity '%s': NULL aliases", e->id);
        for (size_t k = 0; k < e->n_aliases; k++) {
            if (!e->aliases[k])
                return fail(b, i, c, KG_EINVAL, err, "entity '%s': NULL alias", e->id);
        }
        if (!pairs_valid(e->attrs, e->n_attrs))
            return fail(b, i, c, KG_EINVAL, err,
                        "entity '%s': attribute without a key", e->id);
        return 0;
    }
    case KG_CHANGE_ENTITY_REMOVE: {
        const char *id = c->u.entity.id;
        if (!nonempty(id))
            return fail(b, i, c, KG_EINVAL, err, "entity removal without an id");
        if (kg_entity_find(g, id) == KG_NONE && !batch_names(b, i, id))
            return fail(b, i, c, KG_ENOTFOUND, err, "no entity '%s' to remove", id);
        return 0;
    }
    case KG_CHANGE_RELATION_ADD:
    case KG_CHANGE_RELATION_REMOVE: {
        const kg_relation_spec *r = &c->u.relation;
        if (!nonempty(r->subject) || !nonempty(r->object))
            return fail(b, i, c, KG_EINVAL, err, "relation without subject or object");
        if (!nonempty(r->relation))
            return fail(b, i, c, KG_EINVAL, err, "relation without a kind");
        if (!pairs_valid(r->quals, r->n_quals))
            return fail(b, i, c, KG_EINVAL, err, "qualifier without a key");
        if (!pairs_valid(r->prov, r->n_prov))
            return fail(b, i, c, KG_EINVAL, err, "provenance without a key");
        if (c->op == KG_CHANGE_RELATION_REMOVE && !graph_has_relation(g, r) &&
            !batch_has_relation(g, b, i, r))
            return fail(b, i, c, KG_ENOTFOUND, err,
                        "no relation %s -[%s]-> %s to remove", r->subject,
                        r->relation, r->object);
        return 0;
    }
    }
    return fail(b, i, c, KG_EINVAL, err, "unknown change op %d", (int)c->op);
}

/* Remove every relation a RELATION_REMOVE names. */
static int remove_relations(kg_graph *g, const kg_relation_spec *rs)
{
    kg_eid s, o;
    kg_graph_bulk_flush(g); /* the adjacency search needs sorted parts */
    kg_span sp = remove_targets(g, rs, &s, &o);
    if (sp.n == 0)
        return 0;
    kg_rid *victims = malloc(sp.n * sizeof *victims);
    if (!victims)
        return KG_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < sp.n; i++) {
        if (rel_matches(g, sp.ids[i], s, o, rs))
            victims[n++] = sp.ids[i];
    }
    for (size_t i = 0; i < n; i++)
        kg_relation_remove(g, victims[i], NULL);
    free(victims);
    return 0;
}

/* Apply a validated change. Removals of something an earlier change of the
 * same batch already removed are no-ops, so a checked batch fails only on
 * out-of-memory. */
static int apply_checked(kg_graph *g, const kg_batch *b, size_t i,
                         const kg_change *c, kg_error *err)
{
    kg_error e2;
    int rc = 0;
    kg_error_clear(&e2);
    switch (c->op) {
    case KG_CHANGE_ENTITY_ADD:
        rc = kg_entity_add(g, &c->u.entity, NULL, &e2);
        break;
    case KG_CHANGE_ENTITY_REMOVE: {
        kg_eid e = kg_entity_find(g, c->u.entity.id);
        if (e != KG_NONE)
            rc = kg_entity_remove(g, e, &e2);
        break;
    }
    case KG_CHANGE_RELATION_ADD:
        rc = kg_relation_add(g, &c->u.relation, NULL, &e2);
        break;
    case KG_CHANGE_RELATION_REMOVE:
        rc = remove_relations(g, &c->u.relation);
        if (rc)
            kg_error_set(&e2, rc, "out of memory");
        break;
    }
    if (rc < 0)
        return fail(b, i, c, rc, err, "%s", e2.message);
    return 0;
}

int kg_graph_check(const kg_graph *g, const kg_batch *b, kg_error *err)
{
    if (!g || !b)
        return kg_error_set(err, KG_EINVAL, "apply: NULL argument");
    for (size_t i = 0; i < b->n; i++) {
        int rc = check_one(g, b, i, &b->ch[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

/* All or nothing for every input error: the whole batch is checked before
 * the first change is applied. The one non-atomic case is running out of
 * memory in the middle of applying: the changes before the failing one
 * stay applied (the caller should treat the graph as suspect, e.g. rebuild
 * it from the journal). The changes are applied in a bulk scope, so that a
 * batch giving an entity many relations sorts its adjacency once, not once
 * per relation; the scope ends (adjacency sorted) on every return. */
int kg_graph_apply(kg_graph *g, const kg_batch *b, kg_error *err)
{
    kg_graph_bulk_flush(g); /* a caller's scope: the check reads adjacency */
    int rc = kg_graph_check(g, b, err);
    if (rc)
        return rc;
    kg_graph_bulk_begin(g);
    for (size_t i = 0; i < b->n && rc == 0; i++)
        rc = apply_checked(g, b, i, &b->ch[i], err);
    kg_graph_bulk_end(g);
    if (rc == 0)
        kg_error_clear(err);
    return rc;
}

int kg_graph_apply_one(kg_graph *g, const kg_change *c, kg_error *err)
{
    if (!g || !c)
        return kg_error_set(err, KG_EINVAL, "apply: NULL argument");
    kg_graph_bulk_flush(g); /* a caller's scope: the check reads adjacency */
    int rc = check_one(g, NULL, 0, c, err);
    if (rc)
        return rc;
    rc = apply_checked(g, NULL, 0, c, err);
    if (rc == 0)
        kg_error_clear(err);
    return rc;
}
