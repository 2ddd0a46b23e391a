/* extract.c - the public API: extractor lifetime, entity mentions,
 * titled persons, references across sentences, per-article fact
 * deduplication and the change records handed back.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xint.h"

#ifndef KG_EXTRACT_SOURCE_DIR
#define KG_EXTRACT_SOURCE_DIR ""
#endif
#ifndef KG_EXTRACT_INSTALL_DIR
#define KG_EXTRACT_INSTALL_DIR "/usr/local/share/kgd/extract"
#endif

const char *kg_extract_default_data_dir(void)
{
    const char *env = getenv("KG_DATA_DIR");
    if (env && *env)
        return env;
    static char path[1024];
    snprintf(path, sizeof path, "%s/patterns.txt", KG_EXTRACT_SOURCE_DIR);
    if (KG_EXTRACT_SOURCE_DIR[0] && access(path, R_OK) == 0)
        return KG_EXTRACT_SOURCE_DIR;
    return KG_EXTRACT_INSTALL_DIR;
}

/* ---- lifetime ------------------------------------------------------------ */

static void reset_article(kg_extractor *x);

kg_extractor *kg_extractor_new(const kg_graph *gazetteer, const char *data_dir,
                               kg_error *err)
{
    kg_extractor *x = calloc(1, sizeof *x);
    if (!x) {
        kg_error_set(err, KG_ENOMEM, "out of memory");
        return NULL;
    }
    x->last_agreement = -1;
    if (!data_dir)
        data_dir = kg_extract_default_data_dir();
    if (x_load_gazetteer(x, gazetteer, err) || x_load_data(x, data_dir, err)) {
        kg_extractor_destroy(&x);
        return NULL;
    }
    x->n_static = x->n_ents;
    x->n_static_names = x->n_names;
    x->fire = malloc(x->n_pats ? x->n_pats : 1);
    if (!x->fire) {
        kg_error_set(err, KG_ENOMEM, "out of memory");
        kg_extractor_destroy(&x);
        return NULL;
    }
    reset_article(x);
    return x;
}

void kg_extractor_destroy(kg_extractor **px)
{
    if (!px || !*px)
        return;
    kg_extractor *x = *px;
    reset_article(x);
    for (size_t i = 0; i < x->n_ents; i++) {
        free(x->ents[i].id);
        free(x->ents[i].role);
    }
    free(x->ents);
    for (size_t i = 0; i < x->n_names; i++)
        free(x->names[i].exact);
    free(x->names);
    smap_free(&x->ent_by_id);
    smap_free(&x->name_map);
    smap_free(&x->first_tok);
    for (int i = 0; i < 16; i++)
        smap_free(&x->words[i]);
    smap_free(&x->titles);
    smap_free(&x->title_full);
    smap_free(&x->prod_map);
    for (size_t i = 0; i < x->n_prod; i++)
        free(x->prod_canon[i]);
    free(x->prod_canon);
    x_patterns_free(x);
    for (size_t i = 0; i < x->n_rels; i++)
        free(x->rels[i].name);
    free(x->rels);
    free(x->fire);
    free(x->art_first);
    free(x);
    *px = NULL;
}

/* Forget everything the last article added: its entities (persons,
 * products, agreements), their names, its facts. */
static void reset_article(kg_extractor *x)
{
    char key[512];
    bool had = x->n_names > x->n_static_names;
    while (x->n_names > x->n_static_names)
        free(x->names[--x->n_names].exact);
    /* names added while reading were registered under folded keys: drop
     * every key that points past the static table */
    if (had)
        for (size_t i = 0; i < x->name_map.cap; i++)
            while (x->name_map.keys[i] &&
                   x->name_map.vals[i] >= (int)x->n_static_names) {
                snprintf(key, sizeof key, "%s", x->name_map.keys[i]);
                smap_del(&x->name_map, key, strlen(key));
            }
    for (size_t i = 0; i < x->n_art_first; i++) {
        smap_del(&x->first_tok, x->art_first[i], strlen(x->art_first[i]));
        free(x->art_first[i]);
    }
    x->n_art_first = 0;
    while (x->n_ents > x->n_static) {
        xent *e = &x->ents[--x->n_ents];
        size_t kl = x_fold_name(e->id, key, sizeof key);
        smap_del(&x->ent_by_id, key, kl);
        free(e->id);
        free(e->role);
    }
    for (size_t i = 0; i < x->n_facts; i++)
        free(x->facts[i].quals);
    free(x->facts);
    x->facts = NULL;
    x->n_facts = x->cap_facts = 0;
    smap_free(&x->fact_map);
    x->last_person = x->last_bloc = -1;
    x->last_countries[0] = x->last_countries[1] = -1;
    x->last_agreement = -1;
    x->trade_s = x->trade_o = -1;
    x->trade_period[0] = '\0';
    x->sent_index = 0;
    x->doc_y = x->doc_m = x->doc_d = 0;
}

