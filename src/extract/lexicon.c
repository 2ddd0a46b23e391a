/* lexicon.c - the extractor's dictionaries: a small string map, the data
 * files of data/extract (words, titles, products, entities, relations)
 * and the gazetteer graph turned into folded token sequences.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xint.h"

#define X_MAX_DATA_FILE ((size_t)8 << 20)

/* ---- string map ---------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t slot_of(const smap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    uint32_t h32 = (uint32_t)h;
    while (m->keys[i] && !(m->hash[i] == h32 && m->lens[i] == len &&
                           memcmp(m->keys[i], key, len) == 0))
        i = (i + 1) & mask;
    return i;
}

int smap_get(const smap *m, const char *key, size_t len)
{
    if (!m->cap)
        return -1;
    size_t i = slot_of(m, key, len, hash_bytes(key, len));
    return m->keys[i] ? m->vals[i] : -1;
}

static void smap_release(smap *m)
{
    free(m->keys);
    free(m->vals);
    free(m->lens);
    free(m->hash);
}

static int smap_grow(smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    smap n = {calloc(ncap, sizeof(char *)), calloc(ncap, sizeof(int)),
              calloc(ncap, sizeof(uint32_t)), calloc(ncap, sizeof(uint32_t)), ncap, 0};
    if (!n.keys || !n.vals || !n.lens || !n.hash) {
        smap_release(&n);
        return KG_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            uint64_t h = hash_bytes(m->keys[i], m->lens[i]);
            size_t j = slot_of(&n, m->keys[i], m->lens[i], h);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
            n.lens[j] = m->lens[i];
            n.hash[j] = m->hash[i];
            n.n++;
        }
    smap_release(m);
    *m = n;
    return 0;
}

int smap_put(smap *m, const char *key, size_t len, int val)
{
    if ((m->n + 1) * 2 > m->cap && smap_grow(m))
        return KG_ENOMEM;
    uint64_t h = hash_bytes(key, len);
    size_t i = slot_of(m, key, len, h);
    if (m->keys[i])
        return 0; /* first definition wins */
    char *k = malloc(len + 1);
    if (!k)
        return KG_ENOMEM;
    memcpy(k, key, len);
    k[len] = '\0';
    m->keys[i] = k;
    m->vals[i] = val;
    m->lens[i] = (uint32_t)len;
    m->hash[i] = (uint32_t)h;
    m->n++;
    return 0;
}

/* Set the value of an existing key (no-op when absent). */
void smap_set(smap *m, const char *key, size_t len, int val)
{
    if (!m->cap)
        return;
    size_t i = slot_of(m, key, len, hash_bytes(key, len));
    if (m->keys[i])
        m->vals[i] = val;
}

/* Remove key (backward-shift deletion keeps probe chains intact). */
void smap_del(smap *m, const char *key, size_t len)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1, i = slot_of(m, key, len, hash_bytes(key, len));
    if (!m->keys[i])
        return;
    free(m->keys[i]);
    m->keys[i] = NULL;
    m->n--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->keys[j])
            break;
        size_t h = (size_t)hash_bytes(m->keys[j], m->lens[j]) & mask;
        /* move j back to i unless its home lies cyclically in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->lens[i] = m->lens[j];
            m->hash[i] = m->hash[j];
            m->keys[j] = NULL;
            i = j;
        }
    }
}

void smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    smap_release(m);
    memset(m, 0, sizeof *m);
}

/* ---- kinds and entities -------------------------------------------------- */

static const char *const kind_names[] = {"unknown", "country", "bloc",
                                         "organization", "person", "place",
                                         "product", "agreement"};

int x_kind_code(const char *kind)
{
    for (int i = 1; i < (int)(sizeof kind_names / sizeof *kind_names); i++)
        if (kind && !strcmp(kind, kind_names[i]))
            return i;
    if (kind && (!strcmp(kind, "city") || !strcmp(kind, "region")))
        return K_PLACE;
    return K_OTHER;
}

