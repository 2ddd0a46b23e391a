/* util.c - dates and "as of", the deadline clock, and the small helpers
 * the queries share (hash map, arrays, edge iteration). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qint.h"

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t kg_query_clock_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t kg_query_clock_coarse_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* ---- dates ------------------------------------------------------------------ */

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* Read exactly n digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int kg_date_parse(const char *s, kg_date_range *out)
{
    if (!s || !out)
        return KG_EINVAL;
    size_t len = strlen(s);
    if (len != 4 && len != 7 && len != 10)
        return KG_EINVAL;
    int y = digits(s, 4);
    if (y < 1)
        return KG_EINVAL;
    int m1 = 1, m2 = 12, d1 = 1, d2 = 31;
    if (len >= 7) {
        if (s[4] != '-')
            return KG_EINVAL;
        int m = digits(s + 5, 2);
        if (m < 1 || m > 12)
            return KG_EINVAL;
        m1 = m2 = m;
        d2 = days_in_month(y, m);
    }
    if (len == 10) {
        if (s[7] != '-')
            return KG_EINVAL;
        int d = digits(s + 8, 2);
        if (d < 1 || d > days_in_month(y, m1))
            return KG_EINVAL;
        d1 = d2 = d;
    }
    out->first = (int32_t)(y * 10000 + m1 * 100 + d1);
    out->last = (int32_t)(y * 10000 + m2 * 100 + d2);
    return 0;
}

/* A date qualifier of r, or false when absent or not a date. */
static bool qual_date(const kg_graph *g, kg_rid r, const char *key,
                      kg_date_range *out)
{
    const char *v = kg_relation_qual_get(g, r, key);
    return v && kg_date_parse(v, out) == 0;
}

bool kg_relation_in_force(const kg_graph *g, kg_rid r, int32_t day)
{
    if (kg_relation_qual_count(g, r) == 0)
        return true; /* the common case: no qualifiers at all */
    kg_date_range since, until, date;
    bool has_since = qual_date(g, r, "since", &since);
    bool has_until = qual_date(g, r, "until", &until);
    if (has_since || has_until) {
        if (has_since && since.first > day)
            return false;
        if (has_until && day > until.last)
            return false;
        return true;
    }
    if (qual_date(g, r, "date", &date) && date.first > day)
        return false;
    return true;
}

int kg_q_as_of(const char *as_of, int32_t *day, kg_error *err)
{
    *day = 0;
    if (!as_of)
        return 0;
    kg_date_range d;
    if (kg_date_parse(as_of, &d) != 0)
        return kg_error_set(err, KG_EINVAL,
                            "as_of: \"%s\" is not a date (YYYY, YYYY-MM or "
                            "YYYY-MM-DD)", as_of);
    *day = d.last;
    return 0;
}

/* ---- hash map --------------------------------------------------------------- */

static size_t slot_of(uint32_t key, size_t cap)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static int map_resize(kg_q_map *m, size_t cap)
{
    uint32_t *k, *v;
    if (cap <= KG_Q_MAP_INLINE && !m->cap) {
        k = m->inline_slots;
        v = m->inline_slots + KG_Q_MAP_INLINE;
    } else {
        k = malloc(cap * sizeof *k);
        v = malloc(cap * sizeof *v);
        if (!k || !v) {
            free(k);
            free(v);
            return KG_ENOMEM;
        }
    }
    memset(k, 0xff, cap * sizeof *k);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == KG_NONE)
            continue;
        size_t s = slot_of(m->keys[i], cap);
        while (k[s] != KG_NONE)
            s = (s + 1) & (cap - 1);
        k[s] = m->keys[i];
        v[s] = m->vals[i];
    }
    if (m->keys != m->inline_slots) {
        free(m->keys);
        free(m->vals);
    }
    m->keys = k;
    m->vals = v;
    m->cap = cap;
    return 0;
}

int kg_q_map_put(kg_q_map *m, uint32_t key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        if (m->cap > SIZE_MAX / 4)
            return KG_ENOMEM;
        int rc = map_resize(m, m->cap ? m->cap * 2 : KG_Q_MAP_INLINE);
        if (rc)
            return rc;
    }
    size_t s = slot_of(key, m->cap);
    while (m->keys[s] != KG_NONE) {
        if (m->keys[s] == key)
            return 0;
        s = (s + 1) & (m->cap - 1);
    }
    m->keys[s] = key;
    m->vals[s] = val;
    m->n++;
    return 1;
}

uint32_t kg_q_map_get(const kg_q_map *m, uint32_t key)
{
    if (!m->cap)
        return KG_NONE;
    size_t s = slot_of(key, m->cap);
    while (m->keys[s] != KG_NONE) {
        if (m->keys[s] == key)
            return m->vals[s];
        s = (s + 1) & (m->cap - 1);
    }
    return KG_NONE;
}

