/* graph.c - the in-memory store (see kg/graph.h).
 *
 * Layout, chosen for memory (47 bytes per relation, everything included,
 * at 1M entities and 5M relations; see docs/performance-graph.md):
 *
 *  - atoms: NUL-terminated strings in 64 KiB arena chunks, addressed by a
 *    32-bit "arena offset" (chunk << 16 | offset); an open-addressing hash
 *    of atom ids finds a string's atom. Atoms are never freed.
 *  - pair sets (qualifiers, provenance, attributes): sorted (key, value)
 *    atom pairs, interned so that equal sets share one id (0 = empty).
 *  - relations: 16-byte records {subject, object, quals, prov} plus a
 *    4-byte kind in a separate dense array, in chunks of 64Ki; a dead
 *    relation has kind KG_NONE and its subject field links the free list.
 *  - entities: 20-byte records {id, kind index | ext flag | size class,
 *    nout, nin, block}; aliases and attributes live in a side "ext" record,
 *    found through a small hash by entity, since most entities have none.
 *    A dead record has id == KG_NONE.
 *  - adjacency: one block per entity holding its out-handles then its
 *    in-handles, each part sorted by (kind, handle). Blocks come from
 *    per-size-class pools that stay dense: freeing a block moves the
 *    pool's last block into the hole (each block starts with its owner's
 *    handle so the owner can be updated). That avoids malloc's per-block
 *    overhead and the fragmentation left behind by millions of arrays that
 *    all grow at the same time during a bulk load.
 *    In a bulk scope (kg_graph_bulk_begin) an entity with many handles
 *    takes new ones unsorted and sorts them in once, when the scope ends
 *    (see "bulk scopes" below).
 *  - indexes: fact identity (subject, kind, object, quals) -> relation;
 *    case-folded id -> entity; case-folded alias -> alias record.
 *
 * Names: an alias already held by another entity (as an alias) stays with
 * its first owner and is not added to the newcomer; an alias equal to the
 * entity's own id is dropped. An alias equal to another entity's id is
 * kept but shadowed, since look-up tries ids first.
 *
 * Every allocation goes through gm_* so kg_graph_memory is exact.
 */
#include "kg/graph.h"

#include <stdlib.h>
#include <string.h>

/* ---- allocation accounting --------------------------------------------- */

typedef struct htab {
    uint32_t *slot; /* KG_NONE = empty */
    uint32_t mask;  /* capacity - 1, capacity is a power of two */
    uint32_t n;
} htab;

typedef struct kindrec {
    kg_atom atom;
    uint32_t n_ent;  /* live entities of this kind */
    uint32_t n_rel;  /* live relations of this kind */
    uint32_t list_len, list_cap;
    uint32_t *list; /* live entities of this kind, insertion order */
} kindrec;

typedef struct ext {
    uint32_t *aliases; /* alias record ids, insertion order */
    uint32_t n_aliases;
    uint32_t attrs; /* pair set; for a free record: next free */
    kg_eid owner;
} ext;

typedef struct aliasrec {
    kg_eid e; /* KG_NONE when free */
    kg_atom atom; /* for a free record: next free */
} aliasrec;

/* A relation is a 16-byte record plus its kind, which lives in a dense
 * array of its own at the end of the record chunk: the adjacency search
 * reads the kinds of many relations, and 4-byte kinds share cache lines
 * far better than 20-byte records. */
typedef struct rel {
    kg_eid s, o; /* dead: s links the free list */
    uint32_t quals, prov;
} rel;

typedef struct ent {
    kg_atom id;  /* KG_NONE: dead, blk links the free list */
    uint32_t kc; /* kind index (low 23 bits) | EXT_FLAG | size class << 24
                    (7 bits) | ADJ_PEND */
    uint32_t nout, nin;
    uint32_t blk; /* block index in pool[class] */
} ent;

/* An entity whose adjacency has unsorted tails (bulk scopes). */
typedef struct pend {
    kg_eid e;
    uint32_t out0, in0; /* its sorted out- and in-handles */
} pend;

typedef struct pset {
    uint32_t off; /* into pw, in words */
    uint32_t n;   /* pairs */
} pset;

typedef struct apool {
    uint32_t **chunks;
    uint32_t n_chunks, cap_chunks;
    uint32_t n_blocks;
    uint32_t sh;    /* log2 of blocks per chunk */
    size_t words;   /* words per block: owner + class capacity */
} apool;

#define NCLASS 128
#define ATOM_CHUNK_BITS 16
#define ATOM_CHUNK ((size_t)1 << ATOM_CHUNK_BITS)
#define ATOM_MAX_LEN ((size_t)1 << 30)
#define REL_CHUNK_BITS 16
#define ENT_CHUNK_BITS 14
#define KIND_MAX ((uint32_t)1 << 23)
#define EXT_FLAG ((uint32_t)1 << 23) /* the entity has an ext record */
#define CLASS_MASK ((uint32_t)0x7F)  /* size class, at bit 24 */
#define ADJ_PEND ((uint32_t)1 << 31) /* the adjacency has unsorted tails */
#define BULK_MIN 64 /* handles from which an entity goes pending */
#define ITEM_MAX ((uint32_t)0xFFFFFF00u)
#define DEGREE_MAX ((uint32_t)1 << 30)

struct kg_graph {
    size_t mem;

    /* atoms */
    struct achunk {
        char *p;     /* NULL for the tail slots of a big string */
        size_t size; /* bytes allocated at p */
    } *achunk;
    uint32_t n_achunk, cap_achunk;
    uint32_t open_chunk; /* chunk receiving small strings, KG_NONE if none */
    uint32_t open_used;
    uint32_t *atom_off;
    uint32_t n_atoms, cap_atoms;
    htab atom_idx;

    /* pair sets */
    uint32_t *pw;
    size_t n_pw, cap_pw;
    pset *sets;
    uint32_t n_sets, cap_sets;
    htab set_idx;

    /* relations */
    rel **rchunk;
    uint32_t n_rchunk, cap_rchunk;
    uint32_t rel_hi;   /* slots ever used */
    uint32_t rel_free; /* free-list head */
    uint32_t n_rel;
    htab fact_idx;

    /* entities */
    ent **echunk;
    uint32_t n_echunk, cap_echunk;
    uint32_t ent_hi, ent_free, n_ent;
    htab id_idx;
    htab alias_idx;
    ext *exts;
    uint32_t n_exts, cap_exts, ext_free;
    htab ext_idx; /* ext records by owner */
    aliasrec *aliases;
    uint32_t n_aliasrec, cap_aliasrec, alias_free;

    /* kinds */
    kindrec *kinds;
    uint32_t n_kinds, cap_kinds;
    htab kind_idx;
    kg_atom unknown_atom;

    apool pool[NCLASS];

    /* bulk scopes: depth, pending entities (and an index of them by
     * entity), scratch keys to sort their tails with */
    uint32_t bulk;
    pend *pends;
    uint32_t n_pend, cap_pend;
    htab pend_idx;
    uint64_t *scratch;
    uint32_t cap_scratch;
};

_Static_assert(NCLASS - 1 <= CLASS_MASK, "size class must fit its bits");

static void *gm_alloc(kg_graph *g, size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p)
        g->mem += n;
    return p;
}

static void *gm_realloc(kg_graph *g, void *p, size_t old, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q)
        g->mem = g->mem - old + n;
    return q;
}

static void gm_free(kg_graph *g, void *p, size_t n)
{
    if (p) {
        free(p);
        g->mem -= n;
    }
}

/* Grow an array of *cap elements of size sz to hold at least need
 * elements (factor 1.5). Returns 0 or KG_ENOMEM. */
static int gm_grow(kg_graph *g, void **arr, uint32_t *cap, size_t need,
                   size_t sz)
{
    if (need <= *cap)
        return 0;
    if (need > ITEM_MAX)
        return KG_ENOMEM;
    size_t nc = (size_t)*cap + *cap / 2 + 8;
    if (nc < need)
        nc = need;
    if (nc > ITEM_MAX)
        nc = ITEM_MAX;
    if (nc > SIZE_MAX / sz)
        return KG_ENOMEM;
    void *p = gm_realloc(g, *arr, (size_t)*cap * sz, nc * sz);
    if (!p)
        return KG_ENOMEM;
    *arr = p;
    *cap = (uint32_t)nc;
    return 0;
}

/* ---- hashing ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static uint64_t hash_bytes(const char *s, size_t n, bool folded)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *p = (const unsigned char *)s;
    if (folded) {
        for (size_t i = 0; i < n; i++) {
            h ^= fold(p[i]);
            h *= 0x100000001b3ULL;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            h ^= p[i];
            h *= 0x100000001b3ULL;
        }
    }
    return mix64(h ^ n);
}

/* Does the stored NUL-terminated string a equal b[0..n) after folding? */
static bool fold_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '\0' || fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return false;
    }
    return a[n] == '\0';
}

/* ---- open-addressing table of uint32 values ------------------------------
 * Linear probing, power-of-two capacity, at most 3/4 full, backward-shift
 * deletion (no tombstones). The table stores values only; the owner
 * supplies the hash of a stored value through rehash_fn. */

typedef uint64_t (*rehash_fn)(const kg_graph *g, uint32_t v);

static void htab_free(kg_graph *g, htab *t)
{
    if (t->slot)
        gm_free(g, t->slot, ((size_t)t->mask + 1) * sizeof(uint32_t));
    t->slot = NULL;
    t->mask = 0;
    t->n = 0;
}

static void htab_put(htab *t, uint64_t h, uint32_t v)
{
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i] != KG_NONE)
        i = (i + 1) & t->mask;
    t->slot[i] = v;
    t->n++;
}

/* Enumerates the values a table holds, in storage order: returns the next
 * value after v (the first one for v == KG_NONE), KG_NONE at the end. */
typedef uint32_t (*next_fn)(const kg_graph *g, uint32_t v);

/* Make room for extra more values, rehashing into a bigger table. With
 * nf the values are re-inserted in the order the owner stores them, so
 * that computing their hashes reads the records sequentially instead of
 * in hash order (one cache miss per value saved on big tables). */
static int htab_reserve(kg_graph *g, htab *t, uint32_t extra, rehash_fn hf,
                        next_fn nf)
{
    size_t cap = t->slot ? (size_t)t->mask + 1 : 0;
    size_t need = (size_t)t->n + extra;
    if (need * 4 <= cap * 3)
        return 0;
    size_t nc = cap ? cap : 16;
    while (need * 4 > nc * 3)
        nc *= 2;
    if (nc > ((size_t)1 << 32) || nc > SIZE_MAX / sizeof(uint32_t))
        return KG_ENOMEM;
    uint32_t *ns = gm_alloc(g, nc * sizeof(uint32_t));
    if (!ns)
        return KG_ENOMEM;
    memset(ns, 0xff, nc * sizeof(uint32_t));
    htab nt = {ns, (uint32_t)(nc - 1), 0};
    if (nf) {
        for (uint32_t v = nf(g, KG_NONE); v != KG_NONE; v = nf(g, v))
            htab_put(&nt, hf(g, v), v);
    } else {
        for (size_t i = 0; i < cap; i++) {
            if (t->slot[i] != KG_NONE)
                htab_put(&nt, hf(g, t->slot[i]), t->slot[i]);
        }
    }
    htab_free(g, t);
    *t = nt;
    return 0;
}

