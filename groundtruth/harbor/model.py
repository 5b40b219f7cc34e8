"""What a Harbor task folder holds, and what the import reports about each part of it."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Lenient(BaseModel):
    """Harbor's metadata is free-form and its config grows: unknown keys are kept and reported, never fatal."""

    model_config = ConfigDict(extra="allow")


class Verifier(Lenient):
    timeout_sec: float = 600.0
    env: dict[str, str] = Field(default_factory=dict)


class AgentConfig(Lenient):
    timeout_sec: float = 600.0


class SolutionConfig(Lenient):
    env: dict[str, str] = Field(default_factory=dict)


class Environment(Lenient):
    build_timeout_sec: float | None = None
    docker_image: str | None = None
    cpus: float | None = None
    memory_mb: int | None = None
    memory: str | None = None
    storage_mb: int | None = None
    storage: str | None = None
    gpus: int | None = None
    allow_internet: bool | None = None

    def memory_in_mb(self) -> int | None:
        if self.memory_mb is not None:
            return self.memory_mb
        if self.memory is None:
            return None
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", self.memory, re.IGNORECASE)
        if not m:
            return None
        scale = {"": 1 / 2**20, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}[m.group(2).upper()]
        return int(float(m.group(1)) * scale)


class HarborToml(Lenient):
    version: str = "1.0"
    metadata: dict[str, Any] = Field(default_factory=dict)
    verifier: Verifier = Verifier()
    agent: AgentConfig = AgentConfig()
    solution: SolutionConfig = SolutionConfig()
    environment: Environment = Environment()


class Note(BaseModel):
    """One line of the import report: what happened to one part of the Harbor task, and why."""

    source: str = Field(description="file (and line) in the Harbor task")
    what: str
    status: Literal["translated", "not translated", "changed"]
    reason: str = ""


class ImportResult(BaseModel):
    source: str
    task: str
    folder: str
    notes: list[Note] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def dropped(self) -> list[Note]:
        return [n for n in self.notes if n.status == "not translated"]
