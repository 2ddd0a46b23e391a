/* typed.c - one call per kgd operation, shaped like include/kg/query.h
 * (include/kg/client.h). Requests are built as kg_value maps; replies are
 * loaded into the caller's local graph so that code written for local
 * query results (the kg printers) works on server results unchanged. */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

/* ---- small helpers --------------------------------------------------------- */

static int nomem(kg_error *err)
{
    return kg_error_set(err, KG_ENOMEM, "out of memory");
}

/* A reply that does not have the shape the protocol promises. */
static int bad_reply(kg_error *err, const char *op, const char *what)
{
    return kg_error_set(err, KG_EIO, "malformed %s reply: %s", op, what);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int get_u64(const kg_value *v, uint64_t *out)
{
    int64_t i;
    if (v && v->type == KG_VAL_UINT) {
        *out = v->u.u;
        return 0;
    }
    if (kg_value_get_int(v, &i) != 0 || i < 0)
        return KG_EINVAL;
    *out = (uint64_t)i;
    return 0;
}

static bool get_flag(const kg_value *map, const char *key)
{
    bool b = false;
    kg_value_get_bool(kg_value_get(map, key), &b);
    return b;
}

static const char *dir_name(kg_dir d)
{
    switch (d) {
    case KG_OUT: return "out";
    case KG_IN: return "in";
    case KG_BOTH: return "both";
    }
    return NULL;
}

/* An array of strings, or NULL on OOM. */
static kg_value *str_array(const char *const *v, size_t n)
{
    kg_value *a = kg_value_new_array();
    for (size_t i = 0; a && i < n; i++) {
        kg_value *s = kg_value_new_str(v[i]);
        if (!s || kg_value_array_push(a, s) != 0)
            kg_value_destroy(&a);
    }
    return a;
}

/* A map of pairs (a NULL value is sent as nil), or NULL on OOM. */
static kg_value *pair_map(const kg_pair *p, size_t n)
{
    kg_value *m = kg_value_new_map();
    for (size_t i = 0; m && i < n; i++) {
        kg_value *v = p[i].value ? kg_value_new_str(p[i].value) : kg_value_new_nil();
        if (!v || kg_value_map_set(m, p[i].key ? p[i].key : "", v) != 0)
            kg_value_destroy(&m);
    }
    return m;
}

static int set_value(kg_value *map, const char *key, kg_value *v)
{
    return v ? kg_value_map_set(map, key, v) : KG_ENOMEM;
}

/* as_of and limit of the common options. */
static int set_opts(kg_value *req, const kg_query_opts *o, bool limit)
{
    int rc = kg_cl_set_str(req, "as_of", o->as_of);
    if (!rc && limit && o->limit)
        rc = kg_cl_set_int(req, "limit", o->limit > INT64_MAX ? INT64_MAX
                                                             : (int64_t)o->limit);
    return rc;
}

/* Send req (consumed) and get the reply; see kg_client_request. */
static int send_req(kg_client *c, kg_value *req, int build_rc, kg_value **rep,
                    const kg_value **res, kg_error *err)
{
    *rep = NULL;
    int rc = build_rc || !req ? nomem(err)
                              : kg_client_request(c, req, rep, res, err);
    kg_value_destroy(&req);
    return rc;
}

/* A {kind: count} map -> owned array. */
static int kind_counts(const kg_value *m, kg_kind_count **out, size_t *n,
                       const char *op, kg_error *err)
{
    *out = NULL;
    *n = 0;
    if (!m)
        return 0;
    if (m->type != KG_VAL_MAP)
        return bad_reply(err, op, "counts by kind are not a map");
    size_t k = kg_value_len(m);
    if (k == 0)
        return 0;
    kg_kind_count *a = calloc(k, sizeof *a);
    if (!a)
        return nomem(err);
    for (size_t i = 0; i < k; i++) {
        const kg_kv *kv = kg_value_entry(m, i);
        if (get_u64(&kv->value, &a[i].count) != 0) {
            for (size_t j = 0; j < i; j++)
                free(a[j].kind);
            free(a);
            return bad_reply(err, op, "a count is not an integer");
        }
        if (!(a[i].kind = dup_str(kv->key))) {
            for (size_t j = 0; j < i; j++)
                free(a[j].kind);
            free(a);
            return nomem(err);
        }
    }
    *out = a;
    *n = k;
    return 0;
}

static void kind_counts_free(kg_kind_count **a, size_t *n)
{
    for (size_t i = 0; *a && i < *n; i++)
        free((*a)[i].kind);
    free(*a);
    *a = NULL;
    *n = 0;
}

/* ---- loading reply objects into a local graph ------------------------------- */

/* An entity object (id, kind, aliases, attributes; other keys such as the
 * entity op's "out"/"in" are not part of the entity) -> g. */
static int load_entity(kg_graph *g, const kg_value *v, kg_eid *out,
                       const char *op, kg_error *err)
{
    const char *id = kg_value_cstr(kg_value_get(v, "id"));
    if (!id || !id[0])
        return bad_reply(err, op, "an entity has no id");
    kg_entity_spec spec = {.id = id, .kind = kg_value_cstr(kg_value_get(v, "kind"))};
    const kg_value *al = kg_value_get(v, "aliases");
    const kg_value *at = kg_value_get(v, "attributes");
    size_t na = al && al->type == KG_VAL_ARRAY ? kg_value_len(al) : 0;
    size_t nt = at && at->type == KG_VAL_MAP ? kg_value_len(at) : 0;
    const char **aliases = calloc(na + 1, sizeof *aliases);
    kg_pair *attrs = calloc(nt + 1, sizeof *attrs);
    int rc = 0;
    if (!aliases || !attrs) {
        rc = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < na; i++)
        if (!(aliases[spec.n_aliases] = kg_value_cstr(kg_value_at(al, i)))) {
            rc = bad_reply(err, op, "an alias is not a string");
            goto out;
        } else {
            spec.n_aliases++;
        }
    for (size_t i = 0; i < nt; i++) {
        const kg_kv *kv = kg_value_entry(at, i);
        attrs[i].key = kv->key;
        if (!(attrs[i].value = kg_value_cstr(&kv->value))) {
            rc = bad_reply(err, op, "an attribute is not a string");
            goto out;
        }
    }
    spec.aliases = aliases;
    spec.attrs = attrs;
    spec.n_attrs = nt;
    rc = kg_entity_add(g, &spec, out, err);
    if (rc > 0)
        rc = 0;
out:
    free(aliases);
    free(attrs);
    return rc;
}

/* A relation object -> g, through the protocol's own shape parser. */
static int load_relation(kg_graph *g, const kg_value *v, kg_batch *scratch,
                         kg_rid *out, const char *op, kg_error *err)
{
    kg_batch_clear(scratch);
    kg_error perr;
    int rc = kg_proto_relation_to_batch(v, false, scratch, "relation", &perr);
    if (rc == KG_ENOMEM)
        return nomem(err);
    if (rc)
        return bad_reply(err, op, perr.message);
    rc = kg_relation_add(g, &kg_batch_get(scratch, 0)->u.relation, out, err);
    return rc > 0 ? 0 : rc;
}

/* The result's key as an array (absent = empty), or NULL for a wrong
 * type. */
static const kg_value *array_of(const kg_value *res, const char *key,
                                bool *bad)
{
    const kg_value *a = kg_value_get(res, key);
    *bad = a && a->type != KG_VAL_ARRAY && a->type != KG_VAL_NIL;
    return a && a->type == KG_VAL_ARRAY ? a : NULL;
}

/* ---- ping, stats ------------------------------------------------------------- */

int kg_client_ping(kg_client *c, char **version, kg_error *err)
{
    if (version)
        *version = NULL;
    kg_value *rep;
    const kg_value *res;
    int rc = send_req(c, kg_cl_request_new("ping"), 0, &rep, &res, err);
    if (rc)
        return rc;
    if (!get_flag(res, "pong"))
        rc = bad_reply(err, "ping", "no pong");
    else if (version) {
        const char *v = kg_value_cstr(kg_value_get(res, "version"));
        if (!(*version = dup_str(v ? v : "")))
            rc = nomem(err);
    }
    kg_value_destroy(&rep);
    return rc;
}

void kg_client_stats_free(kg_client_stats *st)
{
    if (!st)
        return;
    kind_counts_free(&st->entity_kinds, &st->n_entity_kinds);
    kind_counts_free(&st->relation_kinds, &st->n_relation_kinds);
    kg_value_destroy(&st->result);
    memset(st, 0, sizeof *st);
}

int kg_client_stats_get(kg_client *c, kg_client_stats *st, kg_error *err)
{
    memset(st, 0, sizeof *st);
    kg_value *rep;
    const kg_value *res;
    int rc = send_req(c, kg_cl_request_new("stats"), 0, &rep, &res, err);
    if (rc)
        return rc;
    if (get_u64(kg_value_get(res, "entities"), &st->entities) ||
        get_u64(kg_value_get(res, "relations"), &st->relations)) {
        rc = bad_reply(err, "stats", "no entity or relation count");
        goto out;
    }
    get_u64(kg_value_get(res, "memory_bytes"), &st->memory_bytes);
    kg_value_get_float(kg_value_get(res, "uptime_s"), &st->uptime_s);
    get_u64(kg_value_get(kg_value_get(res, "requests"), "total"),
            &st->requests_total);
    get_u64(kg_value_get(kg_value_get(res, "journal"), "seq"), &st->journal_seq);
    if ((rc = kind_counts(kg_value_get(res, "entity_kinds"), &st->entity_kinds,
                          &st->n_entity_kinds, "stats", err)) ||
        (rc = kind_counts(kg_value_get(res, "relation_kinds"),
                          &st->relation_kinds, &st->n_relation_kinds, "stats",
                          err)))
        goto out;
    if (!(st->result = kg_value_clone(res)))
        rc = nomem(err);
out:
    kg_value_destroy(&rep);
    if (rc)
        kg_client_stats_free(st);
    return rc;
}

/* ---- entity, entities ---------------------------------------------------------- */

void kg_client_entity_info_free(kg_client_entity_info *res)
{
    if (!res)
        return;
    kind_counts_free(&res->out, &res->n_out);
    kind_counts_free(&res->in, &res->n_in);
    res->entity = KG_NONE;
}

int kg_client_entity(kg_client *c, const char *name, const char *as_of,
                     kg_graph *g, kg_client_entity_info *res, kg_error *err)
{
    memset(res, 0, sizeof *res);
    res->entity = KG_NONE;
    if (!name || !g)
        return kg_error_set(err, KG_EINVAL, "entity: no name or graph");
    kg_value *req = kg_cl_request_new("entity"), *rep;
    const kg_value *r;
    int brc = req ? kg_cl_set_str(req, "name", name) : 0;
    if (!brc && req)
        brc = kg_cl_set_str(req, "as_of", as_of);
    int rc = send_req(c, req, brc, &rep, &r, err);
    if (rc)
        return rc;
    if ((rc = load_entity(g, r, &res->entity, "entity", err)) ||
        (rc = kind_counts(kg_value_get(r, "out"), &res->out, &res->n_out,
                          "entity", err)) ||
        (rc = kind_counts(kg_value_get(r, "in"), &res->in, &res->n_in,
                          "entity", err)))
        kg_client_entity_info_free(res);
    kg_value_destroy(&rep);
    return rc;
}

int kg_client_entities(kg_client *c, const kg_entities_query *q, kg_graph *g,
                       kg_eid_list *res, kg_error *err)
{
    memset(res, 0, sizeof *res);
    if (!q || !g)
        return kg_error_set(err, KG_EINVAL, "entities: no query or graph");
    kg_value *req = kg_cl_request_new("entities"), *rep;
    const kg_value *r;
    int brc = 0;
    if (req) {
        brc = kg_cl_set_str(req, "kind", q->kind);
        if (!brc && q->prefix && q->prefix[0])
            brc = kg_cl_set_str(req, "prefix", q->prefix);
        if (!brc && q->offset)
            brc = kg_cl_set_int(req, "offset", (int64_t)q->offset);
        if (!brc)
            brc = set_opts(req, &q->opts, true);
    }
    int rc = send_req(c, req, brc, &rep, &r, err);
    if (rc)
        return rc;
    bool bad;
    const kg_value *a = array_of(r, "entities", &bad);
    size_t n = kg_value_len(a);
    uint64_t total = 0;
    if (bad || get_u64(kg_value_get(r, "total"), &total)) {
        rc = bad_reply(err, "entities", "no entities array or total");
        goto out;
    }
    res->total = (size_t)total;
    res->truncated = get_flag(r, "truncated");
    if (n && !(res->ids = calloc(n, sizeof *res->ids))) {
        rc = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = load_entity(g, kg_value_at(a, i), &res->ids[i], "entities",
                              err)))
            goto out;
        res->n++;
    }
