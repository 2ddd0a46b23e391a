/* snapshot.c - snapshot files: the client changes, compacted.
 *
 * A snapshot is the difference between the base graph (the graph files)
 * and the served graph, so that "base + snapshot" rebuilds the served
 * graph and "new base + snapshot" keeps every client change on top of
 * edited graph files (docs/operations.md explains the choice):
 *
 *   entity removals    base entities the served graph lacks, or whose
 *                      state a merge cannot reach (a lost alias,
 *                      attribute or kind: they are removed and re-added)
 *   relation removals  base facts the served graph lacks (or whose
 *                      provenance changed): subject, kind, object, quals
 *   entities           served entities that are new or differ
 *   relations          served relations that are new, differ, or would be
 *                      taken away by one of the removals above
 *
 * Loading applies them in that order. With no base, a snapshot is simply
 * the whole graph.
 *
 * File format, version 1 (little-endian):
 *
 *   header (48 bytes): "KGSNAPSH", u32 version, u32 header size (48),
 *     u64 seq, u64 base fingerprint, u32 flags (0), u32 reserved (0),
 *     u32 reserved (0), u32 CRC32C of the 44 bytes before it
 *   sections, in this order, each: u32 tag, u32 CRC32C of the payload,
 *     u64 payload length, payload:
 *     1 STRINGS   u32 n, n x (u32 len, bytes, NUL); string 0 is ""
 *     2 SETS      u32 n, n x (u32 m, m x (u32 key, u32 value)); set 0 is {}
 *     3 EREMOVE   u32 n, n x u32 id
 *     4 RREMOVE   u32 n, n x (u32 subject, u32 kind, u32 object, u32 quals)
 *     5 ENTITIES  u32 n, n x (u32 id, u32 kind, u32 a, a x u32 alias,
 *                            u32 attrs)
 *     6 RELATIONS u32 n, n x (u32 subject, u32 kind, u32 object,
 *                            u32 quals, u32 prov)
 *     7 END       empty: a file without it was cut short
 *   Strings are referenced by index, pair sets by index, so a relation is
 *   20 bytes however long its names.
 *
 * Writing streams through a 1 MiB buffer into a temporary file; loading
 * maps the file, verifies every checksum before touching the graph, then
 * applies.
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHDR_SIZE 48u
#define SVERSION 1u
static const char smagic[8] = { 'K', 'G', 'S', 'N', 'A', 'P', 'S', 'H' };

enum { SEC_STRINGS = 1, SEC_SETS, SEC_EREMOVE, SEC_RREMOVE, SEC_ENTITIES,
       SEC_RELATIONS, SEC_END };

/* ---- string and pair-set interning (writer side) ------------------------- */

static uint64_t hash_mem(const void *p, size_t n, uint64_t h)
{
    const unsigned char *c = p;
    h ^= (uint64_t)n * 0x9E3779B97F4A7C15ull;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, c, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        c += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, c, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

typedef struct strtab {
    const char **s;
    uint32_t *len;
    uint64_t *hash;
    uint32_t n, cap;
    uint32_t *slot; /* index + 1, 0 = empty */
    uint32_t mask;
    /* A cache by address in front of the table: the strings come from a
     * graph's atom table, where equal strings share one address, so most
     * look-ups need neither strlen nor hashing nor comparing bytes. */
    const char **pkey;
    uint32_t *pval;
    uint32_t pmask, pn;
    bool oom;
} strtab;

static void strtab_free(strtab *t)
{
    free(t->s);
    free(t->len);
    free(t->hash);
    free(t->slot);
    free(t->pkey);
    free(t->pval);
    memset(t, 0, sizeof *t);
}

/* Rebuild an open-addressing index of n items (slot = item + 1, 0 =
 * empty) from their stored hashes, with nslots (a power of two) slots. */
static bool index_rebuild(uint32_t **slotp, uint32_t *mask,
                          const uint64_t *hash, uint32_t n, uint32_t nslots)
{
    uint32_t *slot = calloc(nslots, sizeof *slot);
    if (!slot)
        return false;
    free(*slotp);
    *slotp = slot;
    *mask = nslots - 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)hash[i] & *mask;
        while (slot[h])
            h = (h + 1) & *mask;
        slot[h] = i + 1;
    }
    return true;
}

static bool strtab_rehash(strtab *t, uint32_t nslots)
{
    return index_rebuild(&t->slot, &t->mask, t->hash, t->n, nslots);
}

static uint32_t str_id_slow(strtab *t, const char *s);

static inline uint32_t ptr_hash(const char *s)
{
    uint64_t x = (uint64_t)(uintptr_t)s * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}

static bool ptr_grow(strtab *t)
{
    uint32_t n = t->pmask ? (t->pmask + 1) * 2 : 4096;
    const char **k = calloc(n, sizeof *k);
    uint32_t *v = malloc(n * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return false;
    }
    for (uint32_t i = 0; t->pkey && i <= t->pmask; i++) {
        if (!t->pkey[i])
            continue;
        uint32_t h = ptr_hash(t->pkey[i]) & (n - 1);
        while (k[h])
            h = (h + 1) & (n - 1);
        k[h] = t->pkey[i];
        v[h] = t->pval[i];
    }
    free(t->pkey);
    free(t->pval);
    t->pkey = k;
    t->pval = v;
    t->pmask = n - 1;
    return true;
}

/* Index of s in the table, adding it; s must outlive the table. */
static uint32_t str_id(strtab *t, const char *s)
{
    if (t->oom)
        return 0;
    if (!s)
        s = "";
    if ((uint64_t)(t->pn + 1) * 2 > (uint64_t)t->pmask + 1 && !ptr_grow(t)) {
        t->oom = true;
        return 0;
    }
    uint32_t h = ptr_hash(s) & t->pmask;
    while (t->pkey[h]) {
        if (t->pkey[h] == s)
            return t->pval[h];
        h = (h + 1) & t->pmask;
    }
    uint32_t k = str_id_slow(t, s);
    if (!t->oom) {
        t->pkey[h] = s;
        t->pval[h] = k;
        t->pn++;
    }
    return k;
}

