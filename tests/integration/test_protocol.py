"""Every operation and every error code of docs/protocol.md, against a real
kgd on the default graph (graphs/macron-xi-beijing.gv), through the
Python client (clients/python/kgd) and raw sockets.

Read-only tests share one kgd per module (fixture `kgd`); tests that
write start their own (`kgd_fresh`, `kgd_factory`).
"""
import os
import resource
import signal

import msgpack
import pytest
import zmq

import kgd as K
from conftest import raw_call, raw_dealer, unpack_reply, write_tsv_graph

RELATION_KEYS = {"subject", "relation", "object", "qualifiers", "provenance"}


def rel_triples(rels):
    return sorted((r["subject"], r["relation"], r["object"]) for r in rels)


def error_of(fn, *a, **kw):
    """The KgdError fn raises (the test fails if it returns)."""
    with pytest.raises(K.KgdError) as ei:
        fn(*a, **kw)
    return ei.value


# ---- framing and the envelope ------------------------------------------------------

def test_req_socket_and_dealer_without_delimiter(kgd):
    ctx = zmq.Context.instance()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.setsockopt(zmq.RCVTIMEO, 10000)
    req.connect(kgd.endpoint)
    req.send(msgpack.packb({"op": "ping", "id": "req-1"}))
    rep = msgpack.unpackb(req.recv(), raw=False)
    assert rep == {"id": "req-1", "ok": True, "result": {"pong": True, "version": rep["result"]["version"]}}
    req.close()
    # DEALER sending [body] only: the reply is [body] too.
    d = raw_dealer(kgd.endpoint)
    frames = raw_call(d, [msgpack.packb({"op": "ping", "id": 7})])
    assert len(frames) == 1
    assert unpack_reply(frames)["id"] == 7
    # Any frames before the body come back as they were.
    frames = raw_call(d, [b"a", b"bc", b"", msgpack.packb({"op": "ping", "id": 8})])
    assert frames[:3] == [b"a", b"bc", b""]
    assert unpack_reply(frames)["id"] == 8
    d.close()


@pytest.mark.parametrize("rid", [None, True, 0, -5, 2 ** 40, 1.5, "abc", ""])
def test_id_scalars_echoed(kgd, rid):
    d = raw_dealer(kgd.endpoint)
    rep = unpack_reply(raw_call(d, msgpack.packb({"op": "ping", "id": rid})))
    assert rep["ok"] is True and rep["id"] == rid
    d.close()


def test_id_array_is_invalid(kgd):
    d = raw_dealer(kgd.endpoint)
    rep = unpack_reply(raw_call(d, msgpack.packb({"op": "ping", "id": [1]})))
    assert rep["ok"] is False and rep["error"]["code"] == "invalid"
    d.close()


# ---- each operation ---------------------------------------------------------------

def test_ping(kgd):
    with kgd.client() as c:
        r = c.ping()
    assert r["pong"] is True
    assert isinstance(r["version"], str) and r["version"]


def test_stats(kgd):
    with kgd.client() as c:
        s = c.stats()
    assert s["entities"] == 33 and s["relations"] == 34
    assert s["entity_kinds"] == {"country": 5, "bloc": 1, "organization": 5, "person": 2,
                                 "place": 2, "agreement": 1, "product": 17}
    assert sum(s["relation_kinds"].values()) == 34
    assert s["relation_kinds"]["tariffs-on"] == 3
    assert s["relation_kinds"]["calls-on"] == 6
    assert s["memory_bytes"] > 0 and s["uptime_s"] >= 0
    assert s["requests"]["total"] >= 1
    assert s["requests"]["by_op"]["stats"] >= 1
    # Every request was read in some round; a round reads at least one.
    assert 1 <= s["requests"]["rounds"] <= s["requests"]["total"]
    assert s["journal"] is None  # no --data
    assert s["feed"] == kgd.feed  # where the change feed is bound


def test_stats_rounds_count_pipelined_requests(kgd):
    """100 requests in flight on one DEALER are all answered, in order,
    in at least one and at most 100 rounds (how many depends on how they
    arrive; the loop reads whatever is waiting together)."""
    import msgpack
    import zmq
    with kgd.client() as c:
        before = c.stats()["requests"]
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.connect(kgd.endpoint)
    try:
        for i in range(100):
            s.send(msgpack.packb({"op": "ping", "id": i}), 0)
        ids = [msgpack.unpackb(s.recv())["id"] for _ in range(100)]
    finally:
        s.close()
    assert ids == list(range(100))
    with kgd.client() as c:
        after = c.stats()["requests"]
    served = after["total"] - before["total"]
    rounds = after["rounds"] - before["rounds"]
    assert served == 101  # the 100 pings and the first stats
    assert 1 <= rounds <= served


