/* cmd_daemon.c - the subcommands that only make sense against a running
 * kgd: `kg add` and `kg remove` (facts from files, as one all-or-nothing
 * request or in chunks), `kg reload`, `kg status` (the daemon's health)
 * and `kg watch` (the change feed).
 *
 *   kg [-s ENDPOINT] add FILE... [--format F] [--chunk N]
 *   kg [-s ENDPOINT] remove [FILE...] [--entities] [--entity NAME]... [--format F]
 *   kg [-s ENDPOINT] reload
 *   kg [-s ENDPOINT] status [--format text|json]
 *   kg [-s ENDPOINT] watch [TOPIC...] [--feed ENDPOINT] [--count N]
 *                          [--seconds S] [--format text|json]
 *
 * Files are read by the same readers as `-g` graphs (kg/io.h) into one
 * batch of change records, which the C client sends (kg/client.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_util.h"
#include "kg/change.h"
#include "kg/client.h"
#include "kg/io.h"

/* A reload or a big add may take long; once a ping has shown the daemon
 * is there (failing fast when it is not), wait this long (ms). */
#define LONG_WAIT_MS (10 * 60 * 1000)
/* Largest stdin read for add/remove. */
#define STDIN_MAX ((size_t)1 << 30)
/* kg watch looks at its stop flag at least this often (ms). */
#define WATCH_SLICE_MS 200

static const char *endpoint(void)
{
    return kg_cli.server ? kg_cli.server : KG_CLIENT_DEFAULT_ENDPOINT;
}

/* A client that has answered a ping; NULL after printing why. */
static kg_client *connect_daemon(const char *cmd)
{
    kg_error err;
    kg_client *c = kg_cli_client(endpoint(), &err);
    if (c && kg_client_ping(c, NULL, &err) == 0) {
        kg_client_set_timeout(c, LONG_WAIT_MS);
        return c;
    }
    kg_cli_err(cmd, "%s", err.message);
    kg_client_destroy(&c);
    return NULL;
}

/* ---- reading the files ------------------------------------------------------ */

static int read_stdin(const char *cmd, kg_format fmt, kg_batch *b)
{
    char *buf;
    size_t n;
    errno = 0;
    int rc = kg_cli_read_all(stdin, STDIN_MAX, &buf, &n);
    if (rc) {
        kg_cli_err(cmd, "stdin: %s", rc == KG_ELIMIT ? "larger than 1 GiB"
                                     : rc == KG_ENOMEM ? "out of memory"
                                     : errno ? strerror(errno) : "read error");
        return -1;
    }
    kg_error err;
    rc = kg_read_buffer(buf, n, "stdin", fmt == KG_FORMAT_AUTO ? KG_FORMAT_TSV : fmt, b,
                        &err);
    free(buf);
    if (rc)
        kg_cli_err(cmd, "%s", err.message);
    return rc ? -1 : 0;
}

/* Every file's changes appended to b, in order; "-" is stdin. */
static int read_files(const char *cmd, const kg_cli_list *files, kg_format fmt,
                      kg_batch *b)
{
    for (size_t i = 0; i < files->n; i++) {
        const char *path = files->v[i];
        if (!strcmp(path, "-")) {
            if (read_stdin(cmd, fmt, b))
                return -1;
            continue;
        }
        kg_error err;
        if (kg_read_file(path, fmt, b, &err)) {
            kg_cli_err(cmd, "%s", err.message);
            return -1;
        }
    }
    return 0;
}

static int parse_format(const char *cmd, const char *v, kg_format *out)
{
    *out = kg_format_from_name(v);
    if (*out == KG_FORMAT_AUTO)
        return kg_cli_usage(cmd, "unknown format '%s' (tsv, json, dot)", v);
    return 0;
}

/* ---- add and remove -------------------------------------------------------------- */

static void sum(kg_client_write_result *t, const kg_client_write_result *r)
{
    t->entities_added += r->entities_added;
    t->entities_merged += r->entities_merged;
    t->relations_added += r->relations_added;
    t->relations_existing += r->relations_existing;
    t->entities_removed += r->entities_removed;
    t->relations_removed += r->relations_removed;
    t->seq = r->seq;
}

