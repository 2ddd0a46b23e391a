/* test_server_config.c - kgd's configuration file and command line.
 *
 * The server's sources are not part of libkg, so the two files under test
 * are compiled into this program directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/server/config.c"
#include "../../src/server/log.c"

static char conf_path[64];

/* Write text to a fresh temporary file; its path is conf_path. */
static const char *conf(const char *text)
{
    strcpy(conf_path, "/tmp/kgd-test-XXXXXX");
    int fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return conf_path;
}

static void expect_load_error(const char *text, const char *want_after_path)
{
    kg_server_config c;
    kg_server_config_init(&c);
    kg_error err;
    const char *path = conf(text);
    int rc = kg_server_config_load(&c, path, &err);
    assert_true(rc < 0);
    char want[512];
    snprintf(want, sizeof want, "%s:%s", path, want_after_path);
    if (strncmp(err.message, want, strlen(want)) != 0)
        fail_msg("got '%s', want '%s...'", err.message, want);
    unlink(path);
    kg_server_config_free(&c);
}

static void test_defaults(void **state)
{
    (void)state;
    kg_server_config c;
    kg_server_config_init(&c);
    assert_null(c.bind);
    assert_null(c.data);
    assert_int_equal(c.n_graphs, 0);
    assert_int_equal(c.log_level, KG_LOG_INFO);
    assert_int_equal(c.fsync, KG_FSYNC_ALWAYS);
    assert_int_equal(c.max_request_bytes, 1048576);
    assert_int_equal(c.max_results, 10000);
    assert_int_equal(c.max_depth, 6);
    assert_int_equal(c.query_timeout_ms, 2000);
    assert_int_equal(c.snapshot_journal_bytes, 64u * 1024 * 1024);
    kg_server_config_free(&c);
}

static void test_every_key(void **state)
{
    (void)state;
    kg_server_config c;
    kg_server_config_init(&c);
    kg_error err;
    const char *path = conf(
        "# kgd.conf\n"
        "\n"
        "bind = tcp://127.0.0.1:9000\n"
        "   publish=ipc:///tmp/feed.sock   \n"
        "data = \"/var/lib/kgd\"\n"
        "graph = a.gv\n"
        "graph = b.tsv\r\n"
        "log_level = debug\n"
        "fsync = interval\n"
        "fsync_interval_ms = 250\n"
        "snapshot_journal_bytes = 8M\n"
        "max_request_bytes = 64K\n"
        "max_results = 50\n"
        "max_depth = 3\n"
        "query_timeout_ms = 0\n"
        "repair = true\n"
        "\t# indented comment\n");
    if (kg_server_config_load(&c, path, &err))
        fail_msg("%s", err.message);
    assert_string_equal(c.bind, "tcp://127.0.0.1:9000");
    assert_string_equal(c.publish, "ipc:///tmp/feed.sock");
    assert_string_equal(c.data, "/var/lib/kgd");
    assert_int_equal(c.n_graphs, 2);
    assert_string_equal(c.graphs[0], "a.gv");
    assert_string_equal(c.graphs[1], "b.tsv");
    assert_int_equal(c.log_level, KG_LOG_DEBUG);
    assert_int_equal(c.fsync, KG_FSYNC_INTERVAL);
    assert_int_equal(c.fsync_interval_ms, 250);
    assert_int_equal(c.snapshot_journal_bytes, 8u * 1024 * 1024);
    assert_int_equal(c.max_request_bytes, 65536);
    assert_int_equal(c.max_results, 50);
    assert_int_equal(c.max_depth, 3);
    assert_int_equal(c.query_timeout_ms, 0);
    assert_true(c.repair);
    unlink(path);
    /* "data =" goes back to memory only. */
    assert_int_equal(kg_server_config_set(&c, "data", "", &err), 0);
    assert_null(c.data);
    kg_server_config_free(&c);
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_load_error("bind = tcp://127.0.0.1:1\n\nmax_resluts = 5\n",
                      "3: unknown key 'max_resluts'");
    expect_load_error("max_depth = lots\n", "1: bad value for 'max_depth'");
    expect_load_error("max_depth = 0\n", "1: bad value for 'max_depth': 0 is out of range");
    expect_load_error("max_depth = 65\n", "1: bad value for 'max_depth'");
    expect_load_error("max_results = 12abc\n", "1: bad value for 'max_results'");
    expect_load_error("max_request_bytes = 99999999999999999999\n",
                      "1: bad value for 'max_request_bytes'");
    expect_load_error("max_request_bytes = 2G\n",
                      "1: bad value for 'max_request_bytes'");
    expect_load_error("# ok\njust words\n", "2: expected 'key = value'");
    expect_load_error("fsync = sometimes\n", "1: bad value for 'fsync'");
    expect_load_error("log_level = loud\n", "1: bad value for 'log_level'");
    expect_load_error("bind = http://x\n", "1: bad value for 'bind'");
    expect_load_error("graph =\n", "1: bad value for 'graph'");
    expect_load_error("repair = maybe\n", "1: bad value for 'repair'");
    expect_load_error("max_depth = -1\n", "1: bad value for 'max_depth'");
    /* A line too long to be a setting. */
    char *big = malloc(6000);
    memset(big, 'x', 5998);
    big[5998] = '\n';
    big[5999] = '\0';
    expect_load_error(big, "1: line longer than");
    free(big);

    kg_server_config c;
    kg_server_config_init(&c);
    kg_error err;
    assert_true(kg_server_config_load(&c, "/nonexistent/kgd.conf", &err) < 0);
    assert_non_null(strstr(err.message, "/nonexistent/kgd.conf: cannot open"));
    kg_server_config_free(&c);
}