static uint32_t str_id_slow(strtab *t, const char *s)
{
    if (t->oom)
        return 0;
    if (!s)
        s = "";
    size_t n = strlen(s);
    uint64_t h = hash_mem(s, n, 0);
    if (t->slot) {
        for (uint32_t i = (uint32_t)h & t->mask; t->slot[i];
             i = (i + 1) & t->mask) {
            uint32_t k = t->slot[i] - 1;
            if (t->hash[k] == h && t->len[k] == n && memcmp(t->s[k], s, n) == 0)
                return k;
        }
    }
    if (n > UINT32_MAX - 1 || t->n == UINT32_MAX - 1) {
        t->oom = true;
        return 0;
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        const char **ns = realloc(t->s, cap * sizeof *ns);
        if (ns)
            t->s = ns;
        uint32_t *nl = realloc(t->len, cap * sizeof *nl);
        if (nl)
            t->len = nl;
        uint64_t *nh = realloc(t->hash, cap * sizeof *nh);
        if (nh)
            t->hash = nh;
        if (!ns || !nl || !nh) {
            t->oom = true;
            return 0;
        }
        t->cap = cap;
    }
    if (!t->slot || (uint64_t)(t->n + 1) * 2 > (uint64_t)t->mask + 1) {
        if (!strtab_rehash(t, t->slot ? (t->mask + 1) * 2 : 2048)) {
            t->oom = true;
            return 0;
        }
    }
    uint32_t k = t->n++;
    t->s[k] = s;
    t->len[k] = (uint32_t)n;
    t->hash[k] = h;
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i])
        i = (i + 1) & t->mask;
    t->slot[i] = k + 1;
    return k;
}

typedef struct settab {
    uint32_t *w; /* pair words: key, value, key, value... */
    size_t nw, capw;
    uint32_t *off, *cnt; /* per set: start in w, pairs */
    uint64_t *hash;
    uint32_t n, cap;
    uint32_t *slot;
    uint32_t mask;
    bool oom;
} settab;

static void settab_free(settab *t)
{
    free(t->w);
    free(t->off);
    free(t->cnt);
    free(t->hash);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static bool settab_rehash(settab *t, uint32_t nslots)
{
    return index_rebuild(&t->slot, &t->mask, t->hash, t->n, nslots);
}

/* Grow the per-set arrays to hold cap sets; false on OOM. */
static bool settab_grow(settab *t, uint32_t cap)
{
    uint32_t *no = realloc(t->off, cap * sizeof *no);
    if (no)
        t->off = no;
    uint32_t *nc = realloc(t->cnt, cap * sizeof *nc);
    if (nc)
        t->cnt = nc;
    uint64_t *nh = realloc(t->hash, cap * sizeof *nh);
    if (nh)
        t->hash = nh;
    if (!no || !nc || !nh)
        return false;
    t->cap = cap;
    return true;
}

/* Set 0 is the empty set, so that "no qualifiers" costs nothing. */
static bool settab_init(settab *t)
{
    memset(t, 0, sizeof *t);
    if (!settab_grow(t, 1024) || !settab_rehash(t, 2048)) {
        settab_free(t);
        return false;
    }
    t->off[0] = t->cnt[0] = 0;
    t->hash[0] = 0;
    t->n = 1;
    return true;
}

/* Index of the set of m pairs given as 2m string indexes; 0 for empty. */
static uint32_t set_id(settab *t, const uint32_t *w, uint32_t m)
{
    if (t->oom || m == 0)
        return 0;
    uint64_t h = hash_mem(w, (size_t)m * 8, 7);
    for (uint32_t i = (uint32_t)h & t->mask; t->slot[i];
         i = (i + 1) & t->mask) {
        uint32_t k = t->slot[i] - 1;
        if (t->hash[k] == h && t->cnt[k] == m &&
            memcmp(t->w + t->off[k], w, (size_t)m * 8) == 0)
            return k;
    }
    if (t->n == UINT32_MAX - 1 || (t->n == t->cap && !settab_grow(t, t->cap * 2))) {
        t->oom = true;
        return 0;
    }
    if (t->nw + (size_t)m * 2 > t->capw) {
        size_t cap = t->capw ? t->capw : 4096;
        while (cap < t->nw + (size_t)m * 2)
            cap *= 2;
        uint32_t *nw = cap > UINT32_MAX ? NULL : realloc(t->w, cap * sizeof *nw);
        if (!nw) {
            t->oom = true;
            return 0;
        }
        t->w = nw;
        t->capw = cap;
    }
    if ((uint64_t)(t->n + 1) * 2 > (uint64_t)t->mask + 1 &&
        !settab_rehash(t, (t->mask + 1) * 2)) {
        t->oom = true;
        return 0;
    }
    uint32_t k = t->n++;
    t->off[k] = (uint32_t)t->nw;
    t->cnt[k] = m;
    t->hash[k] = h;
    memcpy(t->w + t->nw, w, (size_t)m * 8);
    t->nw += (size_t)m * 2;
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i])
        i = (i + 1) & t->mask;
    t->slot[i] = k + 1;
    return k;
}

/* ---- the difference base -> g -------------------------------------------- */

typedef struct diff {
    const kg_graph *base, *g;
    strtab st;
    settab sets;
    uint32_t ge_max, gr_max, be_max;  /* handle bounds (max + 1) */
    uint8_t *emit_e, *emit_r, *reset_g, *reset_b;
    uint32_t *rq, *rp;                /* per emitted g relation: sets */
    uint32_t *eid_str;                /* per g entity: string of its id */
    uint32_t *erem; size_t n_erem, cap_erem;   /* string ids */
    uint32_t *rrem; size_t n_rrem, cap_rrem;   /* 4 words each */
    uint32_t *scratch; size_t cap_scratch;
    size_t n_ent, n_rel;
    bool oom;
} diff;

static void diff_free(diff *d)
{
    strtab_free(&d->st);
    settab_free(&d->sets);
    free(d->emit_e);
    free(d->emit_r);
    free(d->reset_g);
    free(d->reset_b);
    free(d->rq);
    free(d->rp);
    free(d->eid_str);
    free(d->erem);
    free(d->rrem);
    free(d->scratch);
}

