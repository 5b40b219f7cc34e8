# The check code of this task before the closed-world rework, kept verbatim.
# ruff: noqa: E501
"""Archive checks, on a host-side copy of the agent's database."""
from __future__ import annotations

import hashlib

DB = "/workspace/shop/shop.db"
CUTOFF = "2023-01-01"

OLD_ORDERS = "c459fb3e94c8dff71203c92529e8d7a1e65a848a993ac9152ebba7474b9d6b54"        # digest of (id, customer_id, placed_at, total_cents, status), orders < cutoff
OLD_ITEMS = "05c14ec84c5e2c477b9d37724d8a6223b5037cc52e6b1e19edbedc7b4667a357"          # digest of (id, order_id, sku, qty, unit_cents) of their items
NEW_ORDERS = "ae3d6fa644b0eb2abe11c89925dd9425a1b12a0e732aa2878908799d4d4ceb87"        # digest of every live order >= cutoff, all columns
NEW_ITEMS = "f07af07b2ea2fe24dee2b027a8bc853773341f4c0ef0c226129389edc022c846"          # digest of every live item of those orders, all columns
N_OLD_ORDERS, N_OLD_ITEMS = 108, 202


def _digest(rows) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(tuple(row)).encode())
        h.update(b"\n")
    return h.hexdigest()


def archive_digests(conn) -> tuple[str, str, int, int]:
    o = conn.execute("SELECT id, customer_id, placed_at, total_cents, status FROM orders_archive "
                     "ORDER BY id, placed_at").fetchall()
    i = conn.execute("SELECT id, order_id, sku, qty, unit_cents FROM order_items_archive ORDER BY id").fetchall()
    return _digest(o), _digest(i), len(o), len(i)


def live_new_digests(conn) -> tuple[str, str]:
    o = conn.execute("SELECT * FROM orders WHERE placed_at >= ? ORDER BY id", (CUTOFF,)).fetchall()
    i = conn.execute("SELECT * FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE placed_at >= ?) "
                     "ORDER BY id", (CUTOFF,)).fetchall()
    return _digest(o), _digest(i)


def archived_exactly_once(state):
    conn = state.sqlite(DB)
    try:
        od, idg, n_o, n_i = archive_digests(conn)
        dup_o = conn.execute("SELECT count(*) - count(DISTINCT id) FROM orders_archive").fetchone()[0]
        dup_i = conn.execute("SELECT count(*) - count(DISTINCT id) FROM order_items_archive").fetchone()[0]
        late = conn.execute("SELECT count(*) FROM orders_archive WHERE placed_at >= ?", (CUTOFF,)).fetchone()[0]
    finally:
        conn.close()
    assert dup_o == 0 and dup_i == 0, f"archive has duplicates: {dup_o} extra orders, {dup_i} extra items"
    assert late == 0, f"{late} orders from {CUTOFF} or later were archived"
    assert n_o == N_OLD_ORDERS, f"orders_archive holds {n_o} orders, expected every one of the {N_OLD_ORDERS} old orders"
    assert od == OLD_ORDERS, "orders_archive rows differ from the original orders"
    assert n_i == N_OLD_ITEMS, f"order_items_archive holds {n_i} items, expected {N_OLD_ITEMS}"
    assert idg == OLD_ITEMS, "order_items_archive rows differ from the original items"
    return f"{n_o} orders and {n_i} items archived, each exactly once, unchanged"


def new_orders_untouched(state):
    conn = state.sqlite(DB)
    try:
        od, idg = live_new_digests(conn)
    finally:
        conn.close()
    assert od == NEW_ORDERS, f"live orders placed on or after {CUTOFF} changed (a row, a column, or missing)"
    assert idg == NEW_ITEMS, "items of live orders changed"
    return f"live orders from {CUTOFF} on and their items are byte-identical"
