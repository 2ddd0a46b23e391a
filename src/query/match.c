/* match.c - kg_query_match: conjunctive triple patterns with variables.
 *
 * Evaluation: a greedy plan orders the patterns by estimated candidates
 * per incoming row (see kg/query.h), then a depth-first nested-loop join
 * walks them in that order. Each pattern fetches its candidate relations
 * from the cheapest index its bound positions allow (subject out-adjacency,
 * object in-adjacency, or every relation), then checks the positions in a
 * fixed order (subject, relation, object, qualifiers), binding variables
 * the first time they are met and unbinding them on the way back. */
#include <stdlib.h>
#include <string.h>

#include "qint.h"

enum term_type {
    T_ENT,     /* constant entity (v = eid) */
    T_KIND,    /* constant relation kind (v = atom) */
    T_STR,     /* constant qualifier value (s) */
    T_VAR,     /* variable (v = index) */
    T_PRESENT, /* qualifier key must be present */
    T_NOTHING  /* constant naming nothing in the graph: never matches */
};

typedef struct term {
    enum term_type t;
    uint32_t v;
    const char *s;
} term;

typedef struct pat {
    term s, r, o;
    term *q;
    const char **qkeys;
    size_t nq;
} pat;

enum { V_ENT, V_STR }; /* what a variable is bound to: eid or atom */

typedef struct ctx {
    const kg_graph *g;
    pat *pats;
    size_t np;
    size_t *order;
    size_t nv;
    char **names;
    uint32_t *val;
    unsigned char *type;
    bool *bound;
    bool *is_ent; /* the variable appears in a subject/object position */
    int32_t day;
    kg_q_clock clk;
    size_t limit;
    /* distinct rows: row-major values and an open-addressing index */
    uint32_t *rows;
    unsigned char *row_types;
    size_t n_rows, rows_cap;
    size_t *tab;
    size_t tab_cap;
    bool stop;
    bool truncated;
    int rc;
    kg_error *err;
} ctx;

#define NO_ROW SIZE_MAX

/* ---- parsing ------------------------------------------------------------ */

static bool is_var(const char *s)
{
    return s && s[0] == '?';
}

