"""The systemd unit and the example configuration.

- systemd-analyze verify on the unit, pointed at the kgd built here (verify
  insists that ExecStart's binary exists and is executable, and CI has no
  installed kgd and maybe no systemd as PID 1; verify works without both);
  and the same check failing for a missing binary, so it is not vacuous.
- systemd-analyze security --offline: exposure at most 2.0.
- kgd started the way the unit starts it (--config with the example
  kgd.conf) with a NOTIFY_SOCKET of our own: READY=1 once it answers,
  RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM.
- the install rules: the configured unit and configuration in the build
  folder carry the install prefix.

Run by ctest with KG_BUILD_DIR and KG_SOURCE_DIR, Debian's python3.
"""
import os
import re
import signal
import socket
import subprocess
import time

import msgpack
import pytest
import zmq

BUILD = os.environ.get("KG_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("KG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
KGD = os.path.abspath(os.path.join(BUILD, "src", "server", "kgd"))
UNIT = os.path.join(SOURCE, "systemd", "kgd.service")
CONF = os.path.join(SOURCE, "systemd", "kgd.conf")
DEFAULT_BIN = "/usr/local/bin/kgd"
DEFAULT_CONF = "/usr/local/etc/kgd/kgd.conf"


def unit_text():
    with open(UNIT) as f:
        return f.read()


def unit_copy(tmp_path, kgd=KGD, conf=None):
    """The unit with ExecStart pointing at kgd and conf, in tmp_path."""
    text = unit_text()
    assert DEFAULT_BIN in text and DEFAULT_CONF in text
    conf = conf or str(tmp_path / "kgd.conf")
    if not os.path.exists(conf):
        with open(CONF) as src, open(conf, "w") as dst:
            dst.write(src.read())
    text = text.replace(DEFAULT_BIN, kgd).replace(DEFAULT_CONF, conf)
    path = tmp_path / "kgd.service"
    path.write_text(text)
    return str(path)


def directives(text):
    """{key: [values]} of the [Service] section."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def verify(path):
    return subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                          capture_output=True, text=True)


def test_unit_verifies(tmp_path):
    assert os.access(KGD, os.X_OK), "kgd is not built at " + KGD
    r = verify(unit_copy(tmp_path))
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if "kgd.service" in l]
    assert r.returncode == 0 and not complaints, r.stdout + r.stderr


def test_verify_catches_a_missing_binary(tmp_path):
    r = verify(unit_copy(tmp_path, kgd="/nonexistent/kgd"))
    assert r.returncode != 0
    assert "/nonexistent/kgd" in r.stdout + r.stderr


def test_verify_catches_a_bad_directive(tmp_path):
    path = unit_copy(tmp_path)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("ProtectSystem=strict", "ProtectSystem=stricter"))
    r = verify(path)
    # verify only warns about it: test_unit_verifies fails on any line
    # naming kgd.service, which this is
    complaints = [l for l in (r.stdout + r.stderr).splitlines() if "kgd.service" in l]
    assert complaints and "stricter" in complaints[0], r.stdout + r.stderr


def test_security_exposure_at_most_2(tmp_path):
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                        unit_copy(tmp_path)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for kgd\.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_unit_directives():
    d = directives(unit_text())
    one = {k: v[-1] for k, v in d.items()}
    assert one["Type"] == "notify"
    assert one["ExecStart"] == DEFAULT_BIN + " --config " + DEFAULT_CONF
    assert one["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert one["Restart"] == "on-failure"
    assert one["DynamicUser"] == "yes"
    assert one["StateDirectory"] == "kgd"
    assert one["UMask"] == "0077"
    assert one["CapabilityBoundingSet"] == ""
    assert one["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert "@system-service" in d["SystemCallFilter"]
    # exit status 3 (corrupt data) must not restart-loop
    assert "3" in one["RestartPreventExitStatus"].split()
    for k in ["ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
              "NoNewPrivileges", "SystemCallArchitectures", "MemoryDenyWriteExecute",
              "LockPersonality", "RestrictRealtime", "RestrictNamespaces",
              "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
              "ProtectControlGroups", "ProtectClock", "ProtectHostname"]:
        assert k in one, k
    # the example configuration puts the data where the unit's
    # StateDirectory is
    with open(CONF) as f:
        assert re.search(r"^data = /var/lib/kgd$", f.read(), re.M)


class Notify:
    """A NOTIFY_SOCKET like systemd's: a datagram socket we read."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.got = []

    def wait(self, state, timeout=30):
        deadline = time.time() + timeout
        while state not in self.got:
            left = deadline - time.time()
            assert left > 0, "no %s from kgd; got %r" % (state, self.got)
            self.sock.settimeout(left)
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.got.extend(msg.split("\n"))
        return self.got.index(state)

    def close(self):
        self.sock.close()


def ping(endpoint):
    ctx = zmq.Context()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.connect(endpoint)
    try:
        s.send(msgpack.packb({"op": "ping"}))
        return msgpack.unpackb(s.recv(), raw=False)
    finally:
        s.close()
        ctx.destroy(linger=0)


def test_kgd_runs_the_example_config_with_notify(tmp_path):
    """kgd as the unit starts it, with the shipped kgd.conf (its data and
    endpoints moved to the test's, as an operator's drop-in would)."""
    notify = Notify(str(tmp_path / "notify"))
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [KGD, "--config", CONF, "--data", str(data),
         "--bind", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, NOTIFY_SOCKET=notify.path))
    try:
        notify.wait("READY=1")
        # READY means answering: find the endpoint in the log and ping
        endpoint = None
        while endpoint is None:
            line = proc.stderr.readline()
            assert line, "kgd exited"
            m = re.search(r"listening on (\S+)", line)
            if m:
                endpoint = m.group(1)
        assert ping(endpoint)["ok"]
        assert os.path.isdir(data)
        # the configuration's durability settings are in force
        proc.send_signal(signal.SIGHUP)
        r = notify.wait("RELOADING=1")
        notify.got[r] = "seen"
        notify.wait("READY=1")
        assert ping(endpoint)["ok"]
        proc.send_signal(signal.SIGTERM)
        notify.wait("STOPPING=1")
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()