out:
    kg_value_destroy(&rep);
    if (rc)
        kg_eid_list_free(res);
    return rc;
}

/* ---- relations, neighbors -------------------------------------------------------- */

int kg_client_relations(kg_client *c, const kg_relations_query *q,
                        kg_graph *g, kg_rid_list *res, kg_error *err)
{
    memset(res, 0, sizeof *res);
    if (!q || !g)
        return kg_error_set(err, KG_EINVAL, "relations: no query or graph");
    kg_value *req = kg_cl_request_new("relations"), *rep;
    const kg_value *r;
    int brc = 0;
    if (req) {
        if (!brc)
            brc = kg_cl_set_str(req, "subject", q->subject);
        if (!brc)
            brc = kg_cl_set_str(req, "relation", q->relation);
        if (!brc)
            brc = kg_cl_set_str(req, "object", q->object);
        if (!brc && q->n_where)
            brc = set_value(req, "where", pair_map(q->where, q->n_where));
        if (!brc)
            brc = set_opts(req, &q->opts, true);
    }
    int rc = send_req(c, req, brc, &rep, &r, err);
    if (rc)
        return rc;
    bool bad;
    const kg_value *a = array_of(r, "relations", &bad);
    size_t n = kg_value_len(a);
    kg_batch *b = kg_batch_new();
    if (bad) {
        rc = bad_reply(err, "relations", "relations is not an array");
        goto out;
    }
    if (!b || (n && !(res->ids = calloc(n, sizeof *res->ids)))) {
        rc = nomem(err);
        goto out;
    }
    res->truncated = get_flag(r, "truncated");
    for (size_t i = 0; i < n; i++) {
        if ((rc = load_relation(g, kg_value_at(a, i), b, &res->ids[i],
                                "relations", err)))
            goto out;
        res->n++;
    }
out:
    kg_batch_destroy(&b);
    kg_value_destroy(&rep);
    if (rc)
        kg_rid_list_free(res);
    return rc;
}