/* Send b in requests of at most chunk records (0: one request). */
static int send_batch(const char *cmd, kg_client *c, const kg_batch *b,
                      bool remove, size_t chunk, kg_client_write_result *total)
{
    size_t n = kg_batch_count(b);
    if (!chunk || chunk >= n) {
        kg_error err;
        int rc = remove ? kg_client_remove(c, b, total, &err)
                        : kg_client_add(c, b, total, &err);
        if (rc) {
            kg_cli_err(cmd, "%s", err.message);
            if (rc == KG_ELIMIT)
                kg_cli_err(cmd, "send it in parts with --chunk N");
            return KG_EXIT_ERROR;
        }
        return KG_EXIT_OK;
    }
    kg_batch *part = kg_batch_new();
    if (!part) {
        kg_cli_err(cmd, "out of memory");
        return KG_EXIT_ERROR;
    }
    int status = KG_EXIT_OK;
    for (size_t from = 0; from < n && status == KG_EXIT_OK; from += chunk) {
        size_t to = from + chunk < n ? from + chunk : n;
        kg_batch_clear(part);
        kg_error err;
        int rc = 0;
        for (size_t i = from; i < to && !rc; i++)
            rc = kg_batch_push(part, kg_batch_get(b, i));
        kg_client_write_result r = {0};
        if (rc)
            kg_error_set(&err, rc, "out of memory");
        else
            rc = remove ? kg_client_remove(c, part, &r, &err)
                        : kg_client_add(c, part, &r, &err);
        if (rc) {
            kg_cli_err(cmd, "changes %zu to %zu of %zu: %s", from + 1, to, n,
                       err.message);
            if (from)
                kg_cli_err(cmd, "the %zu changes before them were applied", from);
            status = KG_EXIT_ERROR;
        } else {
            sum(total, &r);
        }
    }
    kg_batch_destroy(&part);
    return status;
}

static void add_usage(FILE *f)
{
    fputs("Usage: kg [-s ENDPOINT] add FILE... [--format tsv|json|dot] [--chunk N]\n"
          "Add the entities and relations of the files (TSV fact tables, JSON,\n"
          "DOT; '-' reads stdin, TSV unless --format says otherwise) to the\n"
          "daemon (default " KG_CLIENT_DEFAULT_ENDPOINT ") in one request: all or\n"
          "nothing. Adding is idempotent: existing entities are merged, existing\n"
          "facts kept once.\n"
          "\n"
          "  -f, --format F   the files' format (default: by extension, then content)\n"
          "  --chunk N        send N changes per request (each request is all or\n"
          "                   nothing; for files above the daemon's max_request_bytes)\n"
          "  -h, --help\n"
          "\n"
          "Example: kg extract article.txt | kg -s tcp://127.0.0.1:7411 add -\n",
          f);
}

static void remove_usage(FILE *f)
{
    fputs("Usage: kg [-s ENDPOINT] remove [FILE...] [--entities] [--entity NAME]...\n"
          "                             [--format tsv|json|dot] [--chunk N]\n"
          "Remove from the daemon (default " KG_CLIENT_DEFAULT_ENDPOINT ") the\n"
          "relations the files list: each removes every relation of that kind\n"
          "between the pair whose qualifiers include the ones given (evidence\n"
          "and provenance are not compared). One request: all or nothing; a\n"
          "relation or entity that is not there fails it.\n"
          "\n"
          "  --entities       also remove the entities the files declare (TSV\n"
          "                   '#@entity' lines, JSON 'entities', DOT nodes), with\n"
          "                   all their relations\n"
          "  --entity NAME    remove this entity and all its relations (repeatable)\n"
          "  -f, --format F   the files' format (default: by extension, then content)\n"
          "  --chunk N        send N changes per request\n"
          "  -h, --help\n",
          f);
}

/* The removals that the additions of in stand for, appended to out:
 * relations always, then declared entities when entities is set.
 * Relations first, as the server orders one request: sent in chunks, an
 * entity's removal (which takes its relations with it) must not come
 * before the removal of one of its relations. */
static int as_removals(const kg_batch *in, bool entities, kg_batch *out)
{
    for (int pass = 0; pass < (entities ? 2 : 1); pass++) {
        kg_change_op from = pass ? KG_CHANGE_ENTITY_ADD : KG_CHANGE_RELATION_ADD;
        for (size_t i = 0; i < kg_batch_count(in); i++) {
            kg_change r = *kg_batch_get(in, i);
            if (r.op != from)
                continue;
            r.op = pass ? KG_CHANGE_ENTITY_REMOVE : KG_CHANGE_RELATION_REMOVE;
            if (kg_batch_push(out, &r))
                return KG_ENOMEM;
        }
    }
    return 0;
}