def test_entity_by_alias_case_insensitive(kgd):
    with kgd.client() as c:
        e = c.entity("chinese")
        assert e == c.entity("PRC") == c.entity("China")
    assert e["id"] == "China" and e["kind"] == "country"
    assert set(e["aliases"]) == {"Chinese", "PRC", "People's Republic of China"}
    assert e["out"]["tariffs-on"] == 2 and e["out"]["exports-to"] == 1
    assert e["out"]["export-controls-on"] == 2 and e["out"]["supplies"] == 2
    assert e["in"] == {"trade-deficit-with": 1, "accuses": 3, "calls-on": 3, "visits": 1}


def test_entity_attributes(kgd):
    with kgd.client() as c:
        e = c.entity("Macron")
    assert e["id"] == "Emmanuel Macron" and e["kind"] == "person"
    assert e["attributes"] == {"role": "French President"}


def test_entities(kgd):
    with kgd.client() as c:
        r = c.entities(kind="country")
        assert [e["id"] for e in r["entities"]] == ["China", "France", "Russia", "Ukraine",
                                                    "United States"]
        assert r["total"] == 5 and r["truncated"] is False
        r = c.entities(prefix="fr")
        assert [e["id"] for e in r["entities"]] == [
            "China-France Business Council", "France",
            "France-China cooperation agreements (2025)"]
        # prefix matches aliases too ("EU" of European Union)
        assert "European Union" in [e["id"] for e in c.entities(prefix="eu")["entities"]]
        page = c.entities(kind="product", limit=5, offset=5)
        allp = c.entities(kind="product")
        assert page["total"] == 17 and page["truncated"] is True
        assert page["entities"] == allp["entities"][5:10]
        assert c.entities(kind="nothing-of-this-kind") == {"entities": [], "total": 0,
                                                           "truncated": False}


def test_relations(kgd):
    with kgd.client() as c:
        r = c.relations(relation="tariffs-on")
        assert rel_triples(r["relations"]) == [
            ("China", "tariffs-on", "cognac"), ("China", "tariffs-on", "pork"),
            ("European Union", "tariffs-on", "electric vehicles")]
        assert r["truncated"] is False
        for rel in r["relations"]:
            assert set(rel) == RELATION_KEYS
            assert rel["provenance"]["doc_date"] == "2025-12-04"
        # subject by alias, where with a value and with nil (present)
        r = c.relations(subject="PRC", relation="tariffs-on", where={"kind": "duty"})
        assert rel_triples(r["relations"]) == [("China", "tariffs-on", "pork")]
        assert r["relations"][0]["qualifiers"] == {"kind": "duty", "origin": "European Union"}
        r = c.relations(where={"claimed-by": None})
        assert rel_triples(r["relations"]) == [("China", "supplies", "Russia")] * 2
        r = c.relations(object="Russia")
        assert len(r["relations"]) == 2
        r = c.relations(relation="no-such-kind")
        assert r["relations"] == []
        r = c.relations(limit=3)
        assert len(r["relations"]) == 3 and r["truncated"] is True
        assert len(c.relations()["relations"]) == 34


def test_neighbors(kgd):
    with kgd.client() as c:
        r = c.neighbors("cognac", direction="in")
        assert [(n["entity"], n["kind"], n["depth"], n["from"]) for n in r["neighbors"]] == [
            ("China", "country", 1, "cognac")]
        assert r["neighbors"][0]["via"]["qualifiers"] == {"kind": "minimum-price",
                                                         "origin": "France"}
        # default direction is out: cognac has no out relations
        assert c.neighbors("cognac")["neighbors"] == []
        out = c.neighbors("China", relations=["tariffs-on"])
        assert sorted(n["entity"] for n in out["neighbors"]) == ["cognac", "pork"]
        two = c.neighbors("Macron", depth=2)
        depths = {n["entity"]: n["depth"] for n in two["neighbors"]}
        assert depths["China"] == 1 and depths["cognac"] == 2 and depths["Russia"] == 2
        assert all(n["depth"] in (1, 2) for n in two["neighbors"])
        for n in two["neighbors"]:
            v = n["via"]
            assert n["entity"] in (v["subject"], v["object"])
            assert n["from"] in (v["subject"], v["object"])
        lim = c.neighbors("China", direction="both", limit=2)
        assert len(lim["neighbors"]) == 2 and lim["truncated"] is True


