#!/bin/bash
# Partial: copies the old orders and items into the archive (without duplicates) but never deletes them.
set -euo pipefail
sqlite3 /workspace/shop/shop.db <<'SQL'
BEGIN;
INSERT INTO order_items_archive
SELECT i.*, datetime('now') FROM order_items i JOIN orders o ON o.id = i.order_id
 WHERE o.placed_at < '2023-01-01' AND i.id NOT IN (SELECT id FROM order_items_archive);
INSERT INTO orders_archive
SELECT *, datetime('now') FROM orders
 WHERE placed_at < '2023-01-01' AND id NOT IN (SELECT id FROM orders_archive);
COMMIT;
SQL
