"""UGST goal states: the starting state of a task's user, validating states a model proposes, and what a user
who can look at the state sees per objective."""

from __future__ import annotations

from typing import Any

from groundtruth.checks.results import ObjectiveStatus
from groundtruth.records import Aligned, Claim, GoalState
from groundtruth.simulators.base import StateView, TrackedGoalState
from groundtruth.tasks.spec import Goal

COMPLETE = ObjectiveStatus.COMPLETE.value
ATTEMPTED = ObjectiveStatus.ATTEMPTED.value
INCOMPLETE = ObjectiveStatus.INCOMPLETE.value
STATUSES = (COMPLETE, ATTEMPTED, INCOMPLETE)

# Models say the same status many ways; anything else is rejected rather than guessed.
_STATUS_WORDS = {
    "complete": COMPLETE, "completed": COMPLETE, "done": COMPLETE, "finished": COMPLETE,
    "attempted": ATTEMPTED, "tried": ATTEMPTED, "blocked": ATTEMPTED,
    "incomplete": INCOMPLETE, "not done": INCOMPLETE, "pending": INCOMPLETE, "todo": INCOMPLETE,
    "in progress": INCOMPLETE, "not started": INCOMPLETE, "open": INCOMPLETE,
}
_ALIGNED_WORDS = {"aligned": Aligned.ALIGNED, "misaligned": Aligned.MISALIGNED, "not aligned": Aligned.MISALIGNED}


def initial_state(goal: Goal, turn: int = 0) -> TrackedGoalState:
    """Nothing is done when the user starts, and the user is who the task says it is."""
    return TrackedGoalState(
        turn=turn,
        preferences={p.id: Aligned.ALIGNED for p in goal.preferences},
        objectives={o.id: INCOMPLETE for o in goal.objectives},
        requirements={r.id: INCOMPLETE for r in goal.requirements},
    )


def as_status(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return _STATUS_WORDS.get(value.strip().lower().replace("_", " ").replace("-", " "))


def as_aligned(value: object) -> Aligned | None:
    if not isinstance(value, str):
        return None
    return _ALIGNED_WORDS.get(value.strip().lower().replace("_", " ").replace("-", " "))


def _items(value: object) -> dict[str, object] | None:
    """A mapping id -> status; models also send a list of {"id": ..., "status": ...}."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, object] = {}
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                out[item["id"]] = item.get("status", item.get("state"))
        return out
    return None


def merge_goal_state(previous: GoalState, proposed: object, goal: Goal,
                     turn: int) -> tuple[TrackedGoalState, list[str]]:
    """The proposed state where it is valid, the previous one wherever it is not; never raises.

    Unknown ids are ignored (a model cannot invent objectives), missing ids keep their previous status, and
    every rejected field is listed so the caller can record why a state did not move.
    """
    problems: list[str] = []
    base = TrackedGoalState.model_validate({**previous.model_dump(), "turn": turn, "stage": "dialogue",
                                            "notes": [], "heard": None, "said": ""})
    if proposed is None:
        return base, ["no goal_state given"]
    if not isinstance(proposed, dict):
        return base, [f"goal_state is not an object: {str(proposed)[:80]!r}"]
    update: dict[str, Any] = {}
    for field in ("profile", "policy"):
        if field in proposed:
            aligned = as_aligned(proposed[field])
            if aligned is None:
                problems.append(f"{field}: {proposed[field]!r} is not ALIGNED/MISALIGNED")
            else:
                update[field] = aligned
    known = {
        "objectives": [o.id for o in goal.objectives],
        "requirements": [r.id for r in goal.requirements],
        "preferences": [p.id for p in goal.preferences],
    }
    for field, ids in known.items():
        if field not in proposed:
            continue
        items = _items(proposed[field])
        if items is None:
            problems.append(f"{field}: not a mapping of ids")
            continue
        current = dict(getattr(base, field))
        for key, value in items.items():
            if key not in ids:
                problems.append(f"{field}: unknown id {key!r}")
                continue
            parsed: object = as_aligned(value) if field == "preferences" else as_status(value)
            if parsed is None:
                problems.append(f"{field}.{key}: invalid status {value!r}")
                continue
            current[key] = parsed
        update[field] = current
    return base.model_copy(update=update), problems


def view_summary(goal: Goal, view: StateView, forgotten: set[str] | None = None) -> dict[str, dict[str, str]]:
    """Per objective (and per requirement the user still tracks), each check's status as the user sees it."""
    forgotten = forgotten or set()
    out: dict[str, dict[str, str]] = {}
    for o in goal.objectives:
        out[f"objective {o.id}"] = {c: view.check(c) for c in o.checks}
    for r in goal.requirements:
        if r.checks and r.id not in forgotten:
            out[f"requirement {r.id}"] = {c: view.check(c) for c in r.checks}
    return out


def summary_lines(summary: dict[str, dict[str, str]]) -> list[str]:
    lines = []
    for item, checks in summary.items():
        passed = sum(s == "pass" for s in checks.values())
        detail = ", ".join(f"{c}={s}" for c, s in checks.items())
        lines.append(f"{item}: {passed}/{len(checks)} checks pass ({detail})")
    return lines


def judged_objectives(goal: Goal, claim: Claim | None, judged: dict[str, bool],
                      previous: GoalState) -> dict[str, str]:
    """What the user believes of each objective once it has judged: COMPLETE what it accepted, ATTEMPTED what
    the agent said it could not do (now or earlier in the dialogue), INCOMPLETE the rest."""
    out: dict[str, str] = {}
    for o in goal.objectives:
        said_failed = claim is not None and not claim.objectives.get(o.id, claim.success)
        if judged.get(o.id):
            out[o.id] = COMPLETE
        elif said_failed or previous.objectives.get(o.id) == ATTEMPTED:
            out[o.id] = ATTEMPTED
        else:
            out[o.id] = INCOMPLETE
    return out
