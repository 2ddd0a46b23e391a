/* kg/graph.h - the in-memory knowledge graph (the store).
 *
 * A directed multigraph of entities linked by typed relations.
 *
 *  - Every string is interned once in the graph's atom table; an atom is a
 *    32-bit handle, atom 0 is the empty string.
 *  - Entities have a canonical id, a kind, aliases and attributes. Look-up
 *    by id or alias is case-insensitive (ASCII case folding; other bytes
 *    compare exactly) and O(1). An id always wins over an alias.
 *  - Relations have a kind, a subject, an object, qualifiers (key=value,
 *    part of the fact's identity) and provenance (key=value, not part of
 *    the identity: source, evidence, doc_date, span). Adding the same fact
 *    twice keeps one relation; the same kind between the same pair with
 *    different qualifiers gives two relations.
 *  - Out- and in-adjacency of each entity is kept sorted by (relation
 *    kind, relation handle), so neighbours restricted to one kind cost
 *    O(log degree + answer).
 *
 * Handles (kg_eid, kg_rid) are dense indexes, reused after removal.
 * Pointers and spans returned by accessors stay valid until the next
 * mutation of the graph. The graph is not thread-safe: one writer, or
 * many readers with no writer.
 */
#ifndef KG_GRAPH_H
#define KG_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kg_graph kg_graph;
typedef uint32_t kg_atom; /* interned string, 0 = "" */
typedef uint32_t kg_eid;  /* entity handle */
typedef uint32_t kg_rid;  /* relation handle */

#define KG_NONE UINT32_MAX /* "no entity/relation/atom" */

/* A key=value pair, as passed in and out of the store. */
typedef struct kg_pair {
    const char *key;
    const char *value;
} kg_pair;

/* Reserved provenance keys (see docs/formats.md). */
#define KG_PROV_SOURCE "source"     /* document the fact came from */
#define KG_PROV_EVIDENCE "evidence" /* sentence that states it */
#define KG_PROV_DOC_DATE "doc_date" /* date of the source document */
#define KG_PROV_SPAN "span"         /* "START-END" byte offsets in source */

/* What an entity looks like when it is added or merged. Strings are
 * copied (interned); the caller keeps ownership of the spec. */
typedef struct kg_entity_spec {
    const char *id;    /* canonical id, required, non-empty */
    const char *kind;  /* NULL or "" = "unknown" */
    const char *const *aliases;
    size_t n_aliases;
    const kg_pair *attrs;
    size_t n_attrs;
} kg_entity_spec;

/* A relation as passed in. subject/object are names resolved by
 * kg_entity_find; unknown names create entities of kind "unknown". */
typedef struct kg_relation_spec {
    const char *subject;
    const char *relation; /* relation kind, required */
    const char *object;
    const kg_pair *quals; /* qualifiers: part of the fact */
    size_t n_quals;
    const kg_pair *prov;  /* provenance: not part of the fact */
    size_t n_prov;
} kg_relation_spec;

typedef enum kg_dir { KG_OUT = 1, KG_IN = 2, KG_BOTH = 3 } kg_dir;

/* A read-only run of relation handles. */
typedef struct kg_span {
    const kg_rid *ids;
    size_t n;
} kg_span;

/* ---- lifetime ---------------------------------------------------------- */

/* New empty graph; NULL on out-of-memory. Caller owns: kg_graph_destroy. */
kg_graph *kg_graph_new(void);
/* Free the graph and everything it owns; sets *g to NULL. Accepts NULL. */
void kg_graph_destroy(kg_graph **g);

/* ---- atoms --------------------------------------------------------------- */

/* Intern len bytes of s (need not be NUL terminated); KG_NONE on OOM. */
kg_atom kg_atom_intern(kg_graph *g, const char *s, size_t len);
/* The atom of the exact NUL-terminated string s, or KG_NONE if never
 * interned. Case-sensitive. */
kg_atom kg_atom_find(const kg_graph *g, const char *s);
/* The string of an atom (NUL terminated, owned by the graph). */
const char *kg_atom_str(const kg_graph *g, kg_atom a);

/* ---- entities ------------------------------------------------------------ */

