/* test_proto.c - kg_value, the bounded decoder, the writer, the shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "kg/change.h"
#include "kg/graph.h"
#include "kg/proto.h"

/* A tree with every type, nested. Caller owns it. */
static kg_value *sample_tree(void)
{
    kg_value *m = kg_value_new_map();
    assert_non_null(m);
    assert_int_equal(kg_value_map_set(m, "op", kg_value_new_str("neighbors")), 0);
    assert_int_equal(kg_value_map_set(m, "nil", kg_value_new_nil()), 0);
    assert_int_equal(kg_value_map_set(m, "t", kg_value_new_bool(true)), 0);
    assert_int_equal(kg_value_map_set(m, "f", kg_value_new_bool(false)), 0);
    assert_int_equal(kg_value_map_set(m, "neg", kg_value_new_int(-1)), 0);
    assert_int_equal(kg_value_map_set(m, "i8", kg_value_new_int(-100)), 0);
    assert_int_equal(kg_value_map_set(m, "i64", kg_value_new_int(INT64_MIN)), 0);
    assert_int_equal(kg_value_map_set(m, "big", kg_value_new_uint(UINT64_MAX)), 0);
    assert_int_equal(kg_value_map_set(m, "u16", kg_value_new_uint(40000)), 0);
    assert_int_equal(kg_value_map_set(m, "pi", kg_value_new_float(3.25)), 0);
    assert_int_equal(kg_value_map_set(m, "bin", kg_value_new_bin("\0\1\2", 3)), 0);
    assert_int_equal(kg_value_map_set(m, "nul", kg_value_new_strn("a\0b", 3)), 0);
    kg_value *a = kg_value_new_array();
    assert_non_null(a);
    for (int i = 0; i < 40; i++)
        assert_int_equal(kg_value_array_push(a, kg_value_new_int(i * 1000)), 0);
    kg_value *inner = kg_value_new_map();
    assert_int_equal(kg_value_map_set(inner, "k", kg_value_new_str("v")), 0);
    assert_int_equal(kg_value_array_push(a, inner), 0);
    assert_int_equal(kg_value_array_push(a, kg_value_new_array()), 0);
    assert_int_equal(kg_value_map_set(m, "list", a), 0);
    char longs[300];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    assert_int_equal(kg_value_map_set(m, "long", kg_value_new_str(longs)), 0);
    return m;
}

