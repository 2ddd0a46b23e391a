/* typed.c - one call per kgd operation, shaped like include/kg/query.h
 * (include/kg/client.h). Requests are built as kg_value maps by a builder
 * that keeps its first failure; replies are loaded into the caller's local
 * graph so that code written for local query results (the kg printers)
 * works on server results unchanged. */
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

/* ---- building requests -------------------------------------------------------- */

/* A map being built: a request, or an entity or relation inside one. Like
 * kg_writer it keeps its first failure and ignores every put after it, so
 * that building is a plain list of puts and the failure is looked at once,
 * where the map is sent (send_req) or taken (built). */
typedef struct builder {
    kg_value *map;
    int rc; /* the first failure; only KG_ENOMEM, as the map is ours */
} builder;

static builder build_map(void)
{
    builder b = {kg_value_new_map(), 0};
    if (!b.map)
        b.rc = KG_ENOMEM;
    return b;
}

/* Set key to v, which is consumed either way (NULL: its constructor ran
 * out of memory). */
static void put_value(builder *b, const char *key, kg_value *v)
{
    if (b->rc)
        kg_value_destroy(&v);
    else
        b->rc = kg_value_map_set(b->map, key, v);
}

/* A NULL s is not put: the argument is left out of the request. */
static void put_str(builder *b, const char *key, const char *s)
{
    if (s && !b->rc)
        put_value(b, key, kg_value_new_str(s));
}

static void put_int(builder *b, const char *key, int64_t i)
{
    if (!b->rc)
        put_value(b, key, kg_value_new_int(i));
}

static void put_bool(builder *b, const char *key, bool v)
{
    if (!b->rc)
        put_value(b, key, kg_value_new_bool(v));
}

/* A request map {"op": op}. */
static builder build_request(const char *op)
{
    builder b = build_map();
    put_str(&b, "op", op);
    return b;
}

/* as_of and limit of the common options. */
static void put_opts(builder *b, const kg_query_opts *o)
{
    put_str(b, "as_of", o->as_of);
    if (o->limit)
        put_int(b, "limit", o->limit > INT64_MAX ? INT64_MAX : (int64_t)o->limit);
}

/* How a walk follows relations (neighbors, path): its direction, the kinds
 * to follow (none: every kind) and how deep, under the op's depth_key (0:
 * the server's default, not sent). */
static void put_walk(builder *b, kg_dir dir, const char *const *relations,
                     size_t n_relations, const char *depth_key, unsigned depth)
{
    put_str(b, "direction", dir_name(dir));
    if (n_relations)
        put_value(b, "relations", str_array(relations, n_relations));
    if (depth)
        put_int(b, depth_key, depth);
}

/* The map, or NULL when building failed (what was built is freed). Caller
 * owns. */
static kg_value *built(builder *b)
{
    if (b->rc)
        kg_value_destroy(&b->map);
    return b->map;
}

/* Send the request req built (consumed) and get the reply, as
 * kg_client_request; a request that could not be built is out of memory. */
static int send_req(kg_client *c, builder req, kg_value **rep,
                    const kg_value **res, kg_error *err)
{
    *rep = NULL;
    int rc = req.rc ? nomem(err) : kg_client_request(c, req.map, rep, res, err);
    kg_value_destroy(&req.map);
    return rc;
}

static void kind_counts_free(kg_kind_count **a, size_t *n)
{
    for (size_t i = 0; *a && i < *n; i++)
        free((*a)[i].kind);
    free(*a);
    *a = NULL;
    *n = 0;
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
        int rc = 0;
        if (get_u64(&kv->value, &a[i].count) != 0)
            rc = bad_reply(err, op, "a count is not an integer");
        else if (!(a[i].kind = dup_str(kv->key)))
            rc = nomem(err);
        if (rc) {
            kind_counts_free(&a, &k); /* the kinds not copied yet are NULL */
            return rc;
        }
    }
    *out = a;
    *n = k;
    return 0;
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

/* ---- replies that list things ---------------------------------------------------- */

/* What the calls whose reply is a list (entities, relations, neighbors,
 * paths) share, so that each says only how one item loads. */
