"""The async face of an env: each blocking call runs in anyio's bounded worker pool, not a thread per episode.

Cancelling `step` (a timeout, a task group shutting down) must not wait for the command it is running: the
awaiting task lets go of the worker thread at once (`abandon_on_cancel`), interrupts the env (which kills the
command in the sandbox and ends the episode as truncated, verified) and waits, shielded, for that thread to
finish so the env is never used by two threads. Then the cancellation goes on.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any, SupportsFloat

import anyio
import anyio.to_thread

from groundtruth.env.core import GroundtruthEnv

_LIMITER: anyio.CapacityLimiter | None = None
# How long a cancelled step waits for its thread to wind up (kill the command, verify) before it lets go anyway.
CANCEL_GRACE_SECONDS = 30.0

StepResult = tuple[str, SupportsFloat, bool, bool, dict[str, Any]]


def _limiter() -> anyio.CapacityLimiter:
    global _LIMITER
    if _LIMITER is None:
        _LIMITER = anyio.CapacityLimiter(32)
    return _LIMITER


class AsyncEnv:
    def __init__(self, env: GroundtruthEnv) -> None:
        self.env = env
        self._settling: threading.Thread | None = None

    async def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        await self._settle_first()
        call = partial(self.env.reset, seed=seed, options=options)
        return await anyio.to_thread.run_sync(call, limiter=_limiter())

    async def _settle_first(self) -> None:
        """A cancelled episode's verification owns the env until it is done: nothing may reset it meanwhile."""
        if self._settling is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._settling.join)
            self._settling = None

    async def step(self, action: str | dict[str, Any]) -> StepResult:
        await self._settle_first()
        gate = threading.Lock()
        ran, dropped, finished = [False], [False], threading.Event()

        def work() -> StepResult | None:
            with gate:
                if dropped[0]:  # the caller has gone and ended the episode itself
                    return None
                ran[0] = True
            try:
                return self.env.step(action)
            finally:
                finished.set()

        try:
            result = await anyio.to_thread.run_sync(work, limiter=_limiter(), abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            self.env.interrupt("the step was cancelled", defer_verification=True)
            with gate:
                dropped[0] = not ran[0]
            with anyio.CancelScope(shield=True):
                if ran[0]:
                    await anyio.to_thread.run_sync(finished.wait, CANCEL_GRACE_SECONDS)
                else:  # cancelled while queued for a thread: end the episode the same way
                    self.env.cut("the step was cancelled")
            self._start_settling()
            raise
        assert result is not None  # only a dropped call returns None, and then this task was cancelled
        self._start_settling()  # a cancel that came as the step finished: the next step ended the episode
        return result

    def _start_settling(self) -> None:
        if self.env.unverified and self._settling is None:
            self._settling = threading.Thread(target=self.env.settle, name="groundtruth-settle", daemon=True)
            self._settling.start()

    async def settled(self) -> dict[str, Any]:
        """The final info of an episode a cancelled step ended, once its verification (in the background) is done."""
        await self._settle_first()
        with anyio.CancelScope(shield=True):
            info = await anyio.to_thread.run_sync(self.env.settle, limiter=_limiter())
        return info

    async def close(self) -> None:
        await self._settle_first()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.env.close, limiter=_limiter())