const char *x_kind_name(int kind)
{
    return kind >= 0 && kind < (int)(sizeof kind_names / sizeof *kind_names)
               ? kind_names[kind]
               : "unknown";
}

/* Fold a name into space-separated folded tokens the way the tokenizer
 * would cut it ("France's" -> "france 's"). Returns the length. */
size_t x_fold_name(const char *name, char *out, size_t cap)
{
    size_t o = 0, n = strlen(name);
    char tmp[512];
    if (n >= sizeof tmp)
        return 0;
    size_t tl = x_fold(name, n, tmp, sizeof tmp - 1);
    bool space = true;
    for (size_t i = 0; i < tl && o + 3 < cap; i++) {
        char c = tmp[i];
        if (isspace((unsigned char)c)) {
            if (!space)
                out[o++] = ' ';
            space = true;
            continue;
        }
        if (c == '\'' && i + 1 < tl && tmp[i + 1] == 's' &&
            (i + 2 == tl || isspace((unsigned char)tmp[i + 2]))) {
            if (!space)
                out[o++] = ' ';
            out[o++] = '\'';
            out[o++] = 's';
            i++;
            space = false;
            continue;
        }
        out[o++] = c;
        space = false;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return o;
}

int x_ent_add(kg_extractor *x, const char *id, int kind)
{
    char key[512];
    size_t kl = x_fold_name(id, key, sizeof key);
    if (!kl)
        return -1;
    int e = smap_get(&x->ent_by_id, key, kl);
    if (e >= 0) {
        if (x->ents[e].kind == K_OTHER)
            x->ents[e].kind = kind;
        return e;
    }
    if (x->n_ents == x->cap_ents) {
        size_t nc = x->cap_ents ? x->cap_ents * 2 : 256;
        xent *ne = realloc(x->ents, nc * sizeof *ne);
        if (!ne)
            return -1;
        x->ents = ne;
        x->cap_ents = nc;
    }
    xent *p = &x->ents[x->n_ents];
    memset(p, 0, sizeof *p);
    p->id = strdup(id);
    if (!p->id)
        return -1;
    p->kind = kind;
    p->gov = -1;
    p->leads = -1;
    if (smap_put(&x->ent_by_id, key, kl, (int)x->n_ents)) {
        free(p->id);
        return -1;
    }
    return (int)x->n_ents++;
}

/* Does a gazetteer alias look like a demonym ("French", "South Korean")?
 * One or two capitalised words, the last with a demonym ending, and not
 * a country-like name ("Kazakhstan"). */
static bool looks_demonym(const char *name, const char *id)
{
    static const char *const suf[] = {"ese", "ian", "ean", "an", "ish",
                                      "ch", "i", "ic", "ss", "ot"};
    size_t n = strlen(name), words = 1;
    if (!isupper((unsigned char)name[0]) || n < 4 || !strcmp(name, id))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (name[i] == ' ') {
            words++;
            if (i + 1 >= n || !isupper((unsigned char)name[i + 1]))
                return false;
            i++;
        } else if (isupper((unsigned char)name[i]) || !isalpha((unsigned char)name[i])) {
            return false;
        }
    }
    if (words > 2 || (n > 4 && !strcmp(name + n - 4, "stan")))
        return false;
    for (size_t i = 0; i < sizeof suf / sizeof *suf; i++) {
        size_t sl = strlen(suf[i]);
        if (n > sl && !strcmp(name + n - sl, suf[i]))
            return true;
    }
    return false;
}