static bool push_words(uint32_t **v, size_t *n, size_t *cap,
                       const uint32_t *w, size_t k)
{
    if (*n + k > *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        while (c < *n + k)
            c *= 2;
        uint32_t *nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            return false;
        *v = nv;
        *cap = c;
    }
    memcpy(*v + *n, w, k * sizeof *w);
    *n += k;
    return true;
}

static uint32_t *scratch(diff *d, size_t words)
{
    if (words > d->cap_scratch) {
        size_t c = d->cap_scratch ? d->cap_scratch : 64;
        while (c < words)
            c *= 2;
        uint32_t *p = realloc(d->scratch, c * sizeof *p);
        if (!p) {
            d->oom = true;
            return NULL;
        }
        d->scratch = p;
        d->cap_scratch = c;
    }
    return d->scratch;
}

typedef kg_pair (*pair_at_fn)(const kg_graph *, uint32_t, size_t);

/* Intern the pair set (n pairs read by at) of handle h of graph gr. */
static uint32_t pairs_set(diff *d, const kg_graph *gr, uint32_t h, size_t n,
                          pair_at_fn at)
{
    if (n == 0)
        return 0;
    uint32_t *w = scratch(d, n * 2);
    if (!w || n > UINT32_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        kg_pair p = at(gr, h, i);
        w[2 * i] = str_id(&d->st, p.key);
        w[2 * i + 1] = str_id(&d->st, p.value);
    }
    return set_id(&d->sets, w, (uint32_t)n);
}

static kg_pair qual_at(const kg_graph *g, uint32_t r, size_t i)
{
    return kg_relation_qual(g, r, i);
}
static kg_pair prov_at(const kg_graph *g, uint32_t r, size_t i)
{
    return kg_relation_prov(g, r, i);
}
static kg_pair attr_at(const kg_graph *g, uint32_t e, size_t i)
{
    return kg_entity_attr(g, e, i);
}

static uint32_t max_eid(const kg_graph *g)
{
    uint32_t m = 0;
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e))
        m = e + 1;
    return m;
}

static uint32_t max_rid(const kg_graph *g)
{
    uint32_t m = 0;
    for (kg_rid r = kg_relation_first(g); r != KG_NONE;
         r = kg_relation_next(g, r))
        m = r + 1;
    return m;
}

static bool has_alias(const kg_graph *g, kg_eid e, const char *a)
{
    size_t n = kg_entity_alias_count(g, e);
    for (size_t i = 0; i < n; i++)
        if (strcmp(kg_entity_alias(g, e, i), a) == 0)
            return true;
    return false;
}

/* Can merging g's entity e into base's b reach e's state? A merge only
 * adds aliases and attributes and never sets the kind back to "unknown". */
static bool merge_reaches(const kg_graph *base, kg_eid b, const kg_graph *g,
                          kg_eid e)
{
    if (strcmp(kg_entity_kind(g, e), "unknown") == 0 &&
        strcmp(kg_entity_kind(base, b), "unknown") != 0)
        return false;
    size_t n = kg_entity_alias_count(base, b);
    for (size_t i = 0; i < n; i++)
        if (!has_alias(g, e, kg_entity_alias(base, b, i)))
            return false;
    n = kg_entity_attr_count(base, b);
    for (size_t i = 0; i < n; i++)
        if (!kg_entity_attr_get(g, e, kg_entity_attr(base, b, i).key))
            return false;
    return true;
}

static bool entity_same(const kg_graph *base, kg_eid b, const kg_graph *g,
                        kg_eid e)
{
    if (strcmp(kg_entity_kind(g, e), kg_entity_kind(base, b)) != 0 ||
        kg_entity_alias_count(g, e) != kg_entity_alias_count(base, b) ||
        kg_entity_attr_count(g, e) != kg_entity_attr_count(base, b))
        return false;
    size_t n = kg_entity_attr_count(base, b);
    for (size_t i = 0; i < n; i++) {
        kg_pair p = kg_entity_attr(base, b, i);
        const char *v = kg_entity_attr_get(g, e, p.key);
        if (!v || strcmp(v, p.value) != 0)
            return false;
    }
    return true; /* aliases: base's are all in g (merge_reaches), same count */
}

/* Does every provenance pair of (ga, ra) appear with the same value on
 * (gb, rb)? */
static bool prov_within(const kg_graph *ga, kg_rid ra, const kg_graph *gb,
                        kg_rid rb)
{
    size_t n = kg_relation_prov_count(ga, ra);
    for (size_t i = 0; i < n; i++) {
        kg_pair p = kg_relation_prov(ga, ra, i);
        const char *v = kg_relation_prov_get(gb, rb, p.key);
        if (!v || strcmp(v, p.value) != 0)
            return false;
    }
    return true;
}

/* The spec of relation r of graph gr, pointing at gr's strings; the quals
 * array is malloc'd (caller frees *q). */
static bool rel_spec(const kg_graph *gr, kg_rid r, kg_relation_spec *s,
                     kg_pair **q)
{
    memset(s, 0, sizeof *s);
    s->subject = kg_entity_id(gr, kg_relation_subject(gr, r));
    s->object = kg_entity_id(gr, kg_relation_object(gr, r));
    s->relation = kg_relation_kind(gr, r);
    size_t n = kg_relation_qual_count(gr, r);
    *q = NULL;
    if (n) {
        *q = malloc(n * sizeof **q);
        if (!*q)
            return false;
        for (size_t i = 0; i < n; i++)
            (*q)[i] = kg_relation_qual(gr, r, i);
    }
    s->quals = *q;
    s->n_quals = n;
    return true;
}

/* Do the qualifiers of (g, r) include every pair of (base, rb)? */
static bool quals_cover(const kg_graph *g, kg_rid r, const kg_graph *base,
                        kg_rid rb)
{
    size_t n = kg_relation_qual_count(base, rb);
    for (size_t i = 0; i < n; i++) {
        kg_pair p = kg_relation_qual(base, rb, i);
        const char *v = kg_relation_qual_get(g, r, p.key);
        if (!v || strcmp(v, p.value) != 0)
            return false;
    }
    return true;
}

