#!/usr/bin/python3
"""What flows between two countries (or blocs): exports, imports, trade
surpluses and deficits, supplies and loans, in both directions.

Usage:
    trade_flows.py A B [--endpoint tcp://127.0.0.1:7411] [--as-of DATE]

Example, against a kgd serving the default graph:
    $ ./trade_flows.py China "European Union"
    China -> European Union
      exports-to          $461 billion (2025-01/2025-10)
      imports-from        $219 billion (2025-01/2025-10)
      trade-surplus-with  $242 billion (2025-01/2025-10)
    European Union -> China
      (nothing)
"""
import argparse
import sys

from _common import add_endpoint, fail, kgd, money

FLOWS = ("exports-to", "imports-from", "trade-surplus-with", "trade-deficit-with",
         "supplies", "lends", "sells-to", "buys-from", "invests-in")


def detail(rel):
    q = rel.get("qualifiers") or {}
    parts = []
    if "value" in q:
        parts.append(money(q["value"], q.get("currency")))
    for k in ("goods", "change"):
        if k in q:
            parts.append(q[k])
    when = q.get("period") or q.get("since") or q.get("date")
    text = "; ".join(parts)
    if when:
        text += " (%s)" % when if text else when
    if "claimed-by" in q:
        text += " [claimed by %s]" % q["claimed-by"]
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    add_endpoint(ap)
    ap.add_argument("--as-of", help="only relations in force on DATE")
    a = ap.parse_args(argv)
    try:
        with kgd.Client(a.endpoint, timeout=a.timeout) as c:
            ea = c.entity(a.a)["id"]
            eb = c.entity(a.b)["id"]
            ways = []
            for s, o in ((ea, eb), (eb, ea)):
                rels = c.relations(subject=s, object=o, as_of=a.as_of)["relations"]
                ways.append((s, o, [r for r in rels if r["relation"] in FLOWS]))
    except kgd.KgdError as e:
        return fail("trade_flows", e)
    for s, o, rels in ways:
        print("%s -> %s" % (s, o))
        if not rels:
            print("  (nothing)")
        rels.sort(key=lambda r: (FLOWS.index(r["relation"]), detail(r)))
        for r in rels:
            print("  %-19s %s" % (r["relation"], detail(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
