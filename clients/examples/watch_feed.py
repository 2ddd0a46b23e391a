#!/usr/bin/python3
"""Watch kgd's change feed and print each change as it is applied.

Topics are relation kinds (tariffs-on, exports-to, ...) and "entity";
none means every change. Stops after --count changes or --seconds of
waiting, if given (otherwise runs until interrupted).

Usage:
    watch_feed.py [TOPIC...] [--endpoint tcp://127.0.0.1:7412 | --server ENDPOINT]
                  [--count N] [--seconds S]

--server asks the daemon at its request ENDPOINT where its feed is.

Example (in another terminal, add a tariff with the Python client):
    $ ./watch_feed.py tariffs-on
    seq 1 add tariffs-on: United States -[tariffs-on]-> steel {origin=Canada, rate=25%}
"""
import argparse
import sys
import time

from _common import add_endpoint, fail, kgd


def describe(ch):
    if ch.relation is not None:
        r = ch.relation
        q = r.get("qualifiers") or {}
        quals = " {%s}" % ", ".join("%s=%s" % kv for kv in sorted(q.items())) if q else ""
        what = "%s -[%s]-> %s%s" % (r.get("subject"), r.get("relation"), r.get("object"),
                                    quals)
    else:
        e = ch.entity or {}
        what = e.get("id", "?")
        if e.get("kind"):
            what += " (%s)" % e["kind"]
    return "seq %s %s %s: %s" % (ch.seq, ch.op, ch.topic, what)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("topics", nargs="*", metavar="TOPIC")
    add_endpoint(ap, feed=True)
    ap.add_argument("--server", help="find the feed from the daemon at this request "
                                     "endpoint (its stats)")
    ap.add_argument("--count", type=int, help="stop after N changes")
    ap.add_argument("--seconds", type=float, help="stop after S seconds")
    a = ap.parse_args(argv)
    deadline = None if a.seconds is None else time.monotonic() + a.seconds
    seen = 0
    if a.server:
        try:
            with kgd.Client(a.server, timeout=a.timeout) as c:
                a.endpoint = c.feed_endpoint()
        except kgd.KgdError as e:
            return fail("watch_feed.py", e)
    with kgd.Feed(a.endpoint, topics=a.topics) as feed:
        print("watching %s for %s" % (a.endpoint, ", ".join(a.topics) or "every change"),
              flush=True)
        try:
            while a.count is None or seen < a.count:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                ch = feed.recv(timeout=left)
                if ch is None:
                    break
                print(describe(ch), flush=True)
                seen += 1
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
