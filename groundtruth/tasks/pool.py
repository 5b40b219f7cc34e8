"""Worlds prepared ahead: the container started, the task's setup applied, the baseline recorded and the exec
channel up, for the (task, variant, seed) an episode will need next, so `reset` only hands one over.

Each prepared world serves exactly one episode (taken once, closed by its episode); a reset the pool has no
world for starts cold and is counted as a miss. A preparation that failed raises its error in the episode that
takes it, as that episode's own setup would have (so the runner retries engine errors as before).
Preparation runs in background threads and is bounded by a
count and by the memory limits of the worlds held (ready or being prepared). Lifecycle hooks are named for
when they run, after Inspect AI's: `task_init` once per task before its first world, `sample_init` when a
world is ready (in the preparing thread), `sample_cleanup` when a world is closed (used or discarded).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from pathlib import Path

from pydantic import BaseModel

from groundtruth.tasks.spec import Task
from groundtruth.tasks.world import World

# A world's container destroys itself `limits.seconds + 900` s after it starts: one that waited longer than
# this is discarded rather than risk its timer firing during the episode.
MAX_AGE_SECONDS = 600.0
PREPARED_EPISODE = "prepared"


class WorldKey(BaseModel, frozen=True):
    task: str
    variant: str
    seed: int


class PoolStats(BaseModel):
    prepared: int = 0
    hits: int = 0
    misses: int = 0
    discarded: int = 0
    failed: int = 0


class PoolHooks:
    """Override what you need; every hook runs in a pool or episode thread and must not raise."""

    def task_init(self, task: Task) -> None:
        """Before the first world of `task` is prepared in this pool."""

    def sample_init(self, world: World) -> None:
        """A world is set up and waits for its episode."""

    def sample_cleanup(self, world: World) -> None:
        """A world is closed: its episode ended, or the pool discarded it unused."""


def default_memory_mb() -> int:
    """A quarter of what the host has available: prepared worlds must never starve running episodes."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024 // 4
    return 2048


def _close_if_made(fut: Future[World]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result().close()


class _Slot:
    def __init__(self, key: WorldKey, memory_mb: int, future: Future[World]) -> None:
        self.key, self.memory_mb, self.future = key, memory_mb, future
        self.ready_at = 0.0


class WorldPool:
    """Prepares the worlds of `schedule`d keys in order, at most `max_worlds` (and `memory_mb` of limits) held."""

    def __init__(self, *, run_id: str = "adhoc", max_worlds: int = 2, memory_mb: int | None = None,
                 workers: int = 1, hooks: PoolHooks | None = None, labels: dict[str, str] | None = None) -> None:
        self.run_id = run_id
        self.max_worlds = max(1, max_worlds)
        self.memory_mb = memory_mb if memory_mb is not None else default_memory_mb()
        self.hooks = hooks or PoolHooks()
        self.labels = dict(labels or {})
        self._stats = PoolStats()
        self._lock = threading.Lock()
        self._queue: deque[tuple[Task, WorldKey, str]] = deque()
        self._slots: list[_Slot] = []
        self._tasks_seen: set[str] = set()
        self._exec = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="gt-prepare")
        self._closed = False

    # planning --------------------------------------------------------------------------------------------
    def schedule(self, items: Iterable[tuple[Task, str | None, int, str]]) -> None:
        """(task, variant, seed, episode id) in the order the worlds will be needed; prepared as room allows."""
        with self._lock:
            for task, variant, seed, episode_id in items:
                self._queue.append((task, self._key(task, variant, seed), episode_id))
        self._fill()

    def want(self, task: Task, variant: str | None, seed: int, episode_id: str = PREPARED_EPISODE) -> None:
        """Prepare one world next unless one for this key is already held or queued."""
        key = self._key(task, variant, seed)
        with self._lock:
            if any(s.key == key for s in self._slots) or any(k == key for _, k, _ in self._queue):
                return
            self._queue.append((task, key, episode_id))
        self._fill()

    @staticmethod
    def _key(task: Task, variant: str | None, seed: int) -> WorldKey:
        return WorldKey(task=task.id, variant=task.spec.variant(variant).name, seed=seed)

    def _fill(self) -> None:
        with self._lock:
            if self._closed:
                return
            while self._queue and len(self._slots) < self.max_worlds:
                task, key, episode_id = self._queue[0]
                mem = task.spec.sandbox.memory_mb
                if self._slots and sum(s.memory_mb for s in self._slots) + mem > self.memory_mb:
                    break
                self._queue.popleft()
                fut = self._exec.submit(self._prepare, task, key, episode_id)
                slot = _Slot(key, mem, fut)
                self._slots.append(slot)
                fut.add_done_callback(partial(self._prepared, slot))

    def _prepare(self, task: Task, key: WorldKey, episode_id: str) -> World:
        with self._lock:
            first = task.id not in self._tasks_seen
            self._tasks_seen.add(task.id)
        if first:
            self.hooks.task_init(task)
        world = World(task, key.variant, key.seed, run_id=self.run_id, episode_id=episode_id,
                      labels={**self.labels, "groundtruth.prepared": "1"})
        world.on_close.append(self.hooks.sample_cleanup)
        world.open()  # closes its sandbox itself when setup fails
        try:
            if world.sandbox is not None:
                world.sandbox.start_channel()
            self.hooks.sample_init(world)
        except BaseException:
            world.close()
            raise
        return world

    def _prepared(self, slot: _Slot, fut: Future[World]) -> None:
        slot.ready_at = time.monotonic()
        failed = fut.cancelled() or fut.exception() is not None
        with self._lock:
            if failed:
                self._stats.failed += 1
                with contextlib.suppress(ValueError):
                    self._slots.remove(slot)
            else:
                self._stats.prepared += 1
        if failed:
            self._fill()

    # taking ----------------------------------------------------------------------------------------------
    def take(self, task: Task, variant: str | None, seed: int, *, wait: float = 120.0) -> World | None:
        """The prepared world for this key (waiting for one being prepared), never handed out twice; None is a
        miss and the caller starts cold. The error of a failed preparation is raised here."""
        key = self._key(task, variant, seed)
        with self._lock:
            slot = next((s for s in self._slots if s.key == key), None)
            if slot is not None:
                self._slots.remove(slot)
        world: World | None = None
        if slot is not None:
            try:
                world = slot.future.result(timeout=wait)
            except FutureTimeout:  # a slow preparation: a cold start does it again, in the episode
                world = None
                slot.future.add_done_callback(_close_if_made)
            except BaseException:
                self._fill()
                raise  # the episode fails as its own setup would have (an engine error is retried by the runner)
            if world is not None and time.monotonic() - slot.ready_at > MAX_AGE_SECONDS:
                world.close()
                world = None
                with self._lock:
                    self._stats.discarded += 1
        with self._lock:
            if world is None:
                self._stats.misses += 1
            else:
                self._stats.hits += 1
        self._fill()
        return world

    def stats(self) -> PoolStats:
        with self._lock:
            return self._stats.model_copy()

    def close(self) -> None:
        """Close every world not handed out (queued ones are never started)."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            slots, self._slots = self._slots, []
        for slot in slots:
            if slot.future.cancel():
                continue
            with contextlib.suppress(Exception):
                slot.future.result(timeout=300).close()
                with self._lock:
                    self._stats.discarded += 1
        self._exec.shutdown(wait=True)

    def __enter__(self) -> WorldPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pool_enabled() -> bool:
    """`GROUNDTRUTH_PREPARE=0` turns preparing worlds ahead off (every reset starts cold)."""
    return os.environ.get("GROUNDTRUTH_PREPARE", "1") != "0"
