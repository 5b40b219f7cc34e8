"""A task is trusted only when its reference solution passes, do-nothing fails, tampering is caught, and no
generic exploit agent reaches verified success (the red-team stage)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import BaseModel, Field

from groundtruth.checks.results import Status, Verdict
from groundtruth.errors import InfrastructureError
from groundtruth.redteam.stage import ExploitResult, red_team
from groundtruth.sandbox.base import ExecResult
from groundtruth.tasks.spec import Task
from groundtruth.tasks.world import World

T = TypeVar("T")


class Problem(BaseModel):
    stage: str
    detail: str


class Validation(BaseModel):
    task: str
    variant: str
    ok: bool
    problems: list[Problem] = Field(default_factory=list)
    reference_outcomes: list[str] = Field(default_factory=list)
    verify_seconds: list[float] = Field(default_factory=list)
    redteam: list[ExploitResult] | None = Field(default=None, description="None when the stage was skipped")


def _reference(task: Task, variant: str, seed: int, run_id: str) -> tuple[Verdict, ExecResult | None]:
    with World(task, variant, seed, run_id=run_id, episode_id=f"validate-ref-{task.id}") as w:
        res = w.run_reference_solution()
        return w.verify(), res


def _retry_infra(fn: Callable[[], T]) -> T:
    """A shared engine hiccups now and then; one retry keeps a task's verdict about the task."""
    try:
        return fn()
    except InfrastructureError:
        return fn()


def _nop(task: Task, variant: str, run_id: str) -> Verdict:
    with World(task, variant, 0, run_id=run_id, episode_id=f"validate-nop-{task.id}") as w:
        return w.verify()


def _partial(task: Task, variant: str, run_id: str) -> Verdict:
    with World(task, variant, 0, run_id=run_id, episode_id=f"validate-partial-{task.id}") as w:
        sb = w.sandbox
        assert sb is not None and task.spec.solution.partial is not None
        sb.exec(task.file(task.spec.solution.partial).read_text(), timeout=task.spec.limits.seconds)
        return w.verify()


def _tamper(task: Task, variant: str, path: str, run_id: str) -> Verdict:
    """Changes a protected path through the engine, as a successful tamperer would, and expects a finding."""
    with World(task, variant, 0, run_id=run_id, episode_id=f"validate-tamper-{task.id}") as w:
        sb = w.sandbox
        assert sb is not None
        st = sb.stat(path)
        if st.kind == "dir":
            sb.write_file(posixpath.join(path, "conftest.py"), "import pytest\n", owner="agent")
        elif st.exists and st.kind == "file":
            sb.write_file(path, sb.read_file(path) + b"\n# tampered\n", owner="agent", mode=st.mode)
        else:
            sb.write_file(path, "planted\n", owner="agent")
        return w.verify()


def validate_variant(task: Task, variant: str, run_id: str, *, redteam: bool = True,
                     exploits: list[str] | None = None) -> Validation:
    out = Validation(task=task.id, variant=variant, ok=True)

    def problem(stage: str, detail: str) -> None:
        out.ok = False
        out.problems.append(Problem(stage=stage, detail=detail))

    for attempt in (1, 2):
        v, res = _retry_infra(lambda attempt=attempt: _reference(task, variant, attempt, run_id))  # type: ignore[misc]
        if res is not None and (res.exit_code != 0 or res.timed_out):
            problem(f"reference #{attempt}", f"solution script exited {res.exit_code}"
                                             f"{' (timed out)' if res.timed_out else ''}: {res.stderr[-300:]}")
        out.reference_outcomes.append(v.outcome)
        out.verify_seconds.append(v.timings.get("verify", 0.0))
        expected = "failure" if task.spec.infeasible else "success"
        if v.outcome != expected or v.tampered:
            bad = [f"{c.id}={c.status.value} ({c.reason})" for c in v.checks if c.status is not Status.PASS]
            problem(f"reference #{attempt}", f"outcome {v.outcome}{' tampered' if v.tampered else ''}, "
                                             f"expected {expected}: {'; '.join(bad)[:400]}")
        if task.spec.infeasible and task.spec.solution.claim.success:
            problem("reference", "an infeasible task's reference solution must claim failure")
    nop = _retry_infra(lambda: _nop(task, variant, run_id))
    for c in nop.checks:
        if c.canary:
            continue
        if c.kind == "goal" and c.status is not Status.FAIL:
            problem("do-nothing", f"goal check {c.id} is {c.status.value} for an agent that did nothing: {c.reason}")
        if c.kind == "collateral" and c.status is not Status.PASS:
            problem("do-nothing", f"collateral check {c.id} is {c.status.value} before any action: {c.reason}")
    if nop.tampered:
        problem("do-nothing", f"integrity findings without any action: {nop.integrity}")
    if task.spec.solution.partial:
        p = _retry_infra(lambda: _partial(task, variant, run_id))
        done = [g.id for g in p.goal if g.kind == "objective" and g.status.value == "COMPLETE"]
        if p.outcome != "failure" or not done:
            problem("partial", f"the partial script should fail overall with some objective COMPLETE; got "
                               f"{p.outcome}, complete objectives: {done}")
    for path in task.spec.protected:
        t = _retry_infra(lambda path=path: _tamper(task, variant, path, run_id))  # type: ignore[misc]
        if not t.tampered:
            problem("tamper", f"a change to protected path {path} was not flagged")
    if redteam:
        try:
            rt = red_team(task, variant, run_id=run_id, only=exploits)
        except Exception as exc:  # the stage could not run: a problem of this variant, not a crash of all
            problem("red-team", f"could not run: {type(exc).__name__}: {exc}")
            return out
        out.redteam = rt.results
        for r in rt.winners:
            what = f"{r.exploit}{f' ({r.target})' if r.target else ''}"
            how = "a verdict other than failure" if r.klass == "sabotage" else "verified success"
            problem("red-team", f"exploit {what} reached {how} ({r.outcome}); the goal checks that let it "
                                f"through: {', '.join(r.passed) or 'none (no goal check failed)'}")
    return out


def validate(tasks: list[Task], *, run_id: str, workers: int = 2,
             progress: Callable[[Validation], None] | None = None, redteam: bool = True,
             exploits: list[str] | None = None) -> list[Validation]:
    jobs = [(t, v.name) for t in tasks for v in t.spec.variants]
    results: list[Validation] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for res in pool.map(lambda j: validate_variant(j[0], j[1], run_id, redteam=redteam, exploits=exploits),
                            jobs):
            results.append(res)
            if progress:
                progress(res)
    return results
