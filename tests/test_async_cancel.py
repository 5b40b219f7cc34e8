"""Cancelling `AsyncEnv.step` under anyio: prompt return, the command killed in the sandbox, a truncated verdict."""

from __future__ import annotations

import time

import anyio
import pytest

from groundtruth.env import make
from groundtruth.env.aio import AsyncEnv
from groundtruth.sandbox.base import AGENT_USER

from .conftest import RUN_ID

pytestmark = pytest.mark.docker


def test_cancelled_step_returns_promptly_kills_the_command_and_is_verified_truncated() -> None:
    async def main() -> None:
        aenv = AsyncEnv(make("leaked-token", run_id=RUN_ID))
        try:
            await aenv.reset(seed=0)
            sb = aenv.env.world.sandbox  # type: ignore[union-attr]
            assert sb is not None
            uid = sb.uid(AGENT_USER)
            # a child that ignores SIGTERM and a double-forked daemon: killing the shell alone would leave both
            cmd = "(trap '' TERM; sleep 30) & setsid sh -c 'sleep 40' & sleep 20"
            t0 = time.monotonic()
            with anyio.move_on_after(3) as scope:
                await aenv.step({"tool": "bash", "cmd": cmd})
            returned = time.monotonic() - t0
            assert scope.cancelled_caught
            print(f"cancelled at 3 s, returned at {returned:.2f} s")
            assert returned < 3 + 1.5, f"the cancelled step took {returned - 3:.2f} s after the cancel"
            # the episode is over at once, and nothing the command started still runs
            assert aenv.env.done
            left = [p for p in sb.processes() if p.uid == uid]
            assert left == [], left
            info = await aenv.settled()
            assert info["cancelled"] == "the step was cancelled"
            assert info["verdict"]["outcome"] == "failure"  # the token was never removed
            assert info["classification"] == "no_claim"
            assert "verification_pending" not in info
            obs, reward, _, _, _ = await aenv.step({"tool": "bash", "cmd": "ls"})
            assert obs.startswith("error: the episode is over") and float(reward) == 0.0
            assert [s.tool for s in aenv.env.transcript] == ["bash", "cancel"]
            assert "cancelled" in aenv.env.transcript[0].observation
        finally:
            await aenv.close()

    anyio.run(main)


def test_a_step_that_finishes_first_is_not_disturbed() -> None:
    async def main() -> None:
        aenv = AsyncEnv(make("leaked-token", run_id=RUN_ID))
        try:
            await aenv.reset(seed=0)
            with anyio.move_on_after(30) as scope:
                obs, *_ = await aenv.step({"tool": "bash", "cmd": "echo quick"})
            assert not scope.cancelled_caught and "quick" in obs
            assert not aenv.env.done and aenv.env.cancelled is None
        finally:
            await aenv.close()

    anyio.run(main)


def test_interrupting_the_sync_env_from_another_thread_verifies_in_the_step() -> None:
    import threading

    env = make("leaked-token", run_id=RUN_ID)
    try:
        env.reset(seed=0)
        threading.Timer(1.0, env.interrupt, args=("stopped by the trainer",)).start()
        t0 = time.monotonic()
        obs, reward, terminated, truncated, info = env.step({"tool": "bash", "cmd": "sleep 20"})
        assert time.monotonic() - t0 < 15
        assert truncated and not terminated and float(reward) == 0.0
        assert "stopped by the trainer" in obs
        assert info["verdict"]["outcome"] == "failure"
    finally:
        env.close()
