/* pattern.c - relation patterns: the patterns.txt loader, the matcher and
 * the turning of a match into facts.
 *
 * A pattern is a sequence of elements over the tokens of one sentence:
 * literal words (alternatives with '|', '*' for a prefix, '_' joining
 * words), gaps (~N skips up to N tokens), and slots (X:type) that take an
 * entity mention, a group of them, a product list, an agreement, a clause
 * or a title. Matching is backtracking with lazy gaps, tried from every
 * start position right to left, so that for one trigger word the nearest
 * subject wins. See data/extract/README.md for the file format.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xint.h"

/* ---- loading ----------------------------------------------------------- */

static const struct { const char *name; int type; } slot_types[] = {
    {"actor", ST_ACTOR},       {"geo", ST_GEO},
    {"party", ST_PARTY},       {"person", ST_PERSON},
    {"place", ST_PLACE},       {"org", ST_ORG},
    {"ruler", ST_RULER},       {"product", ST_PRODUCT},
    {"products", ST_PRODUCTS}, {"goods", ST_GOODS},
    {"agreement", ST_AGREEMENT}, {"clause", ST_CLAUSE},
    {"title", ST_TITLE},       {"money", ST_MONEY},
    {"target", ST_TARGET}};

static void elem_free(pelem *e)
{
    for (int i = 0; i < e->n_alts; i++)
        free(e->alts[i]);
    free(e->alts);
    free(e->alt_n);
}

static void pattern_free(pattern *p)
{
    free(p->rel);
    for (int i = 0; i < p->n_quals; i++) {
        free(p->quals[i].key);
        free(p->quals[i].tmpl);
    }
    free(p->quals);
    for (int i = 0; i < p->n_el; i++)
        elem_free(&p->el[i]);
}

void x_patterns_free(kg_extractor *x)
{
    for (size_t i = 0; i < x->n_pats; i++)
        pattern_free(&x->pats[i]);
    free(x->pats);
    x->pats = NULL;
    x->n_pats = x->cap_pats = 0;
    for (size_t i = 0; i < x->n_anchor_lists; i++)
        free(x->anchor_lists[i].ids);
    free(x->anchor_lists);
    x->anchor_lists = NULL;
    x->n_anchor_lists = 0;
    smap_free(&x->anchor_exact);
}

/* Parse literal alternatives "a|b_c|d*" into e. */
static int parse_alts(pelem *e, const char *s)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    int n = 1;
    for (char *p = buf; *p; p++)
        n += *p == '|';
    e->alts = calloc((size_t)n, sizeof *e->alts);
    e->alt_n = calloc((size_t)n, sizeof *e->alt_n);
    if (!e->alts || !e->alt_n)
        return KG_ENOMEM;
    char *save = NULL;
    for (char *a = strtok_r(buf, "|", &save); a; a = strtok_r(NULL, "|", &save)) {
        char low[128];
        size_t l = x_fold(a, strlen(a), low, sizeof low - 1);
        low[l] = '\0';
        int words = 1;
        for (size_t i = 0; i < l; i++)
            if (low[i] == '_') {
                low[i] = ' ';
                words++;
            }
        if (!(e->alts[e->n_alts] = strdup(low)))
            return KG_ENOMEM;
        e->alt_n[e->n_alts++] = words;
    }
    return e->n_alts ? 0 : KG_EINVAL;
}

/* 16-bit hash of the first three bytes of a word (fewer if shorter). */
static unsigned bloom3(const char *w, size_t l)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < l && i < 3; i++)
        h = (h ^ (unsigned char)w[i]) * 16777619u;
    return (h ^ (h >> 16)) & 0xFFFF;
}

static int anchor_add(kg_extractor *x, const char *key, int pat)
{
    int li = smap_get(&x->anchor_exact, key, strlen(key));
    if (li < 0) {
        if (x->n_anchor_lists == x->cap_anchor_lists) {
            size_t nc = x->cap_anchor_lists ? x->cap_anchor_lists * 2 : 64;
            xlist *nl = realloc(x->anchor_lists, nc * sizeof *nl);
            if (!nl)
                return KG_ENOMEM;
            x->anchor_lists = nl;
            x->cap_anchor_lists = nc;
        }
        li = (int)x->n_anchor_lists++;
        memset(&x->anchor_lists[li], 0, sizeof(xlist));
        if (smap_put(&x->anchor_exact, key, strlen(key), li))
            return KG_ENOMEM;
    }
    xlist *l = &x->anchor_lists[li];
    if (l->n && l->ids[l->n - 1] == pat)
        return 0;
    int *ni = realloc(l->ids, (l->n + 1) * sizeof *ni);
    if (!ni)
        return KG_ENOMEM;
    l->ids = ni;
    l->ids[l->n++] = pat;
    return 0;
}

