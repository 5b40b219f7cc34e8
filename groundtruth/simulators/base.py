"""The simulated user: it talks (in conversation envs), tracks its goal state per turn, and judges the end."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from groundtruth.records import Claim, GoalState, Judgment
from groundtruth.tasks.spec import Task


class TrackedGoalState(GoalState):
    """A goal state as stored: which phase produced it, and what the user heard and said at that turn.

    Keeping `heard` (the agent's message after its private reasoning was removed) and `said` beside the state
    lets drift be measured from the goal-state table alone, and shows what the user was actually shown.
    `notes` explain a change for human readers; drift metrics never trust them and recompute justification.
    Plain `GoalState.model_validate` ignores the extra fields, so older readers keep working.
    """

    stage: Literal["dialogue", "judgment"] = "dialogue"
    heard: str | None = None
    said: str = ""
    notes: list[str] = Field(default_factory=list)


class UserTurn(BaseModel):
    message: str
    done: bool = False
    goal_state: GoalState


class StateView(Protocol):
    """Read-only verification tools a simulator may be given (`sees_state`): the user can look."""

    def check(self, check_id: str) -> str: ...


class VerdictView:
    """The state as a user who can look would see it: one check's status at a time, nothing else."""

    def __init__(self, statuses: dict[str, str]) -> None:
        self._statuses = dict(statuses)

    def check(self, check_id: str) -> str:
        return self._statuses.get(check_id, "unknown")


@runtime_checkable
class Simulator(Protocol):
    name: str

    def start(self, task: Task, variant: str, seed: int) -> UserTurn: ...

    def respond(self, agent_message: str) -> UserTurn: ...

    def judge(self, claim: Claim | None, view: StateView | None = None) -> Judgment: ...

    def goal_states(self) -> list[GoalState]: ...
