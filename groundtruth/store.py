"""The SQLite store (sqlite-utils): every step is written as it happens, so a crash loses one episode at most.

A store opened for writing migrates older groundtruth databases additively (new tables, never a dropped or
renamed column) and refuses files that are not groundtruth databases; readers (`audit`, `serve`) open the
file read-only and never change it. Every SQLite failure becomes a `StoreError` that says what to do.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlite_utils
from pydantic import BaseModel

from groundtruth import __version__
from groundtruth.audit.classify import EpisodeSignals
from groundtruth.errors import StoreError

SCHEMA_VERSION = 3
SQLITE_HEADER = b"SQLite format 3\x00"
META_TABLE = "groundtruth_meta"
# What makes a database groundtruth's, in every schema version so far.
REQUIRED_COLUMNS = {
    "runs": {"id", "started", "status", "config"},
    "episodes": {"id", "run_id", "task", "variant", "agent", "seed", "status"},
}
AGENT_STDERR_LIMIT = 64 * 1024
AGENT_LLM_REPLIES_LIMIT = 256 * 1024  # characters of raw replies kept per episode (JSON list)


def explain(exc: sqlite3.Error, path: Path) -> str:
    """One line that says what went wrong with the database file and what to do about it."""
    text = str(exc)
    low = text.lower()
    if "disk is full" in low or "disk i/o" in low:
        return f"cannot write to {path}: the disk is full (or failing); what is already stored is kept: free space"
    if "readonly" in low or "read-only" in low:
        return f"cannot write to {path}: it is read-only; fix its permissions or choose another --db"
    if "locked" in low or "busy" in low:
        return f"{path} is locked by another process for too long; retry when it is done, or choose another --db"
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return f"{path} is not a readable SQLite database ({text}); choose another --db"
    if "unable to open" in low:
        return f"cannot open {path} ({text}): check that its folder exists and is writable"
    return f"database error in {path}: {text}"


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path} is a directory: give --db a file path, e.g. {path / 'groundtruth.db'}")
    if path.exists():
        try:
            with path.open("rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}; check its permissions or choose another --db") \
                from exc
        if head and head != SQLITE_HEADER:
            raise StoreError(f"{path} is not a SQLite database; choose another --db (groundtruth creates the file)")
    elif not path.parent.is_dir():
        raise StoreError(f"the folder of {path} does not exist; create it first or choose another --db")


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """`mode=ro`; where even that cannot work (a WAL database on a read-only file system has no -shm file and
    cannot make one) the file cannot change either, so it is opened as immutable."""
    uri = f"file:{quote(str(path.resolve()))}"
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    try:
        conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc):
            raise
        conn.close()
        conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False, timeout=30)
    return conn


def _columns(db: sqlite_utils.Database) -> dict[str, set[str]]:
    return {t: {c.name for c in db.table(t).columns} for t in db.table_names()}


def _require_groundtruth(db: sqlite_utils.Database, path: Path, *, empty_ok: bool) -> None:
    """Refuse a database that is someone else's: writing our tables into it would damage it."""
    cols = _columns(db)
    if not cols and empty_ok:
        return
    if not cols:
        raise StoreError(f"{path} is an empty SQLite database with no groundtruth runs; "
                         f"run `groundtruth run --db {path}` first")
    for table, need in REQUIRED_COLUMNS.items():
        missing = need - cols.get(table, set())
        if missing:
            found = ", ".join(sorted(cols)[:8]) + (", ..." if len(cols) > 8 else "")
            lacks = ", ".join(sorted(missing))
            raise StoreError(f"{path} is not a groundtruth database (table {table!r} lacks {lacks}; it holds: "
                             f"{found}); choose another --db")


class EpisodeKey(BaseModel):
    run_id: str
    task: str
    variant: str
    agent: str
    seed: int

    @property
    def id(self) -> str:
        return f"{self.run_id}/{self.task}/{self.variant}/{self.agent}/{self.seed}"


