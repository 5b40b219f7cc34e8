"""The SQLite store (sqlite-utils): every step is written as it happens, so a crash loses one episode at most."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import sqlite_utils
from pydantic import BaseModel

from groundtruth import __version__
from groundtruth.audit.classify import EpisodeSignals

SCHEMA_VERSION = 1


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
    """Thread-safe: one connection, one lock, WAL so readers (audit, Datasette) never block a run."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.RLock()
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        with self.lock:
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
                "verdict": str,
            }, pk="id", if_not_exists=True, foreign_keys=[("run_id", "runs", "id")])
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
            for table, cols in (("episodes", ["run_id"]), ("episodes", ["agent"]), ("episodes", ["task"]),
                                ("integrity", ["episode_id"]), ("attempts", ["episode_id"])):
                db.table(table).create_index(cols, if_not_exists=True)

    # runs -----------------------------------------------------------------------------------------
    def begin_run(self, run_id: str, config: dict[str, Any]) -> None:
        with self.lock:
            self.db.table("runs").upsert({"id": run_id, "started": time.time(), "status": "running",
                                    "config": json.dumps(config), "version": __version__}, pk="id")

    def end_run(self, run_id: str, status: str) -> None:
        with self.lock:
            self.db.table("runs").update(run_id, {"finished": time.time(), "status": status})

    def latest_run(self, kind: str | None = None) -> str | None:
        """The newest run, optionally only those of one kind (`run`; reflexion and experiments write others)."""
        where = "where json_extract(config, '$.kind') = :kind" if kind else ""
        rows = list(self.db.query(f"select id from runs {where} order by started desc limit 1", {"kind": kind}))
        return str(rows[0]["id"]) if rows else None

    def run_config(self, run_id: str) -> dict[str, Any]:
        row = self.db.table("runs").get(run_id)
        return dict(json.loads(row["config"]))

    # episodes -------------------------------------------------------------------------------------
    def finished_ids(self, run_id: str) -> set[str]:
        rows = self.db.query("select id from episodes where run_id = ? and status in ('done', 'infra_error')",
                             [run_id])
        return {str(r["id"]) for r in rows}

    def begin_episode(self, key: EpisodeKey, attempt: int, **fields: Any) -> None:
        """A (re)started episode forgets whatever a crashed attempt wrote: no duplicates on resume."""
        with self.lock, self.db.conn:
            for table in ("steps", "checks", "claims", "judgments", "goal_states", "integrity"):
                self.db.execute(f"delete from {table} where episode_id = ?", [key.id])
            self.db.table("episodes").upsert({
                "id": key.id, "run_id": key.run_id, "task": key.task, "variant": key.variant, "agent": key.agent,
                "seed": key.seed, "attempt": attempt, "status": "running", "started": time.time(), **fields,
            }, pk="id", alter=True)

    def record_step(self, episode_id: str, step: dict[str, Any]) -> None:
        with self.lock, self.db.conn:
            action = step["action"]
            self.db.table("steps").upsert({
                "episode_id": episode_id, "idx": step["index"], "tool": step["tool"],
                "action": action if isinstance(action, str) else json.dumps(action),
                "observation": step["observation"], "exit_code": step.get("exit_code"), "error": step.get("error"),
                "seconds": step["seconds"], "ts": time.time(),
            }, pk=("episode_id", "idx"))

    def record_goal_states(self, episode_id: str, states: list[dict[str, Any]]) -> None:
        with self.lock, self.db.conn:
            self.db.table("goal_states").upsert_all(
                [{"episode_id": episode_id, "turn": s["turn"], "state": json.dumps(s)} for s in states],
                pk=("episode_id", "turn"),
            )

    def record_attempt_error(self, episode_id: str, attempt: int, error: str) -> None:
        with self.lock, self.db.conn:
            self.db.table("attempts").insert({"episode_id": episode_id, "attempt": attempt, "error": error,
                                        "ts": time.time()})

    def finish_episode(self, episode_id: str, *, status: str, signals: EpisodeSignals | None = None,
                       classification: str | None = None, reward: float | None = None,
                       verdict: dict[str, Any] | None = None, claim: dict[str, Any] | None = None,
                       judgment: dict[str, Any] | None = None, steps: int = 0, error: str | None = None) -> None:
        with self.lock, self.db.conn:
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
        self.db.conn.close()
