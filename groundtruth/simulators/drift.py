"""Drift of a simulated user, per conversation, from its stored goal states and lines.

- Local drift: a goal-state change at a turn that the agent's message of that turn does not justify (a
  requirement COMPLETE although nobody reported it done, a profile turning MISALIGNED because the user
  forgot who it is). Justification is decided by the same report parser the scripted user reads with.
- Global drift: where the user ends up against the task's goal: requirements dropped (made COMPLETE without
  justification and never taken back), items believed COMPLETE that the verifier says are not, and profile,
  policy or preferences left MISALIGNED.
- Factual contradictions: user lines stating a profile value other than the task's.
- Consistency: each user line against the user's prompt (its goal) and against its earlier lines, decided by
  a pluggable judge: `RuleJudge` (deterministic, for scripted users) or `LLMJudge` (same endpoint as the LLM
  simulator).

Everything except the store loader and the LLM judge is a pure function of its arguments.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from groundtruth.records import Aligned, Claim
from groundtruth.simulators.base import TrackedGoalState
from groundtruth.simulators.goalstate import ATTEMPTED, COMPLETE, INCOMPLETE
from groundtruth.simulators.text import (
    norm_value,
    parse_report,
    profile_statements,
    states_contradiction,
    strip_reasoning,
)
from groundtruth.tasks.spec import Goal

# -- data ---------------------------------------------------------------------------------------------------


class Conversation(BaseModel):
    """One episode as the drift metrics need it: goal states (with what was heard and said), claim, checks."""

    episode_id: str = ""
    task: str = ""
    simulator: str = ""
    states: list[TrackedGoalState]
    claim: Claim | None = None
    checks: dict[str, str] = Field(default_factory=dict, description="check id -> verifier status; {} = none")


class DriftEvent(BaseModel):
    turn: int
    item: str = Field(description="objective:ID, requirement:ID, preference:ID, profile, policy, profile:KEY")
    before: str
    after: str
    reason: str


class Consistency(BaseModel):
    consistent: bool | None = Field(description="None: the judge could not decide")
    reason: str = ""


class LineCheck(BaseModel):
    turn: int
    line: str
    prompt: Consistency
    previous: Consistency | None = Field(default=None, description="None for the first line")


class DriftReport(BaseModel):
    episode_id: str = ""
    task: str = ""
    simulator: str = ""
    judge: str = ""
    turns: int = Field(description="user replies after the opening")
    changes: int = Field(description="goal-state item changes over the whole conversation, judgment included")
    local: list[DriftEvent]
    local_drift: int
    local_drift_rate: float = Field(description="unjustified changes per turn transition")
    requirements_dropped: list[str]
    false_completions: list[str]
    final_misaligned: list[str]
    global_drift: int = Field(description="goal items the user ends wrong about (each counted once)")
    global_drift_rate: float = Field(description="global_drift over the goal's items (+ profile and policy)")
    contradictions: list[DriftEvent]
    lines: list[LineCheck]
    prompt_consistency: float | None
    line_consistency: float | None


# -- justification ------------------------------------------------------------------------------------------

Kind = Literal["objective", "requirement", "preference", "profile", "policy"]


def _changes(prev: TrackedGoalState, cur: TrackedGoalState) -> list[tuple[Kind, str, str, str]]:
    out: list[tuple[Kind, str, str, str]] = []
    maps: list[tuple[Kind, dict[str, Any], dict[str, Any]]] = [
        ("objective", prev.objectives, cur.objectives),
        ("requirement", prev.requirements, cur.requirements),
        ("preference", dict(prev.preferences), dict(cur.preferences)),
    ]
    for kind, before_map, after_map in maps:
        for key in sorted(set(before_map) | set(after_map)):
            before, after = str(before_map.get(key, "-")), str(after_map.get(key, "-"))
            if before != after:
                out.append((kind, key, before, after))
    if prev.profile != cur.profile:
        out.append(("profile", "", prev.profile.value, cur.profile.value))
    if prev.policy != cur.policy:
        out.append(("policy", "", prev.policy.value, cur.policy.value))
    return out


def _item(kind: str, key: str) -> str:
    return f"{kind}:{key}" if key else kind


def _checks_of(goal: Goal, kind: str, key: str) -> list[str]:
    found: list[list[str]] = [list(o.checks) for o in goal.objectives if kind == "objective" and o.id == key]
    found += [list(r.checks) for r in goal.requirements if kind == "requirement" and r.id == key]
    found += [list(p.checks) for p in goal.preferences if kind == "preference" and p.id == key]
    return found[0] if found else []


def _claimed(goal: Goal, claim: Claim | None, kind: str, key: str) -> bool | None:
    if claim is None:
        return None
    if kind == "requirement":
        key = next((r.objective for r in goal.requirements if r.id == key), key)
    return bool(claim.objectives.get(key, claim.success))


def justification(goal: Goal, state: TrackedGoalState, kind: Kind, key: str, after: str,
                  claim: Claim | None = None, checks: dict[str, str] | None = None) -> str | None:
    """Why a change is justified, or None when nothing the agent said (or showed) justifies it.

    Dialogue turns are justified by the agent's message of that turn; the judgment by the claim, or by the
    verifier's checks for an item the user could have looked at. Nothing the agent says can make the user
    who it is not: a turn to MISALIGNED is never justified, a return to ALIGNED always is.
    """
    if kind in ("profile", "policy", "preference"):
        return "back in line with the task" if after == Aligned.ALIGNED.value else None
    if state.stage == "judgment":
        claimed = _claimed(goal, claim, kind, key)
        if after == COMPLETE:
            if claimed:
                return "the claim reports it done"
            own = _checks_of(goal, kind, key)
            if checks and own and all(checks.get(c) == "pass" for c in own):
                return "the state shows it done"
            return None
        if after == ATTEMPTED:
            return "the claim reports it failed" if claimed is False else None
        return "the user did not accept it"
    heard = strip_reasoning(state.heard or "")
    report = parse_report(heard, goal)
    covered = report.objectives if kind == "objective" else report.requirements
    if after == COMPLETE and report.kind == "done" and key in covered:
        return "the agent reported it done"
    if after == ATTEMPTED and report.kind == "blocked" and key in covered:
        return "the agent reported it blocked"
    if after == INCOMPLETE and (report.reopened or re.search(rf"\b{re.escape(key)}\b", heard.lower())):
        return "the agent took it back"
    return None


# -- consistency judges -------------------------------------------------------------------------------------


class ConsistencyJudge(Protocol):
    name: str

    def prompt_to_line(self, goal: Goal, line: str) -> Consistency: ...

    def line_to_line(self, goal: Goal, previous: Sequence[str], line: str) -> Consistency: ...


_WAIVE = re.compile(r"\b(?:ignore|disregard|forget about|never mind|skip|drop)\b[^.!?]*\b(?:rule|policy|policies)\b",
                    re.I)
_UNPREFER = re.compile(r"\b(?:never mind|nevermind|forget)\b[^!?]*\bpreference|\bpreference[^!?]*\b(?:does not|doesn't)"
                       r" matter|\b(?:does not|doesn't) matter[^!?]*\bpreference", re.I)


class RuleJudge:
    """Deterministic: a line is inconsistent when it states a profile value other than the task's (or other
    than one it stated before), waives a rule, or gives up a preference; anything else is consistent.

    It knows only the phrasings of self-description ("my KEY is VALUE"), so it is exact for scripted users
    and a lower bound for free-text ones."""

    name = "rule"

    def prompt_to_line(self, goal: Goal, line: str) -> Consistency:
        for s in profile_statements(line, goal.profile):
            if states_contradiction(s, goal.profile[s.key]):
                said = f"not {s.value}" if s.negated else s.value
                return Consistency(consistent=False, reason=f"says its {s.key} is {said}, the task says "
                                                            f"{goal.profile[s.key]}")
        if goal.policy and _WAIVE.search(line):
            return Consistency(consistent=False, reason="waives one of its rules")
        if goal.preferences and _UNPREFER.search(line):
            return Consistency(consistent=False, reason="gives up one of its preferences")
        return Consistency(consistent=True, reason="nothing in the line contradicts the goal")

    def line_to_line(self, goal: Goal, previous: Sequence[str], line: str) -> Consistency:
        now = profile_statements(line, goal.profile)
        for earlier in previous:
            for before in profile_statements(earlier, goal.profile):
                for s in now:
                    if s.key != before.key:
                        continue
                    same = norm_value(s.value) == norm_value(before.value)
                    if (s.negated == before.negated and not same) or (s.negated != before.negated and same):
                        return Consistency(consistent=False, reason=f"its {s.key} was {before.value!r} earlier, "
                                                                    f"now {('not ' if s.negated else '') + s.value!r}")
        return Consistency(consistent=True, reason="no earlier line says otherwise")


def goal_text(goal: Goal) -> str:
    lines = [f"- {k.replace('_', ' ')}: {v}" for k, v in sorted(goal.profile.items())]
    lines += [f"- rule: {p}" for p in goal.policy]
    lines += [f"- wants: {o.text}" for o in goal.objectives]
    lines += [f"- requirement: {r.text}" for r in goal.requirements]
    lines += [f"- preference: {p.text}" for p in goal.preferences]
    return "\n".join(lines)


class LLMJudge:
    """The same OpenAI-compatible endpoint as the LLM simulator; an unreadable verdict is `None` (undecided),
    never a guess."""

    SYSTEM = ("You check whether a simulated user stays consistent. Reply with exactly one JSON object: "
              '{"consistent": true or false, "reason": "<one sentence>"}.')

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None) -> None:
        from groundtruth.simulators.llm import llm_client

        self.client, self.model = llm_client(base_url, model, api_key)
        self.name = f"llm:{self.model}"

    def _ask(self, prompt: str) -> Consistency:
        from openai import OpenAIError

        from groundtruth.errors import InfrastructureError
        from groundtruth.simulators.llm import as_bool, json_object

        messages: list[Any] = [{"role": "system", "content": self.SYSTEM}, {"role": "user", "content": prompt}]
        try:
            resp = self.client.chat.completions.create(model=self.model, temperature=0.0, max_tokens=120,
                                                       response_format={"type": "json_object"}, messages=messages)
        except OpenAIError as exc:
            raise InfrastructureError(f"the consistency judge's LLM endpoint failed: {exc}") from exc
        data = json_object(resp.choices[0].message.content or "") or {}
        verdict = as_bool(data.get("consistent"))
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        return Consistency(consistent=verdict, reason=str(reason)[:300] or ("" if verdict is not None else
                                                                            "the judge's answer was unreadable"))

    def prompt_to_line(self, goal: Goal, line: str) -> Consistency:
        return self._ask(f"The user's goal and profile:\n{goal_text(goal)}\n\nThe user's line:\n{line}\n\n"
                         "Is the line consistent with the goal and profile (no different profile facts, no "
                         "dropped requirement, no broken rule)?")

    def line_to_line(self, goal: Goal, previous: Sequence[str], line: str) -> Consistency:
        earlier = "\n".join(f"- {p}" for p in previous[-8:])
        return self._ask(f"The user's earlier lines:\n{earlier}\n\nThe user's new line:\n{line}\n\n"
                         "Is the new line consistent with the earlier lines (no fact stated differently)?")

    def close(self) -> None:
        self.client.close()


# -- metrics ------------------------------------------------------------------------------------------------


def _share(values: list[bool | None]) -> float | None:
    decided = [v for v in values if v is not None]
    return sum(decided) / len(decided) if decided else None


def drift_metrics(conv: Conversation, goal: Goal, judge: ConsistencyJudge | None = None) -> DriftReport:
    """All drift metrics of one conversation (see the module docstring); `judge` defaults to `RuleJudge`."""
    judge = judge or RuleJudge()
    states = sorted(conv.states, key=lambda s: (s.stage == "judgment", s.turn))
    local: list[DriftEvent] = []
    changes = 0
    unjustified_complete: set[str] = set()
    for prev, cur in itertools.pairwise(states):
        for kind, key, before, after in _changes(prev, cur):
            changes += 1
            why = justification(goal, cur, kind, key, after, conv.claim, conv.checks)
            if why is None:
                local.append(DriftEvent(turn=cur.turn, item=_item(kind, key), before=before, after=after,
                                        reason=f"nothing the agent said at turn {cur.turn} justifies it"
                                        if cur.stage == "dialogue" else "the claim does not justify it"))
                if kind == "requirement" and after == COMPLETE:
                    unjustified_complete.add(key)
            elif kind == "requirement":
                unjustified_complete.discard(key)
    transitions = max(1, len(states) - 1)
    final = states[-1] if states else None
    dropped, false_done, misaligned = [], [], []
    if final is not None:
        dropped = sorted(r.id for r in goal.requirements
                         if r.id not in final.requirements
                         or (r.id in unjustified_complete and final.requirements[r.id] == COMPLETE))
        if conv.checks:
            for kind, items in (("objective", goal.objectives), ("requirement", goal.requirements)):
                status_map = final.objectives if kind == "objective" else final.requirements
                for item in items:
                    if item.checks and status_map.get(item.id) == COMPLETE and any(
                            conv.checks.get(c) == "fail" for c in item.checks):
                        false_done.append(f"{kind}:{item.id}")
        if final.profile is Aligned.MISALIGNED:
            misaligned.append("profile")
        if final.policy is Aligned.MISALIGNED:
            misaligned.append("policy")
        misaligned += [f"preference:{p}" for p, a in sorted(final.preferences.items()) if a == Aligned.MISALIGNED]
    wrong = {f"requirement:{r}" for r in dropped} | set(false_done) | set(misaligned)
    n_items = len(goal.objectives) + len(goal.requirements) + len(goal.preferences) + 2
    dialogue = [s for s in states if s.stage == "dialogue"]
    contradictions = [
        DriftEvent(turn=s.turn, item=f"profile:{st.key}", before=goal.profile[st.key],
                   after=("not " if st.negated else "") + st.value, reason="the user states another profile value")
        for s in dialogue for st in profile_statements(s.said, goal.profile)
        if states_contradiction(st, goal.profile[st.key])
    ]
    lines: list[LineCheck] = []
    said: list[str] = []
    for s in dialogue:
        if not s.said.strip():
            continue
        lines.append(LineCheck(turn=s.turn, line=s.said, prompt=judge.prompt_to_line(goal, s.said),
                               previous=judge.line_to_line(goal, said, s.said) if said else None))
        said.append(s.said)
    return DriftReport(
        episode_id=conv.episode_id, task=conv.task, simulator=conv.simulator, judge=judge.name,
        turns=sum(1 for s in dialogue if s.turn > 0), changes=changes, local=local, local_drift=len(local),
        local_drift_rate=len(local) / transitions, requirements_dropped=dropped, false_completions=false_done,
        final_misaligned=misaligned, global_drift=len(wrong), global_drift_rate=len(wrong) / n_items,
        contradictions=contradictions, lines=lines,
        prompt_consistency=_share([line.prompt.consistent for line in lines]),
        line_consistency=_share([line.previous.consistent for line in lines if line.previous is not None]),
    )


class DriftSummary(BaseModel):
    conversations: int
    drifted: float = Field(description="share of conversations with any local or global drift")
    local_drift_rate: float
    global_drift_rate: float
    contradictions: int
    prompt_consistency: float | None
    line_consistency: float | None


def summarize(reports: Sequence[DriftReport]) -> DriftSummary:
    n = len(reports)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    def mean_opt(values: list[float | None]) -> float | None:
        decided = [v for v in values if v is not None]
        return sum(decided) / len(decided) if decided else None

    return DriftSummary(
        conversations=n,
        drifted=mean([float(r.local_drift > 0 or r.global_drift > 0) for r in reports]),
        local_drift_rate=mean([r.local_drift_rate for r in reports]),
        global_drift_rate=mean([r.global_drift_rate for r in reports]),
        contradictions=sum(len(r.contradictions) for r in reports),
        prompt_consistency=mean_opt([r.prompt_consistency for r in reports]),
        line_consistency=mean_opt([r.line_consistency for r in reports]),
    )


# -- from the store -----------------------------------------------------------------------------------------

_USER_PREFIX = "user: "
_ENDED = "\n(the user has ended the conversation)"


def load_conversation(store: Any, episode_id: str) -> Conversation:
    """Goal states, claim and check statuses of a stored episode (`store` is a `groundtruth.store.Store`).

    States written before `heard`/`said` were recorded get them from the `ask_user` steps instead (the
    opening line is then unknown)."""
    db = store.db
    ep = next(iter(db.query("select task, simulator from episodes where id = ?", [episode_id])), None)
    states = []
    for row in db.query("select turn, state from goal_states where episode_id = ? order by turn", [episode_id]):
        data = json.loads(row["state"])
        data["turn"] = row["turn"]
        states.append(TrackedGoalState.model_validate(data))
    asks = [row for row in db.query("select action, observation from steps where episode_id = ? and tool = "
                                    "'ask_user' order by idx", [episode_id])]
    for s in states:
        if s.stage != "dialogue" or s.turn < 1 or s.turn > len(asks) or s.heard is not None:
            continue
        row = asks[s.turn - 1]
        try:
            message = json.loads(row["action"]).get("message", "")
        except (json.JSONDecodeError, AttributeError):
            message = ""
        obs = str(row["observation"] or "")
        s.heard = strip_reasoning(str(message))
        s.said = obs.removeprefix(_USER_PREFIX).removesuffix(_ENDED)
    claim_row = next(iter(db.query("select success, confidence, summary, objectives from claims where "
                                   "episode_id = ?", [episode_id])), None)
    claim = None
    if claim_row is not None:
        claim = Claim(success=bool(claim_row["success"]), confidence=claim_row["confidence"],
                      summary=claim_row["summary"] or "", objectives=json.loads(claim_row["objectives"] or "{}"))
    checks = {r["check_id"]: r["status"] for r in db.query("select check_id, status from checks where "
                                                           "episode_id = ?", [episode_id])}
    return Conversation(episode_id=episode_id, task=ep["task"] if ep else "", simulator=(ep or {}).get("simulator")
                        or "", states=states, claim=claim, checks=checks)


def drift_for_run(store: Any, run_id: str | None = None, judge: ConsistencyJudge | None = None) -> list[DriftReport]:
    """Every finished episode with goal states, each against its task's goal (tasks found through the run's own
    `tasks_dir`)."""
    from groundtruth.tasks.registry import Registry

    where, args = ("e.run_id = ? and ", [run_id]) if run_id else ("", [])
    rows = list(store.db.query(
        f"select distinct e.id, e.run_id from episodes e join goal_states g on g.episode_id = e.id "
        f"where {where}e.status = 'done' order by e.started", args))
    registries: dict[str, Registry] = {}
    reports = []
    for row in rows:
        if row["run_id"] not in registries:
            dirs = store.run_config(row["run_id"]).get("tasks_dir") or []
            registries[row["run_id"]] = Registry([Path(d) for d in dirs])
        conv = load_conversation(store, row["id"])
        goal = registries[row["run_id"]].get(conv.task).spec.goal
        reports.append(drift_metrics(conv, goal, judge))
    return reports
