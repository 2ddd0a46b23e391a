"""The Python client's own behaviour (clients/python/kgd) against a real
kgd: timeouts and recovery, request ids, pipelining with errors, results
out of order, endpoints."""
import time

import pytest

import kgd as K


def test_no_server_times_out_then_recovers(kgd_factory, tmp_path):
    ep = "ipc://%s/later.sock" % tmp_path
    c = K.Client(ep, timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(K.NoReply) as ei:
        c.entity("China")
    assert 0.25 < time.monotonic() - t0 < 5
    assert isinstance(ei.value, K.Timeout) and ei.value.code == "timeout"
    # A server appears on that endpoint: the same client works, and the
    # abandoned request was not delivered late (its reply would have been
    # taken for the next one).
    k = kgd_factory.start(args=["--bind", ep])
    assert k.endpoint == ep
    c.timeout = 10
    time.sleep(0.5)  # time enough for a queued request to arrive
    assert c.stats()["requests"]["by_op"].get("entity", 0) == 0
    assert c.ping()["pong"] is True
    c.close()


def test_context_manager_closes(kgd):
    with kgd.client() as c:
        assert c.ping()["pong"] is True
    with pytest.raises(K.KgdError):
        c.ping()


def test_bare_host_port(kgd):
    assert kgd.endpoint.startswith("tcp://")
    with K.Client(kgd.endpoint[len("tcp://"):]) as c:
        assert c.endpoint == kgd.endpoint
        assert c.ping()["pong"] is True


def test_results_out_of_order(kgd):
    with kgd.client() as c:
        a = c.send("entity", name="France")
        b = c.send("entity", name="Atlantis")
        d = c.send("ping")
        assert c.result(d)["pong"] is True
        with pytest.raises(K.NotFound):
            c.result(b)
        assert c.result(a)["id"] == "France"


def test_pipeline_keeps_errors_in_place(kgd):
    with kgd.client() as c:
        reps = c.pipeline([{"op": "entity", "name": "China"},
                           {"op": "entity", "name": "Atlantis"},
                           {"op": "frobnicate"},
                           {"op": "ping", "pad": "x" * ((1 << 20) + 1)},  # nil-id limit
                           {"op": "ping"}])
    assert [r["ok"] for r in reps] == [True, False, False, False, True]
    assert reps[0]["result"]["id"] == "China"
    assert reps[1]["error"]["code"] == "not_found"
    assert reps[2]["error"]["code"] == "unsupported"
    assert reps[3]["error"]["code"] == "limit" and reps[3]["id"] is None
    assert reps[4]["result"]["pong"] is True


def test_server_restart_on_same_endpoint(kgd_factory, tmp_path):
    ep = "ipc://%s/restart.sock" % tmp_path
    k = kgd_factory.start(args=["--bind", ep])
    with K.Client(ep, timeout=10) as c:
        assert c.ping()["pong"] is True
        assert k.stop() == 0
        c.timeout = 0.3
        with pytest.raises(K.NoReply):
            c.ping()
        kgd_factory.start(args=["--bind", ep])
        c.timeout = 10
        assert c.entity("China")["id"] == "China"


def test_many_clients_share_a_context(kgd):
    clients = [kgd.client() for _ in range(50)]
    try:
        ids = [c.send("entity", name="Macron") for c in clients]
        for c, i in zip(clients, ids):
            assert c.result(i)["id"] == "Emmanuel Macron"
    finally:
        for c in clients:
            c.close()


def test_feed_endpoint(kgd_factory):
    """Client.feed_endpoint(): the feed the daemon reports in stats, a
    wildcard bind address taken on the host the client used."""
    d = kgd_factory.start(publish="tcp://0.0.0.0:*")
    port = d.feed.rsplit(":", 1)[1]
    with K.Client(d.endpoint) as c:
        assert c.stats()["feed"] == d.feed
        assert c.feed_endpoint() == "tcp://127.0.0.1:%s" % port
        with c.feed(["entity"]) as f:
            assert f.endpoint == "tcp://127.0.0.1:%s" % port
            got, i = None, 0
            while got is None and i < 200:
                i += 1
                c.add(entities=[{"id": "fe-%d" % i, "kind": "thing"}])
                got = f.recv(timeout=0.05)
            assert got is not None and got.topic == "entity" and got.op == "add"
