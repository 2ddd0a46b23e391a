/* decode.c - the bounded msgpack decoder.
 *
 * Why our own walk rather than msgpack_unpack_next: msgpack-c allocates
 * an array's item vector from the length in its header before it has seen
 * the items, so a 5-byte message claiming 2^32 items asks the allocator
 * for gigabytes, and its nesting bound is a compile-time constant. Here a
 * first pass validates the whole message - every length is checked against
 * the bytes that are left and against the limits, nesting is bounded -
 * and counts what the tree needs; the second pass builds the tree in one
 * allocation of exactly that size. Nothing is allocated for a message that
 * is refused, and every refusal leaves through the same error path.
 */
#include "proto_int.h"

#include <stdlib.h>
#include <string.h>

/* A hard ceiling on the nesting a caller may configure: the passes
 * recurse once per level. */
#define DEPTH_CAP 256

void kg_proto_limits_init(kg_proto_limits *lim)
{
    lim->max_bytes = KG_PROTO_MAX_BYTES;
    lim->max_depth = KG_PROTO_MAX_DEPTH;
    lim->max_items = KG_PROTO_MAX_ITEMS;
    lim->utf8 = false;
}

/* One object header, and for scalars, strings and binaries its content. */
typedef struct head {
    kg_value_type type;
    size_t len; /* STR/BIN bytes, ARRAY items, MAP entries */
    const unsigned char *data; /* STR/BIN payload */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
    } s;
} head;

typedef struct cursor {
    const unsigned char *base, *p, *end;
} cursor;

static uint64_t be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Read one header at c->p (and a STR/BIN payload), advancing past it.
 * 0, or KG_EPARSE with err saying why and where. */
static int read_head(cursor *c, head *h, kg_error *err)
{
    size_t off = (size_t)(c->p - c->base);
    size_t left = (size_t)(c->end - c->p);
    /* Set before any return, failures included; h->s only for the scalars
     * that have one. */
    h->type = KG_VAL_NIL;
    h->len = 0;
    h->data = NULL;
    if (left < 1)
        return kg_error_set(err, KG_EPARSE, "offset %zu: truncated message",
                            off);
    unsigned b = *c->p;
    unsigned n = 0; /* bytes of the length/value field after the type */

    if (b <= 0x7f) {
        h->type = KG_VAL_INT;
        h->s.i = (int64_t)b;
        c->p++;
        return 0;
    }
    if (b >= 0xe0) {
        h->type = KG_VAL_INT;
        h->s.i = (int64_t)b - 256;
        c->p++;
        return 0;
    }
    if (b >= 0x80 && b <= 0x8f) {
        h->type = KG_VAL_MAP;
        h->len = b & 0x0f;
        c->p++;
        return 0;
    }
    if (b >= 0x90 && b <= 0x9f) {
        h->type = KG_VAL_ARRAY;
        h->len = b & 0x0f;
        c->p++;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        h->type = KG_VAL_STR;
        h->len = b & 0x1f;
        c->p++;
        goto payload;
    }
    switch (b) {
    case 0xc0: h->type = KG_VAL_NIL; c->p++; return 0;
    case 0xc2: h->type = KG_VAL_BOOL; h->s.b = false; c->p++; return 0;
    case 0xc3: h->type = KG_VAL_BOOL; h->s.b = true; c->p++; return 0;
    case 0xc4: case 0xc5: case 0xc6:
        h->type = KG_VAL_BIN;
        n = 1u << (b - 0xc4);
        break;
    case 0xd9: case 0xda: case 0xdb:
        h->type = KG_VAL_STR;
        n = 1u << (b - 0xd9);
        break;
    case 0xdc: case 0xdd:
        h->type = KG_VAL_ARRAY;
        n = b == 0xdc ? 2 : 4;
        break;
    case 0xde: case 0xdf:
        h->type = KG_VAL_MAP;
        n = b == 0xde ? 2 : 4;
        break;
    case 0xca: case 0xcb:
        h->type = KG_VAL_FLOAT;
        n = b == 0xca ? 4 : 8;
        break;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        h->type = KG_VAL_UINT;
        n = 1u << (b - 0xcc);
        break;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        h->type = KG_VAL_INT;
        n = 1u << (b - 0xd0);
        break;
    case 0xc1:
        return kg_error_set(err, KG_EPARSE,
                            "offset %zu: invalid byte 0xc1", off);
    default: /* 0xc7-0xc9, 0xd4-0xd8: extension types */
        return kg_error_set(err, KG_EPARSE,
                            "offset %zu: unsupported msgpack type ext (0x%02x)",
                            off, b);
    }
    if (left < 1 + (size_t)n)
        return kg_error_set(err, KG_EPARSE, "offset %zu: truncated message",
                            off);
    uint64_t x = be(c->p + 1, n);
    c->p += 1 + n;
    switch (h->type) {
    case KG_VAL_FLOAT:
        if (n == 4) {
            uint32_t bits = (uint32_t)x;
            float f;
            memcpy(&f, &bits, sizeof f);
            h->s.f = f;
        } else {
            memcpy(&h->s.f, &x, sizeof h->s.f);
        }
        return 0;
    case KG_VAL_UINT:
        if (x <= (uint64_t)INT64_MAX) {
            h->type = KG_VAL_INT;
            h->s.i = (int64_t)x;
        } else {
            h->s.u = x;
        }
        return 0;
    case KG_VAL_INT:
        switch (n) {
        case 1: h->s.i = (int8_t)(uint8_t)x; break;
        case 2: h->s.i = (int16_t)(uint16_t)x; break;
        case 4: h->s.i = (int32_t)(uint32_t)x; break;
        default: h->s.i = (int64_t)x; break;
        }
        return 0;
    case KG_VAL_ARRAY:
    case KG_VAL_MAP:
        h->len = (size_t)x;
        return 0;
    default: /* STR, BIN */
        h->len = (size_t)x;
        break;
    }
payload:
    if ((size_t)(c->end - c->p) < h->len)
        return kg_error_set(err, KG_EPARSE,
                            "offset %zu: truncated message (%s of %zu bytes)",
                            off, kg_value_type_name(h->type), h->len);
    h->data = c->p;
    c->p += h->len;
    return 0;
}