static void test_round_trip(void **state)
{
    (void)state;
    kg_value *m = sample_tree();
    char *buf;
    size_t len;
    assert_int_equal(kg_proto_encode(m, &buf, &len), 0);
    kg_value *d = NULL;
    kg_error err;
    assert_int_equal(kg_proto_decode(buf, len, NULL, &d, &err), 0);
    assert_true(kg_value_equal(m, d));
    /* Accessors on the decoded tree. */
    assert_string_equal(kg_value_cstr(kg_value_get(d, "op")), "neighbors");
    assert_null(kg_value_cstr(kg_value_get(d, "nul"))); /* embedded NUL */
    size_t sl;
    assert_non_null(kg_value_str(kg_value_get(d, "nul"), &sl));
    assert_int_equal(sl, 3);
    int64_t i;
    assert_int_equal(kg_value_get_int(kg_value_get(d, "i64"), &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(kg_value_get_int(kg_value_get(d, "u16"), &i), 0);
    assert_int_equal(i, 40000);
    assert_int_equal(kg_value_type_of(kg_value_get(d, "big")), KG_VAL_UINT);
    assert_int_equal(kg_value_get_int(kg_value_get(d, "big"), &i), KG_EINVAL);
    double f;
    assert_int_equal(kg_value_get_float(kg_value_get(d, "pi"), &f), 0);
    assert_true(f == 3.25);
    bool b;
    assert_int_equal(kg_value_get_bool(kg_value_get(d, "t"), &b), 0);
    assert_true(b);
    const kg_value *list = kg_value_get(d, "list");
    assert_int_equal(kg_value_len(list), 42);
    assert_int_equal(kg_value_get_int(kg_value_at(list, 39), &i), 0);
    assert_int_equal(i, 39000);
    assert_null(kg_value_at(list, 42));
    assert_string_equal(kg_value_cstr(kg_value_get(kg_value_at(list, 40), "k")), "v");
    assert_null(kg_value_get(d, "absent"));
    /* A decoded tree is read-only. */
    assert_int_equal(kg_value_map_set(d, "x", kg_value_new_nil()), KG_EINVAL);
    /* Clone of a decoded tree is a built one, equal and mutable. */
    kg_value *c = kg_value_clone(d);
    assert_true(kg_value_equal(c, d));
    assert_int_equal(kg_value_map_set(c, "op", kg_value_new_str("path")), 0);
    assert_false(kg_value_equal(c, d));
    assert_string_equal(kg_value_cstr(kg_value_get(c, "op")), "path");
    /* Pushing a decoded tree into a built one copies it. */
    assert_int_equal(kg_value_map_set(c, "copy", d), 0); /* consumes d */
    assert_true(kg_value_equal(kg_value_get(c, "copy"), kg_value_get(c, "copy")));
    assert_int_equal(kg_value_len(kg_value_get(kg_value_get(c, "copy"), "list")), 42);
    kg_value_destroy(&c);
    assert_null(c);
    kg_value_destroy(&m);
    kg_value_destroy(&m); /* NULL is fine */
    free(buf);
}

/* Known bytes from the msgpack spec, decoded to the expected values. */
static void test_known_bytes(void **state)
{
    (void)state;
    /* {"op": "ping", "id": 1} */
    const unsigned char ping[] = {0x82, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g',
                                  0xa2, 'i', 'd', 0x01};
    kg_value *v;
    assert_int_equal(kg_proto_decode(ping, sizeof ping, NULL, &v, NULL), 0);
    assert_int_equal(kg_value_type_of(v), KG_VAL_MAP);
    assert_string_equal(kg_value_cstr(kg_value_get(v, "op")), "ping");
    kg_value_destroy(&v);

    struct {
        unsigned char b[10];
        size_t n;
        int64_t want;
    } ints[] = {
        {{0xff}, 1, -1},
        {{0xe0}, 1, -32},
        {{0x7f}, 1, 127},
        {{0xd0, 0x80}, 2, -128},
        {{0xd1, 0xff, 0x00}, 3, -256},
        {{0xcd, 0xff, 0xff}, 3, 65535},
        {{0xd2, 0x80, 0, 0, 0}, 5, INT32_MIN},
        {{0xce, 0xff, 0xff, 0xff, 0xff}, 5, 4294967295LL},
        {{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9, 4294967296LL},
    };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        assert_int_equal(kg_proto_decode(ints[k].b, ints[k].n, NULL, &v, NULL), 0);
        int64_t i;
        assert_int_equal(kg_value_get_int(v, &i), 0);
        assert_true(i == ints[k].want);
        kg_value_destroy(&v);
    }
    const unsigned char f32[] = {0xca, 0x40, 0x49, 0x0f, 0xdb}; /* ~pi */
    assert_int_equal(kg_proto_decode(f32, sizeof f32, NULL, &v, NULL), 0);
    assert_int_equal(kg_value_type_of(v), KG_VAL_FLOAT);
    assert_true(v->u.f > 3.14159 && v->u.f < 3.1416);
    kg_value_destroy(&v);
    const unsigned char s8[] = {0xd9, 0x03, 'a', 'b', 'c'};
    assert_int_equal(kg_proto_decode(s8, sizeof s8, NULL, &v, NULL), 0);
    assert_string_equal(kg_value_cstr(v), "abc");
    kg_value_destroy(&v);
    const unsigned char empty_map[] = {0x80};
    assert_int_equal(kg_proto_decode(empty_map, 1, NULL, &v, NULL), 0);
    assert_int_equal(kg_value_len(v), 0);
    kg_value_destroy(&v);
}

static void expect_fail(const void *buf, size_t len, const kg_proto_limits *lim,
                        int code, const char *fragment)
{
    kg_value *v = (kg_value *)(uintptr_t)1;
    kg_error err;
    kg_error_clear(&err);
    int rc = kg_proto_decode(buf, len, lim, &v, &err);
    if (rc != code)
        fail_msg("expected %d, got %d (%s)", code, rc, err.message);
    assert_null(v);
    assert_int_equal(err.code, code);
    if (fragment && !strstr(err.message, fragment))
        fail_msg("message '%s' lacks '%s'", err.message, fragment);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    kg_value *m = sample_tree();
    char *buf;
    size_t len;
    assert_int_equal(kg_proto_encode(m, &buf, &len), 0);
    assert_true(len > 400);
    for (size_t cut = 0; cut < len; cut++) {
        /* A fresh allocation of exactly cut bytes, so ASan catches any read
         * past the end. */
        char *part = malloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        expect_fail(part, cut, NULL, KG_EPARSE, "truncated");
        free(part);
    }
    /* And one byte too many. */
    char *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = (char)0xc0;
    expect_fail(more, len + 1, NULL, KG_EPARSE, "trailing");
    free(more);
    free(buf);
    kg_value_destroy(&m);
}

/* kg_proto_decode_in: the same trees as kg_proto_decode, in one buffer
 * that grows only when a message needs more and survives errors. */
static void test_decode_in_buffer(void **state)
{
    (void)state;
    kg_proto_buffer b = {0};
    kg_value *small = kg_value_new_map();
    assert_int_equal(kg_value_map_set(small, "op", kg_value_new_str("ping")), 0);
    char *sbuf, *bbuf;
    size_t slen, blen;
    assert_int_equal(kg_proto_encode(small, &sbuf, &slen), 0);
    kg_value *big = sample_tree();
    assert_int_equal(kg_proto_encode(big, &bbuf, &blen), 0);

    kg_value *v = NULL;
    assert_int_equal(kg_proto_decode_in(&b, sbuf, slen, NULL, &v, NULL), 0);
    assert_true(kg_value_equal(v, small));
    assert_ptr_equal(v, b.mem);
    size_t cap = b.cap;
    assert_true(cap > 0);
    /* Destroying it leaves the buffer's memory alone (ASan would see a
     * double free at kg_proto_buffer_free otherwise). */
    kg_value_destroy(&v);
    assert_null(v);

    /* A bigger message grows the buffer; the tree is whole. */
    assert_int_equal(kg_proto_decode_in(&b, bbuf, blen, NULL, &v, NULL), 0);
    assert_true(kg_value_equal(v, big));
    assert_true(b.cap > cap);
    cap = b.cap;
    void *mem = b.mem;

    /* A smaller one reuses it. */
    assert_int_equal(kg_proto_decode_in(&b, sbuf, slen, NULL, &v, NULL), 0);
    assert_true(kg_value_equal(v, small));
    assert_ptr_equal(b.mem, mem);
    assert_int_equal(b.cap, cap);

    /* A broken one fails as kg_proto_decode does and keeps the memory. */
    kg_error err;
    assert_int_equal(kg_proto_decode_in(&b, bbuf, blen - 1, NULL, &v, &err),
                     KG_EPARSE);
    assert_null(v);
    assert_non_null(strstr(err.message, "truncated"));
    assert_ptr_equal(b.mem, mem);
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    lim.max_bytes = slen - 1;
    assert_int_equal(kg_proto_decode_in(&b, sbuf, slen, &lim, &v, &err), KG_ELIMIT);
    assert_null(v);

    /* Decoded trees are read-only, as kg_proto_decode's are. */
    assert_int_equal(kg_proto_decode_in(&b, sbuf, slen, NULL, &v, NULL), 0);
    assert_int_equal(kg_value_map_set(v, "x", kg_value_new_nil()), KG_EINVAL);

    kg_proto_buffer_free(&b);
    assert_null(b.mem);
    assert_int_equal(b.cap, 0);
    kg_proto_buffer_free(&b); /* twice is harmless */
    free(sbuf);
    free(bbuf);
    kg_value_destroy(&small);
    kg_value_destroy(&big);
}

static void test_nesting(void **state)
{
    (void)state;
    unsigned char deep[1001];
    memset(deep, 0x91, 1000); /* [[[[...nil...]]]] 1000 deep */
    deep[1000] = 0xc0;
    expect_fail(deep, sizeof deep, NULL, KG_ELIMIT, "nesting");
    /* 32 levels pass, 33 do not. */
    kg_value *v;
    assert_int_equal(kg_proto_decode(deep + 1000 - 32, 33, NULL, &v, NULL), 0);
    kg_value_destroy(&v);
    expect_fail(deep + 1000 - 33, 34, NULL, KG_ELIMIT, "nesting");
    /* Deep maps too: {"a": {"a": ...}} */
    unsigned char dm[3 * 40 + 1];
    for (int i = 0; i < 40; i++) {
        dm[3 * i] = 0x81;
        dm[3 * i + 1] = 0xa1;
        dm[3 * i + 2] = 'a';
    }
    dm[120] = 0x01;
    expect_fail(dm, sizeof dm, NULL, KG_ELIMIT, "nesting");
    /* A caller asking for absurd depth is capped, not trusted. */
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    lim.max_depth = 1000000;
    unsigned char *huge = malloc(100001);
    memset(huge, 0x91, 100000);
    huge[100000] = 0xc0;
    expect_fail(huge, 100001, &lim, KG_ELIMIT, "nesting");
    free(huge);
}

static void test_huge_headers(void **state)
{
    (void)state;
    const unsigned char arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    expect_fail(arr32, sizeof arr32, NULL, KG_ELIMIT, "items");
    const unsigned char map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'a'};
    expect_fail(map32, sizeof map32, NULL, KG_ELIMIT, "items");
    /* With no item bound the header is checked against the bytes left. */
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    lim.max_items = SIZE_MAX;
    expect_fail(arr32, sizeof arr32, &lim, KG_EPARSE, "truncated");
    expect_fail(map32, sizeof map32, &lim, KG_EPARSE, "truncated");
    const unsigned char str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    expect_fail(str32, sizeof str32, NULL, KG_EPARSE, "truncated");
    const unsigned char bin32[] = {0xc6, 0x7f, 0xff, 0xff, 0xff};
    expect_fail(bin32, sizeof bin32, NULL, KG_EPARSE, "truncated");
    /* An array of exactly max_items passes, one more is a limit. */
    lim.max_items = 3;
    const unsigned char a3[] = {0x93, 1, 2, 3}, a4[] = {0x94, 1, 2, 3, 4};
    kg_value *v;
    assert_int_equal(kg_proto_decode(a3, sizeof a3, &lim, &v, NULL), 0);
    kg_value_destroy(&v);
    expect_fail(a4, sizeof a4, &lim, KG_ELIMIT, "items");
    /* Size limit before anything is read. */
    lim.max_bytes = 3;
    expect_fail(a3, sizeof a3, &lim, KG_ELIMIT, "bytes");
}

static void test_invalid_types(void **state)
{
    (void)state;
    const unsigned char c1[] = {0xc1};
    expect_fail(c1, 1, NULL, KG_EPARSE, "0xc1");
    const unsigned char in_map[] = {0x81, 0xa1, 'k', 0xc1};
    expect_fail(in_map, sizeof in_map, NULL, KG_EPARSE, "offset 3");
    const unsigned char fixext[] = {0xd4, 0x01, 0x00};
    expect_fail(fixext, sizeof fixext, NULL, KG_EPARSE, "ext");
    const unsigned char ext8[] = {0xc7, 0x01, 0x05, 0x00};
    expect_fail(ext8, sizeof ext8, NULL, KG_EPARSE, "ext");
    const unsigned char intkey[] = {0x81, 0x01, 0x02};
    expect_fail(intkey, sizeof intkey, NULL, KG_EPARSE, "map key is int");
    const unsigned char arrkey[] = {0x81, 0x90, 0x02};
    expect_fail(arrkey, sizeof arrkey, NULL, KG_EPARSE, "map key is array");
    const unsigned char binkey[] = {0x81, 0xc4, 0x01, 'k', 0x02};
    expect_fail(binkey, sizeof binkey, NULL, KG_EPARSE, "map key is bin");
    expect_fail("", 0, NULL, KG_EPARSE, "truncated");
}

/* Random garbage and mutations of a valid message: the decoder either
 * succeeds with a tree that re-encodes to the same bytes, or fails
 * cleanly (ASan/UBSan watch the rest). */
static void test_garbage(void **state)
{
    (void)state;
    kg_value *m = sample_tree();
    char *good;
    size_t glen;
    assert_int_equal(kg_proto_encode(m, &good, &glen), 0);
    uint32_t seed = 12345;
    unsigned ok = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len;
        unsigned char *buf;
        if (round % 2) {
            len = glen;
            buf = malloc(len);
            memcpy(buf, good, len);
            for (int k = 0; k < 3; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[(seed >> 8) % len] = (unsigned char)(seed >> 20);
            }
        } else {
            seed = seed * 1103515245u + 12345u;
            len = 1 + (seed >> 8) % 64;
            buf = malloc(len);
            for (size_t k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[k] = (unsigned char)(seed >> 16);
            }
        }
        kg_value *v = NULL;
        int rc = kg_proto_decode(buf, len, NULL, &v, NULL);
        if (rc == 0) {
            ok++;
            char *again;
            size_t alen;
            assert_int_equal(kg_proto_encode(v, &again, &alen), 0);
            kg_value *v2;
            assert_int_equal(kg_proto_decode(again, alen, NULL, &v2, NULL), 0);
            assert_true(kg_value_equal(v, v2));
            kg_value_destroy(&v2);
            free(again);
            kg_value_destroy(&v);
        } else {
            assert_true(rc == KG_EPARSE || rc == KG_ELIMIT);
            assert_null(v);
        }
        free(buf);
    }
    assert_true(ok > 0);
    free(good);
    kg_value_destroy(&m);
}

