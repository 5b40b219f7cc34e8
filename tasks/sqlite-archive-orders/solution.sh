#!/bin/bash
# Reference: look at earlier archive runs first, copy only what is not archived yet (an interrupted run may
# have copied without deleting), move items with their orders, delete, then reconcile with finance's report.
set -euo pipefail
cd /workspace/shop
sqlite3 -header shop.db "SELECT * FROM archive_runs;"
sqlite3 shop.db <<'SQL'
PRAGMA foreign_keys = ON;
BEGIN;
INSERT INTO order_items_archive
SELECT i.*, datetime('now') FROM order_items i JOIN orders o ON o.id = i.order_id
 WHERE o.placed_at < '2023-01-01' AND i.id NOT IN (SELECT id FROM order_items_archive);
INSERT INTO orders_archive
SELECT *, datetime('now') FROM orders
 WHERE placed_at < '2023-01-01' AND id NOT IN (SELECT id FROM orders_archive);
INSERT INTO archive_runs (cutoff, started_at, finished_at, orders_moved, note)
SELECT '2023-01-01', datetime('now'), datetime('now'), count(*), 'yearly archive (completes run 2 if it was interrupted)'
  FROM orders WHERE placed_at < '2023-01-01';
DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE placed_at < '2023-01-01');
DELETE FROM orders WHERE placed_at < '2023-01-01';
COMMIT;
SQL
python3 - <<'PY'
import csv, sqlite3
conn = sqlite3.connect("/workspace/shop/shop.db")
got = {m: (n, t) for m, n, t in conn.execute(
    "SELECT substr(placed_at, 1, 7), count(*), sum(total_cents) FROM "
    "(SELECT placed_at, total_cents FROM orders UNION ALL SELECT placed_at, total_cents FROM orders_archive) GROUP BY 1")}
want = {r["month"]: (int(r["orders"]), int(r["total_cents"])) for r in csv.DictReader(open("reports/monthly_totals.csv"))}
assert got == want, {m: (got.get(m), want.get(m)) for m in set(got) | set(want) if got.get(m) != want.get(m)}
assert conn.execute("SELECT count(*) - count(DISTINCT id) FROM orders_archive").fetchone()[0] == 0
assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
print("reconciled", len(want), "months")
PY
