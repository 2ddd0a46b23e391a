#!/usr/bin/python3
"""Render the neighbourhood of some entities to SVG with Graphviz.

Asks kgd for the subgraph around the seeds as DOT and pipes it through
`dot -Tsvg` (Graphviz must be installed).

Usage:
    subgraph_svg.py SEED... -o FILE.svg [--endpoint tcp://127.0.0.1:7411]
                    [--depth N] [--relation KIND]... [--as-of DATE]

Example, against a kgd serving the default graph:
    $ ./subgraph_svg.py China -o china.svg
    china.svg: 15 entities, 27 relations
"""
import argparse
import shutil
import subprocess
import sys

from _common import add_endpoint, fail, kgd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seeds", nargs="+", metavar="SEED")
    ap.add_argument("-o", "--output", required=True, help="SVG file to write")
    add_endpoint(ap)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--relation", action="append", help="follow only this kind")
    ap.add_argument("--as-of")
    a = ap.parse_args(argv)
    dot = shutil.which("dot")
    if not dot:
        print("subgraph_svg: Graphviz 'dot' is not installed", file=sys.stderr)
        return 1
    try:
        with kgd.Client(a.endpoint, timeout=a.timeout) as c:
            g = c.subgraph(a.seeds, depth=a.depth, relations=a.relation, as_of=a.as_of)
            text = c.subgraph(a.seeds, depth=a.depth, relations=a.relation, as_of=a.as_of,
                              format="dot")["text"]
    except kgd.KgdError as e:
        return fail("subgraph_svg", e)
    r = subprocess.run([dot, "-Tsvg", "-o", a.output], input=text.encode(),
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        print("subgraph_svg: dot failed: %s" % r.stderr.decode(errors="replace").strip(),
              file=sys.stderr)
        return 1
    print("%s: %d entities, %d relations%s" % (a.output, len(g["entities"]),
                                               len(g["relations"]),
                                               " (truncated)" if g.get("truncated") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