static void test_writer(void **state)
{
    (void)state;
    kg_writer *w = kg_writer_new();
    assert_non_null(w);
    for (int round = 0; round < 3; round++) {
        kg_writer_reset(w);
        kg_write_map(w, 2);
        kg_write_str(w, "id");
        kg_write_int(w, round);
        kg_write_str(w, "ok");
        kg_write_bool(w, true);
        assert_int_equal(kg_writer_error(w), 0);
        size_t len;
        const char *data = kg_writer_data(w, &len);
        const unsigned char want[] = {0x82, 0xa2, 'i', 'd', (unsigned char)round,
                                      0xa2, 'o', 'k', 0xc3};
        assert_int_equal(len, sizeof want);
        assert_memory_equal(data, want, sizeof want);
    }
    char *buf;
    size_t len;
    assert_int_equal(kg_writer_release(w, &buf, &len), 0);
    assert_int_equal(len, 9);
    free(buf);
    kg_writer_data(w, &len);
    assert_int_equal(len, 0);
    /* Raw bytes are spliced in verbatim. */
    kg_write_array(w, 1);
    kg_write_raw(w, "\xc0", 1);
    kg_value *v;
    const char *d = kg_writer_data(w, &len);
    assert_int_equal(kg_proto_decode(d, len, NULL, &v, NULL), 0);
    assert_int_equal(kg_value_type_of(kg_value_at(v, 0)), KG_VAL_NIL);
    kg_value_destroy(&v);
    kg_writer_destroy(&w);
    assert_null(w);
    kg_writer_destroy(&w);
}