static int parse_pattern(kg_extractor *x, char *line, unsigned ln,
                         const char *path, kg_error *err)
{
    char *colon = strstr(line, " : ");
    if (!colon)
        return kg_error_set(err, KG_EPARSE, "%s:%u: expected 'RELATION ... : ELEMENTS'",
                            path, ln);
    *colon = '\0';
    char *body = colon + 3;
    if (x->n_pats == x->cap_pats) {
        size_t nc = x->cap_pats ? x->cap_pats * 2 : 64;
        pattern *np = realloc(x->pats, nc * sizeof *np);
        if (!np)
            return kg_error_set(err, KG_ENOMEM, "out of memory");
        x->pats = np;
        x->cap_pats = nc;
    }
    pattern *p = &x->pats[x->n_pats];
    memset(p, 0, sizeof *p);
    p->subj = 'S';
    p->obj = 'O';
    p->anchor = -1;
    p->line = ln;
    x->n_pats++; /* freed by x_patterns_free even when parsing fails */
    char *save = NULL, *w;
    bool first = true;
    for (w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (first) {
            if (!(p->rel = strdup(w)))
                return kg_error_set(err, KG_ENOMEM, "out of memory");
            first = false;
            continue;
        }
        if (!strcmp(w, "+modal")) { p->modal = true; continue; }
        char *eq = strchr(w, '=');
        if (!eq)
            return kg_error_set(err, KG_EPARSE, "%s:%u: bad option '%s'", path, ln, w);
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(w, "subj")) { p->subj = v[0]; continue; }
        if (!strcmp(w, "obj")) { p->obj = v[0]; continue; }
        if (!strcmp(w, "ctx")) {
            p->ctx = !strcmp(v, "trade") ? 1 : !strcmp(v, "trade-rev") ? 2 : -1;
            if (p->ctx < 0)
                return kg_error_set(err, KG_EPARSE, "%s:%u: unknown ctx '%s'", path, ln, v);
            continue;
        }
        pqual *nq = realloc(p->quals, (size_t)(p->n_quals + 1) * sizeof *nq);
        if (!nq)
            return kg_error_set(err, KG_ENOMEM, "out of memory");
        p->quals = nq;
        nq[p->n_quals].key = strdup(w);
        nq[p->n_quals].tmpl = strdup(v);
        p->n_quals++;
        if (!nq[p->n_quals - 1].key || !nq[p->n_quals - 1].tmpl)
            return kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    if (!p->rel)
        return kg_error_set(err, KG_EPARSE, "%s:%u: missing relation", path, ln);
    for (w = strtok_r(body, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (p->n_el == X_MAX_PATTERN_ELEMS)
            return kg_error_set(err, KG_ELIMIT, "%s:%u: more than %d elements",
                                path, ln, X_MAX_PATTERN_ELEMS);
        pelem *e = &p->el[p->n_el++];
        memset(e, 0, sizeof *e);
        if (*w == '?') {
            e->opt = true;
            w++;
        }
        if (*w == '~') {
            e->type = PE_GAP;
            e->gap = atoi(w + 1);
            if (e->gap < 1 || e->gap > 40 || e->opt)
                return kg_error_set(err, KG_EPARSE, "%s:%u: bad gap '%s'", path, ln, w);
            continue;
        }
        if (*w == '!') {
            /* !TYPE: no mention of that type starts here (zero width) */
            e->type = PE_NOT;
            for (size_t i = 0; i < sizeof slot_types / sizeof *slot_types; i++)
                if (!strcmp(w + 1, slot_types[i].name))
                    e->stype = slot_types[i].type;
            if (!e->stype || e->stype >= ST_PRODUCT || e->opt)
                return kg_error_set(err, KG_EPARSE, "%s:%u: bad lookahead '%s'", path, ln, w);
            continue;
        }
        if (isupper((unsigned char)w[0]) && w[1] == ':') {
            e->type = PE_SLOT;
            e->slot = w[0];
            char tn[32];
            snprintf(tn, sizeof tn, "%s", w + 2);
            size_t tl = strlen(tn);
            if (tl >= 2 && !strcmp(tn + tl - 2, "'s")) {
                e->poss = true;
                tn[tl -= 2] = '\0';
            }
            if (tl && tn[tl - 1] == '+') {
                e->group = true;
                tn[--tl] = '\0';
            }
            for (size_t i = 0; i < sizeof slot_types / sizeof *slot_types; i++)
                if (!strcmp(tn, slot_types[i].name))
                    e->stype = slot_types[i].type;
            if (!e->stype)
                return kg_error_set(err, KG_EPARSE, "%s:%u: unknown slot type '%s'",
                                    path, ln, tn);
            continue;
        }
        e->type = PE_LIT;
        if (isupper((unsigned char)w[0]) && w[1] == '=') {
            e->slot = w[0];
            w += 2;
        }
        if (parse_alts(e, w))
            return kg_error_set(err, KG_EPARSE, "%s:%u: bad literal '%s'", path, ln, w);
        if (p->anchor < 0 && !e->opt)
            p->anchor = p->n_el - 1;
    }
    if (p->n_el == 0)
        return kg_error_set(err, KG_EPARSE, "%s:%u: a pattern needs elements", path, ln);
    /* the object defaults to O, else to the product slot P */
    bool has_obj = false, has_p = false;
    for (int i = 0; i < p->n_el; i++) {
        has_obj |= p->el[i].type == PE_SLOT && p->el[i].slot == p->obj;
        has_p |= p->el[i].type == PE_SLOT && p->el[i].slot == 'P';
    }
    if (!has_obj && has_p && p->obj == 'O')
        p->obj = 'P';
    if (p->anchor < 0)
        return 0; /* tried on every sentence */
    pelem *a = &p->el[p->anchor];
    for (int i = 0; i < a->n_alts; i++) {
        char key[128];
        snprintf(key, sizeof key, "%s", a->alts[i]);
        char *sp = strchr(key, ' ');
        if (sp)
            *sp = '\0';
        size_t kl = strlen(key);
        if (kl >= 2 && key[kl - 1] == '*' && kl - 1 < 64) {
            x->prefix_lens |= 1ull << (kl - 1);
            unsigned b = bloom3(key, kl - 1);
            x->prefix_bloom[b >> 6] |= 1ull << (b & 63);
        }
        if (anchor_add(x, key, (int)x->n_pats - 1))
            return kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    return 0;
}

int x_load_patterns(kg_extractor *x, const char *path, kg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kg_error_set(err, KG_EIO, "%s: cannot open", path);
    char line[2048];
    unsigned ln = 0;
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        ln++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            rc = kg_error_set(err, KG_ELIMIT, "%s:%u: line too long", path, ln);
            break;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (x->n_pats >= 4096) {
            rc = kg_error_set(err, KG_ELIMIT, "%s:%u: too many patterns", path, ln);
            break;
        }
        rc = parse_pattern(x, s, ln, path, err);
    }
    fclose(f);
    return rc;
}

/* ---- matching ------------------------------------------------------------ */

static bool lit_word(const char *alt, size_t al, const char *w, size_t wl)
{
    if (al && alt[al - 1] == '*')
        return wl >= al - 1 && memcmp(w, alt, al - 1) == 0;
    return wl == al && memcmp(w, alt, al) == 0;
}

/* Tokens matched by literal element e at t, 0 if none. */
static int match_lit(const kg_extractor *x, const pelem *e, int t)
{
    for (int i = 0; i < e->n_alts; i++) {
        const char *a = e->alts[i];
        int k = 0;
        bool ok = true;
        while (ok && *a) {
            const char *sp = strchr(a, ' ');
            size_t al = sp ? (size_t)(sp - a) : strlen(a);
            ok = t + k < x->ntok && lit_word(a, al, x_low(x, t + k), x->toks[t + k].len);
            k++;
            a += al + (sp != NULL);
        }
        if (ok)
            return k;
    }
    return 0;
}

static bool hard_stop(const kg_extractor *x, int t)
{
    const char *w = x_low(x, t);
    return !strcmp(w, ";") || !strcmp(w, ":") || !strcmp(w, "(") ||
           !strcmp(w, ")");
}

static bool has_digit(const kg_extractor *x, int t)
{
    for (const char *p = x_low(x, t); *p; p++)
        if (*p >= '0' && *p <= '9')
            return true;
    return false;
}

/* Is token t a word that may sit inside a product noun phrase? */
static bool np_word(const kg_extractor *x, int t)
{
    const xtok *k = &x->toks[t];
    const char *w = x_low(x, t);
    if (!(k->fl & T_WORD) || x->m_at[t] >= 0)
        return false;
    /* a capital inside a phrase ends it ("canola last September") */
    if ((k->fl & T_CAP) && t > 0 && (x->toks[t - 1].fl & T_WORD) &&
        !(x->toks[t - 1].fl & T_CAP) && !has_digit(x, t))
        return false;
    if (x_word_in(x, W_STOP, w, k->len) || x_word_in(x, W_PREP, w, k->len) ||
        x_word_in(x, W_VERB, w, k->len) ||
        x_word_in(x, W_DET, w, k->len) || x_word_in(x, W_CLAUSE_END, w, k->len))
        return false;
    return true;
}

/* One product noun phrase at t: [det/quantifier] [M's | demonym] words
 * [made in|from|originating from M]. Fills item (lexicon-normalised) and
 * origin; returns the end token or -1. */
static int match_np(kg_extractor *x, int t, char *item, size_t cap,
                    int *origin, bool *generic, bool continued, int maxw)
{
    int i = t, n = x->ntok;
    *origin = -1;
    *generic = false;
    /* the NP must be maximal on the left when it starts a pattern */
    /* determiners and quantities: "most of", "more than 10,000",
     * "millions of", "about 1.7 million barrels of", "seven" */
    for (int guard = 0; guard < 8 && i < n; guard++) {
        const char *w = x_low(x, i);
        size_t wl = x->toks[i].len;
        if (x_word_in(x, W_DET, w, wl) || x_word_in(x, W_LEAD_MOD, w, wl) ||
            x_word_in(x, W_QUANTITY, w, wl) || (x->toks[i].fl & T_NUM) ||
            (!strcmp(w, "of") && i > t) ||
            (!strcmp(w, "than") && i > t && (x_is(x, i - 1, "more") || x_is(x, i - 1, "less")))) {
            i++;
            continue;
        }
        break;
    }
    if (i < n && (x_is(x, i, "these") || x_is(x, i, "those") ||
                  x_is(x, i, "them") || x_is(x, i, "it")))
        return -1;
    int m = i < n ? x->m_at[i] : -1;
    /* France's cognac, Chinese steel, US farm goods: the origin */
    if (m >= 0 && x->ms[m].n == 1 &&
        ((x->ms[m].fl & (M_POSS | M_DEMONYM)) ||
         (x->ms[m].t1 < n && np_word(x, x->ms[m].t1)))) {
        int g = x_resolve(x, x->ms[m].ent[0], ST_ACTOR);
        if (g >= 0) {
            *origin = g;
            i = x->ms[m].t1;
        }
    }
    while (i < n && (x_word_in(x, W_LEAD_MOD, x_low(x, i), x->toks[i].len)))
        i++;
    /* Chinese-made, German-built, US-produced: an origin */
    if (i < n && *origin < 0 && (x->toks[i].fl & T_WORD)) {
        const char *w = x_low(x, i), *dash = strrchr(w, '-');
        if (dash && (!strcmp(dash, "-made") || !strcmp(dash, "-built") ||
                     !strcmp(dash, "-produced") || !strcmp(dash, "-manufactured") ||
                     !strcmp(dash, "-origin"))) {
            int g = x_name_actor(x, x->text + x->toks[i].s, (size_t)(dash - w));
            if (g >= 0) {
                *origin = g;
                i++;
            }
        }
    }
    int w0 = i;
    while (i < n && i - w0 < maxw && np_word(x, i))
        i++;
    if (i == w0)
        return -1;
    int w1 = i;
    /* trailing origin phrase */
    int j = i;
    if (j < n && (x_is(x, j, "made") || x_is(x, j, "produced") ||
                  x_is(x, j, "manufactured") || x_is(x, j, "originating") ||
                  x_is(x, j, "imported") || x_is(x, j, "shipped") ||
                  x_is(x, j, "coming") || x_is(x, j, "sourced")))
        j++;
    if (j < n && (x_is(x, j, "in") || x_is(x, j, "from"))) {
        int mm = j + 1 < n ? x->m_at[j + 1] : -1;
        if (mm >= 0 && x->ms[mm].n == 1) {
            int g = x_resolve(x, x->ms[mm].ent[0], ST_ACTOR);
            if (g >= 0 && !(x->ms[mm].fl & M_POSS)) {
                *origin = g;
                i = x->ms[mm].t1;
            }
        }
    }
    /* build the phrase, try the product lexicon on every sub-run */
    int best = -1, bl = 0, best_a = w0;
    char key[256];
    int tail = w1; /* words after the head that may follow a product */
    while (tail > w0 && (x_word_in(x, W_TRIM, x_low(x, tail - 1), x->toks[tail - 1].len) ||
                         x_is(x, tail - 1, "products") || x_is(x, tail - 1, "goods")))
        tail--;
    for (int a = w0; a < w1; a++)
        for (int b = w1; b > a && b - a > bl && b >= tail; b--) {
            size_t kl = 0;
            for (int k = a; k < b && kl < sizeof key - 70; k++) {
                if (k > a)
                    key[kl++] = ' ';
                memcpy(key + kl, x_low(x, k), x->toks[k].len);
                kl += x->toks[k].len;
            }
            int pi = smap_get(&x->prod_map, key, kl);
            if (pi >= 0) {
                best = pi;
                bl = b - a;
                best_a = a;
            }
        }
    if (best >= 0) {
        /* modifiers before the lexicon words stay ("advanced semiconductors") */
        size_t o = 0;
        item[0] = '\0';
        for (int k = w0; k < best_a && o + x->toks[k].len + 2 < cap; k++) {
            memcpy(item + o, x_low(x, k), x->toks[k].len);
            o += x->toks[k].len;
            item[o++] = ' ';
        }
        snprintf(item + o, cap - o, "%s", x->prod_canon[best]);
        return i;
    }
    /* "... products and slapped duties": a participle is no product;
     * nor is a capitalised word ("on Friday") */
    size_t l0 = x->toks[w0].len;
    const char *f0 = x_low(x, w0);
    if ((x->toks[w0].fl & T_CAP) && w0 > 0 && !has_digit(x, w0))
        return -1; /* but model names stay: S-400 missile systems, F-35 jets */
    if (continued && l0 > 4 && !strcmp(f0 + l0 - 2, "ed"))
        return -1;

    int e1 = w1;
    while (e1 - 1 > w0 && x_word_in(x, W_TRIM, x_low(x, e1 - 1), x->toks[e1 - 1].len))
        e1--;
    size_t o = 0;
    for (int k = w0; k < e1 && o + 2 < cap; k++) {
        if (k > w0)
            item[o++] = ' ';
        size_t l = x->toks[k].len;
        if (o + l + 1 >= cap)
            break;
        memcpy(item + o, x_low(x, k), l);
        o += l;
    }
    item[o] = '\0';
    if (e1 - w0 == 1 && x_word_in(x, W_GENERIC, x_low(x, w0), x->toks[w0].len))
        *generic = true;
    return i;
}

/* A list of product NPs: A, B, and other C. Items that are only a
 * generic word ("other fields") are dropped. */
static int match_np_list(kg_extractor *x, int t, bool list, scap *c, int maxw)
{
    int i = t, n = x->ntok;
    c->n = 0;
    int last_origin = -1, first_end = -1;
    bool closed = false, pending_and = false;
    for (;;) {
        bool other = i < n && x_is(x, i, "other");
        char item[64];
        int origin;
        bool generic;
        int e = match_np(x, i + other, item, sizeof item, &origin, &generic, i > t, maxw);
        if (e < 0)
            break;
        if (!(other && generic) && !generic && c->n < X_MAX_LIST) {
            snprintf(c->item[c->n], sizeof c->item[0], "%s", item);
            c->origin[c->n++] = origin;
        }
        if (origin >= 0)
            last_origin = origin;
        closed = pending_and;
        i = e;
        if (first_end < 0)
            first_end = e;
        if (!list || closed)
            break; /* the item after "and" ends the list */
        int j = i;
        if (j < n && x_is(x, j, ","))
            j++;
        pending_and = false;
        if (j < n && (x_is(x, j, "and") || x_is(x, j, "or"))) {
            j++;
            pending_and = true;
        }
        if (j == i || j >= n)
            break;
        i = j;
    }
    if (!c->n)
        return -1;
    /* "A, B" without a closing "and"/"or" is no list: keep A */
    if (list && c->n > 1 && !closed) {
        c->n = 1;
        i = first_end;
    }
    /* "steel and aluminum from Canada": the origin applies to the list */
    for (int k = 0; k < c->n; k++)
        if (c->origin[k] < 0)
            c->origin[k] = last_origin;
    c->t0 = t;
    c->t1 = i;
    /* an "and" consumed after the last item is given back */
    while (c->t1 > t && (x_is(x, c->t1 - 1, "and") || x_is(x, c->t1 - 1, ",")))
        c->t1--;
    return c->t1;
}

/* Agreement phrase: [N] modifiers head ("12 cooperation agreements"). */
static int match_agreement(kg_extractor *x, int t, scap *c)
{
    int i = t, n = x->ntok;
    c->count = 0;
    c->n = 0;
    while (i < n && (x_word_in(x, W_DET, x_low(x, i), x->toks[i].len)))
        i++;
    if (i < n && (x->toks[i].fl & T_NUM)) {
        c->count = atoi(x_low(x, i));
        i++;
    } else if (i < n) {
        static const char *const nw[] = {"two", "three", "four", "five", "six",
                                         "seven", "eight", "nine", "ten",
                                         "eleven", "twelve"};
        for (int k = 0; k < 11; k++)
            if (x_is(x, i, nw[k])) {
                c->count = k + 2;
                i++;
                break;
            }
    }
    int h0 = i;
    while (i < n && i - h0 < 6) {
        const char *w = x_low(x, i);
        if (x_word_in(x, W_AGREEMENT, w, x->toks[i].len)) {
            c->t0 = h0;
            c->t1 = i + 1;
            return i + 1;
        }
        if (!(x->toks[i].fl & T_WORD) && !x_is(x, i, "-"))
            return -1;
        size_t wl = x->toks[i].len;
        if (x_word_in(x, W_STOP, w, wl) || x_word_in(x, W_CLAUSE_END, w, wl) ||
            x_word_in(x, W_PREP, w, wl) || x->m_at[i] >= 0 ||
            (i > h0 && x_word_in(x, W_DET, w, wl)) ||
            (wl > 4 && !strcmp(w + wl - 2, "ed")))
            return -1;
        i++;
    }
    return -1;
}

static bool clause_end(const kg_extractor *x, int t)
{
    const xtok *k = &x->toks[t];
    const char *w = x_low(x, t);
    if (k->fl & T_QUOTE)
        return false; /* 'accused China of "ripping off" America' */
    if (k->fl & T_DASH)
        return true;
    if ((k->fl & T_PUNCT) && strcmp(w, "-") && strcmp(w, "$") &&
        strcmp(w, "%"))
        return true;
    return x_word_in(x, W_CLAUSE_END, w, k->len);
}

static int match_clause(kg_extractor *x, int t, scap *c)
{
    int i = t;
    while (i < x->ntok && i - t < 30 &&
           (!clause_end(x, i) || (x_is(x, i, "as") && i > t && x_is(x, i - 1, "such"))))
        i++;
    if (i == t)
        return -1;
    c->t0 = t;
    c->t1 = i;
    return i;
}

/* Is the mention starting at t the second member of a coordination? */
static bool group_continues(const kg_extractor *x, int t)
{
    int j = t - 1;
    if (j >= 0 && (x_is(x, j, "its") || x_is(x, j, "their")))
        j--;
    if (j < 0 || !(x_is(x, j, "and") || x_is(x, j, "or") || x_is(x, j, ",")))
        return false;
    j--;
    if (j >= 0 && x_is(x, j, ","))
        j--;
    for (int i = 0; i < x->nm; i++)
        if (x->ms[i].t1 == j + 1)
            return true;
    return false;
}

/* Entity slot: a mention (or titled person, or group) at t. */
static int match_entity(kg_extractor *x, const pelem *e, bool first, int t,
                        scap *c)
{
    int n = x->ntok, m = -1;
    bool titled = false;
    if ((e->stype == ST_PERSON || e->stype == ST_PARTY || e->stype == ST_GEO) &&
        x->pre_at[t] >= 0) {
        m = x->pre_at[t];
        titled = true;
    } else {
        m = x->m_at[t];
    }
    if (m < 0)
        return -1;
    c->n = 0;
    c->t0 = t;
    int end = -1;
    for (;;) {
        const xmention *mm = &x->ms[m];
        int fl = mm->fl;
        if (first && c->n == 0 && e->group &&
            group_continues(x, mm->pre >= 0 ? mm->pre : mm->t0))
            return -1; /* "the US and its NATO allies": start at the US */
        if (first && c->n == 0 && e->poss && (fl & M_PREP) &&
            !(fl & (M_POSS | M_DEMONYM)))
            return -1;
        /* sanctions on "North Korean officials" or "Russian banks" do not
         * target the state itself */
        if (e->stype == ST_TARGET && (fl & M_ACTOR))
            return -1;
        if (!titled && !e->poss && e->stype != ST_RULER) {
            if (first && c->n == 0 &&
                ((fl & (M_POSS | M_PREP | M_OBJ)) || ((fl & M_DEMONYM) && !(fl & M_ACTOR))))
                return -1;
            if (!first && (fl & M_DEMONYM) && !(fl & M_ACTOR) &&
                e->stype != ST_RULER)
                return -1;
        }
        int got = 0, tmp[2];
        for (int k = 0; k < mm->n; k++) {
            int r = x_resolve(x, mm->ent[k], e->stype);
            if (r >= 0)
                tmp[got++] = r;
        }
        if (got != mm->n) {
            if (c->n == 0)
                return -1;
            break;
        }
        for (int k = 0; k < got && c->n < X_MAX_GROUP; k++) {
            bool dup = false;
            for (int q = 0; q < c->n; q++)
                dup |= c->ent[q] == tmp[k];
            if (!dup)
                c->ent[c->n++] = tmp[k];
        }
        end = mm->t1;
        titled = false;
        if (!e->group)
            break;
        int j = end;
        while (j < n && x_word_in(x, W_GROUP_NOUN, x_low(x, j), x->toks[j].len))
            j++;
        end = j;
        if (j < n && x_is(x, j, ","))
            j++;
        if (j < n && (x_is(x, j, "and") || x_is(x, j, "or")))
            j++;
        if (j < n && (x_is(x, j, "its") || x_is(x, j, "their")))
            j++;
        if (j == end || j >= n)
            break;
        /* the next member may be a titled person ("and Commission
         * President Ursula von der Leyen") */
        if (x->m_at[j] >= 0 && !(x->pre_at[j] >= 0 && e->stype != ST_ACTOR &&
                                 e->stype != ST_ORG && e->stype != ST_TARGET)) {
            m = x->m_at[j];
        } else if (x->pre_at[j] >= 0 && e->stype != ST_ACTOR && e->stype != ST_ORG) {
            m = x->pre_at[j];
            titled = true;
        } else {
            break;
        }
    }
    c->t1 = end;
    return end;
}

static int match_title(kg_extractor *x, int t, scap *c)
{
    int k = x->title_at[t];
    if (k <= 0)
        return -1;
    c->t0 = t;
    c->t1 = t + k;
    return t + k;
}

static int match_money(kg_extractor *x, int t, scap *c)
{
    for (int i = 0; i < x->nex; i++)
        if (x->ex[i].type == E_MONEY && x->ex[i].t0 == t) {
            c->t0 = t;
            c->t1 = x->ex[i].t1;
            return c->t1;
        }
    return -1;
}

static bool match_from(kg_extractor *x, const pattern *p, int ei, int t,
                       mstate *st)
{
    if (ei == p->n_el)
        return true;
    /* bounded work per start: nested gaps on a long sentence full of
     * trigger words must not blow up */
    if (--x->steps < 0)
        return false;
    const pelem *e = &p->el[ei];
    int n = x->ntok;
    switch (e->type) {
    case PE_GAP:
        for (int k = 0; k <= e->gap && t + k <= n; k++) {
            if (k > 0 && hard_stop(x, t + k - 1))
                return false;
            if (match_from(x, p, ei + 1, t + k, st))
                return true;
            /* ", which has become the largest buyer of Russian crude,":
             * an insertion between commas costs nothing */
            if (t + k < n && x_is(x, t + k, ",")) {
                int j = t + k + 1;
                while (j < n && j - t - k < 24 && !x_is(x, j, ",") && !hard_stop(x, j))
                    j++;
                if (j < n && x_is(x, j, ",") && j > t + k + 1) {
                    for (int q = 0; q + k <= e->gap && j + 1 + q <= n; q++) {
                        if (q > 0 && hard_stop(x, j + q))
                            break;
                        if (match_from(x, p, ei + 1, j + 1 + q, st))
                            return true;
                    }
                }
            }
        }
        return false;
    case PE_LIT: {
        int k = t < n ? match_lit(x, e, t) : 0;
        if (k) {
            if (e->slot) {
                scap *c = &st->s[e->slot - 'A'];
                c->t0 = t;
                c->t1 = t + k;
                c->n = 0;
                st->set |= 1u << (e->slot - 'A');
            }
            if (ei == p->anchor)
                st->trig = t;
            if (match_from(x, p, ei + 1, t + k, st))
                return true;
        }
        return e->opt && match_from(x, p, ei + 1, t, st);
    }
    case PE_NOT: {
        int m = t < n ? x->m_at[t] : -1;
        if (m < 0 && t < n)
            m = x->pre_at[t];
        if (m >= 0 && x_resolve(x, x->ms[m].ent[0], e->stype) >= 0)
            return false;
        return match_from(x, p, ei + 1, t, st);
    }
    case PE_SLOT: {
        scap *c = &st->s[e->slot - 'A'];
        int end = -1;
        if (t < n) {
            switch (e->stype) {
            case ST_PRODUCT: case ST_PRODUCTS: case ST_GOODS: {
                /* without a tagger a verb may look like a noun ("vehicles
                 * face tariffs"): try shorter phrases when the rest fails */
                int prev = -1;
                for (int maxw = 5; maxw >= 1; maxw--) {
                    end = match_np_list(x, t, e->stype != ST_PRODUCT, c, maxw);
                    if (end < 0)
                        break;
                    if (end == prev)
                        continue;
                    prev = end;
                    st->set |= 1u << (e->slot - 'A');
                    if (match_from(x, p, ei + 1, end, st))
                        return true;
                }
                end = -1;
                break;
            }
            case ST_AGREEMENT:
                end = match_agreement(x, t, c);
                break;
            case ST_CLAUSE: end = match_clause(x, t, c); break;
            case ST_TITLE: end = match_title(x, t, c); break;
            case ST_MONEY: end = match_money(x, t, c); break;
            default: end = match_entity(x, e, ei == 0, t, c); break;
            }
        }
        if (end >= 0) {
            st->set |= 1u << (e->slot - 'A');
            if (match_from(x, p, ei + 1, end, st))
                return true;
        }
        if (e->opt) {
            st->set &= ~(1u << (e->slot - 'A'));
            return match_from(x, p, ei + 1, t, st);
        }
        return false;
    }
    default:
        return false;
    }
}

/* ---- facts from a match -------------------------------------------------- */

static void append(char *buf, size_t cap, const char *s)
{
    size_t l = strlen(buf);
    if (l < cap - 1)
        snprintf(buf + l, cap - l, "%s", s);
}

/* Raw text of tokens [t0,t1), single-spaced, quotes and tabs removed. */
static void span_text(const kg_extractor *x, int t0, int t1, char *out,
                      size_t cap)
{
    out[0] = '\0';
    for (int i = t0; i < t1; i++) {
        if (x->toks[i].fl & T_QUOTE)
            continue;
        char w[X_MAX_TOKEN_LOW + 1];
        size_t l = x->toks[i].e - x->toks[i].s;
        if (l > X_MAX_TOKEN_LOW)
            l = X_MAX_TOKEN_LOW;
        memcpy(w, x->text + x->toks[i].s, l);
        w[l] = '\0';
        for (size_t k = 0; k < l; k++)
            if (w[k] == ';' || w[k] == '=' || (unsigned char)w[k] < ' ')
                w[k] = ' ';
        bool glue = (x->toks[i].fl & (T_POSS | T_PUNCT)) &&
                    strcmp(x_low(x, i), "$") && !(x->toks[i].fl & T_DASH);
        if (out[0] && !glue)
            append(out, cap, " ");
        append(out, cap, w);
    }
}

static void slot_text(const kg_extractor *x, const mstate *st, char slot,
                      char *out, size_t cap)
{
    out[0] = '\0';
    if (slot < 'A' || slot > 'Z' || !(st->set & (1u << (slot - 'A'))))
        return;
    const scap *c = &st->s[slot - 'A'];
    if (c->n > 0 && c->item[0][0]) {
        for (int i = 0; i < c->n; i++) {
            if (i)
                append(out, cap, ", ");
            append(out, cap, c->item[i]);
        }
        return;
    }
    if (c->n > 0) {
        for (int i = 0; i < c->n; i++) {
            if (i)
                append(out, cap, ", ");
            append(out, cap, x->ents[c->ent[i]].id);
        }
        return;
    }
    span_text(x, c->t0, c->t1, out, cap);
}

static void expand(const kg_extractor *x, const mstate *st, const char *tmpl,
                   char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = tmpl; *p; p++) {
        if (*p == '$' && p[1] >= 'A' && p[1] <= 'Z') {
            char v[256];
            slot_text(x, st, p[1], v, sizeof v);
            append(out, cap, v);
            p++;
        } else if (*p == '_') {
            append(out, cap, " ");
        } else {
            char ch[2] = {*p, 0};
            append(out, cap, ch);
        }
    }
}

