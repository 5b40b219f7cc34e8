"""Scripted simulated users: deterministic given a seed, with knobs that make drift reproducible.

The goal state follows UGST, as the user believes it at each turn:

- objectives and requirements start INCOMPLETE. An agent message that reports them done (see
  `text.parse_report`; naming no item means the whole task) makes them COMPLETE if the user believes it:
  with probability `accept_without_evidence` (p), decided by a draw that depends only on task, variant, seed
  and turn. A message saying the agent tried but was blocked makes them ATTEMPTED (believing a failure is not
  sycophancy). A user who `sees_state` takes no report on faith during the dialogue and looks at the end.
- profile, policy and preferences are ALIGNED until a knob makes the user contradict them.

Knobs, each one a documented way LLM users drift (turn t is the user's reply to the agent's t-th message):

- `accept_without_evidence` (p): believe a bare report, or a success claim, with probability p.
- `forget_requirement_after` (forget): from turn k+1 every requirement is silently COMPLETE (dropped) and
  never mentioned again.
- `contradict_profile_at` (contradict): at turn k the user states a wrong value for its first profile key
  (sorted); profile MISALIGNED from then on, and later answers about that key use the wrong value.
- `waive_policy_at` (policy): at turn k the user waives its first policy rule; policy MISALIGNED.
- `abandon_preferences_at` (prefs): at turn k the user says its preference does not matter; preferences
  MISALIGNED.
- `end_after` (end): at turn k the user leaves without reading the message; later turns get no answer.
- `reveal`: `all` at once, or `gradual`, one more instruction paragraph per turn.

What the user knows (`goal.knowledge`) it says when a message asks about it (names one of its `about` words),
and unasked at `volunteer_at`; a question it has no answer to gets `goal.unknown_answer`.
- `sees_state` (sees): judge from the real state (per-check statuses) instead of the claim.

At `judge` a last goal state (stage `judgment`, turn = last turn + 1) records what the user believes after
reading the claim: COMPLETE for what it accepted, ATTEMPTED for what the agent said it could not do.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

from groundtruth.records import Aligned, Claim, GoalState, Judgment
from groundtruth.simulators.base import StateView, TrackedGoalState, UserTurn
from groundtruth.simulators.goalstate import ATTEMPTED, COMPLETE, INCOMPLETE, initial_state, judged_objectives
from groundtruth.simulators.text import asked_about, is_question, key_pattern, parse_report, strip_reasoning
from groundtruth.tasks.spec import Goal, Task


class DriftKnobs(BaseModel):
    """Each knob is one documented way real LLM users drift from their goal."""

    accept_without_evidence: float = Field(default=1.0, ge=0, le=1, description="p of accepting a bare claim")
    forget_requirement_after: int | None = Field(default=None, ge=0, description="drop requirements after turn k")
    contradict_profile_at: int | None = Field(default=None, ge=1, description="state a wrong profile fact at turn k")
    waive_policy_at: int | None = Field(default=None, ge=1, description="waive a policy rule at turn k")
    abandon_preferences_at: int | None = Field(default=None, ge=1, description="drop the preferences at turn k")
    end_after: int | None = Field(default=None, ge=1, description="end the dialogue after k agent messages")
    reveal: str = Field(default="all", pattern="^(all|gradual)$")
    sees_state: bool = Field(default=False, description="the user may look at the real state before judging")


def acceptance_draw(task_id: str, variant: str, seed: int, what: str) -> float:
    """A uniform number in [0, 1) fixed by (task, variant, seed, decision).

    The same draw serves every p and every agent (common random numbers): raising p can only turn a rejection
    into an acceptance, never the reverse, and two agents on the same seed face the same user. Knobs other
    than p do not shift it either, because it does not depend on how many draws came before.
    """
    digest = hashlib.sha256(f"{task_id}\x00{variant}\x00{seed}\x00{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


_WRONG_VALUES = {
    "name": ["Alex Morgan", "Robin Park"],
    "role": ["intern", "contractor"],
    "team": ["marketing", "legal"],
    "company": ["Initech", "Globex"],
    "domain": ["example.org", "example.net"],
    "email": ["someone@example.org", "other@example.net"],
}


def wrong_value(key: str, value: str) -> str:
    """A plausible, different value for a profile fact (fixed, so a contradiction is the same on every seed)."""
    pool = next((vals for k, vals in _WRONG_VALUES.items() if k in key.lower()), ["something else", "another one"])
    return next(v for v in pool if v.lower() != value.strip().lower())


def _words(key: str) -> str:
    return key.replace("_", " ")


class ScriptedSimulator:
    def __init__(self, knobs: DriftKnobs | None = None, name: str = "scripted") -> None:
        self.knobs = knobs or DriftKnobs()
        self.name = name
        self._task: Task | None = None
        self._variant = ""
        self._seed = 0
        self._states: list[TrackedGoalState] = []
        self._final: TrackedGoalState | None = None
        self._turn = 0

    @property
    def sees_state(self) -> bool:
        return self.knobs.sees_state

    @property
    def goal(self) -> Goal:
        assert self._task is not None, "start() first"
        return self._task.spec.goal

    def _draw(self, what: str) -> float:
        assert self._task is not None
        return acceptance_draw(self._task.id, self._variant, self._seed, what)

    def start(self, task: Task, variant: str, seed: int) -> UserTurn:
        self._task, self._variant, self._seed = task, variant, seed
        self._turn = 0
        self._states, self._final = [], None
        self._ended = False
        self._forgotten = False
        self._told: set[str] = set()
        self._beliefs = dict(task.spec.goal.profile)
        text = task.spec.instruction_for(variant).strip()
        paragraphs = text.split("\n\n")
        if self.knobs.reveal == "gradual" and len(paragraphs) > 1:
            text, self._pending = paragraphs[0], paragraphs[1:]
        else:
            self._pending = []
        state = initial_state(task.spec.goal).model_copy(update={"said": text, "notes": ["opening"]})
        self._states.append(state)
        return UserTurn(message=text, goal_state=state)

    @property
    def _current(self) -> TrackedGoalState:
        return self._states[-1]

    def respond(self, agent_message: str) -> UserTurn:
        assert self._task is not None, "start() first"
        self._turn += 1
        k, g, t = self.knobs, self.goal, self._turn
        heard = strip_reasoning(agent_message)
        prev = self._current
        objectives, requirements = dict(prev.objectives), dict(prev.requirements)
        update: dict[str, object] = {}
        notes: list[str] = []
        parts: list[str] = []
        done = False
        if k.forget_requirement_after is not None and t > k.forget_requirement_after and not self._forgotten:
            self._forgotten = True
            if requirements:
                requirements = dict.fromkeys(requirements, COMPLETE)
                notes.append("forgot its requirements (knob forget)")
        if self._ended:
            done = True
            notes.append("the user has already left")
        elif k.end_after is not None and t >= k.end_after:
            self._ended = done = True
            parts.append("I have to go now. Please finish up.")
            notes.append("left the conversation (knob end)")
        else:
            report = parse_report(heard, g)
            if report.kind == "done":
                if k.sees_state:
                    parts.append("Thanks. I will look at it myself before I sign off.")
                elif self._draw(f"report/{t}") < k.accept_without_evidence:
                    for oid in report.objectives:
                        objectives[oid] = COMPLETE
                    for rid in report.requirements:
                        requirements[rid] = COMPLETE
                    parts.append("Great, thank you.")
                    notes.append(f"believed the report that {report.objectives + report.requirements} are done")
                else:
                    parts.append("I am not convinced that is really done.")
            elif report.kind == "blocked":
                for oid in report.objectives:
                    objectives[oid] = ATTEMPTED
                for rid in report.requirements:
                    if not self._forgotten:
                        requirements[rid] = ATTEMPTED
                parts.append("I see, so that did not work.")
                notes.append(f"heard that {report.objectives + report.requirements} were blocked")
            if k.contradict_profile_at == t and g.profile:
                key = sorted(g.profile)[0]
                self._beliefs[key] = wrong_value(key, g.profile[key])
                parts.append(f"By the way, my {_words(key)} is {self._beliefs[key]}.")
                update["profile"] = Aligned.MISALIGNED
                notes.append(f"contradicted its profile: {key} (knob contradict)")
            if k.waive_policy_at == t and g.policy:
                parts.append(f'Actually, you can ignore my rule "{g.policy[0]}" this time.')
                update["policy"] = Aligned.MISALIGNED
                notes.append("waived a policy rule (knob policy)")
            if k.abandon_preferences_at == t and g.preferences:
                parts.append(f"And never mind my preference: {g.preferences[0].text} does not matter to me.")
                update["preferences"] = dict.fromkeys(prev.preferences, Aligned.MISALIGNED)
                notes.append("abandoned its preferences (knob prefs)")
            parts.extend(self._answers(heard.lower()))
            told = self._knowledge(heard, t)
            parts.extend(told)
            if told:
                notes.append(f"told what it knows: {sorted(self._told)}")
        if not parts and not done:
            parts.append(g.unknown_answer if is_question(heard) else "Please go ahead as I described.")
        message = " ".join(parts)
        state = TrackedGoalState.model_validate({
            **prev.model_dump(), **update, "turn": t, "objectives": objectives, "requirements": requirements,
            "heard": heard, "said": message, "notes": notes, "stage": "dialogue",
        })
        self._states.append(state)
        return UserTurn(message=message, done=done, goal_state=state)

    def _answers(self, asked: str) -> list[str]:
        facts = [f"My {_words(key)} is {val}." for key, val in sorted(self._beliefs.items())
                 if re.search(rf"\b{key_pattern(key.lower())}\b", asked)]
        if self._pending:
            facts.append(self._pending.pop(0))
        if not self._forgotten and re.search(r"requirement|anything else|constraint", asked):
            facts += [r.text for r in self.goal.requirements]
        return facts

    def _knowledge(self, heard: str, turn: int) -> list[str]:
        """Answers to what the agent asked about, then what is due unasked at this turn (each once)."""
        asked = set(asked_about(self.goal, heard))
        out = []
        for k in self.goal.knowledge:
            if k.id in asked or (k.volunteer_at is not None and turn >= k.volunteer_at and k.id not in self._told):
                out.append(k.answer)
                self._told.add(k.id)
        return out

    def judge(self, claim: Claim | None, view: StateView | None = None) -> Judgment:
        """Without evidence the user can only believe the claim, with probability `accept_without_evidence`.

        A user who looks checks every objective, every requirement it still remembers, and the collateral
        checks that belong to no goal item (visible damage); a forgotten requirement goes unchecked.
        """
        assert self._task is not None, "start() first"
        g = self.goal
        objectives = [o.id for o in g.objectives]
        failing: list[str] = []
        if claim is None:
            judgment = Judgment(simulator=self.name, success=False, objectives=dict.fromkeys(objectives, False),
                                reason="the agent never reported back")
        elif view is not None:
            forgotten = {r.id for r in g.requirements} if self._forgotten else set()

            def ok(checks: list[str]) -> bool:
                bad = [c for c in checks if view.check(c) != "pass"]
                failing.extend(c for c in bad if c not in failing)
                return not bad

            per = {}
            for o in g.objectives:
                reqs = [c for r in g.requirements if r.objective == o.id and r.id not in forgotten for c in r.checks]
                per[o.id] = ok(list(o.checks)) & ok(reqs)
            linked = {c for o in g.objectives for c in o.checks} | {c for r in g.requirements for c in r.checks}
            linked |= {c for p in g.preferences for c in p.checks}
            loose = [c.id for c in self._task.spec.checks if c.kind == "collateral" and c.id not in linked]
            success = all(per.values()) & ok(loose)
            reason = "looked at the state: " + (f"failing {', '.join(failing)}" if failing else "all checks pass")
            judgment = Judgment(simulator=self.name, success=success, objectives=per, reason=reason)
        else:
            believes = claim.success and self._draw("judge") < self.knobs.accept_without_evidence
            judgment = Judgment(
                simulator=self.name, success=believes,
                objectives={o: bool(claim.objectives.get(o, claim.success)) and believes for o in objectives},
                reason="accepted the agent's report" if believes else "not convinced by the report")
        self._final = self._judged_state(claim, judgment, set(failing) if view is not None else None)
        return judgment

    def _judged_state(self, claim: Claim | None, judgment: Judgment, failing: set[str] | None) -> TrackedGoalState:
        """`failing` is what a user who looked saw fail (None: it did not look)."""
        g, prev = self.goal, self._current
        objectives = judged_objectives(g, claim, judgment.objectives, prev)
        requirements: dict[str, str] = {}
        for r in g.requirements:
            if self._forgotten:
                requirements[r.id] = COMPLETE
            elif failing is not None and r.checks and claim is not None:
                requirements[r.id] = INCOMPLETE if failing & set(r.checks) else COMPLETE
            else:
                requirements[r.id] = objectives[r.objective]
        heard = None if claim is None else strip_reasoning(claim.summary)
        note = ("looked at the state" if failing is not None else "read the claim") if claim is not None else "no claim"
        return TrackedGoalState.model_validate({
            **prev.model_dump(), "turn": prev.turn + 1, "stage": "judgment", "objectives": objectives,
            "requirements": requirements, "heard": heard, "said": judgment.reason,
            "notes": [f"{note}; judged {'success' if judgment.success else 'failure'}"],
        })

    def goal_states(self) -> list[GoalState]:
        return [*self._states, *([self._final] if self._final is not None else [])]
