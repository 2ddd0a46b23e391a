/* kg/proto.h - the wire encoding: msgpack <-> kg_value, a streaming
 * writer, and the mapping of graph things to protocol shapes.
 *
 * The protocol (docs/protocol.md) sends msgpack maps over ZeroMQ. This
 * module is the only one that knows msgpack; the server (src/server) and
 * the C client (src/client) both use it, so requests and replies are
 * encoded and decoded the same way on both ends.
 *
 *  - kg_value: a small value tree (nil, bool, int, uint, float, str, bin,
 *    array, map). Map keys are always strings (the protocol's rule; the
 *    decoder refuses other keys). The struct is public so that callers can
 *    read it directly; the accessors below are the convenient way.
 *  - kg_proto_decode: a bounded decoder. Every size read from the buffer is
 *    checked against what is left of the buffer and against the limits
 *    before anything is allocated; a decoded tree is ONE allocation.
 *  - kg_writer: streaming msgpack encoder with a reusable buffer, for hot
 *    paths (the server's replies) where building a tree would be churn.
 *  - Shapes: relations and entities <-> maps ("Relation objects" and
 *    "Entity objects" in docs/protocol.md), add/remove request maps ->
 *    kg_batch, change-feed bodies <-> kg_change.
 *
 * Op logic (what a request does) stays out of this module.
 */
#ifndef KG_PROTO_H
#define KG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- values -------------------------------------------------------------- */

typedef enum kg_value_type {
    KG_VAL_NIL = 0,
    KG_VAL_BOOL,
    KG_VAL_INT,   /* signed; the decoder gives non-negative ints as INT
                     too when they fit in int64_t */
    KG_VAL_UINT,  /* only for integers above INT64_MAX */
    KG_VAL_FLOAT, /* float32 and float64, held as double */
    KG_VAL_STR,   /* bytes + length, always followed by a NUL */
    KG_VAL_BIN,   /* bytes + length, followed by a NUL too */
    KG_VAL_ARRAY,
    KG_VAL_MAP
} kg_value_type;

typedef struct kg_value kg_value;
typedef struct kg_kv kg_kv;

struct kg_value {
    kg_value_type type;
    uint32_t flags; /* private to src/proto */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        struct {
            const char *ptr; /* NUL terminated; may contain NULs */
            size_t len;
        } str; /* KG_VAL_STR and KG_VAL_BIN */
        struct {
            kg_value *items; /* n values, stored inline */
            size_t n, cap;
        } array;
        struct {
            kg_kv *items; /* n entries, in wire order */
            size_t n, cap;
        } map;
    } u;
};

struct kg_kv {
    const char *key; /* NUL terminated */
    size_t key_len;
    kg_value value;
};

/* Constructors: a new heap value, NULL on out-of-memory. Caller owns:
 * kg_value_destroy (or give it to kg_value_array_push/kg_value_map_set). */
kg_value *kg_value_new_nil(void);
kg_value *kg_value_new_bool(bool b);
kg_value *kg_value_new_int(int64_t i);
kg_value *kg_value_new_uint(uint64_t u);
kg_value *kg_value_new_float(double f);
kg_value *kg_value_new_str(const char *s);               /* copied; NULL s = "" */
kg_value *kg_value_new_strn(const char *s, size_t len);  /* copied */
kg_value *kg_value_new_bin(const void *p, size_t len);   /* copied */
kg_value *kg_value_new_array(void);
kg_value *kg_value_new_map(void);
/* Deep copy of any value (decoded or built). Caller owns the copy. */
kg_value *kg_value_clone(const kg_value *v);

/* Free a value from a constructor, kg_value_clone or kg_proto_decode, and
 * everything under it; sets *v to NULL. Accepts NULL and *v == NULL. */
void kg_value_destroy(kg_value **v);

/* Append item to array. item is always consumed (freed on error too);
 * pointers into the array's items may move. Returns 0, KG_ENOMEM, or
 * KG_EINVAL when arr is not a built (non-decoded) array. */
int kg_value_array_push(kg_value *arr, kg_value *item);
/* Set key in map to val (replacing an existing value of that key). val is
 * always consumed; the key is copied. 0, KG_ENOMEM or KG_EINVAL as above. */
int kg_value_map_set(kg_value *map, const char *key, kg_value *val);

/* Accessors. All accept NULL (and then fail or return NULL/0). */
kg_value_type kg_value_type_of(const kg_value *v); /* NIL for NULL */
/* Name of a type for messages: "nil", "bool", "int", "uint", "float",
 * "str", "bin", "array", "map". Static storage. */
