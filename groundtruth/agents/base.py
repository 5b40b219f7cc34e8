"""Agents map observations to actions and end with a claim. Scripted ones may read the task spec."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from groundtruth.tasks.spec import Task

Action = dict[str, Any] | str


class EpisodeContext(BaseModel):
    """What an agent is told at the start. `task` is for scripted reference agents only."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task: Task
    variant: str
    seed: int
    observation: str
    tools: list[str]
    memory: list[str] = []


class EpisodeEnd(BaseModel):
    """What an agent may learn afterwards: only the binary feedback bit, never checker contents."""

    feedback: bool | None
    claimed: bool | None


@runtime_checkable
class Agent(Protocol):
    name: str

    def begin(self, ctx: EpisodeContext) -> None: ...

    def act(self, observation: str) -> Action: ...

    def end(self, result: EpisodeEnd) -> None: ...

    def close(self) -> None: ...
