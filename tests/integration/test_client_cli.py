"""`kg -s ENDPOINT <subcommand>` must print what `kg <subcommand>` prints on
the same graph file (the C client library, include/kg/client.h, loading
replies into a local graph for the kg printers)."""
import subprocess

import pytest

from conftest import DEFAULT_GRAPH

CASES = [
    ["entity", "China"],
    ["entity", "chinese", "--format", "json"],
    ["entity", "Macron", "--format", "tsv"],
    ["entities", "--kind", "product"],
    ["entities", "--prefix", "fr", "--format", "json"],
    ["entities", "--kind", "product", "--limit", "3", "--format", "tsv"],
    ["relations", "--subject", "China"],
    ["relations", "--relation", "tariffs-on", "--format", "tsv"],
    ["relations", "--relation", "tariffs-on", "--format", "json"],
    ["relations", "--where", "origin=China", "--as-of", "2025"],
    ["relations", "--where", "claimed-by"],
    ["relations", "--limit", "5"],
    ["neighbors", "Macron", "--depth", "2"],
    ["neighbors", "Macron", "--depth", "2", "--format", "json"],
    ["neighbors", "cognac", "--direction", "in", "--format", "tsv"],
    ["neighbors", "China", "--relation", "tariffs-on", "--relation", "supplies"],
    ["path", "Macron", "Russia"],
    ["path", "Macron", "Russia", "--all", "--format", "tsv"],
    ["path", "Russia", "Macron"],
    ["path", "Russia", "Macron", "--direction", "both", "--format", "json"],
    ["path", "cognac", "pork", "--direction", "both"],
    ["subgraph", "China"],
    ["subgraph", "cognac", "--format", "tsv"],
    ["subgraph", "China", "--depth", "2", "--format", "json"],
    ["match", "?a tariffs-on ?p origin=?b", "?a exports-to ?b"],
    ["match", "?a tariffs-on ?p origin=?b", "?a exports-to ?b", "--format", "json"],
    ["match", "?a tariffs-on ?p origin=?b", "?a exports-to ?b", "--explain"],
    ["match", '"Emmanuel Macron" meets ?who place=Beijing', "--format", "tsv"],
    ["export", "--format", "tsv"],
    ["export", "--format", "dot"],
    ["export", "--format", "json"],
]

ERRORS = [
    ["entity", "Atlantis"],
    ["neighbors", "Atlantis"],
    ["path", "China", "Atlantis"],
    ["relations", "--as-of", "2025-13"],
]


def kg(kg_bin, args):
    return subprocess.run([kg_bin] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a) for a in CASES])
def test_same_output_as_on_the_file(kg_bin, kgd, args):
    local = kg(kg_bin, args + ["-g", DEFAULT_GRAPH])
    assert local.returncode == 0, local.stderr
    remote = kg(kg_bin, ["-s", kgd.endpoint] + args)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert remote.stderr == local.stderr


def test_stats_same_counts(kg_bin, kgd):
    """stats: the same counts by kind; memory is the server's own."""
    local = kg(kg_bin, ["stats", "--format", "tsv", "-g", DEFAULT_GRAPH])
    remote = kg(kg_bin, ["-s", kgd.endpoint, "stats", "--format", "tsv"])
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    strip = lambda out: [l for l in out.splitlines() if not l.startswith("memory_bytes")]
    assert strip(remote.stdout) == strip(local.stdout)
    assert any(l.startswith("memory_bytes") for l in remote.stdout.splitlines())


@pytest.mark.parametrize("args", ERRORS, ids=[" ".join(a) for a in ERRORS])
def test_same_errors(kg_bin, kgd, args):
    local = kg(kg_bin, args + ["-g", DEFAULT_GRAPH])
    remote = kg(kg_bin, ["-s", kgd.endpoint] + args)
    assert local.returncode != 0
    assert remote.returncode == local.returncode
    assert remote.stdout == local.stdout
    assert remote.stderr == local.stderr


def test_unreachable_server(kg_bin, tmp_path):
    r = kg(kg_bin, ["-s", "ipc://%s/nobody" % tmp_path, "entity", "China"])
    assert r.returncode == 1
    assert r.stdout == ""
    assert "nobody" in r.stderr


def test_snapshot_online(kg_bin, kgd_factory, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    k = kgd_factory.start(data=str(data))
    r = kg(kg_bin, ["-s", k.endpoint, "snapshot"])
    assert r.returncode == 0, r.stderr
    assert str(data) in r.stdout
