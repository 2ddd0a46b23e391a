"""kgd as a process: start-up, the protocol over REQ and DEALER sockets,
writes and the change feed, refusal to start, signals, reload, durability.

Run by ctest with KG_BUILD_DIR and KG_SOURCE_DIR; Debian's python3 with
python3-zmq and python3-msgpack. Every kgd binds tcp://127.0.0.1:* and the
test reads the endpoints it got from its log.
"""
import os
import re
import signal
import socket
import subprocess
import threading

import msgpack
import pytest
import zmq

from conftest import KGD


@pytest.fixture
def kgd(kgd_factory):
    """start(*args, **kw): a kgd with these command-line arguments, and no
    graph files but those args name (kgd's default graph otherwise); kw as
    KgdProcess takes them (env, bind, publish). Each must exit 0 with no
    sanitizer report."""
    def start(*args, **kw):
        return kgd_factory.start(graphs=(), args=args, **kw)

    yield start
    for k in kgd_factory.started:
        check_clean_exit(k, k.stop())


def check_clean_exit(k, rc):
    """kgd exited 0 with no sanitizer report (the ASan/UBSan build)."""
    log = k.log()
    assert rc == 0, log
    assert "Sanitizer" not in log and "runtime error" not in log, log


def run_refused(args, timeout=20):
    """Run kgd expecting it to refuse to start; (status, stderr)."""
    p = subprocess.run([KGD] + args, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                       text=True, timeout=timeout)
    return p.returncode, p.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


SMALL_GV = """digraph t {
  "Alpha" [kind="country", aliases="A-land"];
  "Beta" [kind="country"];
  "Gamma" [kind="product"];
  "Alpha" -> "Beta" [relation="exports-to", since="2020"];
  "Beta" -> "Gamma" [relation="tariffs-on", date="2025-03", origin="Alpha"];
}
"""


# ---- the basics ---------------------------------------------------------------

def test_ping_req_and_dealer(kgd):
    k = kgd()
    assert k.ok(op="ping", id=1) == {"pong": True, "version": k.ok(op="ping")["version"]}
    rep = k.call(op="ping", id="abc")
    assert rep["id"] == "abc" and rep["ok"] is True

    # A DEALER may send [body] or ["", body]; it gets the same envelope back.
    d = k.ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.RCVTIMEO, 10000)
    d.connect(k.endpoint)
    d.send(msgpack.packb({"op": "ping", "id": 7}))
    frames = d.recv_multipart()
    assert len(frames) == 1
    assert msgpack.unpackb(frames[0])["id"] == 7
    d.send_multipart([b"", msgpack.packb({"op": "ping", "id": 8})])
    frames = d.recv_multipart()
    assert frames[0] == b"" and msgpack.unpackb(frames[1])["id"] == 8

    # Many in flight: replies in request order.
    for i in range(200):
        d.send(msgpack.packb({"op": "ping", "id": i}))
    ids = [msgpack.unpackb(d.recv())["id"] for _ in range(200)]
    assert ids == list(range(200))
    d.close()