/* Encode a request with the writer and decode it: what a client sends. */
static kg_value *decode_writer(kg_writer *w)
{
    size_t len;
    const char *d = kg_writer_data(w, &len);
    kg_value *v = NULL;
    kg_error err;
    if (kg_proto_decode(d, len, NULL, &v, &err))
        fail_msg("decode: %s", err.message);
    return v;
}

/* Pieces of hand-written requests. */

/* "k": "v" in a map. */
static void w_kv(kg_writer *w, const char *k, const char *v)
{
    kg_write_str(w, k);
    kg_write_str(w, v);
}

/* {key: [ followed by the caller's n items ]} */
static void w_list(kg_writer *w, const char *key, size_t n)
{
    kg_write_map(w, 1);
    kg_write_str(w, key);
    kg_write_array(w, n);
}

/* A relation map of n entries: subject, relation and object, then the
 * caller's n - 3 entries. */
static void w_relation(kg_writer *w, size_t n, const char *s, const char *r,
                       const char *o)
{
    kg_write_map(w, n);
    w_kv(w, "subject", s);
    w_kv(w, "relation", r);
    w_kv(w, "object", o);
}

static void test_request_to_batch(void **state)
{
    (void)state;
    kg_writer *w = kg_writer_new();
    const char *al[] = {"Canadian"};
    kg_pair attrs[] = {{"iso2", "CA"}};
    kg_entity_spec es = {.id = "Canada", .kind = "country", .aliases = al,
                         .n_aliases = 1, .attrs = attrs, .n_attrs = 1};
    kg_pair q[] = {{"origin", "Canada"}, {"rate", "25%"}};
    kg_pair p[] = {{"evidence", "It said so."}};
    kg_relation_spec rs = {.subject = "United States", .relation = "tariffs-on",
                           .object = "steel", .quals = q, .n_quals = 2,
                           .prov = p, .n_prov = 1};
    kg_write_map(w, 3);
    kg_write_str(w, "op");
    kg_write_str(w, "add");
    kg_write_str(w, "relations");
    kg_write_array(w, 1);
    kg_proto_write_relation_spec(w, &rs);
    kg_write_str(w, "entities");
    kg_write_array(w, 1);
    kg_proto_write_entity_spec(w, &es);
    kg_value *req = decode_writer(w);
    kg_batch *b = kg_batch_new();
    kg_error err;
    assert_int_equal(kg_proto_request_to_batch(req, false, b, &err), 0);
    assert_int_equal(kg_batch_count(b), 2);
    const kg_change *c0 = kg_batch_get(b, 0), *c1 = kg_batch_get(b, 1);
    assert_int_equal(c0->op, KG_CHANGE_ENTITY_ADD); /* entities first */
    assert_string_equal(c0->u.entity.id, "Canada");
    assert_int_equal(c0->u.entity.n_aliases, 1);
    assert_string_equal(c0->u.entity.aliases[0], "Canadian");
    assert_string_equal(c0->u.entity.attrs[0].value, "CA");
    assert_int_equal(c1->op, KG_CHANGE_RELATION_ADD);
    assert_string_equal(c1->u.relation.subject, "United States");
    assert_int_equal(c1->u.relation.n_quals, 2);
    assert_int_equal(c1->u.relation.n_prov, 1);

    /* Apply to a graph and write the relation back from the graph: the
     * same relation object comes out. */
    kg_graph *g = kg_graph_new();
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    kg_rid r = kg_relation_first(g);
    assert_true(r != KG_NONE);
    kg_writer_reset(w);
    kg_proto_write_relation(w, g, r);
    kg_value *got = decode_writer(w);
    kg_writer_reset(w);
    kg_proto_write_relation_spec(w, &rs);
    kg_value *want = decode_writer(w);
    assert_true(kg_value_equal(got, want));
    kg_value_destroy(&got);
    kg_value_destroy(&want);
    kg_eid e = kg_entity_find(g, "canadian");
    assert_true(e != KG_NONE);
    kg_writer_reset(w);
    kg_proto_write_entity(w, g, e);
    got = decode_writer(w);
    assert_string_equal(kg_value_cstr(kg_value_get(got, "id")), "Canada");
    assert_string_equal(kg_value_cstr(kg_value_get(got, "kind")), "country");
    assert_string_equal(kg_value_cstr(kg_value_at(kg_value_get(got, "aliases"), 0)),
                        "Canadian");
    assert_string_equal(kg_value_cstr(kg_value_get(kg_value_get(got, "attributes"), "iso2")),
                        "CA");
    kg_value_destroy(&got);

    /* Remove: ids as plain strings, relations first. */
    kg_batch_clear(b);
    kg_writer_reset(w);
    kg_write_map(w, 2);
    kg_write_str(w, "entities");
    kg_write_array(w, 1);
    kg_write_str(w, "Canada");
    kg_write_str(w, "relations");
    kg_write_array(w, 1);
    w_relation(w, 3, "United States", "tariffs-on", "steel");
    kg_value_destroy(&req);
    req = decode_writer(w);
    assert_int_equal(kg_proto_request_to_batch(req, true, b, &err), 0);
    assert_int_equal(kg_batch_count(b), 2);
    assert_int_equal(kg_batch_get(b, 0)->op, KG_CHANGE_RELATION_REMOVE);
    assert_int_equal(kg_batch_get(b, 1)->op, KG_CHANGE_ENTITY_REMOVE);
    assert_int_equal(kg_graph_apply(g, b, &err), 0);
    assert_int_equal(kg_relation_count(g), 0);

    kg_value_destroy(&req);
    kg_batch_destroy(&b);
    kg_graph_destroy(&g);
    kg_writer_destroy(&w);
}

