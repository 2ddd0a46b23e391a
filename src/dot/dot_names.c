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

/* Names that are not plain data in a styled file: our structure ("kind",
 * "aliases", "relation", provenance), cgraph's edge key, and every
 * Graphviz node or edge attribute - a foreign file's shape=record or
 * tailport=f0 would otherwise restyle (or break) the styled drawing, so
 * such data is written as "kg:NAME". Keep in step with docs/formats.md. */
static const char *const node_reserved[] = {
    "kind", "aliases", "key", KG_DOT_ID,
    "area", "class", "color", "colorscheme", "comment", "distortion",
    "fillcolor", "fixedsize", "fontcolor", "fontname", "fontsize",
    "gradientangle", "group", "height", "href", "id", "image", "imagepos",
    "imagescale", "label", "labelloc", "layer", "margin", "nojustify",
    "ordering", "orientation", "penwidth", "peripheries", "pin", "pos",
    "rects", "regular", "root", "samplepoints", "shape", "shapefile",
    "showboxes", "sides", "skew", "sortv", "style", "target", "tooltip",
    "URL", "vertices", "width", "xlabel", "xlp", "z", NULL};
static const char *const edge_reserved[] = {
    "relation", "evidence", "source", "doc_date", "span", "key",
    "arrowhead", "arrowsize", "arrowtail", "class", "color", "colorscheme",
    "comment", "constraint", "decorate", "dir", "edgehref", "edgetarget",
    "edgetooltip", "edgeURL", "fillcolor", "fontcolor", "fontname",
    "fontsize", "head_lp", "headclip", "headhref", "headlabel", "headport",
    "headtarget", "headtooltip", "headURL", "href", "id", "label",
    "labelangle", "labeldistance", "labelfloat", "labelfontcolor",
    "labelfontname", "labelfontsize", "labelhref", "labeltarget",
    "labeltooltip", "labelURL", "layer", "len", "lhead", "lp", "ltail",
    "minlen", "nojustify", "penwidth", "pos", "samehead", "sametail",
    "showboxes", "style", "tail_lp", "tailclip", "tailhref", "taillabel",
    "tailport", "tailtarget", "tailtooltip", "tailURL", "target", "tooltip",
    "URL", "weight", "xlabel", "xlp", NULL};

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
