/* dot_write.c - a graph to styled DOT, through cgraph's agwrite.
 *
 * The output is for people first (`dot -Tsvg`): shape and pastel fill by
 * entity kind, the relation kind (and a few short qualifiers) as the edge
 * label, edge colour by relation family, node tooltips with kind and
 * aliases, edge tooltips with the evidence. It is also data: kind, aliases
 * and attributes on nodes, relation, qualifiers and provenance on edges,
 * and the graph attribute kg_styled="1" tells the reader which attributes
 * are styling. A data attribute whose name the styler uses is written as
 * "kg:NAME"; a provenance key other than the four reserved ones as
 * "prov:KEY".
 */
#include <graphviz/cgraph.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dot_internal.h"
#include "io_util.h"

typedef struct kind_style {
    const char *kind;
    const char *shape;
    const char *style;
    const char *fill;
    const char *line;
    const char *peripheries;
} kind_style;

/* One legend-like palette: cool colours for states, warm for people and
 * documents, green for goods. */
static const kind_style kind_styles[] = {
    {"country", "box", "rounded,filled", "#cfe2f3", "#3d85c6", "1"},
    {"bloc", "box", "rounded,filled", "#d9d2e9", "#674ea7", "2"},
    {"organization", "box", "filled", "#fff2cc", "#bf9000", "1"},
    {"person", "ellipse", "filled", "#f4cccc", "#cc0000", "1"},
    {"product", "note", "filled", "#d9ead3", "#38761d", "1"},
    {"agreement", "tab", "filled", "#fce5cd", "#e69138", "1"},
    {"place", "hexagon", "filled", "#d0e0e3", "#45818e", "1"},
};
static const kind_style other_style = {"", "ellipse", "filled,dashed",
                                       "#eeeeee", "#999999", "1"};

typedef struct family {
    const char *color;
    const char *style;
    const char *const *kinds;
} family;

static const char *const coercive[] = {
    "tariffs-on", "sanctions", "anti-dumping-probe-on", "export-controls-on",
    "accuses", "bans", "restricts", NULL};
static const char *const trade[] = {
    "exports-to", "imports-from", "trade-surplus-with", "trade-deficit-with",
    "supplies", "invests-in", "subsidizes", "lends", NULL};
static const char *const diplomacy[] = {
    "meets", "visits", "signs", "covers", "cooperates-with", NULL};
static const char *const demands[] = {"calls-on", NULL};
static const char *const structure[] = {
    "leads", "member-of", "capital-of", "located-in", "part-of",
    "headquartered-in", NULL};
static const family families[] = {
    {"#cc0000", "solid", coercive},  {"#1c4587", "solid", trade},
    {"#38761d", "solid", diplomacy}, {"#b45f06", "solid", demands},
    {"#777777", "dashed", structure},
};
static const family other_family = {"#444444", "solid", NULL};

/* Qualifiers short and telling enough to go into the edge label, in the
 * order they are shown (at most two). */
static const char *const label_quals[] = {"origin", "kind", "role", "place",
                                          "date",   "claimed-by", "count",
                                          "duration", NULL};
#define LABEL_QUAL_MAX 2
#define LABEL_VALUE_MAX 28
#define TOOLTIP_MAX 300

static const kind_style *style_of(const char *kind)
{
    for (size_t i = 0; i < sizeof kind_styles / sizeof *kind_styles; i++)
        if (!strcmp(kind, kind_styles[i].kind))
            return &kind_styles[i];
    return &other_style;
}

static const family *family_of(const char *rel)
{
    for (size_t i = 0; i < sizeof families / sizeof *families; i++)
        for (const char *const *k = families[i].kinds; *k; k++)
            if (!strcmp(rel, *k))
                return &families[i];
    return &other_family;
}

typedef struct wr_ctx {
    Agraph_t *g;
    kg_sbuf tmp;  /* scratch for one value */
    kg_sbuf name; /* scratch for one attribute name */
    bool oom;
} wr_ctx;

static int put_str(void *chan, const char *s)
{
    kg_sbuf_puts(chan, s);
    return ((kg_sbuf *)chan)->oom ? -1 : 0;
}

static int no_flush(void *chan)
{
    (void)chan;
    return 0;
}

