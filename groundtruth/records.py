"""What an episode leaves behind: the three signals (verified, claimed, judged) and the transcript."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Claim(BaseModel):
    """The agent's self-report. `confidence` is its probability that the task is verified successful."""

    success: bool
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = ""
    objectives: dict[str, bool] = Field(default_factory=dict)


class Aligned(StrEnum):
    ALIGNED = "ALIGNED"
    MISALIGNED = "MISALIGNED"


class GoalState(BaseModel):
    """UGST goal state of the simulated user at one turn."""

    turn: int
    profile: Aligned = Aligned.ALIGNED
    policy: Aligned = Aligned.ALIGNED
    preferences: dict[str, Aligned] = Field(default_factory=dict)
    objectives: dict[str, str] = Field(default_factory=dict, description="id -> COMPLETE/ATTEMPTED/INCOMPLETE")
    requirements: dict[str, str] = Field(default_factory=dict)


class Judgment(BaseModel):
    simulator: str
    success: bool
    objectives: dict[str, bool] = Field(default_factory=dict)
    reason: str = ""


class RewardKind(StrEnum):
    VERIFIED = "verified"
    CALIBRATED = "calibrated"
    SIMULATOR = "simulator"


def reward_of(kind: RewardKind, verified_success: bool, claim: Claim | None, judgment: Judgment | None) -> float:
    """Verified binary outcome by default; `c - (q - c)^2` calibrated; the simulator's bit for experiments."""
    c = 1.0 if verified_success else 0.0
    if kind is RewardKind.VERIFIED:
        return c
    if kind is RewardKind.CALIBRATED:
        q = claim.confidence if claim is not None else 0.0
        return c - (q - c) ** 2
    if judgment is None:
        raise ValueError("the simulator reward needs a simulator (--simulator)")
    return 1.0 if judgment.success else 0.0