static void add_qual(char *q, size_t cap, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", k);
    /* keys are unique: the first value stays */
    for (const char *s = q; (s = strstr(s, pat)); s++)
        if (s == q || s[-1] == ';')
            return;
    if (q[0])
        append(q, cap, ";");
    append(q, cap, k);
    append(q, cap, "=");
    append(q, cap, v);
}

static const xrel *rel_policy(const kg_extractor *x, const char *rel)
{
    for (size_t i = 0; i < x->n_rels; i++)
        if (!strcmp(x->rels[i].name, rel))
            return &x->rels[i];
    return NULL;
}

/* Negation or (for non-modal patterns) irrealis words in the match
 * outside its slots, before the object, or earlier in the same clause
 * ("In encouraging France to promote cooperation between ..."). */
static bool blocked_word(const kg_extractor *x, const pattern *p, int i)
{
    const char *w = x_low(x, i);
    size_t l = x->toks[i].len;
    return x_word_in(x, W_NEG, w, l) ||
           (!p->modal && x_word_in(x, W_IRREALIS, w, l));
}

static bool blocked(const kg_extractor *x, const pattern *p, const mstate *st,
                    int t0, int t1)
{
    /* ", accusing Mexico of ...": a participle after a comma starts its
     * own scope ("threatened tariffs ..., accusing" is still an accusation) */
    int trig = st->trig;
    if (trig >= 0 && x_is(x, trig, ",") && trig + 1 < x->ntok)
        trig++;
    if (trig > t0 && x_is(x, trig - 1, ",") && x->toks[trig].len > 4 &&
        !strcmp(x_low(x, trig) + x->toks[trig].len - 3, "ing"))
        t0 = trig;
    for (int i = t0; i < t1; i++) {
        bool in_slot = false;
        for (int s = 0; s < 26 && !in_slot; s++)
            in_slot = (st->set & (1u << s)) && i >= st->s[s].t0 &&
                      i < st->s[s].t1;
        if (!in_slot && blocked_word(x, p, i))
            return true;
    }
    for (int i = t0 - 1; i >= 0 && i >= t0 - 8; i--) {
        const xtok *k = &x->toks[i];
        if ((k->fl & (T_QUOTE | T_DASH)) ||
            ((k->fl & T_PUNCT) && strcmp(x_low(x, i), "-") && strcmp(x_low(x, i), "$")))
            break;
        if (blocked_word(x, p, i))
            return true;
    }
    return false;
}