/* Set attribute name of obj (kind AGNODE/AGEDGE/AGRAPH), declaring it
 * with an empty default first, so that agwrite leaves it out of objects
 * that do not have it. */
static void set(wr_ctx *c, void *obj, int kind, const char *name,
                const char *value)
{
    Agsym_t *sym = agattr(c->g, kind, (char *)name, NULL);
    if (!sym)
        sym = agattr(c->g, kind, (char *)name, "");
    if (!sym || agxset(obj, sym, (char *)value) != 0)
        c->oom = true;
}

/* agwrite quotes '"' but not a trailing backslash: "a\" would swallow its
 * closing quote. Such a value gets one more backslash (documented loss). */
static const char *safe_value(wr_ctx *c, const char *v)
{
    size_t n = strlen(v), k = 0;
    while (k < n && v[n - 1 - k] == '\\')
        k++;
    if (k % 2 == 0)
        return v;
    c->tmp.len = 0;
    kg_sbuf_puts(&c->tmp, v);
    kg_sbuf_putc(&c->tmp, '\\');
    return c->tmp.oom ? v : c->tmp.p;
}

/* A data attribute name, escaped with "kg:" when the styler owns it. */
static const char *data_name(wr_ctx *c, const char *key, bool edge)
{
    bool reserved = edge ? kg_dot_edge_reserved(key)
                         : kg_dot_node_reserved(key);
    if (!reserved)
        return key;
    c->name.len = 0;
    kg_sbuf_puts(&c->name, KG_DOT_ESCAPE);
    kg_sbuf_puts(&c->name, key);
    return c->name.oom ? key : c->name.p;
}

/* Append s to b as DOT label text: backslashes doubled (so that "\N" and
 * friends stay literal), cut at max bytes on a UTF-8 boundary. */
static void put_label_text(kg_sbuf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            kg_sbuf_putc(b, '\\');
        kg_sbuf_putc(b, s[i] == '\n' ? ' ' : s[i]);
    }
    if (cut)
        kg_sbuf_puts(b, "...");
}

/* The node label: the id, broken at spaces into lines of about 18
 * characters so that long names make tall rather than very wide boxes. */
static void node_label(kg_sbuf *b, const char *id)
{
    size_t col = 0;
    const char *p = id;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t w = sp ? (size_t)(sp - p) : strlen(p);
        if (col > 0 && col + 1 + w > 18) {
            kg_sbuf_puts(b, "\\n");
            col = 0;
        } else if (col > 0) {
            kg_sbuf_putc(b, ' ');
            col++;
        }
        for (size_t i = 0; i < w; i++) {
            if (p[i] == '\\')
                kg_sbuf_putc(b, '\\');
            kg_sbuf_putc(b, p[i]);
        }
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
}

/* The DOT node name of entity e: its id, unless cgraph would take that
 * for an anonymous node's (a leading '%', KG_DOT_ID): then "kg_id:ID",
 * with "#2", "#3"... when an entity has that id already. The same answer
 * every time for the same graph, so nodes and edge ends agree. */
static const char *node_name(wr_ctx *c, const kg_graph *kg, kg_eid e)
{
    const char *id = kg_entity_id(kg, e);
    if (id[0] != '%')
        return safe_value(c, id);
    /* built in c->name (free until the next attribute name), so that
     * safe_value may use c->tmp */
    for (unsigned k = 1;; k++) {
        c->name.len = 0;
        kg_sbuf_puts(&c->name, KG_DOT_ID ":");
        kg_sbuf_puts(&c->name, id);
        if (k > 1) {
            char suffix[16];
            snprintf(suffix, sizeof suffix, "#%u", k);
            kg_sbuf_puts(&c->name, suffix);
        }
        if (c->name.oom) {
            c->oom = true;
            return id;
        }
        if (kg_entity_by_id(kg, c->name.p) == KG_NONE)
            return safe_value(c, c->name.p);
    }
}

