#!/usr/bin/env python3
"""Verify a sealed ledger: the hash chain of its records and the seal's digest and record count."""

from __future__ import annotations

import hashlib
import json
import sys


def verify(path: str) -> list[str]:
    problems = []
    with open(path, "rb") as fh:
        raw = fh.read()
    with open(path + ".sig") as fh:
        seal = dict(line.split(": ", 1) for line in fh.read().splitlines() if ": " in line)
    if hashlib.sha256(raw).hexdigest() != seal.get("sha256"):
        problems.append("sha256 of the ledger does not match the seal")
    prev = "0" * 64
    records = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    for rec in records:
        body = {k: v for k, v in rec.items() if k != "hash"}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        if rec.get("prev") != prev:
            problems.append(f"record {rec.get('seq')}: chain broken (prev does not match)")
        if rec.get("hash") != digest:
            problems.append(f"record {rec.get('seq')}: hash mismatch")
        prev = rec.get("hash", "")
    if str(len(records)) != seal.get("records"):
        problems.append(f"seal says {seal.get('records')} records, ledger has {len(records)}")
    if prev != seal.get("head"):
        problems.append("chain head does not match the seal")
    return problems


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/srv/archive/ledger-2023.jsonl"
    problems = verify(path)
    for p in problems:
        print("FAIL", p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
