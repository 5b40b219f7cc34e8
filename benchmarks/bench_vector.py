"""Vector-env throughput and step-cancellation latency, measured in one run.

    .venv/bin/python benchmarks/bench_vector.py [--envs 3] [--steps 30] [--json]

Steps `--envs` copies of groundtruth/Shell-v0 (task leaked-token) through `--steps` batched bash steps with
Gymnasium's SyncVectorEnv (the baseline), AsyncVectorEnv with shared memory (the default) and without, and
prints env-steps per second with each ratio to the sync baseline. Then cancels `AsyncEnv.step` around
`sleep 20` after 1 s, five times, and prints how long after the cancel control came back (median, max).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import anyio
import gymnasium as gym

import groundtruth.env  # noqa: F401 - registers the envs
from groundtruth.env import make
from groundtruth.env.aio import AsyncEnv

RUN_ID = "bench-vector"


def throughput(mode: str, shared: bool, n: int, steps: int) -> float:
    kwargs: dict[str, Any] = {"vector_kwargs": {"shared_memory": shared}} if mode == "async" else {}
    venv = gym.make_vec("groundtruth/Shell-v0", num_envs=n, vectorization_mode=mode, task="leaked-token",
                        run_id=RUN_ID, max_steps=steps + 5, **kwargs)
    try:
        venv.reset(seed=0)
        t = time.perf_counter()
        for i in range(steps):
            venv.step([{"tool": "bash", "cmd": f"echo {i} && ls /workspace"}] * n)
        return n * steps / (time.perf_counter() - t)
    finally:
        venv.close()


async def cancel_latency(repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        aenv = AsyncEnv(make("leaked-token", run_id=RUN_ID))
        try:
            await aenv.reset(seed=0)
            with anyio.move_on_after(1.0) as scope:
                await aenv.step({"tool": "bash", "cmd": "sleep 20"})
            out.append(anyio.current_time() - scope.deadline)
        finally:
            await aenv.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=3)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    rates = {
        "sync": throughput("sync", False, a.envs, a.steps),
        "async, shared memory": throughput("async", True, a.envs, a.steps),
        "async, pipes": throughput("async", False, a.envs, a.steps),
    }
    lat = anyio.run(cancel_latency, 5)
    if a.json:
        print(json.dumps({"env_steps_per_s": rates, "cancel_latency_s": lat}))
        return
    base = rates["sync"]
    for k, v in rates.items():
        print(f"{k:24s} {v:7.2f} env-steps/s  x{v / base:.2f} vs sync")
    print(f"cancel -> step returned: median {statistics.median(lat):.2f} s, max {max(lat):.2f} s (n={len(lat)})")


if __name__ == "__main__":
    main()