int kg_client_neighbors(kg_client *c, const kg_neighbors_query *q,
                        kg_graph *g, kg_neighbor_list *res, kg_error *err)
{
    memset(res, 0, sizeof *res);
    if (!q || !g || !q->entity)
        return kg_error_set(err, KG_EINVAL, "neighbors: no query, entity or graph");
    kg_value *req = kg_cl_request_new("neighbors"), *rep;
    const kg_value *r;
    int brc = 0;
    if (req) {
        brc = kg_cl_set_str(req, "entity", q->entity);
        if (!brc)
            brc = kg_cl_set_str(req, "direction", dir_name(q->dir));
        if (!brc && q->n_relations)
            brc = set_value(req, "relations", str_array(q->relations, q->n_relations));
        if (!brc && q->opts.max_depth)
            brc = kg_cl_set_int(req, "depth", q->opts.max_depth);
        if (!brc)
            brc = set_opts(req, &q->opts, true);
    }
    int rc = send_req(c, req, brc, &rep, &r, err);
    if (rc)
        return rc;
    bool bad;
    const kg_value *a = array_of(r, "neighbors", &bad);
    size_t n = kg_value_len(a);
    kg_batch *b = kg_batch_new();
    if (bad) {
        rc = bad_reply(err, "neighbors", "neighbors is not an array");
        goto out;
    }
    if (!b || (n && !(res->items = calloc(n, sizeof *res->items)))) {
        rc = nomem(err);
        goto out;
    }
    res->truncated = get_flag(r, "truncated");
    for (size_t i = 0; i < n; i++) {
        const kg_value *it = kg_value_at(a, i);
        kg_neighbor *nb = &res->items[i];
        const char *name = kg_value_cstr(kg_value_get(it, "entity"));
        uint64_t depth;
        if (!name || get_u64(kg_value_get(it, "depth"), &depth) || depth > UINT32_MAX) {
            rc = bad_reply(err, "neighbors", "an item has no entity or depth");
            goto out;
        }
        kg_entity_spec spec = {.id = name,
                               .kind = kg_value_cstr(kg_value_get(it, "kind"))};
        if ((rc = load_relation(g, kg_value_get(it, "via"), b, &nb->via,
                                "neighbors", err)) ||
            (rc = kg_entity_add(g, &spec, &nb->entity, err)) < 0)
            goto out;
        rc = 0;
        nb->depth = (unsigned)depth;
        kg_eid s = kg_relation_subject(g, nb->via), o = kg_relation_object(g, nb->via);
        /* Reached along via: forwards when it is via's object. */
        nb->dir = o == nb->entity && s != nb->entity ? KG_OUT : KG_IN;
        nb->from = nb->dir == KG_OUT ? s : o;
        res->n++;
    }
out:
    kg_batch_destroy(&b);
    kg_value_destroy(&rep);
    if (rc)
        kg_neighbor_list_free(res);
    return rc;
}

