/* shapes.c - graph things <-> protocol maps (docs/protocol.md: "Relation
 * objects", "Entity objects", "The change feed"), and add/remove request
 * maps -> change batches.
 */
#include "proto_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------- */

static void write_kv_str(kg_writer *w, const char *k, const char *v)
{
    kg_write_str(w, k);
    kg_write_str(w, v);
}

static void write_pairs(kg_writer *w, const kg_pair *p, size_t n)
{
    kg_write_map(w, n);
    for (size_t i = 0; i < n; i++)
        write_kv_str(w, p[i].key, p[i].value);
}

int kg_proto_write_relation(kg_writer *w, const kg_graph *g, kg_rid r)
{
    kg_write_map(w, 5);
    write_kv_str(w, "subject", kg_entity_id(g, kg_relation_subject(g, r)));
    write_kv_str(w, "relation", kg_relation_kind(g, r));
    write_kv_str(w, "object", kg_entity_id(g, kg_relation_object(g, r)));
    size_t nq = kg_relation_qual_count(g, r);
    kg_write_str(w, "qualifiers");
    kg_write_map(w, nq);
    for (size_t i = 0; i < nq; i++) {
        kg_pair p = kg_relation_qual(g, r, i);
        write_kv_str(w, p.key, p.value);
    }
    size_t np = kg_relation_prov_count(g, r);
    kg_write_str(w, "provenance");
    kg_write_map(w, np);
    for (size_t i = 0; i < np; i++) {
        kg_pair p = kg_relation_prov(g, r, i);
        write_kv_str(w, p.key, p.value);
    }
    return kg_writer_error(w);
}

int kg_proto_write_entity(kg_writer *w, const kg_graph *g, kg_eid e)
{
    kg_write_map(w, 4);
    return kg_proto_write_entity_fields(w, g, e);
}

int kg_proto_write_entity_fields(kg_writer *w, const kg_graph *g, kg_eid e)
{
    write_kv_str(w, "id", kg_entity_id(g, e));
    write_kv_str(w, "kind", kg_entity_kind(g, e));
    size_t na = kg_entity_alias_count(g, e);
    kg_write_str(w, "aliases");
    kg_write_array(w, na);
    for (size_t i = 0; i < na; i++)
        kg_write_str(w, kg_entity_alias(g, e, i));
    size_t nt = kg_entity_attr_count(g, e);
    kg_write_str(w, "attributes");
    kg_write_map(w, nt);
    for (size_t i = 0; i < nt; i++) {
        kg_pair p = kg_entity_attr(g, e, i);
        write_kv_str(w, p.key, p.value);
    }
    return kg_writer_error(w);
}

int kg_proto_write_relation_spec(kg_writer *w, const kg_relation_spec *s)
{
    kg_write_map(w, 5);
    write_kv_str(w, "subject", s->subject);
    write_kv_str(w, "relation", s->relation);
    write_kv_str(w, "object", s->object);
    kg_write_str(w, "qualifiers");
    write_pairs(w, s->quals, s->n_quals);
    kg_write_str(w, "provenance");
    write_pairs(w, s->prov, s->n_prov);
    return kg_writer_error(w);
}

int kg_proto_write_entity_spec(kg_writer *w, const kg_entity_spec *s)
{
    kg_write_map(w, 4);
    write_kv_str(w, "id", s->id);
    write_kv_str(w, "kind", (s->kind && s->kind[0]) ? s->kind : "unknown");
    kg_write_str(w, "aliases");
    kg_write_array(w, s->n_aliases);
    for (size_t i = 0; i < s->n_aliases; i++)
        kg_write_str(w, s->aliases[i]);
    kg_write_str(w, "attributes");
    write_pairs(w, s->attrs, s->n_attrs);
    return kg_writer_error(w);
}

/* ---- reading ------------------------------------------------------------- */

/* A string argument: a str without NULs, non-empty when required. */
static int want_str(const kg_value *v, const char *where, const char *key,
                    bool nonempty, const char **out, kg_error *err)
{
    const char *s = kg_value_cstr(v);
    if (!s) {
        if (v && v->type == KG_VAL_STR)
            return kg_error_set(err, KG_EINVAL, "%s%s%s: string contains NUL",
                                where, *where ? "." : "", key);
        return kg_error_set(err, KG_EINVAL, "%s%s%s: expected str, got %s",
                            where, *where ? "." : "", key,
                            kg_value_type_name(kg_value_type_of(v)));
    }
    if (nonempty && !s[0])
        return kg_error_set(err, KG_EINVAL, "%s%s%s: empty string", where,
                            *where ? "." : "", key);
    *out = s;
    return 0;
}

/* Pairs from a map of strings, appended at p[*n] (room for all entries
 * is the caller's duty). Duplicate keys are refused. */
