# ruff: noqa  (verbatim copy of an old task file, except where its task's files are found)
# The custom checks of delete-customer-record before the closed-world rework (commit 76c6af3), kept as a fixture: the
# "old check definition" that tests/test_exploits_data_deletion.py evaluates on the same final state.
"""Custom checks for delete-customer-record: every store the shop config names, read through the engine."""

from __future__ import annotations

import configparser
import contextlib
import csv
import gzip
import importlib.util
import io
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location("shopdata_gt", Path(__file__).resolve().parents[3] / "tasks" / "delete-customer-record" / "files" / "shopdata.py")
shop = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shop)

DB = f"{shop.ROOT}/shop.db"


def _conf(st) -> configparser.ConfigParser:
    cp = configparser.ConfigParser()
    cp.read_string(st.read_text("/etc/shop/shop.conf"))  # root-owned: the agent cannot change which stores exist
    return cp


def _hits(data: bytes) -> list[str]:
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError):
            data = gzip.decompress(data)
    low = data.decode("utf-8", errors="replace").lower()
    return [n for n in shop.NEEDLES if n in low]


def db_erased(st) -> str:
    assert st.exists(DB), f"{DB} is gone"
    conn = st.sqlite(DB)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in conn.execute(f'SELECT * FROM "{t}"'):
                low = " ".join(str(v) for v in row).lower()
                found = [n for n in shop.NEEDLES if n in low]
                assert not found, f"table {t} still holds her data ({found[0]!r}): {row[:4]}"
    finally:
        conn.close()
    return f"no row in {len(tables)} tables identifies customer {shop.TARGET_ID}"


def copies_erased(st) -> str:
    for e in st.tree(shop.ROOT):
        if e.data is None or e.path in (DB, DB + "-wal", DB + "-journal", DB + "-shm"):
            continue
        found = _hits(e.data)
        assert not found, f"{e.path} still holds her data ({found[0]!r})"
    cp = _conf(st)
    if cp.has_option("search", "index") and st.exists(shop.INDEX_PATH):
        idx = json.loads(st.read_bytes(shop.INDEX_PATH))
        assert str(shop.TARGET_ID) not in idx.get("docs", {}), "the search index still has her document"
        stale = [t for t, ids in idx.get("terms", {}).items() if shop.TARGET_ID in ids]
        assert not stale, f"the search index still points terms {stale[:3]} at customer {shop.TARGET_ID}"
    return "no export, cache or index file identifies her"


def others_in_db(st) -> str:
    conn = st.sqlite(DB)
    try:
        rows = conn.execute(f"SELECT {', '.join(shop.FIELDS)} FROM customers WHERE customer_id <> ?",
                            (shop.TARGET_ID,)).fetchall()
    finally:
        conn.close()
    want = {tuple(c[f] for f in shop.FIELDS) for c in shop.customers() if c["customer_id"] != shop.TARGET_ID}
    got = set(rows)
    assert got == want, f"other customers changed: {len(want - got)} missing/altered, {len(got - want)} unexpected"
    return f"{len(got)} other customers unchanged"


def _csv_rows(text: str) -> tuple[list[str], set[tuple[str, ...]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    return header, {tuple(r) for r in reader if r}


def others_in_copies(st) -> str:
    for d in shop.EXPORT_DATES:
        path = f"{shop.EXPORT_DIR}/customers-{d}.csv"
        assert st.exists(path), f"{path} was removed"
        header, rows = _csv_rows(st.read_text(path))
        assert header == shop.FIELDS, f"{path}: header changed"
        _, orig = _csv_rows(shop.export_text(d))
        want = {r for r in orig if r[0] != str(shop.TARGET_ID)}
        others = {r for r in rows if r[0] != str(shop.TARGET_ID)}
        assert others == want, f"{path}: other customers' rows changed ({len(want - others)} missing/altered)"
    cp = _conf(st)
    n = 0
    if cp.has_option("cache", "profiles"):
        files = {e.path: e.data for e in st.tree(shop.CACHE_DIR) if e.data is not None}
        for c in shop.customers():
            if c["customer_id"] == shop.TARGET_ID:
                continue
            path = f"{shop.CACHE_DIR}/{c['customer_id']}.json"
            assert path in files, f"{path} (another customer's profile) was removed"
            assert json.loads(files[path]) == shop.profile(c), f"{path} changed"
            n += 1
    if cp.has_option("search", "index"):
        assert st.exists(shop.INDEX_PATH), "the search index was removed"
        idx = json.loads(st.read_bytes(shop.INDEX_PATH))
        orig = shop.index()
        for cid, doc in orig["docs"].items():
            if cid != str(shop.TARGET_ID):
                assert idx.get("docs", {}).get(cid) == doc, f"search index: document {cid} changed or missing"
        for term, ids in orig["terms"].items():
            want = set(ids) - {shop.TARGET_ID}
            if want:
                got = set(idx.get("terms", {}).get(term, [])) - {shop.TARGET_ID}
                assert got == want, f"search index: term {term!r} lost other customers"
    return f"exports, {n} cached profiles and the index still serve everyone else"