static int agreement_entity(kg_extractor *x, const mstate *st, char aslot,
                            const scap *subj)
{
    const scap *c = &st->s[aslot - 'A'];
    char name[256] = "";
    bool proper = (x->toks[c->t0].fl & T_CAP) && c->t0 > 0;
    if (proper) {
        span_text(x, c->t0, c->t1, name, sizeof name);
    } else if (subj && subj->n >= 2) {
        const char *ids[X_MAX_GROUP];
        int k = 0;
        for (int i = 0; i < subj->n; i++)
            if (x->ents[subj->ent[i]].kind == K_COUNTRY ||
                x->ents[subj->ent[i]].kind == K_BLOC ||
                x->ents[subj->ent[i]].kind == K_ORG)
                ids[k++] = x->ents[subj->ent[i]].id;
        for (int i = 1; i < k; i++)
            for (int j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
                const char *tmp = ids[j];
                ids[j] = ids[j - 1];
                ids[j - 1] = tmp;
            }
        for (int i = 0; i < k; i++) {
            if (i)
                append(name, sizeof name, "-");
            append(name, sizeof name, ids[i]);
        }
        char np[160];
        span_text(x, c->t0, c->t1, np, sizeof np);
        append(name, sizeof name, " ");
        append(name, sizeof name, np);
        if (x->doc_y) {
            char y[16];
            snprintf(y, sizeof y, " (%d)", x->doc_y);
            append(name, sizeof name, y);
        }
    } else if (x->last_agreement >= 0 && x->sent_index - x->agreement_sent <= 2) {
        return x->last_agreement;
    } else {
        span_text(x, c->t0, c->t1, name, sizeof name);
    }
    int e = x_ent_add(x, name, K_AGREEMENT);
    if (e >= 0) {
        x->last_agreement = e;
        x->agreement_sent = x->sent_index;
    }
    return e;
}

