/* kg/extract.h - English news articles -> change records.
 *
 * A dictionary-and-pattern event coder in the tradition of TABARI and
 * PETRARCH: entities are recognised from a gazetteer graph (ids, aliases,
 * capital-of relations) plus the extractor's own data files, relations
 * from trigger patterns with argument slots kept in data/extract/
 * (patterns.txt, words.txt, titles.txt, products.tsv, entities.tsv,
 * relations.tsv; format in data/extract/README.md, method in
 * docs/extraction.md). No network, no model.
 *
 * An extractor is immutable after kg_extractor_new except for per-article
 * scratch state, so one extractor serves one thread at a time.
 */
#ifndef KG_EXTRACT_H
#define KG_EXTRACT_H

#include <stddef.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kg_extractor kg_extractor;

/* Largest article kg_extract_text accepts (bytes); callers reading files
 * should refuse bigger ones with KG_ELIMIT before reading them. */
#define KG_EXTRACT_MAX_TEXT ((size_t)256 << 20)

typedef struct kg_extract_options {
    const char *source; /* provenance "source"; NULL: the "# source:" line */
    const char *date;   /* document date YYYY-MM-DD; NULL: "# date:" line */
} kg_extract_options;

typedef struct kg_extract_stats {
    size_t bytes;      /* article bytes read */
    size_t sentences;  /* sentences seen */
    size_t mentions;   /* entity mentions recognised */
    size_t unresolved; /* capitalised names that matched no entity */
    size_t facts;      /* distinct facts appended to the batch */
} kg_extract_stats;

/* New extractor. gazetteer (may be NULL) is read once, not kept: its
 * entities, aliases and capital-of/leads relations become the dictionary.
 * data_dir NULL = kg_extract_default_data_dir(). NULL on error (missing
 * or malformed data file: "FILE:LINE: what"). Caller owns:
 * kg_extractor_destroy. */
kg_extractor *kg_extractor_new(const kg_graph *gazetteer,
                               const char *data_dir, kg_error *err);
/* Free; sets *x to NULL. Accepts NULL. */
void kg_extractor_destroy(kg_extractor **x);

/* $KG_DATA_DIR if set, else the source tree's data/extract when it
 * exists, else the installed ${datadir}/kgd/extract. Static storage. */
const char *kg_extract_default_data_dir(void);

/* Extract the facts of one article (len bytes, need not be NUL
 * terminated; at most KG_EXTRACT_MAX_TEXT). Appends ENTITY_ADD records
 * for every entity a fact touches, then one RELATION_ADD per distinct
 * fact with provenance source, doc_date, evidence and span. stats (may be
 * NULL) is added to, not reset, so one can sum over articles. Returns 0
 * (possibly with no facts: empty, foreign or binary text is not an error)
 * or a negative KG_E* (KG_EINVAL bad argument or date, KG_ELIMIT too
 * long, KG_ENOMEM); on error nothing is appended, except when memory runs
 * out while the records are copied. */
int kg_extract_text(kg_extractor *x, const char *text, size_t len,
                    const kg_extract_options *opt, kg_batch *out,
                    kg_extract_stats *stats, kg_error *err);

#ifdef __cplusplus
}
#endif
#endif
