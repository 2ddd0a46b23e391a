/* codec.c - buffers, the batch record codec and file helpers.
 *
 * Batch payload, version 1 (the version lives in the journal file header,
 * so a payload carries none):
 *
 *     u32 n_changes
 *     n_changes x { u8 op, u32 line, body }
 *     ENTITY_ADD:      str id, str kind, u32 n, n x str alias,
 *                      u32 m, m x (str key, str value)
 *     ENTITY_REMOVE:   str id
 *     RELATION_ADD/REMOVE: str subject, str relation, str object,
 *                      u32 nq, nq x pair, u32 np, np x pair
 *
 * A string is u32 length, bytes, NUL. Every count is checked against the
 * bytes left before anything is allocated.
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- jbuf ---------------------------------------------------------------- */

void jbuf_free(jbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

bool jbuf_reserve(jbuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void jbuf_put(jbuf *b, const void *p, size_t n)
{
    if (n == 0 || !jbuf_reserve(b, n))
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void jbuf_u8(jbuf *b, uint8_t v) { jbuf_put(b, &v, 1); }

void jbuf_u32(jbuf *b, uint32_t v)
{
    unsigned char t[4];
    put_u32le(t, v);
    jbuf_put(b, t, 4);
}

void jbuf_u64(jbuf *b, uint64_t v)
{
    unsigned char t[8];
    put_u64le(t, v);
    jbuf_put(b, t, 8);
}

void jbuf_str(jbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX - 1) {
        b->oom = true;
        return;
    }
    jbuf_u32(b, (uint32_t)n);
    jbuf_put(b, s ? s : "", n);
    jbuf_u8(b, 0);
}

void jbuf_put_u32_at(jbuf *b, size_t at, uint32_t v)
{
    if (!b->oom && at + 4 <= b->len)
        put_u32le(b->p + at, v);
}

/* ---- jrd ----------------------------------------------------------------- */

static bool jrd_need(jrd *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return false;
    }
    return true;
}

uint8_t jrd_u8(jrd *r)
{
    if (!jrd_need(r, 1))
        return 0;
    return r->p[r->pos++];
}

uint32_t jrd_u32(jrd *r)
{
    if (!jrd_need(r, 4))
        return 0;
    uint32_t v = get_u32le(r->p + r->pos);
    r->pos += 4;
    return v;
}

uint64_t jrd_u64(jrd *r)
{
    if (!jrd_need(r, 8))
        return 0;
    uint64_t v = get_u64le(r->p + r->pos);
    r->pos += 8;
    return v;
}

const char *jrd_str(jrd *r)
{
    uint32_t n = jrd_u32(r);
    if (!jrd_need(r, (size_t)n + 1))
        return NULL;
    const char *s = (const char *)r->p + r->pos;
    /* The NUL must be where the length says, and nowhere before it: a
     * string that stops early would silently change meaning. */
    if (s[n] != '\0' || memchr(s, 0, n)) {
        r->bad = true;
        return NULL;
    }
    r->pos += (size_t)n + 1;
    return s;
}

bool jrd_room(jrd *r, uint64_t n, size_t each)
{
    if (r->bad || (each && n > (r->len - r->pos) / each)) {
        r->bad = true;
        return false;
    }
    return true;
}

/* ---- batch codec --------------------------------------------------------- */

static void put_pairs(jbuf *out, const kg_pair *p, size_t n)
{
    jbuf_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        jbuf_str(out, p[i].key);
        jbuf_str(out, p[i].value);
    }
}

int jcodec_encode_batch(jbuf *out, const kg_batch *b)
{
    size_t n = kg_batch_count(b);
    if (n > UINT32_MAX)
        return KG_ELIMIT;
    jbuf_u32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const kg_change *c = kg_batch_get(b, i);
        jbuf_u8(out, (uint8_t)c->op);
        jbuf_u32(out, c->line);
        switch (c->op) {
        case KG_CHANGE_ENTITY_ADD: {
            const kg_entity_spec *e = &c->u.entity;
            jbuf_str(out, e->id);
            jbuf_str(out, e->kind);
            jbuf_u32(out, (uint32_t)e->n_aliases);
            for (size_t k = 0; k < e->n_aliases; k++)
                jbuf_str(out, e->aliases[k]);
            put_pairs(out, e->attrs, e->n_attrs);
            break;
        }
        case KG_CHANGE_ENTITY_REMOVE:
            jbuf_str(out, c->u.entity.id);
            break;
        case KG_CHANGE_RELATION_ADD:
        case KG_CHANGE_RELATION_REMOVE: {
            const kg_relation_spec *r = &c->u.relation;
            jbuf_str(out, r->subject);
            jbuf_str(out, r->relation);
            jbuf_str(out, r->object);
            put_pairs(out, r->quals, r->n_quals);
            put_pairs(out, r->prov, r->n_prov);
            break;
        }
        default:
            return KG_EINVAL;
        }
    }
    return out->oom ? KG_ENOMEM : 0;
}

