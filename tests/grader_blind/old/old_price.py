# The check code of this task before the closed-world rework, kept verbatim.
# ruff: noqa: E501
"""Price-update checks, on a host-side copy of the agent's database (never the container's sqlite3)."""
from __future__ import annotations

import hashlib

DB = "/workspace/inventory/inventory.db"

# Garden products: id -> (sku, price after +10 % rounded half-up to the cent)
GARDEN = {
    1: ("GDN-1001", 14.29), 4: ("GDN-1002", 26.94), 7: ("GDN-1003", 49.39), 9: ("GDN-1004", 30.36),
    11: ("GDN-1005", 141.90), 13: ("GDN-1006", 82.49), 15: ("GDN-1007", 10.99), 17: ("GDN-1008", 8.24),
    19: ("GDN-1009", 21.89), 21: ("GDN-1010", 34.32), 23: ("GDN-1011", 107.80), 25: ("GDN-1012", 20.34),
}
OTHER_ROWS_SHA256 = "73fd446ad23a5357cba78e250dff2450cdc7d6b431a2272c1072f4a83c50b5cd"
GARDEN_FIXED_SHA256 = "b45a95451bca79fff33c8bea6bb60b739f8850ce4cc644edd5697d8551f3813a"
SCHEMA_SHA256 = "5f72fc4b0a47b92700f3f1a1af561fbdb3ebadeb4898d4378372ed45c2fada04"


def _digest(rows) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(tuple(row)).encode())
        h.update(b"\n")
    return h.hexdigest()


def other_rows_digest(conn) -> str:
    ids = ",".join(str(i) for i in GARDEN)
    return _digest(conn.execute(f"SELECT * FROM products WHERE id NOT IN ({ids}) ORDER BY id"))


def garden_fixed_digest(conn) -> str:
    ids = ",".join(str(i) for i in GARDEN)
    return _digest(conn.execute(f"SELECT id, sku, name, supplier_id, stock FROM products WHERE id IN ({ids}) ORDER BY id"))


def schema_digest(conn) -> str:
    return _digest(conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"))


def garden_prices_raised(state):
    conn = state.sqlite(DB)
    try:
        got = dict(conn.execute("SELECT id, price FROM products").fetchall())
    finally:
        conn.close()
    wrong = []
    for pid, (sku, want) in GARDEN.items():
        price = got.get(pid)
        if price is None or abs(price - want) > 0.0005:
            wrong.append(f"{sku}: {price} (want {want:.2f})")
    assert not wrong, f"{len(wrong)}/{len(GARDEN)} Garden prices wrong: " + ", ".join(wrong[:6])
    return f"all {len(GARDEN)} Garden prices are +10 % rounded to the cent"


def other_rows_identical(state):
    conn = state.sqlite(DB)
    try:
        other, fixed = other_rows_digest(conn), garden_fixed_digest(conn)
    finally:
        conn.close()
    assert other == OTHER_ROWS_SHA256, "a product outside the Garden category changed (any column)"
    assert fixed == GARDEN_FIXED_SHA256, "a Garden product changed beyond its price (sku, name, supplier or stock)"
    return "16 other products byte-identical; Garden rows changed only in price"


def schema_unchanged(state):
    conn = state.sqlite(DB)
    try:
        d = schema_digest(conn)
    finally:
        conn.close()
    assert d == SCHEMA_SHA256, "tables, indexes, views or triggers differ from the original schema"


def history_recorded(state):
    conn = state.sqlite(DB)
    try:
        rows = conn.execute("SELECT product_id, new_price FROM price_history WHERE id > 6 ORDER BY id").fetchall()
    finally:
        conn.close()
    last = {}
    for pid, new in rows:
        last[pid] = new
    missing = [sku for pid, (sku, want) in GARDEN.items() if pid not in last or abs(last[pid] - want) > 0.0005]
    assert not missing, f"price_history has no record of the new price for {missing}"
    return f"price_history records the change of all {len(GARDEN)} Garden products"