/* ---- resolution ---------------------------------------------------------- */

/* The entity that ent stands for in a slot of type stype, or -1. */
int x_resolve(const kg_extractor *x, int ent, int stype)
{
    if (ent < 0)
        return -1;
    const xent *e = &x->ents[ent];
    int k = e->kind;
    switch (stype) {
    case ST_ACTOR:
        if (k == K_COUNTRY || k == K_BLOC)
            return ent;
        if ((k == K_PLACE || k == K_ORG) && e->gov >= 0)
            return e->gov;
        return -1;
    case ST_GEO:
        if (k == K_PERSON && e->leads >= 0)
            return x_resolve(x, e->leads, ST_ACTOR);
        return x_resolve(x, ent, ST_ACTOR);
    case ST_PARTY:
    case ST_TARGET:
        if (k == K_PERSON)
            return ent;
        if (x_resolve(x, ent, ST_ACTOR) >= 0)
            return x_resolve(x, ent, ST_ACTOR);
        return k == K_ORG ? ent : -1;
    case ST_PERSON:
        return k == K_PERSON ? ent : -1;
    case ST_PLACE:
        return k == K_PLACE || k == K_COUNTRY ? ent : -1;
    case ST_ORG:
        return k == K_ORG || k == K_BLOC ? ent : -1;
    case ST_RULER:
        if (k == K_COUNTRY || k == K_BLOC || k == K_ORG)
            return ent;
        return k == K_PLACE && e->gov >= 0 ? e->gov : -1;
    default:
        return -1;
    }
}

/* The actor named by raw text s (a name or demonym: "Chinese", "US"), or
 * -1. Used for "Chinese-made". */
int x_name_actor(const kg_extractor *x, const char *s, size_t n)
{
    char key[128];
    if (n == 0 || n >= sizeof key)
        return -1;
    size_t kl = x_fold(s, n, key, sizeof key - 1);
    int ni = smap_get(&x->name_map, key, kl);
    return ni < 0 ? -1 : x_resolve(x, x->names[ni].ent, ST_ACTOR);
}

/* ---- mentions -------------------------------------------------------------- */

static bool raw_equal(const kg_extractor *x, int t0, int n, const char *exact)
{
    size_t o = 0, el = strlen(exact);
    for (int i = t0; i < t0 + n; i++) {
        if (i > t0) {
            if (o < el && exact[o] == ' ')
                o++;
        }
        size_t l = x->toks[i].e - x->toks[i].s;
        if (o + l > el || memcmp(exact + o, x->text + x->toks[i].s, l))
            return false;
        o += l;
    }
    return o == el;
}

/* Longest dictionary name starting at token t: names[] index, *len. */
static int lookup_name(const kg_extractor *x, int t, int *len)
{
    const xtok *k = &x->toks[t];
    if (!(k->fl & T_WORD))
        return -1;
    int maxn = smap_get(&x->first_tok, x_low(x, t), k->len);
    if (maxn <= 0)
        return -1;
    if (maxn > x->ntok - t)
        maxn = x->ntok - t;
    char key[(X_MAX_TOKEN_LOW + 1) * X_MAX_NAME_TOKENS];
    for (int n = maxn; n >= 1; n--) {
        size_t kl = 0;
        for (int i = t; i < t + n; i++) {
            if (i > t)
                key[kl++] = ' ';
            memcpy(key + kl, x_low(x, i), x->toks[i].len);
            kl += x->toks[i].len;
        }
        int ni = smap_get(&x->name_map, key, kl);
        if (ni < 0)
            continue;
        const xname *nm = &x->names[ni];
        if (nm->allcaps ? !raw_equal(x, t, n, nm->exact)
                        : !(k->fl & T_CAP) && !nm->lower)
            continue;
        *len = n;
        return ni;
    }
    return -1;
}

static void note_entity(kg_extractor *x, int ent)
{
    int r = x_resolve(x, ent, ST_ACTOR);
    int k = x->ents[ent].kind;
    if (k == K_PERSON)
        x->last_person = ent;
    if (r >= 0 && x->ents[r].kind == K_BLOC)
        x->last_bloc = r;
    if (r >= 0 && x->ents[r].kind == K_COUNTRY && x->last_countries[0] != r) {
        x->last_countries[1] = x->last_countries[0];
        x->last_countries[0] = r;
    }
}

static int add_mention(kg_extractor *x, int t0, int t1, int ent, int fl)
{
    if (x->nm >= X_MAX_SENT_TOKENS)
        return -1;
    xmention *m = &x->ms[x->nm];
    m->t0 = t0;
    m->t1 = t1;
    m->n = 1;
    m->ent[0] = ent;
    m->ent[1] = -1;
    m->fl = fl;
    m->pre = -1;
    m->tt = -1;
    return x->nm++;
}

