/* client_int.h - private to src/client: the transport shared by the
 * generic call (client.c) and the typed calls (typed.c). */
#ifndef KG_CLIENT_INT_H
#define KG_CLIENT_INT_H

#include "kg/client.h"

/* Send request (a map) and wait for the reply. On 0, *reply is the whole
 * decoded reply (caller owns: kg_value_destroy) and *result, unless result
 * is NULL, points into it (the "result" value, never NULL). On an ok:
 * false reply, the mapped code is returned with the server's message in
 * err and *reply is NULL. */
int kg_client_request(kg_client *c, const kg_value *request,
                      kg_value **reply, const kg_value **result,
                      kg_error *err);

/* A malloc'd copy of endpoint with "HOST:PORT", the common shorthand,
 * spelled tcp://HOST:PORT; NULL on out-of-memory. */
char *kg_client_endpoint_dup(const char *endpoint);

/* CLOCK_MONOTONIC in ms, for request and feed deadlines. */
uint64_t kg_client_now_ms(void);

#endif