/* ---- path ------------------------------------------------------------------------ */

/* The local entity for name: already in g by its id, or asked from the
 * server (which also resolves aliases) and added. */
static int resolve(kg_client *c, kg_graph *g, const char *name, kg_eid *out,
                   kg_error *err)
{
    if ((*out = kg_entity_by_id(g, name)) != KG_NONE)
        return 0;
    kg_client_entity_info info;
    int rc = kg_client_entity(c, name, NULL, g, &info, err);
    *out = info.entity;
    kg_client_entity_info_free(&info);
    return rc;
}

int kg_client_path(kg_client *c, const kg_path_query *q, kg_graph *g,
                   kg_path_list *res, kg_eid *from, kg_eid *to, kg_error *err)
{
    memset(res, 0, sizeof *res);
    if (from)
        *from = KG_NONE;
    if (to)
        *to = KG_NONE;
    if (!q || !g || !q->from || !q->to)
        return kg_error_set(err, KG_EINVAL, "path: no query, ends or graph");
    kg_value *req = kg_cl_request_new("path"), *rep;
    const kg_value *r;
    int brc = 0;
    if (req) {
        brc = kg_cl_set_str(req, "from", q->from);
        if (!brc)
            brc = kg_cl_set_str(req, "to", q->to);
        if (!brc)
            brc = kg_cl_set_str(req, "direction", dir_name(q->dir));
        if (!brc && q->n_relations)
            brc = set_value(req, "relations", str_array(q->relations, q->n_relations));
        if (!brc && q->opts.max_depth)
            brc = kg_cl_set_int(req, "max_length", q->opts.max_depth);
        if (!brc && q->all)
            brc = kg_cl_set_bool(req, "all", true);
        if (!brc)
            brc = set_opts(req, &q->opts, true);
    }
    int rc = send_req(c, req, brc, &rep, &r, err);
    if (rc)
        return rc;
    bool bad;
    const kg_value *a = array_of(r, "paths", &bad);
    size_t n = kg_value_len(a);
    kg_batch *b = kg_batch_new();
    kg_eid f = KG_NONE, t = KG_NONE;
    if (bad) {
        rc = bad_reply(err, "path", "paths is not an array");
        goto out;
    }
    if (!b || (n && !(res->paths = calloc(n, sizeof *res->paths)))) {
        rc = nomem(err);
        goto out;
    }
    res->truncated = get_flag(r, "truncated");
    for (size_t p = 0; p < n; p++) {
        const kg_value *pv = kg_value_at(a, p);
        size_t len = kg_value_len(pv);
        if (!pv || pv->type != KG_VAL_ARRAY) {
            rc = bad_reply(err, "path", "a path is not an array");
            goto out;
        }
        kg_path *path = &res->paths[p];
        if (len && !(path->steps = calloc(len, sizeof *path->steps))) {
            rc = nomem(err);
            goto out;
        }
        res->n++;
        for (size_t i = 0; i < len; i++) {
            if ((rc = load_relation(g, kg_value_at(pv, i), b, &path->steps[i].rel,
                                    "path", err)))
                goto out;
            path->n++;
        }
    }
    /* The ends, by canonical id (the request may have used aliases); then
     * each step's direction by walking from `from`. */
    if ((rc = resolve(c, g, q->from, &f, err)) || (rc = resolve(c, g, q->to, &t, err)))
        goto out;
    for (size_t p = 0; p < res->n; p++) {
        kg_eid at = f;
        for (size_t i = 0; i < res->paths[p].n; i++) {
            kg_path_step *s = &res->paths[p].steps[i];
            kg_eid su = kg_relation_subject(g, s->rel), ob = kg_relation_object(g, s->rel);
            if (su == at) {
                s->dir = KG_OUT;
                at = ob;
            } else if (ob == at) {
                s->dir = KG_IN;
                at = su;
            } else {
                rc = bad_reply(err, "path", "the relations of a path do not chain");
                goto out;
            }
        }
    }
out:
    kg_batch_destroy(&b);
    kg_value_destroy(&rep);
    if (rc)
        kg_path_list_free(res);
    else {
        if (from)
            *from = f;
        if (to)
            *to = t;
    }
    return rc;
}

