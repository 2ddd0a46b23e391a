"""The benchmark programs work: bench_server's two load generators talk
to a real kgd and to bench_echo and check every reply, bench_neighbors
runs its query on a generated graph. What they measure is not checked
here (benchmarks are never timed in tests); that they run, that they
count replies and that they fail loudly is.

Registered by tests/CMakeLists.txt only when the bench programs are built
(KG_BUILD_BENCH), under the name bench/tools.
"""
import os
import re
import subprocess

import pytest

from conftest import BUILD

BENCH_SERVER = os.path.join(BUILD, "bench", "bench_server")
BENCH_ECHO = os.path.join(BUILD, "bench", "bench_echo")
BENCH_NEIGHBORS = os.path.join(BUILD, "bench", "bench_neighbors")


def run(cmd, timeout=60):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def fields(stdout):
    return dict(kv.split("=", 1) for kv in stdout.split())


def load(endpoint, *args):
    r = run([BENCH_SERVER, "load", "--endpoint", endpoint, "--seconds", "0.3",
             "--warmup", "0", "--depth", "8"] + list(args))
    return r, fields(r.stdout) if r.returncode == 0 else {}


@pytest.mark.parametrize("client", ["zmtp", "zmq"])
@pytest.mark.parametrize("op,extra", [
    ("ping", []),
    ("entity", ["--names", "China,France,cognac"]),
    ("neighbors", ["--names", "China,France", "--detail", "ids"]),
    ("neighbors", ["--names", "China", "--detail", "full", "--burst"]),
])
def test_load_against_kgd(kgd, client, op, extra):
    before = kgd.client().stats()["requests"]["total"]
    r, f = load(kgd.endpoint, "--op", op, "--client", client, "--clients", "2", *extra)
    assert r.returncode == 0, r.stderr
    assert f["op"] == op and f["errors"] == "0"
    assert int(f["requests"]) > 0 and float(f["rps"]) > 0
    assert float(f["reply_bytes"]) > 20
    # kgd saw at least the requests counted (and the warm-up/drain ones).
    after = kgd.client().stats()["requests"]["total"]
    assert after - before >= int(f["requests"])


def test_detail_changes_reply_size(kgd):
    sizes = {}
    for detail in ("full", "brief", "ids"):
        r, f = load(kgd.endpoint, "--op", "neighbors", "--names", "China",
                    "--detail", detail)
        assert r.returncode == 0, r.stderr
        sizes[detail] = float(f["reply_bytes"])
    assert sizes["full"] > sizes["brief"] > sizes["ids"] > 0


def test_load_against_echo(tmp_path):
    p = subprocess.Popen([BENCH_ECHO, "tcp://127.0.0.1:*", "30"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.match(r"listening on (\S+)", line)
        assert m, line
        for client in ("zmtp", "zmq"):
            r, f = load(m.group(1), "--op", "ping", "--echo", "--client", client)
            assert r.returncode == 0, r.stderr
            assert f["errors"] == "0" and int(f["requests"]) > 0
    finally:
        p.terminate()
        p.wait(10)


def test_replies_that_are_not_ok_are_errors(kgd):
    # Every request names an unknown entity: kgd answers ok=false, and the
    # load generator counts each as an error and exits 1.
    r, _ = load(kgd.endpoint, "--op", "entity", "--names", "no-such-entity")
    assert r.returncode == 1
    assert int(fields(r.stdout)["errors"]) > 0


def test_nobody_listening_fails_clearly():
    r = run([BENCH_SERVER, "load", "--endpoint", "tcp://127.0.0.1:1", "--op", "ping",
             "--seconds", "0.2"])
    assert r.returncode == 1
    assert "tcp://127.0.0.1:1" in r.stderr and "refused" in r.stderr.lower()


def test_bad_options_are_refused():
    r = run([BENCH_SERVER, "load", "--endpoint", "tcp://127.0.0.1:1", "--op", "fly"])
    assert r.returncode == 2 and "ping|entity|neighbors" in r.stderr
    r = run([BENCH_SERVER, "load", "--endpoint", "tcp://127.0.0.1:1", "--client", "carrier"])
    assert r.returncode == 2


def test_bench_neighbors_runs(tmp_path):
    graph = str(tmp_path / "g.tsv")
    r = run([BENCH_SERVER, "gen", "200", "1000", graph])
    assert r.returncode == 0, r.stderr
    with open(graph) as f:
        lines = f.read().splitlines()
    assert lines[0] == "subject\trelation\tobject"
    assert sum(l.startswith("#@entity\t") for l in lines) == 200
    assert len(lines) == 1 + 200 + 1000
    r = run([BENCH_NEIGHBORS, graph, "200", "1"], timeout=300)
    assert r.returncode == 0, r.stderr
    assert "loaded 200 entities" in r.stdout
    for label in ("no prefetch", "prefetch the entity", "prefetch its neighbourhood",
                  "neighbourhood, chunk ahead"):
        m = re.search(re.escape(label) + r"\s+(\d+) ns/query", r.stdout)
        assert m and int(m.group(1)) > 0, r.stdout


def test_thread_cpu_reports_every_thread():
    script = os.path.join(os.environ.get("KG_SOURCE_DIR", os.path.dirname(BUILD)),
                          "bench", "thread-cpu.py")
    r = run(["/usr/bin/python3", script, "--build", BUILD, "--seconds", "0.3", "--",
             "--op", "neighbors", "--names", "China,France", "--detail", "brief"])
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert fields(lines[0])["errors"] == "0"
    per_thread = {l.split()[0]: float(l.split()[1]) for l in lines[1:]}
    # kgd's request loop and libzmq's I/O thread both did work.
    assert per_thread["kgd"] > 0 and per_thread["ZMQbg/IO/0"] > 0
