/* relations.c - kg_query_relations and kg_query_entities. */
#include <stdlib.h>
#include <string.h>

#include "qint.h"

static int rid_cmp(const void *a, const void *b)
{
    kg_rid x = *(const kg_rid *)a, y = *(const kg_rid *)b;
    return x < y ? -1 : x > y;
}

/* Does r pass the qualifier filters? */
static bool where_ok(const kg_graph *g, kg_rid r, const kg_pair *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = kg_relation_qual_get(g, r, w[i].key);
        if (!v)
            return false;
        if (w[i].value && strcmp(v, w[i].value) != 0)
            return false;
    }
    return true;
}

void kg_rid_list_free(kg_rid_list *res)
{
    if (!res)
        return;
    free(res->ids);
    memset(res, 0, sizeof *res);
}

/* Candidates come from one index: the subject's out-adjacency, the
 * object's in-adjacency (the smaller when both are given), or a scan of
 * every relation. Adjacency restricted to a kind and the scan are in
 * handle order, so the collection can stop at limit + 1; adjacency over
 * every kind is in (kind, handle) order and is sorted at the end. */
int kg_query_relations(const kg_graph *g, const kg_relations_query *q,
                       kg_rid_list *res, kg_error *err)
{
    if (!res)
        return kg_error_set(err, KG_EINVAL, "no result");
    memset(res, 0, sizeof *res);
    if (!g || !q)
        return kg_error_set(err, KG_EINVAL, "no graph or query");
    if (q->n_where > KG_QUERY_MAX_QUALS)
        return kg_error_set(err, KG_EINVAL, "more than %d qualifier filters",
                            KG_QUERY_MAX_QUALS);
    for (size_t i = 0; i < q->n_where; i++)
        if (!q->where || !q->where[i].key || !q->where[i].key[0])
            return kg_error_set(err, KG_EINVAL, "empty qualifier key");
    int32_t day;
    int rc = kg_q_as_of(q->opts.as_of, &day, err);
    if (rc)
        return rc;
    kg_eid s = KG_NONE, o = KG_NONE;
    if (q->subject && (rc = kg_q_entity(g, q->subject, "subject", &s, err)))
        return rc;
    if (q->object && (rc = kg_q_entity(g, q->object, "object", &o, err)))
        return rc;
    kg_atom kind = 0;
    if (q->relation && q->relation[0]) {
        kind = kg_atom_find(g, q->relation);
        if (kind == KG_NONE || kind == 0)
            return 0; /* no such kind: nothing matches */
    }

    kg_q_clock clk = {q->opts.deadline, 0};
    kg_span span = {NULL, 0};
    bool scan = false, sorted = true;
    if (s != KG_NONE && o != KG_NONE) {
        kg_span a = kg_adjacent(g, s, KG_OUT, kind);
        kg_span b = kg_adjacent(g, o, KG_IN, kind);
        span = a.n <= b.n ? a : b;
    } else if (s != KG_NONE) {
        span = kg_adjacent(g, s, KG_OUT, kind);
    } else if (o != KG_NONE) {
        span = kg_adjacent(g, o, KG_IN, kind);
    } else {
        scan = true;
    }
    if (!scan && kind == 0)
        sorted = false;

    size_t limit = q->opts.limit;
    size_t cap = 0;
    kg_rid r = scan ? kg_relation_first(g) : KG_NONE;
    size_t pos = 0;
    for (;;) {
        if (scan) {
            if (r == KG_NONE)
                break;
        } else {
            if (pos >= span.n)
                break;
            r = span.ids[pos++];
        }
        if (kg_q_expired(&clk)) {
            kg_rid_list_free(res);
            return kg_error_set(err, KG_ETIMEOUT, "query ran past its deadline");
        }
        bool ok = (kind == 0 || kg_relation_kind_atom(g, r) == kind) &&
                  (s == KG_NONE || kg_relation_subject(g, r) == s) &&
                  (o == KG_NONE || kg_relation_object(g, r) == o) &&
                  (!day || kg_relation_in_force(g, r, day)) &&
                  where_ok(g, r, q->where, q->n_where);
        if (ok) {
            if (sorted && limit && res->n == limit) {
                res->truncated = true;
                break;
            }
            if (kg_q_grow((void **)&res->ids, &cap, res->n, sizeof *res->ids)) {
                kg_rid_list_free(res);
                return kg_error_set(err, KG_ENOMEM, "out of memory");
            }
            res->ids[res->n++] = r;
        }
        if (scan)
            r = kg_relation_next(g, r);
    }
    if (!sorted) {
        if (res->n > 1)
            qsort(res->ids, res->n, sizeof *res->ids, rid_cmp);
        if (limit && res->n > limit) {
            res->n = limit;
            res->truncated = true;
        }
    }
    return 0;
}

