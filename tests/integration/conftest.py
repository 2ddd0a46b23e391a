"""Shared fixtures: a real kgd on free loopback ports.

ctest sets KG_BUILD_DIR (binaries), KG_SOURCE_DIR and PYTHONPATH (the
Python client in clients/python). Every kgd started here binds
tcp://127.0.0.1:* (ZeroMQ picks free ports), reports its endpoints in its
log, and is ready when it answers ping. At teardown it gets SIGTERM and
must exit with status 0.

Fixtures:
    kgd_bin, kg_bin, source_dir, default_graph    paths
    kgd_factory    start(graphs=..., data=..., config={...}) -> KgdProcess
    kgd            one kgd on the default graph for a whole test module
                   (read-only tests: do not write through it)
    kgd_fresh      a kgd of its own for one test (writes allowed)

KgdProcess is also for tests that start kgd themselves: one that must
refuse to start (wait=False, then wait_exit()), one killed on purpose
(stop(signal.SIGKILL)), one on other endpoints (bind=..., publish=...).
Besides the Python client (client()), it talks raw msgpack over a REQ
socket (call(), ok()) and gives the change feed (subscribe()).
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.environ.get("KG_SOURCE_DIR", os.path.join(HERE, "..", "..")))
BUILD = os.path.abspath(os.environ.get("KG_BUILD_DIR", os.path.join(SOURCE, "build")))
KGD = os.path.join(BUILD, "src", "server", "kgd")
KG = os.path.join(BUILD, "src", "cli", "kg")
DEFAULT_GRAPH = os.path.join(SOURCE, "graphs", "macron-xi-beijing.gv")

# The Python client, when ctest's PYTHONPATH is not set (running pytest by
# hand).
_CLIENT_PATH = os.path.join(SOURCE, "clients", "python")
if _CLIENT_PATH not in sys.path:
    sys.path.insert(0, _CLIENT_PATH)

import kgd as kgd_client  # noqa: E402


class KgdProcess:
    """A running kgd. ``endpoint`` (requests) and ``feed`` (changes) are
    read from its log; ``log()`` is everything it wrote to stderr.

    graphs: the graph files (None: the default graph; () none, for kgd's
    own default or graphs named in args). config: a dict written to a file
    in workdir. bind, publish: the endpoints asked for on the command line
    (None: not given). wait: wait until it is ready (see ready())."""

    def __init__(self, workdir, graphs=None, data=None, config=None, args=(),
                 start_timeout=60, preexec_fn=None, env=None,
                 bind="tcp://127.0.0.1:*", publish="tcp://127.0.0.1:*", wait=True):
        self.workdir = workdir
        cmd = [KGD]
        if bind:
            cmd += ["--bind", bind]
        if publish:
            cmd += ["--publish", publish]
        if config:
            path = os.path.join(workdir, "kgd-%d.conf" % id(self))
            with open(path, "w") as f:
                for k, v in config.items():
                    f.write("%s = %s\n" % (k, v))
            cmd += ["--config", path]
        if data:
            cmd += ["--data", data]
        cmd += list(args)
        cmd += list(graphs if graphs is not None else [DEFAULT_GRAPH])
        self.cmd = cmd
        e = None
        if env:
            e = dict(os.environ)
            e.update(env)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, errors="replace", preexec_fn=preexec_fn,
                                     env=e)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.endpoint = self.feed = None
        self._ctx = None
        if wait:
            self.ready(start_timeout)

    def ready(self, timeout=60):
        """Wait until kgd has logged both endpoints and answers ping."""
        self.endpoint = self.wait_log(r"listening on (\S+)", timeout).group(1)
        self.feed = self.wait_log(r"publishing on (\S+)", timeout).group(1)
        self._wait_ping(timeout)
        return self

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_log(self, pattern, timeout=20, start=0):
        """The first match of pattern in the log from line start on."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        raise AssertionError("kgd exited (%s) before logging %r:\n%s"
                                             % (self.proc.poll(), pattern, self.log()))
                    m = rx.search(line)
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("kgd did not log %r within %ss:\n%s"
                                         % (pattern, timeout, self.log()))
                self.cond.wait(left)

    def _wait_ping(self, timeout):
        deadline = time.monotonic() + timeout
        with kgd_client.Client(self.endpoint, timeout=1.0) as c:
            while True:
                try:
                    r = c.ping()
                    assert r["pong"] is True
                    return
                except kgd_client.NoReply:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("kgd does not answer ping:\n" + self.log())

    def log(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)

    def client(self, timeout=10.0):
        return kgd_client.Client(self.endpoint, timeout=timeout)

    @property
    def ctx(self):
        """A ZeroMQ context for raw sockets to this kgd (destroyed when it
        has exited)."""
        if self._ctx is None:
            self._ctx = zmq.Context()
        return self._ctx

    def req(self, timeout=20.0):
        """A REQ socket connected to the request endpoint."""
        s = self.ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        s.connect(self.endpoint)
        return s

    def call(self, sock=None, **request):
        """Send request as msgpack on sock (None: a REQ socket of its own)
        and return the decoded reply."""
        own = sock is None
        if own:
            sock = self.req()
        try:
            sock.send(msgpack.packb(request))
            return msgpack.unpackb(sock.recv(), raw=False)
        finally:
            if own:
                sock.close()

    def ok(self, **request):
        """The result of a request that must succeed."""
        rep = self.call(**request)
        assert rep["ok"], rep
        return rep["result"]

    def subscribe(self, *topics, timeout=10.0):
        """A SUB socket on the change feed for topics, once the
        subscription has had time to reach kgd."""
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        sub.connect(self.feed)
        for t in topics:
            sub.setsockopt(zmq.SUBSCRIBE, t)
        time.sleep(0.3)
        return sub

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send sig (if kgd still runs) and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout, "of %s" % signal.Signals(sig).name)

    def wait_exit(self, timeout=30, after="by itself"):
        """Wait for kgd to exit; returns the exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("kgd did not exit within %ss %s:\n%s"
                                 % (timeout, after, self.log()))
        finally:
            self.reader.join(5)
            if self._ctx is not None:
                self._ctx.destroy(linger=0)
                self._ctx = None
        return rc


@pytest.fixture(scope="session")
def kgd_bin():
    assert os.access(KGD, os.X_OK), "kgd not built: %s" % KGD
    return KGD


@pytest.fixture(scope="session")
def kg_bin():
    assert os.access(KG, os.X_OK), "kg not built: %s" % KG
    return KG


@pytest.fixture(scope="session")
def source_dir():
    return SOURCE


@pytest.fixture(scope="session")
def default_graph():
    return DEFAULT_GRAPH


class _Factory:
    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.started = []

    def start(self, **kw):
        p = KgdProcess(str(self.tmpdir), **kw)
        self.started.append(p)
        return p

    def stop_all(self):
        failures = []
        for p in self.started:
            rc = p.stop()
            if rc != 0:
                failures.append("kgd %s exited with %s:\n%s" % (p.cmd, rc, p.log()))
        self.started = []
        assert not failures, "\n".join(failures)


@pytest.fixture
def kgd_factory(kgd_bin, tmp_path):
    f = _Factory(tmp_path)
    yield f
    f.stop_all()


@pytest.fixture(scope="module")
def kgd_module_factory(kgd_bin, tmp_path_factory):
    f = _Factory(tmp_path_factory.mktemp("kgd"))
    yield f
    f.stop_all()


@pytest.fixture(scope="module")
def kgd(kgd_module_factory):
    """One kgd on the default graph shared by a test module (read-only)."""
    return kgd_module_factory.start()


@pytest.fixture
def kgd_fresh(kgd_factory):
    """A kgd of this test's own on the default graph (writes allowed)."""
    return kgd_factory.start()


