"""python3 -m shiprate quote WEIGHT_KG DISTANCE_KM [--service S] [--insured-value EUR] | batch FILE.csv"""

from __future__ import annotations

import argparse
import json
import sys

from shiprate.batch import quote_file
from shiprate.rates import quote_breakdown


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="shiprate")
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quote")
    q.add_argument("weight_kg", type=float)
    q.add_argument("distance_km", type=float)
    q.add_argument("--service", default="standard")
    q.add_argument("--insured-value", type=float)
    b = sub.add_parser("batch")
    b.add_argument("csv")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "quote":
            out = quote_breakdown(args.weight_kg, args.distance_km, args.service, insured_value=args.insured_value)
        else:
            out = quote_file(args.csv)
    except ValueError as exc:
        print(f"shiprate: {exc}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
