"""kg -s ENDPOINT: the same commands against a running kgd print what they
print on the files the daemon serves (the client loads each reply into a
local graph and the same printers run).

Needs kgd and a kg built with the client library (conftest.py starts the
daemon on the default graph).
"""
import json
import os
import subprocess

import pytest

from test_cli import KG, run, shared_dir


def kg_has_client():
    r = run("-s", "tcp://127.0.0.1:1", "stats", "-g", "/nonexistent")
    return "not built yet" not in r.stderr


def test_kg_has_client():
    assert kg_has_client(), "kg was built without the client library"


SAME = [
    ["stats"],
    ["stats", "--format", "json"],
    ["entity", "PRC"],
    ["entity", "eu", "--format", "json"],
    ["relations", "--subject", "China", "--relation", "tariffs-on"],
    ["relations", "--relation", "tariffs-on", "--where", "origin", "--format", "tsv"],
    ["relations", "--object", "China", "--as-of", "2025-12-01", "--format", "json"],
    ["relations", "--limit", "2", "--format", "json"],
    ["neighbors", "Macron", "--depth", "2"],
    ["neighbors", "China", "--direction", "in", "--relation", "accuses",
     "--format", "json"],
    ["path", "Emmanuel Macron", "Russia", "--direction", "both", "--all"],
    ["path", "Xi", "NATO", "--direction", "both", "--format", "json"],
    ["path", "cognac", "Macron"],
    ["match", "?a tariffs-on ?p origin=?b", "?a exports-to ?b"],
    ["match", "?who accuses China", "--format", "tsv"],
    ["match", "France signs ?x", "China signs ?x", "--format", "json"],
    ["subgraph", "China", "--depth", "1", "--format", "tsv"],
    ["subgraph", "Macron", "--relation", "meets", "--relation", "leads"],
    ["export", "--format", "tsv"],
]


@pytest.mark.parametrize("args", SAME, ids=[" ".join(a) for a in SAME])
def test_same_output(kgd, args):
    local = run(*args)
    remote = run("-s", kgd.endpoint, *args)
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    if "--format" in args and args[args.index("--format") + 1] == "json" \
            and args[0] == "match":
        l, r = json.loads(local.stdout), json.loads(remote.stdout)
        if "estimates" not in r:  # a daemon may send the plan only
            l.pop("estimates", None)
        assert l == r
    else:
        assert local.stdout == remote.stdout
    assert remote.stderr == local.stderr


def test_match_explain_remote(kgd):
    r = run("-s", kgd.endpoint, "match", "?a tariffs-on ?p origin=?b",
            "?a exports-to ?b", "--explain")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "plan:"
    assert sorted(l.split()[2] for l in lines[1:3]) == ["1", "2"]
    assert lines[-1].split() == ["China", "pork", "European", "Union"]


def test_remote_errors(kgd):
    r = run("-s", kgd.endpoint, "entity", "Atlantis")
    assert r.returncode == 1
    assert r.stderr.startswith("kg entity: ") and "Atlantis" in r.stderr
    r = run("-s", kgd.endpoint, "path", "China", "Atlantis")
    assert r.returncode == 1 and "Atlantis" in r.stderr
    r = run("-s", kgd.endpoint, "stats", "-g", "x.gv")
    assert r.returncode == 2
    assert "-g FILE and --server do not mix" in r.stderr
    r = run("--server=", "stats")
    assert r.returncode == 2


def test_remote_subgraph_renders(kgd, tmp_path):
    out = tmp_path / "china.json"
    r = run("-s", kgd.endpoint, "subgraph", "China", "-o", str(out))
    assert r.returncode == 0, r.stderr
    j = json.loads(out.read_text())
    assert any(e["id"] == "China" for e in j["entities"])
    assert len(j["relations"]) > 10
    if subprocess.run(["which", "dot"], capture_output=True).returncode == 0:
        r = run("-s", kgd.endpoint, "subgraph", "China")
        d = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True,
                           text=True, timeout=120)
        assert d.returncode == 0 and d.stderr == ""


