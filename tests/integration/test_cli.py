"""The kg program: every subcommand, --help, exit statuses (0 ok, 1 error,
2 bad usage), broken graph files, output formats, `dot -Tsvg` on exports,
and the default graph's fact table scored against the gold facts.

Runs the built binary: KG_BUILD_DIR and KG_SOURCE_DIR are set by ctest.
"""
import json
import os
import re
import shutil
import subprocess
import unicodedata

import pytest

SRC = os.environ.get("KG_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(
                         os.path.abspath(__file__)))))
BUILD = os.environ.get("KG_BUILD_DIR", os.path.join(SRC, "build"))
DATA = os.path.join(SRC, "tests", "data", "io")


def kg_binary():
    for cand in (os.path.join(BUILD, "src", "cli", "kg"), os.path.join(BUILD, "kg"),
                 os.path.join(BUILD, "bin", "kg")):
        if os.access(cand, os.X_OK):
            return cand
    pytest.fail("kg binary not found under %s" % BUILD)


KG = kg_binary()

COMMANDS = ["entity", "entities", "relations", "neighbors", "path", "subgraph",
            "match", "stats", "export"]

SMALL = r'''digraph small {
    "China" [kind="country", aliases="PRC|Chinese"];
    "France" [kind="country", aliases="French", capital="Paris"];
    "European Union" [kind="bloc", aliases="EU"];
    "electric vehicles" [kind="product", aliases="EV"];
    "cognac" [kind="product"];
    "pork" [kind="product"];
    "北京" [kind="place", aliases="Peking"];
    "Zürich" [kind="place"];
    "European Union" -> "electric vehicles" [relation="tariffs-on", origin="China", date="2024-10", evidence="EU tariffs on Chinese EVs."];
    "China" -> "cognac" [relation="tariffs-on", origin="France", kind="minimum-price"];
    "China" -> "pork" [relation="tariffs-on", origin="EU", kind="duty"];
    "China" -> "European Union" [relation="exports-to"];
    "China" -> "France" [relation="exports-to", since="2020", until="2024-06"];
    "France" -> "European Union" [relation="member-of"];
    "北京" -> "China" [relation="capital-of"];
    "Zürich" -> "France" [relation="near"];
}
'''


def run(*args, input=None, env=None):
    e = dict(os.environ)
    e.pop("KG_DEFAULT_GRAPH", None)
    if env:
        e.update(env)
    return subprocess.run([KG] + list(args), capture_output=True, text=True,
                          input=input, env=e, timeout=120)


@pytest.fixture
def small(tmp_path):
    p = tmp_path / "small.gv"
    p.write_text(SMALL, encoding="utf-8")
    return str(p)


def shared_dir():
    for cand in (os.path.join(os.path.dirname(SRC), "shared"), "/work/shared"):
        if os.path.isdir(os.path.join(cand, "eval")):
            return cand
    return None


# ---- global ---------------------------------------------------------------------

def test_global_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    for c in COMMANDS:
        assert re.search(r"^  %s\s" % c, r.stdout, re.M), c
    assert "Exit status" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and re.match(r"kg \(kgd\) \d+\.\d+\.\d+\n", r.stdout)


def test_global_usage_errors():
    r = run()
    assert r.returncode == 2 and "Usage: kg" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = run("--bogus", "stats")
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr
    r = run("-s")
    assert r.returncode == 2


def test_server_option():
    r = run("-s", "tcp://127.0.0.1:1", "stats")
    if "not built yet" in r.stderr:
        assert r.returncode == 1
        assert r.stderr == "kg: --server: not built yet\n"
    else:  # a client is built in: nobody listens there
        assert r.returncode == 1 and r.stderr.startswith("kg ")


