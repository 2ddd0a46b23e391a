/* fuzz_read_json.c - the JSON reader on arbitrary bytes: it must refuse or
 * accept without crashing, and what it accepts must apply to a graph and
 * write back out. */
#include <stdlib.h>

#include "fuzz.h"
#include "kg/change.h"
#include "kg/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kg_batch *b = kg_batch_new();
    kg_error err;
    if (!b)
        return 0;
    if (kg_read_buffer((const char *)data, size, "fuzz.json", KG_FORMAT_JSON,
                       b, &err) == 0) {
        kg_graph *g = kg_graph_new();
        if (g && kg_graph_apply(g, b, &err) == 0) {
            char *out = NULL;
            size_t len = 0;
            if (kg_write_buffer(g, KG_FORMAT_JSON, &out, &len, &err) == 0)
                free(out);
        }
        kg_graph_destroy(&g);
    }
    kg_batch_destroy(&b);
    return 0;
}
