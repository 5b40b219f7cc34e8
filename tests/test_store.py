"""The store against bad files: directories, foreign databases, read-only and old schemas. Real SQLite files."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundtruth.errors import StoreError
from groundtruth.store import SCHEMA_VERSION, EpisodeKey, Store

# The schema as groundtruth 0.1 wrote it (before agent_stderr and groundtruth_meta existed).
V1_SCHEMA = """
create table runs (id text primary key, started float, finished float, status text, config text, version text);
create table episodes (id text primary key, run_id text references runs(id), task text, family text, variant text,
  agent text, seed integer, attempt integer, status text, classification text, verified text, tampered integer,
  claimed_success integer, confidence float, judged_success integer, reward float, reward_kind text, steps integer,
  started float, finished float, seconds float, error text, monitored integer, distribution text, simulator text,
  infeasible integer, verdict text);
create table steps (episode_id text, idx integer, tool text, action text, observation text, exit_code integer,
  error text, seconds float, ts float, primary key (episode_id, idx));
create table checks (episode_id text, check_id text, kind text, type text, status text, reason text, seconds float,
  canary integer, primary key (episode_id, check_id));
create table claims (episode_id text primary key, success integer, confidence float, summary text, objectives text);
create table judgments (episode_id text primary key, simulator text, success integer, objectives text, reason text);
create table goal_states (episode_id text, turn integer, state text, primary key (episode_id, turn));
create table integrity (episode_id text, path text, kind text, evidence text);
create table attempts (episode_id text, attempt integer, error text, ts float);
insert into runs values ('run-old', 1.0, 2.0, 'done', '{"kind": "run", "tasks": ["t"], "agents": ["nop"]}', '0.1');
insert into episodes (id, run_id, task, family, variant, agent, seed, attempt, status, classification, verified,
  tampered, claimed_success, confidence, steps) values
  ('run-old/t/default/nop/0', 'run-old', 't', 'f', 'default', 'nop', 0, 1, 'done', 'honest_failure', 'failure', 0,
   0, 0.05, 1);
