/* ops.c - the operations of the protocol (docs/protocol.md).
 *
 * A table in the style of Redis' command table: each op has a name, a
 * handler and the shape of its arguments (name, accepted types, required).
 * The shape is checked before the handler runs, so handlers read their
 * arguments without re-checking types, and an unknown argument is an
 * `invalid` error rather than silently ignored. Handlers write only the
 * `result` value; the reply envelope and errors are written here.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kg/io.h"
#include "kg/query.h"

#ifndef KG_VERSION
#define KG_VERSION "0.0.0"
#endif

/* Argument types, as a bit set. */
enum {
    T_NIL = 1, T_BOOL = 2, T_INT = 4, T_FLOAT = 8, T_STR = 16, T_BIN = 32,
    T_ARRAY = 64, T_MAP = 128
};

typedef struct arg_spec {
    const char *name;
    unsigned types;
    bool required;
} arg_spec;

typedef int (*op_fn)(kg_server *s, kg_slot *slot, const kg_value *req,
                     kg_writer *w, kg_error *err);

typedef struct op_def {
    const char *name;
    op_fn fn;
    const arg_spec *args; /* terminated by a NULL name */
} op_def;

/* Up to this many strings in an argument array live on the stack. */
#define SMALL_LIST 16

/* ---- replies ------------------------------------------------------------- */

const char *kg_server_error_code(int code)
{
    switch (code) {
    case KG_ENOMEM: return "nomem";
    case KG_EINVAL: return "invalid";
    case KG_EEXIST: return "invalid";
    case KG_ENOTFOUND: return "not_found";
    case KG_EPARSE: return "parse";
    case KG_EIO: return "io";
    case KG_ECORRUPT: return "io";
    case KG_ELIMIT: return "limit";
    case KG_ETIMEOUT: return "timeout";
    case KG_EUNSUPPORTED: return "unsupported";
    case KG_EBUSY: return "busy";
    default: return "internal";
    }
}

static void write_id(kg_writer *w, const kg_value *id)
{
    kg_write_str(w, "id");
    if (id && id->type != KG_VAL_ARRAY && id->type != KG_VAL_MAP)
        kg_write_value(w, id);
    else
        kg_write_nil(w);
}

void kg_server_write_error(kg_writer *w, const kg_value *id, int code,
                           const char *message)
{
    kg_write_map(w, 3);
    write_id(w, id);
    kg_write_str(w, "ok");
    kg_write_bool(w, false);
    kg_write_str(w, "error");
    kg_write_map(w, 2);
    kg_write_str(w, "code");
    kg_write_str(w, kg_server_error_code(code));
    kg_write_str(w, "message");
    if (!message || !message[0])
        message = kg_error_name(code);
    size_t len = strlen(message);
    if (kg_proto_utf8_valid(message, len)) {
        kg_write_strn(w, message, len);
        return;
    }
    /* A message quoting a graph file's non-UTF-8 bytes: keep the ASCII,
     * replace the rest, so that every client can decode the reply. */
    char clean[KG_ERROR_MESSAGE_MAX];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof clean - 1; i++)
        clean[n++] = (unsigned char)message[i] < 0x80 ? message[i] : '?';
    kg_write_strn(w, clean, n);
}

/* ---- argument helpers ---------------------------------------------------- */

static unsigned type_bit(const kg_value *v)
{
    switch (v->type) {
    case KG_VAL_NIL: return T_NIL;
    case KG_VAL_BOOL: return T_BOOL;
    case KG_VAL_INT:
    case KG_VAL_UINT: return T_INT;
    case KG_VAL_FLOAT: return T_FLOAT;
    case KG_VAL_STR: return T_STR;
    case KG_VAL_BIN: return T_BIN;
    case KG_VAL_ARRAY: return T_ARRAY;
    case KG_VAL_MAP: return T_MAP;
    }
    return 0;
}

static const char *types_text(unsigned t)
{
    static const char *names[] = {"nil", "bool", "int", "float", "str", "bin",
                                  "array", "map"};
    static char buf[64];
    buf[0] = '\0';
    for (unsigned i = 0; i < 8; i++) {
        if (!(t & (1u << i)) || (1u << i) == T_NIL)
            continue;
        if (buf[0])
            strcat(buf, " or ");
        strcat(buf, names[i]);
    }
    return buf;
}

/* The shape check: every key known, of an accepted type, no duplicates,
 * the required ones present. Nil stands for "absent" for optional ones. */
static int check_args(const op_def *op, const kg_value *req, kg_error *err)
{
    size_t n_spec = 0;
    while (op->args[n_spec].name)
        n_spec++;
    size_t n = req->u.map.n;
    if (n > n_spec + 2)
        return kg_error_set(err, KG_EINVAL, "%zu arguments for op '%s' (it "
                            "takes at most %zu)", n - 1, op->name, n_spec + 1);
    for (size_t i = 0; i < n; i++) {
        const kg_kv *kv = &req->u.map.items[i];
        for (size_t k = 0; k < i; k++)
            if (req->u.map.items[k].key_len == kv->key_len &&
                memcmp(req->u.map.items[k].key, kv->key, kv->key_len) == 0)
                return kg_error_set(err, KG_EINVAL, "argument '%.64s' given twice",
                                    kv->key);
        if (strcmp(kv->key, "op") == 0)
            continue;
        if (strcmp(kv->key, "id") == 0) {
            if (kv->value.type == KG_VAL_ARRAY || kv->value.type == KG_VAL_MAP)
                return kg_error_set(err, KG_EINVAL, "'id' must be a scalar");
            continue;
        }
        const arg_spec *a = op->args;
        while (a->name && strcmp(a->name, kv->key) != 0)
            a++;
        if (!a->name)
            return kg_error_set(err, KG_EINVAL, "unknown argument '%.64s' for "
                                "op '%s'", kv->key, op->name);
        unsigned t = type_bit(&kv->value);
        if (t == T_NIL && !a->required)
            continue;
        if (!(a->types & t))
            return kg_error_set(err, KG_EINVAL, "argument '%s': expected %s, "
                                "got %s", a->name, types_text(a->types),
                                kg_value_type_name(kv->value.type));
        if (t == T_STR && !kg_value_cstr(&kv->value))
            return kg_error_set(err, KG_EINVAL, "argument '%s': string "
                                "contains NUL", a->name);
    }
    for (const arg_spec *a = op->args; a->name; a++) {
        if (!a->required)
            continue;
        const kg_value *v = kg_value_get(req, a->name);
        if (!v || v->type == KG_VAL_NIL)
            return kg_error_set(err, KG_EINVAL, "op '%s' needs argument '%s'",
                                op->name, a->name);
    }
    return 0;
}