static bool is_word(const kg_extractor *x, int t, int cls)
{
    return t >= 0 && t < x->ntok && x_word_in(x, cls, x_low(x, t), x->toks[t].len);
}

static bool name_particle(const kg_extractor *x, int t)
{
    static const char *const p[] = {"von", "van", "der", "den", "de", "da",
                                    "das", "dos", "du", "di", "la", "le",
                                    "bin", "al", "ibn", "del"};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        if (x_is(x, t, p[i]))
            return true;
    return false;
}

/* A person's name after a title: capitalised words, with particles
 * inside ("Ursula von der Leyen", "Luiz Inacio Lula da Silva"). */
static int name_after(const kg_extractor *x, int t)
{
    int i = t, last = t;
    while (i < x->ntok && i - t < 7) {
        const xtok *k = &x->toks[i];
        if (i > t && name_particle(x, i)) {
            i++;
            continue;
        }
        /* initials inside a name: "JD Vance", "J.D. Vance" */
        bool initials = (k->fl & T_ALLCAPS) && k->len <= 4 && i + 1 < x->ntok &&
                        (x->toks[i + 1].fl & T_CAP) && (x->toks[i + 1].fl & T_WORD) &&
                        x->m_at[i] < 0;
        if (!(k->fl & T_CAP) || !(k->fl & T_WORD) || ((k->fl & T_ALLCAPS) && !initials) ||
            (x->m_at[i] >= 0 && x->ents[x->ms[x->m_at[i]].ent[0]].kind != K_PERSON))
            break;
        i++;
        last = i;
    }
    return last - t;
}

static int cmp_mention(const void *a, const void *b)
{
    return ((const xmention *)a)->t0 - ((const xmention *)b)->t0;
}

/* Sort the mentions and rebuild the by-token indexes: m_at (mention
 * starting at a token) and pre_at (titled person whose "(the) French
 * President" prefix starts at a token). */
static void index_mentions(kg_extractor *x)
{
    qsort(x->ms, (size_t)x->nm, sizeof *x->ms, cmp_mention);
    for (int i = 0; i <= x->ntok; i++) {
        x->m_at[i] = -1;
        x->pre_at[i] = -1;
    }
    for (int i = 0; i < x->nm; i++) {
        const xmention *m = &x->ms[i];
        if (x->m_at[m->t0] < 0)
            x->m_at[m->t0] = (short)i;
        if (m->tt >= 0)
            x->pre_at[m->tt] = (short)i;
        if (m->pre >= 0) {
            x->pre_at[m->pre] = (short)i;
            if (x_is(x, m->pre, "the"))
                x->pre_at[m->pre + 1] = (short)i;
        }
    }
}

/* Create the person named by tokens [nt, nt+nlen) for this article,
 * with first and last name as aliases and a mention; -1 on failure. */
static int new_person(kg_extractor *x, int nt, int nlen)
{
    char id[256];
    size_t o = 0;
    for (int i = nt; i < nt + nlen; i++) {
        size_t l = x->toks[i].e - x->toks[i].s;
        if (o + l + 2 >= sizeof id)
            break;
        if (i > nt)
            id[o++] = ' ';
        memcpy(id + o, x->text + x->toks[i].s, l);
        o += l;
    }
    id[o] = '\0';
    if (x->n_ents - x->n_static > X_MAX_ARTICLE_PERSONS * 4)
        return -1;
    int person = x_ent_add(x, id, K_PERSON);
    if (person < 0)
        return -1;
    x_name_add(x, id, person, 0);
    char part[X_MAX_TOKEN_LOW + 1];
    for (int i = nt; i < nt + nlen; i += nlen - 1) {
        size_t l = x->toks[i].e - x->toks[i].s;
        if (l > X_MAX_TOKEN_LOW)
            l = X_MAX_TOKEN_LOW;
        memcpy(part, x->text + x->toks[i].s, l);
        part[l] = '\0';
        char pk[X_MAX_TOKEN_LOW + 1];
        size_t pl = x_fold(part, l, pk, X_MAX_TOKEN_LOW);
        if (!x_word_in(x, W_STOP, pk, pl) && !x_word_in(x, W_DET, pk, pl))
            x_name_add(x, part, person, 0);
    }
    /* "von der Leyen", "da Silva": the surname with its particles */
    for (int i = nt + 1; i < nt + nlen - 1; i++)
        if (name_particle(x, i)) {
            char sur[256];
            size_t so = 0;
            for (int k = i; k < nt + nlen; k++) {
                size_t l = x->toks[k].e - x->toks[k].s;
                if (so + l + 2 >= sizeof sur)
                    break;
                if (k > i)
                    sur[so++] = ' ';
                memcpy(sur + so, x->text + x->toks[k].s, l);
                so += l;
            }
            sur[so] = '\0';
            x_name_add(x, sur, person, 0);
            break;
        }
    if (add_mention(x, nt, nt + nlen, person, 0) < 0)
        return -1;
    index_mentions(x);
    return person;
}

