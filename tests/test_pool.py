"""Prepared worlds on real containers: used once, misses counted, hooks in order, nothing left behind."""

from __future__ import annotations

import time

import pytest

from groundtruth.env.core import GroundtruthEnv
from groundtruth.env.definitions import definition_for
from groundtruth.sandbox.engine import LABEL_RUN, client
from groundtruth.tasks.pool import PoolHooks, WorldPool
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.world import World

from .conftest import RUN_ID

TASK = Registry([]).get("leaked-token")


def _containers(run_id: str) -> list[str]:
    return [c.id for c in client().containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})]


class Recorder(PoolHooks):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def task_init(self, task: object) -> None:
        self.calls.append("task_init")

    def sample_init(self, world: World) -> None:
        self.calls.append(f"sample_init:{world.seed}")

    def sample_cleanup(self, world: World) -> None:
        self.calls.append(f"sample_cleanup:{world.seed}")


def test_a_prepared_world_is_used_once_and_misses_are_counted() -> None:
    hooks = Recorder()
    with WorldPool(run_id=RUN_ID, max_worlds=2, hooks=hooks) as pool:
        pool.want(TASK, None, 1)
        pool.want(TASK, None, 1)  # already queued: still one world
        world = pool.take(TASK, None, 1)
        assert world is not None and world.sandbox is not None
        assert world.sandbox.channel_state() == "channel" and world.baseline is not None
        # set up for exactly this seed: the setup command copied the notes to notes-1.txt
        assert world.sandbox.read_text("/workspace/backup/notes-1.txt").startswith("meeting")
        assert pool.take(TASK, None, 1) is None  # never handed out twice
        assert pool.take(TASK, None, 2) is None  # never prepared
        st = pool.stats()
        assert (st.hits, st.misses, st.prepared) == (1, 2, 1)
        world.close()
    assert hooks.calls == ["task_init", "sample_init:1", "sample_cleanup:1"]


def test_close_removes_every_prepared_world() -> None:
    run_id = f"{RUN_ID}-pool"
    pool = WorldPool(run_id=run_id, max_worlds=2, workers=2)
    pool.schedule([(TASK, None, s, f"ep-{s}") for s in range(4)])
    give_up = time.monotonic() + 120
    while pool.stats().prepared < 2 and time.monotonic() < give_up:
        time.sleep(0.2)
    assert len(_containers(run_id)) == 2  # bounded: two held, two still queued
    pool.close()
    assert _containers(run_id) == []
    assert pool.stats().discarded == 2


def test_env_reset_takes_the_prepared_world_and_verifies_the_same() -> None:
    with WorldPool(run_id=RUN_ID, max_worlds=1) as pool:
        env = GroundtruthEnv(definition_for(TASK.spec.env), task=TASK, run_id=RUN_ID, pool=pool)
        verdicts = []
        containers = []
        try:
            for seed in (5, 6):
                _, info = env.reset(seed=seed)
                assert env.world is not None and env.world.sandbox is not None
                containers.append(env.world.sandbox.container_id)
                assert info["prepared"] is (seed == 6)  # the first reset was cold and asked for seed 6
                env.step({"tool": "bash", "cmd": TASK.file("solution.sh").read_text()})
                _, _, _, _, info = env.step({"tool": "submit", "success": True, "confidence": 0.9,
                                             "summary": "done"})
                verdicts.append((info["verdict"]["outcome"], info["verdict"]["tampered"]))
        finally:
            env.close()
        assert verdicts == [("success", False), ("success", False)]
        assert containers[0] != containers[1]
        assert pool.stats().misses == 1 and pool.stats().hits == 1


class Failing(PoolHooks):
    def sample_init(self, world: World) -> None:
        raise RuntimeError("preparation broke")


def test_a_failed_preparation_fails_its_episode_once_and_leaves_nothing() -> None:
    run_id = f"{RUN_ID}-fail"
    with WorldPool(run_id=run_id, max_worlds=1, hooks=Failing()) as pool:
        pool.want(TASK, None, 9)
        with pytest.raises(RuntimeError, match="preparation broke"):  # as a cold setup failing would
            pool.take(TASK, None, 9)
        assert pool.take(TASK, None, 9) is None  # the retry starts cold
        st = pool.stats()
        assert (st.failed, st.misses, st.hits) == (1, 1, 0)
    assert _containers(run_id) == []