static void write_node(wr_ctx *c, const kg_graph *kg, kg_eid e)
{
    const char *id = kg_entity_id(kg, e), *kind = kg_entity_kind(kg, e);
    Agnode_t *n = agnode(c->g, (char *)node_name(c, kg, e), 1);
    if (!n) {
        c->oom = true;
        return;
    }
    if (id[0] == '%')
        set(c, n, AGNODE, KG_DOT_ID, safe_value(c, id));
    if (*kind)
        set(c, n, AGNODE, "kind", safe_value(c, kind));
    size_t na = kg_entity_alias_count(kg, e);
    kg_sbuf al = {0}, tip = {0};
    for (size_t i = 0; i < na; i++) {
        const char *a = kg_entity_alias(kg, e, i);
        if (i)
            kg_sbuf_putc(&al, '|');
        for (; *a; a++) {
            if (*a == '|' || *a == '\\')
                kg_sbuf_putc(&al, '\\');
            kg_sbuf_putc(&al, *a);
        }
    }
    if (na)
        set(c, n, AGNODE, "aliases", al.oom ? "" : safe_value(c, al.p));
    for (size_t i = 0, nt = kg_entity_attr_count(kg, e); i < nt; i++) {
        kg_pair p = kg_entity_attr(kg, e, i);
        if (*p.value) {
            const char *v = safe_value(c, p.value);
            set(c, n, AGNODE, data_name(c, p.key, false), v);
        }
    }

    const kind_style *st = style_of(kind);
    kg_sbuf lab = {0};
    node_label(&lab, id);
    set(c, n, AGNODE, "label", lab.p ? lab.p : "");
    set(c, n, AGNODE, "shape", st->shape);
    set(c, n, AGNODE, "style", st->style);
    set(c, n, AGNODE, "fillcolor", st->fill);
    set(c, n, AGNODE, "color", st->line);
    if (strcmp(st->peripheries, "1"))
        set(c, n, AGNODE, "peripheries", st->peripheries);
    put_label_text(&tip, id, TOOLTIP_MAX);
    kg_sbuf_puts(&tip, " (");
    put_label_text(&tip, *kind ? kind : "unknown", 64);
    kg_sbuf_putc(&tip, ')');
    if (na) {
        kg_sbuf_puts(&tip, "\\naka ");
        for (size_t i = 0; i < na; i++) {
            if (i)
                kg_sbuf_puts(&tip, ", ");
            put_label_text(&tip, kg_entity_alias(kg, e, i), 64);
        }
    }
    set(c, n, AGNODE, "tooltip", tip.p ? tip.p : "");
    if (al.oom || lab.oom || tip.oom)
        c->oom = true;
    kg_sbuf_free(&al);
    kg_sbuf_free(&lab);
    kg_sbuf_free(&tip);
}

static bool is_reserved_prov(const char *k)
{
    return !strcmp(k, KG_PROV_EVIDENCE) || !strcmp(k, KG_PROV_SOURCE) ||
           !strcmp(k, KG_PROV_DOC_DATE) || !strcmp(k, KG_PROV_SPAN);
}

