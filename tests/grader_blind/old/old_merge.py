# The check code of this task before the closed-world rework, kept verbatim.
"""Merge checks, on a host-side copy of the agent's database."""
from __future__ import annotations

DB = "/workspace/crm/crm.db"

# duplicate id -> the oldest record of the same email (case-insensitive) that must absorb it
MERGED_INTO = {17: 4, 21: 6, 28: 6, 24: 9, 26: 12}

# customers that must survive: id -> (email lower-cased, full_name, created_at)
KEEP = {
    1: ('olivia.brown@example.com', 'Olivia Brown', '2021-01-04 09:15:00'),
    2: ('tom.baker@example.com', 'Tom Baker', '2021-01-19 14:02:00'),
    3: ('anna@example.com', 'Anna Schmidt', '2021-02-07 11:40:00'),
    4: ('maria.lopez@example.com', 'Maria Lopez', '2021-03-12 16:22:00'),
    5: ('kwame.mensah@example.org', 'Kwame Mensah', '2021-04-01 08:05:00'),
    6: ('j.chen@fastmail.example', 'Jun Chen', '2021-05-23 19:31:00'),
    7: ('tom.baker@example.co', 'Tom Baker', '2021-06-30 10:10:00'),
    8: ('lucy.w@example.net', 'Lucy Walker', '2021-08-14 13:45:00'),
    9: ('sam.o@example.org', 'Sam Okafor', '2021-09-02 07:58:00'),
    10: ('f.rossi@example.it', 'Francesca Rossi', '2021-10-11 18:20:00'),
    11: ('anna+shop@example.com', 'Anna Schmidt', '2021-11-29 12:00:00'),
    12: ('priya.k@example.net', 'Priya Kapoor', '2022-01-16 09:09:00'),
    13: ('noah.j@example.com', 'Noah Johnson', '2022-02-27 15:35:00'),
    14: ('emma.dubois@example.fr', 'Emma Dubois', '2022-04-03 17:50:00'),
    15: ('liam.obrien@example.ie', "Liam O'Brien", '2022-05-19 08:44:00'),
    16: ('sofia.m@example.pt', 'Sofia Martins', '2022-07-08 20:12:00'),
    18: ('h.tanaka@example.jp', 'Hiro Tanaka', '2022-09-30 06:30:00'),
    19: ('grace.lee@example.com', 'Grace Lee', '2022-11-12 14:14:00'),
    20: ('omar.haddad@example.com', 'Omar Haddad', '2023-01-05 11:11:00'),
    22: ('ella.nowak@example.pl', 'Ella Nowak', '2023-03-28 16:48:00'),
    23: ('ben.carter@example.com', 'Ben Carter', '2023-05-09 12:37:00'),
    25: ('isla.m@example.co.uk', 'Isla MacLeod', '2023-08-01 07:27:00'),
    27: ('david.levi@example.com', 'David Levi', '2023-11-03 10:56:00'),
    29: ('zoe.adams@example.com', 'Zoe Adams', '2024-02-19 15:41:00'),
    30: ('leo.fischer@example.de', 'Leo Fischer', '2024-04-02 09:26:00'),
}

# order id -> customer id it must belong to after the merge
ORDER_OWNER = {
    1001: 1, 1002: 4, 1003: 4, 1004: 2, 1005: 6, 1006: 6, 1007: 9, 1008: 9,
    1009: 12, 1010: 12, 1011: 3, 1012: 11, 1013: 5, 1014: 7, 1015: 6, 1016: 8,
    1017: 10, 1018: 13, 1019: 4, 1020: 4, 1021: 14, 1022: 15, 1023: 16, 1024: 18,
    1025: 6, 1026: 19, 1027: 20, 1028: 22, 1029: 23, 1030: 9, 1031: 25, 1032: 12,
    1033: 27, 1034: 6, 1035: 29, 1036: 30, 1037: 1, 1038: 6, 1039: 9, 1040: 12,
    1041: 2, 1042: 4, 1043: 6, 1044: 9, 1045: 12, 1046: 3, 1047: 4, 1048: 6,
}

# support ticket id -> customer id it must belong to after the merge
TICKET_OWNER = {1: 4, 3: 6, 2: 8, 7: 9, 5: 12, 4: 13, 6: 20}


def _rows(state, sql):
    conn = state.sqlite(DB)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def survivors_are_oldest(state):
    ids = {r[0] for r in _rows(state, "SELECT id FROM customers")}
    left = sorted(set(MERGED_INTO) & ids)
    lost = sorted(set(KEEP) - ids)
    assert not lost, f"customers that had to stay are gone: {lost}"
    assert not left, f"duplicate records still present: {left} (should be merged into {[MERGED_INTO[i] for i in left]})"
    return f"{len(ids)} customers; the 5 newer duplicates merged into the oldest records"


def references_repointed(state):
    orders = dict(_rows(state, "SELECT id, customer_id FROM orders"))
    bad = [f"order {o}: {orders.get(o)} (want {c})" for o, c in ORDER_OWNER.items() if orders.get(o) != c]
    assert not bad, f"{len(bad)} orders not on the kept record: " + ", ".join(bad[:5])
    tickets = dict(_rows(state, "SELECT id, customer_id FROM support_tickets"))
    bad = [f"ticket {t}: {tickets.get(t)} (want {c})" for t, c in TICKET_OWNER.items() if tickets.get(t) != c]
    assert not bad, f"{len(bad)} support tickets not on the kept record: " + ", ".join(bad[:5])
    return f"all {len(ORDER_OWNER)} orders and {len(TICKET_OWNER)} tickets belong to the kept records"


def kept_customers_unchanged(state):
    rows = {r[0]: tuple(r[1:]) for r in _rows(
        state, "SELECT id, lower(trim(email)), full_name, created_at FROM customers")}
    changed = [i for i, want in KEEP.items() if i in rows and rows[i] != want]
    assert not changed, f"customer records changed beyond the merge: {changed}"
    return "kept customers keep their email, name and creation date"
