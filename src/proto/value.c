/* value.c - the kg_value tree: constructors, accessors, destruction.
 *
 * Two kinds of trees exist. A *built* tree (constructors, clone) owns one
 * heap block per string and per array/map item vector. A *decoded* tree
 * (kg_proto_decode) lives in one block that starts with its root; every
 * node carries KG_VALUE_F_BLOCK so that mutation can refuse it and destroy
 * frees the single block.
 */
#include "proto_int.h"

#include <stdlib.h>
#include <string.h>

static kg_value *value_alloc(kg_value_type t)
{
    kg_value *v = calloc(1, sizeof *v);
    if (v)
        v->type = t;
    return v;
}

kg_value *kg_value_new_nil(void) { return value_alloc(KG_VAL_NIL); }

kg_value *kg_value_new_bool(bool b)
{
    kg_value *v = value_alloc(KG_VAL_BOOL);
    if (v)
        v->u.b = b;
    return v;
}

kg_value *kg_value_new_int(int64_t i)
{
    kg_value *v = value_alloc(KG_VAL_INT);
    if (v)
        v->u.i = i;
    return v;
}

kg_value *kg_value_new_uint(uint64_t u)
{
    /* Keep one representation for numbers that fit in int64_t, the same
     * as the decoder, so that equality and accessors need no special
     * cases. */
    if (u <= (uint64_t)INT64_MAX)
        return kg_value_new_int((int64_t)u);
    kg_value *v = value_alloc(KG_VAL_UINT);
    if (v)
        v->u.u = u;
    return v;
}

kg_value *kg_value_new_float(double f)
{
    kg_value *v = value_alloc(KG_VAL_FLOAT);
    if (v)
        v->u.f = f;
    return v;
}

static char *bytes_dup(const void *p, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static kg_value *new_bytes(kg_value_type t, const void *p, size_t len)
{
    kg_value *v = value_alloc(t);
    if (!v)
        return NULL;
    char *s = bytes_dup(p, len);
    if (!s) {
        free(v);
        return NULL;
    }
    v->u.str.ptr = s;
    v->u.str.len = len;
    return v;
}

kg_value *kg_value_new_str(const char *s)
{
    if (!s)
        s = "";
    return new_bytes(KG_VAL_STR, s, strlen(s));
}

kg_value *kg_value_new_strn(const char *s, size_t len)
{
    if (!s && len)
        return NULL;
    return new_bytes(KG_VAL_STR, s ? s : "", len);
}

kg_value *kg_value_new_bin(const void *p, size_t len)
{
    if (!p && len)
        return NULL;
    return new_bytes(KG_VAL_BIN, p ? p : "", len);
}

kg_value *kg_value_new_array(void) { return value_alloc(KG_VAL_ARRAY); }
kg_value *kg_value_new_map(void) { return value_alloc(KG_VAL_MAP); }

/* Free what a built node owns, not the node itself. */
static void value_clear(kg_value *v)
{
    switch (v->type) {
    case KG_VAL_STR:
    case KG_VAL_BIN:
        free((char *)v->u.str.ptr);
        break;
    case KG_VAL_ARRAY:
        for (size_t i = 0; i < v->u.array.n; i++)
            value_clear(&v->u.array.items[i]);
        free(v->u.array.items);
        break;
    case KG_VAL_MAP:
        for (size_t i = 0; i < v->u.map.n; i++) {
            free((char *)v->u.map.items[i].key);
            value_clear(&v->u.map.items[i].value);
        }
        free(v->u.map.items);
        break;
    default:
        break;
    }
    memset(&v->u, 0, sizeof v->u);
    v->type = KG_VAL_NIL;
}

void kg_value_destroy(kg_value **vp)
{
    if (!vp || !*vp)
        return;
    kg_value *v = *vp;
    *vp = NULL;
    if (v->flags & KG_VALUE_F_BORROWED)
        return; /* its kg_proto_buffer owns it */
    if (!(v->flags & KG_VALUE_F_BLOCK))
        value_clear(v);
    free(v);
}

/* Deep copy of src into *dst (a built tree). 0 or KG_ENOMEM; on error
 * *dst is left a valid NIL. */
static int value_copy(kg_value *dst, const kg_value *src)
{
    memset(dst, 0, sizeof *dst);
    switch (src->type) {
    case KG_VAL_STR:
    case KG_VAL_BIN: {
        char *s = bytes_dup(src->u.str.ptr, src->u.str.len);
        if (!s)
            return KG_ENOMEM;
        dst->u.str.ptr = s;
        dst->u.str.len = src->u.str.len;
        break;
    }
    case KG_VAL_ARRAY: {
        size_t n = src->u.array.n;
        if (n) {
            dst->u.array.items = calloc(n, sizeof(kg_value));
            if (!dst->u.array.items)
                return KG_ENOMEM;
        }
        dst->type = KG_VAL_ARRAY;
        for (size_t i = 0; i < n; i++) {
            int rc = value_copy(&dst->u.array.items[i], &src->u.array.items[i]);
            dst->u.array.n = i + 1;
            if (rc) {
                value_clear(dst);
                return rc;
            }
        }
        dst->u.array.cap = n;
        return 0;
    }
    case KG_VAL_MAP: {
        size_t n = src->u.map.n;
        if (n) {
            dst->u.map.items = calloc(n, sizeof(kg_kv));
            if (!dst->u.map.items)
                return KG_ENOMEM;
        }
        dst->type = KG_VAL_MAP;
        for (size_t i = 0; i < n; i++) {
            const kg_kv *s = &src->u.map.items[i];
            kg_kv *d = &dst->u.map.items[i];
            dst->u.map.n = i + 1;
            d->key = bytes_dup(s->key, s->key_len);
            d->key_len = s->key_len;
            int rc = d->key ? value_copy(&d->value, &s->value) : KG_ENOMEM;
            if (rc) {
                value_clear(dst);
                return rc;
            }
        }
        dst->u.map.cap = n;
        return 0;
    }
    default:
        dst->u = src->u;
        break;
    }
    dst->type = src->type;
    return 0;
}

kg_value *kg_value_clone(const kg_value *v)
{
    if (!v)
        return NULL;
    kg_value *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    if (value_copy(c, v)) {
        free(c);
        return NULL;
    }
    return c;
}

/* Move item's content into *slot: a built item gives up its content and
 * its shell is freed; a decoded one is copied. Consumes item. */
static int value_take(kg_value *slot, kg_value *item)
{
    int rc = 0;
    if (item->flags & KG_VALUE_F_BLOCK) {
        rc = value_copy(slot, item);
    } else {
        *slot = *item;
        slot->flags = 0;
        item->type = KG_VAL_NIL;
    }
    kg_value_destroy(&item);
    return rc;
}

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / size)
        return KG_ENOMEM;
    void *p = realloc(*items, ncap * size);
    if (!p)
        return KG_ENOMEM;
    *items = p;
    *cap = ncap;
    return 0;
}

