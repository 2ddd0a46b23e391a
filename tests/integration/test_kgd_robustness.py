"""Whatever a client sends, kgd answers it or drops it and keeps serving
everyone else (docs/protocol.md)."""
import random
import struct

import msgpack
import pytest
import zmq

from conftest import KgdProcess
from test_kgd_server import check_clean_exit


@pytest.fixture(scope="module")
def k(tmp_path_factory):
    d = tmp_path_factory.mktemp("robust")
    server = KgdProcess(str(d), graphs=(), config={"max_request_bytes": "4K"})
    yield server
    check_clean_exit(server, server.stop())


def dealer(k, timeout=5000):
    d = k.ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.setsockopt(zmq.RCVTIMEO, timeout)
    d.connect(k.endpoint)
    return d


def still_serving(k):
    assert k.ok(op="ping", id="alive") == {"pong": True, "version": k.ok(op="ping")["version"]}


def error_of(d, frames):
    d.send_multipart(frames)
    rep = msgpack.unpackb(d.recv_multipart()[-1])
    assert rep["ok"] is False, rep
    return rep


BAD_BODIES = [
    (b"", "parse", "truncated"),
    (b"\xc1", "parse", "0xc1"),
    (b"\x82\xa2op", "parse", "truncated"),                     # truncated map
    (msgpack.packb([1, 2, 3]), "parse", "not a map"),
    (msgpack.packb(42), "parse", "not a map"),
    (msgpack.packb("ping"), "parse", "not a map"),
    (b"\x81\x01\x02", "parse", "map key is int"),              # non-string key
    (b"\xd4\x01\x00", "parse", "ext"),                         # extension type
    (b"\xdd\xff\xff\xff\xff", "limit", "items"),               # 2^32 - 1 items
    (b"\xdf\xff\xff\xff\xff", "limit", "items"),
    (b"\xdb\xff\xff\xff\xff", "parse", "truncated"),           # 4 GiB string
    (b"\x91" * 1000 + b"\xc0", "limit", "nesting"),            # 1000 deep
    (msgpack.packb({"op": "ping"}) + b"\xc0", "parse", "trailing"),
    (b"\x80", "invalid", "missing 'op'"),
    (b"\xff" * 64, "parse", "trailing"),
    (b"x" * 5000, "limit", "max_request_bytes"),               # over 4K
    (b"\x82\xa2op\xa6entity\xa4name\xa2\xc3\x28", "invalid", "UTF-8"),
    (b"\x82\xa2op\xa4ping\xa2\xed\xa0\x02", "invalid", "UTF-8"),  # surrogate key
]


@pytest.mark.parametrize("body,code,text", BAD_BODIES)
def test_bad_bodies_get_errors(k, body, code, text):
    d = dealer(k)
    rep = error_of(d, [body])
    assert rep["error"]["code"] == code, rep
    assert text in rep["error"]["message"], rep
    assert rep["id"] is None
    d.close()
    still_serving(k)


def test_wrong_types_everywhere(k):
    s = k.req()
    for req in [{"op": "neighbors", "entity": ["China"]},
                {"op": "neighbors", "entity": "China", "relations": "tariffs-on"},
                {"op": "neighbors", "entity": "China", "relations": [1, 2]},
                {"op": "neighbors", "entity": "China", "depth": "two"},
                {"op": "neighbors", "entity": "China", "depth": 0},
                {"op": "relations", "limit": -1},
                {"op": "relations", "where": {"kind": 3}},
                {"op": "match", "patterns": [["?a", "r"]]},
                {"op": "match", "patterns": [[1, 2, 3]]},
                {"op": "match", "patterns": []},
                {"op": "path", "from": "China"},
                {"op": "add", "entities": [{"id": "X", "aliases": [None]}]},
                {"op": "add", "relations": [{"subject": "a", "relation": "r", "object": "b",
                                             "qualifiers": {"k": {"nested": 1}}}]},
                {"op": "add", "relations": "all of them"},
                {"op": "entity", "name": "a\x00b"},
                {"op": "entity", "name": b"bytes"},
                {"op": "ping", "op2": 1}]:
        rep = k.call(s, **req)
        assert rep["ok"] is False and rep["error"]["code"] in ("invalid", "limit"), (req, rep)
    s.close()
    still_serving(k)


def test_envelopes(k):
    d = dealer(k)
    # Extra frames before the body come back as they were.
    d.send_multipart([b"a", b"bb", msgpack.packb({"op": "ping", "id": 1})])
    frames = d.recv_multipart()
    assert frames[:2] == [b"a", b"bb"] and msgpack.unpackb(frames[2])["id"] == 1
    # Too many frames: dropped without a reply, the socket still works.
    d.send_multipart([b"x"] * 20 + [msgpack.packb({"op": "ping"})])
    d.send(msgpack.packb({"op": "ping", "id": 2}))
    assert msgpack.unpackb(d.recv())["id"] == 2
    d.close()


def test_huge_message_disconnects_only_its_sender(k):
    big = dealer(k, timeout=1500)
    other = dealer(k)
    big.send(b"\x92" + b"\xc4\x00" * 1 + b"z" * 500000)  # far over max_request_bytes
    with pytest.raises(zmq.Again):
        big.recv()
    other.send(msgpack.packb({"op": "ping", "id": 9}))
    assert msgpack.unpackb(other.recv())["id"] == 9
    big.close()
    other.close()
    still_serving(k)


def test_random_garbage(k):
    rnd = random.Random(1234)
    d = dealer(k)
    good = msgpack.packb({"op": "neighbors", "entity": "China", "id": 1, "depth": 2})
    n = 2000
    for i in range(n):
        if i % 2:
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 40)))
        else:
            b = bytearray(good)
            for _ in range(3):
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            body = bytes(b)
        d.send(body)
    got = 0
    for _ in range(n):
        rep = msgpack.unpackb(d.recv())
        assert isinstance(rep, dict) and "ok" in rep
        got += 1
    assert got == n
    d.close()
    still_serving(k)


def test_many_clients_come_and_go(k):
    for i in range(50):
        d = dealer(k)
        d.send(msgpack.packb({"op": "ping", "id": i}))
        if i % 2:
            assert msgpack.unpackb(d.recv())["id"] == i
        d.close()  # half leave before their reply
    still_serving(k)
    st = k.ok(op="stats")
    assert st["requests"]["total"] > 2000
