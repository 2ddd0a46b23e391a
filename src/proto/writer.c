/* writer.c - the streaming encoder (msgpack-c's packer over an sbuffer)
 * and kg_proto_encode.
 *
 * The buffer is kept across kg_writer_reset so that a server writing one
 * reply after another does not allocate once it has reached its working
 * size.
 */
#include "proto_int.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct kg_writer {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    int error; /* sticky KG_ENOMEM */
};

kg_writer *kg_writer_new(void)
{
    kg_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    msgpack_sbuffer_init(&w->sbuf);
    msgpack_packer_init(&w->pk, &w->sbuf, msgpack_sbuffer_write);
    return w;
}

void kg_writer_destroy(kg_writer **wp)
{
    if (!wp || !*wp)
        return;
    msgpack_sbuffer_destroy(&(*wp)->sbuf);
    free(*wp);
    *wp = NULL;
}

void kg_writer_reset(kg_writer *w)
{
    msgpack_sbuffer_clear(&w->sbuf);
    w->error = 0;
}

int kg_writer_error(const kg_writer *w) { return w->error; }

const char *kg_writer_data(const kg_writer *w, size_t *len)
{
    *len = w->sbuf.size;
    return w->sbuf.data ? w->sbuf.data : "";
}

int kg_writer_release(kg_writer *w, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (w->error)
        return w->error;
    size_t n = w->sbuf.size;
    char *p = msgpack_sbuffer_release(&w->sbuf);
    if (!p) {
        p = malloc(1);
        if (!p)
            return KG_ENOMEM;
    }
    *buf = p;
    *len = n;
    w->error = 0;
    return 0;
}

/* The small items replies are mostly made of - short strings, small
 * maps and arrays, small integers - are written straight into the
 * sbuffer when it has room, in the encoding msgpack_pack_* would choose
 * (fixstr, fixmap, fixarray, positive fixint); the rest, and a full
 * buffer, go through msgpack-c's packer. */
static inline bool room(const kg_writer *w, size_t n)
{
    return !w->error && w->sbuf.data && w->sbuf.alloc - w->sbuf.size >= n;
}

static inline void put1(kg_writer *w, unsigned char b)
{
    w->sbuf.data[w->sbuf.size++] = (char)b;
}

/* Fold a packer result into the sticky error. */
static int done(kg_writer *w, int rc)
{
    if (rc != 0 && !w->error)
        w->error = KG_ENOMEM;
    return w->error;
}

int kg_write_nil(kg_writer *w) { return done(w, msgpack_pack_nil(&w->pk)); }

int kg_write_bool(kg_writer *w, bool b)
{
    return done(w, b ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}

int kg_write_int(kg_writer *w, int64_t i)
{
    return done(w, msgpack_pack_int64(&w->pk, i));
}

int kg_write_uint(kg_writer *w, uint64_t u)
{
    if (u < 0x80 && room(w, 1)) {
        put1(w, (unsigned char)u);
        return 0;
    }
    return done(w, msgpack_pack_uint64(&w->pk, u));
}

int kg_write_float(kg_writer *w, double f)
{
    return done(w, msgpack_pack_double(&w->pk, f));
}

int kg_write_strn(kg_writer *w, const char *s, size_t len)
{
    if (len > UINT32_MAX)
        return done(w, -1);
    if (!s)
        s = "";
    if (len < 32 && room(w, len + 1)) {
        put1(w, (unsigned char)(0xa0 | len));
        memcpy(w->sbuf.data + w->sbuf.size, s, len);
        w->sbuf.size += len;
        return 0;
    }
    return done(w, msgpack_pack_str_with_body(&w->pk, s, len));
}

int kg_write_str(kg_writer *w, const char *s)
{
    if (!s)
        s = "";
    return kg_write_strn(w, s, strlen(s));
}

int kg_write_bin(kg_writer *w, const void *p, size_t len)
{
    if (len > UINT32_MAX)
        return done(w, -1);
    if (!p)
        p = "";
    return done(w, msgpack_pack_bin_with_body(&w->pk, p, len));
}

int kg_write_array(kg_writer *w, size_t n)
{
    if (n > UINT32_MAX)
        return done(w, -1);
    if (n < 16 && room(w, 1)) {
        put1(w, (unsigned char)(0x90 | n));
        return 0;
    }
    return done(w, msgpack_pack_array(&w->pk, n));
}

int kg_write_map(kg_writer *w, size_t n)
{
    if (n > UINT32_MAX)
        return done(w, -1);
    if (n < 16 && room(w, 1)) {
        put1(w, (unsigned char)(0x80 | n));
        return 0;
    }
    return done(w, msgpack_pack_map(&w->pk, n));
}

int kg_write_raw(kg_writer *w, const void *p, size_t len)
{
    if (!len)
        return w->error;
    return done(w, msgpack_sbuffer_write(&w->sbuf, p, len));
}

int kg_write_value(kg_writer *w, const kg_value *v)
{
    if (!v)
        return kg_write_nil(w);
    switch (v->type) {
    case KG_VAL_NIL: return kg_write_nil(w);
    case KG_VAL_BOOL: return kg_write_bool(w, v->u.b);
    case KG_VAL_INT: return kg_write_int(w, v->u.i);
    case KG_VAL_UINT: return kg_write_uint(w, v->u.u);
    case KG_VAL_FLOAT: return kg_write_float(w, v->u.f);
    case KG_VAL_STR: return kg_write_strn(w, v->u.str.ptr, v->u.str.len);
    case KG_VAL_BIN: return kg_write_bin(w, v->u.str.ptr, v->u.str.len);
    case KG_VAL_ARRAY:
        kg_write_array(w, v->u.array.n);
        for (size_t i = 0; i < v->u.array.n; i++)
            kg_write_value(w, &v->u.array.items[i]);
        return w->error;
    case KG_VAL_MAP:
        kg_write_map(w, v->u.map.n);
        for (size_t i = 0; i < v->u.map.n; i++) {
            kg_write_strn(w, v->u.map.items[i].key, v->u.map.items[i].key_len);
            kg_write_value(w, &v->u.map.items[i].value);
        }
        return w->error;
    }
    return done(w, -1);
}

int kg_proto_encode(const kg_value *v, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!v)
        return KG_EINVAL;
    kg_writer *w = kg_writer_new();
    if (!w)
        return KG_ENOMEM;
    int rc = kg_write_value(w, v);
    if (!rc)
        rc = kg_writer_release(w, buf, len);
    kg_writer_destroy(&w);
    return rc;
}
