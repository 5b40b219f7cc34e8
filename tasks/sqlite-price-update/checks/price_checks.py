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
        # to the cent means exactly the two-decimal value, stored as a REAL (not 14.2904, not the text '14.29')
        if type(price) is not float or abs(price - want) > 1e-9:
            wrong.append(f"{sku}: {price!r} (want {want:.2f})")
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
    """Exactly one new price_history row per Garden product, from its old price to its new one: a price set
    twice (a wrong value first) or a row written by hand for another product is not what finance audits."""
    base = state.baseline_sqlite(DB)
    try:
        before = dict(base.execute("SELECT id, price FROM products").fetchall())
        old_ids = {r[0] for r in base.execute("SELECT id FROM price_history")}
    finally:
        base.close()
    conn = state.sqlite(DB)
    try:
        rows = [r for r in conn.execute("SELECT id, product_id, old_price, new_price FROM price_history ORDER BY id")
                if r[0] not in old_ids]
    finally:
        conn.close()
    per: dict[int, list[tuple[float, float]]] = {}
    for _, pid, old, new in rows:
        per.setdefault(pid, []).append((old, new))
    problems = []
    for pid, (sku, want) in GARDEN.items():
        got = per.pop(pid, [])
        if len(got) != 1:
            problems.append(f"{sku}: {len(got)} new history rows")
        elif abs(got[0][0] - before[pid]) > 1e-9 or abs(got[0][1] - want) > 1e-9:
            problems.append(f"{sku}: recorded {got[0][0]} -> {got[0][1]} (want {before[pid]} -> {want:.2f})")
    if per:
        problems.append(f"history rows for products that are not Garden: {sorted(per)}")
    assert not problems, "price_history does not record one change per Garden product: " + ", ".join(problems[:6])
    return f"price_history records the change of all {len(GARDEN)} Garden products, once each"