/* Delete the value at slot i, shifting later members of the cluster back
 * so that lookups never need tombstones. */
static void htab_del_at(const kg_graph *g, htab *t, uint32_t i, rehash_fn hf)
{
    if (i == KG_NONE)
        return; /* not there: cannot happen while the invariants hold */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slot[j] == KG_NONE)
            break;
        uint32_t home = (uint32_t)hf(g, t->slot[j]) & t->mask;
        /* Move j to i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i] = KG_NONE;
    t->n--;
}

/* Slot holding value v (found through hash h), or KG_NONE. */
static uint32_t htab_slot_of(const htab *t, uint64_t h, uint32_t v)
{
    if (!t->slot)
        return KG_NONE;
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i] != KG_NONE) {
        if (t->slot[i] == v)
            return i;
        i = (i + 1) & t->mask;
    }
    return KG_NONE;
}

/* ---- atoms --------------------------------------------------------------- */

static const char *atom_s(const kg_graph *g, kg_atom a)
{
    uint32_t off = g->atom_off[a];
    return g->achunk[off >> ATOM_CHUNK_BITS].p + (off & (ATOM_CHUNK - 1));
}

static uint64_t atom_rehash(const kg_graph *g, uint32_t a)
{
    const char *s = atom_s(g, a);
    return hash_bytes(s, strlen(s), false);
}

static uint32_t atom_next(const kg_graph *g, uint32_t a)
{
    a = a == KG_NONE ? 0 : a + 1;
    return a < g->n_atoms ? a : KG_NONE;
}

static kg_atom atom_lookup(const kg_graph *g, const char *s, size_t len,
                           uint64_t h)
{
    const htab *t = &g->atom_idx;
    if (!t->slot)
        return KG_NONE;
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i] != KG_NONE) {
        const char *x = atom_s(g, t->slot[i]);
        if (strncmp(x, s, len) == 0 && x[len] == '\0')
            return t->slot[i];
        i = (i + 1) & t->mask;
    }
    return KG_NONE;
}

/* Reserve n bytes in the arena; returns the arena offset or KG_NONE.
 * Strings go into the open 64 KiB chunk while they fit. Otherwise a small
 * one (up to 16 KiB) opens a new chunk, and a bigger one gets a block of
 * its own that occupies as many chunk slots as its size needs, so that
 * offsets stay unique. The arena holds at most 4 GiB; the last slot is
 * never used so that no offset can equal KG_NONE. */
static uint32_t arena_take(kg_graph *g, size_t n)
{
    bool small = n <= ATOM_CHUNK / 4;
    if (n <= ATOM_CHUNK && g->open_chunk != KG_NONE &&
        g->open_used + n <= ATOM_CHUNK) {
        uint32_t off = (g->open_chunk << ATOM_CHUNK_BITS) | g->open_used;
        g->open_used += (uint32_t)n;
        return off;
    }
    size_t bytes = small ? ATOM_CHUNK : n;
    size_t slots = (bytes + ATOM_CHUNK - 1) / ATOM_CHUNK;
    if ((size_t)g->n_achunk + slots >= ((size_t)1 << (32 - ATOM_CHUNK_BITS)))
        return KG_NONE;
    if (gm_grow(g, (void **)&g->achunk, &g->cap_achunk, g->n_achunk + slots,
                sizeof *g->achunk))
        return KG_NONE;
    char *p = gm_alloc(g, bytes);
    if (!p)
        return KG_NONE;
    uint32_t first = g->n_achunk;
    g->achunk[first].p = p;
    g->achunk[first].size = bytes;
    for (size_t k = 1; k < slots; k++) {
        g->achunk[first + k].p = NULL;
        g->achunk[first + k].size = 0;
    }
    g->n_achunk += (uint32_t)slots;
    if (small) {
        g->open_chunk = first;
        g->open_used = (uint32_t)n;
    }
    return first << ATOM_CHUNK_BITS;
}

kg_atom kg_atom_intern(kg_graph *g, const char *s, size_t len)
{
    if (!g || (!s && len))
        return KG_NONE;
    if (!s)
        s = "";
    len = strnlen(s, len); /* an atom ends at its first NUL */
    if (len >= ATOM_MAX_LEN)
        return KG_NONE;
    uint64_t h = hash_bytes(s, len, false);
    kg_atom a = atom_lookup(g, s, len, h);
    if (a != KG_NONE)
        return a;
    if (g->n_atoms >= ITEM_MAX)
        return KG_NONE;
    if (htab_reserve(g, &g->atom_idx, 1, atom_rehash, atom_next) ||
        gm_grow(g, (void **)&g->atom_off, &g->cap_atoms, (size_t)g->n_atoms + 1,
                sizeof(uint32_t)))
        return KG_NONE;
    uint32_t off = arena_take(g, len + 1);
    if (off == KG_NONE)
        return KG_NONE;
    char *d = g->achunk[off >> ATOM_CHUNK_BITS].p + (off & (ATOM_CHUNK - 1));
    memcpy(d, s, len);
    d[len] = '\0';
    a = g->n_atoms++;
    g->atom_off[a] = off;
    htab_put(&g->atom_idx, h, a);
    return a;
}

kg_atom kg_atom_find(const kg_graph *g, const char *s)
{
    if (!g || !s)
        return KG_NONE;
    size_t len = strlen(s);
    return atom_lookup(g, s, len, hash_bytes(s, len, false));
}

const char *kg_atom_str(const kg_graph *g, kg_atom a)
{
    if (!g || a >= g->n_atoms)
        return NULL;
    return atom_s(g, a);
}

/* ---- pair sets -----------------------------------------------------------
 * A set is 2*n words (key atom, value atom) sorted by key string, keys
 * unique. Sets are interned: equal sets have equal ids. */

static uint64_t set_hash_words(const uint32_t *w, uint32_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    for (uint32_t i = 0; i < 2 * n; i++)
        h = (h ^ w[i]) * 0xff51afd7ed558ccdULL + 0x2545F4914F6CDD1DULL;
    return mix64(h);
}

static uint64_t set_rehash(const kg_graph *g, uint32_t sid)
{
    return set_hash_words(g->pw + g->sets[sid].off, g->sets[sid].n);
}

static uint32_t set_lookup(const kg_graph *g, const uint32_t *w, uint32_t n,
                           uint64_t h)
{
    if (n == 0)
        return 0;
    const htab *t = &g->set_idx;
    if (!t->slot)
        return KG_NONE;
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i] != KG_NONE) {
        const pset *p = &g->sets[t->slot[i]];
        if (p->n == n && memcmp(g->pw + p->off, w, 2 * (size_t)n * 4) == 0)
            return t->slot[i];
        i = (i + 1) & t->mask;
    }
    return KG_NONE;
}

/* Intern a canonical set; KG_NONE on out-of-memory. */
static uint32_t set_add(kg_graph *g, const uint32_t *w, uint32_t n)
{
    if (n == 0)
        return 0;
    uint64_t h = set_hash_words(w, n);
    uint32_t sid = set_lookup(g, w, n, h);
    if (sid != KG_NONE)
        return sid;
    if ((size_t)g->n_pw + 2 * (size_t)n >= ITEM_MAX || g->n_sets >= ITEM_MAX)
        return KG_NONE;
    uint32_t cap_pw = (uint32_t)g->cap_pw;
    if (htab_reserve(g, &g->set_idx, 1, set_rehash, NULL) ||
        gm_grow(g, (void **)&g->sets, &g->cap_sets, (size_t)g->n_sets + 1,
                sizeof(pset)) ||
        gm_grow(g, (void **)&g->pw, &cap_pw, g->n_pw + 2 * (size_t)n,
                sizeof(uint32_t)))
        return KG_NONE;
    g->cap_pw = cap_pw;
    memcpy(g->pw + g->n_pw, w, 2 * (size_t)n * 4);
    sid = g->n_sets++;
    g->sets[sid].off = (uint32_t)g->n_pw;
    g->sets[sid].n = n;
    g->n_pw += 2 * (size_t)n;
    htab_put(&g->set_idx, h, sid);
    return sid;
}

#define PAIRS_MAX ((size_t)1 << 20)

/* Check caller pairs: keys non-empty, counts sane. */
static int pairs_check(const kg_pair *p, size_t n, const char *what,
                       kg_error *err)
{
    if (n && !p)
        return kg_error_set(err, KG_EINVAL, "%s: NULL array", what);
    if (n > PAIRS_MAX)
        return kg_error_set(err, KG_EINVAL, "%s: too many pairs (%zu)", what, n);
    for (size_t i = 0; i < n; i++) {
        if (!p[i].key || !p[i].key[0])
            return kg_error_set(err, KG_EINVAL, "%s: empty key", what);
    }
    return 0;
}

typedef struct pin {
    const char *key;
    size_t idx;
    kg_atom k, v;
} pin;

static int pin_cmp(const void *a, const void *b)
{
    const pin *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Canonical words of caller pairs (already checked): sorted by key, the
 * last value given for a key wins. With gw != NULL strings are interned
 * in gw; otherwise they are only looked up in g and KG_ENOTFOUND means
 * some string is unknown (so no stored set can equal it). *words is
 * malloc'ed (caller frees) unless *m is 0. */
static int pairs_canon(kg_graph *gw, const kg_graph *g, const kg_pair *p,
                       size_t n, uint32_t **words, uint32_t *m)
{
    *words = NULL;
    *m = 0;
    if (n == 0)
        return 0;
    pin *v = malloc(n * sizeof *v);
    uint32_t *w = malloc(2 * n * sizeof *w);
    if (!v || !w) {
        free(v);
        free(w);
        return KG_ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *val = p[i].value ? p[i].value : "";
        v[i].key = p[i].key;
        v[i].idx = i;
        if (gw) {
            v[i].k = kg_atom_intern(gw, p[i].key, strlen(p[i].key));
            v[i].v = kg_atom_intern(gw, val, strlen(val));
            if (v[i].k == KG_NONE || v[i].v == KG_NONE)
                rc = KG_ENOMEM;
        } else {
            v[i].k = kg_atom_find(g, p[i].key);
            v[i].v = kg_atom_find(g, val);
            if (v[i].k == KG_NONE || v[i].v == KG_NONE)
                rc = KG_ENOTFOUND;
        }
    }
    if (rc == 0) {
        qsort(v, n, sizeof *v, pin_cmp);
        uint32_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && v[i + 1].k == v[i].k)
                continue; /* a later value for the same key wins */
            w[2 * k] = v[i].k;
            w[2 * k + 1] = v[i].v;
            k++;
        }
        *m = k;
        *words = w;
    } else {
        free(w);
    }
    free(v);
    return rc;
}

