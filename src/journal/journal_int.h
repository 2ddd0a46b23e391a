/* journal_int.h - private to src/journal: byte buffers, the batch record
 * codec and small file helpers shared by journal.c and snapshot.c.
 *
 * Every integer on disk is little-endian. Strings are a u32 length, the
 * bytes, and a NUL, so that a decoder can hand out pointers into the
 * buffer without copying; the NUL is checked when decoding.
 */
#ifndef KG_JOURNAL_INT_H
#define KG_JOURNAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/journal.h"

/* A growable output buffer; oom latches the first allocation failure so
 * that callers check once at the end. */
typedef struct jbuf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} jbuf;

void jbuf_free(jbuf *b);
bool jbuf_reserve(jbuf *b, size_t extra);
void jbuf_put(jbuf *b, const void *p, size_t n);
void jbuf_u8(jbuf *b, uint8_t v);
void jbuf_u32(jbuf *b, uint32_t v);
void jbuf_u64(jbuf *b, uint64_t v);
void jbuf_str(jbuf *b, const char *s);
void jbuf_put_u32_at(jbuf *b, size_t at, uint32_t v);

/* A bounds-checked reader; bad latches the first overrun/malformed field
 * and every later read returns zeros. */
typedef struct jrd {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
} jrd;

uint8_t jrd_u8(jrd *r);
uint32_t jrd_u32(jrd *r);
uint64_t jrd_u64(jrd *r);
/* A NUL-terminated string stored in place; NULL (and bad) if malformed. */
const char *jrd_str(jrd *r);
/* True when at least n*each more bytes remain (guards counts before an
 * allocation); sets bad otherwise. */
bool jrd_room(jrd *r, uint64_t n, size_t each);

static inline uint32_t get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t get_u64le(const unsigned char *p)
{
    return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}
static inline void put_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static inline void put_u64le(unsigned char *p, uint64_t v)
{
    put_u32le(p, (uint32_t)v);
    put_u32le(p + 4, (uint32_t)(v >> 32));
}

/* Batch payload, format version 1 (docs/operations.md). */
int jcodec_encode_batch(jbuf *out, const kg_batch *b);
/* Decode a payload into out (cleared first). KG_ECORRUPT when malformed,
 * KG_ENOMEM. */
int jcodec_decode_batch(const unsigned char *p, size_t len, kg_batch *out);

/* Apply a batch the way recovery must: all or nothing when it fits; when
 * it does not (the base changed under the journal), change by change,
 * skipping those that fail with a warning. KG_ENOMEM is the only error. */
int japply_lenient(kg_graph *g, const kg_batch *b, const char *where,
                   kg_journal_warn_fn warn, void *ctx);

/* printf-style warning through the callback (no-op when warn is NULL). */
void jwarn(kg_journal_warn_fn warn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* write(2) all of it at offset; 0 or -errno. */
int jpwrite_all(int fd, const void *p, size_t n, uint64_t off);
/* fsync the directory dir; 0 or -errno. */
int jfsync_dir(const char *dir);

#endif
