"""kgd on a disk that fails: the journal's sync and write failure paths,
and a journal file removed or replaced under a running kgd.

The failing disk is a real file system: faultfs.py, a passthrough FUSE
file system over a temporary directory, mounted by the `disk` fixture (as
root, as in CI) and always unmounted by it. Its fsync/fdatasync and writes
fail, and its fsync and open can be held, while control files say so; its
log shows every fsync that reached it. kgd's data directory and its graph
file both live on the mount (holding the graph file's open holds a
rebuild, so that the read-only window can be looked at).

Needs /dev/fuse and Debian's python3-fusepy (scripts/install-deps); a
machine without them fails these tests, with a message, rather than
skipping them.
"""
import os
import re
import shutil
import subprocess
import time

import msgpack
import pytest
import zmq

from conftest import DEFAULT_GRAPH, KG, KgdProcess

HERE = os.path.dirname(os.path.abspath(__file__))
FAULTFS = os.path.join(HERE, "faultfs.py")
PYTHON = "/usr/bin/python3"  # Debian's, which sees python3-fusepy
JOURNAL = "journal-0000000000000000.kgj"
RUNNING = []  # every kgd started here, so that a failed test leaves none behind


def kill_daemons():
    while RUNNING:
        d = RUNNING.pop()
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


@pytest.fixture(autouse=True)
def no_daemon_left():
    yield
    kill_daemons()