def cache_value(key):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split("=", 1)[1].strip()
    return None


def configure_systemd_dir(tmp_path, *args):
    """Configure systemd/CMakeLists.txt in a scratch project (as the
    top-level CMakeLists.txt does with add_subdirectory(systemd)); returns
    its build folder."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.25)\n"
        "project(kgd VERSION 0.1.0 LANGUAGES C)\n"
        "include(GNUInstallDirs)\n"
        "set(KG_DATADIR \"${CMAKE_INSTALL_FULL_DATADIR}/kgd\")\n"
        "add_subdirectory(%s systemd)\n" % os.path.join(os.path.abspath(SOURCE), "systemd"))
    build = tmp_path / ("build%d" % len(list(tmp_path.glob("build*"))))
    subprocess.run(["cmake", "-S", str(src), "-B", str(build)] + list(args),
                   check=True, capture_output=True)
    return build


def exec_start(unit_path):
    with open(unit_path) as f:
        return directives(f.read())["ExecStart"][-1].split()


def test_install_rules_follow_the_prefix(tmp_path):
    """cmake --install puts the unit in lib/systemd/system and kgd.conf in
    etc/kgd, both naming the prefix's kgd and kgd.conf."""
    b = configure_systemd_dir(tmp_path)
    assert exec_start(b / "systemd" / "kgd.service") == [
        DEFAULT_BIN, "--config", DEFAULT_CONF]
    inst = tmp_path / "inst"
    subprocess.run(["cmake", "--install", str(b), "--prefix", str(inst)], check=True,
                   capture_output=True)
    assert (inst / "lib" / "systemd" / "system" / "kgd.service").is_file()
    conf = inst / "etc" / "kgd" / "kgd.conf"
    assert conf.is_file()
    assert "data = /var/lib/kgd" in conf.read_text()

    b = configure_systemd_dir(tmp_path, "-DCMAKE_INSTALL_PREFIX=/usr",
                              "-DCMAKE_INSTALL_SYSCONFDIR=/etc")
    assert exec_start(b / "systemd" / "kgd.service") == [
        "/usr/bin/kgd", "--config", "/etc/kgd/kgd.conf"]
    assert "#graph = /usr/share/kgd/graphs/" in (b / "systemd" / "kgd.conf").read_text()


def test_this_build_installs_the_unit():
    """The build under test wires systemd/ in (add_subdirectory(systemd) in
    the top-level CMakeLists.txt) with its own prefix."""
    unit = os.path.join(BUILD, "systemd", "kgd.service")
    assert os.path.exists(unit), "systemd/ is not part of the build: " \
        "add_subdirectory(systemd) in CMakeLists.txt"
    prefix = cache_value("CMAKE_INSTALL_PREFIX")
    assert exec_start(unit)[0] == os.path.join(prefix, "bin", "kgd")