/* Titles followed by a name: "French President Emmanuel Macron", "CCP
 * leader Xi Jinping", "Prime Minister Keir Starmer". New names become
 * persons of this article (with first and last name as aliases); the
 * ruler before the title is what they lead. */
static void find_titled_persons(kg_extractor *x)
{
    for (int t = 0; t < x->ntok; t++) {
        x->title_at[t] = 0;
        const xtok *k = &x->toks[t];
        int maxn = (k->fl & T_WORD) ? smap_get(&x->titles, x_low(x, t), k->len) : -1;
        if (maxn <= 0)
            continue;
        char key[256];
        for (int n = maxn; n >= 1; n--) {
            if (t + n > x->ntok)
                continue;
            size_t kl = 0;
            for (int i = t; i < t + n && kl < sizeof key - X_MAX_TOKEN_LOW - 2; i++) {
                if (i > t)
                    key[kl++] = ' ';
                memcpy(key + kl, x_low(x, i), x->toks[i].len);
                kl += x->toks[i].len;
            }
            if (smap_get(&x->title_full, key, kl) >= 0) {
                x->title_at[t] = (short)n;
                break;
            }
        }
    }
    for (int t = 0, skip = 0; t < x->ntok; t++) {
        int n = x->title_at[t];
        if (t < skip || n <= 0 || (x->m_at[t] >= 0))
            continue; /* "Minister" inside "Prime Minister" is no title */
        skip = t + n;
        /* the ruler right before the title, if any */
        int ruler = -1, r0 = t;
        for (int i = 0; i < x->nm; i++) {
            const xmention *m = &x->ms[i];
            int end = m->t1;
            if (end < x->ntok && (x->toks[end].fl & T_POSS))
                end++;
            if (end + 2 < x->ntok && x_is(x, end, "(") && x_is(x, end + 2, ")"))
                end += 3; /* Chinese Communist Party (CCP) leader */
            if (end == t && m->n == 1) {
                ruler = x_resolve(x, m->ent[0], ST_RULER);
                r0 = m->t0;
            }
        }
        /* the name: after the title ("President Emmanuel Macron"), after a
         * comma ("the Canadian prime minister, Mark Carney"), or before
         * ("Mark Carney, Canada's prime minister") */
        int nt = t + n, nlen = 0, pm = -1, person = -1;
        int cands[3][2] = {{nt, 0}, {nt + 1, 0}, {-1, 0}};
        if (ruler >= 0 && nt < x->ntok && x_is(x, nt, ","))
            cands[1][1] = 1;
        int c0 = r0 > 0 && x_is(x, r0 - 1, "the") ? r0 - 1 : r0;
        if (ruler >= 0 && c0 >= 3 && x_is(x, c0 - 1, ",")) {
            int e = c0 - 1, b = e;
            while (b > 0 && e - b < 5 && (x->toks[b - 1].fl & T_CAP) &&
                   (x->toks[b - 1].fl & T_WORD) && !(x->toks[b - 1].fl & T_ALLCAPS))
                b--;
            if (e - b >= 2 && name_after(x, b) == e - b) {
                cands[2][0] = b;
                cands[2][1] = 1;
            }
        }
        cands[0][1] = 1;
        for (int c = 0; c < 3 && person < 0; c++) {
            if (!cands[c][1] || cands[c][0] >= x->ntok)
                continue;
            int at = cands[c][0];
            int m = x->m_at[at];
            if (m >= 0 && x->ents[x->ms[m].ent[0]].kind == K_PERSON) {
                person = x->ms[m].ent[0];
                pm = m;
                nt = at;
                break;
            }
            nlen = name_after(x, at);
            if (c == 2)
                nlen = c0 - 1 - at;
            if (nlen < 2)
                continue;
            nt = at;
            person = new_person(x, nt, nlen);
            if (person >= 0)
                pm = x->m_at[nt];
        }
        if (person < 0 && ruler >= 0 && r0 > 0 && x_is(x, r0 - 1, "the")) {
            /* "the Chinese leader", "the French president": the person of
             * this article who leads that ruler */
            for (size_t e = x->n_static; e < x->n_ents; e++)
                if (x->ents[e].kind == K_PERSON && x->ents[e].leads == ruler)
                    person = (int)e;
            if (person >= 0) {
                int mi = add_mention(x, r0 - 1, t + n, person, 0);
                if (mi >= 0)
                    index_mentions(x);
            }
            continue;
        }
        if (person < 0)
            continue;
        if (ruler >= 0 && x->ents[person].leads < 0)
            x->ents[person].leads = ruler;
        if (!x->ents[person].role) {
            char role[128];
            size_t o = 0;
            for (int i = t; i < t + n && o + X_MAX_TOKEN_LOW + 2 < sizeof role; i++) {
                size_t l = x->toks[i].e - x->toks[i].s;
                if (l > X_MAX_TOKEN_LOW)
                    l = X_MAX_TOKEN_LOW;
                if (i > t)
                    role[o++] = ' ';
                memcpy(role + o, x->text + x->toks[i].s, l);
                o += l;
            }
            role[o] = '\0';
            x->ents[person].role = strdup(role);
        }
        if (pm >= 0 && nt == t + n) {
            x->ms[pm].tt = t;
            x->ms[pm].pre = ruler >= 0 ? (r0 > 0 && x_is(x, r0 - 1, "the") ? r0 - 1 : r0) : t;
            index_mentions(x);
        }
    }
}