/* ---- entities --------------------------------------------------------------- */

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool has_prefix(const char *s, const char *p)
{
    for (; *p; p++, s++)
        if (!*s || fold((unsigned char)*s) != fold((unsigned char)*p))
            return false;
    return true;
}

static int fold_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;
    for (;; x++, y++) {
        unsigned char cx = fold(*x), cy = fold(*y);
        if (cx != cy || !cx)
            return cx < cy ? -1 : cx > cy;
    }
}

/* qsort has no context argument: sort (id string, handle) pairs. */
typedef struct named {
    const char *id;
    kg_eid e;
} named;

static int named_cmp(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = fold_cmp(x->id, y->id);
    if (!c)
        c = strcmp(x->id, y->id);
    return c;
}

void kg_eid_list_free(kg_eid_list *res)
{
    if (!res)
        return;
    free(res->ids);
    memset(res, 0, sizeof *res);
}

int kg_query_entities(const kg_graph *g, const kg_entities_query *q,
                      kg_eid_list *res, kg_error *err)
{
    if (!res)
        return kg_error_set(err, KG_EINVAL, "no result");
    memset(res, 0, sizeof *res);
    if (!g || !q)
        return kg_error_set(err, KG_EINVAL, "no graph or query");
    kg_q_clock clk = {q->opts.deadline, 0};
    const char *prefix = q->prefix && q->prefix[0] ? q->prefix : NULL;
    named *all = NULL;
    size_t n = 0, cap = 0;
    kg_span kind_span = {NULL, 0};
    bool by_kind = q->kind != NULL;
    if (by_kind)
        kind_span = kg_entities_of_kind(g, q->kind);
    size_t pos = 0;
    kg_eid e = by_kind ? KG_NONE : kg_entity_first(g);
    for (;;) {
        if (by_kind) {
            if (pos >= kind_span.n)
                break;
            e = kind_span.ids[pos++];
        } else if (e == KG_NONE) {
            break;
        }
        if (kg_q_expired(&clk)) {
            free(all);
            return kg_error_set(err, KG_ETIMEOUT, "query ran past its deadline");
        }
        bool ok = !prefix || has_prefix(kg_entity_id(g, e), prefix);
        for (size_t i = 0; !ok && i < kg_entity_alias_count(g, e); i++)
            ok = has_prefix(kg_entity_alias(g, e, i), prefix);
        if (ok) {
            if (kg_q_grow((void **)&all, &cap, n, sizeof *all)) {
                free(all);
                return kg_error_set(err, KG_ENOMEM, "out of memory");
            }
            all[n].id = kg_entity_id(g, e);
            all[n++].e = e;
        }
        if (!by_kind)
            e = kg_entity_next(g, e);
    }
    if (n > 1)
        qsort(all, n, sizeof *all, named_cmp);
    res->total = n;
    size_t from = q->offset < n ? q->offset : n;
    size_t take = n - from;
    if (q->opts.limit && take > q->opts.limit)
        take = q->opts.limit;
    if (take) {
        res->ids = malloc(take * sizeof *res->ids);
        if (!res->ids) {
            free(all);
            memset(res, 0, sizeof *res);
            return kg_error_set(err, KG_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < take; i++)
            res->ids[i] = all[from + i].e;
    }
    res->n = take;
    res->truncated = from + take < n;
    free(all);
    return 0;
}
