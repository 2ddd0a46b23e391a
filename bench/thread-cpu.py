#!/usr/bin/python3
"""CPU time per request of each thread of a server under load.

Starts kgd (on a graph) or bench_echo on a free loopback port, drives it
with `bench_server load` for some seconds, and prints the load line and,
for every thread of the server (kgd's request loop, libzmq's I/O thread),
the CPU it used (user + system, from /proc/PID/task/TID/stat) divided by
the requests answered. docs/performance-server.md quotes it for where the
time of a request goes; it is robust to the machine's other load in a
way requests per second are not.

Usage:
    bench/thread-cpu.py [--build build] [--echo | --graph FILE]
                        [--seconds 4] -- LOAD ARGS...
e.g.
    bench/thread-cpu.py -- --op ping --clients 4
    bench/thread-cpu.py --graph /tmp/kg-server-bench/big-1000000-5000000.tsv \\
        -- --op neighbors --entities 1000000 --detail ids
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)


def thread_ticks(pid):
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[tid] = (comm, int(fields[11]) + int(fields[12]))  # utime + stime
    return out


def machine_idle():
    """Idle ticks of all CPUs together, from /proc/stat (idle + iowait)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[4]) + int(fields[5])


def main():
    argv = sys.argv[1:]
    load_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, load_args = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--echo", action="store_true", help="measure bench_echo, not kgd")
    ap.add_argument("--graph", default=os.path.join(SOURCE, "graphs", "macron-xi-beijing.gv"))
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args(argv)
    if a.echo:
        cmd = [os.path.join(a.build, "bench", "bench_echo"), "tcp://127.0.0.1:*", "3600"]
        load_args = ["--op", "ping", "--echo"] + load_args
    else:
        cmd = [os.path.join(a.build, "src", "server", "kgd"), "--bind", "tcp://127.0.0.1:*",
               "--publish", "tcp://127.0.0.1:*", "--log-level", "info", a.graph]
    log_path = "/tmp/thread-cpu-%d.log" % os.getpid()
    log = open(log_path, "w")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 1200
        ep = None
        while ep is None and time.monotonic() < deadline and p.poll() is None:
            with open(log_path) as f:
                m = re.search(r"listening on (\S+)", f.read())
            ep = m.group(1) if m else None
            time.sleep(0.1)
        if ep is None:
            sys.exit("server did not start:\n" + open(log_path).read())
        before = thread_ticks(p.pid)
        idle0, gen0 = machine_idle(), resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([os.path.join(a.build, "bench", "bench_server"), "load",
                            "--endpoint", ep, "--seconds", str(a.seconds), "--warmup", "0"]
                           + load_args, stdout=subprocess.PIPE, text=True)
        after = thread_ticks(p.pid)
        idle1, gen1 = machine_idle(), resource.getrusage(resource.RUSAGE_CHILDREN)
        print(r.stdout.strip())
        if r.returncode != 0:
            return r.returncode
        m = re.search(r"requests=(\d+)", r.stdout)
        # The load's warm-up is 0, so every request answered is counted.
        n = max(int(m.group(1)), 1)
        hz = os.sysconf("SC_CLK_TCK")
        for tid, (comm, t1) in sorted(after.items()):
            t0 = before.get(tid, (comm, 0))[1]
            print("  %-12s %7.3f us CPU per request" % (comm, (t1 - t0) / hz * 1e6 / n))
        gen = (gen1.ru_utime + gen1.ru_stime) - (gen0.ru_utime + gen0.ru_stime)
        print("  %-12s %7.3f us CPU per request" % ("(load)", gen * 1e6 / n))
        print("  %-12s %7.3f us per request" % ("(idle)", (idle1 - idle0) / hz * 1e6 / n))
        return 0
    finally:
        p.terminate()
        p.wait(30)
        log.close()
        os.unlink(log_path)


if __name__ == "__main__":
    sys.exit(main())