/* ---- match ----------------------------------------------------------------------- */

static kg_value *pattern_value(const kg_match_pattern *p)
{
    kg_value *a = kg_value_new_array();
    const char *terms[3] = {p->subject, p->relation, p->object};
    for (size_t i = 0; a && i < 3; i++) {
        kg_value *s = kg_value_new_str(terms[i]);
        if (!s || kg_value_array_push(a, s) != 0)
            kg_value_destroy(&a);
    }
    if (a && p->n_quals) {
        kg_value *m = pair_map(p->quals, p->n_quals);
        if (!m || kg_value_array_push(a, m) != 0)
            kg_value_destroy(&a);
    }
    return a;
}

int kg_client_match(kg_client *c, const kg_match_query *q, kg_match_result *res,
                    kg_error *err)
{
    memset(res, 0, sizeof *res);
    if (!q)
        return kg_error_set(err, KG_EINVAL, "match: no query");
    kg_value *req = kg_cl_request_new("match"), *rep;
    const kg_value *r;
    int brc = 0;
    if (req) {
        kg_value *pats = kg_value_new_array();
        for (size_t i = 0; pats && i < q->n_patterns; i++) {
            kg_value *p = pattern_value(&q->patterns[i]);
            if (!p || kg_value_array_push(pats, p) != 0)
                kg_value_destroy(&pats);
        }
        brc = set_value(req, "patterns", pats);
        if (!brc)
            brc = set_opts(req, &q->opts, true);
    }
    int rc = send_req(c, req, brc, &rep, &r, err);
    if (rc)
        return rc;
    bool bad1, bad2, bad3, bad4;
    const kg_value *vars = array_of(r, "variables", &bad1);
    const kg_value *rows = array_of(r, "rows", &bad2);
    const kg_value *plan = array_of(r, "plan", &bad3);
    /* "estimates" (one per plan step) is optional: older servers omit it. */
    const kg_value *est = array_of(r, "estimates", &bad4);
    size_t nv = kg_value_len(vars), nr = kg_value_len(rows), np = kg_value_len(plan);
    if (bad1 || bad2 || bad3 || bad4 || (est && kg_value_len(est) != np)) {
        rc = bad_reply(err, "match", "variables, rows, plan or estimates is not an "
                       "array of the right length");
        goto out;
    }
    if ((nv && !(res->vars = calloc(nv, sizeof *res->vars))) ||
        (nv && nr && !(res->cells = calloc(nv * nr, sizeof *res->cells))) ||
        (np && !(res->plan = calloc(np, sizeof *res->plan)))) {
        rc = nomem(err);
        goto out;
    }
    res->truncated = get_flag(r, "truncated");
    /* n_vars and n_rows only grow once their strings are there, so that
     * kg_match_result_free frees exactly what was allocated. */
    for (size_t i = 0; i < nv; i++) {
        const char *v = kg_value_cstr(kg_value_at(vars, i));
        if (!v) {
            rc = bad_reply(err, "match", "a variable is not a string");
            goto out;
        }
        if (!(res->vars[i] = dup_str(v[0] == '?' ? v + 1 : v))) {
            rc = nomem(err);
            goto out;
        }
        res->n_vars++;
    }
    for (size_t i = 0; i < nr; i++) {
        const kg_value *row = kg_value_at(rows, i);
        if (kg_value_type_of(row) != KG_VAL_ARRAY || kg_value_len(row) != nv) {
            rc = bad_reply(err, "match", "a row does not have one cell per variable");
            goto out;
        }
        res->n_rows++;
        for (size_t k = 0; k < nv; k++) {
            const kg_value *cell = kg_value_at(row, k);
            const char *s = kg_value_cstr(cell);
            if (!s && kg_value_type_of(cell) != KG_VAL_NIL) {
                rc = bad_reply(err, "match", "a cell is not a string");
                goto out;
            }
            if (!(res->cells[i * nv + k] = dup_str(s ? s : ""))) {
                rc = nomem(err);
                goto out;
            }
        }
    }
    for (size_t i = 0; i < np; i++) {
        uint64_t k;
        if (get_u64(kg_value_at(plan, i), &k) || k >= q->n_patterns) {
            rc = bad_reply(err, "match", "a plan step is not a pattern index");
            goto out;
        }
        res->plan[i].pattern = (size_t)k;
        res->plan[i].estimate = 0;
        if (est && kg_value_get_float(kg_value_at(est, i), &res->plan[i].estimate) != 0) {
            rc = bad_reply(err, "match", "an estimate is not a number");
            goto out;
        }
        res->n_plan++;
    }
out:
    kg_value_destroy(&rep);
    if (rc)
        kg_match_result_free(res);
    return rc;
}