/* Each bad request is written out by hand with the writer. */
static void bad_request(void (*fill)(kg_writer *), bool remove,
                        const char *fragment)
{
    kg_writer *w = kg_writer_new();
    fill(w);
    kg_value *req = decode_writer(w);
    kg_batch *b = kg_batch_new();
    /* Something already in the batch must survive the failure. */
    kg_batch_remove_entity(b, "keep", 0);
    kg_error err;
    kg_error_clear(&err);
    int rc = kg_proto_request_to_batch(req, remove, b, &err);
    assert_int_equal(rc, KG_EINVAL);
    if (!strstr(err.message, fragment))
        fail_msg("message '%s' lacks '%s'", err.message, fragment);
    assert_int_equal(kg_batch_count(b), 1);
    kg_batch_destroy(&b);
    kg_value_destroy(&req);
    kg_writer_destroy(&w);
}

static void fill_rel_not_map(kg_writer *w)
{
    w_list(w, "relations", 2);
    w_relation(w, 3, "a", "r", "b");
    kg_write_int(w, 5);
}
static void fill_rel_missing(kg_writer *w)
{
    w_list(w, "relations", 1);
    kg_write_map(w, 2);
    w_kv(w, "subject", "a");
    w_kv(w, "object", "b");
}
static void fill_rel_bad_qual(kg_writer *w)
{
    w_list(w, "relations", 1);
    w_relation(w, 4, "a", "r", "b");
    kg_write_str(w, "qualifiers");
    kg_write_map(w, 1);
    kg_write_str(w, "rate");
    kg_write_int(w, 25);
}
static void fill_rel_unknown_key(kg_writer *w)
{
    w_list(w, "relations", 1);
    w_relation(w, 4, "a", "r", "b");
    kg_write_str(w, "qualifers");
    kg_write_map(w, 0);
}
static void fill_ent_empty_id(kg_writer *w)
{
    w_list(w, "entities", 1);
    kg_write_map(w, 1);
    w_kv(w, "id", "");
}
static void fill_ent_aliases(kg_writer *w)
{
    w_list(w, "entities", 1);
    kg_write_map(w, 2);
    w_kv(w, "id", "X");
    w_kv(w, "aliases", "Y");
}
static void fill_not_array(kg_writer *w)
{
    kg_write_map(w, 1);
    w_kv(w, "entities", "X");
}
static void fill_nul_in_name(kg_writer *w)
{
    w_list(w, "entities", 1);
    kg_write_strn(w, "a\0b", 3);
}