def test_queries_on_default_graph(kgd):
    k = kgd()
    st = k.ok(op="stats")
    assert st["entities"] > 20 and st["relations"] > 20
    assert st["entity_kinds"]["country"] >= 5
    assert st["memory_bytes"] > 0 and st["rss_bytes"] > 0
    assert st["journal"] is None

    e = k.ok(op="entity", name="chinese")  # alias, any case
    assert e["id"] == "China" and e["kind"] == "country"
    assert e["out"]["tariffs-on"] == 2
    rep = k.call(op="entity", name="Atlantis")
    assert rep["ok"] is False and rep["error"]["code"] == "not_found"

    rels = k.ok(op="relations", subject="China", relation="tariffs-on")
    assert {r["object"] for r in rels["relations"]} == {"cognac", "pork"}
    assert rels["truncated"] is False
    one = k.ok(op="relations", subject="China", limit=1)
    assert len(one["relations"]) == 1 and one["truncated"] is True

    nb = k.ok(op="neighbors", entity="China", relations=["tariffs-on"])
    assert {n["entity"] for n in nb["neighbors"]} == {"cognac", "pork"}
    assert all(n["depth"] == 1 and n["from"] == "China" for n in nb["neighbors"])

    p = k.ok(op="path", **{"from": "Emmanuel Macron", "to": "Russia", "direction": "both"})
    assert p["length"] == len(p["paths"][0]) >= 1
    names = {p["paths"][0][0]["subject"], p["paths"][0][0]["object"]}
    assert "Emmanuel Macron" in names

    m = k.ok(op="match", patterns=[["?a", "tariffs-on", "?p", {"origin": "?b"}]])
    assert m["variables"] == ["?a", "?p", "?b"]
    assert ["China", "pork", "European Union"] in m["rows"]
    assert sorted(m["plan"]) == [0]

    sg = k.ok(op="subgraph", seeds=["China"], depth=1)
    assert "China" in {x["id"] for x in sg["entities"]}
    assert len(sg["relations"]) >= 10
    dot = k.ok(op="subgraph", seeds=["China"], format="dot")
    assert dot["format"] == "dot" and dot["text"].lstrip().startswith(("digraph", "strict", "/*", "//"))

    ex = k.ok(op="export", format="tsv")
    assert ex["format"] == "tsv" and "tariffs-on" in ex["text"]
    ents = k.ok(op="entities", kind="country", limit=2)
    assert len(ents["entities"]) == 2 and ents["total"] >= 5 and ents["truncated"] is True


def test_argument_errors(kgd):
    k = kgd("--config", write_conf(k_tmp(), "max_depth = 3\n"))
    cases = [
        ({"op": "entity"}, "invalid", "needs argument 'name'"),
        ({"op": "entity", "name": 5}, "invalid", "expected str, got int"),
        ({"op": "entity", "name": "China", "nmae": "x"}, "invalid", "unknown argument 'nmae'"),
        ({"op": "neighbors", "entity": "China", "depth": 4}, "limit", "max_depth"),
        ({"op": "neighbors", "entity": "China", "direction": "up"}, "invalid", "out, in or both"),
        ({"op": "relations", "as_of": "2025-13"}, "invalid", "not a date"),
        ({"op": "frobnicate"}, "unsupported", "unknown op"),
        ({"id": 3}, "invalid", "missing 'op'"),
        ({"op": 1}, "invalid", "'op' must be a string"),
        ({"op": "ping", "id": [1]}, "invalid", "scalar"),
        ({"op": "subgraph", "seeds": ["China"], "format": "svg"}, "unsupported", "format"),
        ({"op": "snapshot"}, "unsupported", "--data"),
        ({"op": "add", "relations": [{"subject": "A", "relation": "r"}]}, "invalid", "missing 'object'"),
        ({"op": "remove", "entities": ["Atlantis"]}, "not_found", "Atlantis"),
    ]
    for req, code, text in cases:
        rep = k.call(**req)
        assert rep["ok"] is False, (req, rep)
        assert rep["error"]["code"] == code, (req, rep)
        assert text in rep["error"]["message"], (req, rep)
        assert rep["id"] == (req.get("id") if not isinstance(req.get("id"), list) else None)
    assert k.ok(op="ping")["pong"] is True
    st = k.ok(op="stats")
    assert st["requests"]["bad"] >= 3


_tmp_counter = [0]


def k_tmp():
    import tempfile
    _tmp_counter[0] += 1
    return tempfile.mkdtemp(prefix="kgd-test-")


def write_conf(d, text):
    return write(os.path.join(d, "kgd.conf"), text)


# ---- writes and the change feed ----------------------------------------------