def test_neighbors_detail(kgd):
    """brief and ids list the same entities as full, in the same order,
    with less of each; brief's relation and direction agree with full's
    via relation."""
    with kgd.client() as c:
        for kw in ({"entity": "China", "direction": "both"},
                   {"entity": "Macron", "depth": 2},
                   {"entity": "cognac", "direction": "in"}):
            full = c.neighbors(**kw)["neighbors"]
            brief = c.neighbors(detail="brief", **kw)
            ids = c.neighbors(detail="ids", **kw)
            assert full, kw
            assert brief["truncated"] is False and ids["truncated"] is False
            assert ids["neighbors"] == [n["entity"] for n in full]
            assert [(b["entity"], b["kind"], b["depth"], b["from"])
                    for b in brief["neighbors"]] == [
                (n["entity"], n["kind"], n["depth"], n["from"]) for n in full]
            for b, n in zip(brief["neighbors"], full):
                assert set(b) == {"entity", "kind", "depth", "from", "relation",
                                  "direction"}
                v = n["via"]
                assert b["relation"] == v["relation"]
                if b["direction"] == "out":
                    assert (v["subject"], v["object"]) == (b["from"], b["entity"])
                else:
                    assert b["direction"] == "in"
                    assert (v["subject"], v["object"]) == (b["entity"], b["from"])
        assert c.neighbors("China", detail="full") == c.neighbors("China")
        lim = c.neighbors("China", direction="both", limit=2, detail="ids")
        assert len(lim["neighbors"]) == 2 and lim["truncated"] is True
        with pytest.raises(K.InvalidRequest) as e:
            c.neighbors("China", detail="everything")
        assert "detail" in str(e.value)
        with pytest.raises(K.InvalidRequest):
            c.call("neighbors", entity="China", detail=3)


def test_path(kgd):
    with kgd.client() as c:
        r = c.path("Macron", "Russia")
        assert r["length"] == 2 and r["truncated"] is False
        (p,) = r["paths"]
        assert [x["relation"] for x in p][1] == "supplies"
        assert p[0]["subject"] == "Emmanuel Macron" and p[0]["object"] == "China"
        assert p[1]["subject"] == "China" and p[1]["object"] == "Russia"
        every = c.path("Macron", "Russia", all=True)
        # calls-on (3 demands) or visits, then supplies (2 claims): 4 * 2
        assert len(every["paths"]) == 8 and every["length"] == 2
        assert len({msgpack.packb(p) for p in every["paths"]}) == 8
        # backwards needs direction both
        none = c.path("Russia", "Macron")
        assert none == {"paths": [], "length": None, "truncated": False}
        back = c.path("Russia", "Macron", direction="both")
        assert back["length"] == 2
        assert c.path("cognac", "pork", direction="both", max_length=1)["paths"] == []
        only = c.path("Macron", "Russia", relations=["visits", "supplies"], all=True)
        assert {p[0]["relation"] for p in only["paths"]} == {"visits"}


MATCH = [["?a", "tariffs-on", "?p", {"origin": "?b"}], ["?a", "exports-to", "?b"]]


def test_match(kgd):
    with kgd.client() as c:
        r = c.match(MATCH)
        assert r["variables"] == ["?a", "?p", "?b"]
        assert r["rows"] == [["China", "pork", "European Union"]]
        assert r["truncated"] is False
        assert sorted(r["plan"]) == [0, 1]
        r = c.match([["Emmanuel Macron", "meets", "?who", {"place": "Beijing"}]])
        assert r["rows"] == [["Xi Jinping"]]
        r = c.match([["?x", "tariffs-on", "?y"]], limit=2)
        assert len(r["rows"]) == 2 and r["truncated"] is True
        assert c.match([["Atlantis", "tariffs-on", "?y"]])["rows"] == []


def test_subgraph_graph_and_text(kgd):
    with kgd.client() as c:
        g = c.subgraph(["cognac"])
        assert [e["id"] for e in g["entities"]] == ["cognac", "China"]
        assert rel_triples(g["relations"]) == [("China", "tariffs-on", "cognac")]
        china = c.subgraph("China")
        assert len(china["entities"]) == 15 and len(china["relations"]) == 27
        dot = c.subgraph("cognac", format="dot")
        assert dot["format"] == "dot" and dot["text"].lstrip().startswith(("digraph", "strict"))
        assert "cognac" in dot["text"] and "tariffs-on" in dot["text"]
        tsv = c.subgraph("cognac", format="tsv")
        assert "China\ttariffs-on\tcognac" in tsv["text"]
        js = c.subgraph("cognac", format="json")
        assert js["text"].lstrip().startswith("{")


