/* bench_extract.c - article extraction throughput on one core.
 *
 * usage: bench_extract [ARTICLE [MB [RUNS [WORLD.gv]]]]
 * Replicates ARTICLE (default: the shared evaluation article 01) to about
 * MB megabytes (default 20) of text with a world catalog gazetteer
 * (default graphs/world.gv), runs the extractor RUNS times (default 5) and
 * prints the median MB/s and sentences/s. One extractor, one thread; the
 * batch is cleared between runs. Times are CPU time of the process (the
 * machine is shared). See docs/performance-extract.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kg/change.h"
#include "kg/extract.h"
#include "kg/io.h"

#ifndef KG_BENCH_SOURCE_DIR
#define KG_BENCH_SOURCE_DIR "."
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: robust on a shared machine */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *article = argc > 1 ? argv[1]
                                   : "/work/shared/eval/articles/01-macron-xi-beijing.txt";
    double mb = argc > 2 ? atof(argv[2]) : 20;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    const char *world = argc > 4 ? argv[4] : KG_BENCH_SOURCE_DIR "/graphs/world.gv";
    if (mb <= 0 || mb > 200 || runs < 1 || runs > 100) {
        fprintf(stderr, "usage: bench_extract [ARTICLE [MB (0-200] [RUNS [WORLD.gv]]]]\n");
        return 2;
    }
    FILE *f = fopen(article, "rb");
    if (!f) {
        perror(article);
        return 1;
    }
    static char one[1 << 20];
    size_t n1 = fread(one, 1, sizeof one, f);
    fclose(f);
    /* drop the header so that every copy is plain text */
    size_t skip = 0;
    while (skip < n1 && one[skip] == '#') {
        char *nl = memchr(one + skip, '\n', n1 - skip);
        skip = nl ? (size_t)(nl - one) + 1 : n1;
    }
    size_t target = (size_t)(mb * 1e6), len = 0;
    char *text = malloc(target + n1 + 64);
    if (!text || n1 <= skip)
        return 1;
    len = (size_t)snprintf(text, 64, "# date: 2025-12-04\n");
    while (len < target) {
        memcpy(text + len, one + skip, n1 - skip);
        len += n1 - skip;
        text[len++] = '\n';
    }
    kg_graph *g = kg_graph_new();
    kg_error err = {0};
    if (!g || kg_load_file(g, world, KG_FORMAT_AUTO, &err)) {
        fprintf(stderr, "%s: %s\n", world, err.message);
        return 1;
    }
    double t0 = now();
    kg_extractor *x = kg_extractor_new(g, NULL, &err);
    double t_new = now() - t0;
    kg_graph_destroy(&g);
    if (!x) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    kg_batch *b = kg_batch_new();
    double *secs = calloc((size_t)runs, sizeof *secs);
    kg_extract_stats st = {0};
    for (int r = 0; r < runs; r++) {
        kg_batch_clear(b);
        memset(&st, 0, sizeof st);
        double s = now();
        if (kg_extract_text(x, text, len, NULL, b, &st, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        secs[r] = now() - s;
    }
    qsort(secs, (size_t)runs, sizeof *secs, cmp);
    double med = secs[runs / 2];
    printf("extractor setup (world catalog + data files): %.1f ms\n", t_new * 1e3);
    printf("text: %.1f MB, %zu sentences, %zu facts (deduplicated), %d runs\n",
           (double)len / 1e6, st.sentences, st.facts, runs);
    printf("median %.3f s: %.2f MB/s, %.0f sentences/s (min %.3f s, max %.3f s)\n", med,
           (double)len / 1e6 / med, (double)st.sentences / med, secs[0], secs[runs - 1]);
    free(secs);
    free(text);
    kg_batch_destroy(&b);
    kg_extractor_destroy(&x);
    return 0;
}