typedef struct emitted {
    int s, o;
    const char *rel;
} emitted;

/* Turn one match into facts; returns 0 or KG_ENOMEM. */
static int emit(kg_extractor *x, const pattern *p, mstate *st, int t0,
                int t1, uint32_t es, uint32_t ee, emitted *em, int *nem)
{
    const xrel *pol = rel_policy(x, p->rel);
    int subj[X_MAX_GROUP], ns = 0, obj[X_MAX_LIST], no = 0;
    int origin[X_MAX_LIST];
    const scap *sc = (st->set & (1u << (p->subj - 'A'))) ? &st->s[p->subj - 'A'] : NULL;
    const scap *oc = (st->set & (1u << (p->obj - 'A'))) ? &st->s[p->obj - 'A'] : NULL;
    if (p->ctx) {
        if (x->trade_s < 0 || x->sent_index - x->trade_sent > 2)
            return 0;
        for (int i = 0; i < x->nm; i++) /* "The resulting surplus ..." */
            if (x->ms[i].t0 < st->trig && x_resolve(x, x->ms[i].ent[0], ST_ACTOR) >= 0)
                return 0;
        subj[ns++] = p->ctx == 1 ? x->trade_s : x->trade_o;
        obj[no] = p->ctx == 1 ? x->trade_o : x->trade_s;
        origin[no++] = -1;
    } else {
        if (!sc || !oc)
            return 0;
        for (int i = 0; i < sc->n && i < X_MAX_GROUP; i++)
            subj[ns++] = sc->ent[i];
        const pelem *oe = NULL;
        for (int i = 0; i < p->n_el; i++)
            if (p->el[i].type == PE_SLOT && p->el[i].slot == p->obj)
                oe = &p->el[i];
        if (oe && oe->stype == ST_AGREEMENT) {
            int a = agreement_entity(x, st, p->obj, sc);
            if (a < 0)
                return KG_ENOMEM;
            obj[no] = a;
            origin[no++] = -1;
        } else if (oc->n > 0 && oc->item[0][0]) {
            for (int i = 0; i < oc->n; i++) {
                int e = x_ent_add(x, oc->item[i], K_PRODUCT);
                if (e < 0)
                    return KG_ENOMEM;
                obj[no] = e;
                origin[no++] = oc->origin[i];
            }
        } else {
            for (int i = 0; i < oc->n && no < X_MAX_LIST; i++) {
                obj[no] = oc->ent[i];
                origin[no++] = -1;
            }
        }
        /* the subject slot may be an agreement too ("agreements covering") */
        const pelem *se = NULL;
        for (int i = 0; i < p->n_el; i++)
            if (p->el[i].type == PE_SLOT && p->el[i].slot == p->subj)
                se = &p->el[i];
        if (se && se->stype == ST_AGREEMENT) {
            int a = agreement_entity(x, st, p->subj, NULL);
            if (a < 0)
                return KG_ENOMEM;
            ns = 0;
            subj[ns++] = a;
        }
        int ostart = oc->t0;
        if (blocked(x, p, st, t0, ostart > st->trig ? ostart : t1))
            return 0;
    }
    /* qualifiers shared by every fact of this match */
    char q[768] = "";
    for (int i = 0; i < p->n_quals; i++) {
        char v[300];
        expand(x, st, p->quals[i].tmpl, v, sizeof v);
        add_qual(q, sizeof q, p->quals[i].key, v);
    }
    char autoq[256] = "";
    if (pol) {
        const xexpr *money = NULL, *rate = NULL, *date = NULL, *dur = NULL;
        int trig = st->trig;
        for (int i = 0; i < x->nex; i++) {
            const xexpr *e = &x->ex[i];
            bool inside = e->t0 >= t0 && e->t0 <= t1 + 4;
            for (int k = t1; inside && k < e->t0; k++)
                inside = !clause_end(x, k); /* "... while importing $219 billion" */
            if (e->type == E_MONEY && inside &&
                (!money || (money->t0 < trig && e->t0 >= trig)))
                money = e;
            /* the rate nearest before the object ("a 100% tariff on EVs and
             * a 25% tariff on steel") */
            int obj_t0 = oc ? oc->t0 : t1;
            if (e->type == E_RATE && e->t0 >= t0 && e->t1 <= t1 &&
                (!rate || (e->t0 > rate->t0 && e->t1 <= obj_t0) ||
                 (rate->t1 > obj_t0 && e->t0 < rate->t0)))
                rate = e;
            if (e->type == E_DURATION && e->t0 >= t0 - 2 && e->t1 <= t1 && !dur)
                dur = e;
            if ((e->type == E_DATE || e->type == E_PERIOD) &&
                (!date || (e->t0 >= t0 && e->t1 <= t1 + 6 &&
                           !(date->t0 >= t0 && date->t1 <= t1 + 6))))
                date = e;
        }
        char v[64];
        if (money && (pol->auto_q & (1u << E_MONEY))) {
            snprintf(v, sizeof v, "%.0f", money->value);
            snprintf(autoq + strlen(autoq), sizeof autoq - strlen(autoq),
                     "%svalue=%s;currency=%s", autoq[0] ? ";" : "", v, money->cur);
        }
        if (rate && (pol->auto_q & (1u << E_RATE)))
            add_qual(autoq, sizeof autoq, "rate", rate->text);
        if (dur && (pol->auto_q & (1u << E_DURATION)))
            add_qual(autoq, sizeof autoq, "duration", dur->text);
        if (p->ctx && x->trade_period[0] && (pol->auto_q & (1u << E_PERIOD))) {
            add_qual(autoq, sizeof autoq, "period", x->trade_period);
        } else if (date && (pol->auto_q & (1u << E_PERIOD)) &&
                   (date->type == E_PERIOD || !(pol->auto_q & (1u << E_DATE)))) {
            add_qual(autoq, sizeof autoq, "period", date->text);
        } else if (date && date->type == E_DATE && (pol->auto_q & (1u << E_DATE))) {
            add_qual(autoq, sizeof autoq, "date", date->text);
        }
        if (pol->auto_q & (1u << E_COUNT)) {
            for (int i = 0; i < 26; i++)
                if ((st->set & (1u << i)) && st->s[i].count > 0) {
                    snprintf(v, sizeof v, "%d", st->s[i].count);
                    add_qual(autoq, sizeof autoq, "count", v);
                }
        }
        if (pol->place) {
            for (int i = t1; i < x->ntok && i < t1 + 6; i++)
                if (x_is(x, i, "in") && i + 1 < x->ntok && x->m_at[i + 1] >= 0) {
                    int pe = x->ms[x->m_at[i + 1]].ent[0];
                    if (x->ents[pe].kind == K_PLACE)
                        add_qual(autoq, sizeof autoq, "place", x->ents[pe].id);
                    break;
                }
        }
        if (pol->docdate && x->doc_y && (pol->auto_q & (1u << E_DATE))) {
            snprintf(v, sizeof v, "%04d-%02d-%02d", x->doc_y, x->doc_m, x->doc_d);
            add_qual(autoq, sizeof autoq, "date", v);
        }
    }
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < no; j++) {
            if (subj[i] == obj[j] || subj[i] < 0 || obj[j] < 0)
                continue;
            if (origin[j] >= 0 && origin[j] == subj[i] &&
                strcmp(p->rel, "subsidizes") && strcmp(p->rel, "export-controls-on"))
                continue; /* tariffs on one's own goods: a misreading */
            bool seen = false;
            for (int k = 0; k < *nem && !seen; k++)
                seen = em[k].s == subj[i] && em[k].o == obj[j] &&
                       !strcmp(em[k].rel, p->rel);
            if (seen)
                continue;
            char fq[1100];
            snprintf(fq, sizeof fq, "%s", q);
            if (origin[j] >= 0)
                add_qual(fq, sizeof fq, "origin", x->ents[origin[j]].id);
            if (autoq[0]) {
                if (fq[0])
                    append(fq, sizeof fq, ";");
                append(fq, sizeof fq, autoq);
            }
            int rc = x_add_fact(x, subj[i], p->rel, obj[j], fq, es, ee, t1 - t0);
            if (rc)
                return rc;
            if (*nem < 64) {
                em[*nem].s = subj[i];
                em[*nem].o = obj[j];
                em[*nem].rel = p->rel;
                (*nem)++;
            }
            if (!strcmp(p->rel, "exports-to")) {
                x->trade_s = subj[i];
                x->trade_o = obj[j];
                x->trade_sent = x->sent_index;
                const char *pp = strstr(fq, "period=");
                x->trade_period[0] = '\0';
                if (pp) {
                    snprintf(x->trade_period, sizeof x->trade_period, "%s", pp + 7);
                    char *semi = strchr(x->trade_period, ';');
                    if (semi)
                        *semi = '\0';
                }
            }
        }
    return 0;
}