def test_export(kgd, kgd_factory, tmp_path):
    with kgd.client() as c:
        tsv = c.export(format="tsv")["text"]
        dot = c.export()["text"]
        g = c.export(format="graph")
    facts = [l for l in tsv.splitlines() if l and not l.startswith("#") and "\t" in l]
    assert len(facts) == 1 + 34  # header + relations
    assert dot.lstrip().startswith(("digraph", "strict"))
    assert len(g["entities"]) == 33 and len(g["relations"]) == 34
    # the export reads back to the same graph in a new kgd
    p = tmp_path / "exported.tsv"
    p.write_text(tsv)
    k = kgd_factory.start(graphs=[str(p)])
    with k.client() as c:
        again = c.export(format="graph")
    key = lambda r: msgpack.packb([r["subject"], r["relation"], r["object"],
                                   sorted(r["qualifiers"].items())])
    assert sorted(map(key, again["relations"])) == sorted(map(key, g["relations"]))
    assert sorted(e["id"] for e in again["entities"]) == sorted(e["id"] for e in g["entities"])


def test_add_then_visible_and_idempotent(kgd_fresh):
    with kgd_fresh.client() as c:
        r = c.add(entities=[{"id": "Canada", "kind": "country", "aliases": ["Canadian"]}],
                  relations=[{"subject": "United States", "relation": "tariffs-on",
                              "object": "steel",
                              "qualifiers": {"origin": "Canada", "rate": "25%",
                                             "since": "2025-03-12"},
                              "evidence": "The US imposed 25% tariffs on Canadian steel.",
                              "source": "https://example.org/a"}])
        assert r["entities_added"] == 1 and r["relations_added"] == 1
        assert r["entities_merged"] == 0 and r["relations_existing"] == 0
        assert r["seq"] == 1
        e = c.entity("canadian")
        assert e["id"] == "Canada" and e["kind"] == "country"
        rel = c.relations(subject="US", relation="tariffs-on")["relations"]
        assert len(rel) == 1
        assert rel[0]["provenance"]["source"] == "https://example.org/a"
        assert c.entity("steel")["kind"] == "unknown"
        again = c.add(entities=[{"id": "canada", "aliases": ["CA"]}],
                      relations=[{"subject": "United States", "relation": "tariffs-on",
                                  "object": "steel",
                                  "qualifiers": {"origin": "Canada", "rate": "25%",
                                                 "since": "2025-03-12"}}])
        assert again["entities_merged"] == 1 and again["relations_existing"] == 1
        assert again["seq"] == 2
        assert c.entity("CA")["id"] == "Canada"
        s = c.stats()
        assert s["entities"] == 35 and s["relations"] == 35


def test_add_all_or_nothing(kgd_fresh):
    with kgd_fresh.client() as c:
        before = c.stats()
        err = error_of(c.add, relations=[
            {"subject": "A", "relation": "r", "object": "B"},
            {"subject": "A", "relation": "r"}])  # no object
        assert isinstance(err, K.InvalidRequest)
        after = c.stats()
        assert after["entities"] == before["entities"]
        assert after["relations"] == before["relations"]
        with pytest.raises(K.NotFound):
            c.entity("A")


def test_remove(kgd_fresh):
    with kgd_fresh.client() as c:
        r = c.remove(relations=[{"subject": "China", "relation": "tariffs-on",
                                 "object": "pork"}])
        assert r["relations_removed"] == 1 and r["entities_removed"] == 0
        assert rel_triples(c.relations(relation="tariffs-on")["relations"]) == [
            ("China", "tariffs-on", "cognac"),
            ("European Union", "tariffs-on", "electric vehicles")]
        # qualifier subset: only the supplies claimed by Ukraine
        r = c.remove(relations=[{"subject": "China", "relation": "supplies",
                                 "object": "Russia", "qualifiers": {"claimed-by": "Ukraine"}}])
        assert r["relations_removed"] == 1
        assert len(c.relations(relation="supplies")["relations"]) == 1
        # an entity and its relations
        r = c.remove(entities=["Xi"])
        assert r["entities_removed"] == 1 and r["relations_removed"] == 4
        with pytest.raises(K.NotFound):
            c.entity("Xi Jinping")
        # nothing that does not exist, all or nothing
        before = c.stats()["relations"]
        err = error_of(c.remove, relations=[
            {"subject": "China", "relation": "tariffs-on", "object": "cognac"},
            {"subject": "China", "relation": "tariffs-on", "object": "pork"}])
        assert isinstance(err, K.NotFound)
        assert c.stats()["relations"] == before
        assert isinstance(error_of(c.remove, entities=["Atlantis"]), K.NotFound)