/* Interned set of caller pairs (already checked). */
static int set_intern(kg_graph *g, const kg_pair *p, size_t n, uint32_t *sid)
{
    uint32_t *w, m;
    int rc = pairs_canon(g, g, p, n, &w, &m);
    if (rc)
        return rc;
    *sid = set_add(g, w, m);
    free(w);
    return *sid == KG_NONE ? KG_ENOMEM : 0;
}

/* The id of the set equal to caller pairs, or KG_NONE if none exists. */
static uint32_t set_find(const kg_graph *g, const kg_pair *p, size_t n)
{
    uint32_t *w, m;
    if (pairs_canon(NULL, g, p, n, &w, &m))
        return KG_NONE;
    uint32_t sid = set_lookup(g, w, m, set_hash_words(w, m));
    free(w);
    return sid;
}

/* Union of set base and canonical words w[0..2m): for a key in both, the
 * value from w when add_wins, else the one from base. */
static int set_merge(kg_graph *g, uint32_t base, const uint32_t *w,
                     uint32_t m, bool add_wins, uint32_t *out)
{
    uint32_t bn = g->sets[base].n;
    /* Work on a copy of base: set_add below may move g->pw. */
    uint32_t *b = malloc((2 * (size_t)bn + 1) * sizeof *b);
    uint32_t *o = malloc(2 * ((size_t)bn + m) * sizeof *o + 1);
    if (!b || !o) {
        free(b);
        free(o);
        return KG_ENOMEM;
    }
    if (bn)
        memcpy(b, g->pw + g->sets[base].off, 2 * (size_t)bn * 4);
    uint32_t i = 0, j = 0, k = 0;
    while (i < bn || j < m) {
        int c;
        if (i == bn)
            c = 1;
        else if (j == m)
            c = -1;
        else if (b[2 * i] == w[2 * j])
            c = 0;
        else
            c = strcmp(atom_s(g, b[2 * i]), atom_s(g, w[2 * j]));
        if (c < 0) {
            o[2 * k] = b[2 * i];
            o[2 * k + 1] = b[2 * i + 1];
            i++;
        } else if (c > 0) {
            o[2 * k] = w[2 * j];
            o[2 * k + 1] = w[2 * j + 1];
            j++;
        } else {
            o[2 * k] = b[2 * i];
            o[2 * k + 1] = add_wins ? w[2 * j + 1] : b[2 * i + 1];
            i++;
            j++;
        }
        k++;
    }
    *out = set_add(g, o, k);
    free(o);
    free(b);
    return *out == KG_NONE ? KG_ENOMEM : 0;
}

static const char *set_get(const kg_graph *g, uint32_t sid, const char *key)
{
    if (!key || g->sets[sid].n == 0) /* the empty set may have no storage */
        return NULL;
    kg_atom k = kg_atom_find(g, key);
    if (k == KG_NONE)
        return NULL;
    const uint32_t *w = g->pw + g->sets[sid].off;
    for (uint32_t i = 0; i < g->sets[sid].n; i++) {
        if (w[2 * i] == k)
            return atom_s(g, w[2 * i + 1]);
    }
    return NULL;
}

static kg_pair set_pair(const kg_graph *g, uint32_t sid, size_t i)
{
    kg_pair p = {NULL, NULL};
    if (i < g->sets[sid].n) {
        const uint32_t *w = g->pw + g->sets[sid].off;
        p.key = atom_s(g, w[2 * i]);
        p.value = atom_s(g, w[2 * i + 1]);
    }
    return p;
}

/* ---- records ------------------------------------------------------------- */

static inline ent *E(const kg_graph *g, kg_eid e)
{
    return &g->echunk[e >> ENT_CHUNK_BITS][e & (((uint32_t)1 << ENT_CHUNK_BITS) - 1)];
}

#define REL_CHUNK ((size_t)1 << REL_CHUNK_BITS)
#define REL_CHUNK_BYTES (REL_CHUNK * (sizeof(rel) + sizeof(kg_atom)))

static inline rel *R(const kg_graph *g, kg_rid r)
{
    return &g->rchunk[r >> REL_CHUNK_BITS][r & (REL_CHUNK - 1)];
}

/* The kind of relation r. */
static inline kg_atom *RK(const kg_graph *g, kg_rid r)
{
    return (kg_atom *)(g->rchunk[r >> REL_CHUNK_BITS] + REL_CHUNK) +
           (r & (REL_CHUNK - 1));
}

static bool ent_ok(const kg_graph *g, kg_eid e)
{
    return g && e < g->ent_hi && E(g, e)->id != KG_NONE;
}

static bool rel_ok(const kg_graph *g, kg_rid r)
{
    return g && r < g->rel_hi && *RK(g, r) != KG_NONE;
}

/* ---- kinds --------------------------------------------------------------- */

static uint64_t kind_rehash(const kg_graph *g, uint32_t ki)
{
    return mix64(g->kinds[ki].atom);
}

static uint32_t kind_find(const kg_graph *g, kg_atom a)
{
    const htab *t = &g->kind_idx;
    if (!t->slot)
        return KG_NONE;
    uint32_t i = (uint32_t)mix64(a) & t->mask;
    while (t->slot[i] != KG_NONE) {
        if (g->kinds[t->slot[i]].atom == a)
            return t->slot[i];
        i = (i + 1) & t->mask;
    }
    return KG_NONE;
}

static uint32_t kind_get(kg_graph *g, kg_atom a)
{
    uint32_t ki = kind_find(g, a);
    if (ki != KG_NONE)
        return ki;
    if (g->n_kinds >= KIND_MAX)
        return KG_NONE;
    if (htab_reserve(g, &g->kind_idx, 1, kind_rehash, NULL) ||
        gm_grow(g, (void **)&g->kinds, &g->cap_kinds, (size_t)g->n_kinds + 1,
                sizeof(kindrec)))
        return KG_NONE;
    ki = g->n_kinds++;
    memset(&g->kinds[ki], 0, sizeof(kindrec));
    g->kinds[ki].atom = a;
    htab_put(&g->kind_idx, mix64(a), ki);
    return ki;
}

static int kind_list_reserve(kg_graph *g, uint32_t ki)
{
    kindrec *k = &g->kinds[ki];
    return gm_grow(g, (void **)&k->list, &k->list_cap, (size_t)k->list_len + 1,
                   sizeof(uint32_t));
}

/* O(entities of the kind): removal is rare next to look-ups, and keeping
 * insertion order with a position per entity would cost 4 bytes each. */
static void kind_list_remove(kg_graph *g, uint32_t ki, kg_eid e)
{
    kindrec *k = &g->kinds[ki];
    for (uint32_t i = k->list_len; i-- > 0;) {
        if (k->list[i] == e) {
            memmove(k->list + i, k->list + i + 1,
                    (size_t)(k->list_len - i - 1) * sizeof(uint32_t));
            k->list_len--;
            break;
        }
    }
    if (k->list_len == 0 && k->list) {
        gm_free(g, k->list, (size_t)k->list_cap * sizeof(uint32_t));
        k->list = NULL;
        k->list_cap = 0;
    }
}

/* ---- adjacency blocks ---------------------------------------------------- */

/* Size class c holds blocks of class_cap(c) handles: 1..8 exactly, then
 * four steps per doubling (10, 12, 14, 16, 20, 24, ...), so at most 25%
 * (12% on average) of a block is slack. */
static size_t class_cap(unsigned c)
{
    if (c <= 8)
        return c;
    unsigned b = 3 + (c - 9) / 4, i = (c - 9) % 4 + 1;
    return ((size_t)1 << b) + ((size_t)i << (b - 2));
}

static unsigned class_for(size_t len)
{
    if (len <= 8)
        return (unsigned)len;
    unsigned b = 0;
    for (size_t x = len - 1; x > 1; x >>= 1)
        b++;
    size_t step = (size_t)1 << (b - 2);
    size_t i = (len - ((size_t)1 << b) + step - 1) / step;
    return 9 + (b - 3) * 4 + (unsigned)i - 1;
}

/* log2 of the blocks per pool chunk: chunks of about 64 KiB. */
static unsigned pool_shift(unsigned c)
{
    size_t q = 16384 / (class_cap(c) + 1);
    return q <= 1 ? 0 : (unsigned)(63 - __builtin_clzll((unsigned long long)q));
}

static inline uint32_t *blk_ptr(const kg_graph *g, unsigned c, uint32_t i)
{
    const apool *p = &g->pool[c];
    return p->chunks[i >> p->sh] + (size_t)(i & (((uint32_t)1 << p->sh) - 1)) * p->words;
}

static uint32_t blk_alloc(kg_graph *g, unsigned c, kg_eid owner)
{
    apool *p = &g->pool[c];
    unsigned sh = p->sh;
    uint32_t i = p->n_blocks;
    if (i == ITEM_MAX)
        return KG_NONE;
    if ((i >> sh) == p->n_chunks) {
        size_t words = ((size_t)1 << sh) * p->words;
        if (gm_grow(g, (void **)&p->chunks, &p->cap_chunks,
                    (size_t)p->n_chunks + 1, sizeof(uint32_t *)))
            return KG_NONE;
        uint32_t *ch = gm_alloc(g, words * sizeof(uint32_t));
        if (!ch)
            return KG_NONE;
        p->chunks[p->n_chunks++] = ch;
    }
    p->n_blocks++;
    blk_ptr(g, c, i)[0] = owner;
    return i;
}

/* Free block i of class c; the pool's last block moves into the hole. */
static void blk_free(kg_graph *g, unsigned c, uint32_t i)
{
    apool *p = &g->pool[c];
    unsigned sh = p->sh;
    uint32_t last = p->n_blocks - 1;
    if (i != last) {
        uint32_t *src = blk_ptr(g, c, last);
        memcpy(blk_ptr(g, c, i), src, p->words * sizeof(uint32_t));
        E(g, src[0])->blk = i;
    }
    p->n_blocks--;
    if (p->n_chunks && p->n_blocks <= ((p->n_chunks - 1) << sh)) {
        size_t words = ((size_t)1 << sh) * p->words;
        gm_free(g, p->chunks[--p->n_chunks], words * sizeof(uint32_t));
        if (p->n_chunks == 0) {
            gm_free(g, p->chunks, (size_t)p->cap_chunks * sizeof(uint32_t *));
            p->chunks = NULL;
            p->cap_chunks = 0;
        }
    }
}

static inline unsigned ent_class(const ent *x)
{
    return (x->kc >> 24) & CLASS_MASK;
}

static inline uint32_t ent_kind(const ent *x)
{
    return x->kc & (KIND_MAX - 1);
}

static uint32_t *adj_base(const kg_graph *g, const ent *x)
{
    unsigned c = ent_class(x);
    return c ? blk_ptr(g, c, x->blk) + 1 : NULL;
}

static uint64_t pend_rehash(const kg_graph *g, uint32_t i)
{
    return mix64(g->pends[i].e);
}

/* The record of pending entity e. */
static const pend *pend_of(const kg_graph *g, kg_eid e)
{
    const htab *t = &g->pend_idx;
    uint32_t i = (uint32_t)mix64(e) & t->mask;
    while (t->slot[i] != KG_NONE && g->pends[t->slot[i]].e != e)
        i = (i + 1) & t->mask;
    return &g->pends[t->slot[i]]; /* there while the flag is right */
}

