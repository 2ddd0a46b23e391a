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

from test_cli import KG, run


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
