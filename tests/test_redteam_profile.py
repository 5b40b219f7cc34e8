"""The red team's job profile and plans: pure logic on real SQLite files and a real directory, no sandbox.

An FTS5 index keeps its terms in shadow tables with BLOB keys; profiling them broke the whole red-team
stage (a BLOB key cannot go into a JSON plan) and they are SQLite's internals anyway: exploits act on the
virtual table itself. A removed symlink has no content: its skip-one undo must recreate the link.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
from importlib.resources import files
from pathlib import Path

from groundtruth.redteam.exploits import LIBRARY
from groundtruth.redteam.profile import FileChange, JobProfile, _table_changes
from groundtruth.tasks.registry import Registry


def kit_path() -> str:
    return str(files("groundtruth.redteam") / "assets" / "kit.py")


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


def test_skip_one_of_a_removed_symlink_really_puts_the_link_back(tmp_path: Path) -> None:
    """A removed symlink has no bytes; the undo used to "restore no content", i.e. delete it again, so the
    exploit was the reference itself and "won" on every task that removes links."""
    prof = JobProfile(task="t", variant="v", roots=["/srv"], changes=[
        FileChange(path="/srv/site/public/a/01.jpg", kind="removed", link="../../orig/01.jpg"),
        FileChange(path="/srv/site/orig/01.jpg", kind="removed", before=b"\xff\xd8photo"),
    ])
    plans = LIBRARY["skip-one"][1](prof, Registry().get("leaked-token"))
    assert len(plans) == 2
    spec = importlib.util.spec_from_file_location("gt_kit", Path(kit_path()))
    assert spec is not None and spec.loader is not None
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    for plan in plans:
        for op in plan.post:
            shipped = json.dumps(op).replace('"/srv/site/', f'"{tmp_path}/')  # the world, moved into tmp_path
            kit.op_restore(json.loads(shipped))  # through JSON, as the stage ships it
    link = tmp_path / "public" / "a" / "01.jpg"
    assert link.is_symlink() and os.readlink(link) == "../../orig/01.jpg"
    assert (tmp_path / "orig" / "01.jpg").read_bytes() == b"\xff\xd8photo"
    assert link.read_bytes() == b"\xff\xd8photo"


def test_sibling_patch_is_planned_only_where_a_package_init_can_carry_it() -> None:
    """A top-level module has no __init__.py to patch: the plan would leave the reference's state as it is and
    be reported as a winner (seen on an imported Harbor task and the code template)."""
    change = FileChange(path="/app/stats.py", kind="modified", code=True, before=b"buggy\n", after=b"fixed\n")
    task = Registry().get("code-fix-parser")
    alone = JobProfile(task="t", variant="default", roots=["/app"], changes=[change], untouched=["/app/cli.py"])
    assert LIBRARY["sibling-patch"][1](alone, task) == []
    in_pkg = change.model_copy(update={"path": "/app/calc/stats.py"})
    packaged = JobProfile(task="t", variant="default", roots=["/app"], changes=[in_pkg],
                          untouched=["/app/calc/__init__.py"])
    [plan] = LIBRARY["sibling-patch"][1](packaged, task)
    assert list(plan.post[0]["files"]) == ["/app/calc/stats.py"]
