"""Many requests at once and the change feed, against a real kgd:
100 requests in flight on one DEALER, 20 concurrent clients mixing reads
and writes, and the PUB feed's topic filtering (docs/protocol.md)."""
import random
import threading
import time

import msgpack

import kgd as K
from conftest import raw_dealer

ENTITIES = ["China", "France", "Russia", "Ukraine", "United States", "European Union",
            "NATO", "cognac", "pork", "Xi Jinping", "Emmanuel Macron", "rare earths"]


def test_100_in_flight_on_one_dealer(kgd):
    with kgd.client() as c:
        expected = {}
        for name in ENTITIES:
            expected[name] = c.entity(name)
        reqs = []
        for i in range(100):
            name = ENTITIES[i % len(ENTITIES)]
            if i % 3 == 0:
                reqs.append({"op": "entity", "name": name.lower()})
            elif i % 3 == 1:
                reqs.append({"op": "relations", "subject": name})
            else:
                reqs.append({"op": "ping"})
        t0 = time.monotonic()
        replies = c.pipeline(reqs, timeout=30)
        assert time.monotonic() - t0 < 30
    assert len(replies) == 100
    for req, rep in zip(reqs, replies):
        assert rep["ok"] is True, rep
        if req["op"] == "entity":
            name = next(n for n in ENTITIES if n.lower() == req["name"])
            assert rep["result"] == expected[name]
        elif req["op"] == "relations":
            assert all(r["subject"] == req["subject"] for r in rep["result"]["relations"])
        else:
            assert rep["result"]["pong"] is True


def test_raw_ids_matched_in_order(kgd):
    """Raw DEALER: send 100 bodies before reading; every id comes back once,
    in request order."""
    d = raw_dealer(kgd.endpoint)
    ids = ["r%03d" % i for i in range(100)]
    for i, rid in enumerate(ids):
        d.send_multipart([b"", msgpack.packb({"op": "entity" if i % 2 else "ping",
                                              "name": "China", "id": rid}
                                             if i % 2 else {"op": "ping", "id": rid})])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 100 and time.monotonic() < deadline:
        if d.poll(1000):
            frames = d.recv_multipart()
            assert frames[0] == b""
            rep = msgpack.unpackb(frames[-1], raw=False)
            assert rep["ok"] is True, rep
            got.append(rep["id"])
    d.close()
    assert got == ids


def test_20_concurrent_clients_mixed(kgd_fresh):
    n_threads, n_ops = 20, 40
    errors = []
    added = [0] * n_threads
    with kgd_fresh.client() as c:
        base = c.stats()
        china = c.entity("China")
        tariffs = sorted((r["subject"], r["object"]) for r in
                         c.relations(relation="tariffs-on")["relations"])
    start = threading.Barrier(n_threads)

    def worker(t):
        rnd = random.Random(t)
        try:
            with kgd_fresh.client(timeout=60) as c:
                start.wait()
                for i in range(n_ops):
                    k = rnd.randrange(5)
                    if k == 0:
                        assert c.entity("PRC") == china
                    elif k == 1:
                        got = sorted((r["subject"], r["object"]) for r in
                                     c.relations(relation="tariffs-on")["relations"])
                        assert got == tariffs
                    elif k == 2:
                        r = c.add(relations=[{"subject": "T%d" % t, "relation": "test-writes",
                                              "object": "X%d" % i}])
                        assert r["relations_added"] == 1 and r["seq"] >= 1
                        added[t] += 1
                        mine = c.relations(subject="T%d" % t, relation="test-writes")
                        assert len(mine["relations"]) == added[t]
                    elif k == 3:
                        n = c.neighbors("Macron", depth=2)
                        assert {x["entity"] for x in n["neighbors"]} >= {"China", "Russia"}
                    else:
                        r = c.match([["?a", "tariffs-on", "?p", {"origin": "?b"}],
                                     ["?a", "exports-to", "?b"]])
                        assert r["rows"] == [["China", "pork", "European Union"]]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("thread %d: %r" % (t, e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads), "a client hung"
    assert not errors, "\n".join(errors)
    with kgd_fresh.client() as c:
        s = c.stats()
        assert s["relations"] == base["relations"] + sum(added)
        assert s["relation_kinds"].get("test-writes", 0) == sum(added)
        assert sum(added) > 0


def _sync_feed(client, feed, probe_kind):
    """Wait until the feed's subscription has reached the server: add a
    probe relation (whose kind the feed also receives) until it comes
    through, then remove it again and consume that event too."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        client.add(relations=[{"subject": "probe", "relation": probe_kind, "object": "probe"}])
        ch = feed.recv(timeout=0.2)
        if ch is not None:
            while feed.recv(timeout=0.2) is not None:
                pass
            client.remove(entities=["probe"])
            while True:
                ch = feed.recv(timeout=0.5)
                if ch is None:
                    return
                assert ch.topic in (probe_kind, "entity")
    raise AssertionError("the feed's subscription never took effect")


def test_feed_topic_filter(kgd_fresh):
    with kgd_fresh.client() as c, K.Feed(kgd_fresh.feed, topics=["tariffs-on"]) as feed:
        _sync_feed(c, feed, "tariffs-on-probe")
        r = c.add(relations=[
            {"subject": "United States", "relation": "tariffs-on", "object": "steel",
             "qualifiers": {"origin": "Canada", "rate": "25%"}, "source": "https://example.org/a"},
            {"subject": "United States", "relation": "exports-to", "object": "Canada"}])
        ch = feed.recv(timeout=10)
        assert ch is not None, "no change published"
        assert ch.topic == "tariffs-on" and ch.op == "add" and ch.seq == r["seq"]
        assert ch.entity is None
        assert ch.relation["subject"] == "United States" and ch.relation["object"] == "steel"
        assert ch.relation["qualifiers"] == {"origin": "Canada", "rate": "25%"}
        assert ch.relation["provenance"].get("source") == "https://example.org/a"
        # the exports-to change must not come
        assert feed.recv(timeout=1.0) is None
        # a removal is published under its kind too
        r2 = c.remove(relations=[{"subject": "China", "relation": "tariffs-on",
                                  "object": "pork"}])
        ch = feed.recv(timeout=10)
        assert ch is not None and ch.op == "remove" and ch.seq == r2["seq"]
        assert (ch.relation["subject"], ch.relation["object"]) == ("China", "pork")


def test_feed_everything_and_entities(kgd_fresh):
    with kgd_fresh.client() as c, K.Feed(kgd_fresh.feed) as feed:
        _sync_feed(c, feed, "everything-probe")
        r = c.add(entities=[{"id": "Canada", "kind": "country"}],
                  relations=[{"subject": "Canada", "relation": "exports-to",
                              "object": "United States"}])
        got = []
        while len(got) < 2:
            ch = feed.recv(timeout=10)
            assert ch is not None, "missing change, got %r" % got
            got.append(ch)
        assert [g.topic for g in got] == ["entity", "exports-to"]
        assert all(g.seq == r["seq"] for g in got)
        assert got[0].entity["id"] == "Canada" and got[0].entity["kind"] == "country"
        c.remove(entities=["Canada"])
        topics = set()
        while True:
            ch = feed.recv(timeout=1.0)
            if ch is None:
                break
            topics.add((ch.topic, ch.op))
        assert ("entity", "remove") in topics