static int take_pairs(const kg_value *m, const char *where, const char *key,
                      kg_pair *p, size_t *n, kg_error *err)
{
    if (!m || m->type != KG_VAL_MAP)
        return kg_error_set(err, KG_EINVAL, "%s%s%s: expected map, got %s",
                            where, *where ? "." : "", key,
                            kg_value_type_name(kg_value_type_of(m)));
    size_t start = *n;
    for (size_t i = 0; i < m->u.map.n; i++) {
        const kg_kv *kv = &m->u.map.items[i];
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", where, *where ? "." : "", key);
        const char *val;
        if (memchr(kv->key, '\0', kv->key_len) || !kv->key[0])
            return kg_error_set(err, KG_EINVAL, "%s: bad key", path);
        int rc = want_str(&kv->value, path, kv->key, false, &val, err);
        if (rc)
            return rc;
        for (size_t k = start; k < *n; k++)
            if (strcmp(p[k].key, kv->key) == 0)
                return kg_error_set(err, KG_EINVAL, "%s: duplicate key '%s'",
                                    path, kv->key);
        p[*n].key = kv->key;
        p[*n].value = val;
        (*n)++;
    }
    return 0;
}

#define SMALL 16

int kg_proto_relation_to_batch(const kg_value *v, bool remove, kg_batch *b,
                               const char *where, kg_error *err)
{
    if (!where)
        where = "";
    if (!v || v->type != KG_VAL_MAP)
        return kg_error_set(err, KG_EINVAL, "%s: expected a relation map, got %s",
                            *where ? where : "relation",
                            kg_value_type_name(kg_value_type_of(v)));
    kg_relation_spec s;
    memset(&s, 0, sizeof s);
    const kg_value *quals = NULL, *prov = NULL, *evidence = NULL, *source = NULL;
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && !rc; i++) {
        const kg_kv *kv = &v->u.map.items[i];
        const char *k = kv->key;
        if (strcmp(k, "subject") == 0)
            rc = want_str(&kv->value, where, k, true, &s.subject, err);
        else if (strcmp(k, "relation") == 0)
            rc = want_str(&kv->value, where, k, true, &s.relation, err);
        else if (strcmp(k, "object") == 0)
            rc = want_str(&kv->value, where, k, true, &s.object, err);
        else if (strcmp(k, "qualifiers") == 0)
            quals = &kv->value;
        else if (strcmp(k, "provenance") == 0)
            prov = &kv->value;
        else if (strcmp(k, "evidence") == 0)
            evidence = &kv->value;
        else if (strcmp(k, "source") == 0)
            source = &kv->value;
        else
            rc = kg_error_set(err, KG_EINVAL, "%s%sunknown key '%.64s'", where,
                              *where ? ": " : "", k);
    }
    if (rc)
        return rc;
    if (!s.subject || !s.relation || !s.object)
        return kg_error_set(err, KG_EINVAL, "%s%smissing '%s'", where,
                            *where ? ": " : "",
                            !s.subject ? "subject"
                                       : !s.relation ? "relation" : "object");
    /* Nil qualifiers/provenance mean "none", like an absent key. */
    if (quals && quals->type == KG_VAL_NIL)
        quals = NULL;
    if (prov && prov->type == KG_VAL_NIL)
        prov = NULL;
    size_t nq = kg_value_len(quals), np = kg_value_len(prov) + 2;
    kg_pair small_q[SMALL], small_p[SMALL];
    kg_pair *q = nq <= SMALL ? small_q : malloc(nq * sizeof *q);
    kg_pair *p = np <= SMALL ? small_p : malloc(np * sizeof *p);
    size_t n_q = 0, n_p = 0;
    if (!q || !p) {
        rc = kg_error_set(err, KG_ENOMEM, "out of memory");
        goto out;
    }
    if (quals && (rc = take_pairs(quals, where, "qualifiers", q, &n_q, err)))
        goto out;
    if (prov && (rc = take_pairs(prov, where, "provenance", p, &n_p, err)))
        goto out;
    const kg_value *top[2] = {source, evidence};
    const char *top_key[2] = {KG_PROV_SOURCE, KG_PROV_EVIDENCE};
    for (int t = 0; t < 2; t++) {
        if (!top[t])
            continue;
        const char *val;
        if ((rc = want_str(top[t], where, top_key[t], false, &val, err)))
            goto out;
        size_t k;
        for (k = 0; k < n_p; k++)
            if (strcmp(p[k].key, top_key[t]) == 0)
                break;
        if (k < n_p) {
            rc = kg_error_set(err, KG_EINVAL,
                              "%s%s'%s' given twice (top level and provenance)",
                              where, *where ? ": " : "", top_key[t]);
            goto out;
        }
        p[n_p].key = top_key[t];
        p[n_p].value = val;
        n_p++;
    }
    s.quals = q;
    s.n_quals = n_q;
    if (remove) {
        rc = kg_batch_remove_relation(b, &s, 0);
    } else {
        s.prov = p;
        s.n_prov = n_p;
        rc = kg_batch_add_relation(b, &s, 0);
    }
    if (rc)
        rc = kg_error_set(err, rc, "%s%s%s", where, *where ? ": " : "",
                          rc == KG_ENOMEM ? "out of memory" : "invalid relation");
