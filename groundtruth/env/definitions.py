"""Environment kinds, declared under `envs/*.toml` and registered as Gymnasium ids `groundtruth/<Name>-v0`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from groundtruth.errors import TaskSpecError
from groundtruth.resources import data_dir

ALL_TOOLS = ["bash", "read_file", "write_file", "ask_user", "submit"]


class EnvDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    key: str = Field(description="what task.toml's `env` field names")
    description: str = ""
    tools: list[str]
    conversation: bool = False
    default_simulator: str = "scripted"

    @property
    def gym_id(self) -> str:
        return f"groundtruth/{self.name}-v0"


def load_definitions(folder: Path | None = None) -> dict[str, EnvDefinition]:
    out: dict[str, EnvDefinition] = {}
    for path in sorted((folder or data_dir("envs")).glob("*.toml")):
        try:
            d = EnvDefinition.model_validate(tomllib.loads(path.read_text()))
        except (ValidationError, tomllib.TOMLDecodeError) as exc:
            raise TaskSpecError(f"{path}: invalid environment definition: {exc}") from exc
        bad = [t for t in d.tools if t not in ALL_TOOLS]
        if bad or "submit" not in d.tools:
            raise TaskSpecError(f"{path}: field tools: unknown {bad} or no submit; known: {ALL_TOOLS}")
        out[d.key] = d
    return out


def _factory(definition: EnvDefinition) -> Any:
    def make(**kwargs: Any) -> Any:
        from groundtruth.env.core import GroundtruthEnv

        return GroundtruthEnv(definition, **kwargs)

    return make


def register_all() -> list[str]:
    """Idempotent: registers every definition; `gymnasium.make("groundtruth/Shell-v0", task=...)` then works."""
    ids = []
    for d in load_definitions().values():
        if d.gym_id not in gym.registry:
            gym.register(id=d.gym_id, entry_point=_factory(d), disable_env_checker=True,
                         order_enforce=False, nondeterministic=False)
        ids.append(d.gym_id)
    return ids


def definition_for(key: str) -> EnvDefinition:
    defs = load_definitions()
    if key not in defs:
        raise TaskSpecError(f"no environment {key!r}; known: {sorted(defs)}")
    return defs[key]
