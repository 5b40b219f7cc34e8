"""state.sqlite(path) is a host-side copy of the database (with its -wal/-journal): queries here never run
the container's sqlite3, and nothing the agent left behind can answer in its place."""

from __future__ import annotations

from groundtruth.checks.results import Unknown

ORDERS = {10: (1, 12.5), 11: (2, 40.0), 12: (2, 7.25), 13: (3, 3.0)}


def orders_kept(state):
    if not state.exists("/workspace/shop.db"):
        raise Unknown("/workspace/shop.db is gone: nothing to compare the orders with")
    db = state.sqlite("/workspace/shop.db")
    try:
        rows = {r[0]: (r[1], r[2]) for r in db.execute("select id, customer_id, total from orders")}
    finally:
        db.close()
    assert rows == ORDERS, f"orders changed: {rows}"
    return f"{len(rows)} orders kept"