out:
    if (q != small_q)
        free(q);
    if (p != small_p)
        free(p);
    return rc;
}

int kg_proto_entity_to_batch(const kg_value *v, bool remove, kg_batch *b,
                             const char *where, kg_error *err)
{
    if (!where)
        where = "";
    const char *label = *where ? where : "entity";
    if (remove && v && v->type == KG_VAL_STR) {
        const char *id;
        int rc = want_str(v, "", label, true, &id, err);
        if (rc)
            return rc;
        rc = kg_batch_remove_entity(b, id, 0);
        return rc ? kg_error_set(err, rc, "%s: out of memory", label) : 0;
    }
    if (!v || v->type != KG_VAL_MAP)
        return kg_error_set(err, KG_EINVAL, "%s: expected an entity map%s, got %s",
                            label, remove ? " or id" : "",
                            kg_value_type_name(kg_value_type_of(v)));
    kg_entity_spec s;
    memset(&s, 0, sizeof s);
    const kg_value *aliases = NULL, *attrs = NULL;
    int rc = 0;
    for (size_t i = 0; i < v->u.map.n && !rc; i++) {
        const kg_kv *kv = &v->u.map.items[i];
        const char *k = kv->key;
        if (strcmp(k, "id") == 0)
            rc = want_str(&kv->value, where, k, true, &s.id, err);
        else if (strcmp(k, "kind") == 0) {
            if (kv->value.type != KG_VAL_NIL)
                rc = want_str(&kv->value, where, k, false, &s.kind, err);
        } else if (strcmp(k, "aliases") == 0)
            aliases = &kv->value;
        else if (strcmp(k, "attributes") == 0)
            attrs = &kv->value;
        else
            rc = kg_error_set(err, KG_EINVAL, "%s%sunknown key '%.64s'", where,
                              *where ? ": " : "", k);
    }
    if (rc)
        return rc;
    if (!s.id)
        return kg_error_set(err, KG_EINVAL, "%s%smissing 'id'", where,
                            *where ? ": " : "");
    if (remove) {
        rc = kg_batch_remove_entity(b, s.id, 0);
        return rc ? kg_error_set(err, rc, "%s: out of memory", label) : 0;
    }
    if (aliases && aliases->type == KG_VAL_NIL)
        aliases = NULL;
    if (attrs && attrs->type == KG_VAL_NIL)
        attrs = NULL;
    if (aliases && aliases->type != KG_VAL_ARRAY)
        return kg_error_set(err, KG_EINVAL, "%s%saliases: expected array, got %s",
                            where, *where ? "." : "",
                            kg_value_type_name(aliases->type));
    size_t na = kg_value_len(aliases), nt = kg_value_len(attrs);
    const char *small_a[SMALL];
    kg_pair small_t[SMALL];
    const char **a = na <= SMALL ? small_a : malloc(na * sizeof *a);
    kg_pair *t = nt <= SMALL ? small_t : malloc(nt * sizeof *t);
    size_t n_t = 0;
    if (!a || !t) {
        rc = kg_error_set(err, KG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < na; i++) {
        char key[32];
        snprintf(key, sizeof key, "aliases[%zu]", i);
        if ((rc = want_str(&aliases->u.array.items[i], where, key, true, &a[i],
                           err)))
            goto out;
    }
    if (attrs && (rc = take_pairs(attrs, where, "attributes", t, &n_t, err)))
        goto out;
    s.aliases = a;
    s.n_aliases = na;
    s.attrs = t;
    s.n_attrs = n_t;
    rc = kg_batch_add_entity(b, &s, 0);
    if (rc)
        rc = kg_error_set(err, rc, "%s: %s", label,
                          rc == KG_ENOMEM ? "out of memory" : "invalid entity");
out:
    if (a != small_a)
        free((void *)a);
    if (t != small_t)
        free(t);
    return rc;
}

/* Append every item of req[key] (an array, optional) to b. */
static int take_list(const kg_value *req, const char *key, bool is_rel,
                     bool remove, kg_batch *b, kg_error *err)
{
    const kg_value *list = kg_value_get(req, key);
    if (!list || list->type == KG_VAL_NIL)
        return 0;
    if (list->type != KG_VAL_ARRAY)
        return kg_error_set(err, KG_EINVAL, "%s: expected array, got %s", key,
                            kg_value_type_name(list->type));
    for (size_t i = 0; i < list->u.array.n; i++) {
        char where[48];
        snprintf(where, sizeof where, "%s[%zu]", key, i);
        const kg_value *item = &list->u.array.items[i];
        int rc = is_rel ? kg_proto_relation_to_batch(item, remove, b, where, err)
                        : kg_proto_entity_to_batch(item, remove, b, where, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int fill_request(const kg_value *req, bool remove, kg_batch *b,
                        kg_error *err)
{
    int rc;
    if (remove) {
        if ((rc = take_list(req, "relations", true, true, b, err)))
            return rc;
        return take_list(req, "entities", false, true, b, err);
    }
    if ((rc = take_list(req, "entities", false, false, b, err)))
        return rc;
    return take_list(req, "relations", true, false, b, err);
}

int kg_proto_request_to_batch(const kg_value *req, bool remove, kg_batch *b,
                              kg_error *err)
{
    if (!req || req->type != KG_VAL_MAP)
        return kg_error_set(err, KG_EINVAL, "request: expected map, got %s",
                            kg_value_type_name(kg_value_type_of(req)));
    if (kg_batch_count(b) == 0) {
        int rc = fill_request(req, remove, b, err);
        if (rc)
            kg_batch_clear(b);
        return rc;
    }
    /* b already holds changes: build aside so that an error leaves b as
     * it was. */
    kg_batch *tmp = kg_batch_new();
    if (!tmp)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    int rc = fill_request(req, remove, tmp, err);
    for (size_t i = 0; !rc && i < kg_batch_count(tmp); i++)
        rc = kg_batch_push(b, kg_batch_get(tmp, i));
    kg_batch_destroy(&tmp);
    /* A push failing half-way (out of memory) cannot be undone without a
     * truncate in the batch API; say so rather than pretend. */
    if (rc && !err)
        return rc;
    if (rc && err->code == KG_OK)
        kg_error_set(err, rc, "out of memory (batch partly extended)");
    return rc;
}

/* ---- the change feed ----------------------------------------------------- */

const char *kg_proto_change_topic(const kg_change *c)
{
    if (c->op == KG_CHANGE_RELATION_ADD || c->op == KG_CHANGE_RELATION_REMOVE)
        return c->u.relation.relation ? c->u.relation.relation : "";
    return "entity";
}

int kg_proto_write_change(kg_writer *w, uint64_t seq, const kg_change *c)
{
    bool add = c->op == KG_CHANGE_ENTITY_ADD || c->op == KG_CHANGE_RELATION_ADD;
    kg_write_map(w, 3);
    kg_write_str(w, "seq");
    kg_write_uint(w, seq);
    write_kv_str(w, "op", add ? "add" : "remove");
    switch (c->op) {
    case KG_CHANGE_RELATION_ADD:
    case KG_CHANGE_RELATION_REMOVE:
        kg_write_str(w, "relation");
        kg_proto_write_relation_spec(w, &c->u.relation);
        break;
    case KG_CHANGE_ENTITY_ADD:
        kg_write_str(w, "entity");
        kg_proto_write_entity_spec(w, &c->u.entity);
        break;
    case KG_CHANGE_ENTITY_REMOVE:
        kg_write_str(w, "entity");
        kg_write_map(w, 1);
        write_kv_str(w, "id", c->u.entity.id);
        break;
    }
    return kg_writer_error(w);
}

int kg_proto_change_from_value(const kg_value *body, kg_batch *b,
                               uint64_t *seq, kg_error *err)
{
    if (!body || body->type != KG_VAL_MAP)
        return kg_error_set(err, KG_EINVAL, "change: expected map, got %s",
                            kg_value_type_name(kg_value_type_of(body)));
    const kg_value *vseq = kg_value_get(body, "seq");
    const char *op = kg_value_cstr(kg_value_get(body, "op"));
    const kg_value *rel = kg_value_get(body, "relation");
    const kg_value *ent = kg_value_get(body, "entity");
    int64_t s;
    if (kg_value_get_int(vseq, &s) || s < 0)
        return kg_error_set(err, KG_EINVAL, "change: 'seq' missing or not a uint");
    if (!op || (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0))
        return kg_error_set(err, KG_EINVAL, "change: 'op' must be add or remove");
    if (kg_value_len(body) != 3 || (!rel) == (!ent))
        return kg_error_set(err, KG_EINVAL,
                            "change: expected seq, op and one of relation/entity");
    bool remove = strcmp(op, "remove") == 0;
    int rc = rel ? kg_proto_relation_to_batch(rel, remove, b, "relation", err)
                 : kg_proto_entity_to_batch(ent, remove, b, "entity", err);
    if (rc)
        return rc;
    if (seq)
        *seq = (uint64_t)s;
    return 0;
}
