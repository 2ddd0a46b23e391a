/* fuzz_proto.c - the msgpack decoder on arbitrary bytes. Whatever it
 * accepts must encode again and decode to the same encoding; and the
 * decoder's UTF-8 check (limits.utf8) must agree with kg_value_utf8_valid
 * on the tree decoded without it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kg/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kg_value *v = NULL;
    kg_error err;
    if (kg_proto_decode(data, size, NULL, &v, &err) != 0)
        return 0;
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    lim.utf8 = true;
    kg_value *u = NULL;
    int urc = kg_proto_decode(data, size, &lim, &u, &err);
    if ((urc == 0) != kg_value_utf8_valid(v) || (urc && urc != KG_EINVAL))
        abort(); /* the two UTF-8 checks disagree */
    kg_value_destroy(&u);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    kg_value *w = NULL;
    if (kg_proto_encode(v, &a, &na) == 0 &&
        kg_proto_decode(a, na, NULL, &w, &err) == 0 &&
        kg_proto_encode(w, &b, &nb) == 0) {
        if (na != nb || memcmp(a, b, na) != 0)
            abort(); /* encoding is not stable: a bug */
    }
    free(a);
    free(b);
    kg_value_destroy(&w);
    kg_value_destroy(&v);
    return 0;
}