static void write_edge(wr_ctx *c, const kg_graph *kg, kg_rid r)
{
    const char *rel = kg_relation_kind(kg, r);
    Agnode_t *t = agnode(c->g, (char *)node_name(c, kg, kg_relation_subject(kg, r)), 0);
    Agnode_t *h = agnode(c->g, (char *)node_name(c, kg, kg_relation_object(kg, r)), 0);
    Agedge_t *e = t && h ? agedge(c->g, t, h, NULL, 1) : NULL;
    if (!e) {
        c->oom = true;
        return;
    }
    set(c, e, AGEDGE, "relation", safe_value(c, rel));
    size_t nq = kg_relation_qual_count(kg, r);
    for (size_t i = 0; i < nq; i++) {
        kg_pair p = kg_relation_qual(kg, r, i);
        if (*p.value) {
            const char *v = safe_value(c, p.value);
            set(c, e, AGEDGE, data_name(c, p.key, true), v);
        }
    }
    for (size_t i = 0, np = kg_relation_prov_count(kg, r); i < np; i++) {
        kg_pair p = kg_relation_prov(kg, r, i);
        if (!*p.value)
            continue;
        const char *v = safe_value(c, p.value);
        if (is_reserved_prov(p.key)) {
            set(c, e, AGEDGE, p.key, v);
        } else {
            c->name.len = 0;
            kg_sbuf_puts(&c->name, KG_DOT_PROV);
            kg_sbuf_puts(&c->name, p.key);
            set(c, e, AGEDGE, c->name.oom ? p.key : c->name.p, v);
        }
    }

    /* label: "relation" then up to two short qualifiers, one a line */
    kg_sbuf lab = {0}, tip = {0};
    put_label_text(&lab, rel, 64);
    int shown = 0;
    for (const char *const *k = label_quals; *k && shown < LABEL_QUAL_MAX;
         k++) {
        const char *v = kg_relation_qual_get(kg, r, *k);
        if (!v || !*v || strlen(v) > LABEL_VALUE_MAX)
            continue;
        kg_sbuf_puts(&lab, "\\n");
        put_label_text(&lab, *k, 32);
        kg_sbuf_puts(&lab, ": ");
        put_label_text(&lab, v, LABEL_VALUE_MAX);
        shown++;
    }
    const family *f = family_of(rel);
    set(c, e, AGEDGE, "label", lab.p ? lab.p : "");
    set(c, e, AGEDGE, "color", f->color);
    set(c, e, AGEDGE, "fontcolor", f->color);
    if (strcmp(f->style, "solid"))
        set(c, e, AGEDGE, "style", f->style);
    const char *ev = kg_relation_prov_get(kg, r, KG_PROV_EVIDENCE);
    if (ev && *ev) {
        put_label_text(&tip, ev, TOOLTIP_MAX);
        set(c, e, AGEDGE, "tooltip", tip.p ? tip.p : "");
    }
    if (lab.oom || tip.oom)
        c->oom = true;
    kg_sbuf_free(&lab);
    kg_sbuf_free(&tip);
}

/* Graph-wide settings and defaults, chosen so that `dot -Tsvg` draws
 * without warnings: left-to-right ranks (long labels sit better side by
 * side), curved splines, room between ranks for edge labels. */
static void graph_defaults(wr_ctx *c)
{
    static const char *const gattrs[][2] = {
        {KG_DOT_STYLED, "1"},  {"rankdir", "LR"},     {"splines", "true"},
        {"nodesep", "0.35"},   {"ranksep", "0.9"},    {"newrank", "true"},
        {"fontname", "Helvetica"}, {"fontsize", "12"}, {"bgcolor", "white"},
        {"pad", "0.3"},
    };
    static const char *const nattrs[][2] = {
        {"fontname", "Helvetica"}, {"fontsize", "11"}, {"penwidth", "1.2"},
        {"margin", "0.12,0.06"},
    };
    static const char *const eattrs[][2] = {
        {"fontname", "Helvetica"}, {"fontsize", "9"}, {"arrowsize", "0.7"},
        {"penwidth", "1.1"},
    };
    for (size_t i = 0; i < sizeof gattrs / sizeof *gattrs; i++)
        if (!agattr(c->g, AGRAPH, (char *)gattrs[i][0], (char *)gattrs[i][1]))
            c->oom = true;
    for (size_t i = 0; i < sizeof nattrs / sizeof *nattrs; i++)
        if (!agattr(c->g, AGNODE, (char *)nattrs[i][0], (char *)nattrs[i][1]))
            c->oom = true;
    for (size_t i = 0; i < sizeof eattrs / sizeof *eattrs; i++)
        if (!agattr(c->g, AGEDGE, (char *)eattrs[i][0], (char *)eattrs[i][1]))
            c->oom = true;
}

/* Entities with no relation would all stack up in the first rank (one
 * tall column in LR). They go into a dashed cluster instead, laid out in
 * rows of UNLINKED_ROW by chains of invisible edges; the reader skips
 * invisible edges of a styled file, so they never become relations. */
#define UNLINKED_ROW 4