static void test_bad_requests(void **state)
{
    (void)state;
    bad_request(fill_rel_not_map, false, "relations[1]: expected a relation map, got int");
    bad_request(fill_rel_missing, false, "relations[0]: missing 'relation'");
    bad_request(fill_rel_bad_qual, false,
                "relations[0].qualifiers.rate: expected str, got int");
    bad_request(fill_rel_unknown_key, false, "unknown key 'qualifers'");
    bad_request(fill_ent_empty_id, false, "entities[0].id: empty string");
    bad_request(fill_ent_aliases, false, "aliases: expected array, got str");
    bad_request(fill_not_array, false, "entities: expected array, got str");
    bad_request(fill_nul_in_name, true, "NUL");
}

static void test_change_feed(void **state)
{
    (void)state;
    kg_batch *b = kg_batch_new();
    kg_pair q[] = {{"kind", "duty"}};
    kg_relation_spec rs = {.subject = "China", .relation = "tariffs-on",
                           .object = "pork", .quals = q, .n_quals = 1};
    kg_entity_spec es = {.id = "Canada", .kind = "country"};
    assert_int_equal(kg_batch_add_relation(b, &rs, 0), 0);
    assert_int_equal(kg_batch_remove_relation(b, &rs, 0), 0);
    assert_int_equal(kg_batch_add_entity(b, &es, 0), 0);
    assert_int_equal(kg_batch_remove_entity(b, "Canada", 0), 0);
    kg_writer *w = kg_writer_new();
    kg_batch *back = kg_batch_new();
    const char *topics[] = {"tariffs-on", "tariffs-on", "entity", "entity"};
    for (size_t i = 0; i < kg_batch_count(b); i++) {
        const kg_change *c = kg_batch_get(b, i);
        assert_string_equal(kg_proto_change_topic(c), topics[i]);
        kg_writer_reset(w);
        assert_int_equal(kg_proto_write_change(w, 18 + i, c), 0);
        kg_value *body = decode_writer(w);
        uint64_t seq = 0;
        kg_error err;
        if (kg_proto_change_from_value(body, back, &seq, &err))
            fail_msg("%s", err.message);
        assert_int_equal(seq, 18 + i);
        const kg_change *d = kg_batch_get(back, i);
        assert_int_equal(d->op, c->op);
        if (c->op == KG_CHANGE_RELATION_ADD || c->op == KG_CHANGE_RELATION_REMOVE) {
            assert_string_equal(d->u.relation.object, "pork");
            assert_int_equal(d->u.relation.n_quals, 1);
        } else {
            assert_string_equal(d->u.entity.id, "Canada");
        }
        kg_value_destroy(&body);
    }
    /* A body of another shape. */
    kg_writer_reset(w);
    kg_write_map(w, 1);
    kg_write_str(w, "seq");
    kg_write_int(w, 1);
    kg_value *body = decode_writer(w);
    assert_int_equal(kg_proto_change_from_value(body, back, NULL, NULL), KG_EINVAL);
    kg_value_destroy(&body);
    kg_batch_destroy(&back);
    kg_batch_destroy(&b);
    kg_writer_destroy(&w);
}