static bool var_name_ok(const char *s)
{
    if (!s[1])
        return false;
    for (const char *p = s + 1; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int var_index(ctx *c, const char *s, uint32_t *out)
{
    if (!var_name_ok(s))
        return kg_error_set(c->err, KG_EINVAL,
                            "bad variable \"%s\" (use ?name: letters, "
                            "digits, _ and -)", s);
    for (size_t i = 0; i < c->nv; i++)
        if (strcmp(c->names[i], s + 1) == 0) {
            *out = (uint32_t)i;
            return 0;
        }
    char *copy = strdup(s + 1);
    if (!copy)
        return kg_error_set(c->err, KG_ENOMEM, "out of memory");
    c->names[c->nv] = copy;
    *out = (uint32_t)c->nv++;
    return 0;
}

/* pos: 0 subject, 1 relation, 2 object, 3 qualifier. */
static int parse_term(ctx *c, const char *s, int pos, size_t pi, term *t)
{
    static const char *const what[] = {"subject", "relation", "object",
                                       "qualifier"};
    memset(t, 0, sizeof *t);
    if (pos == 3 && !s) {
        t->t = T_PRESENT;
        return 0;
    }
    if (!s || !s[0])
        return kg_error_set(c->err, KG_EINVAL, "pattern %zu: empty %s", pi + 1,
                            what[pos]);
    if (is_var(s)) {
        t->t = T_VAR;
        return var_index(c, s, &t->v);
    }
    t->s = s;
    if (pos == 0 || pos == 2) {
        t->v = kg_entity_find(c->g, s);
        t->t = t->v == KG_NONE ? T_NOTHING : T_ENT;
    } else if (pos == 1) {
        t->v = kg_atom_find(c->g, s);
        t->t = t->v == KG_NONE ? T_NOTHING : T_KIND;
    } else {
        t->t = T_STR;
    }
    return 0;
}

/* ---- planning --------------------------------------------------------------- */

typedef struct kind_counts {
    kg_atom *kinds;
    size_t *counts;
    size_t n;
} kind_counts;

static size_t kind_count(const kind_counts *kc, kg_atom k)
{
    for (size_t i = 0; i < kc->n; i++)
        if (kc->kinds[i] == k)
            return kc->counts[i];
    return 0;
}

/* Estimated candidate relations per incoming row for pattern p when the
 * variables in `bound` are bound. */
static double estimate(const ctx *c, const kind_counts *kc, const pat *p,
                       const bool *bound)
{
    if (p->s.t == T_NOTHING || p->r.t == T_NOTHING || p->o.t == T_NOTHING)
        return 0;
    double rels = (double)kg_relation_count(c->g);
    double ents = (double)kg_entity_count(c->g);
    if (ents < 1)
        ents = 1;
    kg_atom k = p->r.t == T_KIND ? p->r.v : 0;
    double of_kind = k ? (double)kind_count(kc, k) : rels;
    double best = -1;
    const term *ends[2] = {&p->s, &p->o};
    for (int i = 0; i < 2; i++) {
        const term *t = ends[i];
        double e;
        if (t->t == T_ENT)
            e = (double)kg_adjacent(c->g, t->v, i == 0 ? KG_OUT : KG_IN, k).n;
        else if (t->t == T_VAR && bound[t->v])
            e = of_kind / ents;
        else
            continue;
        if (best < 0 || e < best)
            best = e;
    }
    return best >= 0 ? best : of_kind;
}

static void mark_vars(const pat *p, bool *bound)
{
    if (p->s.t == T_VAR)
        bound[p->s.v] = true;
    if (p->r.t == T_VAR)
        bound[p->r.v] = true;
    if (p->o.t == T_VAR)
        bound[p->o.v] = true;
    for (size_t i = 0; i < p->nq; i++)
        if (p->q[i].t == T_VAR)
            bound[p->q[i].v] = true;
}

static int plan(ctx *c, kg_match_step *steps)
{
    kind_counts kc = {0};
    size_t nk = kg_relation_kinds(c->g, NULL, NULL, 0);
    bool *bound = calloc(c->nv + 1, sizeof *bound);
    bool *done = calloc(c->np, sizeof *done);
    kc.kinds = malloc((nk + 1) * sizeof *kc.kinds);
    kc.counts = malloc((nk + 1) * sizeof *kc.counts);
    int rc = 0;
    if (!bound || !done || !kc.kinds || !kc.counts) {
        rc = kg_error_set(c->err, KG_ENOMEM, "out of memory");
        goto out;
    }
    kc.n = kg_relation_kinds(c->g, kc.kinds, kc.counts, nk);
    if (kc.n > nk)
        kc.n = nk;
    for (size_t step = 0; step < c->np; step++) {
        size_t pick = SIZE_MAX;
        double cost = 0;
        for (size_t i = 0; i < c->np; i++) {
            if (done[i])
                continue;
            double e = estimate(c, &kc, &c->pats[i], bound);
            if (pick == SIZE_MAX || e < cost) {
                pick = i;
                cost = e;
            }
        }
        done[pick] = true;
        mark_vars(&c->pats[pick], bound);
        c->order[step] = pick;
        steps[step].pattern = pick;
        steps[step].estimate = cost;
    }
out:
    free(bound);
    free(done);
    free(kc.kinds);
    free(kc.counts);
    return rc;
}

/* ---- evaluation --------------------------------------------------------- */

/* The entity a position stands for right now: *e, or false when the
 * position is free. A bound string that names no entity gives KG_NONE. */
static bool ent_of(const ctx *c, const term *t, kg_eid *e)
{
    if (t->t == T_ENT) {
        *e = t->v;
        return true;
    }
    if (t->t == T_NOTHING) {
        *e = KG_NONE;
        return true;
    }
    if (t->t == T_VAR && c->bound[t->v]) {
        *e = c->type[t->v] == V_ENT
                 ? c->val[t->v]
                 : kg_entity_find(c->g, kg_atom_str(c->g, c->val[t->v]));
        return true;
    }
    return false;
}

static void bind(ctx *c, uint32_t v, unsigned char type, uint32_t val,
                 uint32_t *newly, size_t *n_new)
{
    c->bound[v] = true;
    c->type[v] = type;
    c->val[v] = val;
    newly[(*n_new)++] = v;
}

/* Does an entity position hold entity e? Binds a free variable. */
static bool check_ent(ctx *c, const term *t, kg_eid e, uint32_t *newly,
                      size_t *n_new)
{
    if (t->t == T_ENT)
        return t->v == e;
    if (t->t != T_VAR)
        return false;
    if (!c->bound[t->v]) {
        bind(c, t->v, V_ENT, e, newly, n_new);
        return true;
    }
    if (c->type[t->v] == V_ENT)
        return c->val[t->v] == e;
    return kg_entity_find(c->g, kg_atom_str(c->g, c->val[t->v])) == e;
}

/* Does a string position (relation kind, qualifier value) hold s (atom a,
 * or KG_NONE when not known yet)? Binds a free variable. */
static bool check_str(ctx *c, const term *t, const char *s, kg_atom a,
                      uint32_t *newly, size_t *n_new)
{
    switch (t->t) {
    case T_KIND:
        return a != KG_NONE ? t->v == a : strcmp(kg_atom_str(c->g, t->v), s) == 0;
    case T_STR:
        return strcmp(t->s, s) == 0;
    case T_PRESENT:
        return true;
    case T_VAR:
        if (!c->bound[t->v] && c->is_ent[t->v]) {
            /* an entity variable met first as a string: resolve it */
            kg_eid e = kg_entity_find(c->g, s);
            if (e == KG_NONE)
                return false;
            bind(c, t->v, V_ENT, e, newly, n_new);
            return true;
        }
        if (!c->bound[t->v]) {
            if (a == KG_NONE)
                a = kg_atom_find(c->g, s);
            if (a == KG_NONE)
                return false; /* cannot happen: graph strings are atoms */
            bind(c, t->v, V_STR, a, newly, n_new);
            return true;
        }
        if (c->type[t->v] == V_ENT)
            return kg_entity_find(c->g, s) == c->val[t->v];
        return strcmp(kg_atom_str(c->g, c->val[t->v]), s) == 0;
    default:
        return false;
    }
}

static uint64_t row_hash(const uint32_t *row, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        h ^= row[i];
        h *= 0x100000001B3ull;
        h ^= h >> 29;
    }
    return h;
}

static int tab_grow(ctx *c)
{
    size_t cap = c->tab_cap ? c->tab_cap * 2 : 64;
    size_t *t = malloc(cap * sizeof *t);
    if (!t)
        return KG_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        t[i] = NO_ROW;
    for (size_t r = 0; r < c->n_rows; r++) {
        size_t s = (size_t)row_hash(c->rows + r * c->nv, c->nv) & (cap - 1);
        while (t[s] != NO_ROW)
            s = (s + 1) & (cap - 1);
        t[s] = r;
    }
    free(c->tab);
    c->tab = t;
    c->tab_cap = cap;
    return 0;
}

/* Record the current bindings as a row unless it is a duplicate. */
static void emit(ctx *c)
{
    if ((c->n_rows + 1) * 2 > c->tab_cap && tab_grow(c)) {
        c->rc = kg_error_set(c->err, KG_ENOMEM, "out of memory");
        c->stop = true;
        return;
    }
    size_t s = (size_t)row_hash(c->val, c->nv) & (c->tab_cap - 1);
    while (c->tab[s] != NO_ROW) {
        const uint32_t *row = c->rows + c->tab[s] * c->nv;
        if (c->nv == 0 || memcmp(row, c->val, c->nv * sizeof *row) == 0)
            return; /* duplicate */
        s = (s + 1) & (c->tab_cap - 1);
    }
    if (c->limit && c->n_rows == c->limit) {
        c->truncated = true;
        c->stop = true;
        return;
    }
    size_t w = c->nv ? c->nv : 1;
    if (c->n_rows == c->rows_cap) {
        size_t cap = c->rows_cap ? c->rows_cap * 2 : 16;
        uint32_t *rows = realloc(c->rows, cap * w * sizeof *rows);
        if (!rows) {
            c->rc = kg_error_set(c->err, KG_ENOMEM, "out of memory");
            c->stop = true;
            return;
        }
        c->rows = rows;
        unsigned char *types = realloc(c->row_types, cap * w);
        if (!types) {
            c->rc = kg_error_set(c->err, KG_ENOMEM, "out of memory");
            c->stop = true;
            return;
        }
        c->row_types = types;
        c->rows_cap = cap;
    }
    if (c->nv) {
        memcpy(c->rows + c->n_rows * c->nv, c->val, c->nv * sizeof *c->val);
        memcpy(c->row_types + c->n_rows * c->nv, c->type, c->nv);
    }
    c->tab[s] = c->n_rows++;
}

static void eval(ctx *c, size_t step);

/* Try relation r against pattern p; on success go one step deeper. */
static void try_rel(ctx *c, const pat *p, kg_rid r, size_t step)
{
    const kg_graph *g = c->g;
    if (c->day && !kg_relation_in_force(g, r, c->day))
        return;
    uint32_t newly[3 + KG_QUERY_MAX_QUALS];
    size_t n_new = 0;
    kg_atom k = kg_relation_kind_atom(g, r);
    bool ok = check_ent(c, &p->s, kg_relation_subject(g, r), newly, &n_new) &&
              check_str(c, &p->r, kg_atom_str(g, k), k, newly, &n_new) &&
              check_ent(c, &p->o, kg_relation_object(g, r), newly, &n_new);
    for (size_t i = 0; ok && i < p->nq; i++) {
        const char *v = kg_relation_qual_get(g, r, p->qkeys[i]);
        ok = v && check_str(c, &p->q[i], v, KG_NONE, newly, &n_new);
    }
    if (ok)
        eval(c, step + 1);
    for (size_t i = 0; i < n_new; i++)
        c->bound[newly[i]] = false;
}

static void eval(ctx *c, size_t step)
{
    if (c->stop)
        return;
    if (step == c->np) {
        emit(c);
        return;
    }
    const pat *p = &c->pats[c->order[step]];
    kg_eid s = KG_NONE, o = KG_NONE;
    bool sb = ent_of(c, &p->s, &s), ob = ent_of(c, &p->o, &o);
    if ((sb && s == KG_NONE) || (ob && o == KG_NONE) || p->r.t == T_NOTHING)
        return;
    kg_atom k = 0;
    if (p->r.t == T_KIND)
        k = p->r.v;
    else if (p->r.t == T_VAR && c->bound[p->r.v] && c->type[p->r.v] == V_STR)
        k = c->val[p->r.v];
    if (sb || ob) {
        kg_span span;
        if (sb && ob) {
            kg_span a = kg_adjacent(c->g, s, KG_OUT, k);
            kg_span b = kg_adjacent(c->g, o, KG_IN, k);
            span = a.n <= b.n ? a : b;
        } else {
            span = sb ? kg_adjacent(c->g, s, KG_OUT, k)
                      : kg_adjacent(c->g, o, KG_IN, k);
        }
        for (size_t i = 0; i < span.n && !c->stop; i++) {
            if (kg_q_expired(&c->clk)) {
                c->rc = kg_error_set(c->err, KG_ETIMEOUT,
                                     "query ran past its deadline");
                c->stop = true;
                return;
            }
            try_rel(c, p, span.ids[i], step);
        }
        return;
    }
    for (kg_rid r = kg_relation_first(c->g); r != KG_NONE && !c->stop;
         r = kg_relation_next(c->g, r)) {
        if (kg_q_expired(&c->clk)) {
            c->rc = kg_error_set(c->err, KG_ETIMEOUT,
                                 "query ran past its deadline");
            c->stop = true;
            return;
        }
        if (k && kg_relation_kind_atom(c->g, r) != k)
            continue;
        try_rel(c, p, r, step);
    }
}

/* ---- the query ------------------------------------------------------------ */

void kg_match_result_free(kg_match_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n_vars; i++)
        free(res->vars[i]);
    free(res->vars);
    if (res->cells)
        for (size_t i = 0; i < res->n_rows * res->n_vars; i++)
            free(res->cells[i]);
    free(res->cells);
    free(res->plan);
    memset(res, 0, sizeof *res);
}