static int write_cmd(int argc, char **argv, bool remove)
{
    const char *cmd = remove ? "remove" : "add";
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "chunk", required_argument, NULL, 'c' },
        { "entities", no_argument, NULL, 'E' },
        { "entity", required_argument, NULL, 'e' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    kg_format fmt = KG_FORMAT_AUTO;
    unsigned long chunk = 0;
    bool entities = false;
    kg_cli_list files = { 0 }, names = { 0 };
    int c, status = KG_EXIT_OK;
    optind = 1;
    opterr = 0;
    while (status == KG_EXIT_OK &&
           (c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': status = parse_format(cmd, optarg, &fmt); break;
        case 'c':
            if (!kg_cli_parse_uint(optarg, 1UL << 24, &chunk) || !chunk)
                status = kg_cli_usage(cmd, "--chunk wants a number from 1, not '%s'",
                                      optarg);
            break;
        case 'E':
        case 'e':
            if (!remove)
                status = kg_cli_usage(cmd, "--%s goes with kg remove",
                                      c == 'E' ? "entities" : "entity");
            else if (c == 'E')
                entities = true;
            else
                kg_cli_list_add(&names, optarg);
            break;
        case 'h':
            (remove ? remove_usage : add_usage)(stdout);
            kg_cli_list_free(&files);
            kg_cli_list_free(&names);
            return KG_EXIT_OK;
        default:
            status = kg_cli_bad_option(cmd, c, argv);
        }
    }
    for (int i = optind; status == KG_EXIT_OK && i < argc; i++)
        kg_cli_list_add(&files, argv[i]);
    if (status == KG_EXIT_OK && !files.n && !names.n)
        status = kg_cli_usage(cmd, remove ? "nothing to remove: give FILEs or --entity"
                                          : "no file given ('-' reads stdin)");
    if (status == KG_EXIT_OK && entities && !files.n)
        status = kg_cli_usage(cmd, "--entities removes the entities of FILEs: give some");
    kg_batch *read = NULL, *send = NULL;
    kg_client *cl = NULL;
    if (status != KG_EXIT_OK)
        goto out;
    status = KG_EXIT_ERROR;
    read = kg_batch_new();
    send = remove ? kg_batch_new() : read;
    if (!read || !send) {
        kg_cli_err(cmd, "out of memory");
        goto out;
    }
    /* Read everything before connecting: a broken file sends nothing. */
    if (read_files(cmd, &files, fmt, read))
        goto out;
    if (remove) {
        int rc = as_removals(read, entities, send);
        for (size_t i = 0; i < names.n && !rc; i++)
            rc = kg_batch_remove_entity(send, names.v[i], 0);
        if (rc) {
            kg_cli_err(cmd, "out of memory");
            goto out;
        }
        if (!kg_batch_count(send)) {
            kg_cli_err(cmd, "the files list no relations%s", entities ? " or entities"
                       : " (their declared entities go with --entities)");
            goto out;
        }
    }
    if (!(cl = connect_daemon(cmd)))
        goto out;
    kg_client_write_result r = {0};
    status = send_batch(cmd, cl, send, remove, (size_t)chunk, &r);
    if (status == KG_EXIT_OK && remove)
        printf("removed: entities %" PRIu64 ", relations %" PRIu64 "; seq %" PRIu64 "\n",
               r.entities_removed, r.relations_removed, r.seq);
    else if (status == KG_EXIT_OK)
        printf("added: entities %" PRIu64 " new, %" PRIu64 " merged; relations %" PRIu64
               " new, %" PRIu64 " already there; seq %" PRIu64 "\n",
               r.entities_added, r.entities_merged, r.relations_added,
               r.relations_existing, r.seq);
out:
    kg_client_destroy(&cl);
    if (send != read)
        kg_batch_destroy(&send);
    kg_batch_destroy(&read);
    kg_cli_list_free(&files);
    kg_cli_list_free(&names);
    return status;
}

int kg_cmd_add(int argc, char **argv)
{
    return write_cmd(argc, argv, false);
}

