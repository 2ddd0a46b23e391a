/* xint.h - private to src/extract: the extractor's data structures.
 *
 * Pipeline per article: tokenizer (text.c) -> sentence -> mentions and
 * titled persons (extract.c) -> money/date/duration expressions (text.c)
 * -> patterns (pattern.c) -> facts, deduplicated per article -> batch.
 */
#ifndef KG_EXTRACT_XINT_H
#define KG_EXTRACT_XINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kg/change.h"
#include "kg/error.h"
#include "kg/extract.h"

/* ---- bounds ------------------------------------------------------------ */
#define X_MAX_SENT_TOKENS 256 /* longer runs are cut into pieces */
#define X_MAX_TOKEN_LOW 63    /* bytes of a token's folded form kept */
#define X_MAX_NAME_TOKENS 8   /* longest gazetteer name, in tokens */
#define X_MAX_GROUP 8         /* entities in one coordinated slot */
#define X_MAX_LIST 8          /* items in one product list */
#define X_MAX_PATTERN_ELEMS 24
#define X_MAX_ARTICLE_PERSONS 256
#define X_MATCH_STEPS 4000    /* matcher steps per pattern and start token */

/* ---- string map: folded key -> int ------------------------------------- */
typedef struct smap {
    char **keys;
    int *vals;
    uint32_t *lens;  /* key lengths */
    uint32_t *hash;  /* low 32 bits of each key's hash */
    size_t cap, n;
} smap;
int smap_put(smap *m, const char *key, size_t len, int val); /* 0/KG_ENOMEM; keeps first */
int smap_get(const smap *m, const char *key, size_t len);    /* -1 when absent */
void smap_free(smap *m);
void smap_del(smap *m, const char *key, size_t len);
void smap_set(smap *m, const char *key, size_t len, int val);

/* ---- entities -------------------------------------------------------------- */
enum { K_OTHER, K_COUNTRY, K_BLOC, K_ORG, K_PERSON, K_PLACE, K_PRODUCT,
       K_AGREEMENT };

typedef struct xent {
    char *id;
    int kind;
    int gov;   /* entity this one acts for in governmental roles, or -1 */
    int leads; /* persons: the country/org they lead, or -1 */
    char *role;
} xent;

/* A dictionary entry: a folded token sequence naming an entity. */
typedef struct xname {
    int ent;
    unsigned char ntok;
    unsigned char allcaps; /* must match case-sensitively */
    unsigned char demonym; /* adjective form ("French") */
    unsigned char lower;   /* starts in lower case ("von der Leyen") */
    char *exact;           /* original spelling (for allcaps) */
} xname;

/* ---- tokens and sentences ---------------------------------------------- */
enum {
    T_WORD = 1, T_NUM = 2, T_PUNCT = 4, T_CAP = 8, T_ALLCAPS = 16,
    T_POSS = 32, T_ABBR = 64, T_QUOTE = 128, T_DASH = 256, T_CUR = 512
};

typedef struct xtok {
    uint32_t s, e;   /* byte offsets in the article */
    uint16_t lo;     /* offset of folded form in the sentence buffer */
    uint16_t len;    /* length of the folded form */
    uint16_t fl;
} xtok;

/* mention flags */
enum { M_POSS = 1, M_DEMONYM = 2, M_PREP = 4, M_ACTOR = 8, M_PRON = 16,
       M_OBJ = 32 /* right after a verb: an object, no subject */ };

typedef struct xmention {
    int t0, t1;  /* token range [t0,t1) */
    int n;       /* entities (2 for "the two countries") */
    int ent[2];
    int fl;
    int pre;     /* start of a "(the) French President" prefix, or -1 */
    int tt;      /* start of the title before the name, or -1 */
} xmention;

/* normalised expressions */
enum { E_MONEY = 1, E_DATE, E_PERIOD, E_RATE, E_DURATION, E_COUNT };
typedef struct xexpr {
    int type, t0, t1;
    double value;
    char text[32]; /* date "2025-12-04", period, rate "25%", "3 days" */
    char cur[4];
} xexpr;

/* ---- patterns ---------------------------------------------------------- */
enum { PE_LIT = 1, PE_SLOT, PE_GAP, PE_NOT };
enum { ST_ACTOR = 1, ST_GEO, ST_PARTY, ST_PERSON, ST_PLACE, ST_ORG, ST_RULER,
       ST_PRODUCT, ST_PRODUCTS, ST_GOODS, ST_AGREEMENT, ST_CLAUSE, ST_TITLE,
       ST_MONEY, ST_TARGET };

typedef struct pelem {
    int type;
    bool opt;
    char slot;       /* slot or capture letter, 0 none */
    int stype;       /* slot type */
    bool group, poss;
    int gap;         /* PE_GAP: max tokens skipped */
    char **alts;     /* PE_LIT: alternatives, folded; trailing '*' = prefix */
    int n_alts;
    int *alt_n;      /* words per alternative (multi-word literals) */
} pelem;

typedef struct pqual {
    char *key, *tmpl; /* tmpl may hold $X slot references */
} pqual;

typedef struct pattern {
    char *rel;
    char subj, obj;   /* slot letters */
    int ctx;          /* 0, 1 = last trade pair, 2 = reversed */
    bool modal;       /* allowed under should/urge/... */
    pqual *quals;
    int n_quals;
    pelem el[X_MAX_PATTERN_ELEMS];
    int n_el;
    int anchor;       /* element used to pre-filter sentences */
    unsigned line;
} pattern;