/* Find the entity mentions of the current sentence. */
void x_find_mentions(kg_extractor *x)
{
    x->nm = 0;
    /* "the two countries" names the last two of earlier sentences, not
     * the subject of this one ("The US urged both countries to ...") */
    int before[2] = {x->last_countries[0], x->last_countries[1]};
    for (int t = 0; t <= x->ntok; t++) {
        x->m_at[t] = -1;
        x->pre_at[t] = -1;
        x->title_at[t] = 0;
    }
    for (int t = 0; t < x->ntok;) {
        int len = 0, ni = lookup_name(x, t, &len);
        if (ni >= 0) {
            int fl = x->names[ni].demonym ? M_DEMONYM : 0;
            add_mention(x, t, t + len, x->names[ni].ent, fl);
            note_entity(x, x->names[ni].ent); /* "the EU ... the bloc" */
            t += len;
            continue;
        }
        const char *w = x_low(x, t);
        /* references: he/she, the bloc, the two countries, the country */
        if ((!strcmp(w, "he") || !strcmp(w, "she") || !strcmp(w, "his") ||
             !strcmp(w, "her")) && x->last_person >= 0) {
            add_mention(x, t, t + 1, x->last_person,
                        M_PRON | (w[1] == 'i' || w[2] == 'r' ? M_POSS : 0));
        } else if (!strcmp(w, "the") && x_is(x, t + 1, "bloc") && x->last_bloc >= 0) {
            add_mention(x, t, t + 2, x->last_bloc, 0);
            t += 2;
            continue;
        } else if ((x_is(x, t, "the") && x_is(x, t + 1, "two") &&
                    x_is(x, t + 2, "countries")) ||
                   (x_is(x, t, "both") && x_is(x, t + 1, "countries"))) {
            int len2 = x_is(x, t, "both") ? 2 : 3;
            if (before[1] >= 0) {
                int mi = add_mention(x, t, t + len2, before[0], 0);
                if (mi >= 0) {
                    x->ms[mi].n = 2;
                    x->ms[mi].ent[1] = before[1];
                }
            }
            t += len2;
            continue;
        } else if (!strcmp(w, "the") && x_is(x, t + 1, "country") &&
                   x->last_countries[0] >= 0 && !x_is(x, t + 2, "'s") &&
                   x->sent_index > 0) {
            add_mention(x, t, t + 2, x->last_countries[0], 0);
            t += 2;
            continue;
        } else if (!strcmp(w, "the") && t + 1 < x->ntok && x->last_person >= 0 &&
                   (x_is(x, t + 1, "president") || x_is(x, t + 1, "chancellor") ||
                    x_is(x, t + 1, "premier") ||
                    (x_is(x, t + 1, "prime") && x_is(x, t + 2, "minister"))) &&
                   !(t + 2 < x->ntok && (x->toks[t + 2].fl & T_CAP) &&
                     !x_is(x, t + 2, "minister"))) {
            int len2 = x_is(x, t + 1, "prime") ? 3 : 2;
            if (!x_is(x, t + len2, "of")) {
                add_mention(x, t, t + len2, x->last_person, 0);
                t += len2;
                continue;
            }
        }
        t++;
    }
    index_mentions(x);
    find_titled_persons(x);
    index_mentions(x);

    /* flags and actor phrases, in text order; state follows the text */
    for (int i = 0; i < x->nm; i++) {
        xmention *m = &x->ms[i];
        if (m->fl & M_PRON) {
            /* pronouns resolve to the latest person before them */
            if (x->last_person >= 0)
                m->ent[0] = x->last_person;
        }
        /* "the" before a name belongs to it */
        if (m->t0 > 0 && x_is(x, m->t0 - 1, "the") &&
            (m->t0 < 2 || x->m_at[m->t0 - 1] < 0))
            m->t0--;
        /* "(CCP)" after a name */
        if (m->t1 + 2 < x->ntok && x_is(x, m->t1, "(") &&
            (x->toks[m->t1 + 1].fl & T_ALLCAPS) && x_is(x, m->t1 + 2, ")")) {
            int len = 0;
            if (lookup_name(x, m->t1 + 1, &len) < 0) {
                char ab[X_MAX_TOKEN_LOW + 1];
                size_t l = x->toks[m->t1 + 1].e - x->toks[m->t1 + 1].s;
                if (l <= X_MAX_TOKEN_LOW) {
                    memcpy(ab, x->text + x->toks[m->t1 + 1].s, l);
                    ab[l] = '\0';
                    x_name_add(x, ab, m->ent[0], 0);
                }
            }
            m->t1 += 3;
        }
        /* actor phrases: Chinese officials, the CCP's commerce ministry */
        int j = m->t1;
        if (j < x->ntok && (x->toks[j].fl & T_POSS))
            j++;
        int k = j;
        /* up to three words before the actor noun: "commerce ministry",
         * "Foreign Ministry spokesperson" */
        while (k >= 0 && k < x->ntok && k - j < 3 && !is_word(x, k, W_ACTOR_NOUN) &&
               (x->toks[k].fl & T_WORD) && x->m_at[k] < 0 && !x->title_at[k] &&
               !is_word(x, k, W_STOP) && !is_word(x, k, W_PREP) &&
               !is_word(x, k, W_VERB) && !is_word(x, k, W_NEG) &&
               !is_word(x, k, W_IRREALIS))
            k++;
        if (m->n == 1 && is_word(x, k, W_ACTOR_NOUN) &&
            x_resolve(x, m->ent[0], ST_ACTOR) >= 0) {
            while (is_word(x, k + 1, W_ACTOR_NOUN))
                k++;
            m->t1 = k + 1;
            m->fl = (m->fl & ~(M_POSS | M_DEMONYM)) | M_ACTOR;
            m->ent[0] = x_resolve(x, m->ent[0], ST_ACTOR);
        } else if (j > m->t1) {
            m->t1 = j;
            m->fl |= M_POSS;
        }
        if (m->fl & M_ACTOR && m->t1 < x->ntok && (x->toks[m->t1].fl & T_POSS)) {
            m->t1++;
            m->fl |= M_POSS;
        }
        /* officials from the two countries */
        int a = m->t0 - 2;
        if (a >= 0 && (x_is(x, a + 1, "from") || x_is(x, a + 1, "of")) &&
            is_word(x, a, W_ACTOR_NOUN) && x_resolve(x, m->ent[0], ST_ACTOR) >= 0) {
            m->t0 = a;
            if (a > 0 && x_is(x, a - 1, "the"))
                m->t0--;
            m->fl |= M_ACTOR;
            for (int q = 0; q < m->n; q++)
                m->ent[q] = x_resolve(x, m->ent[q], ST_ACTOR);
        }
        if (m->t0 > 0 && (is_word(x, m->t0 - 1, W_PREP) || x_is(x, m->t0 - 1, "a") ||
                          x_is(x, m->t0 - 1, "an") || x_is(x, m->t0 - 1, "another")))
            m->fl |= M_PREP; /* "to China", "a NATO member": no subject */
        if (m->t0 > 0 && !is_word(x, m->t0 - 1, W_REPORTING) &&
            (x->toks[m->t0 - 1].fl & T_WORD) && !(x->toks[m->t0 - 1].fl & T_CAP) &&
            (is_word(x, m->t0 - 1, W_VERB) ||
             (x->toks[m->t0 - 1].len > 3 &&
              !strcmp(x_low(x, m->t0 - 1) + x->toks[m->t0 - 1].len - 2, "ed"))))
            m->fl |= M_OBJ; /* "met Xi at ... before holding talks": Xi is no subject */
        for (int q = 0; q < m->n; q++)
            note_entity(x, m->ent[q]);
        x->mentions++;
    }
    index_mentions(x);
    /* "China said it would ...", "the ministry said ..., and it accused
     * Ottawa": it = the first actor subject of the sentence */
    int subj = -1;
    for (int i = 0; i < x->nm && subj < 0; i++) {
        const xmention *m = &x->ms[i];
        if (m->n == 1 && !(m->fl & (M_POSS | M_PREP | M_PRON)) &&
            (!(m->fl & M_DEMONYM) || (m->fl & M_ACTOR)) &&
            x_resolve(x, m->ent[0], ST_ACTOR) >= 0)
            subj = i;
    }
    if (subj >= 0) {
        int ent = x_resolve(x, x->ms[subj].ent[0], ST_ACTOR), added = 0;
        for (int t = x->ms[subj].t1; t < x->ntok; t++) {
            if (!x_is(x, t, "it") || x->m_at[t] >= 0)
                continue;
            /* "exported ... to the United States and imported ... from
             * it": after a preposition, it is the latest other actor */
            int ref = ent;
            if (is_word(x, t - 1, W_PREP)) {
                ref = -1;
                for (int i = 0; i < x->nm; i++) {
                    int r = x_resolve(x, x->ms[i].ent[0], ST_ACTOR);
                    if (x->ms[i].t1 <= t && x->ms[i].n == 1 && r >= 0 && r != ent &&
                        !(x->ms[i].fl & M_PRON))
                        ref = r;
                }
            }
            if (ref >= 0 && add_mention(x, t, t + 1, ref, M_PRON) >= 0)
                added++;
        }
        if (added)
            index_mentions(x);
    }
    /* capitalised words that are no entity, inside the sentence */
    for (int t = 1; t < x->ntok; t++) {
        const xtok *k = &x->toks[t];
        if ((k->fl & T_CAP) && (k->fl & T_WORD) && x->m_at[t] < 0 &&
            !x->title_at[t] && !(x->toks[t - 1].fl & T_CAP) &&
            !(x->toks[t - 1].fl & T_QUOTE)) {
            bool inside = false;
            for (int i = 0; i < x->nm && !inside; i++)
                inside = t >= x->ms[i].t0 && t < x->ms[i].t1;
            if (!inside)
                x->unresolved++;
        }
    }
}