static void ent_str(diff *d, kg_eid e)
{
    if (d->eid_str[e] == UINT32_MAX)
        d->eid_str[e] = str_id(&d->st, kg_entity_id(d->g, e));
}

/* Decide what to write (see the comment at the top) and intern every
 * string and pair set it needs. */
static int diff_compute(diff *d)
{
    const kg_graph *g = d->g, *base = d->base;
    d->ge_max = max_eid(g);
    d->gr_max = max_rid(g);
    d->be_max = base ? max_eid(base) : 0;
    d->emit_e = calloc(d->ge_max + 1, 1);
    d->reset_g = calloc(d->ge_max + 1, 1);
    d->emit_r = calloc(d->gr_max + 1, 1);
    d->reset_b = calloc(d->be_max + 1, 1);
    d->rq = malloc(((size_t)d->gr_max + 1) * sizeof *d->rq);
    d->rp = malloc(((size_t)d->gr_max + 1) * sizeof *d->rp);
    d->eid_str = malloc(((size_t)d->ge_max + 1) * sizeof *d->eid_str);
    if (!d->eid_str || !d->emit_e || !d->reset_g || !d->emit_r || !d->reset_b || !d->rq ||
        !d->rp || !settab_init(&d->sets))
        return KG_ENOMEM;
    (void)str_id(&d->st, ""); /* string 0 */

    if (base) {
        for (kg_eid b = kg_entity_first(base); b != KG_NONE;
             b = kg_entity_next(base, b)) {
            const char *id = kg_entity_id(base, b);
            kg_eid e = kg_entity_by_id(g, id);
            if (e == KG_NONE || strcmp(kg_entity_id(g, e), id) != 0 ||
                !merge_reaches(base, b, g, e)) {
                uint32_t w = str_id(&d->st, id);
                if (!push_words(&d->erem, &d->n_erem, &d->cap_erem, &w, 1))
                    return KG_ENOMEM;
                d->reset_b[b] = 1;
                if (e != KG_NONE)
                    d->reset_g[e] = 1;
            }
        }
    }
    /* Entity ids get their strings by handle, once, rather than by a
     * look-up per relation; all up front for a full snapshot, on demand
     * for a difference (which must not carry every id). */
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e))
        d->eid_str[e] = base ? UINT32_MAX : str_id(&d->st, kg_entity_id(g, e));
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e)) {
        kg_eid b = base ? kg_entity_by_id(base, kg_entity_id(g, e)) : KG_NONE;
        bool emit = b == KG_NONE || d->reset_g[e] ||
                    strcmp(kg_entity_id(base, b), kg_entity_id(g, e)) != 0 ||
                    !entity_same(base, b, g, e);
        if (!emit)
            continue;
        d->emit_e[e] = 1;
        d->n_ent++;
        ent_str(d, e);
        (void)str_id(&d->st, kg_entity_kind(g, e));
        size_t na = kg_entity_alias_count(g, e);
        for (size_t i = 0; i < na; i++)
            (void)str_id(&d->st, kg_entity_alias(g, e, i));
        (void)pairs_set(d, g, e, kg_entity_attr_count(g, e), attr_at);
    }

    if (base) {
        for (kg_rid rb = kg_relation_first(base); rb != KG_NONE;
             rb = kg_relation_next(base, rb)) {
            kg_eid bs = kg_relation_subject(base, rb);
            kg_eid bo = kg_relation_object(base, rb);
            if (d->reset_b[bs] || d->reset_b[bo])
                continue; /* goes with its entity */
            kg_relation_spec s;
            kg_pair *q;
            if (!rel_spec(base, rb, &s, &q))
                return KG_ENOMEM;
            kg_rid r = kg_relation_find(g, &s);
            free(q);
            if (r != KG_NONE && prov_within(base, rb, g, r))
                continue;
            uint32_t w[4] = { str_id(&d->st, s.subject),
                              str_id(&d->st, s.relation),
                              str_id(&d->st, s.object),
                              pairs_set(d, base, rb,
                                        kg_relation_qual_count(base, rb),
                                        qual_at) };
            if (!push_words(&d->rrem, &d->n_rrem, &d->cap_rrem, w, 4))
                return KG_ENOMEM;
            /* The removal takes every relation of that kind between the
             * pair whose qualifiers include these: the served graph's
             * ones must be written back. */
            kg_eid es = kg_entity_by_id(g, s.subject);
            kg_eid eo = kg_entity_by_id(g, s.object);
            kg_atom ka = kg_atom_find(g, s.relation);
            if (es == KG_NONE || eo == KG_NONE || ka == KG_NONE)
                continue;
            kg_span sp = kg_adjacent(g, es, KG_OUT, ka);
            for (size_t i = 0; i < sp.n; i++)
                if (kg_relation_object(g, sp.ids[i]) == eo &&
                    quals_cover(g, sp.ids[i], base, rb))
                    d->emit_r[sp.ids[i]] = 1;
        }
    }
    for (kg_rid r = kg_relation_first(g); r != KG_NONE;
         r = kg_relation_next(g, r)) {
        bool emit = !base || d->emit_r[r] ||
                    d->reset_g[kg_relation_subject(g, r)] ||
                    d->reset_g[kg_relation_object(g, r)];
        if (!emit) {
            kg_relation_spec s;
            kg_pair *q;
            if (!rel_spec(g, r, &s, &q))
                return KG_ENOMEM;
            kg_rid rb = kg_relation_find(base, &s);
            free(q);
            emit = rb == KG_NONE ||
                   kg_relation_prov_count(g, r) !=
                       kg_relation_prov_count(base, rb);
        }
        if (!emit)
            continue;
        d->emit_r[r] = 1;
        d->n_rel++;
        ent_str(d, kg_relation_subject(g, r));
        ent_str(d, kg_relation_object(g, r));
        (void)str_id(&d->st, kg_relation_kind(g, r));
        d->rq[r] = pairs_set(d, g, r, kg_relation_qual_count(g, r), qual_at);
        d->rp[r] = pairs_set(d, g, r, kg_relation_prov_count(g, r), prov_at);
    }
    return d->oom || d->st.oom || d->sets.oom ? KG_ENOMEM : 0;
}

