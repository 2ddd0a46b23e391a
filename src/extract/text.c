/* text.c - tokenizer, sentence splitter and the normalisation of money,
 * rates, dates, periods and durations.
 *
 * The tokenizer works on raw bytes and never fails: anything that is not
 * an ASCII letter/digit, whitespace or a recognised UTF-8 punctuation mark
 * (curly quotes, dashes, currency signs) is treated as a letter, so other
 * scripts and binary noise just become words no dictionary matches.
 * Sentences are produced one at a time into a fixed buffer, which bounds
 * memory whatever the article size.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xint.h"

/* ---- byte classes ---------------------------------------------------- */

/* Length of a recognised multi-byte punctuation mark at p, 0 if none;
 * *kind gets the token flags and *fold the ASCII replacement. */
static size_t u8_punct(const unsigned char *p, size_t n, int *kind,
                       const char **fold)
{
    if (n >= 2 && p[0] == 0xC2) {
        switch (p[1]) {
        case 0xA3: *kind = T_PUNCT | T_CUR; *fold = "\xc2\xa3"; return 2;
        case 0xA5: *kind = T_PUNCT | T_CUR; *fold = "\xc2\xa5"; return 2;
        case 0xAB: case 0xBB: *kind = T_PUNCT | T_QUOTE; *fold = "\""; return 2;
        default: return 0;
        }
    }
    if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80) {
        switch (p[2]) {
        case 0x92: case 0x93: *kind = T_PUNCT | T_DASH; *fold = "-"; return 3;
        case 0x94: case 0x95: *kind = T_PUNCT | T_DASH; *fold = "--"; return 3;
        case 0x98: case 0x99: *kind = T_PUNCT | T_QUOTE; *fold = "'"; return 3;
        case 0x9C: case 0x9D: *kind = T_PUNCT | T_QUOTE; *fold = "\""; return 3;
        case 0xA6: *kind = T_PUNCT; *fold = "..."; return 3;
        default: return 0;
        }
    }
    if (n >= 3 && p[0] == 0xE2 && p[1] == 0x82 && p[2] == 0xAC) {
        *kind = T_PUNCT | T_CUR; *fold = "\xe2\x82\xac"; return 3;
    }
    if (n >= 3 && p[0] == 0xE2 && p[1] == 0x88 && p[2] == 0x92) {
        *kind = T_PUNCT | T_DASH; *fold = "-"; return 3;
    }
    return 0;
}

static size_t u8_space(const unsigned char *p, size_t n)
{
    if (p[0] != '\n' && (p[0] <= ' ' || p[0] == 0x7F))
        return 1;
    if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0)
        return 2; /* no-break space */
    if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
        (p[2] == 0x89 || p[2] == 0x8A || p[2] == 0x8B || p[2] == 0xAF))
        return 3; /* thin, hair, zero-width, narrow no-break space */
    return 0;
}

static bool is_alpha_at(const unsigned char *p, size_t n)
{
    int k;
    const char *f;
    if (isalpha(p[0]))
        return true;
    return p[0] >= 0x80 && !u8_punct(p, n, &k, &f) && !u8_space(p, n);
}

static bool is_apos(const unsigned char *p, size_t n, size_t *len)
{
    if (p[0] == '\'') { *len = 1; return true; }
    if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99) {
        *len = 3;
        return true;
    }
    return false;
}

/* ---- tokens ---------------------------------------------------------- */

const char *x_low(const kg_extractor *x, int t)
{
    return x->low + x->toks[t].lo;
}

bool x_is(const kg_extractor *x, int t, const char *w)
{
    return t >= 0 && t < x->ntok && strcmp(x_low(x, t), w) == 0;
}

/* Scan one token starting at or after *pos (stopping at end or '\n').
 * Returns false at end of paragraph (then *pos is at the '\n' or end). */