typedef struct reply_list {
    kg_value *rep;     /* the whole reply (owned) */
    const kg_value *a; /* the list; NULL when the reply leaves it out */
    size_t n;
    void *items;       /* n zeroed items for the caller's result (NULL for
                          none), which owns them once it has them */
    bool truncated;
    kg_batch *scratch; /* for load_relation, when asked for */
} reply_list;

/* Take rep (list_close frees it, whatever this returns) and open the list
 * under key in its result; bad says what is wrong when that is not an
 * array. Also makes room for the items, item_size bytes each, and with
 * relations a scratch batch. 0, or an error with err set. */
static int list_open(reply_list *l, kg_value *rep, const char *op,
                     const char *key, const char *bad, size_t item_size,
                     bool relations, kg_error *err)
{
    const kg_value *r = kg_value_get(rep, "result");
    bool wrong;
    memset(l, 0, sizeof *l);
    l->rep = rep;
    l->a = array_of(r, key, &wrong);
    l->n = kg_value_len(l->a);
    if (relations)
        l->scratch = kg_batch_new();
    if (wrong)
        return bad_reply(err, op, bad);
    if ((relations && !l->scratch) ||
        (l->n && !(l->items = calloc(l->n, item_size))))
        return nomem(err);
    l->truncated = get_flag(r, "truncated");
    return 0;
}

static void list_close(reply_list *l)
{
    kg_batch_destroy(&l->scratch);
    kg_value_destroy(&l->rep);
}

/* Send req and open the list of its reply, whose items hold relations (as
 * list_open). list_close may be called whatever this returns. */
static int list_call(kg_client *c, builder req, const char *op, const char *key,
                     const char *bad, size_t item_size, reply_list *l,
                     kg_error *err)
{
    kg_value *rep;
    memset(l, 0, sizeof *l);
    int rc = send_req(c, req, &rep, NULL, err);
    return rc ? rc : list_open(l, rep, op, key, bad, item_size, true, err);
}

/* ---- ping, stats ------------------------------------------------------------- */

int kg_client_ping(kg_client *c, char **version, kg_error *err)
{
    if (version)
        *version = NULL;
    kg_value *rep;
    const kg_value *res;
    int rc = send_req(c, build_request("ping"), &rep, &res, err);
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
    int rc = send_req(c, build_request("stats"), &rep, &res, err);
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
    builder req = build_request("entity");
    put_str(&req, "name", name);
    put_str(&req, "as_of", as_of);
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, req, &rep, &r, err);
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
    builder req = build_request("entities");
    put_str(&req, "kind", q->kind);
    if (q->prefix && q->prefix[0])
        put_str(&req, "prefix", q->prefix);
    if (q->offset)
        put_int(&req, "offset", (int64_t)q->offset);
    put_opts(&req, &q->opts);
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, req, &rep, &r, err);
    if (rc)
        return rc;
    /* The total before list_open allocates, so that a malformed reply is
     * told as such whatever the memory; list_open says the same of the
     * list. */
    uint64_t total = 0;
    if (get_u64(kg_value_get(r, "total"), &total)) {
        kg_value_destroy(&rep);
        return bad_reply(err, "entities", "no entities array or total");
    }
    reply_list l;
    if ((rc = list_open(&l, rep, "entities", "entities", "no entities array or total",
                        sizeof *res->ids, false, err)))
        goto out;
    res->ids = l.items;
    res->total = (size_t)total;
    res->truncated = l.truncated;
    for (size_t i = 0; i < l.n; i++) {
        if ((rc = load_entity(g, kg_value_at(l.a, i), &res->ids[i], "entities",
                              err)))
            goto out;
        res->n++;
    }
