#!/usr/bin/env python3
"""shopctl: read-only support tool for the shop's customer data (used by the support team)."""
import configparser
import json
import os
import sqlite3
import sys

CONF = "/etc/shop/shop.conf"


def conf() -> configparser.ConfigParser:
    cp = configparser.ConfigParser()
    cp.read(CONF)
    return cp


def db():
    return sqlite3.connect(conf().get("database", "path"))


def cmd_customer(arg: str) -> None:
    col = "email" if "@" in arg else "customer_id"
    row = db().execute(f"SELECT * FROM customers WHERE {col} = ?", (arg,)).fetchone()
    print(row if row else "no such customer")


def cmd_profile(cid: str) -> None:
    cp = conf()
    if cp.has_option("cache", "profiles"):
        path = os.path.join(cp.get("cache", "profiles"), f"{int(cid)}.json")
        if os.path.exists(path):
            with open(path) as fh:
                print(fh.read())
            return
    cmd_customer(cid)


def cmd_search(term: str) -> None:
    cp = conf()
    if not cp.has_option("search", "index"):
        rows = db().execute("SELECT customer_id, first_name || ' ' || last_name, email, city FROM customers "
                            "WHERE lower(first_name || ' ' || last_name || ' ' || email) LIKE ?",
                            (f"%{term.lower()}%",)).fetchall()
        for r in rows:
            print(*r, sep="\t")
        return
    with open(cp.get("search", "index")) as fh:
        idx = json.load(fh)
    for cid in idx["terms"].get(term.lower(), []):
        doc = idx["docs"].get(str(cid), {})
        print(cid, doc.get("name", "?"), doc.get("email", "?"), doc.get("city", "?"), sep="\t")


def main() -> None:
    cmds = {"customer": cmd_customer, "profile": cmd_profile, "search": cmd_search}
    if len(sys.argv) != 3 or sys.argv[1] not in cmds:
        print("usage: shopctl {customer EMAIL|ID | profile ID | search TERM}", file=sys.stderr)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2])


if __name__ == "__main__":
    main()
