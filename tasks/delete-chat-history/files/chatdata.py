"""Deterministic chat server data. Run in the sandbox it builds /srv/chat/chat.db in WAL mode and leaves
the newest messages only in the write-ahead log (as a stopped server would); imported by the checks it
gives the original rows."""

from __future__ import annotations

import os
import random
import re
import sqlite3

ROOT = "/srv/chat"
DB = f"{ROOT}/chat.db"
TARGET_CONV = 5
USERS = [(1, "d.whitfield", "Dana Whitfield"), (2, "l.okafor", "Lanre Okafor"), (3, "m.brandt", "Mia Brandt"),
         (4, "s.iyer", "Sunil Iyer"), (5, "k.novak", "Katja Novak"), (6, "r.alvarez", "Rosa Alvarez"),
         (7, "t.chen", "Tao Chen"), (8, "hr.bot", "HR Bot")]
CONVERSATIONS = [(1, "release-train", [3, 4, 7]), (2, "oncall", [3, 4, 5, 7]), (3, "lunch", [1, 2, 3, 4, 5, 6, 7]),
                 (4, "design-review", [2, 3, 6]), (5, "hr-case-0193", [1, 2, 8]), (6, "infra-migration", [4, 5, 7]),
                 (7, "random", [1, 2, 3, 4, 5, 6, 7]), (8, "hr-case-0139", [1, 6, 8])]

TARGET_MESSAGES = [
    (8, "Case hr-case-0193 opened for Lanre Okafor. Confidential: visible to HR and the case owner only."),
    (2, "Thanks Dana. As I said on the phone, the comments from my team lead in the Tuesday standups have "
        "been escalating since March."),
    (1, "Understood. Could you list the dates you remember and who else was present in those standups?"),
    (2, "March 12, March 26 and April 9. Mia was there each time; Tao joined on the 26th."),
    (2, "On April 9 he said in front of everyone that I only got the promotion because of the diversity quota."),
    (1, "I'm sorry you had to hear that. I've noted it verbatim. Do you have anything in writing?"),
    (2, "There is a direct message from April 10 where he repeats it. I took screenshots, attaching them now."),
    (8, "Attachment stored in the case file: screenshots-0410.zip (3 files)."),
    (1, "Received. Next step is a formal interview with your team lead; you will not be identified as the "
        "source beyond what is necessary."),
    (2, "I'm worried about retaliation during the performance review cycle in June."),
    (1, "Noted as a retaliation concern. Your review will be co-signed by a second manager this cycle."),
    (2, "My GP signed me off for two weeks of stress leave starting May 2, I will send the certificate."),
    (1, "Sick note received; the medical details stay in the case file and are not shared with your manager."),
    (8, "Interview with the team lead scheduled for May 21, 10:00, room Birch."),
    (1, "Outcome of the interview: he disputes the April 9 remark; two witnesses confirm it. Written warning issued."),
    (2, "Thank you. I would like the case closed and this conversation removed once the warning is on file."),
    (1, "The warning is on file. Per the settlement I'll ask IT to purge this conversation completely."),
    (8, "Case hr-case-0193 closed. Retention: purge chat transcript on request of the employee."),
]

_TOPICS = {
    "release-train": ["cutting the 4.{n} release branch at 15:00, last call for merges",
                      "the flaky checkout test failed again on build {n}, rerunning",
                      "changelog for 4.{n} is up for review, please add your items",
                      "staging deploy of 4.{n} is green, promoting to canary"],
    "oncall": ["paged for disk usage on db-{n}, cleaned old WAL archives, back to 61 percent",
               "handing over the pager, two open incidents, see the runbook notes",
               "latency spike on the search API at 03:{n:02d}, resolved by restarting the indexer",
               "ack, I'll take the Saturday shift if someone swaps the {n}th"],
    "lunch": ["ramen place on Mill street at 12:30 today? {n} of us so far",
              "the thai curry was great, going back on Friday", "anyone up for the food trucks, it's sunny",
              "I'm bringing cake for the team, {n} slices left in the kitchen"],
    "design-review": ["new onboarding flow mockups v{n} are in the shared drive",
                      "the contrast on the secondary buttons fails accessibility checks",
                      "let's test both empty-state variants with {n} users next week",
                      "the icon set looks inconsistent at small sizes, I'll redo {n} of them"],
    "infra-migration": ["moved {n} more services to the new cluster, no errors so far",
                        "DNS cutover for the internal APIs is planned for Thursday night",
                        "the terraform plan shows {n} resources to change, reviewing now",
                        "old VMs will be decommissioned after a two-week soak"],
    "random": ["did anyone see the eclipse photos from the rooftop", "the office plants survived the holidays",
               "book club pick for this month is on the wiki, {n} votes", "someone left an umbrella in room Oak"],
    "hr-case-0139": ["Case hr-case-0139 opened: request to change working hours to a four-day week",
                     "Rosa, your request was approved by your manager, effective next month",
                     "Contract addendum {n} is ready for your signature in the HR portal",
                     "Case hr-case-0139 closed, the addendum is signed"],
}


