#!/usr/bin/python3
"""Find everything that fits a pattern of relations (a conjunctive query).

The default question: which country puts tariffs on a product from some
place while also exporting to that place?

    [["?a", "tariffs-on", "?p", {"origin": "?b"}], ["?a", "exports-to", "?b"]]

Terms starting with ? are variables; a qualifier map binds or filters
qualifiers. Give your own patterns as JSON with --patterns.

Usage:
    match.py [--patterns JSON] [--endpoint tcp://127.0.0.1:7411]
             [--as-of DATE] [--limit N]

Example, against a kgd serving the default graph:
    $ ./match.py
    ?a     ?p    ?b
    China  pork  European Union
    (1 row; plan: patterns 1, 0)
"""
import argparse
import json
import sys

from _common import add_endpoint, fail, kgd

DEFAULT = [["?a", "tariffs-on", "?p", {"origin": "?b"}], ["?a", "exports-to", "?b"]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patterns", help="patterns as JSON (default: the question above)")
    add_endpoint(ap)
    ap.add_argument("--as-of")
    ap.add_argument("--limit", type=int)
    a = ap.parse_args(argv)
    try:
        patterns = json.loads(a.patterns) if a.patterns else DEFAULT
    except ValueError as e:
        print("match: --patterns: %s" % e, file=sys.stderr)
        return 2
    try:
        with kgd.Client(a.endpoint, timeout=a.timeout) as c:
            res = c.match(patterns, as_of=a.as_of, limit=a.limit)
    except kgd.KgdError as e:
        return fail("match", e)
    table = [res["variables"]] + res["rows"]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(res["variables"]))]
    for row in table:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    n = len(res["rows"])
    print("(%d row%s%s; plan: patterns %s)" % (n, "" if n == 1 else "s",
                                              ", truncated" if res["truncated"] else "",
                                              ", ".join(str(p) for p in res["plan"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
