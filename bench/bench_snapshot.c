/* bench_snapshot.c - how fast a snapshot is written and loaded, and how
 * big it is, for a large graph (default 1M entities, 5M relations).
 *
 *   bench_snapshot [-e ENTITIES] [-r RELATIONS] [-n RUNS] [-d DIR]
 *   bench_snapshot -j [-r BATCHES] [-d DIR]
 *
 * -P leaves out qualifiers and provenance (to tell the cost of the pair
 * sets from the rest).
 *
 * With -j it measures the journal instead: appends per second of one-
 * relation batches under each fsync policy, syncing after every batch and
 * after groups of 16 (requests that arrive together), on DIR's file
 * system.
 *
 * The graph is synthetic but shaped like kgd's: 8 entity kinds, one alias
 * and one attribute on every tenth entity, 24 relation kinds, a date
 * qualifier on a third of the relations (60 distinct dates), provenance
 * {source, doc_date} on every relation (10000 distinct documents). The
 * snapshot is a full one (no base: every client change), which is the
 * worst case. Reports the median of RUNS writes and loads (each load into
 * a fresh graph, page cache warm, as on a restart right after a snapshot),
 * and checks the loaded graph has the right counts.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kg/graph.h"
#include "kg/journal.h"

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time: the machine these figures come from is shared, and wall-clock
 * time moves by a factor of two with the neighbours' load. */
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static kg_graph *build(size_t ne, size_t nr, bool plain)
{
    static const char *const ekinds[] = { "country", "bloc", "organization",
                                          "person", "product", "agreement",
                                          "place", "unknown" };
    kg_graph *g = kg_graph_new();
    kg_error err;
    char id[32], alias[40], val[32];
    kg_eid *ids = malloc(ne * sizeof *ids);
    if (!g || !ids)
        return NULL;
    for (size_t i = 0; i < ne; i++) {
        snprintf(id, sizeof id, "entity-%zu", i);
        snprintf(alias, sizeof alias, "alias of entity %zu", i);
        snprintf(val, sizeof val, "%zu", i * 7);
        const char *al[] = { alias };
        kg_pair at[] = { { "code", val } };
        bool extra = i % 10 == 0;
        kg_entity_spec s = { id, ekinds[i % 8], extra ? al : NULL,
                             extra ? 1 : 0, extra ? at : NULL, extra ? 1 : 0 };
        if (kg_entity_add(g, &s, &ids[i], &err) < 0) {
            fprintf(stderr, "entity: %s\n", err.message);
            return NULL;
        }
    }
    kg_atom kinds[24];
    for (int k = 0; k < 24; k++) {
        snprintf(id, sizeof id, "relation-kind-%d", k);
        kinds[k] = kg_atom_intern(g, id, strlen(id));
    }
    char date[16], src[64], ddate[16];
    for (size_t i = 0; i < nr; i++) {
        uint32_t d = rnd(60), doc = rnd(10000);
        snprintf(date, sizeof date, "%d-%02d", 2020 + (int)(d / 12),
                 (int)(d % 12) + 1);
        snprintf(src, sizeof src, "https://news.example/%u", doc);
        snprintf(ddate, sizeof ddate, "2025-%02u-%02u", doc % 12 + 1,
                 doc % 28 + 1);
        kg_pair q[] = { { "date", date } };
        kg_pair p[] = { { "doc_date", ddate }, { "source", src } };
        bool dated = !plain && i % 3 == 0;
        int rc = kg_relation_add_ids(g, ids[rnd((uint32_t)ne)],
                                     kinds[rnd(24)], ids[rnd((uint32_t)ne)],
                                     dated ? q : NULL, dated ? 1 : 0, p,
                                     plain ? 0 : 2, NULL, &err);
        if (rc < 0) {
            fprintf(stderr, "relation: %s\n", err.message);
            return NULL;
        }
    }
    free(ids);
    return g;
}

/* Appends per second of one-relation batches into a fresh journal in dir,
 * with a sync every `group` batches. */
static double journal_rate(const char *dir, kg_fsync_policy pol, int group,
                           size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-journal-%ld-%d-%d", dir,
             (long)getpid(), (int)pol, group);
    kg_journal_options o;
    kg_journal_options_init(&o);
    o.fsync = pol;
    kg_error err;
    kg_journal *j = kg_journal_open(path, &o, &err);
    kg_graph *g = kg_graph_new();
    kg_batch *b = kg_batch_new();
    if (!j || !g || !b || kg_journal_load(j, g, NULL, NULL, &err) != 0) {
        fprintf(stderr, "journal: %s\n", err.message);
        exit(1);
    }
    char subj[32];
    kg_pair p[] = { { "source", "https://news.example/article" } };
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        snprintf(subj, sizeof subj, "entity-%zu", i);
        kg_relation_spec r = { subj, "mentions", "China", NULL, 0, p, 1 };
        kg_batch_clear(b);
        if (kg_batch_add_relation(b, &r, 0) != 0 ||
            kg_journal_append(j, b, NULL, &err) != 0 ||
            ((i + 1) % (size_t)group == 0 && kg_journal_sync(j, &err) != 0)) {
            fprintf(stderr, "journal: %s\n", err.message);
            exit(1);
        }
    }
    if (kg_journal_sync(j, &err) != 0)
        exit(1);
    double dt = now_s() - t0;
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
    kg_journal_destroy(&j);
    char f[4200];
    snprintf(f, sizeof f, "%s/journal-0000000000000000.kgj", path);
    unlink(f);
    snprintf(f, sizeof f, "%s/kgd.lock", path);
    unlink(f);
    rmdir(path);
    return (double)n / dt;
}