/* parse(c, err, "--opt", ..., NULL): the arguments after "kgd". */
static int parse(kg_server_config *c, kg_error *err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    argv[argc++] = "kgd";
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return kg_server_config_parse_args(c, argc, argv, err);
}

static void test_command_line(void **state)
{
    (void)state;
    kg_server_config c;
    kg_server_config_init(&c);
    kg_error err;
    const char *path = conf("bind = tcp://127.0.0.1:1\nmax_depth = 2\ngraph = f.gv\n"
                            "log_level = error\n");
    char p[64];
    strcpy(p, path);
    /* The file is read first wherever --config is; options win over it;
     * graph files on the command line replace the file's. */
    assert_int_equal(parse(&c, &err, "--bind", "tcp://127.0.0.1:2", "x.gv",
                           "--config", p, "--log-level=warn", "y.tsv", NULL),
                     KG_ARGS_RUN);
    assert_string_equal(c.bind, "tcp://127.0.0.1:2");
    assert_int_equal(c.max_depth, 2);
    assert_int_equal(c.log_level, KG_LOG_WARN);
    assert_int_equal(c.n_graphs, 2);
    assert_string_equal(c.graphs[0], "x.gv");
    assert_string_equal(c.graphs[1], "y.tsv");
    kg_server_config_free(&c);

    kg_server_config_init(&c);
    assert_int_equal(parse(&c, &err, "--config", p, NULL), KG_ARGS_RUN);
    assert_int_equal(c.n_graphs, 1);
    assert_string_equal(c.graphs[0], "f.gv");
    kg_server_config_free(&c);

    kg_server_config_init(&c);
    assert_int_equal(parse(&c, &err, "--data", "/d", "--repair", "--", "-odd.gv", NULL),
                     KG_ARGS_RUN);
    assert_string_equal(c.data, "/d");
    assert_true(c.repair);
    assert_int_equal(c.n_graphs, 1);
    assert_string_equal(c.graphs[0], "-odd.gv");
    kg_server_config_free(&c);

    kg_server_config_init(&c);
    assert_int_equal(parse(&c, &err, "--help", NULL), KG_ARGS_HELP);
    assert_int_equal(parse(&c, &err, "--version", NULL), KG_ARGS_VERSION);
    assert_true(parse(&c, &err, "--bogus", NULL) < 0);
    assert_string_equal(err.message, "unknown option '--bogus'");
    assert_true(parse(&c, &err, "--bind", NULL) < 0);
    assert_string_equal(err.message, "--bind needs a value");
    assert_true(parse(&c, &err, "--log-level", "loud", NULL) < 0);
    assert_non_null(strstr(err.message, "--log-level: bad value for 'log_level'"));
    assert_true(parse(&c, &err, "--bindx=1", NULL) < 0);
    kg_server_config_free(&c);

    /* A bad file named on the command line fails with its FILE:LINE. */
    const char *bad = conf("\nnope = 1\n");
    char b[64];
    strcpy(b, bad);
    kg_server_config_init(&c);
    assert_true(parse(&c, &err, "--config", b, NULL) < 0);
    char want[128];
    snprintf(want, sizeof want, "%s:2: unknown key 'nope'", b);
    assert_string_equal(err.message, want);
    kg_server_config_free(&c);
    unlink(p);
    unlink(b);
}

static void test_default_graph(void **state)
{
    (void)state;
    setenv("KG_DEFAULT_GRAPH", "/x/y.gv", 1);
    assert_string_equal(kg_server_default_graph(), "/x/y.gv");
    unsetenv("KG_DEFAULT_GRAPH");
    /* This program is not kgd in a build folder: the installed copy. */
    const char *p = kg_server_default_graph();
    assert_non_null(strstr(p, "/graphs/macron-xi-beijing.gv"));
}

static void test_log_levels(void **state)
{
    (void)state;
    assert_int_equal(kg_log_level_from_name("DEBUG"), KG_LOG_DEBUG);
    assert_int_equal(kg_log_level_from_name("warning"), KG_LOG_WARN);
    assert_int_equal(kg_log_level_from_name("error"), KG_LOG_ERROR);
    assert_int_equal(kg_log_level_from_name("chatty"), -1);
    kg_log_set_level(KG_LOG_WARN);
    assert_false(kg_log_enabled(KG_LOG_INFO));
    assert_true(kg_log_enabled(KG_LOG_ERROR));
    kg_log_set_level(KG_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_default_graph),
        cmocka_unit_test(test_log_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