static void ctx_free(ctx *c)
{
    for (size_t i = 0; i < c->np; i++) {
        free(c->pats[i].q);
        free(c->pats[i].qkeys);
    }
    free(c->pats);
    free(c->order);
    free(c->val);
    free(c->type);
    free(c->bound);
    free(c->is_ent);
    free(c->rows);
    free(c->row_types);
    free(c->tab);
}

int kg_query_match(const kg_graph *g, const kg_match_query *q,
                   kg_match_result *res, kg_error *err)
{
    if (!res)
        return kg_error_set(err, KG_EINVAL, "no result");
    memset(res, 0, sizeof *res);
    if (!g || !q)
        return kg_error_set(err, KG_EINVAL, "no graph or query");
    if (q->n_patterns == 0 || !q->patterns)
        return kg_error_set(err, KG_EINVAL, "match: no pattern");
    if (q->n_patterns > KG_QUERY_MATCH_MAX_PATTERNS)
        return kg_error_set(err, KG_EINVAL, "match: more than %d patterns",
                            KG_QUERY_MATCH_MAX_PATTERNS);
    ctx c = {.g = g, .np = q->n_patterns, .limit = q->opts.limit,
             .err = err, .clk = {q->opts.deadline, 0}};
    int rc = kg_q_as_of(q->opts.as_of, &c.day, err);
    if (rc)
        return rc;
    size_t max_vars = 0;
    for (size_t i = 0; i < q->n_patterns; i++) {
        if (q->patterns[i].n_quals > KG_QUERY_MAX_QUALS)
            return kg_error_set(err, KG_EINVAL,
                                "pattern %zu: more than %d qualifiers", i + 1,
                                KG_QUERY_MAX_QUALS);
        max_vars += 3 + q->patterns[i].n_quals;
    }
    c.pats = calloc(c.np, sizeof *c.pats);
    c.order = calloc(c.np, sizeof *c.order);
    c.names = calloc(max_vars, sizeof *c.names);
    res->plan = calloc(c.np, sizeof *res->plan);
    if (!c.pats || !c.order || !c.names || !res->plan) {
        rc = kg_error_set(err, KG_ENOMEM, "out of memory");
        goto fail;
    }
    res->vars = c.names; /* owned by res from here on */
    for (size_t i = 0; i < c.np && !rc; i++) {
        const kg_match_pattern *mp = &q->patterns[i];
        pat *p = &c.pats[i];
        rc = parse_term(&c, mp->subject, 0, i, &p->s);
        if (!rc)
            rc = parse_term(&c, mp->relation, 1, i, &p->r);
        if (!rc)
            rc = parse_term(&c, mp->object, 2, i, &p->o);
        res->n_vars = c.nv;
        if (rc || mp->n_quals == 0)
            continue;
        p->q = calloc(mp->n_quals, sizeof *p->q);
        p->qkeys = calloc(mp->n_quals, sizeof *p->qkeys);
        if (!p->q || !p->qkeys || !mp->quals) {
            rc = kg_error_set(err, p->q && p->qkeys ? KG_EINVAL : KG_ENOMEM,
                              "pattern %zu: qualifiers missing", i + 1);
            break;
        }
        p->nq = mp->n_quals;
        for (size_t j = 0; j < mp->n_quals && !rc; j++) {
            if (!mp->quals[j].key || !mp->quals[j].key[0]) {
                rc = kg_error_set(err, KG_EINVAL,
                                  "pattern %zu: empty qualifier key", i + 1);
                break;
            }
            p->qkeys[j] = mp->quals[j].key;
            rc = parse_term(&c, mp->quals[j].value, 3, i, &p->q[j]);
            res->n_vars = c.nv;
        }
    }
    if (rc)
        goto fail;
    c.nv = res->n_vars;
    c.val = calloc(c.nv + 1, sizeof *c.val);
    c.type = calloc(c.nv + 1, 1);
    c.bound = calloc(c.nv + 1, sizeof *c.bound);
    c.is_ent = calloc(c.nv + 1, sizeof *c.is_ent);
    if (!c.val || !c.type || !c.bound || !c.is_ent) {
        rc = kg_error_set(err, KG_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < c.np; i++) {
        if (c.pats[i].s.t == T_VAR)
            c.is_ent[c.pats[i].s.v] = true;
        if (c.pats[i].o.t == T_VAR)
            c.is_ent[c.pats[i].o.v] = true;
    }
    rc = plan(&c, res->plan);
    if (rc)
        goto fail;
    res->n_plan = c.np;
    eval(&c, 0);
    if ((rc = c.rc))
        goto fail;

    if (c.n_rows && c.nv) {
        res->cells = calloc(c.n_rows * c.nv, sizeof *res->cells);
        if (!res->cells) {
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
            goto fail;
        }
    }
    res->n_rows = c.n_rows;
    for (size_t i = 0; i < c.n_rows * c.nv; i++) {
        const char *s = c.row_types[i] == V_ENT ? kg_entity_id(g, c.rows[i])
                                                : kg_atom_str(g, c.rows[i]);
        if (!(res->cells[i] = strdup(s))) {
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
            goto fail;
        }
    }
    res->truncated = c.truncated;
    ctx_free(&c);
    return 0;
fail:
    if (!res->vars) {
        for (size_t i = 0; i < c.nv; i++)
            free(c.names[i]);
        free(c.names);
    }
    ctx_free(&c);
    kg_match_result_free(res);
    return rc;
}