int kg_cmd_remove(int argc, char **argv)
{
    return write_cmd(argc, argv, true);
}

/* ---- reload ----------------------------------------------------------------------- */

int kg_cmd_reload(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs("Usage: kg [-s ENDPOINT] reload\n"
              "Have the daemon (default " KG_CLIENT_DEFAULT_ENDPOINT ") read its graph\n"
              "files again and replay its data directory's changes on top (as\n"
              "SIGHUP does); prints the new graph's size when it is done.\n", stdout);
        return KG_EXIT_OK;
    }
    if (argc > 1)
        return kg_cli_usage("reload", "unexpected argument '%s'", argv[1]);
    kg_client *c = connect_daemon("reload");
    if (!c)
        return KG_EXIT_ERROR;
    uint64_t e = 0, r = 0;
    kg_error err;
    int status = KG_EXIT_OK;
    if (kg_client_reload(c, &e, &r, &err)) {
        kg_cli_err("reload", "%s", err.message);
        status = KG_EXIT_ERROR;
    } else {
        printf("reloaded: %" PRIu64 " entities, %" PRIu64 " relations\n", e, r);
    }
    kg_client_destroy(&c);
    return status;
}

/* ---- status ----------------------------------------------------------------------- */

static uint64_t num(const kg_value *m, const char *key)
{
    int64_t v = 0;
    return kg_value_get_int(kg_value_get(m, key), &v) || v < 0 ? 0 : (uint64_t)v;
}

static const char *text(const kg_value *m, const char *key)
{
    const char *s = kg_value_cstr(kg_value_get(m, key));
    return s ? s : "?";
}

static bool flag(const kg_value *m, const char *key)
{
    bool b = false;
    return kg_value_get_bool(kg_value_get(m, key), &b) == 0 && b;
}

/* Any decoded value as JSON (the stats reply holds maps, arrays, strings,
 * numbers, booleans and nil). */
static void json_value(kg_json *j, const kg_value *v)
{
    switch (kg_value_type_of(v)) {
    case KG_VAL_BOOL: kg_json_bool(j, v->u.b); break;
    case KG_VAL_INT: kg_json_int(j, (long long)v->u.i); break;
    case KG_VAL_UINT: kg_json_num(j, (double)v->u.u); break;
    case KG_VAL_FLOAT: kg_json_num(j, v->u.f); break;
    case KG_VAL_STR: kg_json_str(j, v->u.str.ptr); break;
    case KG_VAL_ARRAY:
        kg_json_arr(j);
        for (size_t i = 0; i < kg_value_len(v); i++)
            json_value(j, kg_value_at(v, i));
        kg_json_arr_end(j);
        break;
    case KG_VAL_MAP:
        kg_json_obj(j);
        for (size_t i = 0; i < kg_value_len(v); i++) {
            const kg_kv *e = kg_value_entry(v, i);
            kg_json_key(j, e->key);
            json_value(j, &e->value);
        }
        kg_json_obj_end(j);
        break;
    default: kg_json_str(j, NULL); break; /* nil, bin */
    }
}

static void print_status(const kg_value *st, FILE *out)
{
    double upf = 0;
    kg_value_get_float(kg_value_get(st, "uptime_s"), &upf);
    uint64_t up = upf > 0 ? (uint64_t)upf : 0;
    fprintf(out, "version    %s\n", text(st, "version"));
    fprintf(out, "uptime     %" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 "\n",
            up / 86400, up / 3600 % 24, up / 60 % 60, up % 60);
    fprintf(out, "graph      %" PRIu64 " entities, %" PRIu64 " relations, %.1f MB in the "
            "store, %.1f MB resident\n", num(st, "entities"), num(st, "relations"),
            (double)num(st, "memory_bytes") / 1e6, (double)num(st, "rss_bytes") / 1e6);
    const kg_value *rq = kg_value_get(st, "requests");
    fprintf(out, "requests   %" PRIu64 " (%" PRIu64 " bad) in %" PRIu64 " rounds\n",
            num(rq, "total"), num(rq, "bad"), num(rq, "rounds"));
    const kg_value *by = kg_value_get(rq, "by_op");
    if (kg_value_len(by)) {
        fputs("  by op   ", out);
        for (size_t i = 0; i < kg_value_len(by); i++) {
            const kg_kv *e = kg_value_entry(by, i);
            int64_t n = 0;
            kg_value_get_int(&e->value, &n);
            fprintf(out, "%s %s %lld", i ? "," : "", e->key, (long long)n);
        }
        fputc('\n', out);
    }
    const kg_value *j = kg_value_get(st, "journal");
    if (kg_value_type_of(j) == KG_VAL_MAP)
        fprintf(out, "journal    %s: seq %" PRIu64 ", snapshot at seq %" PRIu64 ", %" PRIu64
                " bytes since, fsync %s\n", text(j, "dir"), num(j, "seq"),
                num(j, "snapshot_seq"), num(j, "bytes"), text(j, "fsync"));
    else
        fputs("journal    none: changes are kept in memory only\n", out);
    fprintf(out, "writes     %s\n", flag(st, "read_only")
                                        ? "REFUSED: read-only after a journal failure "
                                          "(see the daemon's log)"
                                        : "accepted");
    if (flag(st, "reloading"))
        fputs("reload     running\n", out);
    fprintf(out, "feed       %s\n", text(st, "feed"));
}

