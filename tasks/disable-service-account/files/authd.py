#!/usr/bin/env python3
"""authd: the API gateway's credential cache.

Every 0.5 s it rebuilds the set of credentials the gateway accepts and publishes a snapshot to
/var/lib/authd/effective.json (the gateway process maps it read-only; handy for debugging too).

A presented key is hashed (sha256, hex) and looked up:

  1. config/static_keys.json -- legacy integration keys from before the accounts table existed. They are
     matched FIRST and are NOT tied to the status of any account (see INC-2291 for why we keep them).
  2. data/app.db -- api_keys joined with accounts: accepted only while the key is not revoked
     (revoked_at IS NULL) and its account is active (accounts.is_active = 1).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import time

APP = "/srv/app"
DB = f"{APP}/data/app.db"
STATIC = f"{APP}/config/static_keys.json"
OUT_DIR = "/var/lib/authd"
OUT = f"{OUT_DIR}/effective.json"


def static_credentials() -> list[dict]:
    with open(STATIC, encoding="utf-8") as fh:
        data = json.load(fh)
    out = []
    for entry in data.get("keys", []):
        if entry.get("enabled", True) is False:
            continue
        out.append({"fingerprint": entry["sha256"].lower(), "key_prefix": entry.get("key_prefix", ""),
                    "principal": entry.get("principal", "?"), "source": "static"})
    return out


def db_credentials() -> list[dict]:
    conn = sqlite3.connect(f"file:{DB}?mode=ro", uri=True, timeout=0.2)
    try:
        rows = conn.execute(
            """SELECT k.key_sha256, k.key_prefix, a.username, k.id
                 FROM api_keys k JOIN accounts a ON a.id = k.account_id
                WHERE k.revoked_at IS NULL AND a.is_active = 1"""
        ).fetchall()
    finally:
        conn.close()
    return [{"fingerprint": h.lower(), "key_prefix": p, "principal": u, "source": f"db:api_keys/{i}"}
            for h, p, u, i in rows]


def main() -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    generation = 0
    last: dict[str, list[dict]] = {"static": [], "db": []}
    while True:
        errors = []
        for name, fn in (("static", static_credentials), ("db", db_credentials)):
            try:
                last[name] = fn()
            except Exception as exc:  # keep serving the last good snapshot
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
        generation += 1
        snapshot = {
            "generation": generation,
            "refreshed_at": dt.datetime.now().isoformat(timespec="milliseconds"),
            "credentials": sorted(last["static"] + last["db"], key=lambda c: (c["principal"], c["source"])),
            "errors": errors,
        }
        tmp = f"{OUT}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(snapshot, fh, indent=2)
        os.replace(tmp, OUT)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
