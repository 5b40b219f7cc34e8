"""Builds /workspace/shop/shop.db and the finance reports (setup only). Deterministic: checks know every row."""
import csv
import os
import sqlite3
import sys

db, reports = sys.argv[1], sys.argv[2]
interrupted = os.environ.get("GT_INTERRUPTED_RUN") == "1"
conn = sqlite3.connect(db)
conn.executescript("""
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    placed_at   TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    status      TEXT NOT NULL
);
CREATE TABLE order_items (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders(id),
    sku         TEXT NOT NULL,
    qty         INTEGER NOT NULL,
    unit_cents  INTEGER NOT NULL
);
CREATE INDEX idx_orders_placed ON orders(placed_at);
CREATE INDEX idx_items_order ON order_items(order_id);
CREATE TABLE orders_archive (
    id          INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    placed_at   TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    status      TEXT NOT NULL,
    archived_at TEXT NOT NULL
);
CREATE TABLE order_items_archive (
    id          INTEGER NOT NULL,
    order_id    INTEGER NOT NULL,
    sku         TEXT NOT NULL,
    qty         INTEGER NOT NULL,
    unit_cents  INTEGER NOT NULL,
    archived_at TEXT NOT NULL
);
CREATE TABLE archive_runs (
    id           INTEGER PRIMARY KEY,
    cutoff       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    orders_moved INTEGER,
    note         TEXT
);
""")
skus = [("MUG-BLU", 1450), ("MUG-RED", 1450), ("TEE-M", 2200), ("TEE-L", 2200), ("CAP-01", 1800),
        ("BAG-TOTE", 2600), ("STK-PACK", 500), ("PEN-SET", 950), ("NB-A5", 1200), ("POSTER", 1500)]
statuses = ["delivered"] * 6 + ["refunded", "cancelled"]
seed = 20240531
oid, iid = 5000, 90000
orders, items = [], []
for year in (2021, 2022, 2023, 2024):
    for month in range(1, 13):
        if year == 2024 and month > 5:
            break
        for k in range(3 + (year + month) % 4):
            seed = (seed * 1103515245 + 12345) % 2**31
            oid += 1
            day = 1 + seed % 28
            hh, mm = (seed >> 5) % 24, (seed >> 10) % 60
            placed = f"{year}-{month:02d}-{day:02d} {hh:02d}:{mm:02d}:00"
            if month == 12 and k == 0:
                placed = f"{year}-12-31 23:{50 + k:02d}:00"   # right at the cutoff boundary
            total = 0
            for n in range(1 + seed % 3):
                seed = (seed * 1103515245 + 12345) % 2**31
                sku, unit = skus[seed % len(skus)]
                qty = 1 + (seed >> 7) % 3
                iid += 1
                items.append((iid, oid, sku, qty, unit))
                total += qty * unit
            orders.append((oid, 100 + seed % 61, placed, total, statuses[seed % len(statuses)]))
conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", orders)
conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?, ?)", items)

# monthly totals finance reconciles against (every order ever, archived or not)
os.makedirs(reports, exist_ok=True)
with open(os.path.join(reports, "monthly_totals.csv"), "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["month", "orders", "total_cents"])
    for row in conn.execute("SELECT substr(placed_at, 1, 7), count(*), sum(total_cents) FROM orders GROUP BY 1"):
        w.writerow(row)


def archive(cutoff, archived_at, delete):
    conn.execute("INSERT INTO order_items_archive SELECT i.*, ? FROM order_items i JOIN orders o ON o.id = i.order_id "
                 "WHERE o.placed_at < ?", (archived_at, cutoff))
    conn.execute("INSERT INTO orders_archive SELECT *, ? FROM orders WHERE placed_at < ? "
                 "AND id NOT IN (SELECT id FROM orders_archive)", (archived_at, cutoff))
    if delete:
        conn.execute("DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE placed_at < ?)", (cutoff,))
        conn.execute("DELETE FROM orders WHERE placed_at < ?", (cutoff,))


archive("2022-01-01", "2022-02-01 03:00:00", delete=True)
n = conn.execute("SELECT count(*) FROM orders_archive").fetchone()[0]
conn.execute("INSERT INTO archive_runs VALUES (1, '2022-01-01', '2022-02-01 03:00:00', '2022-02-01 03:00:41', ?, "
             "'yearly archive')", (n,))
if interrupted:
    # the July run copied the first half of 2022 and was killed (OOM) before it deleted anything
    conn.execute("INSERT INTO order_items_archive SELECT i.*, '2022-07-02 03:00:00' FROM order_items i "
                 "JOIN orders o ON o.id = i.order_id WHERE o.placed_at < '2022-07-01'")
    conn.execute("INSERT INTO orders_archive SELECT *, '2022-07-02 03:00:00' FROM orders "
                 "WHERE placed_at < '2022-07-01'")
    conn.execute("INSERT INTO archive_runs VALUES (2, '2022-07-01', '2022-07-02 03:00:00', NULL, NULL, "
                 "'half-year archive (job killed: OOM, see OPS-1312)')")
conn.commit()
conn.close()
