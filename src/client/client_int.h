/* client_int.h - private to src/client: the transport shared by the
 * generic call (client.c) and the typed calls (typed.c). */
#ifndef KG_CLIENT_INT_H
#define KG_CLIENT_INT_H

#include "kg/client.h"

/* Send request (a map) and wait for the reply. On 0, *reply is the whole
 * decoded reply (caller owns: kg_value_destroy) and *result points into
 * it (the "result" value, never NULL). On an ok: false reply, the mapped
 * code is returned with the server's message in err and *reply is NULL. */
int kg_client_request(kg_client *c, const kg_value *request,
                      kg_value **reply, const kg_value **result,
                      kg_error *err);

/* Building requests: each helper sets key in map and returns 0 or
 * KG_ENOMEM. A NULL string is not set (the argument is left out). */
int kg_cl_set_str(kg_value *map, const char *key, const char *s);
int kg_cl_set_int(kg_value *map, const char *key, int64_t i);
int kg_cl_set_bool(kg_value *map, const char *key, bool b);
/* A new request map {"op": op}; NULL on OOM. Caller owns. */
kg_value *kg_cl_request_new(const char *op);

#endif
