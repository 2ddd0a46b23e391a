"""Every script in clients/examples/, run against a real kgd on the default
graph, with its output checked."""
import os
import subprocess
import sys
import time

import pytest

from conftest import SOURCE

EXAMPLES = os.path.join(SOURCE, "clients", "examples")


def run(script, *args, timeout=60, check=True):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if check:
        assert r.returncode == 0, "%s failed (%d):\n%s%s" % (script, r.returncode,
                                                             r.stdout, r.stderr)
    return r


def test_every_example_has_usage_and_endpoint():
    scripts = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py") and
                     not f.startswith("_"))
    assert scripts == ["match.py", "path.py", "subgraph_svg.py", "tariffs.py",
                       "trade_flows.py", "watch_feed.py"]
    for s in scripts:
        r = run(s, "--help")
        assert "--endpoint" in r.stdout
        with open(os.path.join(EXAMPLES, s)) as f:
            text = f.read()
        assert "Usage:" in text.split('"""')[1], s


def test_tariffs(kgd):
    out = run("tariffs.py", "--endpoint", kgd.endpoint).stdout
    assert out.splitlines() == [
        "China puts a duty on pork from European Union",
        "China puts a minimum-price on cognac from France",
        "European Union puts a tariff on electric vehicles from China (2024-10)",
    ]
    out = run("tariffs.py", "--endpoint", kgd.endpoint, "--origin", "EU").stdout
    assert out.splitlines() == ["China puts a duty on pork from European Union"]
    out = run("tariffs.py", "--endpoint", kgd.endpoint, "--as-of", "2024-09").stdout
    assert "electric vehicles" not in out and "cognac" in out


def test_trade_flows(kgd):
    out = run("trade_flows.py", "China", "European Union", "--endpoint", kgd.endpoint).stdout
    assert out.splitlines() == [
        "China -> European Union",
        "  exports-to          $461 billion (2025-01/2025-10)",
        "  imports-from        $219 billion (2025-01/2025-10)",
        "  trade-surplus-with  $242 billion (2025-01/2025-10)",
        "European Union -> China",
        "  (nothing)",
    ]
    out = run("trade_flows.py", "PRC", "Russian", "--endpoint", kgd.endpoint).stdout
    assert "China -> Russia" in out
    assert "supplies            weapons, gunpowder [claimed by Ukraine]" in out


def test_path(kgd):
    out = run("path.py", "Macron", "Russia", "--endpoint", kgd.endpoint).stdout
    assert out == "Emmanuel Macron -[calls-on]-> China -[supplies]-> Russia\n"
    out = run("path.py", "cognac", "pork", "--endpoint", kgd.endpoint).stdout
    assert out == "cognac <-[tariffs-on]- China -[tariffs-on]-> pork\n"
    out = run("path.py", "Russia", "Macron", "--direction", "out",
              "--endpoint", kgd.endpoint).stdout
    assert out == "no path from Russia to Emmanuel Macron\n"
    r = run("path.py", "Atlantis", "Russia", "--endpoint", kgd.endpoint, check=False)
    assert r.returncode == 1 and "Atlantis" in r.stderr and "not_found" in r.stderr


def test_subgraph_svg(kgd, tmp_path):
    svg = tmp_path / "china.svg"
    out = run("subgraph_svg.py", "China", "-o", str(svg), "--endpoint", kgd.endpoint).stdout
    assert out == "%s: 15 entities, 27 relations\n" % svg
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "cognac" in text and "Russia" in text


def test_match(kgd):
    out = run("match.py", "--endpoint", kgd.endpoint).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["?a", "?p", "?b"]
    assert lines[1] == "China  pork  European Union"
    assert lines[2].startswith("(1 row; plan: patterns ")
    out = run("match.py", "--endpoint", kgd.endpoint, "--patterns",
              '[["Emmanuel Macron", "meets", "?who"]]').stdout
    assert out.splitlines()[1] == "Xi Jinping"


@pytest.mark.parametrize("how", ["--endpoint", "--server"])
def test_watch_feed(kgd_fresh, how):
    """The feed named directly, or found from the daemon's stats."""
    import kgd as K
    where = kgd_fresh.feed if how == "--endpoint" else kgd_fresh.endpoint
    p = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "watch_feed.py"),
                          "tariffs-on", how, where, "--count", "1",
                          "--seconds", "60"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("watching ")
        # The subscription reaches the server asynchronously: write until
        # the watcher has printed its one change and exited.
        with K.Client(kgd_fresh.endpoint) as c:
            deadline = time.monotonic() + 30
            i = 0
            while p.poll() is None and time.monotonic() < deadline:
                c.add(relations=[
                    {"subject": "United States", "relation": "exports-to", "object": "Canada"},
                    {"subject": "United States", "relation": "tariffs-on", "object": "steel",
                     "qualifiers": {"origin": "Canada", "rate": "25%", "n": str(i)}}])
                i += 1
                time.sleep(0.1)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("seq ")
    assert " add tariffs-on: United States -[tariffs-on]-> steel {n=" in lines[0]
    assert "origin=Canada, rate=25%}" in lines[0]


def test_examples_report_unreachable_server(tmp_path):
    ep = "ipc://%s/nobody-here" % tmp_path
    r = run("tariffs.py", "--endpoint", ep, "--timeout", "0.5", check=False)
    assert r.returncode == 1
    assert "no reply" in r.stderr