/* ---- subgraph, export ------------------------------------------------------------- */

static kg_value *subgraph_request(const kg_subgraph_query *q, const char *format)
{
    kg_value *req = kg_cl_request_new("subgraph");
    if (!req)
        return NULL;
    int rc = set_value(req, "seeds", str_array(q->seeds, q->n_seeds));
    if (!rc && q->n_relations)
        rc = set_value(req, "relations", str_array(q->relations, q->n_relations));
    if (!rc)
        rc = kg_cl_set_str(req, "direction", dir_name(q->dir));
    if (!rc && q->opts.max_depth)
        rc = kg_cl_set_int(req, "depth", q->opts.max_depth);
    if (!rc)
        rc = kg_cl_set_str(req, "format", format);
    if (!rc)
        rc = set_opts(req, &q->opts, true);
    if (rc)
        kg_value_destroy(&req);
    return req;
}

int kg_client_subgraph(kg_client *c, const kg_subgraph_query *q,
                       kg_subgraph *res, kg_error *err)
{
    memset(res, 0, sizeof *res);
    if (!q)
        return kg_error_set(err, KG_EINVAL, "subgraph: no query");
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, subgraph_request(q, "graph"), 0, &rep, &r, err);
    if (rc)
        return rc;
    bool bad1, bad2;
    const kg_value *ents = array_of(r, "entities", &bad1);
    const kg_value *rels = array_of(r, "relations", &bad2);
    kg_batch *b = kg_batch_new();
    res->graph = kg_graph_new();
    if (bad1 || bad2) {
        rc = bad_reply(err, "subgraph", "entities or relations is not an array");
        goto out;
    }
    if (!b || !res->graph) {
        rc = nomem(err);
        goto out;
    }
    res->truncated = get_flag(r, "truncated");
    for (size_t i = 0; i < kg_value_len(ents); i++)
        if ((rc = load_entity(res->graph, kg_value_at(ents, i), NULL, "subgraph", err)))
            goto out;
    for (size_t i = 0; i < kg_value_len(rels); i++)
        if ((rc = load_relation(res->graph, kg_value_at(rels, i), b, NULL,
                                "subgraph", err)))
            goto out;