def messages() -> list[dict]:
    """All messages in id order, interleaved across conversations like a real server."""
    rng = random.Random(193)
    pending = {cid: [] for cid, _, _ in CONVERSATIONS}
    for cid, title, members in CONVERSATIONS:
        if cid == TARGET_CONV:
            pending[cid] = list(TARGET_MESSAGES)
            continue
        tmpl = _TOPICS[title]
        count = 4 if title.startswith("hr-case") else rng.randrange(16, 26)
        for i in range(count):
            text = tmpl[i] if title.startswith("hr-case") else rng.choice(tmpl).format(n=rng.randrange(2, 40))
            sender = 8 if title.startswith("hr-case") and i in (0, 3) else rng.choice([m for m in members if m != 8])
            pending[cid].append((sender, text))
    out, t = [], 1714550400  # 2024-05-01T08:00:00Z
    while any(pending.values()):
        live = [c for c, msgs in pending.items() if msgs]
        cid = rng.choices(live, weights=[len(pending[c]) for c in live])[0]
        sender, body = pending[cid].pop(0)
        t += rng.randrange(60, 5400)
        out.append({"id": len(out) + 1, "conversation_id": cid, "sender_id": sender, "body": body, "sent_at": t})
    return out


def members() -> dict[int, list[int]]:
    return {cid: m for cid, _, m in CONVERSATIONS}


def notifications() -> list[dict]:
    out = []
    for m in messages():
        for uid in members()[m["conversation_id"]]:
            if uid != m["sender_id"] and uid != 8:
                out.append({"id": len(out) + 1, "user_id": uid, "message_id": m["id"],
                            "conversation_id": m["conversation_id"], "preview": m["body"][:60],
                            "created_at": m["sent_at"], "seen": 1})
    return out


def target_needles() -> list[str]:
    """Text that only the purged conversation contained, as stored in rows and previews."""
    return [body[:40] for _, body in TARGET_MESSAGES]


def target_terms() -> list[str]:
    words = lambda s: set(re.findall(r"[a-z0-9]+", s.lower()))  # noqa: E731
    other = set().union(*(words(m["body"]) for m in messages() if m["conversation_id"] != TARGET_CONV))
    mine = set().union(*(words(b) for _, b in TARGET_MESSAGES))
    return sorted(w for w in mine - other if len(w) > 4 and not w.isdigit())


SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, handle TEXT UNIQUE NOT NULL, display_name TEXT NOT NULL);
CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE members (conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    user_id INTEGER NOT NULL REFERENCES users(id), PRIMARY KEY (conversation_id, user_id));
CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    sender_id INTEGER NOT NULL REFERENCES users(id), body TEXT NOT NULL, sent_at INTEGER NOT NULL);
CREATE INDEX messages_conv ON messages(conversation_id, sent_at);
CREATE VIRTUAL TABLE messages_fts USING fts5(body, conversation_id UNINDEXED, message_id UNINDEXED,
    tokenize = 'unicode61');
CREATE TABLE notifications (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, message_id INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL, preview TEXT NOT NULL, created_at INTEGER NOT NULL, seen INTEGER NOT NULL);
"""


def _insert(db: sqlite3.Connection, msgs: list[dict]) -> None:
    ids = {m["id"] for m in msgs}
    db.executemany("INSERT INTO messages VALUES (:id, :conversation_id, :sender_id, :body, :sent_at)", msgs)
    db.executemany("INSERT INTO messages_fts (body, conversation_id, message_id) VALUES (?, ?, ?)",
                   [(m["body"], m["conversation_id"], m["id"]) for m in msgs])
    db.executemany("INSERT INTO notifications VALUES (:id, :user_id, :message_id, :conversation_id, :preview, "
                   ":created_at, :seen)", [n for n in notifications() if n["message_id"] in ids])


def main() -> None:
    os.makedirs(ROOT, exist_ok=True)
    msgs = messages()
    cut = int(len(msgs) * 0.8)
    db = sqlite3.connect(DB, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.executescript(SCHEMA)
    db.execute("BEGIN")
    db.executemany("INSERT INTO users VALUES (?, ?, ?)", USERS)
    db.executemany("INSERT INTO conversations VALUES (?, ?, 1714500000)", [(c, t) for c, t, _ in CONVERSATIONS])
    db.executemany("INSERT INTO members VALUES (?, ?)", [(c, u) for c, _, ms in CONVERSATIONS for u in ms])
    _insert(db, msgs[:cut])
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # the newest messages were committed but never checkpointed: they live only in chat.db-wal
    for m in msgs[cut:]:
        db.execute("BEGIN")
        _insert(db, [m])
        db.execute("COMMIT")
    os._exit(0)  # the server was stopped without a clean shutdown: -wal and -shm stay behind


if __name__ == "__main__":
    main()