static bool scan_token(const kg_extractor *x, size_t *pos, size_t end,
                       size_t *ts, size_t *te, int *fl)
{
    const unsigned char *t = (const unsigned char *)x->text;
    size_t p = *pos, k;
    while (p < end) {
        k = u8_space(t + p, end - p);
        if (!k)
            break;
        p += k;
    }
    if (p >= end || t[p] == '\n') {
        *pos = p;
        return false;
    }
    *ts = p;
    *fl = 0;
    int kind;
    const char *fold;
    size_t n = end - p;
    size_t al0;
    if (is_apos(t + p, n, &al0) && p + al0 < end &&
        (t[p + al0] == 's' || t[p + al0] == 'S') &&
        (p + al0 + 1 >= end || !isalnum(t[p + al0 + 1])) && p > 0 &&
        (isalnum(t[p - 1]) || t[p - 1] == '.')) {
        p += al0 + 1; /* France's, France’s, U.S.'s */
        *fl = T_POSS;
    } else if ((k = u8_punct(t + p, n, &kind, &fold)) != 0) {
        p += k;
        *fl = kind;
        if (k == 3 && t[p - 1] == 0x99 && p >= 4 && t[p - 4] == 's' &&
            (p >= end || !isalnum(t[p])))
            *fl = T_POSS; /* plural possessive: countries’ */
    } else if (isdigit(t[p])) {
        p++;
        while (p < end && (isdigit(t[p]) ||
                           ((t[p] == ',' || t[p] == '.') && p + 1 < end &&
                            isdigit(t[p + 1]))))
            p++;
        *fl = T_NUM;
    } else if (is_alpha_at(t + p, n)) {
        bool all_upper = true, any_upper = false;
        size_t letters = 0;
        while (p < end) {
            if (is_alpha_at(t + p, end - p) || isdigit(t[p])) {
                if (isupper(t[p])) any_upper = true;
                else if (islower(t[p])) all_upper = false;
                letters++;
                p++;
                continue;
            }
            size_t al;
            if (t[p] == '-' && p + 1 < end &&
                (isalnum(t[p + 1]) || t[p + 1] >= 0x80)) {
                p++;
                continue;
            }
            /* U.S., U.K., E.U.: single letters joined by dots */
            if (t[p] == '.' && p + 1 < end && isalpha(t[p + 1]) &&
                (p + 2 >= end || t[p + 2] == '.') && p > *ts &&
                (p - *ts == 1 || t[p - 2] == '.')) {
                p++;
                continue;
            }
            if (is_apos(t + p, end - p, &al) && p + al < end &&
                isalpha(t[p + al])) {
                /* possessive 's stays a token of its own */
                if ((t[p + al] == 's' || t[p + al] == 'S') &&
                    (p + al + 1 >= end || !isalnum(t[p + al + 1])))
                    break;
                p += al;
                continue;
            }
            break;
        }
        *fl = T_WORD;
        if (isupper(t[*ts]))
            *fl |= T_CAP;
        if (any_upper && all_upper && letters >= 2)
            *fl |= T_ALLCAPS;
        if (p < end && t[p] == '.') {
            char buf[X_MAX_TOKEN_LOW + 1];
            size_t bl = x_fold((const char *)t + *ts, p - *ts, buf,
                               sizeof buf - 1);
            bool dotted = memchr(t + *ts, '.', p - *ts) != NULL;
            if (dotted || (p - *ts == 1 && isupper(t[*ts])) ||
                x_word_in(x, W_ABBREV, buf, bl)) {
                p++;
                *fl |= T_ABBR;
            }
        }
    } else {
        p++;
        *fl = T_PUNCT;
        if (t[p - 1] == '"')
            *fl |= T_QUOTE;
        if (t[p - 1] == '$')
            *fl |= T_CUR;
        if (t[p - 1] == '\'' && p >= 2 && t[p - 2] == 's' &&
            (p >= end || !isalnum(t[p])))
            *fl = T_POSS; /* plural possessive: countries' */
    }
    *te = p;
    *pos = p;
    return true;
}

