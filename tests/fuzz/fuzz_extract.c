/* fuzz_extract.c - the article extractor on arbitrary bytes, with a small
 * gazetteer, the shipped dictionaries and patterns. What it extracts must
 * apply to a graph. */
#include <stdlib.h>

#include "fuzz.h"
#include "kg/change.h"
#include "kg/extract.h"

static kg_extractor *extractor(void)
{
    static kg_extractor *x;
    if (x)
        return x;
    kg_graph *g = kg_graph_new();
    const char *fr[] = {"French"}, *cn[] = {"Chinese", "PRC"}, *eu[] = {"EU"};
    kg_entity_spec e[] = {
        {"France", "country", fr, 1, NULL, 0},
        {"China", "country", cn, 2, NULL, 0},
        {"European Union", "bloc", eu, 1, NULL, 0},
        {"Beijing", "place", NULL, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        kg_entity_add(g, &e[i], NULL, NULL);
    kg_relation_spec cap = {"Beijing", "capital-of", "China", NULL, 0, NULL, 0};
    kg_relation_add(g, &cap, NULL, NULL);
    x = kg_extractor_new(g, KG_FUZZ_DATA_DIR, NULL);
    kg_graph_destroy(&g);
    if (!x)
        abort(); /* the shipped data must load */
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kg_extractor *x = extractor();
    kg_batch *b = kg_batch_new();
    kg_extract_options opt = {"fuzz", "2025-12-04"};
    kg_error err;
    if (b && kg_extract_text(x, (const char *)data, size, &opt, b, NULL,
                             &err) == 0) {
        kg_graph *g = kg_graph_new();
        if (g && kg_graph_apply(g, b, &err) != 0)
            abort(); /* extracted facts must always apply */
        kg_graph_destroy(&g);
    }
    kg_batch_destroy(&b);
    return 0;
}