static void write_unlinked(wr_ctx *c, const kg_graph *kg, const kg_eid *ents,
                           size_t ne)
{
    Agraph_t *sub = NULL;
    Agnode_t *prev = NULL;
    size_t k = 0;
    for (size_t i = 0; i < ne && !c->oom; i++) {
        kg_eid e = ents[i];
        if (kg_degree(kg, e, KG_OUT) || kg_degree(kg, e, KG_IN))
            continue;
        Agnode_t *n = agnode(c->g, (char *)node_name(c, kg, e), 0);
        if (!n)
            continue;
        if (!sub) {
            sub = agsubg(c->g, "cluster_unlinked", 1);
            if (!sub) {
                c->oom = true;
                return;
            }
            set(c, sub, AGRAPH, "label", "mentioned, no relation");
            set(c, sub, AGRAPH, "style", "dashed,rounded");
            set(c, sub, AGRAPH, "color", "#bbbbbb");
            set(c, sub, AGRAPH, "fontcolor", "#777777");
            set(c, sub, AGRAPH, "labeljust", "l");
        }
        if (!agsubnode(sub, n, 1)) {
            c->oom = true;
            return;
        }
        if (prev && k % UNLINKED_ROW != 0) {
            Agedge_t *ed = agedge(sub, prev, n, NULL, 1);
            if (!ed) {
                c->oom = true;
                return;
            }
            set(c, ed, AGEDGE, "style", "invis");
        }
        prev = n;
        k++;
    }
}

/* A legend of the entity kinds present, as an HTML-like graph label. */
static void write_legend(wr_ctx *c, const kg_graph *kg)
{
    kg_sbuf h = {0};
    kg_sbuf_puts(&h, "<table border=\"0\" cellspacing=\"6\" cellpadding=\"4\"><tr>");
    size_t shown = 0;
    for (size_t i = 0; i < sizeof kind_styles / sizeof *kind_styles; i++) {
        if (kg_entities_of_kind(kg, kind_styles[i].kind).n == 0)
            continue;
        kg_sbuf_puts(&h, "<td border=\"1\" color=\"");
        kg_sbuf_puts(&h, kind_styles[i].line);
        kg_sbuf_puts(&h, "\" bgcolor=\"");
        kg_sbuf_puts(&h, kind_styles[i].fill);
        kg_sbuf_puts(&h, "\">");
        kg_sbuf_puts(&h, kind_styles[i].kind);
        kg_sbuf_puts(&h, "</td>");
        shown++;
    }
    kg_sbuf_puts(&h, "</tr></table>");
    if (h.oom) {
        c->oom = true;
    } else if (shown) {
        char *html = agstrdup_html(c->g, h.p);
        Agsym_t *sym = agattr(c->g, AGRAPH, "label", "");
        if (!html || !sym || agxset(c->g, sym, html) != 0)
            c->oom = true;
        agstrfree(c->g, html);
        set(c, c->g, AGRAPH, "labelloc", "b");
        set(c, c->g, AGRAPH, "labeljust", "l");
    }
    kg_sbuf_free(&h);
}

int kg_dot_write(const kg_graph *g, kg_sbuf *b, kg_error *err)
{
    kg_eid *ents = NULL;
    kg_rid *rels = NULL;
    size_t ne = 0, nr = 0;
    if (kg_io_sorted_entities(g, &ents, &ne) ||
        kg_io_sorted_relations(g, &rels, &nr)) {
        free(ents);
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    kg_dot_lock();
    Agiodisc_t io = AgIoDisc;
    io.putstr = put_str;
    io.flush = no_flush;
    Agdisc_t disc = {&AgMemDisc, &AgIdDisc, &io};
    wr_ctx c = {0};
    c.g = agopen("kg", Agdirected, &disc);
    int rc = 0;
    if (c.g) {
        graph_defaults(&c);
        for (size_t i = 0; i < ne && !c.oom; i++)
            write_node(&c, g, ents[i]);
        for (size_t i = 0; i < nr && !c.oom; i++)
            write_edge(&c, g, rels[i]);
        if (!c.oom)
            write_unlinked(&c, g, ents, ne);
        if (!c.oom)
            write_legend(&c, g);
        if (!c.oom && agwrite(c.g, b) == EOF)
            c.oom = true;
        agclose(c.g);
    }
    kg_dot_unlock();
    if (!c.g || c.oom || b->oom)
        rc = kg_error_set(err, KG_ENOMEM, "out of memory writing DOT");
    kg_sbuf_free(&c.tmp);
    kg_sbuf_free(&c.name);
    free(ents);
    free(rels);
    return rc;
}
