"""What an episode would have written to the store, kept in memory on the node that ran it.

Workers never open the SQLite file (it lives on the driver, possibly another machine): `run_episode` writes
to an `EpisodeRecorder` instead, which is shipped back with the result and replayed into the real store by
the driver. An episode whose node dies therefore leaves nothing behind in the store, so its retry is never
counted twice.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from groundtruth.audit.classify import EpisodeSignals
from groundtruth.store import EpisodeKey, Store


class Write(BaseModel):
    method: str
    positional: list[Any] = Field(default_factory=list)
    named: dict[str, Any] = Field(default_factory=dict)
    ts: float


class EpisodeRecorder:
    """The part of `Store` that `run_episode` writes through, recorded in order with the node's clock."""

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def _add(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.writes.append(Write(method=method, positional=list(args), named=kwargs, ts=time.time()))

    def begin_episode(self, key: EpisodeKey, attempt: int, **fields: Any) -> None:
        self._add("begin_episode", key, attempt, **fields)

    def record_step(self, episode_id: str, step: dict[str, Any]) -> None:
        self._add("record_step", episode_id, step)

    def record_goal_states(self, episode_id: str, states: list[dict[str, Any]]) -> None:
        self._add("record_goal_states", episode_id, states)

    def record_attempt_error(self, episode_id: str, attempt: int, error: str) -> None:
        self._add("record_attempt_error", episode_id, attempt, error)

    def record_agent_stderr(self, episode_id: str, text: str, size: int, truncated: bool) -> None:
        self._add("record_agent_stderr", episode_id, text, size, truncated)

    def record_agent_llm(self, episode_id: str, log: dict[str, Any]) -> None:
        self._add("record_agent_llm", episode_id, log)

    def finish_episode(self, episode_id: str, *, status: str, signals: EpisodeSignals | None = None,
                       classification: str | None = None, reward: float | None = None,
                       verdict: dict[str, Any] | None = None, claim: dict[str, Any] | None = None,
                       judgment: dict[str, Any] | None = None, steps: int = 0, error: str | None = None) -> None:
        self._add("finish_episode", episode_id, status=status, signals=signals, classification=classification,
                  reward=reward, verdict=verdict, claim=claim, judgment=judgment, steps=steps, error=error)


REPLAYABLE = frozenset({"begin_episode", "record_step", "record_goal_states", "record_attempt_error",
                        "record_agent_stderr", "record_agent_llm", "finish_episode"})


def replay(writes: list[Write], store: Store, **episode_fields: Any) -> None:
    """Writes an episode's recorded writes into the store, in order. Times are moved onto the driver's clock
    (the node's may be skewed) keeping their spacing, so `started` and `seconds` stay those of the node;
    `episode_fields` (e.g. the node that ran it) go into the episode's row."""
    if not writes:
        return
    shift = time.time() - writes[-1].ts
    for w in writes:
        if w.method not in REPLAYABLE:
            raise ValueError(f"not a store write: {w.method}")
        named = dict(w.named)
        if w.method == "begin_episode":
            named = {**named, "started": w.ts + shift, **episode_fields}
        getattr(store, w.method)(*w.positional, **named)
