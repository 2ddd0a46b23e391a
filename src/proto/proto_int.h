/* proto_int.h - private to src/proto. */
#ifndef KG_PROTO_INT_H
#define KG_PROTO_INT_H

#include "kg/proto.h"

/* kg_value.flags: the node lives in a decoded block (read-only; only the
 * root is freed, and that frees the whole block). */
#define KG_VALUE_F_BLOCK 1u
/* The root of a tree in a kg_proto_buffer: destroy must not free it. */
#define KG_VALUE_F_BORROWED 2u

#endif
