/* dot_internal.h - private to src/dot: the cgraph lock and the attribute
 * names shared by the DOT reader and writer (docs/formats.md, "DOT"). */
#ifndef KG_DOT_INTERNAL_H
#define KG_DOT_INTERNAL_H

#include <stdbool.h>

/* cgraph keeps process-wide state (error channel, lexer, line counter):
 * every use of it in kgd runs under this lock. */
void kg_dot_lock(void);
void kg_dot_unlock(void);

/* The graph attribute that marks a file written by kg_dot_write. */
#define KG_DOT_STYLED "kg_styled"
/* Data attributes whose names collide with the writer's own attributes
 * are written with this prefix, and other provenance keys with "prov:". */
#define KG_DOT_ESCAPE "kg:"
#define KG_DOT_PROV "prov:"
/* cgraph takes a node name that starts with '%' for an anonymous node's
 * and reads and writes it as "%1", "%2"... (Graphviz issue 1466; and it
 * leaks the name). Such an entity is written under another node name with
 * its id in this attribute, which the reader prefers to the node name. */
#define KG_DOT_ID "kg_id"

/* Relation kind of an edge that has neither "relation" nor "label". */
#define KG_DOT_DEFAULT_RELATION "related-to"

/* Attributes the styled writer generates (dropped when reading a styled
 * file) or that carry entity/relation structure (never plain data). */
bool kg_dot_node_reserved(const char *name);
bool kg_dot_edge_reserved(const char *name);

#endif