# ---- raw socket helpers (for tests that send what the client would not) --------

def raw_dealer(endpoint, ctx=None):
    """A DEALER socket connected to endpoint (linger 0)."""
    import zmq
    ctx = ctx or zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


def raw_call(sock, frames, timeout=10.0):
    """Send frames (bytes, or a list of frames) and return the reply's
    frames, or None when nothing comes within timeout seconds."""
    if isinstance(frames, (bytes, bytearray)):
        frames = [b"", bytes(frames)]
    sock.send_multipart(frames)
    if not sock.poll(int(timeout * 1000)):
        return None
    return sock.recv_multipart()


def unpack_reply(frames):
    """The decoded body (last frame) of a reply."""
    import msgpack
    assert frames, "no reply"
    return msgpack.unpackb(frames[-1], raw=False)


def write_tsv_graph(path, n_nodes, kind="r", qualifiers=""):
    """A complete directed graph on n_nodes entities as a TSV fact table
    (n_nodes * (n_nodes - 1) relations of one kind)."""
    with open(path, "w") as f:
        f.write("subject\trelation\tobject\tqualifiers\n")
        for i in range(n_nodes):
            for j in range(n_nodes):
                if i != j:
                    f.write("n%d\t%s\tn%d\t%s\n" % (i, kind, j, qualifiers))
    return path