const char *kg_value_type_name(kg_value_type t);
/* The string of a STR value, or NULL (not a string). */
const char *kg_value_str(const kg_value *v, size_t *len);
/* The string of a STR value without embedded NULs, or NULL. */
const char *kg_value_cstr(const kg_value *v);
/* 0 and *out, or KG_EINVAL (wrong type or out of range). INT and UINT both
 * convert; kg_value_get_float also accepts integers. */
int kg_value_get_int(const kg_value *v, int64_t *out);
int kg_value_get_bool(const kg_value *v, bool *out);
int kg_value_get_float(const kg_value *v, double *out);
/* Items of an array or entries of a map; 0 for anything else. */
size_t kg_value_len(const kg_value *v);
/* The i-th item of an array, or NULL. */
const kg_value *kg_value_at(const kg_value *v, size_t i);
/* The i-th entry of a map, or NULL. */
const kg_kv *kg_value_entry(const kg_value *v, size_t i);
/* The value of key in a map (first match, exact bytes), or NULL. */
const kg_value *kg_value_get(const kg_value *map, const char *key);
/* Structural equality (INT 3 equals UINT 3; map entries in order). */
bool kg_value_equal(const kg_value *a, const kg_value *b);

/* True when len bytes at s are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
bool kg_proto_utf8_valid(const char *s, size_t len);
/* True when every STR value and every map key under v is valid UTF-8
 * (msgpack's rule for str; the decoder does not check it, the server
 * does, so that client bytes never come back as broken strings). */
bool kg_value_utf8_valid(const kg_value *v);

/* ---- decoding ------------------------------------------------------------ */

#define KG_PROTO_MAX_DEPTH 32       /* deepest nesting of arrays/maps */
#define KG_PROTO_MAX_ITEMS 100000   /* longest array or map */
#define KG_PROTO_MAX_BYTES (1u << 20) /* default largest message */

typedef struct kg_proto_limits {
    size_t max_bytes;   /* larger buffers fail with KG_ELIMIT, unread */
    unsigned max_depth; /* nesting: a scalar has depth 0, [] depth 1 */
    size_t max_items;   /* per array or map */
    bool utf8;          /* every str and map key must be valid UTF-8
                           (kg_proto_utf8_valid), else KG_EINVAL */
} kg_proto_limits;

/* Defaults: KG_PROTO_MAX_BYTES, KG_PROTO_MAX_DEPTH, KG_PROTO_MAX_ITEMS,
 * utf8 false. */
void kg_proto_limits_init(kg_proto_limits *lim);

/* Decode exactly one msgpack object from buf[0..len) (trailing bytes are
 * an error). lim NULL = defaults. Errors: KG_EPARSE (truncated, invalid
 * byte, ext type, non-string map key, trailing bytes: the message says
 * which and at what offset), KG_ELIMIT (too big, too deep, too long),
 * KG_ENOMEM. On success *out is a new tree in one allocation, read-only
 * (kg_value_array_push/map_set refuse it). Caller owns: kg_value_destroy. */
int kg_proto_decode(const void *buf, size_t len, const kg_proto_limits *lim,
                    kg_value **out, kg_error *err);

/* A reusable home for decoded trees. kg_proto_decode_in decodes into it,
 * growing it when a message needs more room, so that a loop decoding
 * message after message (the server's requests) allocates nothing once
 * it has seen its largest. Zero-initialise it; kg_proto_buffer_free
 * releases it. */
typedef struct kg_proto_buffer {
    void *mem;
    size_t cap;
} kg_proto_buffer;

/* As kg_proto_decode, but the tree lives in b: it stays valid until the
 * next decode into b or kg_proto_buffer_free(b). kg_value_destroy on it
 * only sets the pointer to NULL. On error b keeps its memory. */
int kg_proto_decode_in(kg_proto_buffer *b, const void *buf, size_t len,
                       const kg_proto_limits *lim, kg_value **out,
                       kg_error *err);
void kg_proto_buffer_free(kg_proto_buffer *b);

/* ---- encoding ------------------------------------------------------------ */

/* Encode v into a new malloc'd buffer. Caller owns *buf (free). 0 or
 * KG_ENOMEM (or KG_EINVAL for a NULL v). */
int kg_proto_encode(const kg_value *v, char **buf, size_t *len);

/* A streaming encoder over a growable buffer, reused across messages with
 * kg_writer_reset. Errors are sticky: the write calls return 0 or
 * KG_ENOMEM, and once one failed kg_writer_error stays KG_ENOMEM until the
 * next reset, so a caller may check once at the end. The caller is
 * responsible for writing as many items as it announced in a header. */
typedef struct kg_writer kg_writer;