/* Add an entity, or merge into the existing one whose id or alias matches
 * spec->id (case-insensitive). Merging: aliases and attributes are added
 * (an attribute's value is replaced), the kind is replaced unless the new
 * one is empty or "unknown". *out (optional) gets the handle.
 * Returns 0 when created, 1 when merged, <0 on error. */
int kg_entity_add(kg_graph *g, const kg_entity_spec *spec, kg_eid *out,
                  kg_error *err);
/* Resolve a name: first as an id, then as an alias (case-insensitive).
 * KG_NONE when unknown. */
kg_eid kg_entity_find(const kg_graph *g, const char *name);
/* How far kg_entities_prefetch reaches from each name. */
typedef enum kg_prefetch {
    KG_PREFETCH_ENTITY,    /* index slot, record, id */
    KG_PREFETCH_RELATIONS, /* and its first relations (ends, kind) */
    KG_PREFETCH_NEIGHBORS  /* and the ids at their other ends */
} kg_prefetch;

/* A hint: names[0..n) are about to be resolved (kg_entity_find) and, by
 * `reach`, their relations read. Fetches that memory for all of them in
 * parallel, level by level, so that the cache misses of a batch of
 * look-ups overlap instead of following one another. NULL names are
 * skipped; the graph is not changed. */
void kg_entities_prefetch(const kg_graph *g, const char *const *names, size_t n,
                          kg_prefetch reach);
/* Resolve as a canonical id only (case-insensitive); KG_NONE when not. */
kg_eid kg_entity_by_id(const kg_graph *g, const char *id);
/* Remove an entity and every relation that touches it. */
int kg_entity_remove(kg_graph *g, kg_eid e, kg_error *err);

bool kg_entity_alive(const kg_graph *g, kg_eid e);
const char *kg_entity_id(const kg_graph *g, kg_eid e);
const char *kg_entity_kind(const kg_graph *g, kg_eid e);
/* out[i] = kg_entity_id(g, es[i]) for i < n. On a big graph faster than
 * n calls: the memory behind the n ids is fetched in parallel. */
void kg_entity_ids(const kg_graph *g, const kg_eid *es, size_t n, const char **out);
kg_atom kg_entity_id_atom(const kg_graph *g, kg_eid e);
kg_atom kg_entity_kind_atom(const kg_graph *g, kg_eid e);
size_t kg_entity_alias_count(const kg_graph *g, kg_eid e);
const char *kg_entity_alias(const kg_graph *g, kg_eid e, size_t i);
size_t kg_entity_attr_count(const kg_graph *g, kg_eid e);
kg_pair kg_entity_attr(const kg_graph *g, kg_eid e, size_t i);
/* Value of attribute key, or NULL. */
const char *kg_entity_attr_get(const kg_graph *g, kg_eid e, const char *key);

size_t kg_entity_count(const kg_graph *g);
/* Iterate live entities in handle order: for (e = first; e != KG_NONE;
 * e = next(e)). */
kg_eid kg_entity_first(const kg_graph *g);
kg_eid kg_entity_next(const kg_graph *g, kg_eid e);
/* Live entities of one kind, in insertion order; the span stays valid
 * until the next mutation. {NULL,0} for an unknown kind. The ids are
 * kg_eid values (the span type is shared with relations). */
kg_span kg_entities_of_kind(const kg_graph *g, const char *kind);

/* ---- relations ----------------------------------------------------------- */

/* Add a relation; subject and object are resolved by name (created with
 * kind "unknown" when unknown). Returns 0 when created, 1 when the same
 * fact (subject, kind, object, qualifiers) was already there (its
 * provenance is kept, missing provenance keys are filled in), <0 on error.
 * *out (optional) gets the handle. */
int kg_relation_add(kg_graph *g, const kg_relation_spec *spec, kg_rid *out,
                    kg_error *err);
/* The same with resolved handles; the fast path for bulk loads. */
int kg_relation_add_ids(kg_graph *g, kg_eid subject, kg_atom kind,
                        kg_eid object, const kg_pair *quals, size_t n_quals,
                        const kg_pair *prov, size_t n_prov, kg_rid *out,
                        kg_error *err);