def test_add_remove_and_change_feed(kgd):
    k = kgd()
    sub = k.subscribe(b"tariffs-on", b"entity")

    a, b = k.req(), k.req()
    rep = k.call(a, op="add", entities=[{"id": "Canada", "kind": "country", "aliases": ["Canadian"]}],
                 relations=[{"subject": "United States", "relation": "tariffs-on", "object": "steel",
                             "qualifiers": {"origin": "Canada", "rate": "25%"},
                             "evidence": "It said so.", "source": "test"},
                            {"subject": "Canada", "relation": "exports-to", "object": "United States"}])
    assert rep["ok"], rep
    r = rep["result"]
    assert r["entities_added"] == 1 and r["relations_added"] == 2 and r["seq"] >= 1
    seq = r["seq"]
    # Seen by the next request of another client.
    got = k.call(b, op="relations", subject="canadian")
    assert got["ok"] and [x["object"] for x in got["result"]["relations"]] == ["United States"]
    steel = k.call(b, op="relations", object="steel", relation="tariffs-on")["result"]["relations"][0]
    assert steel["qualifiers"] == {"origin": "Canada", "rate": "25%"}
    assert steel["provenance"]["evidence"] == "It said so."
    # Adding again: nothing new.
    again = k.call(a, op="add", relations=[{"subject": "Canada", "relation": "exports-to",
                                             "object": "United States"}])["result"]
    assert again["relations_added"] == 0 and again["relations_existing"] == 1

    # The feed: the entity and the tariffs-on relation, not exports-to.
    msgs = [sub.recv_multipart() for _ in range(2)]
    topics = [m[0] for m in msgs]
    assert topics == [b"entity", b"tariffs-on"]
    body = msgpack.unpackb(msgs[1][1])
    assert body["seq"] == seq and body["op"] == "add"
    assert body["relation"]["object"] == "steel"
    assert body["relation"]["qualifiers"]["rate"] == "25%"

    rm = k.call(a, op="remove", entities=["Canada"],
                relations=[{"subject": "United States", "relation": "tariffs-on", "object": "steel"}])
    assert rm["ok"], rm
    assert rm["result"]["entities_removed"] == 1 and rm["result"]["relations_removed"] == 2
    msgs = [sub.recv_multipart() for _ in range(2)]
    assert [m[0] for m in msgs] == [b"tariffs-on", b"entity"]
    assert msgpack.unpackb(msgs[1][1]) == {"seq": rm["result"]["seq"], "op": "remove",
                                           "entity": {"id": "Canada"}}
    assert k.call(b, op="entity", name="Canada")["error"]["code"] == "not_found"
    # All or nothing: one bad item, nothing applied.
    bad = k.call(a, op="remove", entities=["China", "Atlantis"])
    assert bad["error"]["code"] == "not_found"
    assert k.ok(op="entity", name="China")["id"] == "China"


def test_group_commit_many_writers(kgd, tmp_path):
    k = kgd("--data", str(tmp_path / "data"))
    socks = []
    for c in range(4):
        d = k.ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.RCVTIMEO, 20000)
        d.connect(k.endpoint)
        socks.append(d)
    n = 50
    for i in range(n):
        for c, d in enumerate(socks):
            d.send(msgpack.packb({"op": "add", "id": i, "relations": [
                {"subject": "W%d" % c, "relation": "writes", "object": "N%d" % i}]}))
    seqs = []
    for d in socks:
        for i in range(n):
            rep = msgpack.unpackb(d.recv())
            assert rep["ok"] and rep["id"] == i, rep
            seqs.append(rep["result"]["seq"])
    assert len(set(seqs)) == 4 * n
    st = k.ok(op="stats")
    assert st["journal"]["seq"] == max(seqs)
    assert st["relation_kinds"]["writes"] == 4 * n


def test_data_dir_survives_restart_and_snapshot(kgd, tmp_path):
    data = str(tmp_path / "data")
    k = kgd("--data", data)
    assert k.ok(op="add", relations=[{"subject": "Paris", "relation": "capital-of",
                                      "object": "France", "qualifiers": {"since": "987"}}])["seq"] == 1
    assert k.stop() == 0
    k = kgd("--data", data)
    rels = k.ok(op="relations", subject="Paris", relation="capital-of")["relations"]
    assert len(rels) == 1 and rels[0]["qualifiers"] == {"since": "987"}
    snap = k.ok(op="snapshot")
    assert snap["seq"] == 1 and os.path.exists(snap["path"])
    k.ok(op="remove", relations=[{"subject": "Paris", "relation": "capital-of", "object": "France"}])
    assert k.ok(op="stats")["journal"]["seq"] == 2
    assert k.stop() == 0
    k = kgd("--data", data)
    assert k.ok(op="relations", subject="Paris")["relations"] == []
    # One directory, one kgd.
    code, err = run_refused(["--bind", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*",
                             "--data", data])
    assert code == 1 and "kgd.lock" in err


