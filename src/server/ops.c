/* ops.c - the operations of the protocol (docs/protocol.md).
 *
 * A table in the style of Redis' command table: each op has a name, a
 * handler and the arguments it accepts and needs. Every argument name of
 * the protocol is in one table with the types it accepts (a name means
 * the same in every op). One pass over the request map sorts its values
 * into slots by name and checks them before the handler runs, so
 * handlers read their arguments by index without re-checking types, and
 * an unknown argument is an `invalid` error rather than silently
 * ignored. Handlers write only the `result` value; the reply envelope
 * and errors are written here.
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

/* Every argument name of the protocol. */
typedef enum arg_key {
    A_NAME, A_AS_OF, A_LIMIT, A_KIND, A_PREFIX, A_OFFSET, A_SUBJECT,
    A_RELATION, A_OBJECT, A_WHERE, A_ENTITY, A_DIRECTION, A_RELATIONS,
    A_DEPTH, A_DETAIL, A_FROM, A_TO, A_MAX_LENGTH, A_ALL, A_PATTERNS,
    A_SEEDS, A_FORMAT, A_ENTITIES, A_TEXT, A_SOURCE, A_DATE, A_COMMIT,
    A_COUNT
} arg_key;

typedef uint32_t arg_set; /* bit k: argument k */
#define ARG(k) ((arg_set)1 << (k))
_Static_assert(A_COUNT <= 32, "every argument name needs a bit of arg_set");

static const struct arg_def {
    const char *name;
    size_t len;
    unsigned types;
} arg_defs[A_COUNT] = {
#define DEF(k, n, t) [k] = {n, sizeof n - 1, t}
    DEF(A_NAME, "name", T_STR), DEF(A_AS_OF, "as_of", T_STR),
    DEF(A_LIMIT, "limit", T_INT), DEF(A_KIND, "kind", T_STR),
    DEF(A_PREFIX, "prefix", T_STR), DEF(A_OFFSET, "offset", T_INT),
    DEF(A_SUBJECT, "subject", T_STR), DEF(A_RELATION, "relation", T_STR),
    DEF(A_OBJECT, "object", T_STR), DEF(A_WHERE, "where", T_MAP),
    DEF(A_ENTITY, "entity", T_STR), DEF(A_DIRECTION, "direction", T_STR),
    DEF(A_RELATIONS, "relations", T_ARRAY), DEF(A_DEPTH, "depth", T_INT),
    DEF(A_DETAIL, "detail", T_STR), DEF(A_FROM, "from", T_STR),
    DEF(A_TO, "to", T_STR), DEF(A_MAX_LENGTH, "max_length", T_INT),
    DEF(A_ALL, "all", T_BOOL), DEF(A_PATTERNS, "patterns", T_ARRAY),
    DEF(A_SEEDS, "seeds", T_ARRAY), DEF(A_FORMAT, "format", T_STR),
    DEF(A_ENTITIES, "entities", T_ARRAY), DEF(A_TEXT, "text", T_STR),
    DEF(A_SOURCE, "source", T_STR), DEF(A_DATE, "date", T_STR),
    DEF(A_COMMIT, "commit", T_BOOL),
#undef DEF
};

/* A request sorted by argument name. */
typedef struct op_args {
    const kg_value *req;        /* the whole map */
    const kg_value *id;         /* NULL when absent */
    const kg_value *v[A_COUNT]; /* NULL when absent or nil */
} op_args;

typedef int (*op_fn)(kg_server *s, kg_slot *slot, const op_args *a,
                     kg_writer *w, kg_error *err);

