/* kg/io.h - reading and writing graph files: DOT (through cgraph), TSV
 * fact and entity tables, JSON.
 *
 * Readers turn a file into a batch of change records (kg/change.h) and
 * touch no graph: a broken file is refused whole with "FILE:LINE: what"
 * in the error, and nothing of it is applied. Formats: docs/formats.md.
 */
#ifndef KG_IO_H
#define KG_IO_H

#include <stdio.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kg_format {
    KG_FORMAT_AUTO = 0, /* from the file name: .gv/.dot, .tsv, .json */
    KG_FORMAT_DOT,
    KG_FORMAT_TSV,
    KG_FORMAT_JSON
} kg_format;

/* "dot", "tsv", "json" (also "gv") -> format; KG_FORMAT_AUTO if unknown. */
kg_format kg_format_from_name(const char *name);
/* By extension (a trailing ".gz" is looked through); AUTO if unknown. */
kg_format kg_format_from_path(const char *path);
const char *kg_format_name(kg_format f);

/* Parse a file (format AUTO: by extension, then by content) and append
 * its changes to out. The batch's source is set to path. On error out is
 * left as it was before the call. */
int kg_read_file(const char *path, kg_format fmt, kg_batch *out,
                 kg_error *err);
/* The same from memory; name is used in messages. */
int kg_read_buffer(const char *data, size_t len, const char *name,
                   kg_format fmt, kg_batch *out, kg_error *err);

/* Read a file and apply it to g: all of it or, on any error, none of it. */
int kg_load_file(kg_graph *g, const char *path, kg_format fmt,
                 kg_error *err);

/* Write the whole graph. DOT is styled for `dot -Tsvg` (shape/colour by
 * entity kind, relation kind as edge label, qualifiers and provenance as
 * edge attributes) and reads back to the same graph. TSV is the fact
 * table (header "subject relation object qualifiers evidence provenance")
 * preceded by "#@entity" lines that keep kinds, aliases and attributes.
 * JSON is {"entities":[...],"relations":[...]}. */
int kg_write_file(const kg_graph *g, kg_format fmt, FILE *out,
                  kg_error *err);
/* The same into a malloc'd NUL-terminated buffer. Caller owns *out. */
int kg_write_buffer(const kg_graph *g, kg_format fmt, char **out,
                    size_t *len, kg_error *err);

#ifdef __cplusplus
}
#endif
#endif