class FaultDisk:
    """A mounted faultfs: path() names files through the mount,
    backing() the same files underneath it."""

    def __init__(self, root):
        self.root = root
        self.mnt = os.path.join(root, "mnt")
        self.under = os.path.join(root, "backing")
        self.control = os.path.join(root, "control")
        for p in (root, self.mnt, self.under, self.control):
            os.mkdir(p, 0o700)
        self.logfile = os.path.join(self.control, "log")
        self.stderr = open(os.path.join(root, "faultfs.err"), "w+")
        self.proc = subprocess.Popen([PYTHON, FAULTFS, self.under, self.mnt, self.control],
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.monotonic() + 20
        while not self.mounted():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stderr.seek(0)
                said = self.stderr.read()
                self.close()
                pytest.fail("faultfs did not mount on %s (exit status %s):\n%s\n"
                            "It needs /dev/fuse and Debian's python3-fusepy "
                            "(scripts/install-deps), and root."
                            % (self.mnt, self.proc.poll(), said))
            time.sleep(0.02)

    def mounted(self):
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[4] == self.mnt:
                    return fields[fields.index("-") + 1] == "fuse.faultfs"
        return False

    def close(self):
        """Unmount (lazily if something still holds it) and stop the file
        system process, whatever state it is in."""
        self.release_all()
        if self.mounted():
            if subprocess.run(["umount", self.mnt], stderr=subprocess.DEVNULL).returncode:
                subprocess.run(["umount", "-l", self.mnt], check=False)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.mounted():  # killed before it could unmount: a dead mount
            subprocess.run(["umount", "-l", self.mnt], check=False)
        self.stderr.close()
        assert not self.mounted(), "%s is still mounted" % self.mnt

    def release_all(self):
        """Let every held call go and stop every fault: a process with a
        call held here cannot even be killed until the call returns."""
        for name in ("hold-fsync", "hold-open", "fail-fsync", "fail-write"):
            try:
                self.clear(name)
            except FileNotFoundError:
                pass

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def backing(self, *parts):
        return os.path.join(self.under, *parts)

    # ---- faults -------------------------------------------------------------

    def set(self, name, err="EIO", glob="*"):
        """Turn on control file name (fail-fsync, fail-write, hold-fsync,
        hold-open) for files matching glob."""
        with open(os.path.join(self.control, name), "w") as f:
            f.write("%s %s\n" % (err, glob))

    def clear(self, name):
        os.unlink(os.path.join(self.control, name))

    def log(self):
        try:
            with open(self.logfile) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_log(self, pattern, start=0, timeout=20):
        """The index of the first log line from start on matching pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log()
            for i in range(start, len(lines)):
                if rx.search(lines[i]):
                    return i
            if time.monotonic() > deadline:
                raise AssertionError("faultfs did not log %r within %ss:\n%s"
                                     % (pattern, timeout, "\n".join(lines[-40:])))
            time.sleep(0.01)


@pytest.fixture
def disk(tmp_path):
    assert os.path.exists("/dev/fuse"), (
        "/dev/fuse is missing: these tests need FUSE (in a container: "
        "--device /dev/fuse --cap-add SYS_ADMIN)")
    d = FaultDisk(str(tmp_path / "fs"))
    try:
        yield d
    finally:
        d.release_all()
        kill_daemons()  # nothing may hold the mount
        d.close()


class Daemon(KgdProcess):
    """kgd on a data directory and one graph file; its configuration
    file goes to workdir (off the mount)."""

    def __init__(self, workdir, data, graph=DEFAULT_GRAPH, config=None):
        super().__init__(workdir, graphs=(graph,), data=data, config=config, wait=False)
        RUNNING.append(self)
        self.ready()


def on_disk(disk, tmp_path, config=None):
    """kgd with its data directory and its graph file on the faultfs."""
    os.mkdir(disk.path("graphs"))
    shutil.copy(DEFAULT_GRAPH, disk.path("graphs", "base.gv"))
    return Daemon(str(tmp_path), disk.path("data"), disk.path("graphs", "base.gv"), config)


def restart(d, tmp_path, disk, config=None):
    assert d.stop() == 0, d.log()
    return Daemon(str(tmp_path), disk.path("data"), disk.path("graphs", "base.gv"), config)


def add(eid, rid=None):
    return {"op": "add", "id": rid or eid, "entities": [{"id": eid, "kind": "thing"}]}


def present(d, eid):
    rep = d.call(op="entity", name=eid)
    if rep["ok"]:
        return True
    assert rep["error"]["code"] == "not_found", rep
    return False


def dealer(d):
    s = d.ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 20000)
    s.connect(d.endpoint)
    return s


def send(sock, req):
    sock.send_multipart([b"", msgpack.packb(req)])


def recv(sock):
    return msgpack.unpackb(sock.recv_multipart()[-1], raw=False)


def feed_entities(sub):
    """[(seq, entity id)] of the entity changes published so far."""
    sub.setsockopt(zmq.RCVTIMEO, 500)
    got = []
    while True:
        try:
            topic, body = sub.recv_multipart()
        except zmq.Again:
            return got
        if topic == b"entity":
            c = msgpack.unpackb(body, raw=False)
            got.append((c["seq"], c["entity"]["id"]))


def wait_stats(d, timeout=20, **want):
    deadline = time.monotonic() + timeout
    while True:
        st = d.ok(op="stats")
        if all(st[k] == v for k, v in want.items()):
            return st
        if time.monotonic() > deadline:
            raise AssertionError("stats never had %r: %r\n%s" % (want, st, d.log()))
        time.sleep(0.02)


def fsyncs(disk, result):
    """How many fdatasyncs of the journal faultfs answered with result."""
    line = "fsync datasync=1 /data/%s -> %s" % (JOURNAL, result)
    return sum(1 for l in disk.log() if l == line)


def test_kgd_runs_on_faultfs(disk, tmp_path):
    """The mount does what kgd's data directory needs (create, rename,
    directory fsync, mmap, flock, unlink) and the kernel forwards every
    fdatasync to it: one per round of writes."""
    d = on_disk(disk, tmp_path)
    assert fsyncs(disk, 0) == 0
    for i in range(5):
        assert d.ok(**add("k-run-%d" % i))["seq"] == i + 1
    assert fsyncs(disk, 0) == 5
    # flock: the data directory is taken
    other = KgdProcess(str(tmp_path), graphs=(DEFAULT_GRAPH,), data=disk.path("data"),
                       wait=False)
    RUNNING.append(other)
    assert other.wait_exit() != 0
    assert "data directory in use by another process" in other.log()
    snap = d.ok(op="snapshot")  # write, fsync, rename, fsync the directory, unlink
    assert snap["seq"] == 5
    assert re.search(r"fsyncdir /data -> 0", "\n".join(disk.log()))
    assert sorted(os.listdir(disk.backing("data"))) == [
        "journal-0000000000000005.kgj", "kgd.lock", "snapshot-0000000000000005.kgs"]
    d.ok(**add("k-run-5"))
    d = restart(d, tmp_path, disk)  # recovery reads the journal through mmap
    assert all(present(d, "k-run-%d" % i) for i in range(6))
    assert d.stop() == 0


def test_fsync_failure_fails_the_round_and_rebuilds(disk, tmp_path):
    """fsync = always. A round of three writes whose fdatasync fails: every
    write of the round gets `io` ("fsync failed"), the journal is cut back
    to the last good sync, kgd refuses writes (`read_only`) while it
    rebuilds its graph in the background, reads go on, and after the
    rebuild the failed writes are gone, were never on the change feed, and
    writes are accepted again, numbered on from the last good one. A
    restart finds every acknowledged write and none of the failed ones."""
    d = on_disk(disk, tmp_path)
    feed = d.subscribe(b"")
    for i in range(3):
        assert d.ok(**add("k-ok-%d" % i))["seq"] == i + 1

    # Hold the sync of k-pre's round, so that the three writes sent next
    # wait in kgd's queue and make one round together.
    disk.set("hold-fsync", glob=JOURNAL)
    sock = dealer(d)
    send(sock, add("k-pre"))
    disk.wait_log(r"held fsync /data/%s" % JOURNAL)
    good_size = os.path.getsize(disk.backing("data", JOURNAL))  # k-pre written
    for i in range(3):
        send(sock, add("k-bad-%d" % i))
    time.sleep(1.0)  # queued at kgd (its I/O thread reads them while the loop waits)
    disk.set("hold-open", glob="base.gv")  # the rebuild will wait for its graph file
    disk.set("fail-fsync", "EIO", JOURNAL)  # the next round's sync fails
    disk.clear("hold-fsync")  # k-pre's sync was decided before: it succeeds
    pre = recv(sock)
    assert pre["id"] == "k-pre" and pre["ok"] and pre["result"]["seq"] == 4, pre
    for i in range(3):
        rep = recv(sock)
        assert rep["id"] == "k-bad-%d" % i and not rep["ok"], rep
        assert rep["error"]["code"] == "io", rep
        assert "fsync failed: Input/output error" in rep["error"]["message"], rep
    assert fsyncs(disk, "EIO") >= 1

    # The journal is cut back to k-pre, the last write whose sync succeeded.
    assert os.path.getsize(disk.backing("data", JOURNAL)) == good_size
    d.wait_log(r"journal sync failed: \S*/%s: fsync failed: Input/output error; "
               r"the changes since the last sync were not saved; refusing writes "
               r"until the graph is rebuilt \(read-only\)" % re.escape(JOURNAL))
    disk.wait_log(r"held open /graphs/base\.gv")

    # While it rebuilds: read-only, reads answered (by the graph that still
    # holds the failed writes until the rebuild replaces it).
    st = d.ok(op="stats")
    assert st["read_only"] is True and st["reloading"] is True, st
    rep = d.call(**add("k-during"))
    assert rep["error"]["code"] == "io" and "read-only" in rep["error"]["message"], rep
    assert present(d, "k-pre") and present(d, "k-ok-0")
    assert present(d, "k-bad-0")
    # what an operator sees: kg status says so, and exits 1
    r = subprocess.run([KG, "-s", d.endpoint, "status"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "writes     REFUSED: read-only after a journal failure" in r.stdout, r.stdout
    assert "reload     running" in r.stdout, r.stdout

    # The disk is repaired; the rebuild reads the graph file and the journal.
    disk.clear("fail-fsync")
    disk.clear("hold-open")
    d.wait_log(r"graph rebuilt from the files and the journal after the journal "
               r"failure; accepting writes again")
    st = wait_stats(d, read_only=False, reloading=False)
    assert st["journal"]["seq"] == 4, st  # the failed writes' numbers are free again
    assert not any(present(d, "k-bad-%d" % i) for i in range(3))
    assert not present(d, "k-during")
    assert all(present(d, e) for e in ["k-ok-0", "k-ok-1", "k-ok-2", "k-pre"])
    assert d.ok(**add("k-post"))["seq"] == 5

    # The feed carried every acknowledged write, in order, and nothing else.
    assert feed_entities(feed) == [(1, "k-ok-0"), (2, "k-ok-1"), (3, "k-ok-2"),
                                   (4, "k-pre"), (5, "k-post")]

    d = restart(d, tmp_path, disk)
    assert not re.search(r"torn|corrupt|skipped", d.log()), d.log()
    assert d.ok(op="stats")["journal"]["seq"] == 5
    assert all(present(d, e) for e in ["k-ok-0", "k-ok-1", "k-ok-2", "k-pre", "k-post"])
    assert not any(present(d, e) for e in ["k-bad-0", "k-bad-1", "k-bad-2", "k-during"])
    assert d.stop() == 0


def test_fsync_failure_under_interval(disk, tmp_path):
    """fsync = interval: writes are acknowledged before their flush, so a
    failed periodic flush cuts nothing. kgd logs it, refuses writes while it
    rebuilds, accepts them again after, and tries the flush again at the
    next interval - failing, and going read-only, again as long as the disk
    fails. Every acknowledged write stays, and survives a restart."""
    conf = {"fsync": "interval", "fsync_interval_ms": "100"}
    d = on_disk(disk, tmp_path, conf)
    feed = d.subscribe(b"")
    for i in range(3):
        assert d.ok(**add("k-i-%d" % i))["seq"] == i + 1
    disk.wait_log(r"fsync datasync=1 /data/%s -> 0" % JOURNAL)  # a periodic flush

    disk.set("hold-open", glob="base.gv")
    disk.set("fail-fsync", "EIO", JOURNAL)
    mark = len(d.lines)
    assert d.ok(**add("k-i-3"))["seq"] == 4  # acknowledged: no flush in its round
    d.wait_log(r"journal sync failed: \S*/%s: fsync failed: Input/output error; "
               r"refusing writes until the graph is rebuilt \(read-only\)"
               % re.escape(JOURNAL), start=mark)
    disk.wait_log(r"held open /graphs/base\.gv")
    st = d.ok(op="stats")
    assert st["read_only"] is True and st["reloading"] is True, st
    rep = d.call(**add("k-i-refused"))
    assert rep["error"]["code"] == "io" and "read-only" in rep["error"]["message"], rep
    assert present(d, "k-i-3")

    # Rebuilt, writes accepted again; the disk still fails, so the next
    # flush fails too and kgd goes read-only once more.
    mark = len(d.lines)
    disk.clear("hold-open")
    d.wait_log(r"accepting writes again", start=mark)
    d.wait_log(r"journal sync failed: .*fsync failed", start=mark)
    # Repaired: a flush succeeds, and kgd stays writable.
    flushed = fsyncs(disk, 0)
    disk.clear("fail-fsync")
    deadline = time.monotonic() + 20
    while fsyncs(disk, 0) == flushed:
        assert time.monotonic() < deadline, disk.log()[-20:]
        time.sleep(0.02)
    wait_stats(d, read_only=False, reloading=False)
    seq = d.ok(**add("k-i-4"))["seq"]
    assert seq == 5
    assert all(present(d, "k-i-%d" % i) for i in range(5))
    assert not present(d, "k-i-refused")
    assert feed_entities(feed) == [(i + 1, "k-i-%d" % i) for i in range(5)]

    d = restart(d, tmp_path, disk, conf)
    assert all(present(d, "k-i-%d" % i) for i in range(5))
    assert d.ok(op="stats")["journal"]["seq"] == 5
    assert d.stop() == 0


def test_failed_flush_at_stop_is_logged(disk, tmp_path):
    """fsync = none: the journal is flushed only when kgd stops (SIGTERM).
    A failure of that flush is logged as an error, not passed over."""
    conf = {"fsync": "none"}
    d = on_disk(disk, tmp_path, conf)
    d.ok(**add("k-n-0"))
    assert fsyncs(disk, 0) == 0 and fsyncs(disk, "EIO") == 0
    disk.set("fail-fsync", "EIO", JOURNAL)
    assert d.stop() == 0
    assert fsyncs(disk, "EIO") >= 1
    assert re.search(r"error kgd: final journal flush: \S*/%s: fsync failed: "
                     r"Input/output error; the writes since the last flush may "
                     r"not be on disk" % re.escape(JOURNAL), d.log()), d.log()
    disk.clear("fail-fsync")
    d = restart(d, tmp_path, disk, conf)  # the page cache still has it
    assert present(d, "k-n-0")
    assert d.stop() == 0
    assert fsyncs(disk, 0) == 0  # nothing written since: nothing to flush


def test_journal_write_error(disk, tmp_path):
    """A write to the journal fails with EIO: that request gets `io` and is
    not applied; kgd does not go read-only, and the next write, once the
    disk works, succeeds with the next number."""
    d = on_disk(disk, tmp_path)
    assert d.ok(**add("k-w-0"))["seq"] == 1
    size = os.path.getsize(disk.backing("data", JOURNAL))
    disk.set("fail-write", "EIO", JOURNAL)
    rep = d.call(**add("k-w-1"))
    assert rep["error"]["code"] == "io", rep
    assert re.search(r"%s: offset %d: cannot write the change record: Input/output error"
                     % (re.escape(JOURNAL), size), rep["error"]["message"]), rep
    assert os.path.getsize(disk.backing("data", JOURNAL)) == size
    assert not present(d, "k-w-1")
    assert d.ok(op="stats")["read_only"] is False
    disk.clear("fail-write")
    assert d.ok(**add("k-w-2"))["seq"] == 2
    d = restart(d, tmp_path, disk)
    assert present(d, "k-w-0") and present(d, "k-w-2") and not present(d, "k-w-1")
    assert d.stop() == 0


# ---- the journal file removed or replaced (any file system) ------------------

def test_journal_removed_while_running(tmp_path):
    """Deleting the journal under kgd: writes are refused with `io` (not
    written into the orphaned file), reads go on; a snapshot saves what kgd
    holds and starts a new journal, after which writes work again and a
    restart finds every acknowledged write."""
    data = str(tmp_path / "data")
    d = Daemon(str(tmp_path), data)
    for i in range(3):
        d.ok(**add("k-r-%d" % i))
    os.unlink(os.path.join(data, JOURNAL))
    for attempt in range(2):
        rep = d.call(**add("k-r-lost"))
        assert rep["error"]["code"] == "io", rep
        assert "the journal file was removed while kgd was running" in rep["error"]["message"]
    assert present(d, "k-r-2") and not present(d, "k-r-lost")
    assert re.search(r"journal write failed: .*the journal file was removed", d.log())
    st = d.ok(op="stats")
    assert st["read_only"] is False and st["journal"]["seq"] == 3, st
    rep = d.call(op="reload")  # cannot read the journal: the old graph stays
    assert not rep["ok"] and "No such file or directory" in rep["error"]["message"], rep
    assert present(d, "k-r-2")
    snap = d.ok(op="snapshot")
    assert snap["seq"] == 3
    assert sorted(os.listdir(data)) == ["journal-0000000000000003.kgj", "kgd.lock",
                                        "snapshot-0000000000000003.kgs"]
    assert d.ok(**add("k-r-3"))["seq"] == 4
    assert d.stop() == 0
    d = Daemon(str(tmp_path), data)
    assert all(present(d, "k-r-%d" % i) for i in range(4))
    assert not present(d, "k-r-lost")
    assert d.stop() == 0


def test_journal_replaced_while_running(tmp_path):
    """A journal file put in the place of kgd's (an older copy renamed over
    it): kgd writes neither into the file it no longer sees nor into the
    new one, refusing writes with `io`; a restart recovers from the file
    that is there now."""
    data = str(tmp_path / "data")
    jp = os.path.join(data, JOURNAL)
    d = Daemon(str(tmp_path), data)
    d.ok(**add("k-p-0"))
    shutil.copy(jp, jp + ".old")
    d.ok(**add("k-p-1"))
    os.rename(jp + ".old", jp)
    copy = open(jp, "rb").read()
    rep = d.call(**add("k-p-2"))
    assert rep["error"]["code"] == "io", rep
    assert "the journal file was removed while kgd was running" in rep["error"]["message"]
    assert open(jp, "rb").read() == copy
    rep = d.call(op="reload")  # the journal is not the one kgd wrote
    assert not rep["ok"] and "changed under the running daemon" in rep["error"]["message"], rep
    assert present(d, "k-p-1")
    assert d.stop() == 0
    assert open(jp, "rb").read() == copy
    d = Daemon(str(tmp_path), data)
    assert present(d, "k-p-0")
    assert not present(d, "k-p-1") and not present(d, "k-p-2")
    assert d.ok(op="stats")["journal"]["seq"] == 1
    assert d.stop() == 0
