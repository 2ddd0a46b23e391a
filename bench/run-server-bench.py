#!/usr/bin/python3
"""Server benchmark: kgd against Redis and a bare ZeroMQ echo.

Starts, on loopback, in this order:
  1. kgd on the default graph (graphs/macron-xi-beijing.gv),
  2. kgd on a generated graph of 1M entities and 5M relations (TSV,
     written once by `bench_server gen` into the work directory),
  3. bench_echo, a ROUTER that echoes (the transport's ceiling),
  4. redis-server (--save '' --appendonly no) with a 10-member set and,
     unless --skip-big, the big graph's out-adjacency as 1M sets,
and measures, with 1, 4 and 16 clients each keeping up to 64 requests in
flight, requests per second and p50/p99 latency of kgd `ping`, `entity`
and one-hop `neighbors` with detail full, brief and ids (bench_server
load; its clients are, by default, one thread speaking ZMTP over plain
sockets, as redis-benchmark drives its connections from one thread), of
the echo, and of Redis SMEMBERS (redis-benchmark -c N -P 64) of the one
set and of a random one of the 1M sets. Every figure is the median of
--runs runs; the runs are interleaved (run 1 of every measurement, then
run 2, ...) with every server up throughout, and within a run all the
measurements at one client count follow each other. Prints a table and
the ratios kgd/Redis and kgd/echo (each the median over the runs of that
run's ratio), and writes them as JSON (--json).

Usage:
    bench/run-server-bench.py [--build build] [--runs 3] [--seconds 3]
                              [--entities 1000000] [--relations 5000000]
                              [--workdir /tmp/kg-server-bench] [--json FILE]
                              [--skip-big] [--client zmtp|zmq]

Everything binds 127.0.0.1 on free ports, runs for a bounded time and is
stopped at the end (SIGTERM, then SIGKILL after 30 s).
"""
import argparse
import csv
import io
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
CLIENTS = (1, 4, 16)
DEPTH = 64
# neighbors:X asks neighbors with detail X (docs/protocol.md).
OPS = ("ping", "entity", "neighbors", "neighbors:brief", "neighbors:ids")
DEFAULT_NAMES = ["China", "France", "Russia", "Ukraine", "United States", "European Union",
                 "NATO", "cognac", "pork", "Xi Jinping", "Emmanuel Macron", "rare earths",
                 "electric vehicles", "dairy products", "Beijing", "giant pandas"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A background process whose stderr/stdout go to a log file."""

    def __init__(self, cmd, log_path):
        self.cmd = cmd
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_for(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                m = rx.search(f.read())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("%s: no %r in its output:\n%s" % (self.cmd[0], pattern,
                                                            open(self.log_path).read()))

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0


def load(bench, endpoint, op, clients, seconds, client, names=None, entities=None,
         echo=False):
    op, _, detail = op.partition(":")
    cmd = [bench, "load", "--endpoint", endpoint, "--op", op, "--clients", str(clients),
           "--depth", str(DEPTH), "--seconds", str(seconds), "--warmup", "0.5",
           "--client", client]
    if detail:
        cmd += ["--detail", detail]
    if names:
        cmd += ["--names", ",".join(names)]
    if entities:
        cmd += ["--entities", str(entities)]
    if echo:
        cmd.append("--echo")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=seconds + 120)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s%s" % (" ".join(cmd), r.stdout, r.stderr))
    fields = dict(kv.split("=", 1) for kv in r.stdout.split())
    return {"rps": float(fields["rps"]), "p50_us": float(fields["p50_us"]),
            "p99_us": float(fields["p99_us"]), "reply_bytes": float(fields["reply_bytes"])}


def redis_bench(port, clients, seconds_hint, rps_guess=200000, key="kgbench:set",
                keyspace=None):
    # redis-benchmark runs a request count, not a duration: size it to about
    # seconds_hint at the guessed rate (bounded).
    n = int(min(max(rps_guess * seconds_hint, 50000), 5000000))
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
           "-P", str(DEPTH), "-n", str(n), "--csv"]
    if keyspace:
        # __rand_int__ in the key becomes a random 12-digit number < keyspace
        cmd += ["-r", str(keyspace)]
    cmd += ["SMEMBERS", key]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError("redis-benchmark failed: %s" % r.stderr)
    rows = list(csv.reader(io.StringIO(r.stdout)))
    head, vals = rows[0], rows[-1]
    d = dict(zip(head, vals))
    return {"rps": float(d["rps"]), "p50_us": float(d["p50_latency_ms"]) * 1000,
            "p99_us": float(d["p99_latency_ms"]) * 1000, "n": n}


def redis_load_adjacency(port, tsv, resp_path):
    """Put the big graph's out-adjacency into Redis: for every subject eN a
    set adj:<N as 12 digits> of its objects' ids (what a one-hop
    `neighbors` with detail=ids returns), through redis-cli --pipe."""
    adj = {}
    with open(tsv) as f:
        for line in f:
            if line.startswith("#") or line.startswith("subject\t"):
                continue
            sub, _, obj = line.rstrip("\n").split("\t")[:3]
            adj.setdefault(sub, []).append(obj)
    with open(resp_path, "wb") as out:
        for sub, objs in adj.items():
            key = "adj:%012d" % int(sub[1:])
            parts = [b"SADD", key.encode()] + [o.encode() for o in objs]
            out.write(b"*%d\r\n" % len(parts))
            for p in parts:
                out.write(b"$%d\r\n%s\r\n" % (len(p), p))
    with open(resp_path, "rb") as f:
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                           stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=1200)
    if r.returncode != 0 or "errors: 0" not in r.stdout:
        raise RuntimeError("redis-cli --pipe: %s" % r.stdout)
    return len(adj)


def median_of(runs):
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys
            if isinstance(runs[0][k], (int, float))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--entities", type=int, default=1000000)
    ap.add_argument("--relations", type=int, default=5000000)
    ap.add_argument("--workdir", default="/tmp/kg-server-bench")
    ap.add_argument("--json", help="write the medians here")
    ap.add_argument("--skip-big", action="store_true", help="only the default graph")
    ap.add_argument("--client", choices=("zmtp", "zmq"), default="zmtp",
                    help="how bench_server's clients talk (bench/load.h): one thread "
                         "speaking ZMTP over plain sockets, or a libzmq DEALER per thread")
    a = ap.parse_args()
    if not (1 <= a.runs <= 20 and 0.5 <= a.seconds <= 60):
        ap.error("--runs 1..20, --seconds 0.5..60")
    kgd = os.path.join(a.build, "src", "server", "kgd")
    bench = os.path.join(a.build, "bench", "bench_server")
    echo = os.path.join(a.build, "bench", "bench_echo")
    for p in (kgd, bench, echo):
        if not os.access(p, os.X_OK):
            sys.exit("missing %s: build with cmake --build %s -j2" % (p, a.build))
    os.makedirs(a.workdir, exist_ok=True)
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "cpu": next((l.split(":", 1)[1].strip() for l in
                                        open("/proc/cpuinfo") if l.startswith("model name")),
                                       "?"),
                           "loadavg_start": open("/proc/loadavg").read().split()[:3]},
               "settings": {"runs": a.runs, "seconds": a.seconds, "depth": DEPTH,
                            "client": a.client,
                            "clients": CLIENTS},
               "figures": {}}
    figs = results["figures"]

    def record(name, clients, runs):
        med = median_of(runs)
        figs.setdefault(name, {})[str(clients)] = dict(med, runs=runs)
        print("%-28s c=%-2d rps %9.0f  p50 %8.1f us  p99 %9.1f us   (runs: %s)" % (
            name, clients, med["rps"], med["p50_us"], med["p99_us"],
            " ".join("%.0f" % r["rps"] for r in runs)), flush=True)

    graphs = [("default", [os.path.join(SOURCE, "graphs", "macron-xi-beijing.gv")],
               {"names": DEFAULT_NAMES})]
    if not a.skip_big:
        big = os.path.join(a.workdir, "big-%d-%d.tsv" % (a.entities, a.relations))
        if not os.path.exists(big):
            print("generating %s ..." % big, flush=True)
            t = time.monotonic()
            subprocess.run([bench, "gen", str(a.entities), str(a.relations), big + ".tmp"],
                           check=True, timeout=1200)
            os.rename(big + ".tmp", big)
            print("  %.1f s" % (time.monotonic() - t), flush=True)
        graphs.append(("big", [big], {"entities": a.entities}))

    # Every server runs for the whole benchmark and the measurements are
    # interleaved - run 1 of everything, then run 2 of everything... - so
    # that a neighbour's load on the shared machine, which comes and goes,
    # falls on kgd, the echo and Redis alike rather than on one of them.
    procs = []
    targets = []  # (name, clients, measure function)
    try:
        for gname, files, who in graphs:
            log = os.path.join(a.workdir, "kgd-%s.log" % gname)
            t = time.monotonic()
            p = Proc([kgd, "--bind", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*",
                      "--log-level", "info"] + files, log)
            procs.append(p)
            ep = p.wait_for(r"listening on (\S+)", 1200).group(1)
            results.setdefault("load", {})[gname] = {
                "seconds": round(time.monotonic() - t, 1), "rss_mb": round(rss_mb(p.p.pid))}
            print("kgd %s: listening on %s after %.1f s, RSS %.0f MB" % (
                gname, ep, time.monotonic() - t, rss_mb(p.p.pid)), flush=True)
            for op in OPS:
                for c in CLIENTS:
                    targets.append(("kgd %s %s" % (gname, op), c,
                                    lambda ep=ep, op=op, c=c, who=who:
                                    load(bench, ep, op, c, a.seconds, a.client, **who)))

        p = Proc([echo, "tcp://127.0.0.1:*", "3600"], os.path.join(a.workdir, "echo.log"))
        procs.append(p)
        ep = p.wait_for(r"listening on (\S+)", 20).group(1)
        for c in CLIENTS:
            targets.append(("zmq echo", c, lambda ep=ep, c=c:
                            load(bench, ep, "ping", c, a.seconds, a.client, echo=True)))

        port = free_port()
        p = Proc(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                  "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
                 os.path.join(a.workdir, "redis.log"))
        procs.append(p)
        p.wait_for(r"Ready to accept connections", 20)
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "SADD",
                        "kgbench:set"] + ["member-%d" % i for i in range(10)], check=True,
                       stdout=subprocess.DEVNULL, timeout=20)
        guess = {}

        def redis_target(name, c, **kw):
            def run():
                r = redis_bench(port, c, a.seconds, guess.get((name, c), 300000), **kw)
                guess[(name, c)] = r["rps"]
                return r
            return (name, c, run)

        for c in CLIENTS:
            targets.append(redis_target("redis SMEMBERS", c))
        if not a.skip_big:
            # Like for like with kgd's big graph: the same adjacency as 1M
            # sets, SMEMBERS of a random one (not one hot key).
            t = time.monotonic()
            n = redis_load_adjacency(port, big, os.path.join(a.workdir, "adjacency.resp"))
            print("redis: %d adjacency sets loaded in %.1f s, RSS %.0f MB" % (
                n, time.monotonic() - t, rss_mb(p.p.pid)), flush=True)
            for c in CLIENTS:
                targets.append(redis_target("redis SMEMBERS 1M sets", c,
                                            key="adj:__rand_int__", keyspace=a.entities))

        # Within a run, everything at one client count is measured back to
        # back (kgd, then the echo, then Redis), so that each run's ratios
        # compare figures taken within a minute of each other.
        order = {c: i for i, c in enumerate(CLIENTS)}
        targets.sort(key=lambda t: order[t[1]])
        got = {}
        for r in range(a.runs):
            print("run %d of %d (%d measurements)" % (r + 1, a.runs, len(targets)), flush=True)
            for name, c, run in targets:
                got.setdefault((name, c), []).append(run())
        for name, c, _ in targets:
            record(name, c, got[(name, c)])
    finally:
        for p in procs:
            rc = p.stop()
            if rc not in (0, None):
                print("%s exited with %s, log %s" % (p.cmd[0], rc, p.log_path),
                      file=sys.stderr)

    # --- ratios: per run (figures taken close together), then the median
    print("\nratios (median over runs of each run's ratio of requests per second):")
    ratios = results["ratios"] = {}

    def paired(name, ref, c):
        a_runs = [r["rps"] for r in figs[name][str(c)]["runs"]]
        b_runs = [r["rps"] for r in figs[ref][str(c)]["runs"]]
        return statistics.median(x / y for x, y in zip(a_runs, b_runs) if y)

    for gname, _, _ in graphs:
        for op in OPS:
            for c in CLIENTS:
                name = "kgd %s %s" % (gname, op)
                row = {"kgd/redis": paired(name, "redis SMEMBERS", c),
                       "kgd/echo": paired(name, "zmq echo", c)}
                line = "  %-7s %-15s c=%-2d kgd/redis %5.2f   kgd/echo %5.2f" % (
                    gname, op, c, row["kgd/redis"], row["kgd/echo"])
                if gname == "big" and str(c) in figs.get("redis SMEMBERS 1M sets", {}):
                    row["kgd/redis-1M-sets"] = paired(name, "redis SMEMBERS 1M sets", c)
                    line += "   kgd/redis(1M sets) %5.2f" % row["kgd/redis-1M-sets"]
                ratios["%s %s c=%d" % (gname, op, c)] = row
                print(line)
    results["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