out:
    kg_batch_destroy(&b);
    kg_value_destroy(&rep);
    if (rc)
        kg_subgraph_free(res);
    return rc;
}

/* {"format": ..., "text": ...} -> an owned copy of the text. */
static int take_text(kg_value *rep, const kg_value *r, const char *op,
                     char **text, size_t *len, kg_error *err)
{
    size_t n;
    const char *s = kg_value_str(kg_value_get(r, "text"), &n);
    int rc = 0;
    if (!s)
        rc = bad_reply(err, op, "no text");
    else if (!(*text = malloc(n + 1)))
        rc = nomem(err);
    else {
        memcpy(*text, s, n);
        (*text)[n] = '\0';
        if (len)
            *len = n;
    }
    kg_value_destroy(&rep);
    return rc;
}

int kg_client_subgraph_text(kg_client *c, const kg_subgraph_query *q,
                            const char *format, char **text, size_t *len,
                            kg_error *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    if (!q || !format)
        return kg_error_set(err, KG_EINVAL, "subgraph: no query or format");
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, subgraph_request(q, format), 0, &rep, &r, err);
    return rc ? rc : take_text(rep, r, "subgraph", text, len, err);
}

int kg_client_export(kg_client *c, const char *format, const char *as_of,
                     char **text, size_t *len, kg_error *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    kg_value *req = kg_cl_request_new("export"), *rep;
    const kg_value *r;
    int brc = req ? kg_cl_set_str(req, "format", format) : 0;
    if (!brc && req)
        brc = kg_cl_set_str(req, "as_of", as_of);
    int rc = send_req(c, req, brc, &rep, &r, err);
    return rc ? rc : take_text(rep, r, "export", text, len, err);
}

/* ---- add, remove, extract ------------------------------------------------------------ */

static kg_value *entity_value(const kg_entity_spec *s)
{
    kg_value *m = kg_value_new_map();
    if (!m)
        return NULL;
    int rc = kg_cl_set_str(m, "id", s->id);
    if (!rc && s->kind)
        rc = kg_cl_set_str(m, "kind", s->kind);
    if (!rc && s->n_aliases)
        rc = set_value(m, "aliases", str_array(s->aliases, s->n_aliases));
    if (!rc && s->n_attrs)
        rc = set_value(m, "attributes", pair_map(s->attrs, s->n_attrs));
    if (rc)
        kg_value_destroy(&m);
    return m;
}

static kg_value *relation_value(const kg_relation_spec *s, bool prov)
{
    kg_value *m = kg_value_new_map();
    if (!m)
        return NULL;
    int rc = kg_cl_set_str(m, "subject", s->subject ? s->subject : "");
    if (!rc)
        rc = kg_cl_set_str(m, "relation", s->relation ? s->relation : "");
    if (!rc)
        rc = kg_cl_set_str(m, "object", s->object ? s->object : "");
    if (!rc && s->n_quals)
        rc = set_value(m, "qualifiers", pair_map(s->quals, s->n_quals));
    if (!rc && prov && s->n_prov)
        rc = set_value(m, "provenance", pair_map(s->prov, s->n_prov));
    if (rc)
        kg_value_destroy(&m);
    return m;
}

/* An add (remove = false) or remove request from a batch. */
static int write_request(const kg_batch *b, bool remove, kg_value **out,
                         kg_error *err)
{
    *out = NULL;
    kg_value *req = kg_cl_request_new(remove ? "remove" : "add");
    kg_value *ents = kg_value_new_array(), *rels = kg_value_new_array();
    int rc = req && ents && rels ? 0 : KG_ENOMEM;
    for (size_t i = 0; !rc && i < kg_batch_count(b); i++) {
        const kg_change *ch = kg_batch_get(b, i);
        kg_value *v = NULL, *into = NULL;
        if (!remove && ch->op == KG_CHANGE_ENTITY_ADD) {
            v = entity_value(&ch->u.entity);
            into = ents;
        } else if (!remove && ch->op == KG_CHANGE_RELATION_ADD) {
            v = relation_value(&ch->u.relation, true);
            into = rels;
        } else if (remove && ch->op == KG_CHANGE_ENTITY_REMOVE) {
            v = kg_value_new_str(ch->u.entity.id);
            into = ents;
        } else if (remove && ch->op == KG_CHANGE_RELATION_REMOVE) {
            v = relation_value(&ch->u.relation, false);
            into = rels;
        } else {
            rc = kg_error_set(err, KG_EINVAL, "%s: change %zu is not an %s",
                              remove ? "remove" : "add", i,
                              remove ? "entity or relation removal"
                                     : "entity or relation addition");
            break;
        }
        rc = v ? kg_value_array_push(into, v) : KG_ENOMEM;
    }
    if (!rc && kg_value_len(ents)) {
        rc = kg_value_map_set(req, "entities", ents);
        ents = NULL;
    }
    if (!rc && kg_value_len(rels)) {
        rc = kg_value_map_set(req, "relations", rels);
        rels = NULL;
    }
    kg_value_destroy(&ents);
    kg_value_destroy(&rels);
    if (rc) {
        kg_value_destroy(&req);
        return rc == KG_ENOMEM ? nomem(err) : rc;
    }
    *out = req;
    return 0;
}