int kg_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false;
    unsigned long timeout_s = 10;
    int o;
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            if (strcmp(optarg, "json") && strcmp(optarg, "text"))
                return kg_cli_usage("status", "unknown format '%s' (text, json)", optarg);
            json = !strcmp(optarg, "json");
            break;
        case 't':
            if (!kg_cli_parse_uint(optarg, 3600, &timeout_s) || !timeout_s)
                return kg_cli_usage("status", "--timeout wants seconds from 1 to 3600, "
                                    "not '%s'", optarg);
            break;
        case 'h':
            fputs("Usage: kg [-s ENDPOINT] status [--format text|json] [--timeout S]\n"
                  "The daemon's health (default " KG_CLIENT_DEFAULT_ENDPOINT "):\n"
                  "version, uptime, graph size and memory, requests, journal,\n"
                  "whether it accepts writes, its change feed; json: the whole\n"
                  "stats reply. Exit status 1 when the daemon does not answer\n"
                  "within S seconds (default 10) or refuses writes after a\n"
                  "journal failure.\n", stdout);
            return KG_EXIT_OK;
        default:
            return kg_cli_bad_option("status", o, argv);
        }
    }
    if (optind < argc)
        return kg_cli_usage("status", "unexpected argument '%s'", argv[optind]);
    kg_error err;
    kg_client *c = kg_cli_client(endpoint(), &err);
    kg_value *req = kg_value_new_map(), *st = NULL;
    int rc = c ? 0 : KG_EIO;
    if (c)
        kg_client_set_timeout(c, (int)timeout_s * 1000);
    if (!rc && (!req || kg_value_map_set(req, "op", kg_value_new_str("stats"))))
        rc = kg_error_set(&err, KG_ENOMEM, "out of memory");
    if (!rc)
        rc = kg_client_call(c, req, &st, &err);
    int status = KG_EXIT_OK;
    if (rc) {
        kg_cli_err("status", "%s", err.message);
        status = KG_EXIT_ERROR;
    } else {
        if (json) {
            kg_json jw;
            kg_json_init(&jw, stdout);
            json_value(&jw, st);
            fputc('\n', stdout);
        } else {
            printf("daemon     %s\n", kg_client_endpoint(c));
            print_status(st, stdout);
        }
        if (flag(st, "read_only")) {
            kg_cli_err("status", "the daemon refuses writes (read-only after a journal "
                       "failure)");
            status = KG_EXIT_ERROR;
        }
    }
    kg_value_destroy(&st);
    kg_value_destroy(&req);
    kg_client_destroy(&c);
    return status;
}

/* ---- watch ------------------------------------------------------------------------ */

static volatile sig_atomic_t watch_stop;

static void on_stop(int sig)
{
    (void)sig;
    watch_stop = 1;
}