/* Fold bytes: ASCII lower case, curly quotes and dashes to ASCII. Returns
 * the length written (at most cap, not NUL terminated). */
size_t x_fold(const char *s, size_t n, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    while (i < n && o < cap) {
        int kind;
        const char *f;
        size_t k = u8_punct(p + i, n - i, &kind, &f);
        if (k && (kind & (T_QUOTE | T_DASH))) {
            size_t fl = strlen(f);
            if (o + fl > cap)
                break;
            memcpy(out + o, f, fl);
            o += fl;
            i += k;
            continue;
        }
        out[o++] = (char)tolower(p[i]);
        i++;
    }
    return o;
}

static void push_token(kg_extractor *x, size_t ts, size_t te, int fl,
                       size_t *lowpos)
{
    xtok *k = &x->toks[x->ntok];
    k->s = (uint32_t)ts;
    k->e = (uint32_t)te;
    k->fl = (uint16_t)fl;
    k->lo = (uint16_t)*lowpos;
    size_t n = x_fold(x->text + ts, te - ts, x->low + *lowpos,
                      X_MAX_TOKEN_LOW);
    if (fl & T_POSS)
        n = (size_t)snprintf(x->low + *lowpos, 4, "'s");
    k->len = (uint16_t)n;
    x->low[*lowpos + n] = '\0';
    *lowpos += n + 1;
    x->ntok++;
}

/* Read the next sentence from [*pos, end) into x->toks. Paragraphs end at
 * '\n'; sentences at . ! ? followed by a capital, digit, quote or the end
 * of the paragraph (abbreviations keep their dot inside the token).
 * Returns the number of tokens, 0 at the end of the text. */
int x_next_sentence(kg_extractor *x, size_t *pos, size_t end)
{
    size_t lowpos = 0, ts, te;
    int fl;
    x->ntok = 0;
    for (;;) {
        if (!scan_token(x, pos, end, &ts, &te, &fl)) {
            if (*pos < end) {
                (*pos)++; /* the newline */
                if (x->ntok)
                    return x->ntok;
                continue;
            }
            return x->ntok;
        }
        push_token(x, ts, te, fl, &lowpos);
        if (x->ntok >= X_MAX_SENT_TOKENS)
            return x->ntok;
        const char *lw = x_low(x, x->ntok - 1);
        if ((fl & T_PUNCT) && (!strcmp(lw, ".") || !strcmp(lw, "!") ||
                               !strcmp(lw, "?") || !strcmp(lw, "..."))) {
            size_t p2 = *pos, ts2, te2;
            int fl2;
            if (!scan_token(x, &p2, end, &ts2, &te2, &fl2))
                return x->ntok;
            if (fl2 & T_QUOTE) {
                /* closing quote belongs to this sentence */
                size_t p3 = p2, ts3, te3;
                int fl3;
                bool more = scan_token(x, &p3, end, &ts3, &te3, &fl3);
                if (!more || (fl3 & (T_CAP | T_NUM | T_QUOTE))) {
                    push_token(x, ts2, te2, fl2, &lowpos);
                    *pos = p2;
                    return x->ntok;
                }
                continue;
            }
            if (fl2 & (T_CAP | T_NUM))
                return x->ntok;
            if (x->text[ts2] == '(')
                return x->ntok;
        }
    }
}

/* ---- numbers --------------------------------------------------------- */

static const char *const number_words[] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
    "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};

