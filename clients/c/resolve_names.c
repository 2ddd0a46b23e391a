/* resolve_names.c - an example of the C client (include/kg/client.h):
 * resolve many names at once, with many requests in flight.
 *
 *   resolve_names [-s ENDPOINT] [-w WINDOW] [-t MS] < names.txt
 *
 * Reads one name (an entity id or alias) per line, asks kgd's `entity` op
 * about each, keeping up to WINDOW requests in flight (kg_client_pipeline;
 * default 64; -t: how long to wait for each reply, default 10000 ms),
 * and prints one line per name, in the input's order:
 *
 *   NAME <TAB> ID <TAB> KIND       a name kgd knows
 *   NAME <TAB> - <TAB> MESSAGE     one it does not (kgd's error message)
 *
 * Exit status: 0 every name resolved, 1 some did not, 2 bad usage or the
 * server could not be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kg/client.h"

#define BATCH 4096 /* names read and resolved at a time */

static void usage(void)
{
    fputs("usage: resolve_names [-s ENDPOINT] [-w WINDOW] [-t MS] < names.txt\n",
          stderr);
    exit(2);
}

/* Resolve names[0..n) and print them; 0 all resolved, 1 some not, 2 the
 * call failed. */
static int resolve(kg_client *c, char **names, size_t n, size_t window)
{
    kg_value **reqs = calloc(n, sizeof *reqs);
    kg_client_job *jobs = calloc(n, sizeof *jobs);
    if (!reqs || !jobs) {
        fputs("resolve_names: out of memory\n", stderr);
        exit(2);
    }
    for (size_t i = 0; i < n; i++) {
        reqs[i] = kg_value_new_map();
        if (!reqs[i] || kg_value_map_set(reqs[i], "op", kg_value_new_str("entity")) ||
            kg_value_map_set(reqs[i], "name", kg_value_new_str(names[i]))) {
            fputs("resolve_names: out of memory\n", stderr);
            exit(2);
        }
        jobs[i].request = reqs[i];
    }
    kg_error err;
    int st = 0;
    if (kg_client_pipeline(c, jobs, n, window, &err) != 0) {
        fprintf(stderr, "resolve_names: %s\n", err.message);
        st = 2;
    } else {
        for (size_t i = 0; i < n; i++) {
            const kg_value *r = jobs[i].result;
            if (jobs[i].rc) {
                printf("%s\t-\t%s\n", names[i], jobs[i].err.message);
                st = 1;
            } else {
                const char *id = kg_value_cstr(kg_value_get(r, "id"));
                const char *kind = kg_value_cstr(kg_value_get(r, "kind"));
                printf("%s\t%s\t%s\n", names[i], id ? id : "?",
                       kind ? kind : "?");
            }
        }
    }
    kg_client_jobs_clear(jobs, n);
    for (size_t i = 0; i < n; i++)
        kg_value_destroy(&reqs[i]);
    free(reqs);
    free(jobs);
    return st;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL;
    long window = 0, timeout = KG_CLIENT_DEFAULT_TIMEOUT_MS;
    int opt;
    while ((opt = getopt(argc, argv, "s:w:t:h")) != -1) {
        if (opt == 's')
            endpoint = optarg;
        else if (opt == 'w' && (window = strtol(optarg, NULL, 10)) > 0)
            continue;
        else if (opt == 't' && (timeout = strtol(optarg, NULL, 10)) > 0 &&
                 timeout <= 3600000)
            continue;
        else
            usage();
    }
    if (optind != argc)
        usage();
    kg_error err;
    kg_client *c = kg_client_new(endpoint, &err);
    if (!c) {
        fprintf(stderr, "resolve_names: %s\n", err.message);
        return 2;
    }
    kg_client_set_timeout(c, (int)timeout);
    char **names = calloc(BATCH, sizeof *names);
    if (!names) {
        fputs("resolve_names: out of memory\n", stderr);
        return 2;
    }
    int st = 0;
    size_t n = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    for (;;) {
        len = getline(&line, &cap, stdin);
        if (len > 0) {
            if (line[len - 1] == '\n')
                line[--len] = '\0';
            if (len == 0)
                continue;
            if (!(names[n++] = strdup(line))) {
                fputs("resolve_names: out of memory\n", stderr);
                return 2;
            }
        }
        if (n && (n == BATCH || len < 0)) {
            int r = resolve(c, names, n, (size_t)window);
            if (r > st)
                st = r;
            for (size_t i = 0; i < n; i++)
                free(names[i]);
            n = 0;
            if (st == 2)
                break;
        }
        if (len < 0)
            break;
    }
    free(line);
    free(names);
    kg_client_destroy(&c);
    return st;
}