static void print_pairs_text(const kg_pair *p, size_t n, FILE *out)
{
    if (!n)
        return;
    fputs(" {", out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s=%s", i ? ", " : "", p[i].key, p[i].value);
    fputc('}', out);
}

static void json_pairs(kg_json *j, const char *key, const kg_pair *p, size_t n)
{
    kg_json_key(j, key);
    kg_json_obj(j);
    for (size_t i = 0; i < n; i++) {
        kg_json_key(j, p[i].key);
        kg_json_str(j, p[i].value);
    }
    kg_json_obj_end(j);
}

/* One change as the feed carried it: a line of text, or a JSON object
 * shaped like the feed's body (docs/protocol.md). */
static void print_change(const kg_change *c, uint64_t seq, bool json, FILE *out)
{
    bool rel = c->op == KG_CHANGE_RELATION_ADD || c->op == KG_CHANGE_RELATION_REMOVE;
    bool add = c->op == KG_CHANGE_RELATION_ADD || c->op == KG_CHANGE_ENTITY_ADD;
    if (!json) {
        fprintf(out, "seq %" PRIu64 " %s ", seq, add ? "add" : "remove");
        if (rel) {
            const kg_relation_spec *r = &c->u.relation;
            fprintf(out, "%s: %s -[%s]-> %s", r->relation, r->subject, r->relation,
                    r->object);
            print_pairs_text(r->quals, r->n_quals, out);
        } else {
            const kg_entity_spec *e = &c->u.entity;
            fprintf(out, "entity: %s", e->id);
            if (add && e->kind && e->kind[0])
                fprintf(out, " (%s)", e->kind);
        }
        fputc('\n', out);
        fflush(out);
        return;
    }
    kg_json j;
    kg_json_init(&j, out);
    kg_json_obj(&j);
    kg_json_key(&j, "seq");
    kg_json_int(&j, (long long)seq);
    kg_json_key(&j, "op");
    kg_json_str(&j, add ? "add" : "remove");
    if (rel) {
        const kg_relation_spec *r = &c->u.relation;
        kg_json_key(&j, "relation");
        kg_json_obj(&j);
        kg_json_key(&j, "subject");
        kg_json_str(&j, r->subject);
        kg_json_key(&j, "relation");
        kg_json_str(&j, r->relation);
        kg_json_key(&j, "object");
        kg_json_str(&j, r->object);
        json_pairs(&j, "qualifiers", r->quals, r->n_quals);
        json_pairs(&j, "provenance", r->prov, r->n_prov);
        kg_json_obj_end(&j);
    } else {
        const kg_entity_spec *e = &c->u.entity;
        kg_json_key(&j, "entity");
        kg_json_obj(&j);
        kg_json_key(&j, "id");
        kg_json_str(&j, e->id);
        if (add) {
            kg_json_key(&j, "kind");
            kg_json_str(&j, e->kind && e->kind[0] ? e->kind : "unknown");
            kg_json_key(&j, "aliases");
            kg_json_arr(&j);
            for (size_t i = 0; i < e->n_aliases; i++)
                kg_json_str(&j, e->aliases[i]);
            kg_json_arr_end(&j);
            json_pairs(&j, "attributes", e->attrs, e->n_attrs);
        }
        kg_json_obj_end(&j);
    }
    kg_json_obj_end(&j);
    fputc('\n', out);
    fflush(out);
}

/* The daemon's change feed, from its `stats` (kg -s ENDPOINT watch
 * without --feed). Caller frees; NULL after printing why. */
static char *ask_feed(const char *server)
{
    kg_error err;
    char *out = NULL;
    kg_client *c = kg_cli_client(server, &err);
    if (!c || kg_client_feed_endpoint(c, &out, &err))
        kg_cli_err("watch", "%s%s", err.message,
                   err.code == KG_EUNSUPPORTED || err.code == KG_EINVAL ? ": give --feed" : "");
    kg_client_destroy(&c);
    return out;
}

static void watch_usage(FILE *f)
{
    fputs("Usage: kg [-s ENDPOINT] watch [TOPIC...] [--feed ENDPOINT] [--count N]\n"
          "                            [--seconds S] [--format text|json]\n"
          "Print the daemon's changes as they are applied. TOPICs are relation\n"
          "kinds (tariffs-on, ...) and 'entity'; none means every change.\n"
          "\n"
          "  --feed ENDPOINT  the daemon's change feed (default: the one the\n"
          "                   daemon named by -s reports, else "
          KG_CLIENT_DEFAULT_FEED ")\n"
          "  --count N        stop after N changes (exit 1 if --seconds ends first)\n"
          "  --seconds S      stop after S seconds\n"
          "  --format F       text (default): one line per change;\n"
          "                   json: one JSON object per line, shaped like the feed\n"
          "  -h, --help\n"
          "\n"
          "Like any subscriber it sees only changes published after it has\n"
          "connected (it says 'watching' on stderr when it starts).\n",
          f);
}

int kg_cmd_watch(int argc, char **argv)
{
    static const struct option opts[] = {
        { "feed", required_argument, NULL, 'F' },
        { "count", required_argument, NULL, 'n' },
        { "seconds", required_argument, NULL, 't' },
        { "format", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *feed_ep = NULL;
    char *asked = NULL;
    unsigned long count = 0;
    double seconds = -1;
    bool json = false;
    kg_cli_list topics = { 0 };
    int c, status = KG_EXIT_OK;
    optind = 1;
    opterr = 0;
    while (status == KG_EXIT_OK &&
           (c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'F': feed_ep = optarg; break;
        case 'n':
            if (!kg_cli_parse_uint(optarg, 1UL << 40, &count) || !count)
                status = kg_cli_usage("watch", "--count wants a number from 1, not '%s'",
                                      optarg);
            break;
        case 't': {
            char *end;
            errno = 0;
            seconds = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(seconds > 0) || seconds > 1e7)
                status = kg_cli_usage("watch", "--seconds wants a positive number, "
                                      "not '%s'", optarg);
            break;
        }
        case 'f':
            if (!strcmp(optarg, "json"))
                json = true;
            else if (strcmp(optarg, "text"))
                status = kg_cli_usage("watch", "unknown format '%s' (text, json)", optarg);
            break;
        case 'h':
            watch_usage(stdout);
            kg_cli_list_free(&topics);
            return KG_EXIT_OK;
        default:
            status = kg_cli_bad_option("watch", c, argv);
        }
    }
    for (int i = optind; status == KG_EXIT_OK && i < argc; i++)
        kg_cli_list_add(&topics, argv[i]);
    if (status != KG_EXIT_OK) {
        kg_cli_list_free(&topics);
        return status;
    }
    if (!feed_ep && kg_cli.server) {
        if (!(feed_ep = asked = ask_feed(kg_cli.server))) {
            kg_cli_list_free(&topics);
            return KG_EXIT_ERROR;
        }
    }
    kg_error err;
    kg_feed *f = kg_feed_new(feed_ep ? feed_ep : KG_CLIENT_DEFAULT_FEED, topics.v,
                             topics.n, &err);
    free(asked);
    kg_batch *b = kg_batch_new();
    if (!f || !b) {
        kg_cli_err("watch", "%s", f ? "out of memory" : err.message);
        kg_feed_destroy(&f);
        kg_batch_destroy(&b);
        kg_cli_list_free(&topics);
        return f ? KG_EXIT_ERROR : (err.code == KG_EINVAL ? KG_EXIT_USAGE : KG_EXIT_ERROR);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "kg watch: watching %s for ", kg_feed_endpoint(f));
    for (size_t i = 0; i < topics.n; i++)
        fprintf(stderr, "%s%s", i ? ", " : "", topics.v[i]);
    fputs(topics.n ? "\n" : "every change\n", stderr);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long seen = 0;
    while (!watch_stop && (!count || seen < count)) {
        int slice = WATCH_SLICE_MS;
        if (seconds > 0) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            double left = seconds - ((double)(t.tv_sec - t0.tv_sec) +
                                     (double)(t.tv_nsec - t0.tv_nsec) / 1e9);
            if (left <= 0)
                break;
            if (left * 1000 < slice)
                slice = (int)(left * 1000) + 1;
        }
        uint64_t seq = 0;
        kg_batch_clear(b);
        int rc = kg_feed_next(f, slice, &seq, b, &err);
        if (rc == KG_ETIMEOUT)
            continue;
        if (rc == KG_EPARSE) {
            kg_cli_err("watch", "skipped a message: %s", err.message);
            continue;
        }
        if (rc) {
            kg_cli_err("watch", "%s", err.message);
            status = KG_EXIT_ERROR;
            break;
        }
        print_change(kg_batch_get(b, 0), seq, json, stdout);
        seen++;
    }
    if (status == KG_EXIT_OK && count && seen < count && !watch_stop) {
        kg_cli_err("watch", "%lu of %lu changes within %g s", seen, count, seconds);
        status = KG_EXIT_ERROR;
    }
    kg_feed_destroy(&f);
    kg_batch_destroy(&b);
    kg_cli_list_free(&topics);
    return status;
}