/* ---- facts --------------------------------------------------------------- */

int x_add_fact(kg_extractor *x, int s, const char *rel, int o,
               const char *quals, uint32_t es, uint32_t ee, int strength)
{
    char key[1400];
    int kl = snprintf(key, sizeof key, "%d\t%s\t%d\t%s", s, rel, o, quals);
    if (kl < 0 || (size_t)kl >= sizeof key)
        kl = (int)sizeof key - 1;
    int fi = smap_get(&x->fact_map, key, (size_t)kl);
    if (fi >= 0) {
        xfact *f = &x->facts[fi];
        if (strength < f->strength) {
            f->strength = strength;
            f->es = es;
            f->ee = ee;
        }
        return 0;
    }
    if (x->n_facts == x->cap_facts) {
        size_t nc = x->cap_facts ? x->cap_facts * 2 : 32;
        xfact *nf = realloc(x->facts, nc * sizeof *nf);
        if (!nf)
            return KG_ENOMEM;
        x->facts = nf;
        x->cap_facts = nc;
    }
    xfact *f = &x->facts[x->n_facts];
    f->s = s;
    f->o = o;
    f->rel = rel;
    f->quals = strdup(quals);
    f->es = es;
    f->ee = ee;
    f->strength = strength;
    if (!f->quals || smap_put(&x->fact_map, key, (size_t)kl, (int)x->n_facts)) {
        free(f->quals);
        return KG_ENOMEM;
    }
    x->n_facts++;
    return 0;
}

