"""Builds /workspace/crm/crm.db (setup only). Deterministic: the checks know every row."""
import os
import sqlite3
import sys

db = sys.argv[1]
tickets_on_dups = os.environ.get("GT_TICKETS_ON_DUPS") == "1"
conn = sqlite3.connect(db)
conn.executescript("""
CREATE TABLE customers (
    id               INTEGER PRIMARY KEY,
    email            TEXT NOT NULL,
    full_name        TEXT NOT NULL,
    phone            TEXT,
    created_at       TEXT NOT NULL,
    marketing_opt_in INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    placed_at   TEXT NOT NULL,
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    status      TEXT NOT NULL
);
CREATE TABLE support_tickets (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    opened_at   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open'
);
CREATE INDEX idx_orders_customer ON orders(customer_id);
CREATE INDEX idx_tickets_customer ON support_tickets(customer_id);
""")
customers = [
    (1, "olivia.brown@example.com", "Olivia Brown", "+1 415 555 0101", "2021-01-04 09:15:00", 1),
    (2, "tom.baker@example.com", "Tom Baker", "+44 20 7946 0011", "2021-01-19 14:02:00", 0),
    (3, "anna@example.com", "Anna Schmidt", None, "2021-02-07 11:40:00", 1),
    (4, "Maria.Lopez@example.com", "Maria Lopez", "+34 91 555 0123", "2021-03-12 16:22:00", 1),
    (5, "kwame.mensah@example.org", "Kwame Mensah", "+233 30 555 0199", "2021-04-01 08:05:00", 0),
    (6, "j.chen@fastmail.example", "Jun Chen", "+1 206 555 0142", "2021-05-23 19:31:00", 1),
    (7, "tom.baker@example.co", "Tom Baker", "+1 646 555 0177", "2021-06-30 10:10:00", 0),
    (8, "lucy.w@example.net", "Lucy Walker", None, "2021-08-14 13:45:00", 0),
    (9, "sam.o@example.org", "Sam Okafor", "+234 1 555 0166", "2021-09-02 07:58:00", 1),
    (10, "f.rossi@example.it", "Francesca Rossi", "+39 06 555 0134", "2021-10-11 18:20:00", 1),
    (11, "anna+shop@example.com", "Anna Schmidt", None, "2021-11-29 12:00:00", 0),
    (12, "priya.k@example.net", "Priya Kapoor", "+91 22 5555 0188", "2022-01-16 09:09:00", 1),
    (13, "noah.j@example.com", "Noah Johnson", None, "2022-02-27 15:35:00", 0),
    (14, "emma.dubois@example.fr", "Emma Dubois", "+33 1 55 55 01 21", "2022-04-03 17:50:00", 1),
    (15, "liam.obrien@example.ie", "Liam O'Brien", "+353 1 555 0150", "2022-05-19 08:44:00", 0),
    (16, "sofia.m@example.pt", "Sofia Martins", None, "2022-07-08 20:12:00", 1),
    (17, "maria.lopez@example.com", "María López", "+34 91 555 0123", "2022-08-21 10:03:00", 0),
    (18, "h.tanaka@example.jp", "Hiro Tanaka", "+81 3 5555 0107", "2022-09-30 06:30:00", 0),
    (19, "grace.lee@example.com", "Grace Lee", None, "2022-11-12 14:14:00", 1),
    (20, "omar.haddad@example.com", "Omar Haddad", "+961 1 555 0102", "2023-01-05 11:11:00", 0),
    (21, "J.Chen@Fastmail.example", "Jun Chen", None, "2023-02-14 09:00:00", 0),
    (22, "ella.nowak@example.pl", "Ella Nowak", "+48 22 555 0193", "2023-03-28 16:48:00", 1),
    (23, "ben.carter@example.com", "Ben Carter", None, "2023-05-09 12:37:00", 0),
    (24, "Sam.O@example.org", "Sam Okafor", None, "2023-06-17 18:05:00", 0),
    (25, "isla.m@example.co.uk", "Isla MacLeod", "+44 131 555 0175", "2023-08-01 07:27:00", 1),
    (26, "PRIYA.K@example.net", "Priya Kapoor", "+91 22 5555 0188", "2023-09-22 21:19:00", 1),
    (27, "david.levi@example.com", "David Levi", None, "2023-11-03 10:56:00", 0),
    (28, "J.CHEN@FASTMAIL.EXAMPLE", "J. Chen", "+1 206 555 0142", "2024-01-08 13:03:00", 0),
    (29, "zoe.adams@example.com", "Zoe Adams", None, "2024-02-19 15:41:00", 1),
    (30, "leo.fischer@example.de", "Leo Fischer", "+49 30 555 0138", "2024-04-02 09:26:00", 0),
]
conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", customers)
statuses = ["delivered", "delivered", "delivered", "shipped", "refunded", "delivered", "cancelled"]
order_customers = [1, 4, 17, 2, 6, 21, 9, 24, 12, 26, 3, 11, 5, 7, 28, 8, 10, 13, 17, 4, 14, 15, 16, 18, 21,
                   19, 20, 22, 23, 24, 25, 26, 27, 28, 29, 30, 1, 6, 9, 12, 2, 17, 21, 24, 26, 3, 4, 28]
for i, cid in enumerate(order_customers, 1):
    day = 1 + (i * 7) % 28
    month = 1 + (i * 5) % 12
    year = 2022 + i % 3
    total = 1299 + (i * 7919) % 23000
    conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                 (1000 + i, cid, f"{year}-{month:02d}-{day:02d} {8 + i % 12:02d}:{(i * 13) % 60:02d}:00",
                  total, statuses[i % len(statuses)]))
tickets = [  # (id, customer in train, customer in the shifted world, opened, subject, status)
    (1, 4, 17, "2023-09-02 10:00:00", "Parcel arrived damaged", "closed"),
    (2, 8, 8, "2023-10-11 12:30:00", "Change delivery address", "closed"),
    (3, 6, 28, "2024-02-01 09:45:00", "Duplicate charge on card", "open"),
    (4, 13, 13, "2024-02-20 16:10:00", "Invoice copy needed", "closed"),
    (5, 12, 26, "2024-03-15 11:05:00", "Cannot log in after password reset", "open"),
    (6, 20, 20, "2024-04-04 08:20:00", "Return label request", "pending"),
    (7, 9, 9, "2024-04-22 14:55:00", "Missing item in order", "open"),
]
for tid, train_cid, shifted_cid, opened, subject, status in tickets:
    conn.execute("INSERT INTO support_tickets VALUES (?, ?, ?, ?, ?)",
                 (tid, shifted_cid if tickets_on_dups else train_cid, opened, subject, status))
conn.commit()
conn.close()