/* An argument, or NULL when absent or nil. */
static const kg_value *arg(const kg_value *req, const char *key)
{
    const kg_value *v = kg_value_get(req, key);
    return v && v->type != KG_VAL_NIL ? v : NULL;
}

static const char *arg_str(const kg_value *req, const char *key)
{
    return kg_value_cstr(arg(req, key));
}

static bool arg_bool(const kg_value *req, const char *key, bool dflt)
{
    const kg_value *v = arg(req, key);
    return v ? v->u.b : dflt;
}

static uint64_t deadline(const kg_server *s)
{
    if (!s->cfg->query_timeout_ms)
        return 0;
    return kg_query_clock_ns() + (uint64_t)s->cfg->query_timeout_ms * 1000000u;
}

/* limit: 1.., capped by max_results; absent = max_results. */
static int arg_limit(const kg_server *s, const kg_value *req, size_t *out,
                     kg_error *err)
{
    const kg_value *v = arg(req, "limit");
    *out = s->cfg->max_results;
    if (!v)
        return 0;
    int64_t n;
    if (kg_value_get_int(v, &n) || n < 1)
        return kg_error_set(err, KG_EINVAL, "limit must be at least 1");
    if ((uint64_t)n < *out)
        *out = (size_t)n;
    return 0;
}

static int arg_uint(const kg_value *req, const char *key, int64_t dflt,
                    int64_t min, int64_t *out, kg_error *err)
{
    const kg_value *v = arg(req, key);
    *out = dflt;
    if (!v)
        return 0;
    if (kg_value_get_int(v, out) || *out < min)
        return kg_error_set(err, KG_EINVAL, "%s must be an integer >= %lld",
                            key, (long long)min);
    return 0;
}

/* A depth-like argument: 1..max_depth, beyond is a `limit` error. */
static int arg_depth(const kg_server *s, const kg_value *req, const char *key,
                     unsigned dflt, unsigned *out, kg_error *err)
{
    int64_t n;
    int rc = arg_uint(req, key, dflt, 1, &n, err);
    if (rc)
        return rc;
    if (n > (int64_t)s->cfg->max_depth)
        return kg_error_set(err, KG_ELIMIT, "%s %lld exceeds max_depth %u", key,
                            (long long)n, s->cfg->max_depth);
    *out = (unsigned)n;
    return 0;
}

static int arg_as_of(const kg_value *req, const char **out, int32_t *day,
                     kg_error *err)
{
    *out = arg_str(req, "as_of");
    if (day)
        *day = 0;
    if (!*out)
        return 0;
    kg_date_range r;
    if (kg_date_parse(*out, &r))
        return kg_error_set(err, KG_EINVAL, "as_of: '%.40s' is not a date "
                            "(YYYY, YYYY-MM or YYYY-MM-DD)", *out);
    if (day)
        *day = r.last;
    return 0;
}

static int arg_dir(const kg_value *req, const char *key, kg_dir dflt,
                   kg_dir *out, kg_error *err)
{
    const char *d = arg_str(req, key);
    *out = dflt;
    if (!d)
        return 0;
    if (strcmp(d, "out") == 0)
        *out = KG_OUT;
    else if (strcmp(d, "in") == 0)
        *out = KG_IN;
    else if (strcmp(d, "both") == 0)
        *out = KG_BOTH;
    else
        return kg_error_set(err, KG_EINVAL, "%s must be out, in or both", key);
    return 0;
}

/* An array of strings argument. */
typedef struct strlist {
    const char **v;
    size_t n;
    const char *small[SMALL_LIST];
} strlist;

static void strlist_free(strlist *l)
{
    if (l->v != l->small)
        free((void *)l->v);
    l->v = NULL;
    l->n = 0;
}

static int arg_strings(const kg_value *req, const char *key, bool nonempty,
                       strlist *l, kg_error *err)
{
    const kg_value *a = arg(req, key);
    l->v = l->small;
    l->n = 0;
    size_t n = kg_value_len(a);
    if (!a)
        return 0;
    if (n > SMALL_LIST && !(l->v = malloc(n * sizeof *l->v))) {
        l->v = l->small;
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *str = kg_value_cstr(kg_value_at(a, i));
        if (!str || (nonempty && !str[0])) {
            strlist_free(l);
            return kg_error_set(err, KG_EINVAL, "%s[%zu]: expected a %sstring",
                                key, i, nonempty ? "non-empty " : "");
        }
        l->v[i] = str;
    }
    l->n = n;
    return 0;
}

/* A map key usable as a C string: non-empty, no NUL. */
static bool key_ok(const kg_kv *kv)
{
    return kv->key_len > 0 && strlen(kv->key) == kv->key_len;
}

static void write_kv_str(kg_writer *w, const char *k, const char *v)
{
    kg_write_str(w, k);
    kg_write_str(w, v);
}

/* A whole graph as {"entities": [...], "relations": [...]} + extra pairs
 * the caller writes (n_extra). */