/* Evidence text: the sentence as valid UTF-8 on one line. */
static void evidence(const char *t, uint32_t s, uint32_t e, char *out, size_t cap)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)t;
    for (uint32_t i = s; i < e && o + 5 < cap;) {
        unsigned char c = p[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                 : (c >> 3) == 30 ? 4 : 0;
        bool ok = n > 0 && i + n <= e;
        for (size_t k = 1; ok && k < n; k++)
            ok = (p[i + k] & 0xC0) == 0x80;
        if (!ok) {
            out[o++] = '?';
            i++;
            continue;
        }
        if (n == 1 && (c < ' ' || c == 0x7F)) {
            out[o++] = ' ';
            i++;
            continue;
        }
        memcpy(out + o, p + i, n);
        o += n;
        i += (uint32_t)n;
    }
    out[o] = '\0';
}

static int to_batch(kg_extractor *x, const char *source, kg_batch *out)
{
    char date[16] = "";
    if (x->doc_y)
        snprintf(date, sizeof date, "%04d-%02d-%02d", x->doc_y, x->doc_m, x->doc_d);
    unsigned char *done = calloc(x->n_ents ? x->n_ents : 1, 1);
    if (!done)
        return KG_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < x->n_facts && !rc; i++) {
        int ends[2] = {x->facts[i].s, x->facts[i].o};
        for (int k = 0; k < 2 && !rc; k++) {
            if (done[ends[k]])
                continue;
            done[ends[k]] = 1;
            kg_entity_spec es = {0};
            es.id = x->ents[ends[k]].id;
            es.kind = x_kind_name(x->ents[ends[k]].kind);
            rc = kg_batch_add_entity(out, &es, 0);
        }
    }
    free(done);
    for (size_t i = 0; i < x->n_facts && !rc; i++) {
        xfact *f = &x->facts[i];
        kg_pair q[16];
        size_t nq = 0;
        char qbuf[1200];
        snprintf(qbuf, sizeof qbuf, "%s", f->quals);
        char *save = NULL;
        for (char *part = strtok_r(qbuf, ";", &save); part && nq < 16;
             part = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(part, '=');
            if (!eq)
                continue;
            *eq = '\0';
            q[nq].key = part;
            q[nq++].value = eq + 1;
        }
        char ev[1024], span[48];
        evidence(x->text, f->es, f->ee, ev, sizeof ev);
        snprintf(span, sizeof span, "%u-%u", f->es, f->ee);
        kg_pair prov[4];
        size_t np = 0;
        if (source && *source)
            prov[np++] = (kg_pair){KG_PROV_SOURCE, source};
        if (date[0])
            prov[np++] = (kg_pair){KG_PROV_DOC_DATE, date};
        prov[np++] = (kg_pair){KG_PROV_EVIDENCE, ev};
        prov[np++] = (kg_pair){KG_PROV_SPAN, span};
        kg_relation_spec rs = {x->ents[f->s].id, f->rel, x->ents[f->o].id,
                               q, nq, prov, np};
        rc = kg_batch_add_relation(out, &rs, 0);
    }
    return rc;
}