/* Value of a number token or number word; false if it is neither. */
static bool num_value(const char *w, double *v)
{
    if (isdigit((unsigned char)w[0])) {
        char buf[64];
        size_t o = 0;
        for (const char *p = w; *p && o < sizeof buf - 1; p++)
            if (*p != ',')
                buf[o++] = *p;
        buf[o] = '\0';
        char *endp;
        *v = strtod(buf, &endp);
        return *endp == '\0';
    }
    for (size_t i = 0; i < sizeof number_words / sizeof *number_words; i++)
        if (!strcmp(w, number_words[i])) {
            *v = (double)i;
            return true;
        }
    if (!strcmp(w, "thirty")) { *v = 30; return true; }
    if (!strcmp(w, "forty")) { *v = 40; return true; }
    if (!strcmp(w, "fifty")) { *v = 50; return true; }
    if (!strcmp(w, "dozen")) { *v = 12; return true; }
    return false;
}

static double scale_of(const char *w)
{
    if (!strcmp(w, "thousand")) return 1e3;
    if (!strcmp(w, "million") || !strcmp(w, "mln") || !strcmp(w, "m"))
        return 1e6;
    if (!strcmp(w, "billion") || !strcmp(w, "bn") || !strcmp(w, "bln") ||
        !strcmp(w, "b"))
        return 1e9;
    if (!strcmp(w, "trillion") || !strcmp(w, "tn") || !strcmp(w, "trn"))
        return 1e12;
    return 0;
}

static const char *currency_word(const char *w)
{
    static const char *const map[][2] = {
        {"dollars", "USD"}, {"dollar", "USD"}, {"euros", "EUR"},
        {"euro", "EUR"}, {"yuan", "CNY"}, {"renminbi", "CNY"},
        {"pounds", "GBP"}, {"yen", "JPY"}, {"won", "KRW"},
        {"rupees", "INR"}, {"roubles", "RUB"}, {"rubles", "RUB"},
        {"reais", "BRL"}, {"pesos", "MXN"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(w, map[i][0]))
            return map[i][1];
    return NULL;
}

static const char *currency_sign(const char *w, const char *prefix)
{
    if (!strcmp(w, "$")) {
        if (prefix && !strcmp(prefix, "c")) return "CAD";
        if (prefix && !strcmp(prefix, "a")) return "AUD";
        if (prefix && !strcmp(prefix, "hk")) return "HKD";
        return "USD";
    }
    if (!strcmp(w, "\xe2\x82\xac")) return "EUR";
    if (!strcmp(w, "\xc2\xa3")) return "GBP";
    if (!strcmp(w, "\xc2\xa5")) return "JPY";
    return NULL;
}

static int month_of(const char *w)
{
    static const char *const full[] = {
        "january", "february", "march", "april", "may", "june", "july",
        "august", "september", "october", "november", "december"};
    static const char *const abbr[] = {
        "jan.", "feb.", "mar.", "apr.", "may.", "jun.", "jul.", "aug.",
        "sep.", "oct.", "nov.", "dec."};
    for (int i = 0; i < 12; i++)
        if (!strcmp(w, full[i]) || !strcmp(w, abbr[i]))
            return i + 1;
    if (!strcmp(w, "sept.")) return 9;
    return 0;
}

static int weekday_of(const char *w)
{
    static const char *const d[] = {"monday", "tuesday", "wednesday",
                                    "thursday", "friday", "saturday",
                                    "sunday"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(w, d[i]))
            return i;
    return -1;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static bool is_year(const char *w, int *y)
{
    if (strlen(w) != 4 || !isdigit((unsigned char)w[0]))
        return false;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)w[i]))
            return false;
    *y = atoi(w);
    return *y >= 1900 && *y <= 2100;
}

/* "2025-12-04" (also inside "# date: ..."): fills y/m/d, 0 or -1. */
int x_parse_date_line(const char *s, size_t n, int *y, int *m, int *d)
{
    char buf[16];
    if (n < 10)
        return -1;
    memcpy(buf, s, 10);
    buf[10] = '\0';
    if (sscanf(buf, "%4d-%2d-%2d", y, m, d) != 3 || *y < 1900 ||
        *y > 2100 || *m < 1 || *m > 12 || *d < 1 || *d > 31)
        return -1;
    return 0;
}

