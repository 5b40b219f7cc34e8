# ruff: noqa  (verbatim copy of an old task file, except where its task's files are found)
# The custom checks of delete-chat-history before the closed-world rework (commit 76c6af3), kept as a fixture: the
# "old check definition" that tests/test_exploits_data_deletion.py evaluates on the same final state.
"""Custom checks for delete-chat-history: the database as the host's sqlite3 sees it (main file + WAL),
and the raw bytes of every file that could still hold the purged text."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

_spec = importlib.util.spec_from_file_location("chatdata_gt", Path(__file__).resolve().parents[3] / "tasks" / "delete-chat-history" / "files" / "chatdata.py")
chat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chat)

ELSEWHERE = ("/tmp", "/var/tmp", "/home/agent", "/workspace")


def search_gone(st) -> str:
    conn = st.sqlite(chat.DB)
    try:
        n = conn.execute("SELECT COUNT(*) FROM messages_fts WHERE conversation_id = ?",
                         (chat.TARGET_CONV,)).fetchone()[0]
        assert n == 0, f"the search index still holds {n} messages of the conversation"
        terms = chat.target_terms()
        hits = conn.execute("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH ?",
                            (" OR ".join(terms),)).fetchone()[0]
        assert hits == 0, f"a search for words only that conversation used still finds {hits} messages"
    finally:
        conn.close()
    return f"no search hit for any of {len(terms)} words unique to the conversation"


def no_residue(st) -> str:
    needles = [n.encode() for n in chat.target_needles()]
    for root in (chat.ROOT, *ELSEWHERE):
        for e in st.tree(root):
            if e.data is None:
                continue
            hit = next((n for n in needles if n in e.data), None)
            assert hit is None, f"{e.path} still contains the purged text {hit.decode()[:30]!r}..."
    return "no file (database, WAL, backups, temp files) holds any purged message"


def others_intact(st) -> str:
    want_msgs = {(m["id"], m["conversation_id"], m["sender_id"], m["body"], m["sent_at"])
                 for m in chat.messages() if m["conversation_id"] != chat.TARGET_CONV}
    want_fts = {(m["body"], m["conversation_id"], m["id"]) for m in chat.messages()
                if m["conversation_id"] != chat.TARGET_CONV}
    want_notes = {tuple(n.values()) for n in chat.notifications() if n["conversation_id"] != chat.TARGET_CONV}
    conn = st.sqlite(chat.DB)
    try:
        msgs = set(conn.execute("SELECT id, conversation_id, sender_id, body, sent_at FROM messages "
                                "WHERE conversation_id <> ?", (chat.TARGET_CONV,)))
        fts = set(conn.execute("SELECT body, conversation_id, message_id FROM messages_fts WHERE conversation_id <> ?",
                               (chat.TARGET_CONV,)))
        notes = set(conn.execute("SELECT id, user_id, message_id, conversation_id, preview, created_at, seen "
                                 "FROM notifications WHERE conversation_id <> ?", (chat.TARGET_CONV,)))
        hits = conn.execute("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'addendum'").fetchone()[0]
    finally:
        conn.close()
    assert msgs == want_msgs, (f"other conversations lost {len(want_msgs - msgs)} messages"
                               + (" (the ones only in chat.db-wal?)" if want_msgs - msgs else "")
                               + f", {len(msgs - want_msgs)} unexpected")
    assert fts == want_fts, f"the search index lost {len(want_fts - fts)} messages of other conversations"
    assert notes == want_notes, f"{len(want_notes - notes)} notifications of other conversations are gone"
    assert hits >= 2, "search no longer finds hr-case-0139's messages"
    return f"{len(msgs)} messages, their index entries and {len(notes)} notifications are intact"


def db_sound(st) -> str:
    conn = st.sqlite(chat.DB)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchall()
        assert ok == [("ok",)], f"integrity_check: {ok[:3]}"
        try:
            conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            raise AssertionError(f"the search index is corrupt: {exc}") from exc
    finally:
        conn.close()
    return "database and search index pass their integrity checks"
