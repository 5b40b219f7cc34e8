#!/usr/bin/env python3
"""chatctl: admin tool for the chatd database (works while chatd is stopped)."""
import configparser
import sqlite3
import sys
from datetime import UTC, datetime

cp = configparser.ConfigParser()
cp.read("/srv/chat/config/chatd.ini")
DB = cp.get("storage", "database", fallback="/srv/chat/chat.db")


def conn() -> sqlite3.Connection:
    return sqlite3.connect(DB)


def ts(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def cmd_list() -> None:
    q = ("SELECT c.id, c.title, COUNT(m.id) FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id "
         "GROUP BY c.id ORDER BY c.id")
    for cid, title, n in conn().execute(q):
        print(f"{cid:>3}  {title:<20} {n} messages")


def cmd_show(title: str) -> None:
    q = ("SELECT m.sent_at, u.handle, m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id "
         "JOIN users u ON u.id = m.sender_id WHERE c.title = ? ORDER BY m.sent_at")
    for t, who, body in conn().execute(q, (title,)):
        print(f"[{ts(t)}] {who}: {body}")


def cmd_search(query: str) -> None:
    q = ("SELECT f.message_id, c.title, snippet(messages_fts, 0, '[', ']', '...', 12) FROM messages_fts f "
         "JOIN conversations c ON c.id = f.conversation_id WHERE messages_fts MATCH ? ORDER BY rank LIMIT 20")
    for mid, title, snip in conn().execute(q, (query,)):
        print(f"#{mid} in {title}: {snip}")


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        cmd_list()
    elif len(sys.argv) == 3 and sys.argv[1] == "show":
        cmd_show(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "search":
        cmd_search(sys.argv[2])
    else:
        print("usage: chatctl list | show TITLE | search QUERY", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