class Store:
    """Thread-safe: one connection, one lock, WAL so readers (audit, Datasette) never block a run.

    `Store(path)` opens for writing (creating the file); `Store.open_readonly(path)` for readers."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.lock = threading.RLock()
        if readonly and not self.path.is_file():
            raise StoreError(f"no database at {self.path}: run `groundtruth run --db {self.path}` first")
        _check_file(self.path)
        try:
            if readonly:
                conn = _connect_readonly(self.path)
            else:
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self.db = sqlite_utils.Database(conn)
            _require_groundtruth(self.db, self.path, empty_ok=not readonly)
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self._ensure_schema()
        except sqlite3.Error as exc:
            raise StoreError(explain(exc, self.path)) from exc

    @classmethod
    def open_readonly(cls, path: str | Path) -> Store:
        """For readers: never creates, migrates or switches the journal mode of the file."""
        return cls(path, readonly=True)

    @contextmanager
    def _tx(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction under the lock; any SQLite failure becomes a StoreError that says what to do."""
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only")
        with self.lock:
            try:
                with self.db.conn:
                    yield self.db
            except sqlite3.Error as exc:
                raise StoreError(explain(exc, self.path)) from exc

    def has_table(self, name: str) -> bool:
        return bool(self.db.table(name).exists())

    def _ensure_schema(self) -> None:
        with self._tx():
            db = self.db
            db.table("runs").create({
                "id": str, "started": float, "finished": float, "status": str, "config": str, "version": str,
            }, pk="id", if_not_exists=True)
            db.table("episodes").create({
                "id": str, "run_id": str, "task": str, "family": str, "variant": str, "agent": str, "seed": int,
                "attempt": int, "status": str, "classification": str, "verified": str, "tampered": int,
                "claimed_success": int, "confidence": float, "judged_success": int, "reward": float,
                "reward_kind": str, "steps": int, "started": float, "finished": float, "seconds": float,
                "error": str, "monitored": int, "distribution": str, "simulator": str, "infeasible": int,
                "verdict": str, "node": str,
            }, pk="id", if_not_exists=True, foreign_keys=[("run_id", "runs", "id")])
            if "node" not in db.table("episodes").columns_dict:  # schema 3: a database from before the Ray executor
                db.table("episodes").add_column("node", str)
            db.table("steps").create({
                "episode_id": str, "idx": int, "tool": str, "action": str, "observation": str, "exit_code": int,
                "error": str, "seconds": float, "ts": float,
            }, pk=("episode_id", "idx"), if_not_exists=True)
            db.table("checks").create({
                "episode_id": str, "check_id": str, "kind": str, "type": str, "status": str, "reason": str,
                "seconds": float, "canary": int,
            }, pk=("episode_id", "check_id"), if_not_exists=True)
            db.table("claims").create({
                "episode_id": str, "success": int, "confidence": float, "summary": str, "objectives": str,
            }, pk="episode_id", if_not_exists=True)
            db.table("judgments").create({
                "episode_id": str, "simulator": str, "success": int, "objectives": str, "reason": str,
            }, pk="episode_id", if_not_exists=True)
            db.table("goal_states").create({
                "episode_id": str, "turn": int, "state": str,
            }, pk=("episode_id", "turn"), if_not_exists=True)
            db.table("integrity").create({
                "episode_id": str, "path": str, "kind": str, "evidence": str,
            }, if_not_exists=True)
            db.table("attempts").create({
                "episode_id": str, "attempt": int, "error": str, "ts": float,
            }, if_not_exists=True)
            db.table("agent_stderr").create({  # schema 2
                "episode_id": str, "text": str, "bytes": int, "truncated": int,
            }, pk="episode_id", if_not_exists=True)
            db.table("agent_llm").create({  # schema 3
                "episode_id": str, "mode": str, "fallback": str, "calls": int, "prompt_tokens": int,
                "completion_tokens": int, "total_tokens": int, "replies": str, "replies_truncated": int,
            }, pk="episode_id", if_not_exists=True)
            db.table(META_TABLE).create({"key": str, "value": str}, pk="key", if_not_exists=True)
            db.table(META_TABLE).upsert_all([
                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                {"key": "written_by", "value": __version__},
            ], pk="key")
            for table, cols in (("episodes", ["run_id"]), ("episodes", ["agent"]), ("episodes", ["task"]),
                                ("integrity", ["episode_id"]), ("attempts", ["episode_id"])):
                db.table(table).create_index(cols, if_not_exists=True)

    # runs -----------------------------------------------------------------------------------------
    def begin_run(self, run_id: str, config: dict[str, Any]) -> None:
        with self._tx():
            self.db.table("runs").upsert({"id": run_id, "started": time.time(), "status": "running",
                                    "config": json.dumps(config), "version": __version__}, pk="id")

    def end_run(self, run_id: str, status: str) -> None:
        with self._tx():
            self.db.table("runs").update(run_id, {"finished": time.time(), "status": status})

    def latest_run(self, kind: str | None = None) -> str | None:
        """The newest run, optionally only those of one kind (`run`; reflexion and experiments write others)."""
        where = "where json_extract(config, '$.kind') = :kind" if kind else ""
        rows = list(self.db.query(f"select id from runs {where} order by started desc limit 1", {"kind": kind}))
        return str(rows[0]["id"]) if rows else None

    def run_config(self, run_id: str) -> dict[str, Any]:
        rows = list(self.db.query("select config from runs where id = ?", [run_id]))
        if not rows:
            recent = [r["id"] for r in self.db.query("select id from runs order by started desc limit 5")]
            raise StoreError(f"no run {run_id!r} in {self.path}; recent runs: {', '.join(recent) or 'none'}")
        return dict(json.loads(rows[0]["config"]))

    # episodes -------------------------------------------------------------------------------------
    def finished_ids(self, run_id: str) -> set[str]:
        rows = self.db.query("select id from episodes where run_id = ? and status in ('done', 'infra_error')",
                             [run_id])
        return {str(r["id"]) for r in rows}

    def begin_episode(self, key: EpisodeKey, attempt: int, **fields: Any) -> None:
        """A (re)started episode forgets whatever a crashed attempt wrote: no duplicates on resume."""
        with self._tx():
            for table in ("steps", "checks", "claims", "judgments", "goal_states", "integrity", "agent_stderr",
                          "agent_llm"):
                self.db.execute(f"delete from {table} where episode_id = ?", [key.id])
            self.db.table("episodes").upsert({
                "id": key.id, "run_id": key.run_id, "task": key.task, "variant": key.variant, "agent": key.agent,
                "seed": key.seed, "attempt": attempt, "status": "running", "started": time.time(), **fields,
            }, pk="id", alter=True)

    def record_step(self, episode_id: str, step: dict[str, Any]) -> None:
        with self._tx():
            action = step["action"]
            self.db.table("steps").upsert({
                "episode_id": episode_id, "idx": step["index"], "tool": step["tool"],
                "action": action if isinstance(action, str) else json.dumps(action),
                "observation": step["observation"], "exit_code": step.get("exit_code"), "error": step.get("error"),
                "seconds": step["seconds"], "ts": time.time(),
            }, pk=("episode_id", "idx"))

    def record_goal_states(self, episode_id: str, states: list[dict[str, Any]]) -> None:
        with self._tx():
            self.db.table("goal_states").upsert_all(
                [{"episode_id": episode_id, "turn": s["turn"], "state": json.dumps(s)} for s in states],
                pk=("episode_id", "turn"),
            )

    def record_attempt_error(self, episode_id: str, attempt: int, error: str) -> None:
        with self._tx():
            self.db.table("attempts").insert({"episode_id": episode_id, "attempt": attempt, "error": error,
                                        "ts": time.time()})

    def record_agent_stderr(self, episode_id: str, text: str, size: int, truncated: bool) -> None:
        """What an external agent wrote to stderr (bounded), kept with its episode for debugging."""
        with self._tx():
            self.db.table("agent_stderr").upsert({"episode_id": episode_id, "text": text, "bytes": size,
                                                  "truncated": int(truncated)}, pk="episode_id")

    def agent_stderr(self, episode_id: str) -> str | None:
        if not self.has_table("agent_stderr"):
            return None  # a database from before schema 2
        rows = list(self.db.query("select text from agent_stderr where episode_id = ?", [episode_id]))
        return str(rows[0]["text"]) if rows else None

    def record_agent_llm(self, episode_id: str, log: dict[str, Any]) -> None:
        """A model-backed agent's token usage and raw replies for one episode; replies beyond the limit are
        dropped from the end (the first ones explain the rest) and the row says so."""
        replies: list[str] = list(log.get("replies") or [])
        kept, size = [], 2
        for r in replies:
            size += len(r) + 4
            if size > AGENT_LLM_REPLIES_LIMIT:
                break
            kept.append(r)
        usage = log.get("usage") or {}
        with self._tx():
            self.db.table("agent_llm").upsert({
                "episode_id": episode_id, "mode": log.get("mode"), "fallback": log.get("fallback"),
                "calls": usage.get("calls", 0), "prompt_tokens": usage.get("prompt_tokens", 0),
                "completion_tokens": usage.get("completion_tokens", 0), "total_tokens": usage.get("total_tokens", 0),
                "replies": json.dumps(kept), "replies_truncated": int(len(kept) < len(replies)),
            }, pk="episode_id")

    def agent_llm(self, episode_id: str) -> dict[str, Any] | None:
        if not self.has_table("agent_llm"):
            return None  # a database from before schema 3
        rows = list(self.db.query("select * from agent_llm where episode_id = ?", [episode_id]))
        if not rows:
            return None
        row = dict(rows[0])
        row["replies"] = json.loads(row["replies"] or "[]")
        return row

    def finish_episode(self, episode_id: str, *, status: str, signals: EpisodeSignals | None = None,
                       classification: str | None = None, reward: float | None = None,
                       verdict: dict[str, Any] | None = None, claim: dict[str, Any] | None = None,
                       judgment: dict[str, Any] | None = None, steps: int = 0, error: str | None = None) -> None:
        with self._tx():
            row: dict[str, Any] = {"status": status, "finished": time.time(), "steps": steps, "error": error,
                                   "classification": classification, "reward": reward}
            started = self.db.table("episodes").get(episode_id)["started"]
            row["seconds"] = row["finished"] - (started or row["finished"])
            if signals is not None:
                row.update({
                    "verified": signals.verified, "tampered": int(signals.tampered),
                    "claimed_success": None if signals.claimed_success is None else int(signals.claimed_success),
                    "confidence": signals.confidence,
                    "judged_success": None if signals.judged_success is None else int(signals.judged_success),
                    "monitored": None if signals.monitored is None else int(signals.monitored),
                    "distribution": signals.distribution,
                })
            if verdict is not None:
                row["verdict"] = json.dumps(verdict)
                self.db.table("checks").upsert_all([{
                    "episode_id": episode_id, "check_id": c["id"], "kind": c["kind"], "type": c["type"],
                    "status": c["status"], "reason": c["reason"], "seconds": c["seconds"], "canary": int(c["canary"]),
                } for c in verdict["checks"]], pk=("episode_id", "check_id"))
                if verdict["integrity"]:
                    findings = [{"episode_id": episode_id, **f} for f in verdict["integrity"]]
                    self.db.table("integrity").insert_all(findings)
            if claim is not None:
                self.db.table("claims").upsert({
                    "episode_id": episode_id, "success": int(claim["success"]), "confidence": claim["confidence"],
                    "summary": claim["summary"], "objectives": json.dumps(claim["objectives"]),
                }, pk="episode_id")
            if judgment is not None:
                self.db.table("judgments").upsert({
                    "episode_id": episode_id, "simulator": judgment["simulator"], "success": int(judgment["success"]),
                    "objectives": json.dumps(judgment["objectives"]), "reason": judgment["reason"],
                }, pk="episode_id")
            self.db.table("episodes").update(episode_id, row)

    # reading --------------------------------------------------------------------------------------
    def episodes(self, run_id: str | None = None) -> list[dict[str, Any]]:
        if run_id is None:
            return list(self.db.query("select * from episodes order by started"))
        return list(self.db.query("select * from episodes where run_id = ? order by started", [run_id]))

    def signals(self, run_id: str | None = None) -> list[EpisodeSignals]:
        """Episodes as the audit sees them; episodes still running are left out."""
        out = []
        for e in self.episodes(run_id):
            if e["status"] not in ("done", "infra_error"):
                continue
            out.append(EpisodeSignals(
                episode_id=e["id"], agent=e["agent"], task=e["task"], family=e["family"] or "",
                variant=e["variant"] or "", seed=e["seed"] or 0,
                verified=e["verified"] if e["status"] == "done" else None,
                tampered=bool(e["tampered"]), infra_error=e["status"] == "infra_error",
                claimed_success=None if e["claimed_success"] is None else bool(e["claimed_success"]),
                confidence=e["confidence"],
                judged_success=None if e["judged_success"] is None else bool(e["judged_success"]),
                monitored=None if e["monitored"] is None else bool(e["monitored"]),
                distribution=e["distribution"],
            ))
        return out

    def close(self) -> None:
        with self.lock:
            self.db.conn.close()
