/* dot_names.c - the cgraph lock and the reserved attribute names. */
#include <pthread.h>
#include <string.h>

#include "dot_internal.h"

static pthread_mutex_t cgraph_lock = PTHREAD_MUTEX_INITIALIZER;

void kg_dot_lock(void)
{
    pthread_mutex_lock(&cgraph_lock);
}

void kg_dot_unlock(void)
{
    pthread_mutex_unlock(&cgraph_lock);
}

static bool in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list))
            return true;
    return false;
}

/* Keep these lists in step with what dot_write.c sets and with
 * docs/formats.md. "key" is special to cgraph (edge names). */
static const char *const node_reserved[] = {
    "kind", "aliases", "label", "shape", "style", "fillcolor", "color",
    "fontcolor", "fontname", "fontsize", "penwidth", "tooltip", "margin",
    "width", "height", "peripheries", "key", NULL};
static const char *const edge_reserved[] = {
    "relation", "evidence", "source", "doc_date", "span", "label", "color",
    "fontcolor", "fontname", "fontsize", "penwidth", "style", "arrowhead",
    "arrowsize", "tooltip", "labeltooltip", "weight", "key", NULL};

bool kg_dot_node_reserved(const char *name)
{
    return in(name, node_reserved) ||
           !strncmp(name, KG_DOT_ESCAPE, strlen(KG_DOT_ESCAPE));
}

bool kg_dot_edge_reserved(const char *name)
{
    return in(name, edge_reserved) ||
           !strncmp(name, KG_DOT_ESCAPE, strlen(KG_DOT_ESCAPE)) ||
           !strncmp(name, KG_DOT_PROV, strlen(KG_DOT_PROV));
}