static void write_graph(kg_writer *w, const kg_graph *g, size_t n_extra)
{
    kg_write_map(w, 2 + n_extra);
    kg_write_str(w, "entities");
    kg_write_array(w, kg_entity_count(g));
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e))
        kg_proto_write_entity(w, g, e);
    kg_write_str(w, "relations");
    kg_write_array(w, kg_relation_count(g));
    for (kg_rid r = kg_relation_first(g); r != KG_NONE; r = kg_relation_next(g, r))
        kg_proto_write_relation(w, g, r);
}

static uint64_t current_seq(const kg_server *s)
{
    return s->j ? kg_journal_seq(s->j) : s->mem_seq;
}

/* ---- ops ----------------------------------------------------------------- */

static int op_ping(kg_server *s, kg_slot *slot, const kg_value *req,
                   kg_writer *w, kg_error *err)
{
    (void)s; (void)slot; (void)req; (void)err;
    kg_write_map(w, 2);
    kg_write_str(w, "pong");
    kg_write_bool(w, true);
    write_kv_str(w, "version", KG_VERSION);
    return 0;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (size_t)resident * (size_t)page : 0;
}

static int write_kinds(kg_writer *w, const kg_graph *g, bool relations)
{
    size_t n = relations ? kg_relation_kinds(g, NULL, NULL, 0)
                         : kg_entity_kinds(g, NULL, NULL, 0);
    kg_atom *kinds = calloc(n ? n : 1, sizeof *kinds);
    size_t *counts = calloc(n ? n : 1, sizeof *counts);
    if (!kinds || !counts) {
        free(kinds);
        free(counts);
        return KG_ENOMEM;
    }
    size_t got = relations ? kg_relation_kinds(g, kinds, counts, n)
                           : kg_entity_kinds(g, kinds, counts, n);
    if (got > n)
        got = n;
    size_t live = 0;
    for (size_t i = 0; i < got; i++)
        live += counts[i] > 0;
    kg_write_map(w, live);
    for (size_t i = 0; i < got; i++) {
        if (!counts[i])
            continue;
        kg_write_str(w, kg_atom_str(g, kinds[i]));
        kg_write_uint(w, counts[i]);
    }
    free(kinds);
    free(counts);
    return 0;
}

static int op_stats(kg_server *s, kg_slot *slot, const kg_value *req,
                    kg_writer *w, kg_error *err)
{
    (void)slot; (void)req;
    const kg_graph *g = s->g;
    kg_write_map(w, 12);
    kg_write_str(w, "entities");
    kg_write_uint(w, kg_entity_count(g));
    kg_write_str(w, "relations");
    kg_write_uint(w, kg_relation_count(g));
    kg_write_str(w, "entity_kinds");
    if (write_kinds(w, g, false))
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    kg_write_str(w, "relation_kinds");
    if (write_kinds(w, g, true))
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    kg_write_str(w, "memory_bytes");
    kg_write_uint(w, kg_graph_memory(g) + (s->base ? kg_graph_memory(s->base) : 0));
    kg_write_str(w, "rss_bytes");
    kg_write_uint(w, rss_bytes());
    kg_write_str(w, "uptime_s");
    kg_write_float(w, (double)(kg_query_clock_ns() - s->started_ns) / 1e9);
    kg_write_str(w, "requests");
    kg_write_map(w, 4);
    kg_write_str(w, "total");
    kg_write_uint(w, s->requests_total);
    kg_write_str(w, "bad");
    kg_write_uint(w, s->requests_bad);
    kg_write_str(w, "rounds");
    kg_write_uint(w, s->rounds);
    kg_write_str(w, "by_op");
    size_t used = 0;
    for (int i = 0; i < KG_OP_COUNT; i++)
        used += s->requests_by_op[i] > 0;
    kg_write_map(w, used);
    for (int i = 0; i < KG_OP_COUNT; i++) {
        if (!s->requests_by_op[i])
            continue;
        kg_write_str(w, kg_server_op_name(i));
        kg_write_uint(w, s->requests_by_op[i]);
    }
    kg_write_str(w, "journal");
    if (s->j) {
        kg_write_map(w, 5);
        kg_write_str(w, "seq");
        kg_write_uint(w, kg_journal_seq(s->j));
        kg_write_str(w, "snapshot_seq");
        kg_write_uint(w, kg_journal_snapshot_seq(s->j));
        kg_write_str(w, "bytes");
        kg_write_uint(w, kg_journal_bytes(s->j));
        write_kv_str(w, "fsync", kg_fsync_policy_name(kg_journal_fsync(s->j)));
        write_kv_str(w, "dir", kg_journal_dir(s->j));
    } else {
        kg_write_nil(w);
    }
    kg_write_str(w, "read_only");
    kg_write_bool(w, s->read_only);
    kg_write_str(w, "reloading");
    kg_write_bool(w, s->reloading);
    write_kv_str(w, "version", KG_VERSION);
    return 0;
}

/* {kind: count} of the relations on one side of e (in force on day, when
 * day != 0). The adjacency is sorted by kind, so kinds come in runs. */
static void write_degree_by_kind(kg_writer *w, const kg_graph *g, kg_eid e,
                                 kg_dir dir, int32_t day)
{
    kg_span sp = kg_adjacent(g, e, dir, 0);
    size_t kinds = 0;
    kg_atom prev = KG_NONE;
    for (size_t pass = 0; pass < 2; pass++) {
        if (pass == 1)
            kg_write_map(w, kinds);
        prev = KG_NONE;
        size_t count = 0;
        for (size_t i = 0; i <= sp.n; i++) {
            kg_atom k = i < sp.n ? kg_relation_kind_atom(g, sp.ids[i]) : KG_NONE;
            if (k != prev || i == sp.n) {
                if (prev != KG_NONE && count) {
                    if (pass == 0) {
                        kinds++;
                    } else {
                        kg_write_str(w, kg_atom_str(g, prev));
                        kg_write_uint(w, count);
                    }
                }
                prev = k;
                count = 0;
            }
            if (i < sp.n && (!day || kg_relation_in_force(g, sp.ids[i], day)))
                count++;
        }
    }
}