/* Bulk loading with sets interned once (the snapshot loader): a handle
 * for a set of key=value pairs (0 = the empty set, KG_NONE on error or
 * out of memory), valid for the graph's life; then relations added with
 * set handles, with the same results and return values as
 * kg_relation_add_ids. */
uint32_t kg_pairs_intern(kg_graph *g, const kg_pair *pairs, size_t n);
int kg_relation_add_sets(kg_graph *g, kg_eid subject, kg_atom kind,
                         kg_eid object, uint32_t quals, uint32_t prov,
                         kg_rid *out, kg_error *err);
/* The relation that is exactly this fact, or KG_NONE. */
kg_rid kg_relation_find(const kg_graph *g, const kg_relation_spec *spec);
int kg_relation_remove(kg_graph *g, kg_rid r, kg_error *err);

bool kg_relation_alive(const kg_graph *g, kg_rid r);
/* A hint: relations rs[0..n) will be read soon (their ends and kind are
 * fetched into the cache in parallel). Invalid handles are ignored. */
void kg_relations_prefetch(const kg_graph *g, const kg_rid *rs, size_t n);
kg_eid kg_relation_subject(const kg_graph *g, kg_rid r);
kg_eid kg_relation_object(const kg_graph *g, kg_rid r);
kg_atom kg_relation_kind_atom(const kg_graph *g, kg_rid r);
const char *kg_relation_kind(const kg_graph *g, kg_rid r);
size_t kg_relation_qual_count(const kg_graph *g, kg_rid r);
/* Qualifiers come sorted by key. */
kg_pair kg_relation_qual(const kg_graph *g, kg_rid r, size_t i);
const char *kg_relation_qual_get(const kg_graph *g, kg_rid r, const char *key);
size_t kg_relation_prov_count(const kg_graph *g, kg_rid r);
kg_pair kg_relation_prov(const kg_graph *g, kg_rid r, size_t i);
const char *kg_relation_prov_get(const kg_graph *g, kg_rid r, const char *key);

size_t kg_relation_count(const kg_graph *g);
kg_rid kg_relation_first(const kg_graph *g);
kg_rid kg_relation_next(const kg_graph *g, kg_rid r);

/* Relations leaving (KG_OUT) or entering (KG_IN) entity e, sorted by
 * (kind, handle). kind = 0 means every kind; otherwise only that kind,
 * found by binary search. dir must be KG_OUT or KG_IN. Not valid inside a
 * bulk scope until kg_graph_bulk_flush (see below). */
kg_span kg_adjacent(const kg_graph *g, kg_eid e, kg_dir dir, kg_atom kind);
size_t kg_degree(const kg_graph *g, kg_eid e, kg_dir dir);

/* ---- bulk loading -------------------------------------------------------- */

/* Adding one relation keeps both ends' adjacency sorted, which moves up to
 * degree handles: an entity that gets d relations one at a time costs
 * O(d^2). Inside a bulk scope an entity that already has many relations
 * takes new ones unsorted, and each is sorted into place once, when the
 * outermost scope ends: O(d log d). In between, kg_adjacent (and whatever
 * reads adjacency: queries, kg_graph_check) must not be called until
 * kg_graph_bulk_flush; every other call may be made, kg_degree stays
 * exact, and removals flush first. Scopes nest; kg_graph_apply opens its
 * own. Memory after the scope is the same as without one. None of these
 * can fail; NULL is ignored. */
void kg_graph_bulk_begin(kg_graph *g);
/* Sort every pending adjacency now (kg_adjacent is valid again until the
 * next relation is added); the scope stays open. */
void kg_graph_bulk_flush(kg_graph *g);
void kg_graph_bulk_end(kg_graph *g);

/* ---- statistics ---------------------------------------------------------- */

/* Kinds in use and how many live entities/relations have each.
 * Fills up to max entries, returns the number of kinds there are. */
size_t kg_entity_kinds(const kg_graph *g, kg_atom *kinds, size_t *counts,
                       size_t max);
size_t kg_relation_kinds(const kg_graph *g, kg_atom *kinds, size_t *counts,
                         size_t max);
/* Bytes the graph has allocated (its own accounting of every block). */
size_t kg_graph_memory(const kg_graph *g);

#ifdef __cplusplus
}
#endif
#endif