/* Handles in e's out-tail, which sits at the end of its block. */
static uint32_t out_tail(const kg_graph *g, kg_eid e, const ent *x)
{
    return (x->kc & ADJ_PEND) ? x->nout - pend_of(g, e)->out0 : 0;
}

/* Move entity e's handles to a block of class nc (which must fit them). */
static int adj_move(kg_graph *g, kg_eid e, unsigned nc)
{
    ent *x = E(g, e);
    unsigned c = ent_class(x);
    size_t len = (size_t)x->nout + x->nin;
    uint32_t nb = 0;
    if (nc) {
        nb = blk_alloc(g, nc, e);
        if (nb == KG_NONE)
            return KG_ENOMEM;
        uint32_t *to = blk_ptr(g, nc, nb) + 1;
        size_t tail = out_tail(g, e, x);
        if (len > tail)
            memcpy(to, blk_ptr(g, c, x->blk) + 1, (len - tail) * sizeof(uint32_t));
        if (tail) /* stays at the end of the block */
            memcpy(to + class_cap(nc) - tail,
                   blk_ptr(g, c, x->blk) + 1 + class_cap(c) - tail,
                   tail * sizeof(uint32_t));
    }
    if (c)
        blk_free(g, c, x->blk);
    x->kc = (x->kc & ~(CLASS_MASK << 24)) | (uint32_t)nc << 24;
    x->blk = nb;
    return 0;
}

/* Make room for extra more handles on e. */
static int adj_reserve(kg_graph *g, kg_eid e, uint32_t extra)
{
    ent *x = E(g, e);
    size_t len = (size_t)x->nout + x->nin;
    if (len + extra <= class_cap(ent_class(x)))
        return 0;
    if (len + extra > 2 * (size_t)DEGREE_MAX)
        return KG_ELIMIT;
    return adj_move(g, e, class_for(len + extra));
}

/* First index in a[0..n) whose (kind, handle) is not below (k, r).
 * Binary search down to a window of 32, then a branch-free count over the
 * window: its loads of the relation records are independent, so the
 * cache misses overlap instead of following one another. */
static uint32_t adj_lb(const kg_graph *g, const uint32_t *a, uint32_t n,
                       kg_atom k, kg_rid r)
{
    uint32_t lo = 0, hi = n;
    while (hi - lo > 32) {
        uint32_t mid = lo + (hi - lo) / 2;
        kg_rid h = a[mid];
        kg_atom hk = *RK(g, h);
        if (hk < k || (hk == k && h < r))
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t cnt = 0;
    for (uint32_t i = lo; i < hi; i++) {
        kg_rid h = a[i];
        kg_atom hk = *RK(g, h);
        cnt += (uint32_t)((hk < k) | ((hk == k) & (h < r)));
    }
    return lo + cnt;
}

/* [*lo, *hi): the entries of kind k in a[0..n). */
static void adj_kind_range(const kg_graph *g, const uint32_t *a, uint32_t n,
                           kg_atom k, uint32_t *lo, uint32_t *hi)
{
    if (n <= 32) {
        uint32_t below = 0, upto = 0;
        for (uint32_t i = 0; i < n; i++) {
            kg_atom hk = *RK(g, a[i]);
            below += (uint32_t)(hk < k);
            upto += (uint32_t)(hk <= k);
        }
        *lo = below;
        *hi = upto;
        return;
    }
    *lo = adj_lb(g, a, n, k, 0);
    *hi = *lo + adj_lb(g, a + *lo, n - *lo, k + 1, 0);
}

/* Insert handle r (kind k) into e's out- or in-part; room was reserved.
 * A pending entity takes it at the end of its out- or in-tail. */
static void adj_insert(kg_graph *g, kg_eid e, bool out, kg_rid r, kg_atom k)
{
    ent *x = E(g, e);
    uint32_t *a = adj_base(g, x);
    if (x->kc & ADJ_PEND) {
        const pend *p = pend_of(g, e);
        if (out)
            a[class_cap(ent_class(x)) - (x->nout++ - p->out0) - 1] = r;
        else
            a[p->out0 + x->nin++] = r;
        return;
    }
    uint32_t start = out ? 0 : x->nout, n = out ? x->nout : x->nin;
    uint32_t pos = start + adj_lb(g, a + start, n, k, r);
    uint32_t len = x->nout + x->nin;
    memmove(a + pos + 1, a + pos, (size_t)(len - pos) * sizeof(uint32_t));
    a[pos] = r;
    if (out)
        x->nout++;
    else
        x->nin++;
}

static void adj_remove(kg_graph *g, kg_eid e, bool out, kg_rid r, kg_atom k)
{
    ent *x = E(g, e);
    uint32_t *a = adj_base(g, x);
    uint32_t start = out ? 0 : x->nout, n = out ? x->nout : x->nin;
    if (!a)
        return;
    uint32_t pos = start + adj_lb(g, a + start, n, k, r);
    if (pos >= start + n || a[pos] != r)
        return; /* not there: cannot happen while the invariants hold */
    uint32_t len = x->nout + x->nin;
    memmove(a + pos, a + pos + 1, (size_t)(len - pos - 1) * sizeof(uint32_t));
    if (out)
        x->nout--;
    else
        x->nin--;
    len--;
    unsigned c = ent_class(x);
    if (len == 0) {
        adj_move(g, e, 0); /* freeing cannot fail */
    } else if (class_for(len) + 2 <= c) {
        /* Shrink with one class of headroom; on failure keep the block. */
        (void)adj_move(g, e, class_for(len) + 1);
    }
}

/* ---- bulk scopes ----------------------------------------------------------
 * Keeping a part sorted on every insertion moves the handles after the
 * insertion point, and an out-insertion moves the whole in-part: building
 * an entity of degree d one relation at a time costs O(d^2) moves (a hub
 * of 1.6M relations of four kinds took a minute to load). Inside a bulk
 * scope an entity with BULK_MIN handles or more goes "pending": its sorted
 * parts stay where they are and new handles are appended, moving nothing:
 *
 *   [ out sorted (out0) | in sorted (in0) | in tail ->  ...  <- out tail ]
 *
 * (the out tail fills the block from its end, so neither part has to make
 * room for the other). The block still grows by size class as usual, so
 * memory is the same as without a scope. Before anything reads adjacency
 * by position - the end of the scope, a removal, kg_graph_bulk_flush - the
 * tails are sorted and merged into place: O(t log t) for a tail of t plus
 * the handles that sort after its smallest one, once per scope instead of
 * once per relation. Growing the scratch array that sorting needs happens
 * when a handle is added, where running out of memory can still be
 * refused, so settling cannot fail. */

/* (kind, handle) in one integer: the order of an adjacency part. */
static inline uint64_t adj_key(const kg_graph *g, kg_rid r)
{
    return (uint64_t)*RK(g, r) << 32 | r;
}

static int key_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sort keys k[0..n). A tail of one kind is usually sorted already (new
 * relations get growing handles), and qsort would still compare n log n
 * times. */
static void keys_sort(uint64_t *k, uint32_t n)
{
    uint32_t i = 1;
    while (i < n && k[i - 1] < k[i])
        i++;
    if (i < n)
        qsort(k, n, sizeof *k, key_cmp);
}

/* Before adding extra handles to e in a scope: make e pending once it has
 * BULK_MIN handles, and make the scratch array hold its tails. */
static int bulk_reserve(kg_graph *g, kg_eid e, uint32_t extra)
{
    ent *x = E(g, e);
    if (!(x->kc & ADJ_PEND)) {
        if ((size_t)x->nout + x->nin < BULK_MIN)
            return 0;
        if (htab_reserve(g, &g->pend_idx, 1, pend_rehash, NULL) ||
            gm_grow(g, (void **)&g->pends, &g->cap_pend,
                    (size_t)g->n_pend + 1, sizeof(pend)))
            return KG_ENOMEM;
        pend *p = &g->pends[g->n_pend];
        p->e = e;
        p->out0 = x->nout;
        p->in0 = x->nin;
        htab_put(&g->pend_idx, mix64(e), g->n_pend++);
        x->kc |= ADJ_PEND; /* an empty tail: nothing to undo on failure */
    }
    const pend *p = pend_of(g, e);
    size_t tails = (size_t)(x->nout - p->out0) + (x->nin - p->in0) + extra;
    return gm_grow(g, (void **)&g->scratch, &g->cap_scratch, tails,
                   sizeof(uint64_t));
}

/* Merge the sorted run src[0..n) with the sorted keys k[0..m) into
 * dst[0..n+m), from the back. dst >= src, so no handle of the run is
 * overwritten before it is read; with dst == src the handles below the
 * smallest key do not move at all. */
static void adj_merge(const kg_graph *g, uint32_t *dst, const uint32_t *src,
                      uint32_t n, const uint64_t *k, uint32_t m)
{
    uint32_t i = n, j = m;
    while (j > 0) {
        if (i > 0 && adj_key(g, src[i - 1]) > k[j - 1]) {
            i--;
            dst[i + j] = src[i];
        } else {
            j--;
            dst[i + j] = (uint32_t)k[j];
        }
    }
    if (dst != src)
        memmove(dst, src, (size_t)i * sizeof(uint32_t));
}

/* Sort p's tails into place: back to [out part | in part]. */
static void adj_settle(kg_graph *g, const pend *p)
{
    ent *x = E(g, p->e);
    uint32_t *a = adj_base(g, x);
    uint32_t to = x->nout - p->out0, ti = x->nin - p->in0;
    const uint32_t *otail = a + class_cap(ent_class(x)) - to;
    const uint32_t *itail = a + p->out0 + p->in0;
    uint64_t *k = g->scratch;
    /* Both tails go to the scratch keys first: the in-part's new place
     * may cover either of them. */
    for (uint32_t i = 0; i < to; i++)
        k[i] = adj_key(g, otail[i]);
    for (uint32_t i = 0; i < ti; i++)
        k[to + i] = adj_key(g, itail[i]);
    keys_sort(k, to);
    keys_sort(k + to, ti);
    /* The in-part moves up by the out tail, then the out tail merges
     * into the room it left. */
    adj_merge(g, a + x->nout, a + p->out0, p->in0, k + to, ti);
    adj_merge(g, a, a, p->out0, k, to);
    x->kc &= ~ADJ_PEND;
}

/* Settle every pending entity; the scope stays open. */
static void bulk_settle(kg_graph *g)
{
    for (uint32_t i = 0; i < g->n_pend; i++)
        adj_settle(g, &g->pends[i]);
    g->n_pend = 0;
    if (g->pend_idx.slot) {
        memset(g->pend_idx.slot, 0xff,
               ((size_t)g->pend_idx.mask + 1) * sizeof(uint32_t));
        g->pend_idx.n = 0;
    }
}

/* The scope's own memory, given back when the outermost one ends. */
static void bulk_free(kg_graph *g)
{
    htab_free(g, &g->pend_idx);
    gm_free(g, g->pends, (size_t)g->cap_pend * sizeof(pend));
    g->pends = NULL;
    g->cap_pend = 0;
    gm_free(g, g->scratch, (size_t)g->cap_scratch * sizeof(uint64_t));
    g->scratch = NULL;
    g->cap_scratch = 0;
}

void kg_graph_bulk_begin(kg_graph *g)
{
    if (g && g->bulk < UINT32_MAX)
        g->bulk++;
}

void kg_graph_bulk_flush(kg_graph *g)
{
    if (g && g->n_pend)
        bulk_settle(g);
}

void kg_graph_bulk_end(kg_graph *g)
{
    if (!g || g->bulk == 0)
        return;
    if (--g->bulk == 0) {
        bulk_settle(g);
        bulk_free(g);
    }
}

/* ---- indexes ------------------------------------------------------------- */

static uint64_t fact_hash(kg_eid s, kg_atom k, kg_eid o, uint32_t q)
{
    return mix64((((uint64_t)s << 32) | o) ^
                 mix64((((uint64_t)k << 32) | q) + 0x9E3779B97F4A7C15ULL));
}

static uint64_t fact_rehash(const kg_graph *g, uint32_t r)
{
    const rel *x = R(g, r);
    return fact_hash(x->s, *RK(g, r), x->o, x->quals);
}

static kg_rid fact_find(const kg_graph *g, kg_eid s, kg_atom k, kg_eid o,
                        uint32_t q)
{
    const htab *t = &g->fact_idx;
    if (!t->slot)
        return KG_NONE;
    uint32_t i = (uint32_t)fact_hash(s, k, o, q) & t->mask;
    while (t->slot[i] != KG_NONE) {
        /* The kind first: the dense kind array is more likely cached. */
        if (*RK(g, t->slot[i]) == k) {
            const rel *x = R(g, t->slot[i]);
            if (x->s == s && x->o == o && x->quals == q)
                return t->slot[i];
        }
        i = (i + 1) & t->mask;
    }
    return KG_NONE;
}

static uint32_t fact_next(const kg_graph *g, uint32_t r)
{
    for (r = r == KG_NONE ? 0 : r + 1; r < g->rel_hi; r++) {
        if (*RK(g, r) != KG_NONE)
            return r;
    }
    return KG_NONE;
}

static uint32_t id_next(const kg_graph *g, uint32_t e)
{
    for (e = e == KG_NONE ? 0 : e + 1; e < g->ent_hi; e++) {
        if (E(g, e)->id != KG_NONE)
            return e;
    }
    return KG_NONE;
}

static uint64_t id_rehash(const kg_graph *g, uint32_t e)
{
    const char *s = atom_s(g, E(g, e)->id);
    return hash_bytes(s, strlen(s), true);
}

static uint64_t alias_rehash(const kg_graph *g, uint32_t aid)
{
    const char *s = atom_s(g, g->aliases[aid].atom);
    return hash_bytes(s, strlen(s), true);
}

static kg_eid id_lookup(const kg_graph *g, const char *name, size_t len,
                        uint64_t h)
{
    const htab *t = &g->id_idx;
    if (!t->slot)
        return KG_NONE;
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i] != KG_NONE) {
        if (fold_eq(atom_s(g, E(g, t->slot[i])->id), name, len))
            return t->slot[i];
        i = (i + 1) & t->mask;
    }
    return KG_NONE;
}

