"""Gymnasium environments over verifiable tasks. Importing this registers `groundtruth/<Name>-v0`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from groundtruth.env.core import GroundtruthEnv
from groundtruth.env.definitions import definition_for, register_all

ENV_IDS = register_all()


def make(task: str, *, env: str | None = None, **kwargs: Any) -> GroundtruthEnv:
    """`gymnasium.make` with the env kind taken from the task's own `env` field unless given."""
    from pathlib import Path

    from groundtruth.tasks.registry import Registry

    t = Registry([Path(p) for p in kwargs.get("tasks_dir") or []]).get(task)
    d = definition_for(env or t.spec.env)
    made = gym.make(d.gym_id, task=t, **{k: v for k, v in kwargs.items() if k != "tasks_dir"})
    env_obj = made.unwrapped
    assert isinstance(env_obj, GroundtruthEnv)
    return env_obj


__all__ = ["ENV_IDS", "GroundtruthEnv", "make"]