int kg_value_array_push(kg_value *arr, kg_value *item)
{
    if (!item)
        return arr ? KG_ENOMEM : KG_EINVAL; /* a failed constructor */
    if (!arr || arr->type != KG_VAL_ARRAY || (arr->flags & KG_VALUE_F_BLOCK)) {
        kg_value_destroy(&item);
        return KG_EINVAL;
    }
    void *items = arr->u.array.items;
    if (grow(&items, &arr->u.array.cap, arr->u.array.n, sizeof(kg_value))) {
        kg_value_destroy(&item);
        return KG_ENOMEM;
    }
    arr->u.array.items = items;
    int rc = value_take(&arr->u.array.items[arr->u.array.n], item);
    if (rc)
        return rc;
    arr->u.array.n++;
    return 0;
}

int kg_value_map_set(kg_value *map, const char *key, kg_value *val)
{
    if (!val)
        return map ? KG_ENOMEM : KG_EINVAL;
    if (!map || !key || map->type != KG_VAL_MAP ||
        (map->flags & KG_VALUE_F_BLOCK)) {
        kg_value_destroy(&val);
        return KG_EINVAL;
    }
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->u.map.n; i++) {
        kg_kv *kv = &map->u.map.items[i];
        if (kv->key_len == klen && memcmp(kv->key, key, klen) == 0) {
            kg_value tmp;
            int rc = value_take(&tmp, val);
            if (rc)
                return rc;
            value_clear(&kv->value);
            kv->value = tmp;
            return 0;
        }
    }
    void *items = map->u.map.items;
    if (grow(&items, &map->u.map.cap, map->u.map.n, sizeof(kg_kv))) {
        kg_value_destroy(&val);
        return KG_ENOMEM;
    }
    map->u.map.items = items;
    kg_kv *kv = &map->u.map.items[map->u.map.n];
    char *k = bytes_dup(key, klen);
    if (!k) {
        kg_value_destroy(&val);
        return KG_ENOMEM;
    }
    int rc = value_take(&kv->value, val);
    if (rc) {
        free(k);
        return rc;
    }
    kv->key = k;
    kv->key_len = klen;
    map->u.map.n++;
    return 0;
}

/* ---- accessors ----------------------------------------------------------- */

kg_value_type kg_value_type_of(const kg_value *v)
{
    return v ? v->type : KG_VAL_NIL;
}

const char *kg_value_type_name(kg_value_type t)
{
    switch (t) {
    case KG_VAL_NIL: return "nil";
    case KG_VAL_BOOL: return "bool";
    case KG_VAL_INT: return "int";
    case KG_VAL_UINT: return "uint";
    case KG_VAL_FLOAT: return "float";
    case KG_VAL_STR: return "str";
    case KG_VAL_BIN: return "bin";
    case KG_VAL_ARRAY: return "array";
    case KG_VAL_MAP: return "map";
    }
    return "unknown";
}

