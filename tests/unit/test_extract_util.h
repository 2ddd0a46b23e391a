/* test_extract_util.h - helpers shared by the extractor tests. */
#ifndef TEST_EXTRACT_UTIL_H
#define TEST_EXTRACT_UTIL_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kg/change.h"
#include "kg/extract.h"
#include "kg/graph.h"

/* Does change c (a RELATION_ADD) carry every "k=v" of want ("k=v;k=v")? */
static inline int tx_quals_ok(const kg_change *c, const char *want)
{
    if (!want || !*want)
        return 1;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", want);
    char *save = NULL;
    for (char *p = strtok_r(buf, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(p, '=');
        if (!eq)
            return 0;
        *eq = '\0';
        int found = 0;
        for (size_t i = 0; i < c->u.relation.n_quals; i++)
            if (!strcmp(c->u.relation.quals[i].key, p) &&
                !strcmp(c->u.relation.quals[i].value, eq + 1))
                found = 1;
        if (!found)
            return 0;
    }
    return 1;
}

static inline int tx_name_eq(const char *want, const char *got)
{
    if (!strcmp(want, "*"))
        return 1;
    if (want[0] == '~')
        return strstr(got, want + 1) != NULL;
    if (strstr(want, "agreement"))
        return strstr(got, "agreement") != NULL;
    return strcasecmp(want, got) == 0;
}

/* The first RELATION_ADD matching (s, rel, o) ("*" = any), or NULL. */
static inline const kg_change *tx_find(const kg_batch *b, const char *s,
                                       const char *rel, const char *o)
{
    for (size_t i = 0; i < kg_batch_count(b); i++) {
        const kg_change *c = kg_batch_get(b, i);
        if (c->op != KG_CHANGE_RELATION_ADD)
            continue;
        if (tx_name_eq(s, c->u.relation.subject) &&
            !strcmp(rel, c->u.relation.relation) &&
            tx_name_eq(o, c->u.relation.object))
            return c;
    }
    return NULL;
}

static inline void tx_dump(const kg_batch *b)
{
    for (size_t i = 0; i < kg_batch_count(b); i++) {
        const kg_change *c = kg_batch_get(b, i);
        if (c->op != KG_CHANGE_RELATION_ADD)
            continue;
        fprintf(stderr, "      got: %s | %s | %s |", c->u.relation.subject,
                c->u.relation.relation, c->u.relation.object);
        for (size_t k = 0; k < c->u.relation.n_quals; k++)
            fprintf(stderr, " %s=%s", c->u.relation.quals[k].key,
                    c->u.relation.quals[k].value);
        fprintf(stderr, "\n");
    }
}

/* Read a whole file; caller frees. NULL if missing. */
static inline char *tx_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (len)
        *len = n;
    return buf;
}

#endif
