"""Scripted simulated users: deterministic given a seed, with knobs that make drift reproducible."""

from __future__ import annotations

import random
import re

from pydantic import BaseModel, Field

from groundtruth.checks.results import ObjectiveStatus
from groundtruth.records import Aligned, Claim, GoalState, Judgment
from groundtruth.simulators.base import StateView, UserTurn
from groundtruth.tasks.spec import Task


class DriftKnobs(BaseModel):
    """Each knob is one documented way real LLM users drift from their goal."""

    accept_without_evidence: float = Field(default=1.0, ge=0, le=1, description="p of accepting a bare claim")
    forget_requirement_after: int | None = Field(default=None, description="drop requirements after turn k")
    contradict_profile_at: int | None = Field(default=None, description="state a wrong profile fact at turn k")
    end_after: int | None = Field(default=None, description="end the dialogue after k agent messages")
    reveal: str = Field(default="all", pattern="^(all|gradual)$")
    sees_state: bool = Field(default=False, description="the user may look at the real state before judging")


class ScriptedSimulator:
    def __init__(self, knobs: DriftKnobs | None = None, name: str = "scripted") -> None:
        self.knobs = knobs or DriftKnobs()
        self.name = name
        self._states: list[GoalState] = []
        self._task: Task | None = None
        self._rng = random.Random(0)
        self._turn = 0

    @property
    def sees_state(self) -> bool:
        return self.knobs.sees_state

    def start(self, task: Task, variant: str, seed: int) -> UserTurn:
        self._task, self._variant = task, variant
        self._rng = random.Random(f"{task.id}/{variant}/{seed}/{self.name}")
        self._turn = 0
        self._states = []
        text = task.spec.instruction_for(variant)
        if self.knobs.reveal == "gradual":
            first = text.strip().split("\n\n")[0]
            self._pending = text.strip().split("\n\n")[1:]
            text = first
        else:
            self._pending = []
        return UserTurn(message=text, goal_state=self._record())

    def _record(self) -> GoalState:
        assert self._task is not None
        g = self._task.spec.goal
        k = self.knobs
        forgot = k.forget_requirement_after is not None and self._turn > k.forget_requirement_after
        contradicted = k.contradict_profile_at is not None and self._turn >= k.contradict_profile_at
        state = GoalState(
            turn=self._turn,
            profile=Aligned.MISALIGNED if contradicted else Aligned.ALIGNED,
            policy=Aligned.ALIGNED,
            preferences={p.id: Aligned.ALIGNED for p in g.preferences},
            objectives={o.id: ObjectiveStatus.INCOMPLETE.value for o in g.objectives},
            requirements={r.id: (ObjectiveStatus.COMPLETE.value if forgot else ObjectiveStatus.INCOMPLETE.value)
                          for r in g.requirements},
        )
        self._states.append(state)
        return state

    def respond(self, agent_message: str) -> UserTurn:
        assert self._task is not None
        self._turn += 1
        g = self._task.spec.goal
        k = self.knobs
        if k.end_after is not None and self._turn >= k.end_after:
            return UserTurn(message="I have to go now. Please finish up.", done=True, goal_state=self._record())
        if k.contradict_profile_at is not None and self._turn == k.contradict_profile_at and g.profile:
            key = sorted(g.profile)[0]
            return UserTurn(message=f"By the way, my {key} is not {g.profile[key]}.", goal_state=self._record())
        asked = agent_message.lower()
        facts = [f"My {key} is {val}." for key, val in sorted(g.profile.items())
                 if re.search(rf"\b{re.escape(key.lower())}\b", asked)]
        if self._pending:
            facts.append(self._pending.pop(0))
        forgot = k.forget_requirement_after is not None and self._turn > k.forget_requirement_after
        if not forgot and ("requirement" in asked or "anything else" in asked):
            facts += [r.text for r in g.requirements]
        reply = " ".join(facts) if facts else "Please go ahead as I described."
        return UserTurn(message=reply, goal_state=self._record())

    def judge(self, claim: Claim | None, view: StateView | None = None) -> Judgment:
        """Without evidence the user can only believe the claim, with probability `accept_without_evidence`."""
        assert self._task is not None
        objectives = [o.id for o in self._task.spec.goal.objectives]
        if claim is None:
            return Judgment(simulator=self.name, success=False, objectives=dict.fromkeys(objectives, False),
                            reason="the agent never reported back")
        if view is not None:
            per = {o.id: all(view.check(c) == "pass" for c in o.checks) for o in self._task.spec.goal.objectives}
            return Judgment(simulator=self.name, success=all(per.values()), objectives=per,
                            reason="looked at the state")
        believes = claim.success and self._rng.random() < self.knobs.accept_without_evidence
        return Judgment(simulator=self.name, success=believes,
                        objectives={o: bool(claim.objectives.get(o, claim.success)) and believes for o in objectives},
                        reason="accepted the agent's report" if believes else "not convinced by the report")

    def goal_states(self) -> list[GoalState]:
        return list(self._states)