@pytest.mark.parametrize("cmd", COMMANDS)
def test_subcommand_help(cmd):
    r = run(cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: kg %s" % cmd)
    assert "-g, --graph FILE" in r.stdout
    assert "Exit status: 0 success, 1 error" in r.stdout and "2 bad usage" in r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("cmd", COMMANDS)
def test_subcommand_bad_option(cmd):
    r = run(cmd, "--no-such-option")
    assert r.returncode == 2
    assert r.stderr.startswith("kg %s: unknown option '--no-such-option'" % cmd)
    assert "Try 'kg %s --help'." % cmd in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("args", [
    ["entity"], ["entity", "a", "b"], ["neighbors"], ["path", "China"],
    ["subgraph"], ["match"], ["stats", "extra"], ["export", "extra"],
    ["neighbors", "China", "--depth", "0"], ["neighbors", "China", "--depth", "x"],
    ["neighbors", "China", "--direction", "up"],
    ["relations", "--as-of", "2024-13"], ["relations", "--limit", "-1"],
    ["relations", "--format", "xml"], ["export", "--format", "table"],
    ["relations", "--where", "=x"], ["relations", "-g"],
    ["match", "?a tariffs-on"], ["match", "?a tariffs-on ?b =x"],
    ["match", '?a "tariffs-on ?b'], ["match", "? tariffs-on ?b"],
])
def test_bad_usage(small, args):
    r = run(*(args + ["-g", small] if args[-1] != "-g" else args))
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stderr.startswith("kg %s: " % args[0]), r.stderr


# ---- graph files -------------------------------------------------------------------

@pytest.mark.parametrize("name,line", [("bad-syntax-l5.gv", 5),
                                       ("bad-header-l1.tsv", 1),
                                       ("bad-unterminated-l3.json", 3)])
def test_broken_graph_file(name, line):
    path = os.path.join(DATA, name)
    r = run("stats", "-g", path)
    assert r.returncode == 1
    assert re.match(r"kg stats: .*%s:%d: \S" % (re.escape(name), line), r.stderr), r.stderr
    assert r.stdout == ""


def test_missing_graph_file(tmp_path):
    r = run("relations", "-g", str(tmp_path / "nope.gv"))
    assert r.returncode == 1
    assert r.stderr.startswith("kg relations: ") and "nope.gv" in r.stderr


def test_several_graphs_and_default(small, tmp_path):
    other = tmp_path / "other.gv"
    other.write_text('digraph o { "Atlantis" [kind="place"]; '
                     '"Atlantis" -> "France" [relation="near"]; }\n')
    r = run("stats", "--format", "json", "-g", small, "-g", str(other))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["entities"] == 9 and s["relations"] == 9
    # no -g: the shipped default graph (or $KG_DEFAULT_GRAPH)
    r = run("stats", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["relations"] > 20
    r = run("stats", "--format", "json", env={"KG_DEFAULT_GRAPH": small})
    assert json.loads(r.stdout)["entities"] == 8


# ---- entity, entities, stats ----------------------------------------------------------

def test_entity(small):
    r = run("entity", "prc", "-g", small)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^id\s+China$", r.stdout, re.M)
    assert re.search(r"^out\s+tariffs-on\s+2$", r.stdout, re.M)
    assert re.search(r"^out\s+exports-to\s+2$", r.stdout, re.M)
    assert re.search(r"^in\s+capital-of\s+1$", r.stdout, re.M)
    r = run("entity", "French", "--format", "json", "-g", small)
    e = json.loads(r.stdout)
    assert e["id"] == "France" and e["kind"] == "country"
    assert e["aliases"] == ["French"] and e["attributes"] == {"capital": "Paris"}
    assert e["out"] == {"member-of": 1} and e["in"] == {"exports-to": 1, "near": 1}


def test_unknown_entity_suggests(small):
    r = run("entity", "Chnia", "-g", small)
    assert r.returncode == 1
    assert r.stderr == 'kg entity: unknown entity "Chnia" (did you mean "China"?)\n'
    r = run("neighbors", "Qqqqqqqq", "-g", small)
    assert r.returncode == 1
    assert r.stderr == 'kg neighbors: unknown entity "Qqqqqqqq"\n'
    for args in (["path", "China", "Nowhere"], ["subgraph", "China", "Nowhere"],
                 ["relations", "--subject", "Nowhere"],
                 ["relations", "--object", "Nowhere"]):
        r = run(*args, "-g", small)
        assert r.returncode == 1 and '"Nowhere"' in r.stderr, args


def test_entities(small):
    r = run("entities", "--kind", "product", "--format", "json", "-g", small)
    j = json.loads(r.stdout)
    assert [e["id"] for e in j["entities"]] == ["cognac", "electric vehicles", "pork"]
    assert j["total"] == 3 and j["truncated"] is False
    r = run("entities", "--prefix", "e", "--format", "tsv", "-g", small)
    assert r.stdout.splitlines() == ["id\tkind\taliases",
                                     "electric vehicles\tproduct\tEV",
                                     "European Union\tbloc\tEU"]
    r = run("entities", "--limit", "2", "--offset", "1", "-g", small)
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == 3
    assert "showing 2 of 8 entities" in r.stderr


def test_stats(small):
    r = run("stats", "--format", "json", "-g", small)
    s = json.loads(r.stdout)
    assert s["entities"] == 8 and s["relations"] == 8
    assert s["relation_kinds"]["tariffs-on"] == 3
    assert s["entity_kinds"]["country"] == 2
    assert s["memory_bytes"] > 0
    r = run("stats", "-g", small)
    assert re.search(r"^relation_kind\s+tariffs-on\s+3$", r.stdout, re.M)


def display_width(s):
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def test_table_alignment_utf8(small):
    r = run("relations", "--relation", "capital-of", "-g", small)
    r2 = run("neighbors", "France", "--direction", "in", "-g", small)
    for out in (r.stdout, r2.stdout):
        lines = out.splitlines()
        assert len(lines) >= 2
        # the second column starts at the same display column on every line
        starts = set()
        for line in lines:
            m = re.match(r"(\S+(?: \S+)*\s{2,})", line)
            starts.add(display_width(m.group(1)))
        assert len(starts) == 1, lines


# ---- relations ------------------------------------------------------------------------

def rel_tuples(out):
    return [(r["subject"], r["relation"], r["object"]) for r in json.loads(out)["relations"]]


def test_relations(small):
    r = run("relations", "--subject", "China", "--relation", "tariffs-on",
            "--format", "json", "-g", small)
    assert r.returncode == 0, r.stderr
    assert rel_tuples(r.stdout) == [("China", "tariffs-on", "cognac"),
                                    ("China", "tariffs-on", "pork")]
    j = json.loads(r.stdout)
    assert j["relations"][0]["qualifiers"] == {"kind": "minimum-price", "origin": "France"}
    r = run("relations", "--object", "EV", "--format", "json", "-g", small)
    assert rel_tuples(r.stdout) == [("European Union", "tariffs-on", "electric vehicles")]
    assert json.loads(r.stdout)["relations"][0]["provenance"]["evidence"] == \
        "EU tariffs on Chinese EVs."
    r = run("relations", "--where", "origin=China", "--format", "json", "-g", small)
    assert len(rel_tuples(r.stdout)) == 1
    r = run("relations", "--where", "kind", "--format", "json", "-g", small)
    assert len(rel_tuples(r.stdout)) == 2
    r = run("relations", "--relation", "no-such-kind", "-g", small)
    assert r.returncode == 0 and r.stdout == ""


def test_relations_as_of(small):
    def objects(as_of):
        r = run("relations", "--subject", "China", "--relation", "exports-to",
                "--as-of", as_of, "--format", "json", "-g", small)
        assert r.returncode == 0, r.stderr
        return sorted(t[2] for t in rel_tuples(r.stdout))
    assert objects("2019") == ["European Union"]
    assert objects("2020-01-01") == ["European Union", "France"]
    assert objects("2024-06-30") == ["European Union", "France"]  # until 2024-06
    assert objects("2024-07") == ["European Union"]
    r = run("relations", "--relation", "tariffs-on", "--as-of", "2024-09",
            "--format", "json", "-g", small)
    assert len(rel_tuples(r.stdout)) == 2  # the EU tariff dates from 2024-10
    r = run("relations", "--relation", "tariffs-on", "--as-of", "2024-10",
            "--format", "json", "-g", small)
    assert len(rel_tuples(r.stdout)) == 3


def test_relations_limit_and_tsv_roundtrip(small, tmp_path):
    r = run("relations", "--limit", "3", "-g", small)
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == 4  # header + 3
    assert "showing the first 3 results" in r.stderr
    r = run("relations", "--limit", "3", "--format", "json", "-g", small)
    assert json.loads(r.stdout)["truncated"] is True
    # the TSV output is a fact table kg reads back
    r = run("relations", "--relation", "tariffs-on", "--format", "tsv", "-g", small)
    lines = r.stdout.splitlines()
    assert lines[0] == "subject\trelation\tobject\tqualifiers\tevidence\tprovenance"
    facts = tmp_path / "facts.tsv"
    facts.write_text(r.stdout)
    r2 = run("relations", "--format", "json", "-g", str(facts))
    assert r2.returncode == 0, r2.stderr
    assert sorted(rel_tuples(r2.stdout)) == sorted(
        [("European Union", "tariffs-on", "electric vehicles"),
         ("China", "tariffs-on", "cognac"), ("China", "tariffs-on", "pork")])


# ---- neighbors, path -----------------------------------------------------------------

def test_neighbors(small):
    r = run("neighbors", "China", "--format", "json", "-g", small)
    assert r.returncode == 0, r.stderr
    got = [(n["entity"], n["depth"]) for n in json.loads(r.stdout)["neighbors"]]
    # the order within a level follows the adjacency (kind, handle) order
    assert sorted(got) == [("European Union", 1), ("France", 1), ("cognac", 1),
                           ("pork", 1)]
    r = run("neighbors", "China", "--direction", "in", "--format", "json", "-g", small)
    assert [n["entity"] for n in json.loads(r.stdout)["neighbors"]] == ["北京"]
    r = run("neighbors", "China", "--depth", "2", "--relation", "exports-to",
            "--relation", "member-of", "--format", "tsv", "-g", small)
    rows = [l.split("\t") for l in r.stdout.splitlines()]
    assert rows[0] == ["depth", "entity", "kind", "subject", "relation", "object"]
    assert sorted((x[0], x[1]) for x in rows[1:]) == [("1", "European Union"),
                                                      ("1", "France")]
    r = run("neighbors", "Zürich", "--depth", "3", "--direction", "both",
            "--format", "json", "-g", small)
    got = {n["entity"]: n["depth"] for n in json.loads(r.stdout)["neighbors"]}
    assert got["France"] == 1 and got["China"] == 2 and got["European Union"] == 2
    assert got["北京"] == 3 and "Zürich" not in got
    r = run("neighbors", "China", "--limit", "1", "--format", "json", "-g", small)
    j = json.loads(r.stdout)
    assert len(j["neighbors"]) == 1 and j["truncated"] is True


def test_path(small):
    r = run("path", "pork", "Zürich", "-g", small)
    assert r.returncode == 0
    assert r.stdout == "no path from pork to Zürich\n"
    r = run("path", "pork", "Zürich", "--direction", "both", "-g", small)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("pork <-[tariffs-on]- China -[exports-to]-> France "
                        "<-[near]- Zürich\n")
    r = run("path", "Zürich", "EV", "-g", small)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("Zürich -[near]-> France -[member-of]-> European Union "
                        "-[tariffs-on]-> electric vehicles\n")
    r = run("path", "China", "EU", "--all", "--direction", "both", "--format", "json",
            "-g", small)
    j = json.loads(r.stdout)
    assert j["length"] == 1 and len(j["paths"]) == 1
    r = run("path", "China", "European Union", "--all", "--max-length", "2",
            "--format", "json", "-g", small)
    j = json.loads(r.stdout)
    assert j["length"] == 1
    r = run("path", "北京", "European Union", "--all", "--format", "tsv", "-g", small)
    rows = [l.split("\t") for l in r.stdout.splitlines()]
    assert rows[0] == ["path", "step", "subject", "relation", "object", "direction"]
    assert len(rows) == 3  # 北京 -> China -> EU
    r = run("path", "Zürich", "EV", "--max-length", "2",
            "--format", "json", "-g", small)
    assert json.loads(r.stdout)["paths"] == []
    r = run("path", "France", "China", "--direction", "in", "-g", small)
    assert r.stdout == "France <-[exports-to]- China\n"


# ---- subgraph, export ----------------------------------------------------------------

def test_export_dot_renders_without_warnings():
    r = run("export", "--format", "dot")
    assert r.returncode == 0, r.stderr
    d = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True,
                       text=True, timeout=120)
    assert d.returncode == 0
    assert d.stderr == ""
    assert "<svg" in d.stdout


def test_export_roundtrip(small, tmp_path):
    base = json.loads(run("stats", "--format", "json", "-g", small).stdout)
    for fmt, ext in (("dot", "gv"), ("tsv", "tsv"), ("json", "json")):
        out = tmp_path / ("x." + ext)
        r = run("export", "-o", str(out), "-g", small)  # format from extension
        assert r.returncode == 0, r.stderr
        assert r.stdout == ""
        s = json.loads(run("stats", "--format", "json", "-g", str(out)).stdout)
        assert s["entities"] == base["entities"], fmt
        assert s["relation_kinds"] == base["relation_kinds"], fmt
    r = run("export", "--format", "json", "-g", small)
    j = json.loads(r.stdout)
    assert len(j["entities"]) == 8 and len(j["relations"]) == 8
    r = run("export", "-o", str(tmp_path / "no" / "such" / "dir.gv"), "-g", small)
    assert r.returncode == 1 and r.stderr.startswith("kg export: ")


def test_subgraph(small, tmp_path):
    out = tmp_path / "sub.json"
    r = run("subgraph", "France", "-o", str(out), "-g", small)
    assert r.returncode == 0, r.stderr
    j = json.loads(out.read_text())
    ids = sorted(e["id"] for e in j["entities"])
    # France and, both directions at depth 1: EU, China, Zürich
    assert ids == ["China", "European Union", "France", "Zürich"]
    # induced: every relation among them (China -> EU too)
    rels = sorted((r["subject"], r["relation"], r["object"]) for r in j["relations"])
    assert ("China", "exports-to", "European Union") in rels
    assert len(rels) == 4
    fr = [e for e in j["entities"] if e["id"] == "France"][0]
    assert fr["aliases"] == ["French"]
    r = run("subgraph", "China", "EU", "--relation", "tariffs-on", "--format", "tsv",
            "-g", small)
    facts = [l for l in r.stdout.splitlines() if l and not l.startswith("#")]
    assert len(facts) == 1 + 3  # header + the three tariffs


def test_subgraph_dot_renders():
    r = run("subgraph", "China", "--depth", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("digraph")
    d = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True,
                       text=True, timeout=120)
    assert d.returncode == 0 and d.stderr == ""


# ---- match -----------------------------------------------------------------------------

def test_match_example(small):
    r = run("match", "?a tariffs-on ?p origin=?b", "?a exports-to ?b",
            "--format", "json", "-g", small)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["variables"] == ["?a", "?p", "?b"]
    assert sorted(map(tuple, j["rows"])) == [("China", "cognac", "France"),
                                             ("China", "pork", "European Union")]
    assert sorted(j["plan"]) == [0, 1]
    # as of 2025 China no longer exports to France (until 2024-06)
    r = run("match", "?a tariffs-on ?p origin=?b", "?a exports-to ?b",
            "--as-of", "2025", "--format", "json", "-g", small)
    assert json.loads(r.stdout)["rows"] == [["China", "pork", "European Union"]]


def test_match_table_explain_and_quotes(small):
    r = run("match", '"European Union" tariffs-on ?p origin=?o date', "--explain",
            "-g", small)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "plan:"
    assert "pattern 1" in lines[1]
    assert re.match(r"\?p\s+\?o$", lines[3])
    assert re.match(r"electric vehicles\s+China$", lines[4])
    r = run("match", "France member-of EU", "-g", small)
    assert r.stdout == "yes\n"
    r = run("match", "France member-of China", "-g", small)
    assert r.returncode == 0 and r.stdout == "no\n"
    r = run("match", "?x 'capital-of' ?y", "--format", "tsv", "-g", small)
    assert r.stdout.splitlines() == ["?x\t?y", "北京\tChina"]
    r = run("match", "?a ?r ?b", "--limit", "2", "--format", "json", "-g", small)
    j = json.loads(r.stdout)
    assert len(j["rows"]) == 2 and j["truncated"] is True


# ---- the default graph against the gold facts -------------------------------------------

def test_default_graph_scores_against_gold(tmp_path):
    shared = shared_dir()
    assert shared, "the shared folder (eval/score, gold) is missing"
    score = os.path.join(shared, "eval", "score")
    gold = os.path.join(shared, "eval", "gold", "01-macron-xi-beijing.tsv")
    pred = tmp_path / "pred.tsv"
    r = run("export", "--format", "tsv", "-o", str(pred))
    assert r.returncode == 0, r.stderr
    s = subprocess.run([score, gold, str(pred)], capture_output=True, text=True,
                       timeout=120)
    assert s.returncode == 0, s.stderr
    last = s.stdout.strip().splitlines()[-1]
    m = re.search(r"F1\s+([0-9.]+)", last)
    assert m, last
    assert float(m.group(1)) >= 0.95, last