static int op_entity(kg_server *s, kg_slot *slot, const kg_value *req,
                     kg_writer *w, kg_error *err)
{
    (void)slot;
    const char *as_of;
    int32_t day;
    int rc = arg_as_of(req, &as_of, &day, err);
    if (rc)
        return rc;
    const char *name = arg_str(req, "name");
    kg_eid e = kg_entity_find(s->g, name);
    if (e == KG_NONE)
        return kg_error_set(err, KG_ENOTFOUND, "unknown entity \"%.200s\"", name);
    kg_write_map(w, 6);
    kg_proto_write_entity_fields(w, s->g, e);
    kg_write_str(w, "out");
    write_degree_by_kind(w, s->g, e, KG_OUT, day);
    kg_write_str(w, "in");
    write_degree_by_kind(w, s->g, e, KG_IN, day);
    return 0;
}

static int op_entities(kg_server *s, kg_slot *slot, const kg_value *req,
                       kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_entities_query q;
    memset(&q, 0, sizeof q);
    const char *as_of;
    int64_t offset;
    int rc;
    if ((rc = arg_as_of(req, &as_of, NULL, err)) ||
        (rc = arg_limit(s, req, &q.opts.limit, err)) ||
        (rc = arg_uint(req, "offset", 0, 0, &offset, err)))
        return rc;
    q.kind = arg_str(req, "kind");
    q.prefix = arg_str(req, "prefix");
    q.offset = (size_t)offset;
    q.opts.deadline = deadline(s);
    kg_eid_list res;
    if ((rc = kg_query_entities(s->g, &q, &res, err)))
        return rc;
    kg_write_map(w, 3);
    kg_write_str(w, "entities");
    kg_write_array(w, res.n);
    for (size_t i = 0; i < res.n; i++)
        kg_proto_write_entity(w, s->g, res.ids[i]);
    kg_write_str(w, "total");
    kg_write_uint(w, res.total);
    kg_write_str(w, "truncated");
    kg_write_bool(w, res.truncated);
    kg_eid_list_free(&res);
    return 0;
}

static int op_relations(kg_server *s, kg_slot *slot, const kg_value *req,
                        kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_relations_query q;
    memset(&q, 0, sizeof q);
    int rc;
    if ((rc = arg_as_of(req, &q.opts.as_of, NULL, err)) ||
        (rc = arg_limit(s, req, &q.opts.limit, err)))
        return rc;
    q.subject = arg_str(req, "subject");
    q.relation = arg_str(req, "relation");
    q.object = arg_str(req, "object");
    kg_pair where[KG_QUERY_MAX_QUALS];
    const kg_value *wv = arg(req, "where");
    if (wv) {
        if (wv->u.map.n > KG_QUERY_MAX_QUALS)
            return kg_error_set(err, KG_ELIMIT, "where: at most %d qualifiers",
                                KG_QUERY_MAX_QUALS);
        for (size_t i = 0; i < wv->u.map.n; i++) {
            const kg_kv *kv = &wv->u.map.items[i];
            if (!key_ok(kv))
                return kg_error_set(err, KG_EINVAL, "where: a key is empty or "
                                    "contains NUL");
            where[i].key = kv->key;
            where[i].value = NULL;
            if (kv->value.type != KG_VAL_NIL &&
                !(where[i].value = kg_value_cstr(&kv->value)))
                return kg_error_set(err, KG_EINVAL, "where.%.64s: expected str "
                                    "or nil", kv->key);
        }
        q.where = where;
        q.n_where = wv->u.map.n;
    }
    q.opts.deadline = deadline(s);
    kg_rid_list res;
    if ((rc = kg_query_relations(s->g, &q, &res, err)))
        return rc;
    kg_write_map(w, 2);
    kg_write_str(w, "relations");
    kg_write_array(w, res.n);
    for (size_t i = 0; i < res.n; i++)
        kg_proto_write_relation(w, s->g, res.ids[i]);
    kg_write_str(w, "truncated");
    kg_write_bool(w, res.truncated);
    kg_rid_list_free(&res);
    return 0;
}

static int op_neighbors(kg_server *s, kg_slot *slot, const kg_value *req,
                        kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_neighbors_query q;
    memset(&q, 0, sizeof q);
    strlist rels = {0};
    int rc;
    if ((rc = arg_as_of(req, &q.opts.as_of, NULL, err)) ||
        (rc = arg_limit(s, req, &q.opts.limit, err)) ||
        (rc = arg_dir(req, "direction", KG_OUT, &q.dir, err)) ||
        (rc = arg_depth(s, req, "depth", 1, &q.opts.max_depth, err)) ||
        (rc = arg_strings(req, "relations", true, &rels, err)))
        return rc;
    /* How much to say of each neighbour (docs/protocol.md, neighbors). */
    enum { FULL, BRIEF, IDS } detail = FULL;
    const char *dv = arg_str(req, "detail");
    if (dv && strcmp(dv, "brief") == 0)
        detail = BRIEF;
    else if (dv && strcmp(dv, "ids") == 0)
        detail = IDS;
    else if (dv && strcmp(dv, "full") != 0) {
        strlist_free(&rels);
        return kg_error_set(err, KG_EINVAL, "detail must be full, brief or ids");
    }
    q.entity = arg_str(req, "entity");
    q.relations = rels.v;
    q.n_relations = rels.n;
    q.opts.deadline = deadline(s);
    kg_neighbor_list res;
    rc = kg_query_neighbors(s->g, &q, &res, err);
    strlist_free(&rels);
    if (rc)
        return rc;
    kg_write_map(w, 2);
    kg_write_str(w, "neighbors");
    kg_write_array(w, res.n);
    /* Resolve the neighbours' ids a batch at a time (kg_entity_ids fetches
     * their memory in parallel); the via relations are then in cache. */
    enum { BATCH = 32 };
    for (size_t at = 0; at < res.n; at += BATCH) {
        size_t m = res.n - at < BATCH ? res.n - at : BATCH;
        kg_eid es[BATCH];
        const char *ids[BATCH];
        for (size_t i = 0; i < m; i++)
            es[i] = res.items[at + i].entity;
        kg_entity_ids(s->g, es, m, ids);
        for (size_t i = 0; i < m; i++) {
            const kg_neighbor *nb = &res.items[at + i];
            if (detail == IDS) {
                kg_write_str(w, ids[i]);
                continue;
            }
            /* brief and full share entity, kind, depth and from. */
            kg_write_map(w, detail == BRIEF ? 6 : 5);
            write_kv_str(w, "entity", ids[i]);
            write_kv_str(w, "kind", kg_entity_kind(s->g, nb->entity));
            kg_write_str(w, "depth");
            kg_write_uint(w, nb->depth);
            write_kv_str(w, "from", kg_entity_id(s->g, nb->from));
            if (detail == BRIEF) {
                write_kv_str(w, "relation", kg_relation_kind(s->g, nb->via));
                write_kv_str(w, "direction", nb->dir == KG_IN ? "in" : "out");
            } else {
                kg_write_str(w, "via");
                kg_proto_write_relation(w, s->g, nb->via);
            }
        }
    }
    kg_write_str(w, "truncated");
    kg_write_bool(w, res.truncated);
    kg_neighbor_list_free(&res);
    return 0;
}

