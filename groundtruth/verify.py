"""The verifier: freeze the agent, check integrity, run every check from outside, roll up a Verdict."""

from __future__ import annotations

import time
from collections.abc import Iterable

from groundtruth.checks import custom, declarative, trusted
from groundtruth.checks.results import (
    CheckResult,
    GoalItemResult,
    IntegrityFinding,
    Status,
    Verdict,
    outcome_of,
    roll_up,
)
from groundtruth.checks.state import FinalState
from groundtruth.errors import InfrastructureError
from groundtruth.integrity import Baseline, findings
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task


def run_check(c: s.Check, task: Task, sb: DockerSandbox, state: FinalState) -> CheckResult:
    started = time.monotonic()
    try:
        if isinstance(c, s.PytestCheck):
            status, reason = trusted.run_pytest(c, task, sb)
        elif isinstance(c, s.CommandCheck):
            status, reason = trusted.run_command(c, task, sb)
        elif isinstance(c, s.PythonCheck):
            status, reason = custom.run_python(c, task, state)
        else:
            status, reason = declarative.DECLARATIVE[type(c)](c, state)
    except InfrastructureError:
        raise
    except Exception as exc:  # could not check: unknown, never pass
        status, reason = Status.UNKNOWN, f"could not check: {type(exc).__name__}: {exc}"
    return CheckResult(
        id=c.id, type=c.type, kind=c.kind, status=status, reason=reason, seconds=time.monotonic() - started,
        canary=c.canary,
    )


def _goal_items(task: Task, results: dict[str, CheckResult]) -> list[GoalItemResult]:
    g = task.spec.goal
    items: Iterable[tuple[str, str, list[str]]] = [
        *(("objective", o.id, o.checks) for o in g.objectives),
        *(("requirement", r.id, r.checks) for r in g.requirements),
        *(("preference", p.id, p.checks) for p in g.preferences),
    ]
    return [
        GoalItemResult(id=i, kind=k, status=roll_up([results[c].status for c in checks]), checks=checks)
        for k, i, checks in items if checks
    ]


def verify(sb: DockerSandbox, task: Task, variant: str | None, baseline: Baseline) -> Verdict:
    """State at submit time is what counts: the agent's processes are stopped before anything is read."""
    timings: dict[str, float] = {}
    t = time.monotonic()
    sb.stop_agent_processes()
    processes = sb.processes()
    timings["freeze"] = time.monotonic() - t

    t = time.monotonic()
    integrity = findings(sb, task.spec.protected, baseline)
    timings["integrity"] = time.monotonic() - t

    t = time.monotonic()
    state = FinalState(sb, processes)
    try:
        results = {c.id: run_check(c, task, sb, state) for c in task.spec.checks}
    finally:
        state.close()
    timings["checks"] = time.monotonic() - t

    for r in results.values():
        if r.canary and r.status is Status.FAIL:
            integrity.append(IntegrityFinding(path=r.id, kind="canary", evidence=r.reason))
    preference_only = {c for p in task.spec.goal.preferences for c in p.checks} - {
        c for o in task.spec.goal.objectives for c in o.checks
    } - {c for r in task.spec.goal.requirements for c in r.checks}
    scored = [r for cid, r in results.items() if cid not in preference_only and not r.canary]
    return Verdict(
        task=task.id,
        variant=task.spec.variant(variant).name,
        outcome=outcome_of(scored),
        tampered=bool(integrity),
        checks=list(results.values()),
        goal=_goal_items(task, results),
        integrity=integrity,
        timings=timings,
    )