typedef struct op_def {
    const char *name;
    op_fn fn;
    arg_set takes;    /* the arguments it accepts (op and id aside) */
    arg_set requires; /* of which these must be there and not nil */
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

/* The request's fields, in one pass over its map: `op`, `id`, and every
 * other value in the slot of its name. The first duplicated key, or name
 * that no op takes, is kept in bad for check_args to report once the op
 * is known; the pass goes on so that `op` and `id` are found wherever
 * they are. */
typedef struct req_fields {
    const kg_value *op;
    arg_set given;        /* names present, nil or not */
    arg_set present;      /* names present and not nil */
    const kg_kv *bad;     /* first duplicate or unknown name, or NULL */
    bool bad_duplicate;
} req_fields;

static int arg_find(const char *key, size_t len)
{
    /* Length and first byte rule out nearly every other name without a
     * call to memcmp. */
    for (int k = 0; k < A_COUNT; k++)
        if (arg_defs[k].len == len && arg_defs[k].name[0] == key[0] &&
            memcmp(arg_defs[k].name, key, len) == 0)
            return k;
    return -1;
}

static void read_fields(const kg_value *req, req_fields *f, op_args *a)
{
    memset(f, 0, sizeof *f);
    a->req = req;
    a->id = NULL;
    memset(a->v, 0, sizeof a->v);
    for (size_t i = 0; i < req->u.map.n; i++) {
        const kg_kv *kv = &req->u.map.items[i];
        const kg_value **slot;
        int k = -1;
        if (kv->key_len == 2 && memcmp(kv->key, "op", 2) == 0)
            slot = &f->op;
        else if (kv->key_len == 2 && memcmp(kv->key, "id", 2) == 0)
            slot = &a->id;
        else if ((k = arg_find(kv->key, kv->key_len)) >= 0)
            slot = &a->v[k];
        else {
            if (!f->bad)
                f->bad = kv;
            continue;
        }
        if (*slot || (k >= 0 && (f->given & ARG(k)))) {
            if (!f->bad) {
                f->bad = kv;
                f->bad_duplicate = true;
            }
            continue;
        }
        if (k >= 0) {
            f->given |= ARG(k);
            if (kv->value.type == KG_VAL_NIL)
                continue; /* nil stands for absent */
            f->present |= ARG(k);
        }
        *slot = &kv->value;
    }
}

/* The shape check: every name taken by the op, of an accepted type, no
 * duplicates, the required ones present and not nil. */
static int check_args(const op_def *op, const req_fields *f, const op_args *a,
                      kg_error *err)
{
    if (f->bad && f->bad_duplicate)
        return kg_error_set(err, KG_EINVAL, "argument '%.64s' given twice",
                            f->bad->key);
    if (f->bad)
        return kg_error_set(err, KG_EINVAL, "unknown argument '%.64s' for "
                            "op '%s'", f->bad->key, op->name);
    if (a->id && (a->id->type == KG_VAL_ARRAY || a->id->type == KG_VAL_MAP))
        return kg_error_set(err, KG_EINVAL, "'id' must be a scalar");
    arg_set extra = f->given & ~op->takes;
    if (extra)
        return kg_error_set(err, KG_EINVAL, "unknown argument '%s' for op '%s'",
                            arg_defs[__builtin_ctz(extra)].name, op->name);
    for (arg_set b = f->present; b; b &= b - 1) {
        int k = __builtin_ctz(b);
        const kg_value *v = a->v[k];
        unsigned t = type_bit(v);
        if (!(arg_defs[k].types & t))
            return kg_error_set(err, KG_EINVAL, "argument '%s': expected %s, "
                                "got %s", arg_defs[k].name,
                                types_text(arg_defs[k].types),
                                kg_value_type_name(v->type));
        if (t == T_STR && !kg_value_cstr(v))
            return kg_error_set(err, KG_EINVAL, "argument '%s': string "
                                "contains NUL", arg_defs[k].name);
    }
    arg_set missing = op->requires & ~f->present;
    if (missing)
        return kg_error_set(err, KG_EINVAL, "op '%s' needs argument '%s'",
                            op->name, arg_defs[__builtin_ctz(missing)].name);
    return 0;
}

static const char *arg_str(const op_args *a, arg_key k)
{
    return kg_value_cstr(a->v[k]);
}

static bool arg_bool(const op_args *a, arg_key k, bool dflt)
{
    return a->v[k] ? a->v[k]->u.b : dflt;
}

static uint64_t deadline(const kg_server *s)
{
    if (!s->cfg->query_timeout_ms)
        return 0;
    return kg_query_clock_coarse_ns() +
           (uint64_t)s->cfg->query_timeout_ms * 1000000u;
}

/* limit: 1.., capped by max_results; absent = max_results. */
static int arg_limit(const kg_server *s, const op_args *a, size_t *out,
                     kg_error *err)
{
    const kg_value *v = a->v[A_LIMIT];
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

static int arg_uint(const op_args *a, arg_key k, int64_t dflt, int64_t min,
                    int64_t *out, kg_error *err)
{
    const kg_value *v = a->v[k];
    *out = dflt;
    if (!v)
        return 0;
    if (kg_value_get_int(v, out) || *out < min)
        return kg_error_set(err, KG_EINVAL, "%s must be an integer >= %lld",
                            arg_defs[k].name, (long long)min);
    return 0;
}

/* A depth-like argument: 1..max_depth, beyond is a `limit` error. */
static int arg_depth(const kg_server *s, const op_args *a, arg_key k,
                     unsigned dflt, unsigned *out, kg_error *err)
{
    int64_t n;
    int rc = arg_uint(a, k, dflt, 1, &n, err);
    if (rc)
        return rc;
    if (n > (int64_t)s->cfg->max_depth)
        return kg_error_set(err, KG_ELIMIT, "%s %lld exceeds max_depth %u",
                            arg_defs[k].name, (long long)n, s->cfg->max_depth);
    *out = (unsigned)n;
    return 0;
}

static int arg_as_of(const op_args *a, const char **out, int32_t *day,
                     kg_error *err)
{
    *out = arg_str(a, A_AS_OF);
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

/* What every query takes: as_of, limit, and the deadline of this request. */
static int arg_query_opts(const kg_server *s, const op_args *a,
                          kg_query_opts *o, kg_error *err)
{
    int rc;
    if ((rc = arg_as_of(a, &o->as_of, NULL, err)) ||
        (rc = arg_limit(s, a, &o->limit, err)))
        return rc;
    o->deadline = deadline(s);
    return 0;
}

static int arg_dir(const op_args *a, kg_dir dflt, kg_dir *out, kg_error *err)
{
    const char *d = arg_str(a, A_DIRECTION);
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
        return kg_error_set(err, KG_EINVAL, "direction must be out, in or both");
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

static int arg_strings(const op_args *args, arg_key k, bool nonempty,
                       strlist *l, kg_error *err)
{
    const kg_value *a = args->v[k];
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
                                arg_defs[k].name, i, nonempty ? "non-empty " : "");
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

/* A map of qualifiers (key -> str, or nil for "any value") as pairs into
 * out[KG_QUERY_MAX_QUALS]; `what` names the map in errors. */
static int arg_quals(const kg_value *map, kg_pair *out, const char *what,
                     kg_error *err)
{
    if (map->u.map.n > KG_QUERY_MAX_QUALS)
        return kg_error_set(err, KG_ELIMIT, "%s: at most %d qualifiers", what,
                            KG_QUERY_MAX_QUALS);
    for (size_t i = 0; i < map->u.map.n; i++) {
        const kg_kv *kv = &map->u.map.items[i];
        if (!key_ok(kv))
            return kg_error_set(err, KG_EINVAL, "%s: a key is empty or "
                                "contains NUL", what);
        out[i].key = kv->key;
        out[i].value = NULL;
        if (kv->value.type != KG_VAL_NIL &&
            !(out[i].value = kg_value_cstr(&kv->value)))
            return kg_error_set(err, KG_EINVAL, "%s.%.64s: expected str or nil",
                                what, kv->key);
    }
    return 0;
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

static int op_ping(kg_server *s, kg_slot *slot, const op_args *a,
                   kg_writer *w, kg_error *err)
{
    (void)s; (void)slot; (void)a; (void)err;
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

static int op_stats(kg_server *s, kg_slot *slot, const op_args *a,
                    kg_writer *w, kg_error *err)
{
    (void)slot; (void)a;
    const kg_graph *g = s->g;
    kg_write_map(w, 13);
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
    write_kv_str(w, "feed", s->published);
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

static int op_entity(kg_server *s, kg_slot *slot, const op_args *a,
                     kg_writer *w, kg_error *err)
{
    (void)slot;
    const char *as_of;
    int32_t day;
    int rc = arg_as_of(a, &as_of, &day, err);
    if (rc)
        return rc;
    const char *name = arg_str(a, A_NAME);
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

static int op_entities(kg_server *s, kg_slot *slot, const op_args *a,
                       kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_entities_query q;
    memset(&q, 0, sizeof q);
    int64_t offset;
    int rc;
    if ((rc = arg_query_opts(s, a, &q.opts, err)) ||
        (rc = arg_uint(a, A_OFFSET, 0, 0, &offset, err)))
        return rc;
    q.kind = arg_str(a, A_KIND);
    q.prefix = arg_str(a, A_PREFIX);
    q.offset = (size_t)offset;
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

static int op_relations(kg_server *s, kg_slot *slot, const op_args *a,
                        kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_relations_query q;
    memset(&q, 0, sizeof q);
    int rc;
    if ((rc = arg_query_opts(s, a, &q.opts, err)))
        return rc;
    q.subject = arg_str(a, A_SUBJECT);
    q.relation = arg_str(a, A_RELATION);
    q.object = arg_str(a, A_OBJECT);
    kg_pair where[KG_QUERY_MAX_QUALS];
    if (a->v[A_WHERE]) {
        if ((rc = arg_quals(a->v[A_WHERE], where, "where", err)))
            return rc;
        q.where = where;
        q.n_where = a->v[A_WHERE]->u.map.n;
    }
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

static int op_neighbors(kg_server *s, kg_slot *slot, const op_args *a,
                        kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_neighbors_query q;
    memset(&q, 0, sizeof q);
    strlist rels = {0};
    int rc;
    if ((rc = arg_query_opts(s, a, &q.opts, err)) ||
        (rc = arg_dir(a, KG_OUT, &q.dir, err)) ||
        (rc = arg_depth(s, a, A_DEPTH, 1, &q.opts.max_depth, err)) ||
        (rc = arg_strings(a, A_RELATIONS, true, &rels, err)))
        return rc;
    /* How much to say of each neighbour (docs/protocol.md, neighbors). */
    enum { FULL, BRIEF, IDS } detail = FULL;
    const char *dv = arg_str(a, A_DETAIL);
    if (dv && strcmp(dv, "brief") == 0)
        detail = BRIEF;
    else if (dv && strcmp(dv, "ids") == 0)
        detail = IDS;
    else if (dv && strcmp(dv, "full") != 0) {
        strlist_free(&rels);
        return kg_error_set(err, KG_EINVAL, "detail must be full, brief or ids");
    }
    q.entity = arg_str(a, A_ENTITY);
    q.relations = rels.v;
    q.n_relations = rels.n;
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

static int op_path(kg_server *s, kg_slot *slot, const op_args *a,
                   kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_path_query q;
    memset(&q, 0, sizeof q);
    strlist rels = {0};
    int rc;
    if ((rc = arg_query_opts(s, a, &q.opts, err)) ||
        (rc = arg_dir(a, KG_OUT, &q.dir, err)) ||
        (rc = arg_depth(s, a, A_MAX_LENGTH, s->cfg->max_depth,
                        &q.opts.max_depth, err)) ||
        (rc = arg_strings(a, A_RELATIONS, true, &rels, err)))
        return rc;
    q.from = arg_str(a, A_FROM);
    q.to = arg_str(a, A_TO);
    q.all = arg_bool(a, A_ALL, false);
    q.relations = rels.v;
    q.n_relations = rels.n;
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

static int op_match(kg_server *s, kg_slot *slot, const op_args *a,
                    kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_match_query q;
    memset(&q, 0, sizeof q);
    int rc;
    if ((rc = arg_query_opts(s, a, &q.opts, err)))
        return rc;
    const kg_value *pv = a->v[A_PATTERNS];
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
            char what[32];
            snprintf(what, sizeof what, "patterns[%zu][3]", i);
            if ((rc = arg_quals(qv, quals[i], what, err)))
                return rc;
            pats[i].quals = quals[i];
            pats[i].n_quals = qv->u.map.n;
        }
    }
    q.patterns = pats;
    q.n_patterns = np;
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
static int arg_format(const op_args *a, const char *dflt, kg_format *out,
                      kg_error *err)
{
    const char *f = arg_str(a, A_FORMAT);
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

static int op_subgraph(kg_server *s, kg_slot *slot, const op_args *a,
                       kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_subgraph_query q;
    memset(&q, 0, sizeof q);
    strlist rels = {0}, seeds = {0};
    kg_format fmt;
    int rc;
    if ((rc = arg_query_opts(s, a, &q.opts, err)) ||
        (rc = arg_dir(a, KG_BOTH, &q.dir, err)) ||
        (rc = arg_depth(s, a, A_DEPTH, 1, &q.opts.max_depth, err)) ||
        (rc = arg_format(a, "graph", &fmt, err)))
        return rc;
    if ((rc = arg_strings(a, A_SEEDS, true, &seeds, err)))
        return rc;
    if (seeds.n == 0) {
        strlist_free(&seeds);
        return kg_error_set(err, KG_EINVAL, "seeds: at least one entity");
    }
    if ((rc = arg_strings(a, A_RELATIONS, true, &rels, err))) {
        strlist_free(&seeds);
        return rc;
    }
    q.seeds = seeds.v;
    q.n_seeds = seeds.n;
    q.relations = rels.v;
    q.n_relations = rels.n;
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

static int op_export(kg_server *s, kg_slot *slot, const op_args *a,
                     kg_writer *w, kg_error *err)
{
    (void)slot;
    kg_format fmt;
    const char *as_of;
    int rc;
    if ((rc = arg_as_of(a, &as_of, NULL, err)) ||
        (rc = arg_format(a, "dot", &fmt, err)))
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

static int op_add(kg_server *s, kg_slot *slot, const op_args *a,
                  kg_writer *w, kg_error *err)
{
    int rc = kg_proto_request_to_batch(a->req, false, slot->batch, err);
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

static int op_remove(kg_server *s, kg_slot *slot, const op_args *a,
                     kg_writer *w, kg_error *err)
{
    int rc = kg_proto_request_to_batch(a->req, true, slot->batch, err);
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

static int op_extract(kg_server *s, kg_slot *slot, const op_args *a,
                      kg_writer *w, kg_error *err)
{
    const kg_value *tv = a->v[A_TEXT];
    bool commit = arg_bool(a, A_COMMIT, false);
    kg_extract_options o = {arg_str(a, A_SOURCE), arg_str(a, A_DATE)};
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

static int op_snapshot(kg_server *s, kg_slot *slot, const op_args *a,
                       kg_writer *w, kg_error *err)
{
    (void)slot; (void)a;
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

static int op_reload(kg_server *s, kg_slot *slot, const op_args *a,
                     kg_writer *w, kg_error *err)
{
    (void)w;
    int rc = kg_server_reload_start(s, err);
    if (rc)
        return rc;
    if (kg_server_reload_defer(s, slot, a->id))
        return kg_error_set(err, KG_ENOMEM, "out of memory (the reload goes on)");
    return 0;
}

/* ---- the table ----------------------------------------------------------- */

#define Q_ARGS (ARG(A_AS_OF) | ARG(A_LIMIT))
#define PATH_ARGS (ARG(A_FROM) | ARG(A_TO) | ARG(A_RELATIONS) | \
                   ARG(A_MAX_LENGTH) | ARG(A_DIRECTION) | ARG(A_ALL) | Q_ARGS)
#define SUBGRAPH_ARGS (ARG(A_SEEDS) | ARG(A_DEPTH) | ARG(A_RELATIONS) | \
                       ARG(A_DIRECTION) | ARG(A_FORMAT) | Q_ARGS)
#define NEIGHBORS_ARGS (ARG(A_ENTITY) | ARG(A_DIRECTION) | ARG(A_RELATIONS) | \
                        ARG(A_DEPTH) | ARG(A_DETAIL) | Q_ARGS)
#define RELATIONS_ARGS (ARG(A_SUBJECT) | ARG(A_RELATION) | ARG(A_OBJECT) | \
                        ARG(A_WHERE) | Q_ARGS)
#define EXTRACT_ARGS (ARG(A_TEXT) | ARG(A_SOURCE) | ARG(A_DATE) | ARG(A_COMMIT))
#define WRITE_ARGS (ARG(A_ENTITIES) | ARG(A_RELATIONS))

/* Indexed by KG_OP_*. */
static const op_def ops[KG_OP_COUNT] = {
    [KG_OP_PING] = {"ping", op_ping, 0, 0},
    [KG_OP_STATS] = {"stats", op_stats, 0, 0},
    [KG_OP_ENTITY] = {"entity", op_entity, ARG(A_NAME) | ARG(A_AS_OF),
                      ARG(A_NAME)},
    [KG_OP_ENTITIES] = {"entities", op_entities,
                        ARG(A_KIND) | ARG(A_PREFIX) | ARG(A_OFFSET) | Q_ARGS, 0},
    [KG_OP_RELATIONS] = {"relations", op_relations, RELATIONS_ARGS, 0},
    [KG_OP_NEIGHBORS] = {"neighbors", op_neighbors, NEIGHBORS_ARGS, ARG(A_ENTITY)},
    [KG_OP_PATH] = {"path", op_path, PATH_ARGS, ARG(A_FROM) | ARG(A_TO)},
    [KG_OP_MATCH] = {"match", op_match, ARG(A_PATTERNS) | Q_ARGS, ARG(A_PATTERNS)},
    [KG_OP_SUBGRAPH] = {"subgraph", op_subgraph, SUBGRAPH_ARGS, ARG(A_SEEDS)},
    [KG_OP_EXPORT] = {"export", op_export, ARG(A_FORMAT) | ARG(A_AS_OF), 0},
    [KG_OP_ADD] = {"add", op_add, WRITE_ARGS, 0},
    [KG_OP_REMOVE] = {"remove", op_remove, WRITE_ARGS, 0},
    [KG_OP_EXTRACT] = {"extract", op_extract, EXTRACT_ARGS, ARG(A_TEXT)},
    [KG_OP_SNAPSHOT] = {"snapshot", op_snapshot, 0, 0},
    [KG_OP_RELOAD] = {"reload", op_reload, 0, 0},
};

const char *kg_server_op_name(int op)
{
    return op >= 0 && op < KG_OP_COUNT ? ops[op].name : "?";
}

void kg_server_dispatch(kg_server *s, kg_slot *slot)
{
    kg_writer *w = slot->w;
    req_fields f;
    op_args a;
    read_fields(slot->req, &f, &a);
    const kg_value *id = a.id;
    kg_error err;
    kg_error_clear(&err);
    if (!f.op) {
        s->requests_bad++;
        kg_server_write_error(w, id, KG_EINVAL, "missing 'op'");
        return;
    }
    const char *name = kg_value_cstr(f.op);
    if (!name) {
        s->requests_bad++;
        kg_server_write_error(w, id, KG_EINVAL, "'op' must be a string");
        return;
    }
    int i;
    for (i = 0; i < KG_OP_COUNT; i++)
        if (ops[i].name[0] == name[0] && strcmp(ops[i].name, name) == 0)
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
    int rc = check_args(op, &f, &a, &err);
    if (rc) {
        kg_server_write_error(w, id, rc, err.message);
        return;
    }
    kg_write_map(w, 3);
    write_id(w, id);
    kg_write_str(w, "ok");
    kg_write_bool(w, true);
    kg_write_str(w, "result");
    rc = op->fn(s, slot, &a, w, &err);
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