static uint32_t alias_lookup(const kg_graph *g, const char *name, size_t len,
                             uint64_t h)
{
    const htab *t = &g->alias_idx;
    if (!t->slot)
        return KG_NONE;
    uint32_t i = (uint32_t)h & t->mask;
    while (t->slot[i] != KG_NONE) {
        if (fold_eq(atom_s(g, g->aliases[t->slot[i]].atom), name, len))
            return t->slot[i];
        i = (i + 1) & t->mask;
    }
    return KG_NONE;
}

/* ---- lifetime ------------------------------------------------------------ */

kg_graph *kg_graph_new(void)
{
    kg_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->mem = sizeof *g;
    g->open_chunk = KG_NONE;
    g->rel_free = g->ent_free = g->ext_free = g->alias_free = KG_NONE;
    /* Set 0 is the empty set; ext 0 means "no ext". */
    if (gm_grow(g, (void **)&g->sets, &g->cap_sets, 1, sizeof(pset)) ||
        gm_grow(g, (void **)&g->exts, &g->cap_exts, 1, sizeof(ext)))
        goto fail;
    g->sets[0].off = 0;
    g->sets[0].n = 0;
    g->n_sets = 1;
    memset(&g->exts[0], 0, sizeof(ext));
    g->n_exts = 1;
    if (kg_atom_intern(g, "", 0) != 0)
        goto fail;
    for (unsigned c = 0; c < NCLASS; c++) {
        g->pool[c].sh = pool_shift(c);
        g->pool[c].words = class_cap(c) + 1;
    }
    g->unknown_atom = kg_atom_intern(g, "unknown", 7);
    if (g->unknown_atom == KG_NONE)
        goto fail;
    return g;
fail:
    kg_graph_destroy(&g);
    return NULL;
}

void kg_graph_destroy(kg_graph **gp)
{
    if (!gp || !*gp)
        return;
    kg_graph *g = *gp;
    for (uint32_t i = 0; i < g->n_achunk; i++)
        gm_free(g, g->achunk[i].p, g->achunk[i].size);
    gm_free(g, g->achunk, (size_t)g->cap_achunk * sizeof *g->achunk);
    gm_free(g, g->atom_off, (size_t)g->cap_atoms * sizeof(uint32_t));
    htab_free(g, &g->atom_idx);
    gm_free(g, g->pw, g->cap_pw * sizeof(uint32_t));
    gm_free(g, g->sets, (size_t)g->cap_sets * sizeof(pset));
    htab_free(g, &g->set_idx);
    for (uint32_t i = 0; i < g->n_rchunk; i++)
        gm_free(g, g->rchunk[i], REL_CHUNK_BYTES);
    gm_free(g, g->rchunk, (size_t)g->cap_rchunk * sizeof(rel *));
    htab_free(g, &g->fact_idx);
    for (uint32_t i = 0; i < g->n_echunk; i++)
        gm_free(g, g->echunk[i], ((size_t)1 << ENT_CHUNK_BITS) * sizeof(ent));
    gm_free(g, g->echunk, (size_t)g->cap_echunk * sizeof(ent *));
    htab_free(g, &g->id_idx);
    htab_free(g, &g->alias_idx);
    for (uint32_t i = 0; i < g->n_exts; i++) {
        if (g->exts[i].aliases) {
            size_t cap = 1;
            while (cap < g->exts[i].n_aliases)
                cap *= 2;
            gm_free(g, g->exts[i].aliases, cap * sizeof(uint32_t));
        }
    }
    gm_free(g, g->exts, (size_t)g->cap_exts * sizeof(ext));
    htab_free(g, &g->ext_idx);
    gm_free(g, g->aliases, (size_t)g->cap_aliasrec * sizeof(aliasrec));
    for (uint32_t i = 0; i < g->n_kinds; i++)
        gm_free(g, g->kinds[i].list, (size_t)g->kinds[i].list_cap * sizeof(uint32_t));
    gm_free(g, g->kinds, (size_t)g->cap_kinds * sizeof(kindrec));
    htab_free(g, &g->kind_idx);
    bulk_free(g);
    for (unsigned c = 0; c < NCLASS; c++) {
        apool *p = &g->pool[c];
        size_t words = ((size_t)1 << p->sh) * p->words;
        for (uint32_t i = 0; i < p->n_chunks; i++)
            gm_free(g, p->chunks[i], words * sizeof(uint32_t));
        gm_free(g, p->chunks, (size_t)p->cap_chunks * sizeof(uint32_t *));
    }
    free(g);
    *gp = NULL;
}

size_t kg_graph_memory(const kg_graph *g)
{
    return g ? g->mem : 0;
}

/* ---- entities ------------------------------------------------------------ */

static size_t alias_cap(uint32_t n)
{
    size_t c = n ? 1 : 0;
    while (c < n)
        c *= 2;
    return c;
}

/* A slot for a new entity (not yet initialised), or KG_NONE. */
static kg_eid ent_slot(kg_graph *g)
{
    if (g->ent_free != KG_NONE)
        return g->ent_free;
    if (g->ent_hi >= ITEM_MAX)
        return KG_NONE;
    if ((g->ent_hi >> ENT_CHUNK_BITS) == g->n_echunk) {
        if (gm_grow(g, (void **)&g->echunk, &g->cap_echunk,
                    (size_t)g->n_echunk + 1, sizeof(ent *)))
            return KG_NONE;
        ent *ch = gm_alloc(g, ((size_t)1 << ENT_CHUNK_BITS) * sizeof(ent));
        if (!ch)
            return KG_NONE;
        g->echunk[g->n_echunk++] = ch;
    }
    return g->ent_hi;
}

/* Take the slot returned by ent_slot. */
static void ent_take(kg_graph *g, kg_eid e)
{
    if (e == g->ent_free)
        g->ent_free = E(g, e)->blk;
    else
        g->ent_hi++;
}

static uint64_t ext_rehash(const kg_graph *g, uint32_t xi)
{
    return mix64(g->exts[xi].owner);
}

/* e's ext record, 0 (the empty record) when it has none. */
static uint32_t ext_of(const kg_graph *g, kg_eid e)
{
    if (!(E(g, e)->kc & EXT_FLAG))
        return 0;
    const htab *t = &g->ext_idx;
    uint32_t i = (uint32_t)mix64(e) & t->mask;
    while (t->slot[i] != KG_NONE) {
        if (g->exts[t->slot[i]].owner == e)
            return t->slot[i];
        i = (i + 1) & t->mask;
    }
    return 0; /* cannot happen while the flag is right */
}

/* e's ext record, created when missing; 0 on out-of-memory. */
static uint32_t ext_get(kg_graph *g, kg_eid e)
{
    uint32_t xi = ext_of(g, e);
    if (xi)
        return xi;
    if (htab_reserve(g, &g->ext_idx, 1, ext_rehash, NULL))
        return 0;
    if (g->ext_free != KG_NONE) {
        xi = g->ext_free;
        g->ext_free = g->exts[xi].attrs;
    } else {
        if (g->n_exts >= ITEM_MAX ||
            gm_grow(g, (void **)&g->exts, &g->cap_exts, (size_t)g->n_exts + 1,
                    sizeof(ext)))
            return 0;
        xi = g->n_exts++;
    }
    g->exts[xi].aliases = NULL;
    g->exts[xi].n_aliases = 0;
    g->exts[xi].attrs = 0;
    g->exts[xi].owner = e;
    htab_put(&g->ext_idx, mix64(e), xi);
    E(g, e)->kc |= EXT_FLAG;
    return xi;
}

static void ext_release_if_empty(kg_graph *g, kg_eid e)
{
    uint32_t xi = ext_of(g, e);
    ext *t = &g->exts[xi];
    if (xi && t->n_aliases == 0 && t->attrs == 0) {
        htab_del_at(g, &g->ext_idx, htab_slot_of(&g->ext_idx, mix64(e), xi),
                    ext_rehash);
        t->owner = KG_NONE;
        t->attrs = g->ext_free;
        g->ext_free = xi;
        E(g, e)->kc &= ~EXT_FLAG;
    }
}

