"""The C client's pipelining (kg_client_pipeline) against a real kgd,
through the example program clients/c/resolve_names: many `entity`
requests in flight on one socket, each answer back to its own name."""
import os
import subprocess

import pytest

from conftest import BUILD

RESOLVE = os.path.join(BUILD, "clients", "c", "resolve_names")


def resolve(endpoint, lines, *args, timeout=120):
    return subprocess.run([RESOLVE, "-s", endpoint] + list(args),
                          input="".join(l + "\n" for l in lines),
                          capture_output=True, text=True, timeout=timeout)


def expected(client, name):
    """What resolve_names must print for name, from the Python client."""
    try:
        e = client.entity(name)
    except Exception as err:  # kgd's own words for an unknown name
        return "%s\t-\t%s" % (name, err.message if hasattr(err, "message") else err)
    return "%s\t%s\t%s" % (name, e["id"], e["kind"])


def test_many_names_in_order(kgd_fresh):
    k = kgd_fresh
    with k.client() as c:
        ids = [e["id"] for e in c.entities(limit=1000)["entities"]]
        assert len(ids) > 20
        names = ids + ["chinese", "macron", "EU", "Atlantis", "no such thing"]
        want = {n: expected(c, n) for n in names}
        # More lines than one batch of the program (4096), in a mixed order.
        lines = [names[(i * 7) % len(names)] for i in range(5000)]
        before = c.stats()["requests"]
    r = resolve(k.endpoint, lines)
    assert r.returncode == 1, r.stderr  # Atlantis is not known
    out = r.stdout.splitlines()
    assert out == [want[n] for n in lines]
    assert "unknown entity" in want["Atlantis"]
    with k.client() as c:
        after = c.stats()["requests"]
    served = after["total"] - before["total"] - 1  # less this stats request
    assert served == 5000
    # Many requests were in flight at once: kgd read them in rounds of
    # several (one at a time would take one round each).
    rounds = after["rounds"] - before["rounds"]
    assert rounds * 4 < served, (rounds, served)


def test_window_of_one_gives_the_same(kgd):
    names = ["China", "France", "pork", "Atlantis", "cognac"] * 20
    a = resolve(kgd.endpoint, names)
    b = resolve(kgd.endpoint, names, "-w", "1")
    assert a.returncode == b.returncode == 1
    assert a.stdout == b.stdout
    assert len(a.stdout.splitlines()) == len(names)


def test_all_known_exits_zero(kgd):
    r = resolve(kgd.endpoint, ["China", "european union"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["China\tChina\tcountry",
                                     "european union\tEuropean Union\tbloc"]


def test_no_server_and_bad_usage(tmp_path):
    # Nobody listens on this ipc path: every request times out.
    r = resolve("ipc://%s/none" % tmp_path, ["China"], "-t", "300", timeout=30)
    assert r.returncode == 2
    assert "no reply" in r.stderr
    assert r.stdout == ""
    r = subprocess.run([RESOLVE, "-w", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