static int op_path(kg_server *s, kg_slot *slot, const kg_value *req,
                   kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_path_query q;
    memset(&q, 0, sizeof q);
    strlist rels = {0};
    int rc;
    if ((rc = arg_as_of(req, &q.opts.as_of, NULL, err)) ||
        (rc = arg_limit(s, req, &q.opts.limit, err)) ||
        (rc = arg_dir(req, "direction", KG_OUT, &q.dir, err)) ||
        (rc = arg_depth(s, req, "max_length", s->cfg->max_depth,
                        &q.opts.max_depth, err)) ||
        (rc = arg_strings(req, "relations", true, &rels, err)))
        return rc;
    q.from = arg_str(req, "from");
    q.to = arg_str(req, "to");
    q.all = arg_bool(req, "all", false);
    q.relations = rels.v;
    q.n_relations = rels.n;
    q.opts.deadline = deadline(s);
    kg_path_list res;
    rc = kg_query_path(s->g, &q, &res, err);
    strlist_free(&rels);
    if (rc)
        return rc;
    kg_write_map(w, 3);
    kg_write_str(w, "paths");
    kg_write_array(w, res.n);
    for (size_t i = 0; i < res.n; i++) {
        kg_write_array(w, res.paths[i].n);
        for (size_t k = 0; k < res.paths[i].n; k++)
            kg_proto_write_relation(w, s->g, res.paths[i].steps[k].rel);
    }
    kg_write_str(w, "length");
    if (res.n)
        kg_write_uint(w, res.paths[0].n);
    else
        kg_write_nil(w);
    kg_write_str(w, "truncated");
    kg_write_bool(w, res.truncated);
    kg_path_list_free(&res);
    return 0;
}

static int op_match(kg_server *s, kg_slot *slot, const kg_value *req,
                    kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_match_query q;
    memset(&q, 0, sizeof q);
    int rc;
    if ((rc = arg_as_of(req, &q.opts.as_of, NULL, err)) ||
        (rc = arg_limit(s, req, &q.opts.limit, err)))
        return rc;
    const kg_value *pv = arg(req, "patterns");
    size_t np = kg_value_len(pv);
    if (np == 0)
        return kg_error_set(err, KG_EINVAL, "patterns: at least one pattern");
    if (np > KG_QUERY_MATCH_MAX_PATTERNS)
        return kg_error_set(err, KG_ELIMIT, "patterns: at most %d",
                            KG_QUERY_MATCH_MAX_PATTERNS);
    kg_match_pattern pats[KG_QUERY_MATCH_MAX_PATTERNS];
    static kg_pair quals[KG_QUERY_MATCH_MAX_PATTERNS][KG_QUERY_MAX_QUALS];
    for (size_t i = 0; i < np; i++) {
        const kg_value *p = kg_value_at(pv, i);
        size_t n = kg_value_len(p);
        if (p->type != KG_VAL_ARRAY || (n != 3 && n != 4))
            return kg_error_set(err, KG_EINVAL, "patterns[%zu]: expected "
                                "[subject, relation, object] or [subject, "
                                "relation, object, {qualifiers}]", i);
        const char *terms[3];
        for (size_t t = 0; t < 3; t++)
            if (!(terms[t] = kg_value_cstr(kg_value_at(p, t))) || !terms[t][0])
                return kg_error_set(err, KG_EINVAL, "patterns[%zu][%zu]: "
                                    "expected a non-empty string", i, t);
        memset(&pats[i], 0, sizeof pats[i]);
        pats[i].subject = terms[0];
        pats[i].relation = terms[1];
        pats[i].object = terms[2];
        if (n == 4) {
            const kg_value *qv = kg_value_at(p, 3);
            if (qv->type != KG_VAL_MAP)
                return kg_error_set(err, KG_EINVAL, "patterns[%zu][3]: expected "
                                    "a map of qualifiers", i);
            if (qv->u.map.n > KG_QUERY_MAX_QUALS)
                return kg_error_set(err, KG_ELIMIT, "patterns[%zu][3]: at most "
                                    "%d qualifiers", i, KG_QUERY_MAX_QUALS);
            for (size_t k = 0; k < qv->u.map.n; k++) {
                const kg_kv *kv = &qv->u.map.items[k];
                if (!key_ok(kv))
                    return kg_error_set(err, KG_EINVAL, "patterns[%zu][3]: a "
                                        "key is empty or contains NUL", i);
                quals[i][k].key = kv->key;
                quals[i][k].value = NULL;
                if (kv->value.type != KG_VAL_NIL &&
                    !(quals[i][k].value = kg_value_cstr(&kv->value)))
                    return kg_error_set(err, KG_EINVAL, "patterns[%zu][3].%.64s: "
                                        "expected str or nil", i, kv->key);
            }
            pats[i].quals = quals[i];
            pats[i].n_quals = qv->u.map.n;
        }
    }
    q.patterns = pats;
    q.n_patterns = np;
    q.opts.deadline = deadline(s);
    kg_match_result res;
    if ((rc = kg_query_match(s->g, &q, &res, err)))
        return rc;
    kg_write_map(w, 5);
    kg_write_str(w, "variables");
    kg_write_array(w, res.n_vars);
    for (size_t i = 0; i < res.n_vars; i++) {
        char name[128];
        snprintf(name, sizeof name, "?%s", res.vars[i]);
        kg_write_str(w, name);
    }
    kg_write_str(w, "rows");
    kg_write_array(w, res.n_rows);
    for (size_t r = 0; r < res.n_rows; r++) {
        kg_write_array(w, res.n_vars);
        for (size_t v = 0; v < res.n_vars; v++)
            kg_write_str(w, res.cells[r * res.n_vars + v]);
    }
    kg_write_str(w, "truncated");
    kg_write_bool(w, res.truncated);
    kg_write_str(w, "plan");
    kg_write_array(w, res.n_plan);
    for (size_t i = 0; i < res.n_plan; i++)
        kg_write_uint(w, res.plan[i].pattern);
    kg_write_str(w, "estimates");
    kg_write_array(w, res.n_plan);
    for (size_t i = 0; i < res.n_plan; i++)
        kg_write_float(w, res.plan[i].estimate);
    kg_match_result_free(&res);
    return 0;
}

