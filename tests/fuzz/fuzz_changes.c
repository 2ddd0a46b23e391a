/* fuzz_changes.c - what a client's add or remove request becomes: the
 * request shapes (kg_proto_request_to_batch), the graph's promise to the
 * server (after kg_graph_check says 0, kg_graph_apply of the same batch
 * fails only for want of memory; a batch the check refuses changes
 * nothing), and the change feed's writer and reader agreeing on every
 * change (kg_proto_write_change, kg_proto_change_from_value).
 *
 * The input is one msgpack message, read as an add request and as a
 * remove request against a small graph. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kg/change.h"
#include "kg/proto.h"

static kg_graph *seed(void)
{
    kg_graph *g = kg_graph_new();
    static const kg_pair origin[] = {{"origin", "France"}};
    static const kg_relation_spec rels[] = {
        {"China", "tariffs-on", "cognac", origin, 1, NULL, 0},
        {"China", "tariffs-on", "pork", NULL, 0, NULL, 0},
        {"France", "exports-to", "China", NULL, 0, NULL, 0},
    };
    static const char *const alias[] = {"PRC"};
    static const kg_entity_spec china = {"China", "country", alias, 1, NULL, 0};
    kg_batch *b = kg_batch_new();
    if (!g || !b || kg_batch_add_entity(b, &china, 0))
        abort();
    for (size_t i = 0; i < sizeof rels / sizeof *rels; i++)
        if (kg_batch_add_relation(b, &rels[i], 0))
            abort();
    if (kg_graph_apply(g, b, NULL))
        abort();
    kg_batch_destroy(&b);
    return g;
}

/* Every change of b through the feed's writer and reader: the same bytes
 * again. */
static void feed_round_trip(const kg_batch *b)
{
    kg_writer *w1 = kg_writer_new(), *w2 = kg_writer_new();
    kg_batch *back = kg_batch_new();
    if (!w1 || !w2 || !back)
        abort();
    for (size_t i = 0; i < kg_batch_count(b); i++) {
        kg_writer_reset(w1);
        kg_writer_reset(w2);
        kg_batch_clear(back);
        if (kg_proto_write_change(w1, 7, kg_batch_get(b, i)))
            abort();
        size_t n1, n2;
        const char *d1 = kg_writer_data(w1, &n1);
        kg_value *v = NULL;
        kg_error err;
        uint64_t seq = 0;
        if (kg_proto_decode(d1, n1, NULL, &v, &err) ||
            kg_proto_change_from_value(v, back, &seq, &err) || seq != 7 ||
            kg_batch_count(back) != 1 ||
            kg_proto_write_change(w2, 7, kg_batch_get(back, 0)))
            abort(); /* the feed cannot read what it wrote */
        const char *d2 = kg_writer_data(w2, &n2);
        if (n1 != n2 || memcmp(d1, d2, n1))
            abort(); /* read back, the change is another one */
        kg_value_destroy(&v);
    }
    kg_batch_destroy(&back);
    kg_writer_destroy(&w1);
    kg_writer_destroy(&w2);
}

static void check_then_apply(const kg_batch *b)
{
    kg_graph *g = seed();
    size_t ne = kg_entity_count(g), nr = kg_relation_count(g);
    kg_error err;
    int checked = kg_graph_check(g, b, &err);
    int applied = kg_graph_apply(g, b, &err);
    if (!checked && applied && applied != KG_ENOMEM)
        abort(); /* the server would have journaled a change it cannot apply */
    if (checked && !applied)
        abort(); /* the check refused what applies */
    if (applied && (kg_entity_count(g) != ne || kg_relation_count(g) != nr))
        abort(); /* a refused batch changed the graph */
    kg_graph_destroy(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    lim.utf8 = true; /* as kgd reads requests */
    kg_value *req = NULL;
    kg_error err;
    if (kg_proto_decode(data, size, &lim, &req, &err))
        return 0;
    for (int remove = 0; remove < 2; remove++) {
        kg_batch *b = kg_batch_new();
        if (!b)
            abort();
        if (kg_proto_request_to_batch(req, remove, b, &err) == 0) {
            feed_round_trip(b);
            check_then_apply(b);
        } else if (kg_batch_count(b)) {
            abort(); /* a refused request left changes behind */
        }
        kg_batch_destroy(&b);
    }
    kg_value_destroy(&req);
    return 0;
}