/* NULL on OOM. Caller owns: kg_writer_destroy. */
kg_writer *kg_writer_new(void);
void kg_writer_destroy(kg_writer **w);
/* Empty the buffer (keeping its allocation) and clear the error. */
void kg_writer_reset(kg_writer *w);
int kg_writer_error(const kg_writer *w);
/* The bytes written so far; valid until the next write or reset. */
const char *kg_writer_data(const kg_writer *w, size_t *len);
/* Hand the buffer to the caller (free) and reset. Caller owns *buf. */
int kg_writer_release(kg_writer *w, char **buf, size_t *len);

int kg_write_nil(kg_writer *w);
int kg_write_bool(kg_writer *w, bool b);
int kg_write_int(kg_writer *w, int64_t i);
int kg_write_uint(kg_writer *w, uint64_t u);
int kg_write_float(kg_writer *w, double f);
int kg_write_str(kg_writer *w, const char *s); /* NULL writes "" */
int kg_write_strn(kg_writer *w, const char *s, size_t len);
int kg_write_bin(kg_writer *w, const void *p, size_t len);
int kg_write_array(kg_writer *w, size_t n); /* header; n items follow */
int kg_write_map(kg_writer *w, size_t n);   /* header; n key/value pairs */
int kg_write_value(kg_writer *w, const kg_value *v);
/* Append already-encoded msgpack bytes (one or more whole objects). */
int kg_write_raw(kg_writer *w, const void *p, size_t len);

/* ---- protocol shapes ----------------------------------------------------- */

/* A relation of g as a relation object: {subject, relation, object,
 * qualifiers: {...}, provenance: {...}} (both maps always present). */
int kg_proto_write_relation(kg_writer *w, const kg_graph *g, kg_rid r);
/* An entity of g as an entity object: {id, kind, aliases: [...],
 * attributes: {...}}. */
int kg_proto_write_entity(kg_writer *w, const kg_graph *g, kg_eid e);
/* The same four pairs (id, kind, aliases, attributes) without the map
 * header, for a map the caller extends with more pairs. */
int kg_proto_write_entity_fields(kg_writer *w, const kg_graph *g, kg_eid e);
/* A relation or entity spec (a request's item, a change record) in the
 * same shapes; NULL strings are written as "". */
int kg_proto_write_relation_spec(kg_writer *w, const kg_relation_spec *s);
int kg_proto_write_entity_spec(kg_writer *w, const kg_entity_spec *s);

/* The relation/entity objects of a request or reply -> change records.
 *
 * kg_proto_relation_to_batch: v must be a relation object (subject,
 * relation and object non-empty strings; qualifiers/provenance maps of
 * string values; top-level "evidence"/"source" strings go into
 * provenance; any other key is KG_EINVAL). Appends RELATION_ADD, or with
 * remove = true RELATION_REMOVE (provenance then ignored).
 * kg_proto_entity_to_batch: v is an entity object (id required; kind,
 * aliases (array of strings), attributes (map of strings) optional) and
 * ENTITY_ADD is appended; with remove = true v may also be a plain string
 * (the id) and ENTITY_REMOVE is appended.
 * Errors are KG_EINVAL with a message naming the path ("relations[2].
 * qualifiers.rate: expected str, got int") or KG_ENOMEM. `where` is a
 * prefix for that path (NULL = ""). */
int kg_proto_relation_to_batch(const kg_value *v, bool remove, kg_batch *b,
                               const char *where, kg_error *err);
int kg_proto_entity_to_batch(const kg_value *v, bool remove, kg_batch *b,
                             const char *where, kg_error *err);

/* An add or remove request map -> a batch: its "entities" array (entity
 * objects; for remove, ids or entity objects) then its "relations" array
 * (relation objects), both optional; other keys of the request are not
 * looked at (the server checks the request's shape). Entities come first
 * in the batch for add; for remove relations come first, so that removing
 * a relation and one of its ends in one request works. On error b is left
 * as it was before the call. */
int kg_proto_request_to_batch(const kg_value *req, bool remove, kg_batch *b,
                              kg_error *err);

/* The change feed. Topic of a change: its relation kind for relation
 * changes, "entity" for entity changes (static or owned by c). */
const char *kg_proto_change_topic(const kg_change *c);
/* Body: {"seq": seq, "op": "add"|"remove", "relation": <relation>} or
 * {..., "entity": <entity>} (an entity removal carries {"id": ...}). */
int kg_proto_write_change(kg_writer *w, uint64_t seq, const kg_change *c);
/* Decode a body written by kg_proto_write_change into one change record
 * appended to b, and its seq. KG_EINVAL for a body of another shape. */
int kg_proto_change_from_value(const kg_value *body, kg_batch *b,
                               uint64_t *seq, kg_error *err);

#ifdef __cplusplus
}
#endif
#endif