/* Add one alias to e unless it is empty, e's own id, or already an alias
 * of any entity (the first owner keeps an alias). */
static int alias_add(kg_graph *g, kg_eid e, const char *name)
{
    size_t len = strlen(name);
    if (len == 0)
        return 0;
    if (fold_eq(atom_s(g, E(g, e)->id), name, len))
        return 0;
    uint64_t h = hash_bytes(name, len, true);
    if (alias_lookup(g, name, len, h) != KG_NONE)
        return 0;
    kg_atom a = kg_atom_intern(g, name, len);
    if (a == KG_NONE)
        return KG_ENOMEM;
    uint32_t xi = ext_get(g, e);
    if (!xi)
        return KG_ENOMEM;
    if (htab_reserve(g, &g->alias_idx, 1, alias_rehash, NULL))
        goto fail;
    uint32_t aid;
    if (g->alias_free == KG_NONE) {
        if (g->n_aliasrec >= ITEM_MAX ||
            gm_grow(g, (void **)&g->aliases, &g->cap_aliasrec,
                    (size_t)g->n_aliasrec + 1, sizeof(aliasrec)))
            goto fail;
        aid = g->n_aliasrec;
    } else {
        aid = g->alias_free;
    }
    ext *t = &g->exts[xi];
    size_t cap = alias_cap(t->n_aliases);
    if (t->n_aliases == cap) {
        size_t nc = cap ? 2 * cap : 1;
        uint32_t *na = gm_realloc(g, t->aliases, cap * sizeof(uint32_t),
                                  nc * sizeof(uint32_t));
        if (!na)
            goto fail;
        t->aliases = na;
    }
    /* Commit: nothing below can fail. */
    if (aid == g->alias_free)
        g->alias_free = g->aliases[aid].atom;
    else
        g->n_aliasrec++;
    g->aliases[aid].e = e;
    g->aliases[aid].atom = a;
    t->aliases[t->n_aliases++] = aid;
    htab_put(&g->alias_idx, h, aid);
    return 0;
fail:
    ext_release_if_empty(g, e);
    return KG_ENOMEM;
}

static int entity_set_kind(kg_graph *g, kg_eid e, kg_atom kind)
{
    ent *x = E(g, e);
    uint32_t old = ent_kind(x);
    if (g->kinds[old].atom == kind)
        return 0;
    uint32_t ki = kind_get(g, kind);
    if (ki == KG_NONE || kind_list_reserve(g, ki))
        return KG_ENOMEM;
    kind_list_remove(g, old, e);
    g->kinds[old].n_ent--;
    kindrec *k = &g->kinds[ki];
    k->list[k->list_len++] = e;
    k->n_ent++;
    x->kc = ki | (x->kc & ~(KIND_MAX - 1));
    return 0;
}

/* Aliases, attributes and kind of spec into existing entity e. */
static int entity_merge(kg_graph *g, kg_eid e, const kg_entity_spec *spec,
                        kg_atom kind, kg_error *err)
{
    int rc = 0;
    if (spec->n_attrs) {
        uint32_t *w, m, ns;
        rc = pairs_canon(g, g, spec->attrs, spec->n_attrs, &w, &m);
        if (rc == 0) {
            uint32_t xi = ext_get(g, e);
            if (!xi)
                rc = KG_ENOMEM;
            else
                rc = set_merge(g, g->exts[xi].attrs, w, m, true, &ns);
            if (rc == 0)
                g->exts[xi].attrs = ns;
            else if (xi)
                ext_release_if_empty(g, e);
            free(w);
        }
    }
    for (size_t i = 0; rc == 0 && i < spec->n_aliases; i++)
        rc = alias_add(g, e, spec->aliases[i]);
    if (rc == 0 && kind != KG_NONE)
        rc = entity_set_kind(g, e, kind);
    if (rc)
        return kg_error_set(err, rc, "entity '%s': out of memory", spec->id);
    return 0;
}

static int entity_create(kg_graph *g, const char *id, kg_atom kind,
                         kg_eid *out)
{
    kg_atom ida = kg_atom_intern(g, id, strlen(id));
    if (ida == KG_NONE)
        return KG_ENOMEM;
    uint32_t ki = kind_get(g, kind);
    if (ki == KG_NONE || kind_list_reserve(g, ki) ||
        htab_reserve(g, &g->id_idx, 1, id_rehash, id_next))
        return KG_ENOMEM;
    kg_eid e = ent_slot(g);
    if (e == KG_NONE)
        return KG_ENOMEM;
    ent_take(g, e);
    ent *x = E(g, e);
    x->id = ida;
    x->kc = ki;
    x->nout = x->nin = 0;
    x->blk = 0;
    htab_put(&g->id_idx, hash_bytes(id, strlen(id), true), e);
    kindrec *k = &g->kinds[ki];
    k->list[k->list_len++] = e;
    k->n_ent++;
    g->n_ent++;
    *out = e;
    return 0;
}

int kg_entity_add(kg_graph *g, const kg_entity_spec *spec, kg_eid *out,
                  kg_error *err)
{
    if (!g || !spec)
        return kg_error_set(err, KG_EINVAL, "entity: NULL argument");
    if (!spec->id || !spec->id[0])
        return kg_error_set(err, KG_EINVAL, "entity: id is required");
    if (spec->n_aliases && !spec->aliases)
        return kg_error_set(err, KG_EINVAL, "entity '%s': NULL alias array", spec->id);
    for (size_t i = 0; i < spec->n_aliases; i++) {
        if (!spec->aliases[i])
            return kg_error_set(err, KG_EINVAL, "entity '%s': NULL alias", spec->id);
    }
    int rc = pairs_check(spec->attrs, spec->n_attrs, "entity attributes", err);
    if (rc)
        return rc;
    /* "unknown" or no kind never replaces a known one. */
    const char *ks = spec->kind;
    bool given = ks && ks[0] && strcmp(ks, "unknown") != 0;
    kg_atom kind = given ? kg_atom_intern(g, ks, strlen(ks)) : g->unknown_atom;
    if (kind == KG_NONE)
        return kg_error_set(err, KG_ENOMEM, "entity '%s': out of memory", spec->id);

    kg_eid e = kg_entity_find(g, spec->id);
    if (e != KG_NONE) {
        rc = entity_merge(g, e, spec, given ? kind : KG_NONE, err);
        if (rc)
            return rc;
        if (out)
            *out = e;
        return 1;
    }
    rc = entity_create(g, spec->id, kind, &e);
    if (rc)
        return kg_error_set(err, rc, "entity '%s': out of memory", spec->id);
    rc = entity_merge(g, e, spec, KG_NONE, err);
    if (rc) {
        kg_entity_remove(g, e, NULL);
        return rc;
    }
    if (out)
        *out = e;
    return 0;
}

kg_eid kg_entity_find(const kg_graph *g, const char *name)
{
    if (!g || !name || !name[0])
        return KG_NONE;
    size_t len = strlen(name);
    uint64_t h = hash_bytes(name, len, true);
    kg_eid e = id_lookup(g, name, len, h);
    if (e != KG_NONE)
        return e;
    uint32_t aid = alias_lookup(g, name, len, h);
    return aid == KG_NONE ? KG_NONE : g->aliases[aid].e;
}

kg_eid kg_entity_by_id(const kg_graph *g, const char *id)
{
    if (!g || !id || !id[0])
        return KG_NONE;
    size_t len = strlen(id);
    return id_lookup(g, id, len, hash_bytes(id, len, true));
}

static void rel_unlink(kg_graph *g, kg_rid r);

int kg_entity_remove(kg_graph *g, kg_eid e, kg_error *err)
{
    if (!g)
        return kg_error_set(err, KG_EINVAL, "entity remove: NULL graph");
    if (!ent_ok(g, e))
        return kg_error_set(err, KG_ENOTFOUND, "entity %u does not exist", e);
    kg_graph_bulk_flush(g); /* unlinking looks handles up by position */
    ent *x = E(g, e);
    while (x->nout + x->nin > 0) {
        const uint32_t *a = adj_base(g, x);
        rel_unlink(g, a[x->nout + x->nin - 1]);
    }
    if (ent_class(x))
        adj_move(g, e, 0);
    htab_del_at(g, &g->id_idx,
                htab_slot_of(&g->id_idx, id_rehash(g, e), e), id_rehash);
    uint32_t xi = ext_of(g, e);
    if (xi) {
        ext *t = &g->exts[xi];
        for (uint32_t i = 0; i < t->n_aliases; i++) {
            uint32_t aid = t->aliases[i];
            htab_del_at(g, &g->alias_idx,
                        htab_slot_of(&g->alias_idx, alias_rehash(g, aid), aid),
                        alias_rehash);
            g->aliases[aid].e = KG_NONE;
            g->aliases[aid].atom = g->alias_free;
            g->alias_free = aid;
        }
        gm_free(g, t->aliases, alias_cap(t->n_aliases) * sizeof(uint32_t));
        t->aliases = NULL;
        t->n_aliases = 0;
        t->attrs = 0;
        ext_release_if_empty(g, e);
    }
    uint32_t ki = ent_kind(x);
    kind_list_remove(g, ki, e);
    g->kinds[ki].n_ent--;
    x->id = KG_NONE;
    x->kc = 0;
    x->blk = g->ent_free;
    g->ent_free = e;
    g->n_ent--;
    return 0;
}

bool kg_entity_alive(const kg_graph *g, kg_eid e)
{
    return ent_ok(g, e);
}

const char *kg_entity_id(const kg_graph *g, kg_eid e)
{
    return ent_ok(g, e) ? atom_s(g, E(g, e)->id) : NULL;
}

const char *kg_entity_kind(const kg_graph *g, kg_eid e)
{
    return ent_ok(g, e) ? atom_s(g, g->kinds[ent_kind(E(g, e))].atom) : NULL;
}

kg_atom kg_entity_id_atom(const kg_graph *g, kg_eid e)
{
    return ent_ok(g, e) ? E(g, e)->id : KG_NONE;
}

kg_atom kg_entity_kind_atom(const kg_graph *g, kg_eid e)
{
    return ent_ok(g, e) ? g->kinds[ent_kind(E(g, e))].atom : KG_NONE;
}

size_t kg_entity_alias_count(const kg_graph *g, kg_eid e)
{
    if (!ent_ok(g, e))
        return 0;
    return g->exts[ext_of(g, e)].n_aliases;
}

const char *kg_entity_alias(const kg_graph *g, kg_eid e, size_t i)
{
    if (!ent_ok(g, e))
        return NULL;
    const ext *t = &g->exts[ext_of(g, e)];
    return i < t->n_aliases ? atom_s(g, g->aliases[t->aliases[i]].atom) : NULL;
}

size_t kg_entity_attr_count(const kg_graph *g, kg_eid e)
{
    if (!ent_ok(g, e))
        return 0;
    return g->sets[g->exts[ext_of(g, e)].attrs].n;
}