/* Header lines "# source: URL" and "# date: YYYY-MM-DD" at the top. */
static size_t read_header(kg_extractor *x, const char *text, size_t len,
                          char *source, size_t srccap)
{
    size_t pos = 0;
    while (pos < len && text[pos] == '#') {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *l = text + pos;
        size_t n = end - pos;
        if (n > 8 && !strncmp(l, "# date:", 7)) {
            size_t k = 7;
            while (k < n && l[k] == ' ')
                k++;
            int y, m, d;
            if (!x_parse_date_line(l + k, n - k, &y, &m, &d)) {
                x->doc_y = y;
                x->doc_m = m;
                x->doc_d = d;
            }
        } else if (n > 10 && !strncmp(l, "# source:", 9)) {
            size_t k = 9;
            while (k < n && l[k] == ' ')
                k++;
            size_t sl = n - k < srccap - 1 ? n - k : srccap - 1;
            memcpy(source, l + k, sl);
            source[sl] = '\0';
            for (size_t i = 0; i < sl; i++)
                if ((unsigned char)source[i] < ' ')
                    source[i] = ' ';
        }
        pos = nl ? end + 1 : len;
    }
    return pos;
}

int kg_extract_text(kg_extractor *x, const char *text, size_t len,
                    const kg_extract_options *opt, kg_batch *out,
                    kg_extract_stats *stats, kg_error *err)
{
    if (!x || (!text && len) || !out)
        return kg_error_set(err, KG_EINVAL, "extract: missing argument");
    if (len > KG_EXTRACT_MAX_TEXT)
        return kg_error_set(err, KG_ELIMIT, "extract: article of %zu bytes exceeds %zu",
                            len, (size_t)KG_EXTRACT_MAX_TEXT);
    reset_article(x);
    x->text = text ? text : "";
    x->mentions = x->unresolved = 0;
    char source[1024] = "";
    size_t pos = read_header(x, x->text, len, source, sizeof source);
    if (opt && opt->date) {
        int y, m, d;
        if (x_parse_date_line(opt->date, strlen(opt->date), &y, &m, &d) ||
            strlen(opt->date) != 10)
            return kg_error_set(err, KG_EINVAL, "extract: bad date '%s' (want YYYY-MM-DD)",
                                opt->date);
        x->doc_y = y;
        x->doc_m = m;
        x->doc_d = d;
    }
    if (opt && opt->source)
        snprintf(source, sizeof source, "%s", opt->source);
    size_t sentences = 0;
    int rc = 0;
    while (pos < len) {
        int n = x_next_sentence(x, &pos, len);
        if (n <= 0)
            break;
        sentences++;
        x_find_mentions(x);
        x_find_exprs(x);
        rc = x_run_patterns(x, x->toks[0].s, x->toks[n - 1].e);
        if (rc)
            break;
        x->sent_index++;
    }
    kg_batch *tmp = rc ? NULL : kg_batch_new();
    if (!rc && !tmp)
        rc = KG_ENOMEM;
    if (!rc)
        rc = to_batch(x, source, tmp);
    for (size_t i = 0; !rc && i < kg_batch_count(tmp); i++)
        rc = kg_batch_push(out, kg_batch_get(tmp, i));
    kg_batch_destroy(&tmp);
    if (stats) {
        stats->bytes += len;
        stats->sentences += sentences;
        stats->mentions += x->mentions;
        stats->unresolved += x->unresolved;
        stats->facts += rc ? 0 : x->n_facts;
    }
    x->text = NULL;
    if (rc)
        return kg_error_set(err, rc, "extract: %s", rc == KG_ENOMEM ? "out of memory"
                                                                    : "cannot build change records");
    return 0;
}