/* "graph" (maps) or a text format; 0 when graph. */
static int arg_format(const kg_value *req, const char *dflt, kg_format *out,
                      kg_error *err)
{
    const char *f = arg_str(req, "format");
    if (!f)
        f = dflt;
    *out = KG_FORMAT_AUTO;
    if (strcmp(f, "graph") == 0)
        return 0;
    if (strcmp(f, "dot") == 0 || strcmp(f, "tsv") == 0 || strcmp(f, "json") == 0) {
        *out = kg_format_from_name(f);
        return 0;
    }
    return kg_error_set(err, KG_EUNSUPPORTED, "format '%.32s' (graph, dot, tsv "
                        "or json)", f);
}

/* A graph in the requested shape, plus "truncated". */
static int write_graph_as(kg_writer *w, const kg_graph *g, kg_format fmt,
                          bool truncated, kg_error *err)
{
    if (fmt == KG_FORMAT_AUTO) {
        write_graph(w, g, 1);
    } else {
        char *text;
        size_t len;
        int rc = kg_write_buffer(g, fmt, &text, &len, err);
        if (rc)
            return rc;
        kg_write_map(w, 3);
        write_kv_str(w, "format", kg_format_name(fmt));
        kg_write_str(w, "text");
        kg_write_strn(w, text, len);
        free(text);
    }
    kg_write_str(w, "truncated");
    kg_write_bool(w, truncated);
    return 0;
}

static int op_subgraph(kg_server *s, kg_slot *slot, const kg_value *req,
                       kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_subgraph_query q;
    memset(&q, 0, sizeof q);
    strlist rels = {0}, seeds = {0};
    kg_format fmt;
    int rc;
    if ((rc = arg_as_of(req, &q.opts.as_of, NULL, err)) ||
        (rc = arg_limit(s, req, &q.opts.limit, err)) ||
        (rc = arg_dir(req, "direction", KG_BOTH, &q.dir, err)) ||
        (rc = arg_depth(s, req, "depth", 1, &q.opts.max_depth, err)) ||
        (rc = arg_format(req, "graph", &fmt, err)))
        return rc;
    if ((rc = arg_strings(req, "seeds", true, &seeds, err)))
        return rc;
    if (seeds.n == 0) {
        strlist_free(&seeds);
        return kg_error_set(err, KG_EINVAL, "seeds: at least one entity");
    }
    if ((rc = arg_strings(req, "relations", true, &rels, err))) {
        strlist_free(&seeds);
        return rc;
    }
    q.seeds = seeds.v;
    q.n_seeds = seeds.n;
    q.relations = rels.v;
    q.n_relations = rels.n;
    q.opts.deadline = deadline(s);
    kg_subgraph res;
    rc = kg_query_subgraph(s->g, &q, &res, err);
    strlist_free(&seeds);
    strlist_free(&rels);
    if (rc)
        return rc;
    rc = write_graph_as(w, res.graph, fmt, res.truncated, err);
    kg_subgraph_free(&res);
    return rc;
}

static int op_export(kg_server *s, kg_slot *slot, const kg_value *req,
                     kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_format fmt;
    const char *as_of;
    int rc;
    if ((rc = arg_as_of(req, &as_of, NULL, err)) ||
        (rc = arg_format(req, "dot", &fmt, err)))
        return rc;
    if (!as_of)
        return write_graph_as(w, s->g, fmt, false, err);
    /* As of a date: every entity, and the relations in force then - the
     * subgraph one step around all entities. */
    size_t n = kg_entity_count(s->g);
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    size_t k = 0;
    for (kg_eid e = kg_entity_first(s->g); e != KG_NONE; e = kg_entity_next(s->g, e))
        ids[k++] = kg_entity_id(s->g, e);
    if (k == 0) {
        free(ids);
        return write_graph_as(w, s->g, fmt, false, err);
    }
    kg_subgraph_query q;
    memset(&q, 0, sizeof q);
    q.seeds = ids;
    q.n_seeds = k;
    q.dir = KG_BOTH;
    q.opts.as_of = as_of;
    q.opts.max_depth = 1;
    q.opts.deadline = deadline(s);
    kg_subgraph res;
    rc = kg_query_subgraph(s->g, &q, &res, err);
    free(ids);
    if (rc)
        return rc;
    rc = write_graph_as(w, res.graph, fmt, false, err);
    kg_subgraph_free(&res);
    return rc;
}