def test_extract_and_commit(kgd_fresh):
    text = "China imposed tariffs on French cognac. Macron met Xi Jinping in Beijing."
    with kgd_fresh.client() as c:
        r = c.extract(text, source="https://example.org/b", date="2025-12-04")
        assert r["committed"] is False and r["seq"] is None
        assert ("China", "tariffs-on", "cognac") in rel_triples(r["relations"])
        assert ("Emmanuel Macron", "meets", "Xi Jinping") in rel_triples(r["relations"])
        tar = [x for x in r["relations"] if x["relation"] == "tariffs-on"][0]
        assert tar["qualifiers"]["origin"] == "France"
        assert tar["provenance"]["source"] == "https://example.org/b"
        before = c.stats()["relations"]
        assert c.stats()["relations"] == before  # not committed
        r = c.extract(text, source="https://example.org/b", date="2025-12-04", commit=True)
        assert r["committed"] is True and isinstance(r["seq"], int)
        # "tariff" kind differs from the graph's "minimum-price": a new fact
        kinds = {x["qualifiers"]["kind"] for x in
                 c.relations(subject="China", relation="tariffs-on", object="cognac")["relations"]}
        assert kinds == {"minimum-price", "tariff"}


def test_snapshot_with_data_dir(kgd_factory, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    k = kgd_factory.start(data=str(data))
    with k.client() as c:
        c.add(relations=[{"subject": "A", "relation": "r", "object": "B"}])
        s = c.snapshot()
        assert os.path.isfile(s["path"]) and os.path.getsize(s["path"]) == s["bytes"]
        assert os.path.dirname(os.path.abspath(s["path"])) == str(data)
        assert s["seq"] == 1
        assert c.stats()["journal"]["seq"] == 1


def test_reload(kgd_factory, tmp_path):
    g = tmp_path / "g.tsv"
    g.write_text("subject\trelation\tobject\nA\tr\tB\n")
    k = kgd_factory.start(graphs=[str(g)])
    with k.client() as c:
        assert c.stats()["relations"] == 1
        g.write_text("subject\trelation\tobject\nA\tr\tB\nB\tr\tC\nC\tr\tA\n")
        r = c.reload()
        assert r == {"entities": 3, "relations": 3}
        assert len(c.relations(relation="r")["relations"]) == 3
        # a broken file keeps the old graph and fails with parse
        g.write_text("subject\trelation\tobject\nonly-two\tcolumns\n")
        err = error_of(c.reload)
        assert isinstance(err, K.ParseError)
        assert "g.tsv" in err.message
        assert c.stats()["relations"] == 3


# ---- as_of --------------------------------------------------------------------------

def test_as_of_dates(kgd):
    with kgd.client() as c:
        def ev(as_of):
            return [r["object"] for r in
                    c.relations(relation="tariffs-on", subject="European Union",
                                as_of=as_of)["relations"]]
        assert ev("2024-09-30") == []
        assert ev("2024-10-01") == ["electric vehicles"]
        assert ev("2024") == ["electric vehicles"]  # the last day of 2024
        assert ev("2024-09") == []
        # relations without dates are always in force
        assert len(c.relations(relation="tariffs-on", as_of="1900")["relations"]) == 2
        # date=2025 (a year) starts on 2025-01-01
        ec = c.relations(relation="export-controls-on", as_of="2024-12-31")["relations"]
        assert ec == []
        ec = c.relations(relation="export-controls-on", as_of="2025-01-01")["relations"]
        assert len(ec) == 2
        # other ops take as_of too
        n = c.neighbors("China", relations=["export-controls-on"], as_of="2024-06")
        assert n["neighbors"] == []
        e = c.entity("China", as_of="2024-06")
        assert "export-controls-on" not in e["out"] and e["out"]["tariffs-on"] == 2
        m = c.match([["?a", "tariffs-on", "?p", {"origin": "China"}]], as_of="2024-09")
        assert m["rows"] == []
        m = c.match([["?a", "tariffs-on", "?p", {"origin": "China"}]], as_of="2025")
        assert m["rows"] == [["European Union", "electric vehicles"]]
        sg = c.subgraph("electric vehicles", as_of="2024-01")
        assert rel_triples(sg["relations"]) == [("China", "subsidizes", "electric vehicles")]
        p = c.path("European Union", "electric vehicles", as_of="2024-01")
        assert p["paths"] == []
        tsv = c.export(format="tsv", as_of="2024-01")["text"]
        assert "export-controls-on" not in tsv and "subsidizes" in tsv


def test_as_of_since_until(kgd_fresh):
    with kgd_fresh.client() as c:
        c.add(relations=[{"subject": "United States", "relation": "tariffs-on",
                          "object": "steel",
                          "qualifiers": {"origin": "Canada", "since": "2025-03-12",
                                         "until": "2025-06"}}])

        def seen(d):
            return len(c.relations(subject="United States", relation="tariffs-on",
                                   as_of=d)["relations"])
        assert seen("2025-03-11") == 0
        assert seen("2025-03-12") == 1
        assert seen("2025-06-30") == 1  # a partial until covers its month
        assert seen("2025-07-01") == 0
        assert seen("2025-06") == 1


@pytest.mark.parametrize("bad", ["2025-13", "2025-02-30", "yesterday", "", "20250101"])
def test_as_of_invalid(kgd, bad):
    with kgd.client() as c:
        assert isinstance(error_of(c.relations, as_of=bad), K.InvalidRequest)
        assert isinstance(error_of(c.neighbors, "China", as_of=bad), K.InvalidRequest)


# ---- every error code ------------------------------------------------------------------

def raw_error(kgd, body):
    d = raw_dealer(kgd.endpoint)
    try:
        rep = unpack_reply(raw_call(d, body))
    finally:
        d.close()
    assert rep["ok"] is False, rep
    assert set(rep) == {"id", "ok", "error"}
    assert isinstance(rep["error"]["message"], str) and rep["error"]["message"]
    return rep


def test_error_parse(kgd):
    rep = raw_error(kgd, b"\xc1")
    assert rep["error"]["code"] == "parse" and rep["id"] is None
    rep = raw_error(kgd, msgpack.packb([1, 2]))
    assert rep["error"]["code"] == "parse" and rep["id"] is None


def test_error_invalid(kgd):
    with kgd.client() as c:
        e = error_of(c.call, "entity", name="China", nmae="x")
        assert isinstance(e, K.InvalidRequest) and "nmae" in e.message
        assert isinstance(error_of(c.call, "entity"), K.InvalidRequest)          # missing
        assert isinstance(error_of(c.call, "entity", name=5), K.InvalidRequest)  # type
        assert isinstance(error_of(c.neighbors, "China", direction="sideways"),
                          K.InvalidRequest)
        assert isinstance(error_of(c.call, "neighbors", entity="China", depth="2"),
                          K.InvalidRequest)
        assert isinstance(error_of(c.match, [["?a", "r"]]), K.InvalidRequest)
        assert isinstance(error_of(c.entities, limit=0), K.InvalidRequest)
    rep = raw_error(kgd, msgpack.packb({"op": 5}))
    assert rep["error"]["code"] == "invalid"
    rep = raw_error(kgd, msgpack.packb({"id": 3}))
    assert rep["error"]["code"] == "invalid"
    # not UTF-8
    rep = raw_error(kgd, msgpack.packb({"op": "entity", "name": b"\xff\xfe"},
                                       use_bin_type=False))
    assert rep["error"]["code"] == "invalid"


def raw_map(*pairs):
    """A msgpack map of the pairs, in order, duplicates kept."""
    body = bytes([0x80 | len(pairs)])
    for k, v in pairs:
        body += msgpack.packb(k) + msgpack.packb(v)
    return body


def test_argument_reading(kgd):
    """The request map is read in one pass: the op and id are found wherever
    they are, a repeated key is refused, nil stands for an absent argument."""
    rep = raw_error(kgd, raw_map(("op", "entity"), ("name", "China"), ("name", "France")))
    assert rep["error"]["code"] == "invalid" and "'name' given twice" in rep["error"]["message"]
    rep = raw_error(kgd, raw_map(("id", 1), ("op", "ping"), ("id", 2)))
    assert rep["error"]["code"] == "invalid" and "'id' given twice" in rep["error"]["message"]
    assert rep["id"] == 1
    rep = raw_error(kgd, raw_map(("op", "ping"), ("op", "stats")))
    assert "'op' given twice" in rep["error"]["message"]
    # op and id after an unknown key: the error names the key, the id comes back
    rep = raw_error(kgd, raw_map(("nmae", "x"), ("op", "entity"), ("id", "q7")))
    assert rep["id"] == "q7" and rep["error"]["code"] == "invalid"
    assert rep["error"]["message"] == "unknown argument 'nmae' for op 'entity'"
    # a name some op takes, but not this one
    rep = raw_error(kgd, raw_map(("op", "ping"), ("seeds", ["China"])))
    assert rep["error"]["message"] == "unknown argument 'seeds' for op 'ping'"
    # nil: absent for an optional argument, missing for a required one
    rep = raw_error(kgd, raw_map(("op", "neighbors"), ("entity", None)))
    assert rep["error"]["message"] == "op 'neighbors' needs argument 'entity'"
    d = raw_dealer(kgd.endpoint)
    try:
        rep = unpack_reply(raw_call(d, raw_map(("op", "neighbors"), ("entity", "China"),
                                               ("depth", None), ("relations", None),
                                               ("id", 9))))
    finally:
        d.close()
    assert rep["ok"] is True and rep["id"] == 9
    assert {n["depth"] for n in rep["result"]["neighbors"]} == {1}
    # qualifier maps: relations' where and a match pattern's fourth term
    quals = {"q%d" % i: "v" for i in range(33)}
    rep = raw_error(kgd, msgpack.packb({"op": "relations", "where": {"origin": 5}}))
    assert rep["error"]["message"] == "where.origin: expected str or nil"
    rep = raw_error(kgd, msgpack.packb({"op": "relations", "where": quals}))
    assert rep["error"]["code"] == "limit" and "where: at most 32" in rep["error"]["message"]
    rep = raw_error(kgd, msgpack.packb({"op": "match", "patterns": [
        ["?a", "tariffs-on", "?p"], ["?a", "tariffs-on", "?p", {"": "x"}]]}))
    assert rep["error"]["message"] == "patterns[1][3]: a key is empty or contains NUL"
    rep = raw_error(kgd, msgpack.packb({"op": "match", "patterns": [
        ["?a", "tariffs-on", "?p", quals]]}))
    assert rep["error"]["code"] == "limit" and "patterns[0][3]: at most 32" in rep["error"]["message"]


def test_error_unsupported(kgd):
    with kgd.client() as c:
        e = error_of(c.call, "frobnicate")
        assert isinstance(e, K.Unsupported)
        assert isinstance(error_of(c.export, format="xml"), K.Unsupported)
        assert isinstance(error_of(c.subgraph, "China", format="png"), K.Unsupported)
        assert isinstance(error_of(c.snapshot), K.Unsupported)  # no data directory


def test_error_not_found(kgd):
    with kgd.client() as c:
        e = error_of(c.entity, "Atlantis")
        assert isinstance(e, K.NotFound) and "Atlantis" in e.message
        assert e.reply["id"] is not None
        assert isinstance(error_of(c.neighbors, "Atlantis"), K.NotFound)
        assert isinstance(error_of(c.path, "Atlantis", "China"), K.NotFound)
        assert isinstance(error_of(c.relations, subject="Atlantis"), K.NotFound)
        assert isinstance(error_of(c.subgraph, ["China", "Atlantis"]), K.NotFound)


def test_error_limit(kgd):
    with kgd.client() as c:
        e = error_of(c.neighbors, "China", depth=9)
        assert isinstance(e, K.LimitExceeded) and "9" in e.message
        assert isinstance(error_of(c.path, "China", "Russia", max_length=7), K.LimitExceeded)
        assert isinstance(error_of(c.match, [["?a", "r", "?b"]] * 33), K.LimitExceeded)
    rep = raw_error(kgd, b"\xdd\xff\xff\xff\xff")
    assert rep["error"]["code"] == "limit"
    big = msgpack.packb({"op": "ping", "pad": "x" * (1 << 20)})
    rep = raw_error(kgd, big)
    assert rep["error"]["code"] == "limit" and rep["id"] is None


def test_error_limit_configured(kgd_factory):
    k = kgd_factory.start(config={"max_request_bytes": 4096, "max_results": 5,
                                  "max_depth": 2})
    with k.client() as c:
        e = error_of(c.call, "ping", pad="x" * 5000)
        assert isinstance(e, K.LimitExceeded)
        assert c.ping()["pong"] is True
        r = c.relations()
        assert len(r["relations"]) == 5 and r["truncated"] is True
        r = c.relations(limit=100)  # capped by max_results
        assert len(r["relations"]) == 5 and r["truncated"] is True
        assert isinstance(error_of(c.neighbors, "China", depth=3), K.LimitExceeded)
        assert len(c.neighbors("China", depth=2)["neighbors"]) == 5


def test_error_timeout(kgd_factory, tmp_path):
    g = write_tsv_graph(str(tmp_path / "dense.tsv"), 300)
    k = kgd_factory.start(graphs=[g], config={"query_timeout_ms": 1})
    with k.client(timeout=60) as c:
        # 89700 relations; every pair of chained relations is tried and
        # none has the qualifier: far more than 1 ms of work.
        e = error_of(c.match, [["?a", "r", "?b"], ["?b", "r", "?c", {"k": "never"}]])
        assert isinstance(e, K.Timeout) and not isinstance(e, K.NoReply)
        assert c.ping()["pong"] is True


def _no_core_and_ignore_xfsz(limit):
    def fn():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return fn


def test_error_io_journal_write_fails(kgd_factory, tmp_path):
    """RLIMIT_FSIZE makes journal writes fail (EFBIG): `io`, nothing applied,
    reads go on."""
    data = tmp_path / "data"
    data.mkdir()
    # Start once to learn how big a fresh data directory's files are.
    k = kgd_factory.start(data=str(data))
    assert k.stop() == 0
    limit = max(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)) + 2048
    k = kgd_factory.start(data=str(data), preexec_fn=_no_core_and_ignore_xfsz(limit))
    with k.client() as c:
        before = c.stats()["relations"]
        e = error_of(c.add, relations=[{"subject": "A", "relation": "r", "object": "B",
                                        "evidence": "x" * 8192}])
        assert isinstance(e, K.IOError_)
        assert c.stats()["relations"] == before
        with pytest.raises(K.NotFound):
            c.entity("A")
        assert c.relations(relation="tariffs-on")["relations"]