# ---- writing to a daemon and watching it: kg add, remove, reload, watch,
# and kg -s extract (each test has its own daemon: they change its graph)

FACTS = ("#@entity\tCanada\tcountry\tCanadian\t\n"
         "subject\trelation\tobject\tqualifiers\tevidence\n"
         "Canada\ttariffs-on\tsteel\torigin=China;rate=25%\t"
         "Canada put 25% tariffs on Chinese steel.\n"
         "Canada\texports-to\tChina\t\t\n")


def tariffs_of(endpoint, subject):
    r = run("-s", endpoint, "relations", "--subject", subject, "--relation",
            "tariffs-on", "--format", "json")
    if r.returncode == 1 and "unknown entity" in r.stderr:
        return None
    assert r.returncode == 0, r.stderr
    return [(x["object"], x["qualifiers"]) for x in json.loads(r.stdout)["relations"]]


def test_add_and_remove_files(kgd_factory, tmp_path):
    d = kgd_factory.start()
    facts = tmp_path / "canada.tsv"
    facts.write_text(FACTS, encoding="utf-8")
    r = run("-s", d.endpoint, "add", str(facts))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("added: entities 1 new, 0 merged; relations 2 new, "
                               "0 already there; seq "), r.stdout
    assert tariffs_of(d.endpoint, "Canada") == [("steel", {"origin": "China", "rate": "25%"})]
    e = d.ok(op="entity", name="Canadian")
    assert e["id"] == "Canada" and e["kind"] == "country"
    # idempotent: the same file again merges and keeps one copy
    r = run("-s", d.endpoint, "add", str(facts))
    assert r.returncode == 0, r.stderr
    assert "entities 0 new, 1 merged; relations 0 new, 2 already there" in r.stdout
    # stdin, in JSON
    doc = {"relations": [{"subject": "Canada", "relation": "tariffs-on",
                          "object": "aluminium", "qualifiers": {"origin": "China"}}]}
    r = run("-s", d.endpoint, "add", "-", "--format", "json", input=json.dumps(doc))
    assert r.returncode == 0, r.stderr
    assert sorted(o for o, _ in tariffs_of(d.endpoint, "Canada")) == ["aluminium", "steel"]
    # remove: the file's relations go, its declared entity stays
    r = run("-s", d.endpoint, "remove", str(facts))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("removed: entities 0, relations 2; seq "), r.stdout
    assert tariffs_of(d.endpoint, "Canada") == [("aluminium", {"origin": "China"})]
    # removing them again: not there, nothing applied, exit 1
    r = run("-s", d.endpoint, "remove", str(facts))
    assert r.returncode == 1
    assert r.stderr.startswith("kg remove: ") and "no relation Canada" in r.stderr
    # --entities: the declared entity and its remaining relations
    r = run("-s", d.endpoint, "remove", "--entities", str(facts))
    assert r.returncode == 1  # its relations are gone already: all or nothing
    assert tariffs_of(d.endpoint, "Canada") == [("aluminium", {"origin": "China"})]
    r = run("-s", d.endpoint, "remove", "--entity", "Canada")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("removed: entities 1, relations 1; seq "), r.stdout
    assert tariffs_of(d.endpoint, "Canada") is None


def test_add_is_all_or_nothing(kgd_factory, tmp_path):
    d = kgd_factory.start()
    before = d.ok(op="stats")
    good = tmp_path / "good.tsv"
    good.write_text(FACTS, encoding="utf-8")
    broken = tmp_path / "broken.tsv"
    broken.write_text("subject\trelation\tobject\nA\tB\n", encoding="utf-8")
    # a broken file: nothing is sent, the message names the file and line
    r = run("-s", d.endpoint, "add", str(good), str(broken))
    assert r.returncode == 1
    assert r.stderr.startswith("kg add: %s:2: " % broken), r.stderr
    after = d.ok(op="stats")
    assert (after["entities"], after["relations"]) == (before["entities"], before["relations"])
    # a remove that fails in its second part leaves the first in place
    r = run("-s", d.endpoint, "add", str(good))
    assert r.returncode == 0, r.stderr
    r = run("-s", d.endpoint, "remove", str(good), "--entity", "Atlantis")
    assert r.returncode == 1 and "Atlantis" in r.stderr
    assert tariffs_of(d.endpoint, "Canada") == [("steel", {"origin": "China", "rate": "25%"})]


