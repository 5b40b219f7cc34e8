"""The red team's job profile of a database change: pure logic on two real SQLite files, no sandbox.

An FTS5 index keeps its terms in shadow tables with BLOB keys; profiling them broke the whole red-team
stage (a BLOB key cannot go into a JSON plan) and they are SQLite's internals anyway: exploits act on the
virtual table itself.
"""

from __future__ import annotations

import json
import sqlite3

from groundtruth.redteam.profile import _table_changes


def _db(rows: list[tuple[int, str]]) -> bytes:
    conn = sqlite3.connect(":memory:")
    conn.executescript("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT);"
                       "CREATE VIRTUAL TABLE messages_fts USING fts5(body, message_id UNINDEXED);")
    conn.executemany("INSERT INTO messages VALUES (?, ?)", rows)
    conn.executemany("INSERT INTO messages_fts (body, message_id) VALUES (?, ?)", [(b, i) for i, b in rows])
    conn.commit()
    data = bytes(conn.serialize())
    conn.close()
    return data


def test_fts_shadow_tables_are_not_profiled_and_the_profile_serialises() -> None:
    rows = [(i, f"message number {i} about topic{i % 3} retaliation" if i < 4 else f"lunch plans {i}")
            for i in range(1, 9)]
    before, after = _db(rows), _db([r for r in rows if r[0] >= 4])
    changes, secrets = _table_changes("/srv/chat/chat.db", before, after)
    tables = {c.table for c in changes}
    assert tables == {"messages", "messages_fts"}, tables
    assert next(c for c in changes if c.table == "messages").deleted == [[1], [2], [3]]
    json.dumps([c.model_dump() for c in changes])  # what the stage writes into plan.json
    assert any("retaliation" in s for s in secrets)