static void test_builders(void **state)
{
    (void)state;
    /* A failed constructor passed along is reported, not crashed on. */
    kg_value *a = kg_value_new_array();
    assert_int_equal(kg_value_array_push(a, NULL), KG_ENOMEM);
    assert_int_equal(kg_value_array_push(NULL, kg_value_new_int(1)), KG_EINVAL);
    kg_value *s = kg_value_new_str("x");
    assert_int_equal(kg_value_array_push(s, kg_value_new_int(1)), KG_EINVAL);
    kg_value_destroy(&s);
    assert_int_equal(kg_value_map_set(a, "k", kg_value_new_int(1)), KG_EINVAL);
    assert_int_equal(kg_value_len(a), 0);
    kg_value *m = kg_value_new_map();
    assert_int_equal(kg_value_map_set(m, "k", kg_value_new_int(1)), 0);
    assert_int_equal(kg_value_map_set(m, "k", kg_value_new_int(2)), 0);
    assert_int_equal(kg_value_len(m), 1);
    int64_t i;
    assert_int_equal(kg_value_get_int(kg_value_get(m, "k"), &i), 0);
    assert_int_equal(i, 2);
    assert_string_equal(kg_value_entry(m, 0)->key, "k");
    assert_int_equal(kg_value_array_push(a, m), 0);
    assert_string_equal(kg_value_type_name(kg_value_type_of(kg_value_at(a, 0))), "map");
    assert_false(kg_value_equal(a, NULL));
    kg_value *u = kg_value_new_uint(7), *n = kg_value_new_int(7);
    assert_true(kg_value_equal(u, n));
    kg_value_destroy(&u);
    kg_value_destroy(&n);
    char *buf;
    size_t len;
    assert_int_equal(kg_proto_encode(NULL, &buf, &len), KG_EINVAL);
    kg_value_destroy(&a);
}