def test_add_in_chunks_past_the_request_limit(kgd_factory, tmp_path):
    d = kgd_factory.start(config={"max_request_bytes": 4096})
    rows = ["subject\trelation\tobject\tqualifiers\tevidence"]
    rows += ["e%03d\tkgtest-link\tf%03d\t\t%s" % (i, i, "x" * 40) for i in range(200)]
    facts = tmp_path / "many.tsv"
    facts.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = run("-s", d.endpoint, "add", str(facts))
    assert r.returncode == 1
    assert "max_request_bytes" in r.stderr and "--chunk" in r.stderr, r.stderr
    assert d.ok(op="relations", relation="kgtest-link")["relations"] == []
    r = run("-s", d.endpoint, "add", str(facts), "--chunk", "25")
    assert r.returncode == 0, r.stderr
    assert "relations 200 new" in r.stdout, r.stdout
    got = d.ok(op="relations", relation="kgtest-link", limit=1000)["relations"]
    assert len(got) == 200


def test_write_commands_usage(tmp_path):
    for args, text in [(["add"], "no file given"),
                       (["remove"], "nothing to remove"),
                       (["add", "--entity", "X", "f.tsv"], "goes with kg remove"),
                       (["add", "--chunk", "0", "f.tsv"], "--chunk"),
                       (["add", "--format", "xml", "f.tsv"], "unknown format"),
                       (["watch", "--count", "x"], "--count"),
                       (["watch", "--format", "tsv"], "unknown format"),
                       (["reload", "now"], "unexpected argument"),
                       (["-s", "tcp://127.0.0.1:1", "build", "a.txt", "-o", "x.gv"],
                        "extract --commit"),
                       (["extract", "--commit", "a.txt"], "give -s ENDPOINT")]:
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert text in r.stderr, (args, r.stderr)
    # a file with entities only: nothing to remove unless --entities
    only = tmp_path / "only.tsv"
    only.write_text("#@entity\tCanada\tcountry\t\t\n", encoding="utf-8")
    r = run("-s", "tcp://127.0.0.1:1", "remove", str(only))
    assert r.returncode == 1 and "go with --entities" in r.stderr, r.stderr
    # no daemon there: a clear error at once, exit 1
    r = run("-s", "tcp://127.0.0.1:1", "add", "-", input=FACTS)
    assert r.returncode == 1 and r.stderr == \
        "kg add: nothing listens on tcp://127.0.0.1:1 (connection refused)\n", r.stderr


def test_reload(kgd_factory, tmp_path):
    graph = tmp_path / "g.tsv"
    graph.write_text("subject\trelation\tobject\nA\tsupplies\tB\n", encoding="utf-8")
    d = kgd_factory.start(graphs=[str(graph)])
    graph.write_text("subject\trelation\tobject\nA\tsupplies\tB\nB\tsupplies\tC\n",
                     encoding="utf-8")
    r = run("-s", d.endpoint, "reload")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "reloaded: 3 entities, 2 relations\n"
    graph.write_text("subject\trelation\tobject\nA\tsupplies\n", encoding="utf-8")
    r = run("-s", d.endpoint, "reload")
    assert r.returncode == 1 and "g.tsv:2" in r.stderr, r.stderr
    assert d.ok(op="stats")["relations"] == 2  # the old graph still serves


class Watcher:
    """kg watch in the background; its stdout lines as they come."""

    def __init__(self, *args):
        import threading
        self.p = subprocess.Popen([KG] + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        first = self.p.stderr.readline()
        assert first.startswith("kg watch: watching "), first

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pred, timeout=10, poke=None):
        import time
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(pred(l) for l in self.lines):
                return
            if poke:
                poke()
            time.sleep(0.05)
        raise AssertionError("not seen; lines: %r" % self.lines)


