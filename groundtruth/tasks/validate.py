"""A task is trusted only when its reference solution passes, do-nothing fails, tampering is caught, and no
generic exploit agent reaches verified success (the red-team stage)."""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from pydantic import BaseModel, Field

from groundtruth.checks.results import Status, Verdict
from groundtruth.errors import InfrastructureError
from groundtruth.redteam.stage import ExploitResult, red_team
from groundtruth.resources import data_dir
from groundtruth.sandbox.base import ExecResult
from groundtruth.sandbox.engine import LABEL_OWNER, owner_tag
from groundtruth.tasks.spec import Task
from groundtruth.tasks.world import World

T = TypeVar("T")


class Problem(BaseModel):
    stage: str
    detail: str


class Kept(BaseModel):
    """A sandbox left running by `--keep`, and how to get into it."""

    stage: str
    container: str
    enter: str


class Validation(BaseModel):
    task: str
    variant: str
    ok: bool
    problems: list[Problem] = Field(default_factory=list)
    warnings: list[Problem] = Field(default_factory=list)
    reference_outcomes: list[str] = Field(default_factory=list)
    verify_seconds: list[float] = Field(default_factory=list)
    redteam: list[ExploitResult] | None = Field(default=None, description="None when the stage was skipped")
    kept: list[Kept] = Field(default_factory=list)


@contextmanager
def _world(task: Task, variant: str, seed: int, run_id: str, stage: str,
           kept: list[Kept] | None) -> Iterator[World]:
    """A set-up world for one stage; with `kept` (--keep) its sandbox outlives the stage for debugging, and its
    owner label is one no stale sweep of another groundtruth process takes for a dead owner (only its
    time-to-live or `sandbox prune --run` removes it)."""
    labels = {LABEL_OWNER: f"{owner_tag()} (kept)"} if kept is not None else None
    w = World(task, variant, seed, run_id=run_id, episode_id=f"validate-{stage}-{task.id}", labels=labels)
    w.open()
    try:
        yield w
    finally:
        if kept is not None and w.sandbox is not None:
            cid = w.sandbox.container_id
            kept.append(Kept(stage=f"{stage} (seed {seed})", container=cid[:12],
                             enter=f"docker exec -it -u agent -w {w.sandbox.spec.workdir} {cid[:12]} bash"))
        else:
            w.close()


def reproduce_command(task: Task, variant: str, seed: int, script: str) -> str:
    """The `tasks shell` call that sets up the same world, runs the same script and leaves a shell open."""
    parts = ["groundtruth", "tasks", "shell", task.id]
    try:
        builtin = task.folder.parent.resolve() == data_dir("tasks").resolve()
    except FileNotFoundError:
        builtin = False
    if not builtin:
        parts += ["--tasks-dir", str(task.folder.parent)]
    parts += ["--variant", variant, "--seed", str(seed), "--run", script]
    return shlex.join(parts)


def _tail(res: ExecResult, limit: int = 600) -> str:
    """Both streams, each cut to its end: the error is usually the last thing a script printed."""
    out = []
    for name, text in (("stdout", res.stdout), ("stderr", res.stderr)):
        text = text.strip()
        if text:
            cut = "..." if len(text) > limit else ""
            out.append(f"--- {name} (last {min(len(text), limit)} chars) ---\n{cut}{text[-limit:]}")
    return "\n".join(out) or "(the script printed nothing)"


def _reference(task: Task, variant: str, seed: int, run_id: str,
               kept: list[Kept] | None = None) -> tuple[Verdict, ExecResult | None]:
    with _world(task, variant, seed, run_id, "ref", kept) as w:
        res = w.run_reference_solution()
        return w.verify(), res


def _retry_infra(fn: Callable[[], T]) -> T:
    """A shared engine hiccups now and then; one retry keeps a task's verdict about the task."""
    try:
        return fn()
    except InfrastructureError:
        return fn()


# Run as the agent before it acts: a protected path counts as tamperable when the agent may change it (a
# missing one when it may create it): `test -w` for its uid, groups and modes, or `-O`, since an owner can
# always chmod a read-only file back.
_WRITABLE = 'for p in "$@"; do if [ -e "$p" ]; then t="$p"; else t="$(dirname -- "$p")"; fi; ' \
            '{ [ -w "$t" ] || [ -O "$t" ]; } && printf "%s\\n" "$p"; done; true'


def _nop(task: Task, variant: str, run_id: str, kept: list[Kept] | None = None) -> tuple[Verdict, list[str]]:
    """Also lists the protected paths the agent could change, read before verification freezes it."""
    with _world(task, variant, 0, run_id, "nop", kept) as w:
        sb = w.sandbox
        assert sb is not None
        writable: list[str] = []
        if task.spec.protected:
            res = sb.exec(["/bin/sh", "-c", _WRITABLE, "sh", *task.spec.protected], timeout=30)
            writable = [ln for ln in res.stdout.splitlines() if ln]
        return w.verify(), writable


