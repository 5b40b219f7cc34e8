"""python3 -m catalog list [--page N] [--per-page N] [--category C] [--sort KEY]"""

from __future__ import annotations

import argparse
import json
import sys

from catalog.api import list_products
from catalog.pagination import PageOutOfRange


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="catalog")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list")
    ls.add_argument("--page", type=int, default=1)
    ls.add_argument("--per-page", type=int, default=20)
    ls.add_argument("--category")
    ls.add_argument("--sort", default="sku")
    args = ap.parse_args(argv)
    try:
        out = list_products(args.page, args.per_page, args.category, args.sort)
    except PageOutOfRange as exc:
        print(f"catalog: {exc}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
