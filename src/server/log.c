/* log.c - one line per event on stderr, with a UTC time and a level. */
#include "server.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int log_level = KG_LOG_INFO;

int kg_log_level_from_name(const char *name)
{
    if (!name)
        return -1;
    if (strcasecmp(name, "debug") == 0)
        return KG_LOG_DEBUG;
    if (strcasecmp(name, "info") == 0)
        return KG_LOG_INFO;
    if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
        return KG_LOG_WARN;
    if (strcasecmp(name, "error") == 0)
        return KG_LOG_ERROR;
    return -1;
}

const char *kg_log_level_name(int level)
{
    switch (level) {
    case KG_LOG_DEBUG: return "debug";
    case KG_LOG_INFO: return "info";
    case KG_LOG_WARN: return "warn";
    default: return "error";
    }
}

void kg_log_set_level(int level) { log_level = level; }

bool kg_log_enabled(int level) { return level >= log_level; }

void kg_log(int level, const char *fmt, ...)
{
    if (level < log_level)
        return;
    /* Build the whole line first and write it with one call, so that lines
     * from the reload thread and the main loop never interleave. */
    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, " %s kgd: ",
                          kg_log_level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    /* Messages quote client input: keep each event on one line. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}