/* relation policy from relations.tsv */
typedef struct xrel {
    char *name;
    unsigned auto_q; /* bit per E_* type allowed automatically */
    bool docdate, place;
} xrel;

/* a pattern's slot capture during matching */
typedef struct scap {
    int t0, t1;
    int n;                     /* entities or items */
    int ent[X_MAX_GROUP];
    char item[X_MAX_LIST][64]; /* product items */
    int origin[X_MAX_LIST];
    int count;                 /* agreement count */
} scap;

typedef struct mstate {
    int trig;
    uint32_t set;
    scap s[26];
} mstate;

typedef struct xlist {
    int *ids;
    size_t n;
} xlist;

/* ---- per-article scratch ------------------------------------------------- */
typedef struct xfact {
    int s, o; /* entity indexes */
    const char *rel;
    char *quals;      /* "k=v;k=v" (sorted by appearance), owned */
    uint32_t es, ee;  /* evidence span */
    int strength;     /* smaller is better (match span length) */
} xfact;

/* The article-level entity table: gazetteer entities [0, n_static) then
 * products, agreements and persons created while reading. */
struct kg_extractor {
    xent *ents;
    size_t n_ents, cap_ents, n_static;
    smap ent_by_id;          /* folded id -> ent (static + article) */
    xname *names;
    size_t n_names, cap_names, n_static_names;
    smap name_map;           /* folded name -> names[] */
    smap first_tok;          /* folded first token -> max ntok */
    char **art_first;        /* first tokens added by the current article */
    size_t n_art_first, cap_art_first;
    smap words[16];          /* word classes of words.txt */
    smap titles;             /* folded title -> max ntok (on first word) */
    smap title_full;
    smap prod_map;           /* folded variant -> canonical index */
    char **prod_canon;
    size_t n_prod, cap_prod;
    smap anchor_exact;       /* folded anchor word ("w" or "pre*") -> list */
    xlist *anchor_lists;
    size_t n_anchor_lists, cap_anchor_lists;
    unsigned char *fire;     /* per pattern: anchor seen in sentence */
    uint64_t prefix_lens;    /* bit L set: some anchor is a prefix of length L */
    uint64_t prefix_bloom[1024]; /* first 3 bytes of anchor prefixes */
    mstate mst;
    long steps;              /* matcher budget left for the current start */
    pattern *pats;
    size_t n_pats, cap_pats;
    xrel *rels;
    size_t n_rels;

    /* per-sentence scratch */
    const char *text;
    xtok toks[X_MAX_SENT_TOKENS + 2];
    int ntok;
    char low[(X_MAX_SENT_TOKENS + 2) * (X_MAX_TOKEN_LOW + 1)];
    xmention ms[X_MAX_SENT_TOKENS];
    int nm;
    short m_at[X_MAX_SENT_TOKENS + 2];    /* mention starting at token */
    short pre_at[X_MAX_SENT_TOKENS + 2];  /* titled person starting here */
    short title_at[X_MAX_SENT_TOKENS + 2];/* title length at token */
    xexpr ex[64];
    int nex;

    /* per-article state */
    int doc_y, doc_m, doc_d; /* 0 when unknown */
    int last_person, last_bloc;
    int last_countries[2];
    int last_agreement, agreement_sent;
    int trade_s, trade_o, trade_sent;
    char trade_period[32];
    int sent_index;
    xfact *facts;
    size_t n_facts, cap_facts;
    smap fact_map;
    size_t unresolved, mentions;
};

/* lexicon.c */
int x_load_data(kg_extractor *x, const char *dir, kg_error *err);
int x_load_gazetteer(kg_extractor *x, const kg_graph *g, kg_error *err);
int x_ent_add(kg_extractor *x, const char *id, int kind); /* or existing; -1 OOM */
int x_name_add(kg_extractor *x, const char *name, int ent, int demonym);
int x_kind_code(const char *kind);
const char *x_kind_name(int kind);
size_t x_fold(const char *s, size_t n, char *out, size_t cap);
size_t x_fold_name(const char *name, char *out, size_t cap);
bool x_word_in(const kg_extractor *x, int cls, const char *w, size_t n);
enum { W_NEG, W_IRREALIS, W_PREP, W_DET, W_STOP, W_GENERIC, W_ACTOR_NOUN,
       W_TRIM, W_AGREEMENT, W_CLAUSE_END, W_ABBREV, W_LEAD_MOD, W_GROUP_NOUN,
       W_VERB, W_QUANTITY, W_REPORTING, W_N_CLASSES };

/* text.c */
int x_next_sentence(kg_extractor *x, size_t *pos, size_t end);
const char *x_low(const kg_extractor *x, int t);
bool x_is(const kg_extractor *x, int t, const char *w);
void x_find_exprs(kg_extractor *x);
int x_parse_date_line(const char *s, size_t n, int *y, int *m, int *d);

/* pattern.c */
int x_load_patterns(kg_extractor *x, const char *path, kg_error *err);
void x_patterns_free(kg_extractor *x);
int x_run_patterns(kg_extractor *x, uint32_t sent_s, uint32_t sent_e);

/* extract.c */
void x_find_mentions(kg_extractor *x);
int x_add_fact(kg_extractor *x, int s, const char *rel, int o,
               const char *quals, uint32_t es, uint32_t ee, int strength);
int x_resolve(const kg_extractor *x, int ent, int stype);
int x_name_actor(const kg_extractor *x, const char *s, size_t n);

#endif