/* Run every pattern whose anchor word occurs in the sentence. */
int x_run_patterns(kg_extractor *x, uint32_t es, uint32_t ee)
{
    size_t np = x->n_pats;
    unsigned char *fire = x->fire;
    for (size_t i = 0; i < np; i++)
        fire[i] = x->pats[i].anchor < 0;
    char key[X_MAX_TOKEN_LOW + 2];
    for (int t = 0; t < x->ntok; t++) {
        const char *w = x_low(x, t);
        size_t l = x->toks[t].len;
        int li = smap_get(&x->anchor_exact, w, l);
        if (li >= 0)
            for (size_t k = 0; k < x->anchor_lists[li].n; k++)
                fire[x->anchor_lists[li].ids[k]] = 1;
        unsigned b = bloom3(w, l);
        if (!(x->prefix_bloom[b >> 6] & (1ull << (b & 63))))
            continue;
        for (size_t pl = 2; pl <= l && pl < 64; pl++) {
            if (!(x->prefix_lens & (1ull << pl)))
                continue;
            memcpy(key, w, pl);
            key[pl] = '*';
            li = smap_get(&x->anchor_exact, key, pl + 1);
            if (li >= 0)
                for (size_t k = 0; k < x->anchor_lists[li].n; k++)
                    fire[x->anchor_lists[li].ids[k]] = 1;
        }
    }
    emitted em[64];
    int nem = 0;
    mstate *st = &x->mst;
    for (size_t pi = 0; pi < np; pi++) {
        if (!fire[pi])
            continue;
        const pattern *p = &x->pats[pi];
        int used[X_MAX_SENT_TOKENS];
        int nused = 0;
        bool ent_first = p->el[0].type == PE_SLOT && p->el[0].stype < ST_PRODUCT;
        bool np_first = p->el[0].type == PE_SLOT &&
                        (p->el[0].stype == ST_PRODUCT || p->el[0].stype == ST_PRODUCTS ||
                         p->el[0].stype == ST_GOODS || p->el[0].stype == ST_AGREEMENT);
        for (int t = x->ntok - 1; t >= 0; t--) {
            if (ent_first && x->m_at[t] < 0 && x->pre_at[t] < 0)
                continue;
            st->set = 0;
            st->trig = -1;
            for (int k = 0; k < 26; k++)
                st->s[k].count = 0;
            x->steps = X_MATCH_STEPS;
            if (!match_from(x, p, 0, t, st))
                continue;
            if (p->anchor < 0)
                st->trig = t;
            bool dup = false;
            for (int k = 0; k < nused && !dup; k++)
                dup = used[k] == st->trig;
            if (dup)
                continue;
            /* a phrase that starts the pattern takes all the words it can
             * on its left ("12 cooperation agreements covering") */
            if (np_first) {
                int trig = st->trig;
                while (t > 0) {
                    st->set = 0;
                    x->steps = X_MATCH_STEPS;
                    if (!match_from(x, p, 0, t - 1, st) || st->trig != trig)
                        break;
                    t--;
                }
                st->set = 0;
                x->steps = X_MATCH_STEPS;
                match_from(x, p, 0, t, st);
            }
            used[nused++] = st->trig;
            int t1 = t;
            for (int k = 0; k < 26; k++)
                if ((st->set & (1u << k)) && st->s[k].t1 > t1)
                    t1 = st->s[k].t1;
            if (st->trig + 1 > t1)
                t1 = st->trig + 1;
            int rc = emit(x, p, st, t, t1, es, ee, em, &nem);
            if (rc)
                return rc;
        }
    }
    return 0;
}
