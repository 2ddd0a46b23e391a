"""Garbage of every kind sent to kgd's request socket, while other clients
keep asking questions and must keep getting right answers
("Whatever a client sends, the daemon answers it or drops it and keeps
serving everyone else" - docs/protocol.md)."""
import random
import struct
import threading
import time

import msgpack
import pytest
import zmq

import kgd as K
from conftest import raw_call, raw_dealer, unpack_reply

ERROR_CODES = {"parse", "invalid", "unsupported", "not_found", "limit", "timeout", "io",
               "busy", "nomem", "internal"}


class Bystanders:
    """Clients asking known questions in a loop; every answer is checked."""

    def __init__(self, kgd, n=3):
        self.kgd = kgd
        self.stop = threading.Event()
        self.errors = []
        self.answered = [0] * n
        with kgd.client() as c:
            self.china = c.entity("China")
            self.tariffs = c.relations(relation="tariffs-on")
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, i):
        try:
            with self.kgd.client(timeout=20) as c:
                while not self.stop.is_set():
                    assert c.entity("chinese") == self.china
                    assert c.relations(relation="tariffs-on") == self.tariffs
                    assert c.ping()["pong"] is True
                    self.answered[i] += 1
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.errors.append("bystander %d: %r" % (i, e))

    def finish(self):
        time.sleep(0.2)
        self.stop.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads), "a bystander hung"
        assert not self.errors, "\n".join(self.errors)
        assert all(n > 0 for n in self.answered), self.answered


@pytest.fixture
def bystanders(kgd):
    b = Bystanders(kgd)
    yield b
    b.finish()
    assert kgd.alive()
    with kgd.client() as c:
        assert c.ping()["pong"] is True


def expect_error(kgd, body, codes, frames=None):
    d = raw_dealer(kgd.endpoint)
    try:
        rep_frames = raw_call(d, frames if frames is not None else body, timeout=20)
    finally:
        d.close()
    assert rep_frames is not None, "no reply to %r" % (body[:40] if body else frames,)
    rep = unpack_reply(rep_frames)
    assert rep["ok"] is False, rep
    assert rep["error"]["code"] in codes, rep
    return rep


def packed_map_header(n):
    return b"\xdf" + struct.pack(">I", n)


CASES = [
    # (name, body, acceptable codes)
    ("never-used byte", b"\xc1", {"parse"}),
    ("truncated map", msgpack.packb({"op": "ping", "id": 1})[:-3], {"parse"}),
    ("truncated str", b"\x81\xa2op\xa4pi", {"parse"}),
    ("trailing bytes", msgpack.packb({"op": "ping"}) + b"\x00", {"parse"}),
    ("two maps", msgpack.packb({"op": "ping"}) * 2, {"parse"}),
    ("array", msgpack.packb(["ping"]), {"parse"}),
    ("string", msgpack.packb("ping"), {"parse"}),
    ("int", msgpack.packb(7), {"parse"}),
    ("nil", msgpack.packb(None), {"parse"}),
    ("int key", msgpack.packb({1: 2}), {"parse"}),
    ("ext type", msgpack.packb({"op": msgpack.ExtType(5, b"abc")}), {"parse"}),
    ("op int", msgpack.packb({"op": 5}), {"invalid"}),
    ("op missing", msgpack.packb({"name": "China"}), {"invalid"}),
    ("op nil", msgpack.packb({"op": None}), {"invalid"}),
    ("name array", msgpack.packb({"op": "entity", "name": ["China"]}), {"invalid"}),
    ("depth str", msgpack.packb({"op": "neighbors", "entity": "China", "depth": "1"}),
     {"invalid"}),
    ("depth negative", msgpack.packb({"op": "neighbors", "entity": "China", "depth": -1}),
     {"invalid", "limit"}),
    ("limit float", msgpack.packb({"op": "relations", "limit": 1.5}), {"invalid"}),
    ("relations map", msgpack.packb({"op": "neighbors", "entity": "China",
                                     "relations": {"a": 1}}), {"invalid"}),
    ("add relations str", msgpack.packb({"op": "add", "relations": "x"}), {"invalid"}),
    ("add bad relation", msgpack.packb({"op": "add", "relations": [{"subject": 1}]}),
     {"invalid"}),
    ("unknown op", msgpack.packb({"op": "drop_database"}), {"unsupported"}),
    ("empty op", msgpack.packb({"op": ""}), {"unsupported", "invalid"}),
    ("huge array header", b"\xdd\xff\xff\xff\xff", {"limit"}),
    ("huge map header", packed_map_header(0xFFFFFFFF), {"limit"}),
    ("huge str header", b"\xdb\xff\xff\xff\xff", {"parse", "limit"}),
    ("huge bin header", b"\xc6\xff\xff\xff\xff", {"parse", "limit"}),
    ("array of 200000 nils", b"\xdd" + struct.pack(">I", 200000) + b"\xc0" * 200000,
     {"limit"}),
    ("1000-deep arrays", b"\x91" * 1000 + b"\xc0", {"limit"}),
    ("1000-deep maps", b"\x81\xa1k" * 1000 + b"\xc0", {"limit"}),
    ("deep argument", b"\x82\xa2op\xa4ping\xa3pad" + b"\x91" * 100 + b"\xc0", {"limit"}),
    ("oversized body", msgpack.packb({"op": "ping", "pad": "x" * ((1 << 20) + 10)}),
     {"limit"}),
    ("empty body", b"", {"parse"}),
    ("not utf-8", msgpack.packb({"op": "entity", "name": b"\xc3\x28"}, use_bin_type=False),
     {"invalid"}),
]


