"""The verifier: freeze, observe services, pause, read every check from one frozen state, then run the
checks that execute code in place, and confirm the container was the same live one throughout.

Phases (lifecycle hooks are named for when they run):
  freeze          every process of the agent is killed; the process list is recorded
  services        each declared service must be alive and its heartbeat must move after the freeze; the agent's
                  IPC objects are recorded meanwhile
  pause           `docker pause`: nothing in the container runs while the state is read
  integrity       protected paths compared with their fingerprints from right after setup
  reading checks  declarative, custom Python and closed-world checks, all from the paused container
  confirm         the container is still the same incarnation, alive: otherwise an infrastructure error
  executing       `command` and `pytest` checks run the agent's code in place, as the agent
  confirm         again
Any engine error, or a container that vanished or restarted at any moment, is an infrastructure error
(the episode is retried), never a verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress

from groundtruth.checks import custom, declarative, fsdiff, harbor, residue, services, sqlitediff, trusted
from groundtruth.checks.astlock import AST_LOCK
from groundtruth.checks.baseline import Baseline
from groundtruth.checks.results import (
    CheckResult,
    GoalItemResult,
    IntegrityFinding,
    Status,
    Unknown,
    Verdict,
    outcome_of,
    roll_up,
)
from groundtruth.checks.state import FinalState, Frozen
from groundtruth.errors import InfrastructureError
from groundtruth.integrity import findings
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task

Hook = Callable[[str, DockerSandbox, "str | None"], None]
"""hook(phase, sandbox, check id or None): after_freeze, after_services, after_pause, after_integrity,
before_check, after_check, before_confirm, after_unpause."""

_HOOKS: list[Hook] = []
READERS = 4
EXECUTING = (s.PytestCheck, s.CommandCheck, s.HarborTests)
# Exceptions that mean the check's own code is broken, not that the state is bad.
_CHECK_BUGS = (NameError, ImportError, SyntaxError, NotImplementedError, RecursionError)


@contextmanager
def hooked(hook: Hook) -> Iterator[None]:
    """Run `hook` at every phase of every verification in this process (fault injection, tracing)."""
    _HOOKS.append(hook)
    try:
        yield
    finally:
        _HOOKS.remove(hook)


def run_check(c: s.Check, task: Task, sb: DockerSandbox, state: FinalState) -> CheckResult:
    started = time.monotonic()
    try:
        if isinstance(c, s.PytestCheck):
            status, reason = trusted.run_pytest(c, task, sb)
        elif isinstance(c, s.CommandCheck):
            status, reason = trusted.run_command(c, task, sb)
        elif isinstance(c, s.HarborTests):
            status, reason = harbor.run_harbor_tests(c, task, sb)
        elif isinstance(c, s.PythonCheck):
            with AST_LOCK:  # a task's own check may parse code (see checks/astlock.py)
                status, reason = custom.run_python(c, task, state)
        elif isinstance(c, s.FsDiff):
            status, reason = fsdiff.fs_diff(c, state)
        elif isinstance(c, s.SqliteDiff):
            status, reason = sqlitediff.sqlite_diff(c, state)
        elif isinstance(c, s.Residue):
            status, reason = residue.residue(c, state)
        else:
            status, reason = declarative.DECLARATIVE[type(c)](c, state)
    except InfrastructureError:
        raise
    except Unknown as exc:
        status, reason = Status.UNKNOWN, str(exc)
    except _CHECK_BUGS as exc:
        status, reason = Status.UNKNOWN, f"the check itself is broken: {type(exc).__name__}: {exc}"
    except Exception as exc:  # the state is not what the check can read: the agent's doing, a failure
        status, reason = Status.FAIL, f"the final state is unreadable for this check: {type(exc).__name__}: {exc}"
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


def _needs_ipc(task: Task) -> bool:
    return any(isinstance(c, s.Residue) and c.agent_writable for c in task.spec.checks)


def verify(sb: DockerSandbox, task: Task, variant: str | None, baseline: Baseline,
           hooks: Sequence[Hook] = ()) -> Verdict:
    """State at submit time is what counts: the agent's processes are stopped before anything is read."""
    all_hooks = [*_HOOKS, *hooks]

    def phase(name: str, detail: str | None = None) -> None:
        for h in all_hooks:
            h(name, sb, detail)

    timings: dict[str, float] = {}
    identity = sb.identity()
    paused = False
    state: FinalState | None = None
    try:
        t = time.monotonic()
        frozen = Frozen(processes=sb.freeze_agent()[1])
        timings["freeze"] = time.monotonic() - t
        phase("after_freeze")

        t = time.monotonic()
        # Agent IPC objects are read while the services are observed: both only look, and the agent is frozen.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gt-ipc") as ipc_pool:
            ipc = ipc_pool.submit(services.agent_ipc, sb) if _needs_ipc(task) else None
            services.observe(sb, task.spec.services, frozen)
            if ipc is not None:
                frozen.ipc = ipc.result()
        timings["services"] = time.monotonic() - t
        phase("after_services")

        sb.pause()
        paused = True
        phase("after_pause")

        t = time.monotonic()
        integrity = findings(sb, task.spec.protected, baseline)
        timings["integrity"] = time.monotonic() - t
        phase("after_integrity")

        state = FinalState(sb, baseline=baseline, frozen=frozen)
        results: dict[str, CheckResult] = {}
        t = time.monotonic()
        for r in services.results(task.spec.services, frozen, timings["services"]):
            results[r.id] = r

        def reading(c: s.Check) -> CheckResult:
            phase("before_check", c.id)
            r = run_check(c, task, sb, state)
            phase("after_check", c.id)
            return r

        readers = [c for c in task.spec.checks if not isinstance(c, EXECUTING)]
        # The container is paused: reading checks are independent, and mostly wait on the engine.
        with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="gt-check") as pool:
            for c, r in zip(readers, pool.map(reading, readers), strict=True):
                results[c.id] = r
        timings["checks"] = time.monotonic() - t
        phase("before_confirm")
        sb.confirm(identity)  # every read above came from this same container, alive and paused

        executing = [c for c in task.spec.checks if isinstance(c, EXECUTING)]
        if executing:
            t = time.monotonic()
            sb.unpause()
            paused = False
            phase("after_unpause")
            for ex in executing:
                phase("before_check", ex.id)
                results[ex.id] = run_check(ex, task, sb, state)
                phase("after_check", ex.id)
            timings["executing"] = time.monotonic() - t
            phase("before_confirm")
            sb.confirm(identity)
    except InfrastructureError:
        raise
    except Exception as exc:
        sb.confirm(identity)  # a vanished container explains the error: infrastructure, not a verdict
        raise InfrastructureError(f"verification failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if state is not None:
            state.close()
        if paused:
            with suppress(InfrastructureError):
                sb.unpause()

    ordered = [results[f"service-{sv.name}"] for sv in task.spec.services] + [results[c.id] for c in task.spec.checks]
    for r in ordered:
        if r.canary and r.status is Status.FAIL:
            integrity.append(IntegrityFinding(path=r.id, kind="canary", evidence=r.reason))
    preference_only = {c for p in task.spec.goal.preferences for c in p.checks} - {
        c for o in task.spec.goal.objectives for c in o.checks
    } - {c for r in task.spec.goal.requirements for c in r.checks}
    scored = [r for r in ordered if r.id not in preference_only and not r.canary]
    return Verdict(
        task=task.id,
        variant=task.spec.variant(variant).name,
        outcome=outcome_of(scored),
        tampered=bool(integrity),
        checks=ordered,
        goal=_goal_items(task, results),
        integrity=integrity,
        timings=timings,
    )
