/* kg/change.h - the one change record type.
 *
 * Every write to a graph is a batch of change records: file readers and
 * the article extractor produce them, the server turns add/remove requests
 * into them, the journal stores and replays them, and kg_graph_apply is the
 * single function that applies them - so the live path and crash recovery
 * cannot drift apart.
 *
 * A batch owns copies of every string put into it.
 */
#ifndef KG_CHANGE_H
#define KG_CHANGE_H

#include <stddef.h>

#include "kg/error.h"
#include "kg/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kg_change_op {
    KG_CHANGE_ENTITY_ADD = 1,    /* add or merge an entity */
    KG_CHANGE_ENTITY_REMOVE = 2, /* remove entity (and its relations) */
    KG_CHANGE_RELATION_ADD = 3,  /* add a relation (idempotent) */
    KG_CHANGE_RELATION_REMOVE = 4 /* remove matching relations */
} kg_change_op;

/* One change. For ENTITY_REMOVE only entity.id is used. For
 * RELATION_REMOVE, subject/relation/object name the relations to remove
 * and quals, when given, must all be present on a relation for it to go
 * (a subset match: no quals removes every relation of that kind between
 * the pair). line is where the change came from in its source file (0 if
 * none), for error messages. */
typedef struct kg_change {
    kg_change_op op;
    unsigned line;
    union {
        kg_entity_spec entity;
        kg_relation_spec relation;
    } u;
} kg_change;

typedef struct kg_batch kg_batch;

/* New empty batch; NULL on OOM. Caller owns: kg_batch_destroy. */
kg_batch *kg_batch_new(void);
void kg_batch_destroy(kg_batch **b);
/* Drop every change, keep the allocation for reuse. */
void kg_batch_clear(kg_batch *b);

/* Append a change; the strings of the spec are copied into the batch.
 * Return 0 or KG_ENOMEM/KG_EINVAL (missing id or relation kind). */
int kg_batch_add_entity(kg_batch *b, const kg_entity_spec *spec,
                        unsigned line);
int kg_batch_remove_entity(kg_batch *b, const char *id, unsigned line);
int kg_batch_add_relation(kg_batch *b, const kg_relation_spec *spec,
                          unsigned line);
int kg_batch_remove_relation(kg_batch *b, const kg_relation_spec *spec,
                             unsigned line);
/* Append a copy of an existing change record. */
int kg_batch_push(kg_batch *b, const kg_change *c);

size_t kg_batch_count(const kg_batch *b);
/* The i-th change; valid until the batch is next modified. */
const kg_change *kg_batch_get(const kg_batch *b, size_t i);

/* Name used in error messages ("FILE:LINE: ..."); copied. */
int kg_batch_set_source(kg_batch *b, const char *name);
const char *kg_batch_source(const kg_batch *b); /* "" when unset */

/* Apply a batch all or nothing: every change is validated first (required
 * fields, removals naming things that exist in the graph or earlier in the
 * batch); on a validation error nothing is applied and err says which
 * change failed ("SOURCE:LINE: what" when the batch has a source).
 * Returns 0 or a negative KG_E* code. */
int kg_graph_apply(kg_graph *g, const kg_batch *b, kg_error *err);

/* Validate a batch against g exactly as kg_graph_apply would, without
 * changing anything. After a 0 from kg_graph_check, kg_graph_apply of the
 * same batch on the same (unchanged) graph fails only on out-of-memory:
 * the server checks, journals, then applies. */
int kg_graph_check(const kg_graph *g, const kg_batch *b, kg_error *err);

/* Apply one change record (no batch); same rules. */
int kg_graph_apply_one(kg_graph *g, const kg_change *c, kg_error *err);

#ifdef __cplusplus
}
#endif
#endif