typedef struct scan {
    cursor c;
    const kg_proto_limits *lim;
    size_t n_items, n_kvs, n_bytes;
    kg_error *err;
} scan;

/* A str's bytes, when the limits ask for UTF-8 (checked here, while the
 * bytes are at hand, rather than in a walk over the built tree). */
static int check_utf8(const scan *s, const head *h, size_t off)
{
    if (!s->lim->utf8 || kg_proto_utf8_valid((const char *)h->data, h->len))
        return 0;
    return kg_error_set(s->err, KG_EINVAL, "offset %zu: a string is not valid "
                        "UTF-8", off);
}

/* Pass 1: validate one object and count what it needs. */
static int scan_value(scan *s, unsigned depth)
{
    size_t off = (size_t)(s->c.p - s->c.base);
    head h;
    int rc = read_head(&s->c, &h, s->err);
    if (rc)
        return rc;
    if (h.type == KG_VAL_STR || h.type == KG_VAL_BIN) {
        s->n_bytes += h.len + 1;
        return h.type == KG_VAL_STR ? check_utf8(s, &h, off) : 0;
    }
    if (h.type != KG_VAL_ARRAY && h.type != KG_VAL_MAP)
        return 0;
    if (depth + 1 > s->lim->max_depth)
        return kg_error_set(s->err, KG_ELIMIT,
                            "offset %zu: nesting deeper than %u levels", off,
                            s->lim->max_depth);
    if (h.len > s->lim->max_items)
        return kg_error_set(s->err, KG_ELIMIT,
                            "offset %zu: %s of %zu items (at most %zu)", off,
                            kg_value_type_name(h.type), h.len,
                            s->lim->max_items);
    /* Each item takes at least one byte, each map entry two. */
    size_t left = (size_t)(s->c.end - s->c.p);
    if (h.len > left || (h.type == KG_VAL_MAP && h.len > left / 2))
        return kg_error_set(s->err, KG_EPARSE,
                            "offset %zu: truncated message (%s of %zu items "
                            "in %zu bytes)",
                            off, kg_value_type_name(h.type), h.len, left);
    if (h.type == KG_VAL_ARRAY) {
        s->n_items += h.len;
        for (size_t i = 0; i < h.len; i++)
            if ((rc = scan_value(s, depth + 1)))
                return rc;
        return 0;
    }
    s->n_kvs += h.len;
    for (size_t i = 0; i < h.len; i++) {
        size_t koff = (size_t)(s->c.p - s->c.base);
        head k;
        if ((rc = read_head(&s->c, &k, s->err)))
            return rc;
        if (k.type != KG_VAL_STR)
            return kg_error_set(s->err, KG_EPARSE,
                                "offset %zu: map key is %s, not str", koff,
                                kg_value_type_name(k.type));
        s->n_bytes += k.len + 1;
        if ((rc = check_utf8(s, &k, koff)) || (rc = scan_value(s, depth + 1)))
            return rc;
    }
    return 0;
}

typedef struct build {
    cursor c;
    kg_value *items;
    kg_kv *kvs;
    char *strs;
} build;

static const char *build_bytes(build *b, const head *h)
{
    char *s = b->strs;
    if (h->len)
        memcpy(s, h->data, h->len);
    s[h->len] = '\0';
    b->strs += h->len + 1;
    return s;
}