static int journal_bench(const char *dir, size_t n)
{
    static const kg_fsync_policy pols[] = { KG_FSYNC_ALWAYS, KG_FSYNC_INTERVAL,
                                            KG_FSYNC_NONE };
    for (int k = 0; k < 3; k++)
        for (int group = 1; group <= 16; group *= 16)
            printf("fsync %-8s sync every %2d: %9.0f appends/s\n",
                   kg_fsync_policy_name(pols[k]), group,
                   journal_rate(dir, pols[k], group, n));
    return 0;
}

int main(int argc, char **argv)
{
    size_t ne = 1000000, nr = 5000000;
    int runs = 5;
    const char *dir = "/tmp";
    int c;
    bool journal = false, plain = false;
    while ((c = getopt(argc, argv, "e:r:n:d:jPh")) != -1) {
        switch (c) {
        case 'P': plain = true; break;
        case 'j': journal = true; break;
        case 'e': ne = strtoull(optarg, NULL, 10); break;
        case 'r': nr = strtoull(optarg, NULL, 10); break;
        case 'n': runs = atoi(optarg); break;
        case 'd': dir = optarg; break;
        default:
            fprintf(stderr, "usage: bench_snapshot [-e ENTITIES] [-r RELATIONS]"
                    " [-n RUNS] [-d DIR] [-P]\n       bench_snapshot -j [-r BATCHES]"
                    " [-d DIR]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (ne == 0 || nr == 0 || runs < 1 || runs > 100) {
        fprintf(stderr, "bench_snapshot: bad arguments\n");
        return 2;
    }
    if (journal)
        return journal_bench(dir, nr > 20000 ? 20000 : nr);
    double t0 = now_s();
    kg_graph *g = build(ne, nr, plain);
    if (!g)
        return 1;
    double build_cpu = cpu_s();
    printf("graph: %zu entities, %zu relations, %.1f MB in memory, built in "
           "%.2f s (cpu %.2f)\n", kg_entity_count(g), kg_relation_count(g),
           (double)kg_graph_memory(g) / 1e6, now_s() - t0, build_cpu);
    fflush(stdout);
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-snapshot-%ld.kgs", dir,
             (long)getpid());
    double *wt = calloc((size_t)runs, sizeof *wt);
    double *lt = calloc((size_t)runs, sizeof *lt);
    double *wc = calloc((size_t)runs, sizeof *wc);
    double *lc = calloc((size_t)runs, sizeof *lc);
    kg_snapshot_info info;
    kg_error err;
    for (int i = 0; i < runs; i++) {
        t0 = now_s();
        double c0 = cpu_s();
        if (kg_snapshot_write_file(path, NULL, g, 1, 0, &info, &err) != 0) {
            fprintf(stderr, "write: %s\n", err.message);
            return 1;
        }
        wt[i] = now_s() - t0;
        wc[i] = cpu_s() - c0;
        kg_graph *t = kg_graph_new();
        t0 = now_s();
        c0 = cpu_s();
        if (kg_snapshot_load_file(path, t, NULL, NULL, NULL, &err) != 0) {
            fprintf(stderr, "load: %s\n", err.message);
            return 1;
        }
        lt[i] = now_s() - t0;
        lc[i] = cpu_s() - c0;
        if (kg_entity_count(t) != kg_entity_count(g) ||
            kg_relation_count(t) != kg_relation_count(g)) {
            fprintf(stderr, "load: counts differ\n");
            return 1;
        }
        kg_graph_destroy(&t);
        printf("run %d: write %.2f s (cpu %.2f), load %.2f s (cpu %.2f)\n",
               i + 1, wt[i], wc[i], lt[i], lc[i]);
        fflush(stdout);
    }
    qsort(wt, (size_t)runs, sizeof *wt, cmp_d);
    qsort(lt, (size_t)runs, sizeof *lt, cmp_d);
    qsort(wc, (size_t)runs, sizeof *wc, cmp_d);
    qsort(lc, (size_t)runs, sizeof *lc, cmp_d);
    printf("median of %d: write %.2f s (cpu %.2f), load %.2f s (cpu %.2f), "
           "file %.1f MB (%.1f bytes/relation)\n", runs, wt[runs / 2],
           wc[runs / 2], lt[runs / 2], lc[runs / 2], (double)info.bytes / 1e6,
           (double)info.bytes / (double)nr);
    unlink(path);
    free(wt);
    free(lt);
    free(wc);
    free(lc);
    kg_graph_destroy(&g);
    return 0;
}