def test_error_busy(kgd_factory, tmp_path):
    g = write_tsv_graph(str(tmp_path / "dense.tsv"), 400)  # 159600 relations
    k = kgd_factory.start(graphs=[g])
    with k.client(timeout=120) as c:
        replies = c.pipeline([{"op": "reload"}, {"op": "reload"}, {"op": "ping"}])
    assert replies[0]["ok"] is True, replies[0]
    assert replies[0]["result"]["relations"] == 159600
    assert replies[1]["ok"] is False and replies[1]["error"]["code"] == "busy"
    assert replies[2]["ok"] is True


def _vm_size(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def test_error_nomem(kgd_factory, tmp_path):
    """An address-space limit set on the running kgd makes a big reply's
    buffer fail to grow: `nomem`, and kgd keeps serving."""
    g = write_tsv_graph(str(tmp_path / "dense.tsv"), 400)  # export: ~6 MB of text
    # allocator_may_return_null: under AddressSanitizer, malloc returns
    # NULL instead of aborting, like glibc's.
    k = kgd_factory.start(graphs=[g], env={"ASAN_OPTIONS": "allocator_may_return_null=1"})
    with k.client(timeout=60) as c:
        assert c.ping()["pong"] is True
        # Only the soft limit: lowering it and raising it back up to the
        # hard limit needs no privilege.
        _, hard = resource.prlimit(k.proc.pid, resource.RLIMIT_AS)
        limit = _vm_size(k.proc.pid) + (1 << 20)
        resource.prlimit(k.proc.pid, resource.RLIMIT_AS, (limit, hard))
        try:
            e = error_of(c.export, format="tsv")
            assert isinstance(e, K.OutOfMemory), e
            assert c.ping()["pong"] is True
            assert c.entity("n1")["id"] == "n1"
        finally:
            resource.prlimit(k.proc.pid, resource.RLIMIT_AS, (hard, hard))
        assert len(c.export(format="tsv")["text"]) > (1 << 20)


def test_error_codes_map_to_classes():
    for code, cls in [("parse", K.ParseError), ("invalid", K.InvalidRequest),
                      ("unsupported", K.Unsupported), ("not_found", K.NotFound),
                      ("limit", K.LimitExceeded), ("timeout", K.Timeout),
                      ("io", K.IOError_), ("busy", K.Busy), ("nomem", K.OutOfMemory),
                      ("internal", K.InternalError), ("brand-new", K.InternalError)]:
        assert K.error_class(code) is cls
        assert issubclass(cls, K.KgdError)
