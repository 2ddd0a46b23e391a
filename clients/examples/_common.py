"""Shared by the example scripts: find the kgd package when run from the
source tree, and the --endpoint option every example takes."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PKG = os.path.join(_HERE, "..", "python")
if os.path.isdir(os.path.join(_PKG, "kgd")) and _PKG not in sys.path:
    sys.path.insert(0, _PKG)

import kgd  # noqa: E402,F401


def add_endpoint(parser, feed=False):
    """--endpoint (and --timeout) with kgd's defaults."""
    if feed:
        parser.add_argument("--endpoint", default=kgd.DEFAULT_FEED,
                            help="kgd change feed (default %(default)s)")
    else:
        parser.add_argument("--endpoint", default=kgd.DEFAULT_ENDPOINT,
                            help="kgd request endpoint (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for a reply (default %(default)s)")


def fail(prog, err):
    """Print a kgd error the way the examples do and return exit status 1."""
    print("%s: %s" % (prog, err), file=sys.stderr)
    return 1


def money(value, currency=None):
    """'461000000000', 'USD' -> '$461 billion'."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "%s %s" % (value, currency or "")
    sym = {"USD": "$", "EUR": "€"}.get(currency or "", "")
    for div, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(v) >= div:
            n = v / div
            txt = ("%.1f" % n).rstrip("0").rstrip(".")
            return "%s%s %s%s" % (sym, txt, word, "" if sym or not currency else " " + currency)
    return "%s%s%s" % (sym, ("%d" % v) if v == int(v) else v,
                       "" if sym or not currency else " " + currency)
