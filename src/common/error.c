/* error.c - the kg_error record (see kg/error.h). */
#include "kg/error.h"

#include <stdarg.h>
#include <stdio.h>

int kg_error_set(kg_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void kg_error_clear(kg_error *err)
{
    if (err) {
        err->code = KG_OK;
        err->message[0] = '\0';
    }
}

const char *kg_error_name(int code)
{
    switch (code) {
    case KG_OK: return "ok";
    case KG_ENOMEM: return "nomem";
    case KG_EINVAL: return "invalid";
    case KG_ENOTFOUND: return "not_found";
    case KG_EPARSE: return "parse";
    case KG_EIO: return "io";
    case KG_EEXIST: return "exists";
    case KG_ELIMIT: return "limit";
    case KG_ETIMEOUT: return "timeout";
    case KG_EUNSUPPORTED: return "unsupported";
    case KG_ECORRUPT: return "corrupt";
    case KG_EBUSY: return "busy";
    default: return "unknown";
    }
}