out:
    list_close(&l);
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
    builder req = build_request("relations");
    put_str(&req, "subject", q->subject);
    put_str(&req, "relation", q->relation);
    put_str(&req, "object", q->object);
    if (q->n_where)
        put_value(&req, "where", pair_map(q->where, q->n_where));
    put_opts(&req, &q->opts);
    reply_list l;
    int rc = list_call(c, req, "relations", "relations", "relations is not an array",
                       sizeof *res->ids, &l, err);
    if (rc)
        goto out;
    res->ids = l.items;
    res->truncated = l.truncated;
    for (size_t i = 0; i < l.n; i++) {
        if ((rc = load_relation(g, kg_value_at(l.a, i), l.scratch, &res->ids[i],
                                "relations", err)))
            goto out;
        res->n++;
    }
out:
    list_close(&l);
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
    builder req = build_request("neighbors");
    put_str(&req, "entity", q->entity);
    put_walk(&req, q->dir, q->relations, q->n_relations, "depth", q->opts.max_depth);
    put_opts(&req, &q->opts);
    reply_list l;
    int rc = list_call(c, req, "neighbors", "neighbors", "neighbors is not an array",
                       sizeof *res->items, &l, err);
    if (rc)
        goto out;
    res->items = l.items;
    res->truncated = l.truncated;
    for (size_t i = 0; i < l.n; i++) {
        const kg_value *it = kg_value_at(l.a, i);
        kg_neighbor *nb = &res->items[i];
        const char *name = kg_value_cstr(kg_value_get(it, "entity"));
        uint64_t depth;
        if (!name || get_u64(kg_value_get(it, "depth"), &depth) || depth > UINT32_MAX) {
            rc = bad_reply(err, "neighbors", "an item has no entity or depth");
            goto out;
        }
        kg_entity_spec spec = {.id = name,
                               .kind = kg_value_cstr(kg_value_get(it, "kind"))};
        if ((rc = load_relation(g, kg_value_get(it, "via"), l.scratch, &nb->via,
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
    list_close(&l);
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
    builder req = build_request("path");
    put_str(&req, "from", q->from);
    put_str(&req, "to", q->to);
    put_walk(&req, q->dir, q->relations, q->n_relations, "max_length",
             q->opts.max_depth);
    if (q->all)
        put_bool(&req, "all", true);
    put_opts(&req, &q->opts);
    reply_list l;
    kg_eid f = KG_NONE, t = KG_NONE;
    int rc = list_call(c, req, "path", "paths", "paths is not an array",
                       sizeof *res->paths, &l, err);
    if (rc)
        goto out;
    res->paths = l.items;
    res->truncated = l.truncated;
    for (size_t p = 0; p < l.n; p++) {
        const kg_value *pv = kg_value_at(l.a, p);
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
            if ((rc = load_relation(g, kg_value_at(pv, i), l.scratch,
                                    &path->steps[i].rel, "path", err)))
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
    list_close(&l);
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

/* [subject, relation, object] or, with qualifiers, [s, r, o, {quals}];
 * NULL on OOM. */
static kg_value *pattern_value(const kg_match_pattern *p)
{
    const char *terms[3] = {p->subject, p->relation, p->object};
    kg_value *a = str_array(terms, 3);
    /* push consumes the map and fails for a NULL one */
    if (a && p->n_quals && kg_value_array_push(a, pair_map(p->quals, p->n_quals)) != 0)
        kg_value_destroy(&a);
    return a;
}

/* The patterns of q as an array, or NULL on OOM. */
static kg_value *patterns_value(const kg_match_query *q)
{
    kg_value *pats = kg_value_new_array();
    for (size_t i = 0; pats && i < q->n_patterns; i++)
        if (kg_value_array_push(pats, pattern_value(&q->patterns[i])) != 0)
            kg_value_destroy(&pats);
    return pats;
}

int kg_client_match(kg_client *c, const kg_match_query *q, kg_match_result *res,
                    kg_error *err)
{
    memset(res, 0, sizeof *res);
    if (!q)
        return kg_error_set(err, KG_EINVAL, "match: no query");
    builder req = build_request("match");
    put_value(&req, "patterns", patterns_value(q));
    put_opts(&req, &q->opts);
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, req, &rep, &r, err);
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

static builder subgraph_request(const kg_subgraph_query *q, const char *format)
{
    builder req = build_request("subgraph");
    put_value(&req, "seeds", str_array(q->seeds, q->n_seeds));
    if (q->n_relations)
        put_value(&req, "relations", str_array(q->relations, q->n_relations));
    put_str(&req, "direction", dir_name(q->dir));
    if (q->opts.max_depth)
        put_int(&req, "depth", q->opts.max_depth);
    put_str(&req, "format", format);
    put_opts(&req, &q->opts);
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
    int rc = send_req(c, subgraph_request(q, "graph"), &rep, &r, err);
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
    int rc = send_req(c, subgraph_request(q, format), &rep, &r, err);
    return rc ? rc : take_text(rep, r, "subgraph", text, len, err);
}

int kg_client_export(kg_client *c, const char *format, const char *as_of,
                     char **text, size_t *len, kg_error *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    builder req = build_request("export");
    put_str(&req, "format", format);
    put_str(&req, "as_of", as_of);
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, req, &rep, &r, err);
    return rc ? rc : take_text(rep, r, "export", text, len, err);
}

/* ---- add, remove, extract ------------------------------------------------------------ */

/* An entity object, or NULL on OOM. */
static kg_value *entity_value(const kg_entity_spec *s)
{
    builder m = build_map();
    put_str(&m, "id", s->id);
    put_str(&m, "kind", s->kind);
    if (s->n_aliases)
        put_value(&m, "aliases", str_array(s->aliases, s->n_aliases));
    if (s->n_attrs)
        put_value(&m, "attributes", pair_map(s->attrs, s->n_attrs));
    return built(&m);
}

/* A relation object (with its provenance if prov), or NULL on OOM. */
static kg_value *relation_value(const kg_relation_spec *s, bool prov)
{
    builder m = build_map();
    put_str(&m, "subject", s->subject ? s->subject : "");
    put_str(&m, "relation", s->relation ? s->relation : "");
    put_str(&m, "object", s->object ? s->object : "");
    if (s->n_quals)
        put_value(&m, "qualifiers", pair_map(s->quals, s->n_quals));
    if (prov && s->n_prov)
        put_value(&m, "provenance", pair_map(s->prov, s->n_prov));
    return built(&m);
}

/* An add (remove = false) or remove request from a batch, built into
 * *req. KG_EINVAL for a change of the other kind, or KG_ENOMEM (err set;
 * nothing is left to free). */
static int write_request(const kg_batch *b, bool remove, builder *req,
                         kg_error *err)
{
    *req = build_request(remove ? "remove" : "add");
    kg_value *ents = kg_value_new_array(), *rels = kg_value_new_array();
    int rc = !req->rc && ents && rels ? 0 : KG_ENOMEM;
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
        rc = kg_value_array_push(into, v); /* KG_ENOMEM for a NULL v */
    }
    /* An empty list is left out. Failing to put one is req's failure,
     * which send_req tells. */
    if (!rc && kg_value_len(ents)) {
        put_value(req, "entities", ents);
        ents = NULL;
    }
    if (!rc && kg_value_len(rels)) {
        put_value(req, "relations", rels);
        rels = NULL;
    }
    kg_value_destroy(&ents);
    kg_value_destroy(&rels);
    if (rc) {
        kg_value_destroy(&req->map);
        return rc == KG_ENOMEM ? nomem(err) : rc;
    }
    return 0;
}

static int write_call(kg_client *c, const kg_batch *b, bool remove,
                      kg_client_write_result *res, kg_error *err)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (!b)
        return kg_error_set(err, KG_EINVAL, "no batch");
    builder req;
    kg_value *rep;
    const kg_value *r;
    int rc = write_request(b, remove, &req, err);
    if (rc || (rc = send_req(c, req, &rep, &r, err)))
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
    builder req = build_request("extract");
    put_str(&req, "text", text);
    put_str(&req, "source", source);
    put_str(&req, "date", date);
    if (commit)
        put_bool(&req, "commit", true);
    kg_value *rep;
    const kg_value *r;
    int rc = send_req(c, req, &rep, &r, err);
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
    int rc = send_req(c, build_request("snapshot"), &rep, &r, err);
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
    int rc = send_req(c, build_request("reload"), &rep, &r, err);
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
