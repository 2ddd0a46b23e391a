/* io_util.h - private to src/io and src/dot: growable byte buffers,
 * growable arrays for building change records, deterministic ordering of
 * a graph's entities and relations for the writers, and input limits.
 */
#ifndef KG_IO_UTIL_H
#define KG_IO_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/graph.h"

/* Limits on input: checked before anything is allocated. */
#define KG_IO_MAX_FILE ((size_t)256 << 20)  /* bytes of one (unzipped) file */
#define KG_IO_MAX_FIELD ((size_t)1 << 20)   /* bytes of one name or value */
#define KG_IO_MAX_PAIRS 4096                /* attributes/qualifiers/aliases */

/* A growable byte string; always NUL terminated once non-empty. oom
 * latches the first allocation failure so that writers can check once. */
typedef struct kg_sbuf {
    char *p;
    size_t len;
    size_t cap;
    bool oom;
} kg_sbuf;

void kg_sbuf_put(kg_sbuf *b, const char *s, size_t n);
void kg_sbuf_puts(kg_sbuf *b, const char *s);
void kg_sbuf_putc(kg_sbuf *b, char c);
void kg_sbuf_free(kg_sbuf *b);
/* Hand the bytes over (NUL terminated, never NULL unless OOM).
 * Caller owns *out (free). Returns 0 or KG_ENOMEM. */
int kg_sbuf_take(kg_sbuf *b, char **out, size_t *len);

/* Growable arrays of pairs and of strings; they do not own the strings. */
typedef struct kg_pairv {
    kg_pair *v;
    size_t n;
    size_t cap;
} kg_pairv;
typedef struct kg_strv {
    const char **v;
    size_t n;
    size_t cap;
} kg_strv;

int kg_pairv_push(kg_pairv *a, const char *key, const char *value);
void kg_pairv_free(kg_pairv *a);
int kg_strv_push(kg_strv *a, const char *s);
void kg_strv_free(kg_strv *a);

/* Live entities sorted by id (bytewise), live relations sorted by subject
 * id, kind, object id, qualifiers, provenance: the writers' order, so the
 * same graph always gives the same bytes. Caller owns *out (free). */
int kg_io_sorted_entities(const kg_graph *g, kg_eid **out, size_t *n);
int kg_io_sorted_relations(const kg_graph *g, kg_rid **out, size_t *n);

/* True when s[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool kg_io_utf8_valid(const char *s, size_t n);
/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. */
size_t kg_io_utf8_seq(const unsigned char *s, size_t n);

/* Line number (1-based) of byte offset off in data. */
unsigned kg_io_line_of(const char *data, size_t off);

/* Parse a DOT buffer into changes appended to out; src/dot. The buffer
 * need not be NUL terminated. On error out may hold partial changes: the
 * caller (src/io) discards them. */
int kg_dot_read(const char *data, size_t len, const char *name,
                kg_batch *out, kg_error *err);
/* Write g as styled DOT into b; src/dot. */
int kg_dot_write(const kg_graph *g, kg_sbuf *b, kg_error *err);

/* src/io/tsv.c and src/io/json.c: same contract as kg_dot_read; data is a
 * private mutable copy that the parser may modify (unescaping in place). */
int kg_tsv_read(char *data, size_t len, const char *name, kg_batch *out,
                kg_error *err);
int kg_tsv_write(const kg_graph *g, kg_sbuf *b, kg_error *err);
int kg_json_read(char *data, size_t len, const char *name, kg_batch *out,
                 kg_error *err);
int kg_json_write(const kg_graph *g, kg_sbuf *b, kg_error *err);

#endif