kg_pair kg_entity_attr(const kg_graph *g, kg_eid e, size_t i)
{
    if (!ent_ok(g, e)) {
        kg_pair none = {NULL, NULL};
        return none;
    }
    return set_pair(g, g->exts[ext_of(g, e)].attrs, i);
}

const char *kg_entity_attr_get(const kg_graph *g, kg_eid e, const char *key)
{
    if (!ent_ok(g, e))
        return NULL;
    return set_get(g, g->exts[ext_of(g, e)].attrs, key);
}

size_t kg_entity_count(const kg_graph *g)
{
    return g ? g->n_ent : 0;
}

kg_eid kg_entity_next(const kg_graph *g, kg_eid e)
{
    if (!g)
        return KG_NONE;
    for (kg_eid i = e == KG_NONE ? 0 : e + 1; i < g->ent_hi; i++) {
        if (E(g, i)->id != KG_NONE)
            return i;
    }
    return KG_NONE;
}

kg_eid kg_entity_first(const kg_graph *g)
{
    return kg_entity_next(g, KG_NONE);
}

kg_span kg_entities_of_kind(const kg_graph *g, const char *kind)
{
    kg_span sp = {NULL, 0};
    if (!g || !kind)
        return sp;
    kg_atom a = kg_atom_find(g, kind[0] ? kind : "unknown");
    uint32_t ki = a == KG_NONE ? KG_NONE : kind_find(g, a);
    if (ki != KG_NONE && g->kinds[ki].list_len) {
        sp.ids = g->kinds[ki].list;
        sp.n = g->kinds[ki].list_len;
    }
    return sp;
}

/* ---- relations ----------------------------------------------------------- */

/* Remove relation r from the indexes and adjacency and free its slot. */
static void rel_unlink(kg_graph *g, kg_rid r)
{
    rel *x = R(g, r);
    kg_atom kind = *RK(g, r);
    htab_del_at(g, &g->fact_idx,
                htab_slot_of(&g->fact_idx, fact_rehash(g, r), r), fact_rehash);
    adj_remove(g, x->s, true, r, kind);
    adj_remove(g, x->o, false, r, kind);
    uint32_t ki = kind_find(g, kind);
    if (ki != KG_NONE)
        g->kinds[ki].n_rel--;
    *RK(g, r) = KG_NONE;
    x->s = g->rel_free;
    g->rel_free = r;
    g->n_rel--;
}

static kg_rid rel_slot(kg_graph *g)
{
    if (g->rel_free != KG_NONE)
        return g->rel_free;
    if (g->rel_hi >= ITEM_MAX)
        return KG_NONE;
    if ((g->rel_hi >> REL_CHUNK_BITS) == g->n_rchunk) {
        if (gm_grow(g, (void **)&g->rchunk, &g->cap_rchunk,
                    (size_t)g->n_rchunk + 1, sizeof(rel *)))
            return KG_NONE;
        rel *ch = gm_alloc(g, REL_CHUNK_BYTES);
        if (!ch)
            return KG_NONE;
        g->rchunk[g->n_rchunk++] = ch;
    }
    return g->rel_hi;
}

static int relation_insert(kg_graph *g, kg_eid s, kg_atom kind, kg_eid o,
                           uint32_t qs, uint32_t ps, kg_rid *out,
                           kg_error *err);

/* The checks every way of adding a relation by handles shares. */
static int relation_ends_check(const kg_graph *g, kg_eid s, kg_atom kind,
                               kg_eid o, kg_error *err)
{
    if (!g)
        return kg_error_set(err, KG_EINVAL, "relation: NULL graph");
    if (!ent_ok(g, s) || !ent_ok(g, o))
        return kg_error_set(err, KG_ENOTFOUND, "relation: no entity %u",
                            ent_ok(g, s) ? o : s);
    if (kind == 0 || kind >= g->n_atoms)
        return kg_error_set(err, KG_EINVAL, "relation: invalid kind atom %u", kind);
    return 0;
}

int kg_relation_add_ids(kg_graph *g, kg_eid s, kg_atom kind, kg_eid o,
                        const kg_pair *quals, size_t n_quals,
                        const kg_pair *prov, size_t n_prov, kg_rid *out,
                        kg_error *err)
{
    int rc = relation_ends_check(g, s, kind, o, err);
    if (rc == 0)
        rc = pairs_check(quals, n_quals, "relation qualifiers", err);
    if (rc == 0)
        rc = pairs_check(prov, n_prov, "relation provenance", err);
    if (rc)
        return rc;
    /* Start the cache misses of the endpoints while the sets are built. */
    __builtin_prefetch(E(g, s));
    __builtin_prefetch(E(g, o));
    uint32_t qs, ps;
    if (set_intern(g, quals, n_quals, &qs))
        goto nomem;
    kg_rid r = fact_find(g, s, kind, o, qs);
    if (r != KG_NONE) {
        if (n_prov) {
            uint32_t *w, m;
            if (pairs_canon(g, g, prov, n_prov, &w, &m))
                goto nomem;
            rc = set_merge(g, R(g, r)->prov, w, m, false, &ps);
            free(w);
            if (rc)
                goto nomem;
            R(g, r)->prov = ps;
        }
        if (out)
            *out = r;
        return 1;
    }
    if (set_intern(g, prov, n_prov, &ps))
        goto nomem;
    return relation_insert(g, s, kind, o, qs, ps, out, err);
nomem:
    return kg_error_set(err, KG_ENOMEM, "relation: out of memory");
}

/* Insert a relation known to be new, with interned sets. */
static int relation_insert(kg_graph *g, kg_eid s, kg_atom kind, kg_eid o,
                           uint32_t qs, uint32_t ps, kg_rid *out,
                           kg_error *err)
{
    int rc;
    kg_rid r;
    uint32_t ki = kind_get(g, kind);
    if (ki == KG_NONE || htab_reserve(g, &g->fact_idx, 1, fact_rehash, fact_next))
        goto nomem;
    rc = adj_reserve(g, s, s == o ? 2 : 1);
    if (rc == 0 && s != o)
        rc = adj_reserve(g, o, 1);
    if (rc == 0 && g->bulk) {
        rc = bulk_reserve(g, s, s == o ? 2 : 1);
        if (rc == 0 && s != o)
            rc = bulk_reserve(g, o, 1);
    }
    if (rc == KG_ELIMIT)
        return kg_error_set(err, rc, "relation: entity degree limit reached");
    if (rc)
        goto nomem;
    r = rel_slot(g);
    if (r == KG_NONE)
        goto nomem;
    /* Commit: nothing below can fail. */
    if (r == g->rel_free)
        g->rel_free = R(g, r)->s;
    else
        g->rel_hi++;
    rel *x = R(g, r);
    x->s = s;
    x->o = o;
    *RK(g, r) = kind;
    x->quals = qs;
    x->prov = ps;
    htab_put(&g->fact_idx, fact_hash(s, kind, o, qs), r);
    adj_insert(g, s, true, r, kind);
    adj_insert(g, o, false, r, kind);
    g->kinds[ki].n_rel++;
    g->n_rel++;
    if (out)
        *out = r;
    return 0;
nomem:
    return kg_error_set(err, KG_ENOMEM, "relation: out of memory");
}

uint32_t kg_pairs_intern(kg_graph *g, const kg_pair *pairs, size_t n)
{
    uint32_t sid;
    if (!g || pairs_check(pairs, n, "pairs", NULL) || set_intern(g, pairs, n, &sid))
        return KG_NONE;
    return sid;
}

int kg_relation_add_sets(kg_graph *g, kg_eid s, kg_atom kind, kg_eid o,
                         uint32_t quals, uint32_t prov, kg_rid *out,
                         kg_error *err)
{
    int rc = relation_ends_check(g, s, kind, o, err);
    if (rc)
        return rc;
    if ((quals && quals >= g->n_sets) || (prov && prov >= g->n_sets))
        return kg_error_set(err, KG_EINVAL, "relation: invalid pair set");
    __builtin_prefetch(E(g, s));
    __builtin_prefetch(E(g, o));
    kg_rid r = fact_find(g, s, kind, o, quals);
    if (r == KG_NONE)
        return relation_insert(g, s, kind, o, quals, prov, out, err);
    if (prov && prov != R(g, r)->prov) {
        /* Copy the words: set_merge may move the pool they live in. */
        uint32_t m = g->sets[prov].n, ps;
        uint32_t *w = malloc(2 * (size_t)m * sizeof *w + 1);
        if (!w)
            return kg_error_set(err, KG_ENOMEM, "relation: out of memory");
        memcpy(w, g->pw + g->sets[prov].off, 2 * (size_t)m * sizeof *w);
        rc = set_merge(g, R(g, r)->prov, w, m, false, &ps);
        free(w);
        if (rc)
            return kg_error_set(err, KG_ENOMEM, "relation: out of memory");
        R(g, r)->prov = ps;
    }
    if (out)
        *out = r;
    return 1;
}

static int relation_spec_check(const kg_relation_spec *spec, kg_error *err)
{
    if (!spec)
        return kg_error_set(err, KG_EINVAL, "relation: NULL argument");
    if (!spec->subject || !spec->subject[0])
        return kg_error_set(err, KG_EINVAL, "relation: subject is required");
    if (!spec->object || !spec->object[0])
        return kg_error_set(err, KG_EINVAL, "relation: object is required");
    if (!spec->relation || !spec->relation[0])
        return kg_error_set(err, KG_EINVAL, "relation: relation kind is required");
    int rc = pairs_check(spec->quals, spec->n_quals, "relation qualifiers", err);
    if (rc == 0)
        rc = pairs_check(spec->prov, spec->n_prov, "relation provenance", err);
    return rc;
}

int kg_relation_add(kg_graph *g, const kg_relation_spec *spec, kg_rid *out,
                    kg_error *err)
{
    if (!g)
        return kg_error_set(err, KG_EINVAL, "relation: NULL graph");
    int rc = relation_spec_check(spec, err);
    if (rc)
        return rc;
    kg_atom kind = kg_atom_intern(g, spec->relation, strlen(spec->relation));
    if (kind == KG_NONE)
        return kg_error_set(err, KG_ENOMEM, "relation: out of memory");
    kg_eid s = kg_entity_find(g, spec->subject), o;
    bool new_s = false, new_o = false;
    if (s == KG_NONE) {
        if (entity_create(g, spec->subject, g->unknown_atom, &s))
            return kg_error_set(err, KG_ENOMEM, "relation: out of memory");
        new_s = true;
    }
    o = kg_entity_find(g, spec->object);
    if (o == KG_NONE) {
        if (entity_create(g, spec->object, g->unknown_atom, &o)) {
            rc = kg_error_set(err, KG_ENOMEM, "relation: out of memory");
            goto undo;
        }
        new_o = true;
    }
    rc = kg_relation_add_ids(g, s, kind, o, spec->quals, spec->n_quals,
                             spec->prov, spec->n_prov, out, err);
    if (rc >= 0)
        return rc;
undo:
    /* Do not leave entities behind for a relation that was not added. */
    if (new_o)
        kg_entity_remove(g, o, NULL);
    if (new_s)
        kg_entity_remove(g, s, NULL);
    return rc;
}