@pytest.mark.parametrize("name,body,codes", CASES, ids=[c[0] for c in CASES])
def test_garbage_answered(kgd, bystanders, name, body, codes):
    rep = expect_error(kgd, body, codes)
    assert isinstance(rep["error"]["message"], str)


def test_empty_frames(kgd, bystanders):
    # only an empty frame: the body (last frame) is empty
    expect_error(kgd, None, {"parse"}, frames=[b""])
    expect_error(kgd, None, {"parse"}, frames=[b"", b""])
    expect_error(kgd, None, {"parse"}, frames=[b"", b"", b""])


def test_many_frames_dropped(kgd, bystanders):
    d = raw_dealer(kgd.endpoint)
    body = msgpack.packb({"op": "ping", "id": 1})
    # 8 frames: answered with the 7 envelope frames
    frames = raw_call(d, [b"e%d" % i for i in range(7)] + [body], timeout=20)
    assert frames is not None and frames[:7] == [b"e%d" % i for i in range(7)]
    assert unpack_reply(frames)["ok"] is True
    # 9 and 1000 frames: dropped without a reply
    assert raw_call(d, [b""] * 8 + [body], timeout=1) is None
    assert raw_call(d, [b"x"] * 999 + [body], timeout=1) is None
    # and the same socket is still served
    frames = raw_call(d, [b"", body], timeout=20)
    assert unpack_reply(frames)["id"] == 1
    d.close()


def test_enormous_message_disconnects_sender_only(kgd, bystanders):
    d = raw_dealer(kgd.endpoint)
    big = b"\xc4" + b"x" * (3 << 20)  # > 2 * max_request_bytes + 64 KiB
    assert raw_call(d, big, timeout=2) is None
    d.close()
    with kgd.client() as c:
        assert c.entity("China")["id"] == "China"


def test_random_bytes(kgd, bystanders):
    rnd = random.Random(1234)
    d = raw_dealer(kgd.endpoint)
    try:
        for i in range(300):
            n = rnd.choice([1, 2, 3, 5, 8, 16, 64, 512, 4096])
            body = bytes(rnd.getrandbits(8) for _ in range(n))
            if i % 3 == 0:
                # mutate a valid request instead: more paths into the decoder
                good = bytearray(msgpack.packb({"op": "relations", "subject": "China",
                                                "where": {"kind": "duty"}, "limit": 5}))
                for _ in range(rnd.randint(1, 4)):
                    good[rnd.randrange(len(good))] = rnd.getrandbits(8)
                body = bytes(good)
            frames = raw_call(d, body, timeout=20)
            assert frames is not None, "no reply to random body %d: %r" % (i, body[:32])
            rep = unpack_reply(frames)
            assert rep["ok"] in (True, False)
            if not rep["ok"]:
                assert rep["error"]["code"] in ERROR_CODES, rep
    finally:
        d.close()


# Every op and argument name of docs/protocol.md, plus near misses, for
# well-formed requests with the wrong shape. The writes (add, remove,
# extract with commit) are left out: a random one could succeed and change
# what the bystanders check.
OPS = ["ping", "stats", "entity", "entities", "relations", "neighbors", "path", "match",
       "subgraph", "export", "snapshot", "pong", "", "NEIGHBORS"]
ARGS = ["name", "as_of", "limit", "kind", "prefix", "offset", "subject", "relation",
        "object", "where", "entity", "direction", "relations", "depth", "detail", "from",
        "to", "max_length", "all", "patterns", "seeds", "format", "entities", "text",
        "source", "date", "commit", "id", "op", "nam", "namex", "", "depth\u0000"]