/* ---- streaming writer ---------------------------------------------------- */

#define SW_CHUNK (1u << 20)

typedef struct sw {
    int fd;
    uint64_t off;        /* file offset of buf[0] */
    jbuf buf;
    uint64_t sec_start;  /* offset of the current section header */
    uint64_t sec_len;
    uint32_t crc;
    int err;             /* -errno of the first failure */
} sw;

static void sw_flush(sw *w)
{
    if (w->err || w->buf.len == 0)
        return;
    if (w->buf.oom) {
        w->err = -ENOMEM;
        return;
    }
    w->crc = kg_crc32c(w->crc, w->buf.p, w->buf.len);
    int e = jpwrite_all(w->fd, w->buf.p, w->buf.len, w->off);
    if (e)
        w->err = e;
    w->off += w->buf.len;
    w->sec_len += w->buf.len;
    w->buf.len = 0;
}

static inline void sw_need(sw *w)
{
    if (w->buf.len >= SW_CHUNK)
        sw_flush(w);
}

static void sw_begin(sw *w)
{
    sw_flush(w);
    w->sec_start = w->off;
    w->off += 16; /* header written by sw_end */
    w->sec_len = 0;
    w->crc = 0;
}

static void sw_end(sw *w, uint32_t tag)
{
    sw_flush(w);
    if (w->err)
        return;
    unsigned char h[16];
    put_u32le(h, tag);
    put_u32le(h + 4, w->crc);
    put_u64le(h + 8, w->sec_len);
    int e = jpwrite_all(w->fd, h, 16, w->sec_start);
    if (e)
        w->err = e;
}

static void write_sections(diff *d, sw *w)
{
    const kg_graph *g = d->g;
    jbuf *b = &w->buf;

    sw_begin(w);
    jbuf_u32(b, d->st.n);
    for (uint32_t i = 0; i < d->st.n; i++) {
        jbuf_u32(b, d->st.len[i]);
        jbuf_put(b, d->st.s[i], d->st.len[i]);
        jbuf_u8(b, 0);
        sw_need(w);
    }
    sw_end(w, SEC_STRINGS);

    sw_begin(w);
    jbuf_u32(b, d->sets.n);
    for (uint32_t i = 0; i < d->sets.n; i++) {
        jbuf_u32(b, d->sets.cnt[i]);
        for (uint32_t k = 0; k < 2 * d->sets.cnt[i]; k++)
            jbuf_u32(b, d->sets.w[d->sets.off[i] + k]);
        sw_need(w);
    }
    sw_end(w, SEC_SETS);

    sw_begin(w);
    jbuf_u32(b, (uint32_t)d->n_erem);
    for (size_t i = 0; i < d->n_erem; i++)
        jbuf_u32(b, d->erem[i]);
    sw_end(w, SEC_EREMOVE);

    sw_begin(w);
    jbuf_u32(b, (uint32_t)(d->n_rrem / 4));
    for (size_t i = 0; i < d->n_rrem; i++) {
        jbuf_u32(b, d->rrem[i]);
        sw_need(w);
    }
    sw_end(w, SEC_RREMOVE);

    sw_begin(w);
    jbuf_u32(b, (uint32_t)d->n_ent);
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e)) {
        if (!d->emit_e[e])
            continue;
        jbuf_u32(b, d->eid_str[e]);
        jbuf_u32(b, str_id(&d->st, kg_entity_kind(g, e)));
        size_t na = kg_entity_alias_count(g, e);
        jbuf_u32(b, (uint32_t)na);
        for (size_t i = 0; i < na; i++)
            jbuf_u32(b, str_id(&d->st, kg_entity_alias(g, e, i)));
        jbuf_u32(b, pairs_set(d, g, e, kg_entity_attr_count(g, e), attr_at));
        sw_need(w);
    }
    sw_end(w, SEC_ENTITIES);

    const uint32_t *eid_str = d->eid_str;
    sw_begin(w);
    jbuf_u32(b, (uint32_t)d->n_rel);
    kg_atom last_kind = KG_NONE;
    uint32_t last_kind_str = 0;
    /* Grouped by subject (and kind within it, the adjacency order): the
     * loader then appends to one entity's out-list at a time, which keeps
     * its block in cache. */
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e)) {
        kg_span out = kg_adjacent(g, e, KG_OUT, 0);
        for (size_t i = 0; i < out.n; i++) {
            kg_rid r = out.ids[i];
            if (!d->emit_r[r])
                continue;
            kg_atom k = kg_relation_kind_atom(g, r);
            if (k != last_kind) {
                last_kind = k;
                last_kind_str = str_id(&d->st, kg_relation_kind(g, r));
            }
            unsigned char rec[20];
            put_u32le(rec, eid_str[e]);
            put_u32le(rec + 4, last_kind_str);
            put_u32le(rec + 8, eid_str[kg_relation_object(g, r)]);
            put_u32le(rec + 12, d->rq[r]);
            put_u32le(rec + 16, d->rp[r]);
            jbuf_put(b, rec, 20);
            sw_need(w);
        }
    }
    sw_end(w, SEC_RELATIONS);

    sw_begin(w);
    sw_end(w, SEC_END);
}

static char *dir_of(const char *path)
{
    const char *sl = strrchr(path, '/');
    if (!sl)
        return strdup(".");
    if (sl == path)
        return strdup("/");
    return strndup(path, (size_t)(sl - path));
}

