/* bench_memory.c - memory and speed of the graph store at scale.
 *
 * Builds a random graph (default 1M entities "e0".."e999999" of 6 kinds
 * and 5M relations of 20 kinds, no qualifiers, added with
 * kg_relation_add_ids), then measures:
 *   - kg_graph_memory() per relation and the RSS growth per relation,
 *   - the time to add the entities and the relations,
 *   - 1M random one-hop kg_adjacent look-ups without and with a kind filter.
 * Each run happens in a fresh child process (so RSS starts from the same
 * place); the figures printed last are medians over the runs. Times are
 * CPU times of the process (CLOCK_PROCESS_CPUTIME_ID), which stay
 * comparable on a machine shared with other work.
 *
 * With --hub every relation touches entity e0 (as subject for even i, as
 * object for odd i; 20 kinds interleaved): one hub of degree RELATIONS,
 * the case where keeping adjacency sorted costs O(degree) per relation.
 * With --bulk the relations are added inside kg_graph_bulk_begin/end (the
 * time includes sorting the hub's adjacency at the end).
 *
 * usage: bench_memory [--hub] [--bulk] [ENTITIES [RELATIONS [RUNS [SEED]]]]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kg/graph.h"

typedef struct result {
    double mem_per_rel;   /* kg_graph_memory / relations */
    double rss_per_rel;   /* RSS growth / relations */
    double ent_seconds;   /* adding the entities */
    double rel_seconds;   /* adding the relations */
    double adj_ns;        /* per kg_adjacent, every kind */
    double adj_kind_ns;   /* per kg_adjacent with a kind filter */
    double find_ns;       /* per kg_entity_find */
    size_t relations;
    size_t mem_bytes;
    size_t rss_bytes;
    uint64_t checksum;
} result;