def test_ipc_endpoints(kgd, tmp_path):
    # A stale socket file (nobody listening) is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "kgd.sock"))
    stale.close()
    k = kgd(bind="ipc://%s" % (tmp_path / "kgd.sock"), publish="ipc://%s" % (tmp_path / "feed.sock"))
    assert k.endpoint.startswith("ipc://")
    assert k.ok(op="ping")["pong"] is True
    # One that a kgd listens on is taken.
    code, err = run_refused(["--bind", k.endpoint, "--publish", "tcp://127.0.0.1:*"])
    assert code == 1 and "cannot bind %s" % k.endpoint in err and "in use" in err
    assert k.ok(op="ping")["pong"] is True


# ---- refusing to start -------------------------------------------------------

def test_refuses_taken_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        code, err = run_refused(["--bind", "tcp://127.0.0.1:%d" % port,
                                 "--publish", "tcp://127.0.0.1:*"])
    finally:
        s.close()
    assert code == 1
    assert "cannot bind tcp://127.0.0.1:%d" % port in err and "in use" in err


def test_refuses_broken_graph(tmp_path):
    bad = write(tmp_path / "bad.gv", 'digraph g {\n  "a" -> "b" [relation="x"];\n  "c" -> [;\n}\n')
    code, err = run_refused(["--bind", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*", bad])
    assert code == 1
    assert re.search(re.escape(bad) + r":\d+: ", err), err


def test_refuses_bad_configuration(tmp_path):
    conf = write(tmp_path / "kgd.conf", "# comment\nbind = tcp://127.0.0.1:*\n\nmax_resluts = 5\n")
    code, err = run_refused(["--config", conf])
    assert code == 1
    assert "%s:4: unknown key 'max_resluts'" % conf in err
    conf = write(tmp_path / "kgd2.conf", "max_depth = lots\n")
    code, err = run_refused(["--config", conf])
    assert code == 1 and "%s:1: bad value for 'max_depth'" % conf in err
    code, err = run_refused(["--log-level", "loud"])
    assert code == 1 and "log_level" in err
    code, err = run_refused(["--frobnicate"])
    assert code == 1 and "unknown option" in err
    code, err = run_refused(["--config", str(tmp_path / "missing.conf")])
    assert code == 1 and "cannot open" in err


def test_config_file_and_command_line(kgd, tmp_path):
    g = write(tmp_path / "small.gv", SMALL_GV)
    conf = write(tmp_path / "kgd.conf",
                 "bind = tcp://127.0.0.1:1\npublish = tcp://127.0.0.1:*\n"
                 "graph = %s\nmax_results = 1\nlog_level = debug\n" % g)
    # --bind wins over the file's bind (port 1 would fail).
    k = kgd("--config", conf, publish=None)
    assert k.ok(op="stats")["entities"] == 3
    rels = k.ok(op="relations")
    assert len(rels["relations"]) == 1 and rels["truncated"] is True
    assert k.call(op="entity", name="Nowhere")["error"]["code"] == "not_found"
    k.wait_log(r" debug kgd: entity: not_found: ")


def test_help_and_version():
    p = subprocess.run([KGD, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--config" in p.stdout
    p = subprocess.run([KGD, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("kgd ")


# ---- signals and reload ------------------------------------------------------

def test_sigterm_and_sigint_exit_zero(kgd):
    k = kgd()
    assert k.ok(op="ping")["pong"]
    assert k.stop(signal.SIGTERM) == 0
    assert "stopped" in k.log()
    k = kgd()
    assert k.stop(signal.SIGINT) == 0


def test_sighup_reload_edited_graph(kgd, tmp_path):
    g = write(tmp_path / "g.gv", SMALL_GV)
    k = kgd(g)
    assert k.ok(op="stats")["relations"] == 2
    k.ok(op="add", relations=[{"subject": "Client", "relation": "adds", "object": "Thing"}])
    write(g, SMALL_GV.replace("}\n", '  "Gamma" -> "Delta" [relation="becomes"];\n}\n'))
    n = len(k.lines)
    k.proc.send_signal(signal.SIGHUP)
    k.wait_log(r"reloaded: \d+ entities", start=n)
    rels = k.ok(op="relations", relation="becomes")["relations"]
    assert [r["object"] for r in rels] == ["Delta"]
    # Without a data directory, client changes do not survive a reload.
    assert k.ok(op="relations", relation="adds")["relations"] == []
    # The reload op answers when done.
    r = k.ok(op="reload")
    assert r == {"entities": 4, "relations": 3}
    # A broken file keeps the old graph, and says why.
    write(g, 'digraph g {\n "x" -> ;\n}\n')
    rep = k.call(op="reload", id=5)
    assert rep["ok"] is False and rep["id"] == 5
    assert rep["error"]["code"] == "parse" and g in rep["error"]["message"]
    assert k.ok(op="stats")["relations"] == 3
    assert "keeping the old graph" in k.log()


def test_reload_keeps_client_changes_with_data(kgd, tmp_path):
    g = write(tmp_path / "g.gv", SMALL_GV)
    k = kgd("--data", str(tmp_path / "data"), g)
    k.ok(op="add", relations=[{"subject": "Client", "relation": "adds", "object": "Thing"}])
    write(g, SMALL_GV.replace('  "Alpha" -> "Beta" [relation="exports-to", since="2020"];\n', ""))
    assert k.ok(op="reload") == {"entities": 5, "relations": 2}
    assert len(k.ok(op="relations", relation="adds")["relations"]) == 1
    assert k.ok(op="relations", relation="exports-to")["relations"] == []


def test_reload_while_querying(kgd, tmp_path):
    # A bigger graph so that the reload takes a moment.
    lines = ["digraph big {"]
    for i in range(3000):
        lines.append('  "E%d" -> "E%d" [relation="r%d"];' % (i, (i * 7 + 1) % 3000, i % 5))
    lines.append("}")
    g = write(tmp_path / "big.gv", "\n".join(lines) + "\n")
    k = kgd(g)
    errors, done = [], threading.Event()
    count = [0]

    def hammer():
        s = k.req()
        while not done.is_set():
            rep = k.call(s, op="neighbors", entity="E1", depth=2)
            if not rep["ok"] or not rep["result"]["neighbors"]:
                errors.append(rep)
            count[0] += 1
        s.close()

    t = threading.Thread(target=hammer)
    t.start()
    try:
        for _ in range(3):
            n = len(k.lines)
            k.proc.send_signal(signal.SIGHUP)
            k.wait_log(r"reloaded:", start=n)
    finally:
        done.set()
        t.join(30)
    assert errors == []
    assert count[0] > 10


# ---- limits, snapshots, extract, as_of ----------------------------------------

def big_graph(path, n=600, kinds=3):
    lines = ["digraph big {"]
    for i in range(n):
        lines.append('  "N%d" -> "N%d" [relation="r%d"];' % (i, (i * 7 + 1) % n, i % kinds))
    lines.append("}")
    return write(path, "\n".join(lines) + "\n")


def test_query_timeout(kgd, tmp_path):
    g = big_graph(tmp_path / "big.gv")
    conf = write(tmp_path / "kgd.conf", "query_timeout_ms = 1\nmax_results = 100000000\n")
    k = kgd("--config", conf, g)
    # A cross product of three 200-relation patterns: 8 million rows.
    rep = k.call(op="match", patterns=[["?a", "r0", "?b"], ["?c", "r1", "?d"], ["?e", "r2", "?f"]])
    assert rep["ok"] is False and rep["error"]["code"] == "timeout", rep
    assert k.ok(op="ping")["pong"] is True


def test_automatic_snapshot(kgd, tmp_path):
    data = tmp_path / "data"
    conf = write(tmp_path / "kgd.conf", "snapshot_journal_bytes = 2K\nfsync = none\n")
    k = kgd("--config", conf, "--data", str(data))
    for i in range(40):
        k.ok(op="add", relations=[{"subject": "S%d" % i, "relation": "r", "object": "O",
                                   "evidence": "x" * 100}])
    k.wait_log(r"snapshot .*snapshot-[0-9a-f]{16}\.kgs")
    assert any(n.startswith("snapshot-") for n in os.listdir(data))
    st = k.ok(op="stats")
    assert st["journal"]["snapshot_seq"] > 0 and st["journal"]["fsync"] == "none"
    assert k.stop() == 0
    k = kgd("--data", str(data))
    assert k.ok(op="stats")["relation_kinds"]["r"] == 40


def test_snapshot_and_reload_give_back_removed_strings(kgd, tmp_path):
    """docs/operations.md, "Memory over time": removing facts keeps their
    interned strings; a snapshot and then a reload free them."""
    k = kgd("--data", str(tmp_path / "data"))
    start = k.ok(op="stats")
    before = start["memory_bytes"]
    rels = [{"subject": "S%d" % i, "relation": "r", "object": "O",
             "evidence": "sentence %d " % i + "x" * 200} for i in range(2000)]
    for at in range(0, len(rels), 500):
        k.ok(op="add", relations=rels[at:at + 500])
    added = k.ok(op="stats")["memory_bytes"]
    for at in range(0, len(rels), 500):
        k.ok(op="remove", entities=["S%d" % i for i in range(at, at + 500)])
    removed = k.ok(op="stats")
    assert removed["relations"] == start["relations"]
    assert added - before > 2000 * 200          # the evidence is held
    assert removed["memory_bytes"] > before + 2000 * 200  # and kept
    k.ok(op="snapshot")
    k.ok(op="reload")
    assert k.ok(op="stats")["memory_bytes"] <= before + 64 * 1024


def test_extract_and_commit(kgd):
    k = kgd()
    sub = k.subscribe(b"meets")
    text = "Macron met Xi Jinping in Beijing."
    dry = k.ok(op="extract", text=text, source="test", date="2025-12-04")
    assert dry["committed"] is False and dry["seq"] is None
    meets = [r for r in dry["relations"] if r["relation"] == "meets"]
    assert meets and meets[0]["subject"] == "Emmanuel Macron"
    before = k.ok(op="stats")["relations"]
    done = k.ok(op="extract", text=text, source="test",
                date="2026-01-10", commit=True)
    assert done["committed"] is True and done["seq"] >= 1
    assert k.ok(op="stats")["relations"] > before
    topic, body = sub.recv_multipart()
    assert topic == b"meets" and msgpack.unpackb(body)["seq"] == done["seq"]


def test_as_of_and_export(kgd, tmp_path):
    g = write(tmp_path / "g.gv", SMALL_GV)
    k = kgd(g)
    # exports-to since 2020; tariffs-on dated 2025-03.
    assert [r["relation"] for r in k.ok(op="relations", as_of="2019")["relations"]] == []
    assert [r["relation"] for r in k.ok(op="relations", as_of="2021-06")["relations"]] == ["exports-to"]
    assert len(k.ok(op="relations", as_of="2025")["relations"]) == 2
    e = k.ok(op="entity", name="Beta", as_of="2021")
    assert e["in"] == {"exports-to": 1} and e["out"] == {}
    ex = k.ok(op="export", format="graph", as_of="2021")
    assert len(ex["entities"]) == 3 and [r["relation"] for r in ex["relations"]] == ["exports-to"]
    js = k.ok(op="export", format="json")
    assert js["format"] == "json" and '"tariffs-on"' in js["text"]
    dot = k.ok(op="export")
    assert dot["format"] == "dot" and "Alpha" in dot["text"]


def test_reload_busy_and_deferred_reply(kgd, tmp_path):
    g = big_graph(tmp_path / "big.gv", n=20000, kinds=5)
    k = kgd(g)
    d = k.ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.RCVTIMEO, 30000)
    d.connect(k.endpoint)
    # Sent together: the first reload starts, the second finds it running,
    # and the ping is answered before the first reload's deferred reply.
    for i, op in enumerate(["reload", "reload", "ping"]):
        d.send(msgpack.packb({"op": op, "id": i}))
    replies = [msgpack.unpackb(d.recv()) for _ in range(3)]
    by_id = {r["id"]: r for r in replies}
    assert by_id[1]["ok"] is False and by_id[1]["error"]["code"] == "busy"
    assert by_id[2]["ok"] is True
    assert by_id[0]["ok"] is True and by_id[0]["result"]["relations"] == 20000
    assert [r["id"] for r in replies][-1] == 0
    d.close()
