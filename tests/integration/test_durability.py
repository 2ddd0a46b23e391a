"""kgd tries to lose data: SIGKILL at random moments under concurrent
writers, clean SIGTERM, a full disk, a corrupt journal, a crash-looped
snapshot directory.

Every acknowledged write must survive; a write that was in flight when kgd
died must be there entirely or not at all (one add of an entity with three
relations is one journal record).

Run by ctest with KG_BUILD_DIR and KG_SOURCE_DIR; Debian's python3 with
python3-zmq and python3-msgpack. The full-disk test mounts a small tmpfs
(root, as in CI) and always unmounts it.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import msgpack
import pytest
import zmq

from conftest import KG, KgdProcess

HUBS = ["hub0", "hub1", "hub2"]
RUNNING = []  # every Daemon started, so that a failed test leaves none behind


@pytest.fixture(autouse=True)
def no_daemon_left():
    yield
    while RUNNING:
        d = RUNNING.pop()
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


class Daemon(KgdProcess):
    """kgd on a data directory (and its default graph), started without
    waiting: ready() waits for it, wait_exit() for one that must refuse to
    start. config: a dict, written next to the data directory."""

    def __init__(self, data, *extra, config=None):
        super().__init__(os.path.dirname(data), graphs=(), data=data, args=extra,
                         config=config, wait=False)
        RUNNING.append(self)


def add_request(eid, rid):
    return {"op": "add", "id": rid,
            "entities": [{"id": eid, "kind": "thing"}],
            "relations": [{"subject": eid, "relation": "rel", "object": h,
                           "qualifiers": {"batch": eid}, "source": "crash-test"}
                          for h in HUBS]}


def add_numbered(d, prefix, ids):
    """Add entities <prefix>-<i> (three relations each) for i in ids, one
    request each; their results."""
    return [d.ok(**add_request("%s-%d" % (prefix, i), i)) for i in ids]


def client_state(d):
    """{entity id: frozenset of hubs it points to} for the test's entities,
    read with one export."""
    res = d.ok(op="export", format="json")
    doc = json.loads(res["text"])
    state = {}
    for e in doc["entities"]:
        if e["id"].startswith("k"):
            state[e["id"]] = set()
    for r in doc["relations"]:
        if r["subject"].startswith("k") and r["relation"] == "rel":
            state.setdefault(r["subject"], set()).add(r["object"])
    return {k: frozenset(v) for k, v in state.items()}


FULL = frozenset(HUBS)


class Writer(threading.Thread):
    """One client: adds new entities (with three relations each) and,
    sometimes, removes an entity or one relation it added before. Keeps
    what was acknowledged (expected) and what was in flight when the
    daemon died (uncertain: before/after pairs)."""

    def __init__(self, endpoint, name, owned, dealer, rng, stop):
        super().__init__(daemon=True)
        self.endpoint, self.name, self.dealer = endpoint, name, dealer
        self.owned = owned          # {eid: frozenset or None}, acknowledged
        self.rng, self.stop = rng, stop
        self.uncertain = {}         # eid -> set of allowed states
        self.acks = 0
        self.counter = 0

    def _next_op(self):
        present = [e for e, s in self.owned.items() if s]
        r = self.rng.random()
        if present and r < 0.15:
            e = self.rng.choice(present)
            return e, {"op": "remove", "entities": [e]}, None
        if present and r < 0.25:
            e = self.rng.choice(present)
            h = self.rng.choice(sorted(self.owned[e]))
            req = {"op": "remove", "relations": [{"subject": e, "relation": "rel", "object": h}]}
            return e, req, self.owned[e] - {h}
        self.counter += 1
        e = "k-%s-%d" % (self.name, self.counter)
        return e, add_request(e, self.counter), FULL

    def run(self):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER if self.dealer else zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        inflight = []  # (eid, after) in send order (replies come in order)
        try:
            while not self.stop.is_set():
                # DEALER keeps several adds of new entities in flight;
                # removals go one at a time so states stay sequential.
                window = 6 if self.dealer else 1
                while len(inflight) < window:
                    e, req, after = self._next_op()
                    if inflight and req["op"] == "remove":
                        break  # wait for the adds in flight first
                    if self.dealer:
                        sock.send_multipart([b"", msgpack.packb(req)])
                    else:
                        sock.send(msgpack.packb(req))
                    inflight.append((e, after))
                    if req["op"] == "remove":
                        break
                if not sock.poll(300):
                    continue
                frames = sock.recv_multipart()
                rep = msgpack.unpackb(frames[-1], raw=False)
                e, after = inflight.pop(0)
                assert rep["ok"], rep
                self.owned[e] = after
                self.acks += 1
        except zmq.ZMQError:
            pass
        finally:
            for e, after in inflight:
                self.uncertain[e] = {self.owned.get(e), after}
            sock.close()
            ctx.term()


def check_state(actual, writers):
    lost = []
    for w in writers:
        for e, want in w.owned.items():
            if e in w.uncertain:
                got = actual.get(e)
                assert got in w.uncertain[e], (
                    "%s half-applied: %r, allowed %r" % (e, got, w.uncertain[e]))
                w.owned[e] = got
            else:
                got = actual.get(e)
                if got != want:
                    lost.append((e, want, got))
        for e, allowed in w.uncertain.items():
            if e not in w.owned:
                got = actual.get(e)
                assert got in allowed, "%s half-applied: %r" % (e, got)
                if got is not None:
                    w.owned[e] = got
        w.uncertain = {}
    assert not lost, "acknowledged writes lost: %r" % lost[:10]


def test_sigkill_at_random_moments(tmp_path):
    """20+ rounds: 4 concurrent clients (2 DEALER with requests in flight,
    2 REQ), adds and removes, SIGKILL at a random moment, restart, check.
    Rounds cycle the fsync policies (a process crash loses nothing under
    any of them) and use a small snapshot threshold so that automatic
    snapshots, and crashes during them, happen too."""
    data = str(tmp_path / "data")
    rng = random.Random(int(os.environ.get("KG_CRASH_SEED", "20251204")))
    policies = ["always", "interval", "none"]
    owned = [dict() for _ in range(4)]
    total_acks = total_inflight = 0
    rounds = 21
    writers = []
    for rnd in range(rounds):
        conf = {"fsync": policies[rnd % 3],
                "snapshot_journal_bytes": "16K" if rnd % 2 else "0"}
        d = Daemon(data, config=conf).ready()
        check_state(client_state(d), writers)  # the previous round's
        stop = threading.Event()
        writers = [Writer(d.endpoint, "%d" % i, owned[i], i < 2,
                          random.Random(rng.random()), stop) for i in range(4)]
        for w in writers:
            w.start()
        if rnd % 5 == 4:
            time.sleep(0.2)
            d.ok(op="snapshot")
        time.sleep(rng.uniform(0.2, 1.2))
        d.stop(signal.SIGKILL)
        stop.set()
        for w in writers:
            w.join(10)
            assert not w.is_alive()
        total_acks += sum(w.acks for w in writers)
        total_inflight += sum(len(w.uncertain) for w in writers)
    d = Daemon(data).ready()
    check_state(client_state(d), writers)
    assert d.stop() == 0
    # enough happened for the test to mean something: many writes, and
    # kills that caught writes in flight
    print("acknowledged %d, in flight at a kill %d" % (total_acks, total_inflight))
    assert total_acks > 200, total_acks
    assert total_inflight >= rounds, total_inflight
    present = sum(1 for o in owned for s in o.values() if s)
    assert present > 50


def test_sigterm_flushes_and_exits_zero(tmp_path):
    data = str(tmp_path / "data")
    d = Daemon(data, config={"fsync": "none"}).ready()  # SIGTERM must still flush
    for r in add_numbered(d, "k-term", range(50)):
        assert r["relations_added"] == 3
    seq = d.ok(op="stats")["journal"]["seq"]
    assert d.stop() == 0
    assert re.search(r"stopped", d.log())
    d = Daemon(data).ready()
    state = client_state(d)
    assert all(state.get("k-term-%d" % i) == FULL for i in range(50))
    assert d.ok(op="stats")["journal"]["seq"] == seq
    assert d.stop() == 0


def test_snapshot_op_and_restart(tmp_path):
    data = str(tmp_path / "data")
    d = Daemon(data).ready()
    add_numbered(d, "k-s", range(20))
    d.ok(op="remove", entities=["k-s-3"])
    snap = d.ok(op="snapshot")
    assert snap["seq"] == 21
    assert os.path.basename(snap["path"]) == "snapshot-0000000000000015.kgs"
    assert os.path.getsize(snap["path"]) == snap["bytes"]
    add_numbered(d, "k-s", range(20, 25))
    assert d.stop() == 0
    names = sorted(os.listdir(data))
    assert "journal-0000000000000015.kgj" in names
    assert "journal-0000000000000000.kgj" not in names
    d = Daemon(data).ready()
    state = client_state(d)
    assert "k-s-3" not in state
    assert all(state["k-s-%d" % i] == FULL for i in range(25) if i != 3)
    assert d.stop() == 0


def written_journal(tmp_path, prefix, n):
    """A data directory in which a kgd added entities <prefix>-0..n-1 and
    stopped cleanly: (its path, the path of its journal)."""
    data = str(tmp_path / "data")
    d = Daemon(data).ready()
    add_numbered(d, prefix, range(n))
    assert d.stop() == 0
    return data, os.path.join(data, "journal-0000000000000000.kgj")


def test_corrupt_journal_refused_then_repaired(tmp_path):
    data, jp = written_journal(tmp_path, "k-c", 10)
    raw = bytearray(open(jp, "rb").read())
    mid = len(raw) // 2
    raw[mid] ^= 0xFF
    open(jp, "wb").write(bytes(raw))
    d = Daemon(data)
    rc = d.wait_exit()
    assert rc == 3, d.log()
    assert re.search(r"journal-0000000000000000\.kgj: offset \d+: corrupt record", d.log())
    assert open(jp, "rb").read() == bytes(raw)  # refused: untouched
    d = Daemon(data, "--repair").ready()
    assert re.search(r"journal\.corrupt-", d.log())
    state = client_state(d)
    kept = [i for i in range(10) if state.get("k-c-%d" % i) == FULL]
    assert kept == list(range(len(kept))) and 0 < len(kept) < 10
    assert all(s == FULL for s in state.values())  # nothing half-applied
    assert d.stop() == 0
    assert any(n.startswith("journal.corrupt-") for n in os.listdir(data))


def test_torn_tail_is_cut_with_a_warning(tmp_path):
    data, jp = written_journal(tmp_path, "k-t", 5)
    size = os.path.getsize(jp)
    with open(jp, "r+b") as f:
        f.truncate(size - 7)
    d = Daemon(data).ready()
    assert re.search(r"journal-0000000000000000\.kgj: offset \d+: torn", d.log())
    state = client_state(d)
    assert [k for k in sorted(state)] == ["k-t-%d" % i for i in range(4)]
    assert d.stop() == 0


@pytest.fixture
def small_tmpfs():
    mnt = tempfile.mkdtemp(prefix="kg-full-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", mnt],
                   check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)


def test_full_disk_through_the_daemon(small_tmpfs):
    data = os.path.join(small_tmpfs, "data")
    filler = os.path.join(small_tmpfs, "filler")
    with open(filler, "wb") as f:
        f.write(b"x" * 64 * 1024)
    d = Daemon(data).ready()
    acked = []
    err = None
    big = "evidence " * 150
    for i in range(2000):
        req = add_request("k-f-%d" % i, i)
        for r in req["relations"]:
            r["evidence"] = big
        rep = d.call(**req)
        if not rep["ok"]:
            err = rep["error"]
            break
        acked.append("k-f-%d" % i)
    assert err is not None, "the disk never filled"
    assert err["code"] == "io", err
    assert "No space left" in err["message"], err
    assert len(acked) > 5
    # reads keep working, nothing acknowledged is lost
    assert d.ok(op="ping")["pong"] is True
    assert d.ok(op="entity", name=acked[-1])["id"] == acked[-1]
    state = client_state(d)
    assert all(state.get(e) == FULL for e in acked)
    assert "k-f-%d" % len(acked) not in state  # the failed one: not applied
    # space back: writes work again without a restart
    os.unlink(filler)
    d.ok(**add_request("k-f-after", 9999))
    assert d.stop() == 0
    d = Daemon(data).ready()
    state = client_state(d)
    assert all(state.get(e) == FULL for e in acked + ["k-f-after"])
    assert d.stop() == 0



def test_backup_and_restore_with_kg_snapshot(tmp_path):
    """docs/operations.md's backup and restore, step by step: `kg snapshot`
    against the daemon, `kg snapshot --data` next to it, and a restore
    of the offline file into an empty data directory."""
    data = str(tmp_path / "data")
    d = Daemon(data).ready()
    add_numbered(d, "k-b", range(30))
    d.ok(op="remove", entities=["k-b-7"])
    d.ok(op="remove", entities=["Emmanuel Macron"])  # from the base graph
    r = subprocess.run([KG, "-s", d.endpoint, "snapshot"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert re.match(r".*/snapshot-0000000000000020\.kgs: \d+ bytes, seq 32$", r.stdout.strip())
    d.ok(**add_request("k-b-after", 99))
    backup = str(tmp_path / "backup.kgs")
    r = subprocess.run([KG, "snapshot", "--data", data, "-o", backup],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = re.search(r"restore as: (snapshot-[0-9a-f]{16}\.kgs)", r.stdout)
    assert m and m.group(1) == "snapshot-0000000000000021.kgs", r.stdout
    before = client_state(d)
    entities_before = d.ok(op="stats")["entities"]
    assert d.stop() == 0

    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy(backup, str(restored / m.group(1)))
    d = Daemon(str(restored)).ready()
    assert client_state(d) == before
    assert d.ok(op="stats")["entities"] == entities_before
    assert d.call(op="entity", name="Emmanuel Macron")["ok"] is False
    seq = d.ok(**add_request("k-b-new", 100))["seq"]
    assert seq == 34  # continues after the restored snapshot
    assert d.stop() == 0
    # usage errors are usage errors
    r = subprocess.run([KG, "snapshot", "--data", data], capture_output=True, text=True)
    assert r.returncode == 2
