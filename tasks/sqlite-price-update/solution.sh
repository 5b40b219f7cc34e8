#!/bin/bash
# Reference: look at how the category is really spelled, then update every Garden row once, in one transaction.
set -euo pipefail
DB=/workspace/inventory/inventory.db
sqlite3 "$DB" "SELECT quote(category), count(*) FROM products GROUP BY category;"
sqlite3 "$DB" <<'SQL'
BEGIN;
UPDATE products SET price = round(price * 1.10, 2) WHERE lower(trim(category)) = 'garden';
COMMIT;
SQL
sqlite3 "$DB" "SELECT sku, category, price FROM products WHERE lower(trim(category)) = 'garden';"