/* Pass 2: the message is known to be valid; fill *v from it. */
static void build_value(build *b, kg_value *v)
{
    head h;
    if (read_head(&b->c, &h, NULL)) { /* cannot happen: pass 1 checked it */
        v->type = KG_VAL_NIL;
        v->flags = KG_VALUE_F_BLOCK;
        return;
    }
    v->type = h.type;
    v->flags = KG_VALUE_F_BLOCK;
    switch (h.type) {
    case KG_VAL_NIL: break;
    case KG_VAL_BOOL: v->u.b = h.s.b; break;
    case KG_VAL_INT: v->u.i = h.s.i; break;
    case KG_VAL_UINT: v->u.u = h.s.u; break;
    case KG_VAL_FLOAT: v->u.f = h.s.f; break;
    case KG_VAL_STR:
    case KG_VAL_BIN:
        v->u.str.len = h.len;
        v->u.str.ptr = build_bytes(b, &h);
        break;
    case KG_VAL_ARRAY: {
        kg_value *items = h.len ? b->items : NULL;
        b->items += h.len;
        v->u.array.items = items;
        v->u.array.n = v->u.array.cap = h.len;
        for (size_t i = 0; i < h.len; i++)
            build_value(b, &items[i]);
        break;
    }
    case KG_VAL_MAP: {
        kg_kv *kvs = h.len ? b->kvs : NULL;
        b->kvs += h.len;
        v->u.map.items = kvs;
        v->u.map.n = v->u.map.cap = h.len;
        for (size_t i = 0; i < h.len; i++) {
            head k;
            (void)read_head(&b->c, &k, NULL);
            kvs[i].key_len = k.len;
            kvs[i].key = build_bytes(b, &k);
            build_value(b, &kvs[i].value);
        }
        break;
    }
    }
}

/* Validate buf and size the tree it decodes to: 0 and *need, or an error. */
static int measure(const void *buf, size_t len, const kg_proto_limits *lim,
                   scan *s, size_t *need, kg_error *err)
{
    kg_proto_limits defaults, eff;
    if (!lim) {
        kg_proto_limits_init(&defaults);
        lim = &defaults;
    }
    eff = *lim;
    if (eff.max_depth > DEPTH_CAP)
        eff.max_depth = DEPTH_CAP;
    if (!buf && len)
        return kg_error_set(err, KG_EINVAL, "no buffer");
    if (len > eff.max_bytes)
        return kg_error_set(err, KG_ELIMIT,
                            "message of %zu bytes (at most %zu)", len,
                            eff.max_bytes);

    *s = (scan){.c = {buf, buf, (const unsigned char *)buf + len},
                .lim = &eff, .err = err};
    int rc = scan_value(s, 0);
    s->lim = NULL; /* eff goes out of scope */
    if (rc)
        return rc;
    if (s->c.p != s->c.end)
        return kg_error_set(err, KG_EPARSE,
                            "offset %zu: %zu trailing bytes after the object",
                            (size_t)(s->c.p - s->c.base),
                            (size_t)(s->c.end - s->c.p));

    /* Every count is bounded by len (each item, entry and string byte was
     * seen in the buffer), so these sums cannot overflow for any buffer
     * that fits in memory; check anyway. */
    size_t n = sizeof(kg_value);
    if (s->n_items > (SIZE_MAX - n) / sizeof(kg_value))
        return kg_error_set(err, KG_ENOMEM, "message too large");
    n += s->n_items * sizeof(kg_value);
    if (s->n_kvs > (SIZE_MAX - n) / sizeof(kg_kv))
        return kg_error_set(err, KG_ENOMEM, "message too large");
    n += s->n_kvs * sizeof(kg_kv);
    if (s->n_bytes > SIZE_MAX - n)
        return kg_error_set(err, KG_ENOMEM, "message too large");
    *need = n + s->n_bytes;
    return 0;
}

/* Pass 2 into block, which has the room measure() asked for. */
static kg_value *build_tree(const void *buf, size_t len, const scan *s,
                            unsigned char *block)
{
    kg_value *root = (kg_value *)(void *)block;
    build b = {.c = {buf, buf, (const unsigned char *)buf + len},
               .items = root + 1};
    b.kvs = (kg_kv *)(void *)(b.items + s->n_items);
    b.strs = (char *)(b.kvs + s->n_kvs);
    build_value(&b, root);
    return root;
}

int kg_proto_decode(const void *buf, size_t len, const kg_proto_limits *lim,
                    kg_value **out, kg_error *err)
{
    *out = NULL;
    scan s;
    size_t need;
    int rc = measure(buf, len, lim, &s, &need, err);
    if (rc)
        return rc;
    unsigned char *block = malloc(need);
    if (!block)
        return kg_error_set(err, KG_ENOMEM, "out of memory decoding %zu bytes",
                            len);
    *out = build_tree(buf, len, &s, block);
    return 0;
}

int kg_proto_decode_in(kg_proto_buffer *b, const void *buf, size_t len,
                       const kg_proto_limits *lim, kg_value **out,
                       kg_error *err)
{
    *out = NULL;
    scan s;
    size_t need;
    int rc = measure(buf, len, lim, &s, &need, err);
    if (rc)
        return rc;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        void *mem = malloc(cap);
        if (!mem)
            return kg_error_set(err, KG_ENOMEM,
                                "out of memory decoding %zu bytes", len);
        free(b->mem);
        b->mem = mem;
        b->cap = cap;
    }
    kg_value *root = build_tree(buf, len, &s, b->mem);
    root->flags |= KG_VALUE_F_BORROWED;
    *out = root;
    return 0;
}

void kg_proto_buffer_free(kg_proto_buffer *b)
{
    if (!b)
        return;
    free(b->mem);
    b->mem = NULL;
    b->cap = 0;
}