void kg_q_map_free(kg_q_map *m)
{
    if (m->keys != m->inline_slots) {
        free(m->keys);
        free(m->vals);
    }
    m->keys = m->vals = NULL;
    m->cap = m->n = 0;
}

int kg_q_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc > SIZE_MAX / elem)
        return KG_ENOMEM;
    void *p = realloc(*arr, nc * elem);
    if (!p)
        return KG_ENOMEM;
    *arr = p;
    *cap = nc;
    return 0;
}

/* ---- traversal -------------------------------------------------------------- */

static int atom_cmp(const void *a, const void *b)
{
    kg_atom x = *(const kg_atom *)a, y = *(const kg_atom *)b;
    return x < y ? -1 : x > y;
}

int kg_q_follow_init(kg_q_follow *f, const kg_graph *g,
                     const char *const *kinds, size_t n_kinds, kg_dir dir,
                     const char *as_of, kg_error *err)
{
    memset(f, 0, sizeof *f);
    if (dir != KG_OUT && dir != KG_IN && dir != KG_BOTH)
        return kg_error_set(err, KG_EINVAL, "invalid direction %d", (int)dir);
    f->dirs = dir;
    int rc = kg_q_as_of(as_of, &f->day, err);
    if (rc)
        return rc;
    if (n_kinds == 0) {
        f->any_kind = true;
        return 0;
    }
    if (!kinds)
        return kg_error_set(err, KG_EINVAL, "relation kinds missing");
    f->kinds = malloc(n_kinds * sizeof *f->kinds);
    if (!f->kinds)
        return kg_error_set(err, KG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_kinds; i++) {
        if (!kinds[i] || !kinds[i][0]) {
            kg_q_follow_free(f);
            return kg_error_set(err, KG_EINVAL, "empty relation kind");
        }
        kg_atom a = kg_atom_find(g, kinds[i]);
        /* An atom that is no relation kind just finds no adjacency. */
        if (a != KG_NONE && a != 0)
            f->kinds[f->n_kinds++] = a;
    }
    if (f->n_kinds > 1)
        qsort(f->kinds, f->n_kinds, sizeof *f->kinds, atom_cmp);
    size_t w = 0;
    for (size_t i = 0; i < f->n_kinds; i++)
        if (w == 0 || f->kinds[w - 1] != f->kinds[i])
            f->kinds[w++] = f->kinds[i];
    f->n_kinds = w;
    return 0;
}

void kg_q_follow_free(kg_q_follow *f)
{
    free(f->kinds);
    f->kinds = NULL;
    f->n_kinds = 0;
}

void kg_q_edges_start(kg_q_edges *it, kg_eid u)
{
    memset(it, 0, sizeof *it);
    it->u = u;
}

/* Load the span of the current (phase, kind); false when exhausted. */
static bool edges_load(const kg_graph *g, const kg_q_follow *f, kg_q_edges *it)
{
    for (;;) {
        if (it->phase >= 2)
            return false;
        kg_dir d = it->phase == 0 ? KG_OUT : KG_IN;
        size_t nk = f->any_kind ? 1 : f->n_kinds;
        if (!(f->dirs & d) || it->ki >= nk) {
            it->phase++;
            it->ki = 0;
            continue;
        }
        it->span = kg_adjacent(g, it->u, d, f->any_kind ? 0 : f->kinds[it->ki]);
        /* The first relations' ends are read next: fetch them together. */
        kg_relations_prefetch(g, it->span.ids, it->span.n < 32 ? it->span.n : 32);
        it->pos = 0;
        it->loaded = true;
        return true;
    }
}

bool kg_q_edges_next(const kg_graph *g, const kg_q_follow *f, kg_q_edges *it,
                     kg_rid *r, kg_eid *v, kg_dir *d)
{
    for (;;) {
        if (!it->loaded && !edges_load(g, f, it))
            return false;
        while (it->pos < it->span.n) {
            kg_rid x = it->span.ids[it->pos++];
            if (f->day && !kg_relation_in_force(g, x, f->day))
                continue;
            *r = x;
            if (it->phase == 0) {
                *v = kg_relation_object(g, x);
                *d = KG_OUT;
            } else {
                *v = kg_relation_subject(g, x);
                *d = KG_IN;
            }
            return true;
        }
        it->loaded = false;
        it->ki++;
    }
}

int kg_q_entity(const kg_graph *g, const char *name, const char *what,
                kg_eid *out, kg_error *err)
{
    if (!name || !name[0])
        return kg_error_set(err, KG_EINVAL, "%s: entity name missing", what);
    kg_eid e = kg_entity_find(g, name);
    if (e == KG_NONE)
        return kg_error_set(err, KG_ENOTFOUND, "unknown entity \"%s\"", name);
    *out = e;
    return 0;
}
