#!/bin/bash
# Partial: moves orders and tickets onto the oldest record but never removes the duplicate customers.
set -euo pipefail
sqlite3 /workspace/crm/crm.db <<'SQL'
BEGIN;
CREATE TEMP TABLE m AS
  SELECT c.id AS dup, (SELECT min(k.id) FROM customers k WHERE lower(k.email) = lower(c.email)) AS keep
    FROM customers c;
DELETE FROM m WHERE dup = keep;
UPDATE orders SET customer_id = (SELECT keep FROM m WHERE dup = orders.customer_id)
 WHERE customer_id IN (SELECT dup FROM m);
UPDATE support_tickets SET customer_id = (SELECT keep FROM m WHERE dup = support_tickets.customer_id)
 WHERE customer_id IN (SELECT dup FROM m);
COMMIT;
SQL
