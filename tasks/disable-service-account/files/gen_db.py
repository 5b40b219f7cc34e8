"""Builds /srv/app/data/app.db (run once at setup, as the ops account)."""
import hashlib
import sqlite3
import sys

db = sys.argv[1]
conn = sqlite3.connect(db)
conn.executescript("""
PRAGMA foreign_keys = ON;
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('human', 'service')),
    email           TEXT NOT NULL,
    owner_team      TEXT,
    is_active       INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    disabled_at     TEXT,
    disabled_reason TEXT
);
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    key_prefix  TEXT NOT NULL,
    key_sha256  TEXT NOT NULL UNIQUE,
    label       TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    account_id  INTEGER REFERENCES accounts(id),
    action      TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX api_keys_account ON api_keys(account_id);
""")
accounts = [
    (1, "alice.nguyen", "human", "alice.nguyen@northwind.example", "platform", 1, "2021-02-01 09:12:00"),
    (2, "bob.martinez", "human", "bob.martinez@northwind.example", "finance", 1, "2021-06-14 10:03:00"),
    (3, "svc-billing", "service", "billing-bot@northwind.example", "finance", 1, "2021-07-01 00:00:00"),
    (4, "svc-reporting", "service", "reporting-bot@northwind.example", "analytics", 1, "2021-09-20 00:00:00"),
    (5, "svc-reporting-etl", "service", "etl-bot@northwind.example", "data-platform", 1, "2022-03-02 00:00:00"),
    (6, "carol.diaz", "human", "carol.diaz@northwind.example", "analytics", 0, "2021-11-08 08:45:00"),
    (7, "svc-backup", "service", "backup-bot@northwind.example", "platform", 1, "2022-01-10 00:00:00"),
    (8, "svc-search-indexer", "service", "search-bot@northwind.example", "platform", 1, "2022-08-30 00:00:00"),
    (9, "dan.kowalski", "human", "dan.kowalski@northwind.example", "support", 1, "2023-04-17 13:30:00"),
]
conn.executemany("INSERT INTO accounts (id, username, kind, email, owner_team, is_active, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", accounts)
conn.execute("UPDATE accounts SET disabled_at = '2024-02-29 17:00:00', disabled_reason = 'left the company' "
             "WHERE id = 6")
keys = [
    (1, 1, "nwk_live_alice_7Hq2mP9xVd3LkR", "laptop cli", "2023-01-05 10:00:00", None),
    (2, 3, "nwk_live_bill_Zt4nW8cQy1sFgA", "billing worker", "2023-03-01 00:00:00", None),
    (3, 4, "nwk_live_rept_Pq7vL2kXa9dMzE", "reporting (rotated 2023)", "2022-01-15 00:00:00", "2023-06-30 12:00:00"),
    (4, 4, "nwk_live_rept_Gm3sY6hTb8uNcW", "reporting dashboards", "2023-06-30 12:00:00", None),
    (5, 5, "nwk_live_retl_Xe5rJ1pVw4oKqB", "etl loader", "2022-03-02 00:00:00", None),
    (6, 6, "nwk_live_carl_Hd8fN3zQm6yTvS", "notebook", "2022-02-01 00:00:00", None),
    (7, 7, "nwk_live_bkup_Lu2wC7gRs5iPjF", "nightly backup", "2022-01-10 00:00:00", None),
    (8, 8, "nwk_live_srch_Ka9bV4tMx2eHnD", "indexer", "2022-08-30 00:00:00", None),
    (9, 9, "nwk_live_dank_Rw6cS1jLp8gYuZ", "support tooling", "2023-04-18 09:00:00", None),
]
for kid, acc, key, label, created, revoked in keys:
    conn.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (kid, acc, key[:14], hashlib.sha256(key.encode()).hexdigest(), label, created, revoked))
audit = [
    ("2023-06-30 12:00:00", "alice.nguyen", 4, "key.rotate", "api_keys/3 -> api_keys/4"),
    ("2024-02-29 17:00:00", "alice.nguyen", 6, "account.disable", "left the company"),
    ("2024-04-02 08:15:00", "bob.martinez", 3, "key.view", "api_keys/2"),
    ("2024-05-20 11:41:00", "alice.nguyen", 8, "account.update", "owner_team=platform"),
]
conn.executemany("INSERT INTO audit_log (at, actor, account_id, action, detail) VALUES (?, ?, ?, ?, ?)", audit)
conn.commit()
conn.close()
