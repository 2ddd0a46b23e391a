#!/usr/bin/python3
"""A shortest path between two entities.

Relations are followed either way by default (--direction both), and a
step taken backwards is shown as <-[kind]-.

Usage:
    path.py FROM TO [--endpoint tcp://127.0.0.1:7411] [--direction out|in|both]
            [--all] [--max-length N] [--relation KIND]... [--as-of DATE]

Example, against a kgd serving the default graph:
    $ ./path.py Macron Russia
    Emmanuel Macron -[calls-on]-> China -[supplies]-> Russia
"""
import argparse
import sys

from _common import add_endpoint, fail, kgd


def render(start, path):
    """The path as text, walking from start (a canonical id)."""
    at = start
    out = [at]
    for rel in path:
        if rel["subject"] == at:
            at = rel["object"]
            out.append("-[%s]-> %s" % (rel["relation"], at))
        else:
            at = rel["subject"]
            out.append("<-[%s]- %s" % (rel["relation"], at))
    return " ".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", metavar="FROM")
    ap.add_argument("target", metavar="TO")
    add_endpoint(ap)
    ap.add_argument("--direction", default="both", choices=("out", "in", "both"))
    ap.add_argument("--all", action="store_true", help="every shortest path")
    ap.add_argument("--max-length", type=int)
    ap.add_argument("--relation", action="append", help="follow only this kind")
    ap.add_argument("--as-of")
    a = ap.parse_args(argv)
    try:
        with kgd.Client(a.endpoint, timeout=a.timeout) as c:
            start = c.entity(a.source)["id"]
            end = c.entity(a.target)["id"]
            res = c.path(a.source, a.target, relations=a.relation, direction=a.direction,
                         max_length=a.max_length, all=a.all or None, as_of=a.as_of)
    except kgd.KgdError as e:
        return fail("path", e)
    if not res["paths"]:
        print("no path from %s to %s" % (start, end))
        return 0
    for p in res["paths"]:
        print(render(start, p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