static uint64_t rng_state;
static int hub_mode, bulk_mode; /* --hub, --bulk */

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* CPU time of this process: the machine is shared, and CPU time does not
 * count the time other processes hold the cores. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static int run(size_t n_ent, size_t n_rel, uint64_t seed, result *out)
{
    static const char *ekinds[] = {"country", "person", "organization",
                                   "product", "place", "agreement"};
    memset(out, 0, sizeof *out);
    rng_state = seed;
    size_t rss0 = rss_bytes();
    kg_graph *g = kg_graph_new();
    if (!g)
        return -1;
    kg_atom rkinds[20];
    for (int i = 0; i < 20; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "relation-%d", i);
        rkinds[i] = kg_atom_intern(g, buf, strlen(buf));
    }
    double t0 = now();
    char name[32];
    for (size_t i = 0; i < n_ent; i++) {
        snprintf(name, sizeof name, "e%zu", i);
        kg_entity_spec s = {.id = name, .kind = ekinds[rng() % 6]};
        kg_eid e;
        if (kg_entity_add(g, &s, &e, NULL) != 0 || e != i) {
            fprintf(stderr, "entity %zu failed\n", i);
            return -1;
        }
    }
    double t1 = now();
    if (bulk_mode)
        kg_graph_bulk_begin(g);
    for (size_t i = 0; i < n_rel; i++) {
        uint64_t x = rng();
        kg_eid s = (kg_eid)(x % n_ent);
        kg_eid o = (kg_eid)((x >> 20) % n_ent);
        kg_atom k = rkinds[(x >> 50) % 20];
        if (hub_mode && i % 2 == 0)
            s = 0;
        else if (hub_mode)
            o = 0;
        if (kg_relation_add_ids(g, s, k, o, NULL, 0, NULL, 0, NULL, NULL) < 0) {
            fprintf(stderr, "relation %zu failed\n", i);
            return -1;
        }
    }
    if (bulk_mode)
        kg_graph_bulk_end(g);
    double t2 = now();
    out->relations = kg_relation_count(g);
    out->mem_bytes = kg_graph_memory(g);
    out->rss_bytes = rss_bytes() - rss0;
    out->ent_seconds = t1 - t0;
    out->rel_seconds = t2 - t1;
    out->mem_per_rel = (double)out->mem_bytes / (double)out->relations;
    out->rss_per_rel = (double)out->rss_bytes / (double)out->relations;

    const size_t lookups = 1000000;
    uint64_t sum = 0;
    double t3 = now();
    for (size_t i = 0; i < lookups; i++) {
        kg_span sp = kg_adjacent(g, (kg_eid)(rng() % n_ent), KG_OUT, 0);
        sum += sp.n ? sp.ids[sp.n - 1] + sp.n : 0;
    }
    double t4 = now();
    for (size_t i = 0; i < lookups; i++) {
        uint64_t x = rng();
        kg_span sp = kg_adjacent(g, (kg_eid)(x % n_ent),
                                 (x >> 40) & 1 ? KG_OUT : KG_IN,
                                 rkinds[(x >> 50) % 20]);
        sum += sp.n ? sp.ids[0] + sp.n : 0;
    }
    double t5 = now();
    for (size_t i = 0; i < lookups; i++) {
        snprintf(name, sizeof name, "E%" PRIu64, rng() % n_ent);
        sum += kg_entity_find(g, name);
    }
    double t6 = now();
    out->adj_ns = (t4 - t3) * 1e9 / (double)lookups;
    out->adj_kind_ns = (t5 - t4) * 1e9 / (double)lookups;
    out->find_ns = (t6 - t5) * 1e9 / (double)lookups;
    out->checksum = sum;
    kg_graph_destroy(&g);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    for (; argc > 1 && argv[1][0] == '-' && argv[1][1] == '-'; argc--, argv++) {
        if (strcmp(argv[1], "--hub") == 0)
            hub_mode = 1;
        else if (strcmp(argv[1], "--bulk") == 0)
            bulk_mode = 1;
        else
            break;
    }
    size_t n_ent = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    size_t n_rel = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000000;
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 42;
    if (n_ent == 0 || n_ent > 100000000 || n_rel > 1000000000 || runs < 1 ||
        runs > 100 || seed == 0) {
        fprintf(stderr, "usage: %s [--hub] [--bulk] [ENTITIES [RELATIONS [RUNS [SEED]]]]\n",
                argv[0]);
        return 2;
    }
    result *res = calloc((size_t)runs, sizeof *res);
    if (!res)
        return 1;
    printf("entities=%zu relations=%zu runs=%d%s%s\n", n_ent, n_rel, runs,
           hub_mode ? " hub" : "", bulk_mode ? " bulk" : "");
    printf("run  mem_B/rel  rss_B/rel  ent_s  rel_s  adj_ns  adj_kind_ns  find_ns\n");
    for (int r = 0; r < runs; r++) {
        int fd[2];
        if (pipe(fd) != 0)
            return 1;
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            close(fd[0]);
            result one;
            int rc = run(n_ent, n_rel, seed + (uint64_t)r, &one);
            if (rc == 0 && write(fd[1], &one, sizeof one) != (ssize_t)sizeof one)
                rc = -1;
            _exit(rc == 0 ? 0 : 1);
        }
        close(fd[1]);
        ssize_t got = read(fd[0], &res[r], sizeof res[r]);
        close(fd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (got != (ssize_t)sizeof res[r] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "run %d failed\n", r);
            return 1;
        }
        printf("%3d  %9.2f  %9.2f  %5.2f  %5.2f  %6.1f  %11.1f  %7.1f\n", r,
               res[r].mem_per_rel, res[r].rss_per_rel, res[r].ent_seconds,
               res[r].rel_seconds, res[r].adj_ns, res[r].adj_kind_ns,
               res[r].find_ns);
        fflush(stdout);
    }
    double v[6][100];
    for (int r = 0; r < runs; r++) {
        v[0][r] = res[r].mem_per_rel;
        v[1][r] = res[r].rss_per_rel;
        v[2][r] = res[r].ent_seconds;
        v[3][r] = res[r].rel_seconds;
        v[4][r] = res[r].adj_ns;
        v[5][r] = res[r].adj_kind_ns;
    }
    printf("median: kg_graph_memory %.2f B/relation, RSS %.2f B/relation, "
           "entities %.2f s, relations %.2f s, kg_adjacent %.1f ns, "
           "with kind %.1f ns (relations kept: %zu)\n",
           median(v[0], runs), median(v[1], runs), median(v[2], runs),
           median(v[3], runs), median(v[4], runs), median(v[5], runs),
           res[0].relations);
    free(res);
    return 0;
}