/* Read a pair list into a fresh array (caller frees). The smallest pair on
 * disk is 10 bytes (two empty strings), which bounds the count. */
static kg_pair *get_pairs(jrd *r, size_t *n, bool *oom)
{
    uint32_t m = jrd_u32(r);
    *n = 0;
    if (m == 0 || !jrd_room(r, m, 10))
        return NULL;
    kg_pair *p = malloc((size_t)m * sizeof *p);
    if (!p) {
        *oom = true;
        return NULL;
    }
    for (uint32_t i = 0; i < m; i++) {
        p[i].key = jrd_str(r);
        p[i].value = jrd_str(r);
    }
    if (r->bad) {
        free(p);
        return NULL;
    }
    *n = m;
    return p;
}

int jcodec_decode_batch(const unsigned char *p, size_t len, kg_batch *out)
{
    jrd r = { p, len, 0, false };
    bool oom = false;
    int rc = 0;
    kg_batch_clear(out);
    uint32_t n = jrd_u32(&r);
    if (!jrd_room(&r, n, 10))
        return KG_ECORRUPT;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        uint8_t op = jrd_u8(&r);
        unsigned line = jrd_u32(&r);
        switch (op) {
        case KG_CHANGE_ENTITY_ADD: {
            kg_entity_spec e = { 0 };
            e.id = jrd_str(&r);
            e.kind = jrd_str(&r);
            uint32_t na = jrd_u32(&r);
            const char **al = NULL;
            if (na && jrd_room(&r, na, 5)) {
                al = malloc((size_t)na * sizeof *al);
                if (!al) {
                    rc = KG_ENOMEM;
                    break;
                }
                for (uint32_t k = 0; k < na; k++)
                    al[k] = jrd_str(&r);
                e.aliases = al;
                e.n_aliases = na;
            }
            kg_pair *attrs = get_pairs(&r, &e.n_attrs, &oom);
            e.attrs = attrs;
            if (oom)
                rc = KG_ENOMEM;
            else if (r.bad)
                rc = KG_ECORRUPT;
            else
                rc = kg_batch_add_entity(out, &e, line);
            free(al);
            free(attrs);
            break;
        }
        case KG_CHANGE_ENTITY_REMOVE: {
            const char *id = jrd_str(&r);
            rc = r.bad ? KG_ECORRUPT : kg_batch_remove_entity(out, id, line);
            break;
        }
        case KG_CHANGE_RELATION_ADD:
        case KG_CHANGE_RELATION_REMOVE: {
            kg_relation_spec s = { 0 };
            s.subject = jrd_str(&r);
            s.relation = jrd_str(&r);
            s.object = jrd_str(&r);
            kg_pair *q = get_pairs(&r, &s.n_quals, &oom);
            kg_pair *pv = oom ? NULL : get_pairs(&r, &s.n_prov, &oom);
            s.quals = q;
            s.prov = pv;
            if (oom)
                rc = KG_ENOMEM;
            else if (r.bad)
                rc = KG_ECORRUPT;
            else if (op == KG_CHANGE_RELATION_ADD)
                rc = kg_batch_add_relation(out, &s, line);
            else
                rc = kg_batch_remove_relation(out, &s, line);
            free(q);
            free(pv);
            break;
        }
        default:
            rc = KG_ECORRUPT;
        }
        /* A batch the codec wrote always re-adds cleanly; EINVAL here
         * means the bytes lie (an empty id that passed the CRC). */
        if (rc == KG_EINVAL)
            rc = KG_ECORRUPT;
    }
    if (rc == 0 && (r.bad || r.pos != r.len))
        rc = KG_ECORRUPT;
    if (rc)
        kg_batch_clear(out);
    return rc;
}

/* ---- applying ------------------------------------------------------------ */

void jwarn(kg_journal_warn_fn warn, void *ctx, const char *fmt, ...)
{
    if (!warn)
        return;
    char msg[KG_ERROR_MESSAGE_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn(ctx, msg);
}

int japply_lenient(kg_graph *g, const kg_batch *b, const char *where,
                   kg_journal_warn_fn warn, void *ctx)
{
    kg_error e;
    kg_error_clear(&e);
    int rc = kg_graph_apply(g, b, &e);
    if (rc == 0 || rc == KG_ENOMEM)
        return rc;
    /* The batch no longer fits: the base files changed since it was
     * journaled (it removes something the new base lacks). Keep what
     * still applies: that is "current base + client changes". */
    for (size_t i = 0; i < kg_batch_count(b); i++) {
        kg_error_clear(&e);
        rc = kg_graph_apply_one(g, kg_batch_get(b, i), &e);
        if (rc == KG_ENOMEM)
            return rc;
        if (rc < 0)
            jwarn(warn, ctx, "%s: change %zu skipped (base graph changed?): %s",
                  where, i + 1, e.message);
    }
    return 0;
}

/* ---- files --------------------------------------------------------------- */

int jpwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const unsigned char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int jfsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}