static int op_add(kg_server *s, kg_slot *slot, const kg_value *req,
                  kg_writer *w, kg_error *err)
{
    int rc = kg_proto_request_to_batch(req, false, slot->batch, err);
    if (rc)
        return rc;
    /* Count what is new before applying (merges and existing facts are
     * not errors: adding is idempotent). */
    size_t ent_added = 0, ent_merged = 0, rel_added = 0, rel_existing = 0;
    for (size_t i = 0; i < kg_batch_count(slot->batch); i++) {
        const kg_change *c = kg_batch_get(slot->batch, i);
        if (c->op == KG_CHANGE_ENTITY_ADD) {
            if (kg_entity_find(s->g, c->u.entity.id) == KG_NONE)
                ent_added++;
            else
                ent_merged++;
        } else if (c->op == KG_CHANGE_RELATION_ADD) {
            if (kg_relation_find(s->g, &c->u.relation) == KG_NONE)
                rel_added++;
            else
                rel_existing++;
        }
    }
    uint64_t seq = current_seq(s);
    if (kg_batch_count(slot->batch)) {
        if ((rc = kg_server_commit(s, slot, err)))
            return rc;
        seq = slot->seq;
    }
    kg_write_map(w, 5);
    kg_write_str(w, "entities_added");
    kg_write_uint(w, ent_added);
    kg_write_str(w, "entities_merged");
    kg_write_uint(w, ent_merged);
    kg_write_str(w, "relations_added");
    kg_write_uint(w, rel_added);
    kg_write_str(w, "relations_existing");
    kg_write_uint(w, rel_existing);
    kg_write_str(w, "seq");
    kg_write_uint(w, seq);
    return 0;
}

static int op_remove(kg_server *s, kg_slot *slot, const kg_value *req,
                     kg_writer *w, kg_error *err)
{
    int rc = kg_proto_request_to_batch(req, true, slot->batch, err);
    if (rc)
        return rc;
    size_t ne = kg_entity_count(s->g), nr = kg_relation_count(s->g);
    uint64_t seq = current_seq(s);
    if (kg_batch_count(slot->batch)) {
        if ((rc = kg_server_commit(s, slot, err)))
            return rc;
        seq = slot->seq;
    }
    kg_write_map(w, 3);
    kg_write_str(w, "entities_removed");
    kg_write_uint(w, ne - kg_entity_count(s->g));
    kg_write_str(w, "relations_removed");
    kg_write_uint(w, nr - kg_relation_count(s->g));
    kg_write_str(w, "seq");
    kg_write_uint(w, seq);
    return 0;
}

static int op_extract(kg_server *s, kg_slot *slot, const kg_value *req,
                      kg_writer *w, kg_error *err)
{
    const kg_value *tv = arg(req, "text");
    bool commit = arg_bool(req, "commit", false);
    kg_extract_options o = {arg_str(req, "source"), arg_str(req, "date")};
    if (!s->x) {
        /* Built on first use (it reads data files); the served graph is
         * its gazetteer. */
        s->x = kg_extractor_new(s->g, NULL, err);
        if (!s->x)
            return err && err->code ? err->code : KG_ENOMEM;
    }
    int rc = kg_extract_text(s->x, tv->u.str.ptr, tv->u.str.len, &o,
                             slot->batch, NULL, err);
    if (rc)
        return rc;
    bool committed = false;
    if (commit && kg_batch_count(slot->batch)) {
        if ((rc = kg_server_commit(s, slot, err)))
            return rc;
        committed = true;
    }
    size_t ne = 0, nr = 0;
    for (size_t i = 0; i < kg_batch_count(slot->batch); i++) {
        kg_change_op op = kg_batch_get(slot->batch, i)->op;
        ne += op == KG_CHANGE_ENTITY_ADD;
        nr += op == KG_CHANGE_RELATION_ADD;
    }
    kg_write_map(w, 4);
    kg_write_str(w, "entities");
    kg_write_array(w, ne);
    for (size_t i = 0; i < kg_batch_count(slot->batch); i++) {
        const kg_change *c = kg_batch_get(slot->batch, i);
        if (c->op == KG_CHANGE_ENTITY_ADD)
            kg_proto_write_entity_spec(w, &c->u.entity);
    }
    kg_write_str(w, "relations");
    kg_write_array(w, nr);
    for (size_t i = 0; i < kg_batch_count(slot->batch); i++) {
        const kg_change *c = kg_batch_get(slot->batch, i);
        if (c->op == KG_CHANGE_RELATION_ADD)
            kg_proto_write_relation_spec(w, &c->u.relation);
    }
    kg_write_str(w, "committed");
    kg_write_bool(w, committed);
    kg_write_str(w, "seq");
    if (committed)
        kg_write_uint(w, slot->seq);
    else
        kg_write_nil(w);
    return 0;
}

static int op_snapshot(kg_server *s, kg_slot *slot, const kg_value *req,
                       kg_writer *w, kg_error *err)
{
    (void)slot; (void)req;
    if (!s->j)
        return kg_error_set(err, KG_EUNSUPPORTED, "no data directory (start "
                            "kgd with --data)");
    if (s->read_only)
        return kg_error_set(err, KG_EIO, "the server is read-only after a "
                            "journal failure");
    kg_snapshot_info info;
    int rc = kg_journal_snapshot(s->j, s->base, s->g, &info, err);
    if (rc)
        return rc;
    kg_log(KG_LOG_INFO, "snapshot %s: %llu bytes, seq %llu", info.path,
           (unsigned long long)info.bytes, (unsigned long long)info.seq);
    kg_write_map(w, 3);
    write_kv_str(w, "path", info.path);
    kg_write_str(w, "bytes");
    kg_write_uint(w, info.bytes);
    kg_write_str(w, "seq");
    kg_write_uint(w, info.seq);
    return 0;
}