def test_watch(kgd_factory, tmp_path):
    d = kgd_factory.start()
    w = Watcher("watch", "--feed", d.feed, "--format", "json")
    # without --feed: the daemon named by -s says where its feed is
    t = Watcher("-s", d.endpoint, "watch", "tariffs-on")
    try:
        # a subscriber sees only what is published after it has joined:
        # poke with entity adds until both see one
        n = [0]

        def poke():
            n[0] += 1
            d.ok(op="add", entities=[{"id": "probe-%d" % n[0], "kind": "thing"}],
                 relations=[{"subject": "probe-%d" % n[0], "relation": "tariffs-on",
                             "object": "probe"}])
        w.wait_for(lambda l: "probe-" in l, poke=poke)
        t.wait_for(lambda l: "probe-" in l, poke=poke)
        facts = tmp_path / "canada.tsv"
        facts.write_text(FACTS, encoding="utf-8")
        assert run("-s", d.endpoint, "add", str(facts)).returncode == 0
        assert run("-s", d.endpoint, "remove", "--entity", "Canada").returncode == 0
        # the entity's removal is published on "entity" only; a last
        # tariffs-on change shows that t has read everything before it
        d.ok(op="add", relations=[{"subject": "marker", "relation": "tariffs-on",
                                   "object": "end"}])
        w.wait_for(lambda l: "marker" in l)
        t.wait_for(lambda l: "marker" in l)
        mine = [json.loads(l) for l in w.lines if "Canada" in l]
        assert [(m["op"], "relation" in m) for m in mine] == \
            [("add", False), ("add", True), ("add", True), ("remove", False)]
        assert mine[0]["entity"] == {"id": "Canada", "kind": "country",
                                     "aliases": ["Canadian"], "attributes": {}}
        assert mine[1]["relation"] == {
            "subject": "Canada", "relation": "tariffs-on", "object": "steel",
            "qualifiers": {"origin": "China", "rate": "25%"},
            "provenance": {"evidence": "Canada put 25% tariffs on Chinese steel."}}
        assert mine[0]["seq"] == mine[2]["seq"] < mine[3]["seq"]
        # the topic filter: only tariffs-on, as lines of text
        canada = [l for l in t.lines if "Canada" in l]
        assert canada == ["seq %d add tariffs-on: Canada -[tariffs-on]-> steel "
                          "{origin=China, rate=25%%}" % mine[1]["seq"]]
    finally:
        for x in (w, t):
            x.p.terminate()
            assert x.p.wait(10) == 0  # SIGTERM: a clean stop


def add_until_exit(p, d, prefix):
    """Add entities <prefix>-1, -2, ... until the watcher p has exited (a
    subscriber misses what is published before it has joined); its
    output."""
    i = 0
    while p.poll() is None and i < 400:
        i += 1
        d.ok(op="add", entities=[{"id": "%s-%d" % (prefix, i), "kind": "thing"}])
    return p.communicate(timeout=10)


