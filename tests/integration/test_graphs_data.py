"""Checks of the shipped graphs (graphs/*.gv): they parse cleanly, carry no
styling, the world catalog keeps its rules, and the default graph's fact
table scores against the gold facts of its article.

The tests need the kg program built (ctest sets KG_BUILD_DIR).
"""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

SRC = os.environ.get("KG_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(
                         os.path.abspath(__file__)))))
BUILD = os.environ.get("KG_BUILD_DIR", os.path.join(SRC, "build"))
DEFAULT = os.path.join(SRC, "graphs", "macron-xi-beijing.gv")
WORLD = os.path.join(SRC, "graphs", "world.gv")
SHARED = os.path.join(os.path.dirname(SRC), "shared")
SCORE = os.path.join(SHARED, "eval", "score")
GOLD = os.path.join(SHARED, "eval", "gold", "01-macron-xi-beijing.tsv")

STYLING = ("label", "xlabel", "color", "fillcolor", "fontcolor", "fontname",
           "fontsize", "shape", "style", "penwidth", "arrowhead", "dir")

NODE_RE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*\[(.*)\];\s*$')
ATTR_RE = re.compile(r'"?([\w-]+)"?="((?:[^"\\]|\\.)*)"')


def kg_binary():
    for cand in (os.path.join(BUILD, "kg"), os.path.join(BUILD, "src", "cli", "kg"),
                 os.path.join(BUILD, "bin", "kg")):
        if os.access(cand, os.X_OK):
            return cand
    return None


def nodes(path):
    """{id: {attr: value}} for the one-line node statements we write."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "->" in line:
                continue
            m = NODE_RE.match(line)
            if m:
                out[m.group(1)] = dict(ATTR_RE.findall(m.group(2)))
    return out


def edges(path):
    """[(tail, head, {attr: value})] for the edge statements (may span lines)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [(m.group(1), m.group(2), dict(ATTR_RE.findall(m.group(3))))
            for m in re.finditer(
                r'"((?:[^"\\]|\\.)*)"\s*->\s*"((?:[^"\\]|\\.)*)"\s*\[(.*?)\];',
                text, re.S)]


@pytest.mark.parametrize("path", [DEFAULT, WORLD])
def test_dot_parses_without_warnings(path):
    if not shutil.which("dot"):
        pytest.fail("graphviz dot is not installed")
    r = subprocess.run(["dot", "-Tcanon", path], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stderr == ""


@pytest.mark.parametrize("path", [DEFAULT, WORLD])
def test_no_styling_attributes(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for key in STYLING:
        assert not re.search(r'[\[,\s]%s\s*=' % key, text), key


def test_default_graph_entities_and_facts():
    ns = nodes(DEFAULT)
    es = edges(DEFAULT)
    assert ns["China"]["kind"] == "country"
    assert ns["European Union"]["kind"] == "bloc"
    assert ns["Beijing"]["kind"] == "place"
    assert ns["Chinese Communist Party"]["kind"] == "organization"
    for t, h, a in es:
        assert t in ns and h in ns, (t, h)
        assert a.get("relation"), (t, h)
        assert a.get("evidence"), (t, h)
    # every evidence is a quotation from the article
    article = os.path.join(SHARED, "eval", "articles", "01-macron-xi-beijing.txt")
    if os.path.exists(article):
        with open(article, encoding="utf-8") as f:
            text = f.read()
        for t, h, a in es:
            assert a["evidence"].replace('\\"', '"') in text, (t, h)


def test_world_catalog_rules():
    ns = nodes(WORLD)
    es = edges(WORLD)
    alias_of = {}
    for eid, attrs in ns.items():
        for a in filter(None, attrs.get("aliases", "").split("|")):
            # no alias names another entity, none is claimed twice
            assert a.casefold() not in {i.casefold() for i in ns}, (eid, a)
            assert a.casefold() not in alias_of, (eid, a, alias_of.get(a.casefold()))
            alias_of[a.casefold()] = eid
            if len(a) <= 2:
                assert a in ("EU", "UN", "US", "UK", "AU"), (eid, a)
    for name, want in (("french", "France"), ("chinese", "China"), ("eu", "European Union"),
                       ("american", "United States"), ("u.s.", "United States"),
                       ("prc", "China"), ("turkey", "Türkiye")):
        assert alias_of.get(name) == want, name
    for country in ("United States", "Russia", "China", "United Kingdom", "South Korea"):
        assert ns[country]["kind"] == "country"
    assert ns["Brussels"]["kind"] == "place"
    assert ns["Singapore (city)"]["kind"] == "place"
    rels = {(t, a["relation"], h) for t, h, a in es}
    assert ("Beijing", "capital-of", "China") in rels
    assert ("Moscow", "capital-of", "Russia") in rels
    assert ("Brussels", "seat-of", "European Union") in rels
    count = {}
    for t, r, h in rels:
        if r == "member-of":
            count[h] = count.get(h, 0) + 1
    assert count["European Union"] == 27
    assert count["NATO"] == 32
    assert count["G7"] == 7
    assert count["United Nations"] == 193


def test_world_catalog_is_generated():
    """Rerun the generator: from $KG_WORLD_TARBALL offline, else through npm
    (the npm registry is reachable here and in CI); world.gv must not change."""
    args = ["/usr/bin/python3", os.path.join(SRC, "scripts", "gen-world-catalog"), "--check"]
    tarball = os.environ.get("KG_WORLD_TARBALL")
    if tarball:
        args += ["--tarball", tarball]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def export_tsv(*graphs):
    kg = kg_binary()
    assert kg, "kg is not built"
    args = [kg, "export", "--format", "tsv"]
    for g in graphs:
        args += ["-g", g]
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def fact_lines(tsv):
    return [l for l in tsv.splitlines()
            if l.strip() and not l.startswith("#") and not l.startswith("subject\t")]


def test_default_graph_scores_against_gold():
    assert os.path.exists(SCORE), "the shared folder (eval/score) is missing"
    tsv = export_tsv(DEFAULT)
    with tempfile.TemporaryDirectory() as tmp:
        pred = os.path.join(tmp, "pred.tsv")
        with open(pred, "w", encoding="utf-8") as f:
            f.write(tsv)  # exactly what `kg export --format tsv` prints
        r = subprocess.run(["/usr/bin/python3", SCORE, GOLD, pred, "-v"],
                           capture_output=True, text=True)
    last = r.stdout.strip().splitlines()[-1]
    m = re.match(r"F1 ([\d.]+)", last)
    assert m, r.stdout
    assert float(m.group(1)) >= 0.95, r.stdout
    q = re.search(r"qualifiers (\d+)/(\d+)", last)
    assert q and q.group(1) == q.group(2), r.stdout


def test_graphs_load_together():
    """The default graph and the catalog load together without merging
    distinct entities: facts add up (one shared fact: US member-of NATO)."""
    n_default = len(fact_lines(export_tsv(DEFAULT)))
    n_world = len(fact_lines(export_tsv(WORLD)))
    n_both = len(fact_lines(export_tsv(DEFAULT, WORLD)))
    assert n_default == len(edges(DEFAULT))
    assert n_world == len(edges(WORLD))
    assert n_both == n_default + n_world - 1