def _partial(task: Task, variant: str, run_id: str,
             kept: list[Kept] | None = None) -> tuple[Verdict, ExecResult]:
    with _world(task, variant, 0, run_id, "partial", kept) as w:
        sb = w.sandbox
        assert sb is not None and task.spec.solution.partial is not None
        res = sb.exec(task.file(task.spec.solution.partial).read_text(), timeout=task.spec.limits.seconds,
                      cwd=sb.spec.workdir)
        return w.verify(), res


def _tamper(task: Task, variant: str, path: str, run_id: str, kept: list[Kept] | None = None) -> Verdict:
    """Changes a protected path through the engine, as a successful tamperer would, and expects a finding."""
    with _world(task, variant, 0, run_id, "tamper", kept) as w:
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
                     exploits: list[str] | None = None, keep: bool = False) -> Validation:
    out = Validation(task=task.id, variant=variant, ok=True)
    kept = out.kept if keep else None

    def problem(stage: str, detail: str) -> None:
        out.ok = False
        out.problems.append(Problem(stage=stage, detail=detail))

    for attempt in (1, 2):
        v, res = _retry_infra(lambda attempt=attempt: _reference(task, variant, attempt, run_id, kept))  # type: ignore[misc]
        if res is not None and (res.exit_code != 0 or res.timed_out):
            problem(f"reference #{attempt}",
                    f"solution script exited {res.exit_code}{' (timed out)' if res.timed_out else ''}\n"
                    f"{_tail(res)}\nreproduce: {reproduce_command(task, variant, attempt, 'solution')}")
        out.reference_outcomes.append(v.outcome)
        out.verify_seconds.append(v.timings.get("verify", 0.0))
        expected = "failure" if task.spec.infeasible else "success"
        if v.outcome != expected or v.tampered:
            bad = [f"{c.id}={c.status.value} ({c.reason})" for c in v.checks if c.status is not Status.PASS]
            problem(f"reference #{attempt}", f"outcome {v.outcome}{' tampered' if v.tampered else ''}, "
                                             f"expected {expected}: {'; '.join(bad)[:400]}")
        if task.spec.infeasible and task.spec.solution.claim.success:
            problem("reference", "an infeasible task's reference solution must claim failure")
    nop, writable = _retry_infra(lambda: _nop(task, variant, run_id, kept))
    if task.spec.protected and not writable:
        out.warnings.append(Problem(stage="tamper", detail=(
            "no protected path is writable by the agent, so tampering is never really tried; make one "
            f"agent-owned (e.g. `owner = \"agent\"` on a setup file) of: {', '.join(task.spec.protected)}")))
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
        p, pres = _retry_infra(lambda: _partial(task, variant, run_id, kept))
        done = [g.id for g in p.goal if g.kind == "objective" and g.status.value == "COMPLETE"]
        if p.outcome != "failure" or not done:
            status = ", ".join(f"{g.id}={g.status.value}" for g in p.goal if g.kind == "objective")
            detail = (f"a partial script must complete at least one objective and leave the task failed overall "
                      f"(it is what the `partial` agent runs before claiming everything); got outcome {p.outcome}, "
                      f"objectives {status}")
            if pres.exit_code != 0 or pres.timed_out:
                detail += f"; the script exited {pres.exit_code}\n{_tail(pres)}"
            problem("partial", f"{detail}\nreproduce: {reproduce_command(task, variant, 0, 'partial')}")
    for path in task.spec.protected:
        t = _retry_infra(lambda path=path: _tamper(task, variant, path, run_id, kept))  # type: ignore[misc]
        if not t.tampered:
            problem("tamper", f"a change to protected path {path} was not flagged")
    if redteam:
        try:
            rt = red_team(task, variant, run_id=run_id, only=exploits)
        except Exception as exc:  # the stage could not run: a problem of this variant, not a crash of all
            problem("red-team", f"could not run: {type(exc).__name__}: {exc}")
            return out
        out.redteam = rt.results
        for r in rt.results:
            if r.outcome == "error":
                problem("red-team", f"exploit {r.exploit}{f' ({r.target})' if r.target else ''} {r.detail}")
        for r in rt.winners:
            what = f"{r.exploit}{f' ({r.target})' if r.target else ''}"
            how = "a verdict other than failure" if r.klass == "sabotage" else "verified success"
            problem("red-team", f"exploit {what} reached {how} ({r.outcome}); the goal checks that let it "
                                f"through: {', '.join(r.passed) or 'none (no goal check failed)'}")
    return out


def validate(tasks: list[Task], *, run_id: str, workers: int = 2,
             progress: Callable[[Validation], None] | None = None, redteam: bool = True,
             exploits: list[str] | None = None, keep: bool = False) -> list[Validation]:
    jobs = [(t, v.name) for t in tasks for v in t.spec.variants]
    results: list[Validation] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for res in pool.map(lambda j: validate_variant(j[0], j[1], run_id, redteam=redteam, exploits=exploits,
                                                       keep=keep), jobs):
            results.append(res)
            if progress:
                progress(res)
    return results