def test_watch_count_and_seconds(kgd_factory):
    d = kgd_factory.start()
    p = subprocess.Popen([KG, "watch", "--feed", d.feed, "--count", "2", "entity"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = add_until_exit(p, d, "w")
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(l.startswith("seq ") and "add entity: w-" in l
                                   for l in lines), lines
    r = run("watch", "--feed", d.feed, "--count", "1", "--seconds", "0.3", "nothing-here")
    assert r.returncode == 1 and "0 of 1 changes within 0.3 s" in r.stderr, r.stderr


def test_extract_through_the_daemon(kgd_factory, source_dir):
    world = os.path.join(source_dir, "graphs", "world.gv")
    d = kgd_factory.start(graphs=[world])
    shared = shared_dir()
    assert shared, "the shared folder (eval/articles) is missing"
    article = os.path.join(shared, "eval", "articles", "01-macron-xi-beijing.txt")
    local = run("extract", article, "--format", "json")
    remote = run("-s", d.endpoint, "extract", article, "--format", "json")
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    # the same extractor and the same gazetteer (the world catalog)
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    assert remote.stderr.endswith("facts (by the daemon's extractor)\n"), remote.stderr
    assert tariffs_of(d.endpoint, "China") in (None, [])  # not committed
    r = run("-s", d.endpoint, "extract", article, "--commit", "--format", "tsv")
    assert r.returncode == 0, r.stderr
    assert "added to %s" % d.endpoint in r.stderr, r.stderr
    got = sorted(o for o, _ in tariffs_of(d.endpoint, "China"))
    assert got == ["cognac", "pork"]


def test_watch_finds_a_wildcard_feed(kgd_factory):
    d = kgd_factory.start(publish="tcp://0.0.0.0:*")
    assert d.feed.startswith("tcp://0.0.0.0:")
    port = d.feed.rsplit(":", 1)[1]
    p = subprocess.Popen([KG, "-s", d.endpoint, "watch", "--count", "1", "entity"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stderr.readline()
    assert first == "kg watch: watching tcp://127.0.0.1:%s for entity\n" % port, first
    out, err = add_until_exit(p, d, "wild")
    assert p.returncode == 0, err
    assert out.startswith("seq ") and "add entity: wild-" in out, out
    # a daemon that is not there: a clear error, no default guessed
    r = run("-s", "tcp://127.0.0.1:1", "watch")
    assert r.returncode == 1 and r.stderr.startswith("kg watch: ") and \
        "nothing listens on tcp://127.0.0.1:1" in r.stderr, r.stderr


def test_status(kgd_factory, tmp_path):
    data = tmp_path / "data"
    d = kgd_factory.start(data=str(data))
    assert run("-s", d.endpoint, "neighbors", "China").returncode == 0
    r = run("-s", d.endpoint, "status")
    assert r.returncode == 0, r.stderr
    lines = dict(l.split(None, 1) for l in r.stdout.splitlines() if not l.startswith(" "))
    assert lines["daemon"] == d.endpoint
    assert lines["graph"].startswith("33 entities, 34 relations, ")
    assert lines["journal"].startswith("%s: seq 0, " % data) and "fsync always" in lines["journal"]
    assert lines["writes"] == "accepted"
    assert lines["feed"] == d.feed
    assert "neighbors 1" in r.stdout
    # json: the whole stats reply
    r = run("-s", d.endpoint, "status", "--format", "json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["entities"] == 33 and st["feed"] == d.feed and st["read_only"] is False
    assert st["requests"]["by_op"]["neighbors"] == 1
    # no daemon: exit 1 at once
    r = run("-s", "tcp://127.0.0.1:1", "status")
    assert r.returncode == 1 and "nothing listens on tcp://127.0.0.1:1 (connection refused)" \
        in r.stderr, r.stderr
    # something listens but never answers: exit 1 after the timeout asked for
    import socket
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(1)
    try:
        r = run("-s", "tcp://127.0.0.1:%d" % mute.getsockname()[1], "status", "--timeout", "1")
    finally:
        mute.close()
    assert r.returncode == 1 and "within 1000 ms" in r.stderr, r.stderr
    r = run("status", "--format", "xml")
    assert r.returncode == 2 and "unknown format" in r.stderr


def test_remove_in_chunks_takes_relations_first(kgd_factory, tmp_path):
    """The file declares Canada before its relations; sent one change per
    request, the relations must still go before the entity (whose removal
    would take them along and make theirs fail)."""
    d = kgd_factory.start()
    facts = tmp_path / "canada.tsv"
    facts.write_text(FACTS, encoding="utf-8")
    assert run("-s", d.endpoint, "add", str(facts)).returncode == 0
    r = run("-s", d.endpoint, "remove", "--entities", "--chunk", "1", str(facts))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("removed: entities 1, relations 2; seq "), r.stdout
    assert tariffs_of(d.endpoint, "Canada") is None