int kg_snapshot_write_file(const char *path, const kg_graph *base,
                           const kg_graph *g, uint64_t seq,
                           uint64_t base_fingerprint, kg_snapshot_info *info,
                           kg_error *err)
{
    if (!path || !g)
        return kg_error_set(err, KG_EINVAL, "snapshot: no path or graph");
    diff d;
    memset(&d, 0, sizeof d);
    d.base = base;
    d.g = g;
    int rc = diff_compute(&d);
    if (rc) {
        diff_free(&d);
        return kg_error_set(err, rc, "snapshot: out of memory");
    }
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    char *dir = dir_of(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        diff_free(&d);
        return kg_error_set(err, KG_ENOMEM, "snapshot: out of memory");
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);

    sw w;
    memset(&w, 0, sizeof w);
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0) {
        rc = kg_error_set(err, KG_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    unsigned char h[SHDR_SIZE];
    memset(h, 0, sizeof h);
    memcpy(h, smagic, 8);
    put_u32le(h + 8, SVERSION);
    put_u32le(h + 12, SHDR_SIZE);
    put_u64le(h + 16, seq);
    put_u64le(h + 24, base_fingerprint);
    put_u32le(h + 44, kg_crc32c(0, h, 44));
    w.err = jpwrite_all(w.fd, h, sizeof h, 0);
    w.off = SHDR_SIZE;
    if (!jbuf_reserve(&w.buf, SW_CHUNK + 4096))
        w.err = -ENOMEM;
    if (!w.err)
        write_sections(&d, &w);
    /* Durable before it gets its name: a rename of an unsynced file can
     * leave an empty file under the new name after a power cut. */
    if (!w.err && fsync(w.fd) < 0)
        w.err = -errno;
    if (close(w.fd) < 0 && !w.err)
        w.err = -errno;
    if (!w.err && rename(tmp, path) < 0)
        w.err = -errno;
    if (!w.err)
        w.err = jfsync_dir(dir);
    if (w.err) {
        unlink(tmp);
        rc = kg_error_set(err, w.err == -ENOMEM ? KG_ENOMEM : KG_EIO,
                          "%s: cannot write snapshot: %s", path,
                          strerror(-w.err));
        goto out;
    }
    if (info) {
        memset(info, 0, sizeof *info);
        snprintf(info->path, sizeof info->path, "%s", path);
        info->bytes = w.off;
        info->seq = seq;
        info->base_fingerprint = base_fingerprint;
        info->entities = d.n_ent;
        info->relations = d.n_rel;
        info->entity_removals = d.n_erem;
        info->relation_removals = d.n_rrem / 4;
    }
out:
    jbuf_free(&w.buf);
    free(tmp);
    free(dir);
    diff_free(&d);
    return rc;
}

/* ---- loading -------------------------------------------------------------- */

typedef struct sload {
    const char *path;
    const unsigned char *sec[SEC_END + 1];
    size_t seclen[SEC_END + 1];
    const char **str;
    uint32_t nstr;
    kg_pair *pairs;      /* every set's pairs, back to back */
    uint32_t *set_off;   /* per set: first pair; set_off[n] = total */
    uint32_t nsets;
    kg_eid *eid_cache;   /* per string: resolved entity, KG_NONE unknown */
    kg_atom *atom_cache; /* per string: interned atom, KG_NONE unknown */
    uint32_t *set_cache; /* per set: the graph's set handle, KG_NONE unknown */
} sload;

static void sload_free(sload *s)
{
    free(s->str);
    free(s->pairs);
    free(s->set_off);
    free(s->eid_cache);
    free(s->atom_cache);
    free(s->set_cache);
}

static int corrupt(const char *path, size_t off, const char *what,
                   kg_error *err)
{
    return kg_error_set(err, KG_ECORRUPT, "%s: offset %zu: %s", path, off,
                        what);
}

/* Check the header and every section's checksum and order. */
static int sload_sections(sload *s, const unsigned char *p, size_t len,
                          uint64_t *seq, uint64_t *fp, kg_error *err)
{
    if (len < SHDR_SIZE || memcmp(p, smagic, 8) != 0)
        return corrupt(s->path, 0, "not a kgd snapshot", err);
    if (get_u32le(p + 44) != kg_crc32c(0, p, 44))
        return corrupt(s->path, 44, "header checksum mismatch", err);
    uint32_t version = get_u32le(p + 8);
    if (version != SVERSION)
        return kg_error_set(err, KG_EUNSUPPORTED, "%s: snapshot format "
                            "version %u is not known to this kgd (it reads "
                            "version %u)", s->path, version, SVERSION);
    if (get_u32le(p + 12) != SHDR_SIZE)
        return corrupt(s->path, 12, "bad header size", err);
    *seq = get_u64le(p + 16);
    *fp = get_u64le(p + 24);
    size_t off = SHDR_SIZE;
    for (uint32_t want = SEC_STRINGS; want <= SEC_END; want++) {
        if (len - off < 16)
            return corrupt(s->path, off, "file cut short", err);
        uint32_t tag = get_u32le(p + off);
        uint32_t crc = get_u32le(p + off + 4);
        uint64_t sl = get_u64le(p + off + 8);
        if (tag != want)
            return corrupt(s->path, off, "unexpected section", err);
        if (sl > len - off - 16)
            return corrupt(s->path, off, "section runs past the end", err);
        if (kg_crc32c(0, p + off + 16, (size_t)sl) != crc)
            return corrupt(s->path, off, "section checksum mismatch", err);
        s->sec[tag] = p + off + 16;
        s->seclen[tag] = (size_t)sl;
        off += 16 + (size_t)sl;
    }
    if (off != len)
        return corrupt(s->path, off, "trailing bytes after the end", err);
    return 0;
}

static int sload_tables(sload *s, kg_error *err)
{
    jrd r = { s->sec[SEC_STRINGS], s->seclen[SEC_STRINGS], 0, false };
    uint32_t n = jrd_u32(&r);
    if (n == 0 || !jrd_room(&r, n, 5))
        return corrupt(s->path, 0, "bad string table", err);
    s->str = malloc((size_t)n * sizeof *s->str);
    s->eid_cache = malloc((size_t)n * sizeof *s->eid_cache);
    s->atom_cache = malloc((size_t)n * sizeof *s->atom_cache);
    if (!s->str || !s->eid_cache || !s->atom_cache)
        return kg_error_set(err, KG_ENOMEM, "snapshot: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        s->str[i] = jrd_str(&r);
        s->eid_cache[i] = KG_NONE;
        s->atom_cache[i] = KG_NONE;
    }
    if (r.bad || r.pos != r.len)
        return corrupt(s->path, r.pos, "bad string table", err);
    s->nstr = n;

    jrd q = { s->sec[SEC_SETS], s->seclen[SEC_SETS], 0, false };
    uint32_t ns = jrd_u32(&q);
    if (ns == 0 || !jrd_room(&q, ns, 4))
        return corrupt(s->path, 0, "bad pair-set table", err);
    size_t total = (q.len - q.pos) / 8; /* upper bound on pairs */
    s->set_off = malloc(((size_t)ns + 1) * sizeof *s->set_off);
    s->pairs = malloc((total ? total : 1) * sizeof *s->pairs);
    if (!s->set_off || !s->pairs)
        return kg_error_set(err, KG_ENOMEM, "snapshot: out of memory");
    size_t k = 0;
    for (uint32_t i = 0; i < ns && !q.bad; i++) {
        s->set_off[i] = (uint32_t)k;
        uint32_t m = jrd_u32(&q);
        if (!jrd_room(&q, m, 8) || m > total - k)
            break;
        for (uint32_t j = 0; j < m; j++) {
            uint32_t a = jrd_u32(&q), b = jrd_u32(&q);
            if (a >= n || b >= n) {
                q.bad = true;
                break;
            }
            s->pairs[k].key = s->str[a];
            s->pairs[k].value = s->str[b];
            k++;
        }
    }
    if (q.bad || q.pos != q.len)
        return corrupt(s->path, q.pos, "bad pair-set table", err);
    s->set_off[ns] = (uint32_t)k;
    s->nsets = ns;
    s->set_cache = malloc((size_t)ns * sizeof *s->set_cache);
    if (!s->set_cache)
        return kg_error_set(err, KG_ENOMEM, "snapshot: out of memory");
    for (uint32_t i = 0; i < ns; i++)
        s->set_cache[i] = KG_NONE;
    return 0;
}

static bool str_ok(const sload *s, uint32_t i) { return i < s->nstr; }
static bool set_ok(const sload *s, uint32_t i) { return i < s->nsets; }

/* The graph's handle for snapshot set i (interned on first use). */
static uint32_t set_handle(sload *s, kg_graph *g, uint32_t i)
{
    if (s->set_cache[i] == KG_NONE)
        s->set_cache[i] = kg_pairs_intern(g, s->pairs + s->set_off[i],
                                          s->set_off[i + 1] - s->set_off[i]);
    return s->set_cache[i];
}

/* The entity named by string i in g, created (kind unknown) if needed,
 * as kg_relation_add would. */
static kg_eid resolve(sload *s, kg_graph *g, uint32_t i, kg_error *err)
{
    if (s->eid_cache[i] != KG_NONE)
        return s->eid_cache[i];
    kg_eid e = kg_entity_find(g, s->str[i]);
    if (e == KG_NONE) {
        kg_entity_spec spec = { 0 };
        spec.id = s->str[i];
        if (kg_entity_add(g, &spec, &e, err) < 0)
            return KG_NONE;
    }
    s->eid_cache[i] = e;
    return e;
}

/* Step 4 of sload_apply: the n relation records at p (sec: the start of
 * their section, for error offsets). */
static int sload_relations(sload *s, kg_graph *g, const unsigned char *p,
                           uint32_t n, const unsigned char *sec, kg_error *err)
{
    kg_error e;
    for (uint32_t i = 0; i < n; i++, p += 20) {
        uint32_t a = get_u32le(p), k = get_u32le(p + 4), b = get_u32le(p + 8),
                 q = get_u32le(p + 12), v = get_u32le(p + 16);
        if (!str_ok(s, a) || !str_ok(s, k) || !str_ok(s, b) || k == 0 ||
            !set_ok(s, q) || !set_ok(s, v))
            return corrupt(s->path, (size_t)(p - sec), "bad relation", err);
        kg_error_clear(&e);
        kg_eid es = resolve(s, g, a, &e);
        kg_eid eo = es == KG_NONE ? KG_NONE : resolve(s, g, b, &e);
        if (s->atom_cache[k] == KG_NONE)
            s->atom_cache[k] = kg_atom_intern(g, s->str[k], strlen(s->str[k]));
        if (es == KG_NONE || eo == KG_NONE || s->atom_cache[k] == KG_NONE)
            return kg_error_set(err, e.code ? e.code : KG_ENOMEM, "%s: %s",
                                s->path, e.code ? e.message : "out of memory");
        /* each distinct set is interned in the graph once */
        uint32_t qs = set_handle(s, g, q), ps = set_handle(s, g, v);
        if (qs == KG_NONE || ps == KG_NONE)
            return corrupt(s->path, (size_t)(p - sec),
                           "pair set refused (invalid, or out of memory)", err);
        if (kg_relation_add_sets(g, es, s->atom_cache[k], eo, qs, ps, NULL,
                                 &e) < 0)
            return e.code == KG_ENOMEM
                       ? kg_error_set(err, KG_ENOMEM, "out of memory")
                       : corrupt(s->path, (size_t)(p - sec), e.message, err);
    }
    return 0;
}

static int sload_apply(sload *s, kg_graph *g, kg_snapshot_info *info,
                       kg_journal_warn_fn warn, void *ctx, kg_error *err)
{
    kg_error e;
    /* 1. entity removals */
    jrd r = { s->sec[SEC_EREMOVE], s->seclen[SEC_EREMOVE], 0, false };
    uint32_t n = jrd_u32(&r);
    if (!jrd_room(&r, n, 4))
        return corrupt(s->path, 0, "bad entity removals", err);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = jrd_u32(&r);
        if (!str_ok(s, id))
            return corrupt(s->path, r.pos, "bad entity removal", err);
        kg_eid x = kg_entity_by_id(g, s->str[id]);
        if (x == KG_NONE) {
            jwarn(warn, ctx, "%s: removal of entity \"%s\" skipped: the base "
                  "graph no longer has it", s->path, s->str[id]);
            continue;
        }
        if (kg_entity_remove(g, x, &e) < 0)
            return kg_error_set(err, e.code, "%s: %s", s->path, e.message);
    }
    info->entity_removals = n;

    /* 2. relation removals: every relation of the kind between the pair
     * whose qualifiers include the given ones */
    r = (jrd){ s->sec[SEC_RREMOVE], s->seclen[SEC_RREMOVE], 0, false };
    n = jrd_u32(&r);
    if (!jrd_room(&r, n, 16))
        return corrupt(s->path, 0, "bad relation removals", err);
    kg_rid *doomed = NULL;
    size_t cap = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = jrd_u32(&r), k = jrd_u32(&r), b = jrd_u32(&r),
                 q = jrd_u32(&r);
        if (!str_ok(s, a) || !str_ok(s, k) || !str_ok(s, b) || !set_ok(s, q)) {
            free(doomed);
            return corrupt(s->path, r.pos, "bad relation removal", err);
        }
        kg_eid es = kg_entity_find(g, s->str[a]);
        kg_eid eo = kg_entity_find(g, s->str[b]);
        kg_atom ka = kg_atom_find(g, s->str[k]);
        size_t nd = 0;
        if (es != KG_NONE && eo != KG_NONE && ka != KG_NONE) {
            kg_span sp = kg_adjacent(g, es, KG_OUT, ka);
            if (sp.n > cap) {
                kg_rid *nd2 = realloc(doomed, sp.n * sizeof *nd2);
                if (!nd2) {
                    free(doomed);
                    return kg_error_set(err, KG_ENOMEM, "out of memory");
                }
                doomed = nd2;
                cap = sp.n;
            }
            for (size_t t = 0; t < sp.n; t++) {
                kg_rid x = sp.ids[t];
                if (kg_relation_object(g, x) != eo)
                    continue;
                bool all = true;
                for (uint32_t p = s->set_off[q]; p < s->set_off[q + 1]; p++) {
                    const char *v = kg_relation_qual_get(g, x,
                                                         s->pairs[p].key);
                    if (!v || strcmp(v, s->pairs[p].value) != 0) {
                        all = false;
                        break;
                    }
                }
                if (all)
                    doomed[nd++] = x;
            }
        }
        if (nd == 0)
            jwarn(warn, ctx, "%s: removal of relation \"%s\" %s \"%s\" "
                  "skipped: the base graph no longer has it", s->path,
                  s->str[a], s->str[k], s->str[b]);
        for (size_t t = 0; t < nd; t++)
            if (kg_relation_remove(g, doomed[t], &e) < 0) {
                free(doomed);
                return kg_error_set(err, e.code, "%s: %s", s->path, e.message);
            }
    }
    free(doomed);
    info->relation_removals = n;

    /* 3. entities */
    r = (jrd){ s->sec[SEC_ENTITIES], s->seclen[SEC_ENTITIES], 0, false };
    n = jrd_u32(&r);
    if (!jrd_room(&r, n, 16))
        return corrupt(s->path, 0, "bad entity table", err);
    const char **al = NULL;
    size_t alcap = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = jrd_u32(&r), kind = jrd_u32(&r), na = jrd_u32(&r);
        if (!str_ok(s, id) || !str_ok(s, kind) || id == 0 ||
            !jrd_room(&r, na, 4)) {
            free(al);
            return corrupt(s->path, r.pos, "bad entity", err);
        }
        if (na > alcap) {
            const char **a2 = realloc(al, na * sizeof *a2);
            if (!a2) {
                free(al);
                return kg_error_set(err, KG_ENOMEM, "out of memory");
            }
            al = a2;
            alcap = na;
        }
        for (uint32_t k = 0; k < na; k++) {
            uint32_t a = jrd_u32(&r);
            if (!str_ok(s, a)) {
                free(al);
                return corrupt(s->path, r.pos, "bad alias", err);
            }
            al[k] = s->str[a];
        }
        uint32_t at = jrd_u32(&r);
        if (r.bad || !set_ok(s, at)) {
            free(al);
            return corrupt(s->path, r.pos, "bad entity", err);
        }
        kg_entity_spec spec = { 0 };
        spec.id = s->str[id];
        spec.kind = s->str[kind];
        spec.aliases = al;
        spec.n_aliases = na;
        spec.attrs = s->pairs + s->set_off[at];
        spec.n_attrs = s->set_off[at + 1] - s->set_off[at];
        kg_eid x;
        kg_error_clear(&e);
        if (kg_entity_add(g, &spec, &x, &e) < 0) {
            free(al);
            if (e.code == KG_ENOMEM)
                return kg_error_set(err, KG_ENOMEM, "out of memory");
            return corrupt(s->path, r.pos, e.message, err);
        }
        s->eid_cache[id] = x;
    }
    free(al);
    info->entities = n;

    /* 4. relations: the bulk, on the fast path with resolved handles */
    r = (jrd){ s->sec[SEC_RELATIONS], s->seclen[SEC_RELATIONS], 0, false };
    n = jrd_u32(&r);
    if (!jrd_room(&r, n, 20) || r.len - r.pos != (size_t)n * 20)
        return corrupt(s->path, 0, "bad relation table", err);
    /* In a bulk scope a hub's relations are sorted into its adjacency once
     * at the end, not one by one (kg_graph_bulk_begin). */
    kg_graph_bulk_begin(g);
    int rc = sload_relations(s, g, r.p + r.pos, n, r.p, err);
    kg_graph_bulk_end(g);
    if (rc)
        return rc;
    info->relations = n;
    return 0;
}

int kg_snapshot_load_file(const char *path, kg_graph *g,
                          kg_snapshot_info *info, kg_journal_warn_fn warn,
                          void *ctx, kg_error *err)
{
    kg_snapshot_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    if (!path || !g)
        return kg_error_set(err, KG_EINVAL, "snapshot: no path or graph");
    snprintf(info->path, sizeof info->path, "%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0) {
        int e = errno;
        close(fd);
        if (st.st_size <= 0)
            return corrupt(path, 0, "empty file", err);
        return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(e));
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return kg_error_set(err, KG_EIO, "%s: %s", path, strerror(e));
    (void)madvise(map, len, MADV_SEQUENTIAL);
    sload s;
    memset(&s, 0, sizeof s);
    s.path = path;
    info->bytes = len;
    int rc = sload_sections(&s, map, len, &info->seq, &info->base_fingerprint,
                            err);
    if (rc == 0)
        rc = sload_tables(&s, err);
    if (rc == 0)
        rc = sload_apply(&s, g, info, warn, ctx, err);
    sload_free(&s);
    munmap(map, len);
    return rc;
}