"""


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "groundtruth", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def _one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


def test_a_directory_is_refused_with_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory: give --db a file path"):
        Store(tmp_path)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("my notes, not a database\n")
    before = _digest(junk)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        Store(junk)
    with pytest.raises(StoreError, match="is not a SQLite database"):
        Store.open_readonly(junk)
    assert _digest(junk) == before


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"folder of .* does not exist"):
        Store(tmp_path / "no" / "such" / "gt.db")


def _foreign(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript("create table episodes (title text, aired date); insert into episodes values ('pilot', '2001');"
                      "create table people (name text);")
    con.close()


def test_someone_elses_database_is_never_written(tmp_path: Path) -> None:
    other = tmp_path / "tv.db"
    _foreign(other)
    before = _digest(other)
    with pytest.raises(StoreError, match=r"is not a groundtruth database .*it holds: episodes, people"):
        Store(other)
    with pytest.raises(StoreError, match="is not a groundtruth database"):
        Store.open_readonly(other)
    assert _digest(other) == before
    con = sqlite3.connect(other)
    assert con.execute("pragma journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    assert [r[0] for r in con.execute("select name from sqlite_master where type='table' order by name")] == \
        ["episodes", "people"]


def test_audit_and_serve_refuse_foreign_files_in_one_line_and_change_nothing(tmp_path: Path) -> None:
    other = tmp_path / "tv.db"
    _foreign(other)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    text = tmp_path / "text.db"
    text.write_text("hello")
    before = {p: _digest(p) for p in (other, empty, text)}
    for cmd in (["audit", "--db"], ["serve", "--dry-run", "--db"]):
        assert "not a groundtruth database" in _one_error_line(_cli(*cmd, str(other), cwd=tmp_path))
        assert "no groundtruth runs" in _one_error_line(_cli(*cmd, str(empty), cwd=tmp_path))
        assert "not a SQLite database" in _one_error_line(_cli(*cmd, str(text), cwd=tmp_path))
        assert "is a directory" in _one_error_line(_cli(*cmd, str(tmp_path), cwd=tmp_path)) or \
            "no database" in _one_error_line(_cli(*cmd, str(tmp_path), cwd=tmp_path))
    assert {p: _digest(p) for p in before} == before
    assert not list(tmp_path.glob("*-wal")) and not list(tmp_path.glob("*-shm"))


def test_an_old_database_is_read_as_it_is_and_migrated_additively_when_written(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.executescript(V1_SCHEMA)
    con.close()
    before = _digest(old)
    reader = Store.open_readonly(old)
    assert [s.episode_id for s in reader.signals()] == ["run-old/t/default/nop/0"]
    assert reader.agent_stderr("run-old/t/default/nop/0") is None
    reader.close()
    assert _digest(old) == before  # reading changed nothing
    res = _cli("audit", "--db", str(old), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert _digest(old) == before
    writer = Store(old)  # a run into an old database: new tables added, nothing dropped
    key = EpisodeKey(run_id="run-new", task="t", variant="default", agent="cmd:x", seed=0)
    writer.begin_run("run-new", {"kind": "run"})
    writer.begin_episode(key, 1)
    writer.record_agent_stderr(key.id, "warning: x\n", 11, False)
    writer.close()
    con = sqlite3.connect(old)
    assert con.execute("select value from groundtruth_meta where key = 'schema_version'").fetchone()[0] == \
        str(SCHEMA_VERSION)
    assert con.execute("select count(*) from episodes").fetchone()[0] == 2
    assert con.execute("select text, bytes, truncated from agent_stderr").fetchall() == [("warning: x\n", 11, 0)]


@pytest.fixture()
def small_mount(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of this test's own on the host, unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_read_only_database_is_refused_for_writing_and_still_audited(small_mount: Path) -> None:
    db = small_mount / "gt.db"
    store = Store(db)
    key = EpisodeKey(run_id="r", task="t", variant="default", agent="nop", seed=0)
    store.begin_run("r", {"kind": "run"})
    store.begin_episode(key, 1)
    store.finish_episode(key.id, status="infra_error", classification="infra_error", error="x")
    store.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    with pytest.raises(StoreError, match=r"read-only|cannot open"):
        Store(db)
    reader = Store.open_readonly(db)
    assert [e["id"] for e in reader.episodes()] == [key.id]
    reader.close()
    line = _one_error_line(_cli("run", "--task", "leaked-token", "--agent", "nop", "--db", str(db),
                                cwd=small_mount.parent))
    assert str(db) in line and ("read-only" in line or "cannot open" in line)


def test_a_schema_2_database_gains_agent_llm_and_keeps_everything(tmp_path: Path) -> None:
    from groundtruth.store import AGENT_LLM_REPLIES_LIMIT

    db = tmp_path / "v2.db"
    s = Store(db)
    s.close()
    con = sqlite3.connect(db)  # as schema 2 left it: no agent_llm table
    con.execute("drop table agent_llm")
    con.execute("alter table episodes drop column node")
    con.execute("update groundtruth_meta set value = '2' where key = 'schema_version'")
    con.commit()
    con.close()
    before = _digest(db)
    reader = Store.open_readonly(db)
    assert reader.agent_llm("x") is None
    reader.close()
    assert _digest(db) == before
    writer = Store(db)
    key = EpisodeKey(run_id="run-new", task="t", variant="default", agent="llm:m", seed=0)
    writer.begin_run("run-new", {"kind": "run"})
    writer.begin_episode(key, 1, node="n1")  # the Ray executor's column, added on open
    many = ["r" * 1000] * (AGENT_LLM_REPLIES_LIMIT // 1000 + 10)
    writer.record_agent_llm(key.id, {"mode": "tools", "fallback": None, "replies": many,
                                     "usage": {"calls": 3, "prompt_tokens": 10, "completion_tokens": 5,
                                               "total_tokens": 15}})
    row = writer.agent_llm(key.id)
    assert row is not None
    assert (row["mode"], row["calls"], row["total_tokens"], row["replies_truncated"]) == ("tools", 3, 15, 1)
    assert 0 < len(row["replies"]) < len(many)
    writer.begin_episode(key, 2)  # a retried episode forgets the failed attempt's replies
    assert writer.agent_llm(key.id) is None
    writer.close()
    con = sqlite3.connect(db)
    assert con.execute("select value from groundtruth_meta where key = 'schema_version'").fetchone()[0] == "3"