static void test_utf8(void **state)
{
    (void)state;
    struct {
        const char *s;
        size_t n;
        bool ok;
    } cases[] = {
        {"", 0, true},
        {"plain", 5, true},
        {"caf\xc3\xa9", 5, true},
        {"\xe2\x82\xac", 3, true},          /* euro sign */
        {"\xf0\x9f\x90\xbc", 4, true},      /* panda */
        {"\xf4\x8f\xbf\xbf", 4, true},      /* U+10FFFF */
        {"a\0b", 3, true},                  /* NUL is valid UTF-8 */
        {"\xc3", 1, false},                 /* truncated */
        {"\xe2\x82", 2, false},
        {"\xc3\x28", 2, false},             /* bad continuation */
        {"\xc0\xaf", 2, false},             /* overlong '/' */
        {"\xe0\x80\xaf", 3, false},         /* overlong */
        {"\xed\xa0\x80", 3, false},         /* surrogate */
        {"\xf4\x90\x80\x80", 4, false},     /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, false},
        {"\x80", 1, false},
        {"\xff", 1, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (kg_proto_utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
            fail_msg("case %zu", i);
    kg_value *m = kg_value_new_map();
    kg_value *a = kg_value_new_array();
    assert_int_equal(kg_value_array_push(a, kg_value_new_str("ok")), 0);
    assert_int_equal(kg_value_map_set(m, "list", a), 0);
    assert_true(kg_value_utf8_valid(m));
    a = kg_value_new_array();
    assert_int_equal(kg_value_array_push(a, kg_value_new_strn("\xc3\x28", 2)), 0);
    assert_int_equal(kg_value_map_set(m, "bad", a), 0);
    assert_false(kg_value_utf8_valid(m));
    kg_value_destroy(&m);
    m = kg_value_new_map();
    assert_int_equal(kg_value_map_set(m, "\xff", kg_value_new_nil()), 0);
    assert_false(kg_value_utf8_valid(m));
    kg_value_destroy(&m);
    /* Binary data is not text: not checked. */
    kg_value *b = kg_value_new_bin("\xff", 1);
    assert_true(kg_value_utf8_valid(b));
    kg_value_destroy(&b);
}

/* With limits.utf8 the decoder refuses, as KG_EINVAL at the string's
 * offset, a str value or a map key that is not UTF-8, at any depth; bin
 * is not text; without the flag the same bytes decode. */
static void test_decode_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        bool ok;
        size_t offset; /* of the bad string */
    } cases[] = {
        {"\x81\xa2op\xa4ping", 9, true, 0},              /* {"op": "ping"} */
        {"\x81\xa2op\xa2\xc3\xa9", 7, true, 0},          /* "é" */
        {"\x81\xa2op\xa2\xc3\x28", 7, false, 4},         /* bad value */
        {"\x81\xa1\xff\xc0", 4, false, 1},               /* bad key */
        {"\x91\x91\x92\xa1" "a\xa1\x80", 7, false, 5}, /* [[["a", bad]]] */
        {"\x81\xa1k\xc4\x01\xff", 6, true, 0},           /* bin: not text */
    };
    kg_proto_limits lim;
    kg_proto_limits_init(&lim);
    assert_false(lim.utf8);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kg_value *v = NULL;
        kg_error err;
        kg_error_clear(&err);
        lim.utf8 = false;
        assert_int_equal(kg_proto_decode(cases[i].bytes, cases[i].len, &lim, &v,
                                         &err), 0);
        kg_value_destroy(&v);
        lim.utf8 = true;
        int rc = kg_proto_decode(cases[i].bytes, cases[i].len, &lim, &v, &err);
        if (cases[i].ok) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, err.message);
            assert_true(kg_value_utf8_valid(v));
            kg_value_destroy(&v);
            continue;
        }
        assert_int_equal(rc, KG_EINVAL);
        assert_null(v);
        char want[64];
        snprintf(want, sizeof want, "offset %zu: a string is not valid UTF-8",
                 cases[i].offset);
        assert_string_equal(err.message, want);
    }
}

/* kg_writer's own fast paths for small items produce exactly the bytes
 * msgpack-c's packer does, at every size around the format boundaries
 * and across the buffer's growth (the first write of an empty writer and
 * writes that do not fit go through the packer). */
static void test_writer_matches_msgpack_c(void **state)
{
    (void)state;
    kg_writer *w = kg_writer_new();
    assert_non_null(w);
    msgpack_sbuffer ref;
    msgpack_sbuffer_init(&ref);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ref, msgpack_sbuffer_write);
    char text[300];
    memset(text, 'x', sizeof text);
    for (int round = 0; round < 80; round++) {
        for (size_t n = 0; n < 40; n++) {
            kg_write_strn(w, text, n);
            msgpack_pack_str_with_body(&pk, text, n);
        }
        kg_write_strn(w, text, 300);
        msgpack_pack_str_with_body(&pk, text, 300);
        for (size_t n = 0; n < 20; n++) {
            kg_write_map(w, n);
            msgpack_pack_map(&pk, n);
            kg_write_array(w, n);
            msgpack_pack_array(&pk, n);
        }
        for (uint64_t u = 0; u < 300; u += 7) {
            kg_write_uint(w, u);
            msgpack_pack_uint64(&pk, u);
        }
        kg_write_uint(w, UINT64_MAX);
        msgpack_pack_uint64(&pk, UINT64_MAX);
    }
    size_t len;
    const char *got = kg_writer_data(w, &len);
    assert_int_equal(kg_writer_error(w), 0);
    assert_true(len > 65536); /* grew several times */
    assert_int_equal(len, ref.size);
    assert_memory_equal(got, ref.data, len);
    msgpack_sbuffer_destroy(&ref);
    kg_writer_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_writer_matches_msgpack_c),
        cmocka_unit_test(test_known_bytes),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_decode_in_buffer),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_huge_headers),
        cmocka_unit_test(test_invalid_types),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_request_to_batch),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_change_feed),
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_decode_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