static int write_call(kg_client *c, const kg_batch *b, bool remove,
                      kg_client_write_result *res, kg_error *err)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (!b)
        return kg_error_set(err, KG_EINVAL, "no batch");
    kg_value *req, *rep;
    const kg_value *r;
    int rc = write_request(b, remove, &req, err);
    if (rc)
        return rc;
    rc = kg_client_request(c, req, &rep, &r, err);
    kg_value_destroy(&req);
    if (rc)
        return rc;
    if (res) {
        get_u64(kg_value_get(r, "entities_added"), &res->entities_added);
        get_u64(kg_value_get(r, "entities_merged"), &res->entities_merged);
        get_u64(kg_value_get(r, "relations_added"), &res->relations_added);
        get_u64(kg_value_get(r, "relations_existing"), &res->relations_existing);
        get_u64(kg_value_get(r, "entities_removed"), &res->entities_removed);
        get_u64(kg_value_get(r, "relations_removed"), &res->relations_removed);
        get_u64(kg_value_get(r, "seq"), &res->seq);
    }
    kg_value_destroy(&rep);
    return 0;
}

int kg_client_add(kg_client *c, const kg_batch *b, kg_client_write_result *res,
                  kg_error *err)
{
    return write_call(c, b, false, res, err);
}

int kg_client_remove(kg_client *c, const kg_batch *b,
                     kg_client_write_result *res, kg_error *err)
{
    return write_call(c, b, true, res, err);
}

int kg_client_extract(kg_client *c, const char *text, const char *source,
                      const char *date, bool commit, kg_batch *out,
                      bool *committed, uint64_t *seq, kg_error *err)
{
    if (committed)
        *committed = false;
    if (seq)
        *seq = 0;
    if (!text || !out)
        return kg_error_set(err, KG_EINVAL, "extract: no text or batch");
    kg_value *req = kg_cl_request_new("extract"), *rep;
    const kg_value *r;
    int brc = 0;
    if (req) {
        brc = kg_cl_set_str(req, "text", text);
        if (!brc)
            brc = kg_cl_set_str(req, "source", source);
        if (!brc)
            brc = kg_cl_set_str(req, "date", date);
        if (!brc && commit)
            brc = kg_cl_set_bool(req, "commit", true);
    }
    int rc = send_req(c, req, brc, &rep, &r, err);
    if (rc)
        return rc;
    kg_error perr;
    rc = kg_proto_request_to_batch(r, false, out, &perr);
    if (rc == KG_ENOMEM)
        rc = nomem(err);
    else if (rc)
        rc = bad_reply(err, "extract", perr.message);
    else {
        if (committed)
            *committed = get_flag(r, "committed");
        if (seq)
            get_u64(kg_value_get(r, "seq"), seq);
    }
    kg_value_destroy(&rep);
    return rc;
}

/* ---- snapshot, reload ------------------------------------------------------------------ */

int kg_client_snapshot(kg_client *c, kg_client_snapshot_info *info, kg_error *err)
{
    memset(info, 0, sizeof *info);
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, kg_cl_request_new("snapshot"), 0, &rep, &r, err);
    if (rc)
        return rc;
    const char *p = kg_value_cstr(kg_value_get(r, "path"));
    if (!p || get_u64(kg_value_get(r, "bytes"), &info->bytes) ||
        get_u64(kg_value_get(r, "seq"), &info->seq))
        rc = bad_reply(err, "snapshot", "no path, bytes or seq");
    else if (!(info->path = dup_str(p)))
        rc = nomem(err);
    if (rc)
        memset(info, 0, sizeof *info);
    kg_value_destroy(&rep);
    return rc;
}

int kg_client_reload(kg_client *c, uint64_t *entities, uint64_t *relations,
                     kg_error *err)
{
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, kg_cl_request_new("reload"), 0, &rep, &r, err);
    if (rc)
        return rc;
    uint64_t e, n;
    if (get_u64(kg_value_get(r, "entities"), &e) ||
        get_u64(kg_value_get(r, "relations"), &n))
        rc = bad_reply(err, "reload", "no entity or relation count");
    else {
        if (entities)
            *entities = e;
        if (relations)
            *relations = n;
    }
    kg_value_destroy(&rep);
    return rc;
}