kg_rid kg_relation_find(const kg_graph *g, const kg_relation_spec *spec)
{
    if (!g || relation_spec_check(spec, NULL))
        return KG_NONE;
    kg_eid s = kg_entity_find(g, spec->subject);
    kg_eid o = kg_entity_find(g, spec->object);
    kg_atom k = kg_atom_find(g, spec->relation);
    if (s == KG_NONE || o == KG_NONE || k == KG_NONE)
        return KG_NONE;
    uint32_t q = set_find(g, spec->quals, spec->n_quals);
    if (q == KG_NONE)
        return KG_NONE;
    return fact_find(g, s, k, o, q);
}

int kg_relation_remove(kg_graph *g, kg_rid r, kg_error *err)
{
    if (!g)
        return kg_error_set(err, KG_EINVAL, "relation remove: NULL graph");
    if (!rel_ok(g, r))
        return kg_error_set(err, KG_ENOTFOUND, "relation %u does not exist", r);
    kg_graph_bulk_flush(g); /* unlinking looks handles up by position */
    rel_unlink(g, r);
    return 0;
}

bool kg_relation_alive(const kg_graph *g, kg_rid r)
{
    return rel_ok(g, r);
}

kg_eid kg_relation_subject(const kg_graph *g, kg_rid r)
{
    return rel_ok(g, r) ? R(g, r)->s : KG_NONE;
}

kg_eid kg_relation_object(const kg_graph *g, kg_rid r)
{
    return rel_ok(g, r) ? R(g, r)->o : KG_NONE;
}

kg_atom kg_relation_kind_atom(const kg_graph *g, kg_rid r)
{
    return rel_ok(g, r) ? *RK(g, r) : KG_NONE;
}

const char *kg_relation_kind(const kg_graph *g, kg_rid r)
{
    return rel_ok(g, r) ? atom_s(g, *RK(g, r)) : NULL;
}

size_t kg_relation_qual_count(const kg_graph *g, kg_rid r)
{
    return rel_ok(g, r) ? g->sets[R(g, r)->quals].n : 0;
}

kg_pair kg_relation_qual(const kg_graph *g, kg_rid r, size_t i)
{
    kg_pair none = {NULL, NULL};
    return rel_ok(g, r) ? set_pair(g, R(g, r)->quals, i) : none;
}

const char *kg_relation_qual_get(const kg_graph *g, kg_rid r, const char *key)
{
    return rel_ok(g, r) ? set_get(g, R(g, r)->quals, key) : NULL;
}

size_t kg_relation_prov_count(const kg_graph *g, kg_rid r)
{
    return rel_ok(g, r) ? g->sets[R(g, r)->prov].n : 0;
}

kg_pair kg_relation_prov(const kg_graph *g, kg_rid r, size_t i)
{
    kg_pair none = {NULL, NULL};
    return rel_ok(g, r) ? set_pair(g, R(g, r)->prov, i) : none;
}

const char *kg_relation_prov_get(const kg_graph *g, kg_rid r, const char *key)
{
    return rel_ok(g, r) ? set_get(g, R(g, r)->prov, key) : NULL;
}

size_t kg_relation_count(const kg_graph *g)
{
    return g ? g->n_rel : 0;
}

kg_rid kg_relation_next(const kg_graph *g, kg_rid r)
{
    if (!g)
        return KG_NONE;
    for (kg_rid i = r == KG_NONE ? 0 : r + 1; i < g->rel_hi; i++) {
        if (*RK(g, i) != KG_NONE)
            return i;
    }
    return KG_NONE;
}

kg_rid kg_relation_first(const kg_graph *g)
{
    return kg_relation_next(g, KG_NONE);
}

/* ---- reading many at once ------------------------------------------------ */

/* On a graph much bigger than the cache every record, atom offset and
 * string is a miss; reading n entities one after another waits for them
 * one after another. These fetch a batch level by level instead (record,
 * then atom offset, then string), so the misses of a level overlap. */
#define FETCH_BATCH 16

void kg_entity_ids(const kg_graph *g, const kg_eid *es, size_t n, const char **out)
{
    for (size_t at = 0; at < n; at += FETCH_BATCH) {
        size_t m = n - at < FETCH_BATCH ? n - at : FETCH_BATCH;
        const kg_eid *e = es + at;
        kg_atom a[FETCH_BATCH];
        for (size_t i = 0; i < m; i++)
            if (g && e[i] < g->ent_hi)
                __builtin_prefetch(E(g, e[i]));
        for (size_t i = 0; i < m; i++) {
            a[i] = ent_ok(g, e[i]) ? E(g, e[i])->id : KG_NONE;
            if (a[i] != KG_NONE)
                __builtin_prefetch(&g->atom_off[a[i]]);
        }
        for (size_t i = 0; i < m; i++) {
            if (a[i] == KG_NONE)
                continue;
            uint32_t off = g->atom_off[a[i]];
            __builtin_prefetch(g->achunk[off >> ATOM_CHUNK_BITS].p + (off & (ATOM_CHUNK - 1)));
        }
        for (size_t i = 0; i < m; i++)
            out[at + i] = a[i] == KG_NONE ? NULL : atom_s(g, a[i]);
    }
}

/* Most relations per entity kg_entities_prefetch fetches. */
#define FETCH_EDGES 16
/* Entities per level-by-level pass of kg_entities_prefetch. */
#define FETCH_NAMES 16

/* Prefetch the id strings of es[0..n) (record, atom offset, string), one
 * level for all of them at a time. */
static void fetch_ids(const kg_graph *g, const kg_eid *es, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (es[i] < g->ent_hi)
            __builtin_prefetch(E(g, es[i]));
    for (size_t i = 0; i < n; i++)
        if (es[i] < g->ent_hi && E(g, es[i])->id != KG_NONE)
            __builtin_prefetch(&g->atom_off[E(g, es[i])->id]);
    for (size_t i = 0; i < n; i++) {
        if (es[i] >= g->ent_hi || E(g, es[i])->id == KG_NONE)
            continue;
        uint32_t off = g->atom_off[E(g, es[i])->id];
        __builtin_prefetch(g->achunk[off >> ATOM_CHUNK_BITS].p + (off & (ATOM_CHUNK - 1)));
    }
}

void kg_entities_prefetch(const kg_graph *g, const char *const *names, size_t n,
                          kg_prefetch reach)
{
    if (!g || !g->id_idx.slot)
        return;
    const htab *t = &g->id_idx;
    for (size_t at = 0; at < n; at += FETCH_NAMES) {
        size_t m = n - at < FETCH_NAMES ? n - at : FETCH_NAMES;
        uint32_t slot[FETCH_NAMES];
        kg_eid e[FETCH_NAMES];
        size_t ne = 0;
        for (size_t i = 0; i < m; i++) {
            const char *name = names[at + i];
            slot[i] = KG_NONE;
            if (!name || !name[0])
                continue;
            slot[i] = (uint32_t)hash_bytes(name, strlen(name), true) & t->mask;
            __builtin_prefetch(&t->slot[slot[i]]);
        }
        /* Only the first probe is followed: most names are found there. */
        for (size_t i = 0; i < m; i++)
            if (slot[i] != KG_NONE && t->slot[slot[i]] != KG_NONE)
                e[ne++] = t->slot[slot[i]];
        fetch_ids(g, e, ne);
        if (reach == KG_PREFETCH_ENTITY)
            continue;
        /* Their first relations, and the ids at the other ends. */
        for (size_t i = 0; i < ne; i++) {
            const uint32_t *adj = adj_base(g, E(g, e[i]));
            if (adj)
                __builtin_prefetch(adj);
        }
        kg_rid r[FETCH_NAMES * FETCH_EDGES];
        kg_eid from[FETCH_NAMES * FETCH_EDGES];
        size_t nr = 0;
        for (size_t i = 0; i < ne; i++) {
            const ent *x = E(g, e[i]);
            if (x->kc & ADJ_PEND)
                continue; /* part of its block is not written yet */
            const uint32_t *adj = adj_base(g, x);
            size_t deg = (size_t)x->nout + x->nin;
            for (size_t k = 0; adj && k < deg && k < FETCH_EDGES; k++) {
                from[nr] = e[i];
                r[nr++] = adj[k];
            }
        }
        kg_relations_prefetch(g, r, nr);
        if (reach == KG_PREFETCH_RELATIONS)
            continue;
        for (size_t i = 0; i < nr; i++) {
            const rel *x = R(g, r[i]);
            from[i] = x->s == from[i] ? x->o : x->s;
        }
        fetch_ids(g, from, nr);
    }
}

void kg_relations_prefetch(const kg_graph *g, const kg_rid *rs, size_t n)
{
    for (size_t i = 0; g && i < n; i++)
        if (rs[i] < g->rel_hi) {
            __builtin_prefetch(R(g, rs[i]));
            __builtin_prefetch(RK(g, rs[i]));
        }
}

kg_span kg_adjacent(const kg_graph *g, kg_eid e, kg_dir dir, kg_atom kind)
{
    kg_span sp = {NULL, 0};
    if (!ent_ok(g, e) || (dir != KG_OUT && dir != KG_IN))
        return sp;
    const ent *x = E(g, e);
    const uint32_t *a = adj_base(g, x);
    if (!a)
        return sp;
    uint32_t start = dir == KG_OUT ? 0 : x->nout;
    uint32_t n = dir == KG_OUT ? x->nout : x->nin;
    a += start;
    if (kind == 0) {
        sp.ids = n ? a : NULL;
        sp.n = n;
        return sp;
    }
    if (kind == KG_NONE)
        return sp;
    uint32_t lo, hi;
    adj_kind_range(g, a, n, kind, &lo, &hi);
    if (hi > lo) {
        sp.ids = a + lo;
        sp.n = hi - lo;
    }
    return sp;
}

size_t kg_degree(const kg_graph *g, kg_eid e, kg_dir dir)
{
    if (!ent_ok(g, e))
        return 0;
    const ent *x = E(g, e);
    size_t d = 0;
    if (dir & KG_OUT)
        d += x->nout;
    if (dir & KG_IN)
        d += x->nin;
    return d;
}

/* ---- statistics ---------------------------------------------------------- */

static size_t kinds_report(const kg_graph *g, bool rels, kg_atom *kinds,
                           size_t *counts, size_t max)
{
    if (!g)
        return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < g->n_kinds; i++) {
        uint32_t c = rels ? g->kinds[i].n_rel : g->kinds[i].n_ent;
        if (c == 0)
            continue;
        if (n < max) {
            if (kinds)
                kinds[n] = g->kinds[i].atom;
            if (counts)
                counts[n] = c;
        }
        n++;
    }
    return n;
}

size_t kg_entity_kinds(const kg_graph *g, kg_atom *kinds, size_t *counts,
                       size_t max)
{
    return kinds_report(g, false, kinds, counts, max);
}

size_t kg_relation_kinds(const kg_graph *g, kg_atom *kinds, size_t *counts,
                         size_t max)
{
    return kinds_report(g, true, kinds, counts, max);
}
