#!/bin/bash
# Reference: map every duplicate to the lowest id of its case-insensitive email, re-point EVERY table that
# references customers (found through the foreign keys, not assumed), delete the extras, verify.
set -euo pipefail
python3 - <<'PY'
import sqlite3
conn = sqlite3.connect("/workspace/crm/crm.db")
conn.execute("PRAGMA foreign_keys = ON")
rows = conn.execute("""
    SELECT c.id, (SELECT min(k.id) FROM customers k WHERE lower(trim(k.email)) = lower(trim(c.email)))
      FROM customers c""").fetchall()
merge = {dup: keep for dup, keep in rows if dup != keep}
print("merging", merge)
refs = []
for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
    for fk in conn.execute(f"PRAGMA foreign_key_list('{table}')"):
        if fk[2] == "customers":
            refs.append((table, fk[3]))
print("tables referencing customers:", refs)
with conn:
    for dup, keep in merge.items():
        for table, col in refs:
            conn.execute(f'UPDATE "{table}" SET "{col}" = ? WHERE "{col}" = ?', (keep, dup))
        conn.execute("DELETE FROM customers WHERE id = ?", (dup,))
assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
print(conn.execute("SELECT count(*), sum(total_cents) FROM orders").fetchone())
PY