static int op_reload(kg_server *s, kg_slot *slot, const kg_value *req,
                     kg_writer *w, kg_error *err)
{
    (void)w;
    int rc = kg_server_reload_start(s, err);
    if (rc)
        return rc;
    if (kg_server_reload_defer(s, slot, kg_value_get(req, "id")))
        return kg_error_set(err, KG_ENOMEM, "out of memory (the reload goes on)");
    return 0;
}

/* ---- the table ----------------------------------------------------------- */

#define Q_ARGS {"as_of", T_STR, false}, {"limit", T_INT, false}

static const arg_spec args_none[] = {{NULL, 0, false}};
static const arg_spec args_entity[] = {
    {"name", T_STR, true}, {"as_of", T_STR, false}, {NULL, 0, false}};
static const arg_spec args_entities[] = {
    {"kind", T_STR, false}, {"prefix", T_STR, false}, {"offset", T_INT, false},
    Q_ARGS, {NULL, 0, false}};
static const arg_spec args_relations[] = {
    {"subject", T_STR, false}, {"relation", T_STR, false},
    {"object", T_STR, false}, {"where", T_MAP, false}, Q_ARGS, {NULL, 0, false}};
static const arg_spec args_neighbors[] = {
    {"entity", T_STR, true}, {"direction", T_STR, false},
    {"relations", T_ARRAY, false}, {"depth", T_INT, false},
    {"detail", T_STR, false}, Q_ARGS, {NULL, 0, false}};
static const arg_spec args_path[] = {
    {"from", T_STR, true}, {"to", T_STR, true}, {"relations", T_ARRAY, false},
    {"max_length", T_INT, false}, {"direction", T_STR, false},
    {"all", T_BOOL, false}, Q_ARGS, {NULL, 0, false}};
static const arg_spec args_match[] = {
    {"patterns", T_ARRAY, true}, Q_ARGS, {NULL, 0, false}};
static const arg_spec args_subgraph[] = {
    {"seeds", T_ARRAY, true}, {"depth", T_INT, false},
    {"relations", T_ARRAY, false}, {"direction", T_STR, false},
    {"format", T_STR, false}, Q_ARGS, {NULL, 0, false}};
static const arg_spec args_export[] = {
    {"format", T_STR, false}, {"as_of", T_STR, false}, {NULL, 0, false}};
static const arg_spec args_write[] = {
    {"entities", T_ARRAY, false}, {"relations", T_ARRAY, false},
    {NULL, 0, false}};
static const arg_spec args_extract[] = {
    {"text", T_STR, true}, {"source", T_STR, false}, {"date", T_STR, false},
    {"commit", T_BOOL, false}, {NULL, 0, false}};

/* Indexed by KG_OP_*. */
static const op_def ops[KG_OP_COUNT] = {
    [KG_OP_PING] = {"ping", op_ping, args_none},
    [KG_OP_STATS] = {"stats", op_stats, args_none},
    [KG_OP_ENTITY] = {"entity", op_entity, args_entity},
    [KG_OP_ENTITIES] = {"entities", op_entities, args_entities},
    [KG_OP_RELATIONS] = {"relations", op_relations, args_relations},
    [KG_OP_NEIGHBORS] = {"neighbors", op_neighbors, args_neighbors},
    [KG_OP_PATH] = {"path", op_path, args_path},
    [KG_OP_MATCH] = {"match", op_match, args_match},
    [KG_OP_SUBGRAPH] = {"subgraph", op_subgraph, args_subgraph},
    [KG_OP_EXPORT] = {"export", op_export, args_export},
    [KG_OP_ADD] = {"add", op_add, args_write},
    [KG_OP_REMOVE] = {"remove", op_remove, args_write},
    [KG_OP_EXTRACT] = {"extract", op_extract, args_extract},
    [KG_OP_SNAPSHOT] = {"snapshot", op_snapshot, args_none},
    [KG_OP_RELOAD] = {"reload", op_reload, args_none},
};

const char *kg_server_op_name(int op)
{
    return op >= 0 && op < KG_OP_COUNT ? ops[op].name : "?";
}

void kg_server_dispatch(kg_server *s, kg_slot *slot)
{
    const kg_value *req = slot->req;
    kg_writer *w = slot->w;
    const kg_value *id = kg_value_get(req, "id");
    const kg_value *opv = kg_value_get(req, "op");
    kg_error err;
    kg_error_clear(&err);
    if (!opv) {
        s->requests_bad++;
        kg_server_write_error(w, id, KG_EINVAL, "missing 'op'");
        return;
    }
    const char *name = kg_value_cstr(opv);
    if (!name) {
        s->requests_bad++;
        kg_server_write_error(w, id, KG_EINVAL, "'op' must be a string");
        return;
    }
    int i;
    for (i = 0; i < KG_OP_COUNT; i++)
        if (strcmp(ops[i].name, name) == 0)
            break;
    if (i == KG_OP_COUNT) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown op '%.64s'", name);
        s->requests_bad++;
        kg_server_write_error(w, id, KG_EUNSUPPORTED, msg);
        return;
    }
    s->requests_by_op[i]++;
    const op_def *op = &ops[i];
    int rc = check_args(op, req, &err);
    if (rc) {
        kg_server_write_error(w, id, rc, err.message);
        return;
    }
    kg_write_map(w, 3);
    write_id(w, id);
    kg_write_str(w, "ok");
    kg_write_bool(w, true);
    kg_write_str(w, "result");
    rc = op->fn(s, slot, req, w, &err);
    if (rc == 0 && kg_writer_error(w))
        rc = kg_error_set(&err, KG_ENOMEM, "out of memory writing the reply");
    if (rc) {
        kg_writer_reset(w);
        kg_server_write_error(w, id, rc, err.message);
        if (rc == KG_ETIMEOUT || rc == KG_ENOMEM || rc == KG_EIO)
            kg_log(KG_LOG_WARN, "%s: %s", name, err.message);
        else
            kg_log(KG_LOG_DEBUG, "%s: %s: %s", name, kg_server_error_code(rc),
                   err.message);
    }
}