def random_value(rnd, depth=0):
    kinds = ["nil", "bool", "int", "neg", "float", "str", "name", "bin", "array", "map"]
    k = rnd.choice(kinds if depth < 3 else kinds[:8])
    if k == "nil":
        return None
    if k == "bool":
        return rnd.random() < 0.5
    if k == "int":
        return rnd.choice([0, 1, 2, 3, 9, 255, 1 << 31, (1 << 64) - 1])
    if k == "neg":
        return rnd.choice([-1, -129, -(1 << 63)])
    if k == "float":
        return rnd.choice([0.5, -1e300, float("inf")])
    if k == "str":
        return rnd.choice(["", "China", "out", "in", "both", "ids", "full", "dot", "tsv",
                           "2025-06-01", "2025-13", "?a", "tariffs-on", "x" * 300])
    if k == "name":
        return rnd.choice(["China", "France", "cognac", "European Union", "Atlantis"])
    if k == "bin":
        return b"\xff\x00"
    if k == "array":
        return [random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    return {rnd.choice(ARGS): random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))}


def test_random_well_formed_requests(kgd, bystanders):
    """Maps of real and near-miss op and argument names with values of any
    type, some keys repeated: each gets a reply, a result or an error with
    a stable code and the request's id when it was a scalar given once."""
    rnd = random.Random(4321)
    d = raw_dealer(kgd.endpoint)
    try:
        for i in range(600):
            pairs = [("op", rnd.choice(OPS))] if rnd.random() < 0.9 else []
            pairs += [(rnd.choice(ARGS), random_value(rnd)) for _ in range(rnd.randint(0, 5))]
            if rnd.random() < 0.1 and pairs:
                pairs.append(rnd.choice(pairs))  # a key given twice
            rnd.shuffle(pairs)
            pairs.append(("id", i))
            body = bytes([0x80 | len(pairs)]) if len(pairs) < 16 else b"\xde" + len(pairs).to_bytes(2, "big")
            for k, v in pairs:
                body += msgpack.packb(k) + msgpack.packb(v)
            frames = raw_call(d, body, timeout=20)
            assert frames is not None, "no reply to %r" % (pairs,)
            rep = unpack_reply(frames)
            assert rep["ok"] in (True, False), rep
            if not rep["ok"]:
                assert rep["error"]["code"] in ERROR_CODES, (pairs, rep)
                assert rep["error"]["message"], (pairs, rep)
            if [k for k, _ in pairs].count("id") == 1:
                assert rep["id"] == i, (pairs, rep)
    finally:
        d.close()


def test_garbage_interleaved_with_good_requests_on_one_dealer(kgd):
    """Bad and good bodies pipelined on one socket: each good one answered
    rightly, in order."""
    d = raw_dealer(kgd.endpoint)
    bodies = []
    for i in range(50):
        bodies.append(msgpack.packb({"op": "entity", "name": "France", "id": i}))
        bodies.append(b"\xc1" if i % 2 else b"\xdd\xff\xff\xff\xff")
    for b in bodies:
        d.send_multipart([b"", b])
    reps = []
    deadline = time.monotonic() + 30
    while len(reps) < len(bodies) and time.monotonic() < deadline:
        if d.poll(1000):
            reps.append(unpack_reply(d.recv_multipart()))
    d.close()
    assert len(reps) == len(bodies)
    for i in range(50):
        good, bad = reps[2 * i], reps[2 * i + 1]
        assert good["id"] == i and good["ok"] is True and good["result"]["id"] == "France"
        assert bad["id"] is None and bad["error"]["code"] in ("parse", "limit")


def test_client_survives_garbage_reply_path(kgd):
    """The Python client on a socket that also got garbage replies."""
    with kgd.client() as c:
        c.send_raw(b"\xc1")
        rep = c.recv_reply()
        assert rep["ok"] is False and rep["error"]["code"] == "parse"
        assert c.ping()["pong"] is True


def test_slow_reader_does_not_block_others(kgd):
    """A DEALER that sends many requests and never reads must not stall
    anyone else."""
    ctx = zmq.Context.instance()
    hog = ctx.socket(zmq.DEALER)
    hog.setsockopt(zmq.LINGER, 0)
    hog.setsockopt(zmq.RCVHWM, 10)
    hog.connect(kgd.endpoint)
    body = msgpack.packb({"op": "export", "format": "tsv"})
    for _ in range(2000):
        hog.send_multipart([b"", body])
    with kgd.client(timeout=20) as c:
        t0 = time.monotonic()
        for _ in range(20):
            assert c.entity("China")["id"] == "China"
        assert time.monotonic() - t0 < 20
    hog.close()
    with kgd.client() as c:
        assert c.ping()["pong"] is True


def test_python_client_errors_are_typed(kgd):
    with kgd.client() as c:
        with pytest.raises(K.Unsupported):
            c.call("drop_database")
        with pytest.raises(K.LimitExceeded):
            c.call("ping", pad="x" * ((1 << 20) + 10))
        assert c.ping()["pong"] is True