static xexpr *new_expr(kg_extractor *x, int type, int t0, int t1)
{
    if (x->nex >= (int)(sizeof x->ex / sizeof *x->ex))
        return NULL;
    xexpr *e = &x->ex[x->nex++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->t0 = t0;
    e->t1 = t1;
    return e;
}

/* Find money, rates, dates, periods and durations in the sentence. */
void x_find_exprs(kg_extractor *x)
{
    x->nex = 0;
    int n = x->ntok;
    for (int i = 0; i < n; i++) {
        const char *w = x_low(x, i);
        double v;
        /* money: [US|C|A|HK] $ 461 [billion] */
        const char *cur = currency_sign(w, i > 0 ? x_low(x, i - 1) : NULL);
        if (cur && i + 1 < n && num_value(x_low(x, i + 1), &v) &&
            (x->toks[i + 1].fl & T_NUM)) {
            int j = i + 2;
            double sc = j < n ? scale_of(x_low(x, j)) : 0;
            if (sc) { v *= sc; j++; }
            xexpr *e = new_expr(x, E_MONEY, i, j);
            if (e) {
                e->value = v;
                snprintf(e->cur, sizeof e->cur, "%s", cur);
            }
            i = j - 1;
            continue;
        }
        if ((x->toks[i].fl & T_NUM) && num_value(w, &v)) {
            int j = i + 1;
            double sc = j < n ? scale_of(x_low(x, j)) : 0;
            if (sc) j++;
            const char *cw = j < n ? currency_word(x_low(x, j)) : NULL;
            if (cw) {
                xexpr *e = new_expr(x, E_MONEY, i, j + 1);
                if (e) {
                    e->value = v * (sc ? sc : 1);
                    snprintf(e->cur, sizeof e->cur, "%s", cw);
                }
                i = j;
                continue;
            }
            if (i + 1 < n && (x_is(x, i + 1, "%") || x_is(x, i + 1, "percent") ||
                              (x_is(x, i + 1, "per") && x_is(x, i + 2, "cent")))) {
                xexpr *e = new_expr(x, E_RATE, i, i + 2);
                if (e)
                    snprintf(e->text, sizeof e->text, "%g%%", v);
                continue;
            }
        }
        /* dates: Month [day][, year] | day Month year | in YEAR */
        int mo = (x->toks[i].fl & T_CAP) ? month_of(w) : 0;
        if (mo && !(mo == 5 && !(i + 1 < n && (x->toks[i + 1].fl & T_NUM)))) {
            int y = 0, d = 0, j = i + 1;
            if (j < n && (x->toks[j].fl & T_NUM) && strlen(x_low(x, j)) <= 2) {
                d = atoi(x_low(x, j));
                j++;
                if (j + 1 < n && x_is(x, j, ",") && is_year(x_low(x, j + 1), &y))
                    j += 2;
            } else if (j < n && is_year(x_low(x, j), &y)) {
                j++;
            }
            if (i > 0 && (x->toks[i - 1].fl & T_NUM) &&
                strlen(x_low(x, i - 1)) <= 2 && !d) {
                d = atoi(x_low(x, i - 1));
            }
            if (!y)
                y = x->doc_y;
            if (y && d >= 1 && d <= 31) {
                xexpr *e = new_expr(x, E_DATE, i, j);
                if (e) snprintf(e->text, sizeof e->text, "%04d-%02d-%02d", y, mo, d);
            } else if (y) {
                xexpr *e = new_expr(x, E_DATE, i, j);
                if (e) snprintf(e->text, sizeof e->text, "%04d-%02d", y, mo);
            }
            i = j - 1;
            continue;
        }
        int wd = (x->toks[i].fl & T_CAP) ? weekday_of(w) : -1;
        if (wd >= 0 && x->doc_y && i > 0 && x_is(x, i - 1, "on")) {
            long today = days_from_civil(x->doc_y, x->doc_m, x->doc_d);
            long dow = ((today % 7) + 7 + 3) % 7; /* 1970-01-01 was Thursday */
            long back = (dow - wd + 7) % 7;
            int y, m, d;
            civil_from_days(today - back, &y, &m, &d);
            xexpr *e = new_expr(x, E_DATE, i, i + 1);
            if (e) snprintf(e->text, sizeof e->text, "%04d-%02d-%02d", y, m, d);
            continue;
        }
        int y;
        if (is_year(w, &y) && i > 0 &&
            (x_is(x, i - 1, "in") || x_is(x, i - 1, "since") ||
             x_is(x, i - 1, "during") || x_is(x, i - 1, "early") ||
             x_is(x, i - 1, "late") || x_is(x, i - 1, "mid") ||
             x_is(x, i - 1, "until") || x_is(x, i - 1, "by"))) {
            xexpr *e = new_expr(x, E_DATE, i, i + 1);
            if (e) snprintf(e->text, sizeof e->text, "%04d", y);
            continue;
        }
        /* this year / last year / next year */
        if (x->doc_y && (!strcmp(w, "this") || !strcmp(w, "last") ||
                         !strcmp(w, "next")) && x_is(x, i + 1, "year")) {
            int yy = x->doc_y + (w[0] == 'l' ? -1 : w[0] == 'n' ? 1 : 0);
            /* "the first 10 months of this year" is a period */
            if (i >= 5 && x_is(x, i - 1, "of") &&
                (x_is(x, i - 2, "months") || x_is(x, i - 2, "half") ||
                 x_is(x, i - 2, "quarter")))
                continue;
            xexpr *e = new_expr(x, E_DATE, i, i + 2);
            if (e) snprintf(e->text, sizeof e->text, "%04d", yy);
            continue;
        }
        /* first N months of this year / YEAR; first half of ... */
        if (!strcmp(w, "first") && i + 4 < n) {
            int j = i + 1, months = 0;
            if (num_value(x_low(x, j), &v) && x_is(x, j + 1, "months")) {
                months = (int)v;
                j += 2;
            } else if (x_is(x, j, "half")) {
                months = 6;
                j += 1;
            } else if (x_is(x, j, "quarter")) {
                months = 3;
                j += 1;
            }
            if (months >= 1 && months <= 12 && x_is(x, j, "of")) {
                int yy = 0;
                if (is_year(x_low(x, j + 1), &yy)) {
                    j += 2;
                } else if (x->doc_y && x_is(x, j + 2, "year")) {
                    const char *q = x_low(x, j + 1);
                    yy = x->doc_y + (!strcmp(q, "last") ? -1 : 0);
                    j += 3;
                }
                if (yy) {
                    xexpr *e = new_expr(x, E_PERIOD, i, j);
                    if (e)
                        snprintf(e->text, sizeof e->text, "%04d-01/%04d-%02d",
                                 yy, yy, months);
                    i = j - 1;
                    continue;
                }
            }
        }
        /* three-day, 3-day, two-week */
        const char *dash = strchr(w, '-');
        if (dash && (x->toks[i].fl & T_WORD) && dash > w) {
            char num[24];
            size_t nl = (size_t)(dash - w);
            if (nl < sizeof num) {
                memcpy(num, w, nl);
                num[nl] = '\0';
                const char *unit = dash + 1;
                if (num_value(num, &v) &&
                    (!strcmp(unit, "day") || !strcmp(unit, "week") ||
                     !strcmp(unit, "month") || !strcmp(unit, "year") ||
                     !strcmp(unit, "hour"))) {
                    xexpr *e = new_expr(x, E_DURATION, i, i + 1);
                    if (e)
                        snprintf(e->text, sizeof e->text, "%g %s%s", v, unit,
                                 v == 1 ? "" : "s");
                }
            }
        }
    }
}
