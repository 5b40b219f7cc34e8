"""What a verification produces: three-valued check results rolled up into a Verdict."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


class ObjectiveStatus(StrEnum):
    COMPLETE = "COMPLETE"
    ATTEMPTED = "ATTEMPTED"
    INCOMPLETE = "INCOMPLETE"


class CheckResult(BaseModel):
    id: str
    type: str
    kind: Literal["goal", "collateral"]
    status: Status
    reason: str = ""
    seconds: float = 0.0
    canary: bool = False


class GoalItemResult(BaseModel):
    id: str
    kind: Literal["objective", "requirement", "preference"]
    status: ObjectiveStatus
    checks: list[str]


class IntegrityFinding(BaseModel):
    path: str
    kind: Literal["modified", "added", "deleted", "canary", "unreadable"]
    evidence: str


class Verdict(BaseModel):
    task: str
    variant: str
    outcome: Literal["success", "failure", "unknown"]
    tampered: bool = False
    checks: list[CheckResult] = Field(default_factory=list)
    goal: list[GoalItemResult] = Field(default_factory=list)
    integrity: list[IntegrityFinding] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)

    @property
    def success(self) -> bool:
        """The binary verified outcome: only a clean, untampered success counts."""
        return self.outcome == "success" and not self.tampered

    def status_of(self, check_id: str) -> Status:
        for c in self.checks:
            if c.id == check_id:
                return c.status
        raise KeyError(check_id)


class Unknown(Exception):
    """Raised by a custom check that cannot decide; it becomes an unknown result, never a pass."""


def roll_up(statuses: list[Status]) -> ObjectiveStatus:
    """COMPLETE when every check passes, INCOMPLETE when every one fails, ATTEMPTED in between or unknown."""
    if statuses and all(s is Status.PASS for s in statuses):
        return ObjectiveStatus.COMPLETE
    if statuses and all(s is Status.FAIL for s in statuses):
        return ObjectiveStatus.INCOMPLETE
    return ObjectiveStatus.ATTEMPTED


def outcome_of(results: list[CheckResult]) -> Literal["success", "failure", "unknown"]:
    """A definite failure beats unknown; success needs every check to pass."""
    if any(r.status is Status.FAIL for r in results):
        return "failure"
    if any(r.status is Status.UNKNOWN for r in results):
        return "unknown"
    return "success"