const char *kg_value_str(const kg_value *v, size_t *len)
{
    if (!v || v->type != KG_VAL_STR)
        return NULL;
    if (len)
        *len = v->u.str.len;
    return v->u.str.ptr;
}

const char *kg_value_cstr(const kg_value *v)
{
    if (!v || v->type != KG_VAL_STR)
        return NULL;
    if (memchr(v->u.str.ptr, '\0', v->u.str.len))
        return NULL;
    return v->u.str.ptr;
}

int kg_value_get_int(const kg_value *v, int64_t *out)
{
    if (!v)
        return KG_EINVAL;
    if (v->type == KG_VAL_INT) {
        *out = v->u.i;
        return 0;
    }
    if (v->type == KG_VAL_UINT && v->u.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)v->u.u;
        return 0;
    }
    return KG_EINVAL;
}

int kg_value_get_bool(const kg_value *v, bool *out)
{
    if (!v || v->type != KG_VAL_BOOL)
        return KG_EINVAL;
    *out = v->u.b;
    return 0;
}

int kg_value_get_float(const kg_value *v, double *out)
{
    if (!v)
        return KG_EINVAL;
    switch (v->type) {
    case KG_VAL_FLOAT: *out = v->u.f; return 0;
    case KG_VAL_INT: *out = (double)v->u.i; return 0;
    case KG_VAL_UINT: *out = (double)v->u.u; return 0;
    default: return KG_EINVAL;
    }
}

size_t kg_value_len(const kg_value *v)
{
    if (!v)
        return 0;
    if (v->type == KG_VAL_ARRAY)
        return v->u.array.n;
    if (v->type == KG_VAL_MAP)
        return v->u.map.n;
    return 0;
}

const kg_value *kg_value_at(const kg_value *v, size_t i)
{
    if (!v || v->type != KG_VAL_ARRAY || i >= v->u.array.n)
        return NULL;
    return &v->u.array.items[i];
}

const kg_kv *kg_value_entry(const kg_value *v, size_t i)
{
    if (!v || v->type != KG_VAL_MAP || i >= v->u.map.n)
        return NULL;
    return &v->u.map.items[i];
}

const kg_value *kg_value_get(const kg_value *map, const char *key)
{
    if (!map || !key || map->type != KG_VAL_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->u.map.n; i++) {
        const kg_kv *kv = &map->u.map.items[i];
        if (kv->key_len == klen && memcmp(kv->key, key, klen) == 0)
            return &kv->value;
    }
    return NULL;
}

bool kg_value_equal(const kg_value *a, const kg_value *b)
{
    if (!a || !b)
        return a == b;
    int64_t ia, ib;
    if (kg_value_get_int(a, &ia) == 0 && kg_value_get_int(b, &ib) == 0)
        return ia == ib;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case KG_VAL_NIL: return true;
    case KG_VAL_BOOL: return a->u.b == b->u.b;
    case KG_VAL_INT: return a->u.i == b->u.i;
    case KG_VAL_UINT: return a->u.u == b->u.u;
    case KG_VAL_FLOAT:
        return memcmp(&a->u.f, &b->u.f, sizeof(double)) == 0 || a->u.f == b->u.f;
    case KG_VAL_STR:
    case KG_VAL_BIN:
        return a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0;
    case KG_VAL_ARRAY:
        if (a->u.array.n != b->u.array.n)
            return false;
        for (size_t i = 0; i < a->u.array.n; i++)
            if (!kg_value_equal(&a->u.array.items[i], &b->u.array.items[i]))
                return false;
        return true;
    case KG_VAL_MAP:
        if (a->u.map.n != b->u.map.n)
            return false;
        for (size_t i = 0; i < a->u.map.n; i++) {
            const kg_kv *x = &a->u.map.items[i], *y = &b->u.map.items[i];
            if (x->key_len != y->key_len ||
                memcmp(x->key, y->key, x->key_len) != 0 ||
                !kg_value_equal(&x->value, &y->value))
                return false;
        }
        return true;
    }
    return false;
}

/* ---- UTF-8 --------------------------------------------------------------- */

bool kg_proto_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0; /* no overlongs */
            else if (c == 0xed)
                hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f; /* <= U+10FFFF */
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += n + 1;
    }
    return true;
}

bool kg_value_utf8_valid(const kg_value *v)
{
    if (!v)
        return true;
    switch (v->type) {
    case KG_VAL_STR:
        return kg_proto_utf8_valid(v->u.str.ptr, v->u.str.len);
    case KG_VAL_ARRAY:
        for (size_t i = 0; i < v->u.array.n; i++)
            if (!kg_value_utf8_valid(&v->u.array.items[i]))
                return false;
        return true;
    case KG_VAL_MAP:
        for (size_t i = 0; i < v->u.map.n; i++)
            if (!kg_proto_utf8_valid(v->u.map.items[i].key,
                                     v->u.map.items[i].key_len) ||
                !kg_value_utf8_valid(&v->u.map.items[i].value))
                return false;
        return true;
    default:
        return true;
    }
}