/* Register name for ent. demonym: 1 yes, 0 no, -1 guess from the form. */
int x_name_add(kg_extractor *x, const char *name, int ent, int demonym)
{
    char key[512];
    size_t kl = x_fold_name(name, key, sizeof key);
    if (!kl)
        return 0;
    unsigned ntok = 1;
    for (size_t i = 0; i < kl; i++)
        ntok += key[i] == ' ';
    if (ntok > X_MAX_NAME_TOKENS)
        return 0;
    if (smap_get(&x->name_map, key, kl) >= 0)
        return 0;
    if (x->n_names == x->cap_names) {
        size_t nc = x->cap_names ? x->cap_names * 2 : 512;
        xname *nn = realloc(x->names, nc * sizeof *nn);
        if (!nn)
            return KG_ENOMEM;
        x->names = nn;
        x->cap_names = nc;
    }
    xname *p = &x->names[x->n_names];
    memset(p, 0, sizeof *p);
    p->ent = ent;
    p->ntok = (unsigned char)ntok;
    size_t letters = 0, upper = 0;
    for (const char *c = name; *c; c++) {
        letters += isalpha((unsigned char)*c) != 0;
        upper += isupper((unsigned char)*c) != 0;
    }
    p->allcaps = letters >= 2 && upper == letters;
    p->lower = islower((unsigned char)name[0]) != 0;
    p->demonym = (unsigned char)(demonym < 0
                                     ? looks_demonym(name, x->ents[ent].id)
                                     : demonym);
    if (p->allcaps && !(p->exact = strdup(name)))
        return KG_ENOMEM;
    if (smap_put(&x->name_map, key, kl, (int)x->n_names)) {
        free(p->exact);
        return KG_ENOMEM;
    }
    x->n_names++;
    size_t fl = 0;
    while (fl < kl && key[fl] != ' ')
        fl++;
    int prev = smap_get(&x->first_tok, key, fl);
    if (prev < (int)ntok) {
        if (prev < 0) {
            if (smap_put(&x->first_tok, key, fl, (int)ntok))
                return KG_ENOMEM;
            if (x->n_static_names && x->n_names > x->n_static_names) {
                /* remember it, so that the article's end forgets it */
                if (x->n_art_first == x->cap_art_first) {
                    size_t nc = x->cap_art_first ? x->cap_art_first * 2 : 16;
                    char **na = realloc(x->art_first, nc * sizeof *na);
                    if (!na)
                        return KG_ENOMEM;
                    x->art_first = na;
                    x->cap_art_first = nc;
                }
                char *k = malloc(fl + 1);
                if (!k)
                    return KG_ENOMEM;
                memcpy(k, key, fl);
                k[fl] = '\0';
                x->art_first[x->n_art_first++] = k;
            }
        } else {
            smap_set(&x->first_tok, key, fl, (int)ntok);
        }
    }
    return 0;
}

bool x_word_in(const kg_extractor *x, int cls, const char *w, size_t n)
{
    return smap_get(&x->words[cls], w, n) >= 0;
}

/* ---- data files ------------------------------------------------------ */

