#!/usr/bin/python3
"""Who puts tariffs on what, and on goods from where.

Lists every `tariffs-on` relation kgd knows: the party imposing it, the
product, the origin of the goods, the kind of measure and its date.

Usage:
    tariffs.py [--endpoint tcp://127.0.0.1:7411] [--as-of DATE]
               [--origin NAME] [--by NAME]

Example, against a kgd serving the default graph:
    $ ./tariffs.py
    China puts a duty on pork from European Union
    China puts a minimum-price on cognac from France
    European Union puts a tariff on electric vehicles from China (2024-10)
"""
import argparse
import sys

from _common import add_endpoint, fail, kgd


def describe(rel):
    q = rel.get("qualifiers") or {}
    kind = q.get("kind", "tariff")
    line = "%s puts a %s on %s" % (rel["subject"], kind, rel["object"])
    if "origin" in q:
        line += " from %s" % q["origin"]
    extra = [q[k] for k in ("rate",) if k in q]
    when = q.get("since") or q.get("date")
    if when:
        extra.append(when)
    if q.get("until"):
        extra.append("until " + q["until"])
    if extra:
        line += " (%s)" % ", ".join(extra)
    return line


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_endpoint(ap)
    ap.add_argument("--as-of", help="only tariffs in force on DATE (YYYY[-MM[-DD]])")
    ap.add_argument("--origin", help="only tariffs on goods from this place")
    ap.add_argument("--by", help="only tariffs imposed by this entity")
    a = ap.parse_args(argv)
    try:
        with kgd.Client(a.endpoint, timeout=a.timeout) as c:
            where = None
            if a.origin:
                # Qualifiers hold canonical names: resolve aliases ("EU").
                where = {"origin": c.entity(a.origin)["id"]}
            res = c.relations(subject=a.by, relation="tariffs-on", where=where,
                              as_of=a.as_of)
    except kgd.KgdError as e:
        return fail("tariffs", e)
    lines = sorted(describe(r) for r in res["relations"])
    for line in lines:
        print(line)
    if not lines:
        print("no tariffs found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
