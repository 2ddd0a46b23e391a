/* kg/error.h - error codes and the error record every fallible call fills.
 *
 * Convention: functions return 0 (KG_OK) or a negative KG_E* code; those
 * that build something return NULL on failure. When the caller passes a
 * non-NULL kg_error, the function writes a message there ("FILE:LINE: what"
 * for input errors). There is no global error state.
 */
#ifndef KG_ERROR_H
#define KG_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stable codes: the protocol sends their names (kg_error_name) to clients. */
enum {
    KG_OK = 0,
    KG_ENOMEM = -1,    /* out of memory */
    KG_EINVAL = -2,    /* invalid argument or request shape */
    KG_ENOTFOUND = -3, /* entity or relation does not exist */
    KG_EPARSE = -4,    /* malformed input file or message */
    KG_EIO = -5,       /* read/write/fsync failed */
    KG_EEXIST = -6,    /* conflicts with something already present */
    KG_ELIMIT = -7,    /* a configured limit was exceeded */
    KG_ETIMEOUT = -8,  /* a query ran past its time budget */
    KG_EUNSUPPORTED = -9, /* unknown op, format or feature */
    KG_ECORRUPT = -10, /* on-disk data failed its checksum */
    KG_EBUSY = -11     /* resource in use (endpoint taken, lock held) */
};

#define KG_ERROR_MESSAGE_MAX 512

typedef struct kg_error {
    int code;                          /* one of KG_E*, 0 when clear */
    char message[KG_ERROR_MESSAGE_MAX]; /* human readable, NUL terminated */
} kg_error;

/* Fill err (if non-NULL) with code and a printf-style message; returns code
 * so that callers can write `return kg_error_set(err, KG_EINVAL, ...)`. */
int kg_error_set(kg_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err to KG_OK and an empty message. Accepts NULL. */
void kg_error_clear(kg_error *err);

/* Stable lower-case name of a code: "nomem", "invalid", "not_found",
 * "parse", "io", "exists", "limit", "timeout", "unsupported", "corrupt",
 * "busy"; "ok" for 0 and "unknown" otherwise. Static storage. */
const char *kg_error_name(int code);

#ifdef __cplusplus
}
#endif
#endif