/* Read a whole data file (bounded) into a NUL-terminated buffer. */
static char *read_data(const char *dir, const char *name, char *path,
                       size_t pcap, kg_error *err)
{
    snprintf(path, pcap, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        kg_error_set(err, KG_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(X_MAX_DATA_FILE + 1);
    if (!buf) {
        fclose(f);
        kg_error_set(err, KG_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(buf, 1, X_MAX_DATA_FILE + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > X_MAX_DATA_FILE) {
        free(buf);
        kg_error_set(err, bad ? KG_EIO : KG_ELIMIT, "%s: %s", path,
                     bad ? "read error" : "file too large");
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Next line of buf (modified in place); comments and blanks skipped.
 * Returns NULL at the end; *lineno counts lines. */
static char *next_line(char **cur, unsigned *lineno)
{
    while (**cur) {
        char *line = *cur, *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            *cur = nl + 1;
        } else {
            *cur = line + strlen(line);
        }
        (*lineno)++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        while (*line == ' ')
            line++;
        if (*line && *line != '#')
            return line;
    }
    return NULL;
}

static const char *const class_names[W_N_CLASSES] = {
    "negation", "irrealis", "prepositions", "determiners", "stop",
    "generic", "actor-nouns", "trim", "agreement-heads", "clause-end",
    "abbreviations", "lead-modifiers", "group-nouns", "verbs", "quantities", "reporting"};

static int load_words(kg_extractor *x, const char *dir, kg_error *err)
{
    char path[1024];
    char *buf = read_data(dir, "words.txt", path, sizeof path, err);
    if (!buf)
        return err ? err->code : KG_EIO;
    char *cur = buf, *line;
    unsigned ln = 0;
    int cls = -1, rc = 0;
    while ((line = next_line(&cur, &ln))) {
        if (line[0] == '[') {
            char *e = strchr(line, ']');
            cls = -1;
            if (e) {
                *e = '\0';
                for (int i = 0; i < W_N_CLASSES; i++)
                    if (!strcmp(line + 1, class_names[i]))
                        cls = i;
            }
            if (cls < 0) {
                rc = kg_error_set(err, KG_EPARSE, "%s:%u: unknown section",
                                  path, ln);
                break;
            }
            continue;
        }
        if (cls < 0) {
            rc = kg_error_set(err, KG_EPARSE, "%s:%u: word before a [section]",
                              path, ln);
            break;
        }
        char key[128];
        size_t kl = x_fold(line, strlen(line), key, sizeof key - 1);
        if (smap_put(&x->words[cls], key, kl, 1)) {
            rc = kg_error_set(err, KG_ENOMEM, "out of memory");
            break;
        }
    }
    free(buf);
    return rc;
}

static int load_titles(kg_extractor *x, const char *dir, kg_error *err)
{
    char path[1024];
    char *buf = read_data(dir, "titles.txt", path, sizeof path, err);
    if (!buf)
        return err ? err->code : KG_EIO;
    char *cur = buf, *line;
    unsigned ln = 0;
    int rc = 0;
    while ((line = next_line(&cur, &ln)) && !rc) {
        char key[256];
        size_t kl = x_fold_name(line, key, sizeof key);
        int ntok = 1;
        for (size_t i = 0; i < kl; i++)
            ntok += key[i] == ' ';
        size_t fl = 0;
        while (fl < kl && key[fl] != ' ')
            fl++;
        if (smap_put(&x->title_full, key, kl, ntok))
            rc = KG_ENOMEM;
        int prev = smap_get(&x->titles, key, fl);
        if (prev < 0)
            rc = rc ? rc : smap_put(&x->titles, key, fl, ntok);
        else if (prev < ntok)
            smap_set(&x->titles, key, fl, ntok);
    }
    free(buf);
    if (rc)
        kg_error_set(err, rc, "out of memory");
    return rc;
}

/* Split s at sep in place; returns the number of fields (at most max). */
static int split(char *s, char sep, char **f, int max)
{
    int n = 0;
    while (n < max) {
        f[n++] = s;
        char *p = strchr(s, sep);
        if (!p)
            break;
        *p = '\0';
        s = p + 1;
    }
    return n;
}

/* Add a product to the lexicon: its canonical name and the names that
 * normalise to it. Returns 0 or KG_ENOMEM. */
static int prod_add(kg_extractor *x, const char *canon,
                    const char *const *variants, size_t nv)
{
    if (x->n_prod == x->cap_prod) {
        size_t nc = x->cap_prod ? x->cap_prod * 2 : 128;
        char **np = realloc(x->prod_canon, nc * sizeof *np);
        if (!np)
            return KG_ENOMEM;
        x->prod_canon = np;
        x->cap_prod = nc;
    }
    if (!(x->prod_canon[x->n_prod] = strdup(canon)))
        return KG_ENOMEM;
    int idx = (int)x->n_prod++;
    char key[256];
    size_t kl = x_fold_name(canon, key, sizeof key);
    int rc = kl ? smap_put(&x->prod_map, key, kl, idx) : 0;
    for (size_t i = 0; i < nv && !rc; i++) {
        kl = x_fold_name(variants[i], key, sizeof key);
        if (kl)
            rc = smap_put(&x->prod_map, key, kl, idx);
    }
    return rc;
}

static int load_products(kg_extractor *x, const char *dir, kg_error *err)
{
    char path[1024];
    char *buf = read_data(dir, "products.tsv", path, sizeof path, err);
    if (!buf)
        return err ? err->code : KG_EIO;
    char *cur = buf, *line;
    unsigned ln = 0;
    int rc = 0;
    while ((line = next_line(&cur, &ln)) && !rc) {
        char *f[2] = {line, ""};
        split(line, '\t', f, 2);
        char *v[64];
        int nv = f[1][0] ? split(f[1], ';', v, 64) : 0;
        rc = prod_add(x, f[0], (const char *const *)v, (size_t)nv);
    }
    free(buf);
    if (rc)
        kg_error_set(err, rc, "out of memory");
    return rc;
}

/* entities.tsv: id, kind, aliases (';', "~Alias" = demonym), acts-for */
static int load_entities(kg_extractor *x, const char *dir, kg_error *err)
{
    char path[1024];
    char *buf = read_data(dir, "entities.tsv", path, sizeof path, err);
    if (!buf)
        return err ? err->code : KG_EIO;
    char *cur = buf, *line;
    unsigned ln = 0;
    int rc = 0;
    while ((line = next_line(&cur, &ln)) && !rc) {
        char *f[4] = {line, "", "", ""};
        int nf = split(line, '\t', f, 4);
        int kind = x_kind_code(f[1]);
        if (nf < 2 || kind == K_OTHER) {
            rc = kg_error_set(err, KG_EPARSE, "%s:%u: expected ID<TAB>KIND",
                              path, ln);
            break;
        }
        int e = x_ent_add(x, f[0], kind);
        if (e < 0 || x_name_add(x, f[0], e, 0)) { rc = KG_ENOMEM; break; }
        char *a[64];
        int na = f[2][0] ? split(f[2], ';', a, 64) : 0;
        for (int i = 0; i < na && !rc; i++) {
            bool dem = a[i][0] == '~';
            if (x_name_add(x, a[i] + dem, e, dem))
                rc = KG_ENOMEM;
        }
        if (f[3][0] && !rc) {
            int g = x_ent_add(x, f[3], K_COUNTRY);
            if (g < 0 || x_name_add(x, f[3], g, 0))
                rc = KG_ENOMEM;
            else
                x->ents[e].gov = g;
        }
        if (rc == KG_ENOMEM)
            kg_error_set(err, rc, "out of memory");
    }
    free(buf);
    return rc;
}

/* relations.tsv: name, automatic qualifiers (comma list), flags */
static int load_relations(kg_extractor *x, const char *dir, kg_error *err)
{
    char path[1024];
    char *buf = read_data(dir, "relations.tsv", path, sizeof path, err);
    if (!buf)
        return err ? err->code : KG_EIO;
    char *cur = buf, *line;
    unsigned ln = 0;
    int rc = 0;
    size_t cap = 0;
    while ((line = next_line(&cur, &ln)) && !rc) {
        char *f[3] = {line, "", ""};
        split(line, '\t', f, 3);
        if (x->n_rels == cap) {
            cap = cap ? cap * 2 : 32;
            xrel *nr = realloc(x->rels, cap * sizeof *nr);
            if (!nr) { rc = kg_error_set(err, KG_ENOMEM, "out of memory"); break; }
            x->rels = nr;
        }
        xrel *r = &x->rels[x->n_rels];
        memset(r, 0, sizeof *r);
        if (!(r->name = strdup(f[0]))) { rc = KG_ENOMEM; break; }
        x->n_rels++;
        char *q[16];
        int nq = f[1][0] && strcmp(f[1], "-") ? split(f[1], ',', q, 16) : 0;
        for (int i = 0; i < nq; i++) {
            static const char *const names[] = {"", "value", "date", "period",
                                                "rate", "duration", "count"};
            int t = -1;
            for (int k = 1; k < 7; k++)
                if (!strcmp(q[i], names[k]))
                    t = k;
            if (!strcmp(q[i], "place")) { r->place = true; continue; }
            if (t < 0) {
                rc = kg_error_set(err, KG_EPARSE, "%s:%u: unknown qualifier '%s'",
                                  path, ln, q[i]);
                break;
            }
            r->auto_q |= 1u << t;
        }
        if (strstr(f[2], "docdate"))
            r->docdate = true;
    }
    free(buf);
    return rc;
}

int x_load_data(kg_extractor *x, const char *dir, kg_error *err)
{
    int rc;
    char path[1024];
    if ((rc = load_words(x, dir, err)) || (rc = load_titles(x, dir, err)) ||
        (rc = load_products(x, dir, err)) ||
        (rc = load_entities(x, dir, err)) ||
        (rc = load_relations(x, dir, err)))
        return rc;
    snprintf(path, sizeof path, "%s/patterns.txt", dir);
    return x_load_patterns(x, path, err);
}

/* ---- gazetteer ------------------------------------------------------- */

int x_load_gazetteer(kg_extractor *x, const kg_graph *g, kg_error *err)
{
    if (!g)
        return 0;
    for (kg_eid e = kg_entity_first(g); e != KG_NONE; e = kg_entity_next(g, e)) {
        int kind = x_kind_code(kg_entity_kind(g, e));
        if (kind == K_PRODUCT) {
            /* Products are found as noun phrases (with their origin and
             * modifiers), not as names: the graph's products and their
             * aliases join the product lexicon. */
            size_t na = kg_entity_alias_count(g, e);
            const char *al[64];
            if (na > 64)
                na = 64;
            for (size_t i = 0; i < na; i++)
                al[i] = kg_entity_alias(g, e, i);
            if (prod_add(x, kg_entity_id(g, e), al, na))
                return kg_error_set(err, KG_ENOMEM, "out of memory");
            continue;
        }
        int me = x_ent_add(x, kg_entity_id(g, e), kind);
        if (me < 0 || x_name_add(x, kg_entity_id(g, e), me, 0))
            return kg_error_set(err, KG_ENOMEM, "out of memory");
        if (kind == K_OTHER || kind == K_AGREEMENT)
            continue;
        size_t na = kg_entity_alias_count(g, e);
        for (size_t i = 0; i < na; i++)
            if (x_name_add(x, kg_entity_alias(g, e, i), me,
                           kind == K_COUNTRY || kind == K_BLOC ? -1 : 0))
                return kg_error_set(err, KG_ENOMEM, "out of memory");
    }
    for (kg_rid r = kg_relation_first(g); r != KG_NONE;
         r = kg_relation_next(g, r)) {
        const char *k = kg_relation_kind(g, r);
        bool cap = !strcmp(k, "capital-of"), acts = !strcmp(k, "acts-for"),
             leads = !strcmp(k, "leads");
        if (!cap && !acts && !leads)
            continue;
        char key[512];
        const char *sid = kg_entity_id(g, kg_relation_subject(g, r));
        const char *oid = kg_entity_id(g, kg_relation_object(g, r));
        size_t kl = x_fold_name(sid, key, sizeof key);
        int s = smap_get(&x->ent_by_id, key, kl);
        kl = x_fold_name(oid, key, sizeof key);
        int o = smap_get(&x->ent_by_id, key, kl);
        if (s < 0 || o < 0)
            continue;
        if (leads)
            x->ents[s].leads = o;
        else
            x->ents[s].gov = o;
    }
    return 0;
}
