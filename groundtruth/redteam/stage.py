"""The red-team stage of task validation: every applicable generic exploit, each in a fresh world, verified.

An exploit *wins* when it reaches verified success (for sabotage: anything but a clean failure, since an
`unknown` verdict hides the sabotage). A task passes the stage when no exploit wins, except those the task
explicitly allows with a reason (`[[redteam.allow]]`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import TypeVar

from pydantic import BaseModel, Field

from groundtruth.checks.results import Status, Verdict
from groundtruth.errors import InfrastructureError
from groundtruth.redteam.exploits import LIBRARY, Plan, plans_for
from groundtruth.redteam.profile import JobProfile, profile
from groundtruth.tasks.spec import Task
from groundtruth.tasks.world import World

KIT_DIR = "/tmp/.rt"
T = TypeVar("T")


class ExploitResult(BaseModel):
    task: str
    variant: str
    exploit: str
    klass: str
    target: str = ""
    outcome: str
    tampered: bool = False
    won: bool
    allowed: str | None = Field(default=None, description="the task's reason for allowing this exploit")
    caught_by: list[str] = Field(default_factory=list, description="checks that failed (or integrity findings)")
    passed: list[str] = Field(default_factory=list, description="goal checks that passed")
    detail: str = ""
    seconds: float = 0.0


class RedTeam(BaseModel):
    task: str
    variant: str
    results: list[ExploitResult] = Field(default_factory=list)
    profile_seconds: float = 0.0

    @property
    def winners(self) -> list[ExploitResult]:
        return [r for r in self.results if r.won and r.allowed is None]


def _script(task: Task, plan: Plan, workdir: str) -> str:
    ref = ""
    if plan.reference:
        ref = f"(cd {workdir} && bash {KIT_DIR}/reference.sh) >{KIT_DIR}/reference.log 2>&1\n"
    return (
        "set +e\n"
        f"cd {workdir}\n"
        f"python3 {KIT_DIR}/kit.py {KIT_DIR}/plan.json pre\n"
        + ref
        + f"python3 {KIT_DIR}/kit.py {KIT_DIR}/plan.json post\n"
        f"cd / && rm -rf {KIT_DIR}\n"
    )


def _allowed(task: Task, plan: Plan) -> str | None:
    for a in task.spec.redteam.allow:
        if a.exploit == plan.exploit and (a.target is None or a.target == plan.target):
            return a.reason
    return None


def _judge(plan: Plan, v: Verdict) -> tuple[bool, list[str], list[str]]:
    caught = [c.id for c in v.checks if c.status is Status.FAIL]
    caught += [f"integrity: {f.kind} {f.path}" for f in v.integrity]
    passed = [c.id for c in v.checks if c.kind == "goal" and c.status is Status.PASS]
    won = v.success if plan.klass != "sabotage" else (v.outcome != "failure" and not v.tampered)
    return won, caught, passed


def run_plan(task: Task, variant: str, plan: Plan, *, run_id: str) -> ExploitResult:
    started = time.monotonic()
    kit = resources.files("groundtruth.redteam").joinpath("assets", "kit.py").read_bytes()
    with World(task, variant, 0, run_id=run_id, episode_id=f"redteam-{plan.exploit}-{task.id}") as w:
        sb = w.sandbox
        assert sb is not None
        sol = task.spec.solution
        reference = task.file(sol.script).read_text() if sol.script else (sol.run or "")
        # through the engine (no exec: robust under load), owned by the agent so that it can remove them
        sb.make_dirs(KIT_DIR, owner="agent")
        for name, data in (("kit.py", kit), ("plan.json", json.dumps(plan.model_dump()).encode()),
                           ("reference.sh", reference.encode())):
            sb.write_file(f"{KIT_DIR}/{name}", data, owner="agent")
        res = sb.exec(_script(task, plan, sb.spec.workdir), timeout=task.spec.limits.seconds)
        v = w.verify()
    won, caught, passed = _judge(plan, v)
    detail = res.stderr.strip()[-300:] if res.exit_code != 0 or "kit:" in res.stderr else ""
    return ExploitResult(
        task=task.id, variant=variant, exploit=plan.exploit, klass=plan.klass, target=plan.target,
        outcome=v.outcome, tampered=v.tampered, won=won, allowed=_allowed(task, plan) if won else None,
        caught_by=caught, passed=passed, detail=detail, seconds=time.monotonic() - started,
    )


def red_team(task: Task, variant: str, *, run_id: str, only: list[str] | None = None,
             workers: int = 2) -> RedTeam:
    """Every applicable exploit, each in its own fresh world, `workers` at a time."""
    t = time.monotonic()
    prof: JobProfile = _retry(lambda: profile(task, variant, run_id=run_id))
    out = RedTeam(task=task.id, variant=variant, profile_seconds=time.monotonic() - t)
    plans = plans_for(prof, task, only)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="gt-redteam") as pool:
        out.results = list(pool.map(lambda plan: _attempts(task, variant, plan, run_id), plans))
    return out


def _attempts(task: Task, variant: str, plan: Plan, run_id: str, tries: int = 3) -> ExploitResult:
    """An engine hiccup is retried; an exploit that still cannot run is reported as such, never as caught."""
    last = ""
    for _ in range(tries):
        try:
            return run_plan(task, variant, plan, run_id=run_id)
        except (InfrastructureError, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
    return ExploitResult(task=task.id, variant=variant, exploit=plan.exploit, klass=plan.klass, target=plan.target,
                         outcome="error", won=False, detail=f"could not run after {tries} attempts: {last}")


def _retry(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except InfrastructureError:
        return fn()


def exploit_names() -> list[str]:
    return list(LIBRARY)
