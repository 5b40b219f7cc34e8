"""The async face of an env: each blocking call runs in anyio's bounded worker pool, not a thread per episode."""

from __future__ import annotations

from functools import partial
from typing import Any, SupportsFloat

import anyio
import anyio.to_thread

from groundtruth.env.core import GroundtruthEnv

_LIMITER: anyio.CapacityLimiter | None = None


def _limiter() -> anyio.CapacityLimiter:
    global _LIMITER
    if _LIMITER is None:
        _LIMITER = anyio.CapacityLimiter(32)
    return _LIMITER


class AsyncEnv:
    def __init__(self, env: GroundtruthEnv) -> None:
        self.env = env

    async def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        call = partial(self.env.reset, seed=seed, options=options)
        return await anyio.to_thread.run_sync(call, limiter=_limiter())

    async def step(self, action: str | dict[str, Any]) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.env.step, action, limiter=_limiter())

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.env.close, limiter=_limiter())
