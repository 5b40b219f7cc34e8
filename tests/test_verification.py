"""The verifier's guarantees on real containers: one frozen state, live services, and a sandbox that dies at
any moment of verification is an infrastructure error that is retried, never a verdict.

The fixture task `svc-counter` has a service that ticks every 0.1 s, a config the agent edits, two checks
that read the service's counter 0.6 s apart, and a hidden test that runs the agent's code for 3 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundtruth.checks.results import Status
from groundtruth.errors import InfrastructureError
from groundtruth.runner import RunConfig, run
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.sandbox.engine import client
from groundtruth.store import Store
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.world import World
from groundtruth.verify import hooked

from .conftest import RUN_ID

pytestmark = pytest.mark.docker
FIXTURES = Path(__file__).parent / "fixtures" / "tasks"


@pytest.fixture(scope="module")
def task(sandbox_image: str) -> object:
    return Registry([FIXTURES]).get("svc-counter")


@pytest.fixture()
def world(task: object) -> Iterator[World]:
    with World(task, run_id=RUN_ID, episode_id="verification") as w:  # type: ignore[arg-type]
        yield w


def kill(sb: DockerSandbox) -> None:
    client().api.kill(sb.container_id)


def test_reference_passes_and_reads_are_frozen(world: World) -> None:
    world.run_reference_solution()
    v = world.verify()
    assert v.success, [(c.id, c.status, c.reason) for c in v.checks]
    a, b = (next(c.reason for c in v.checks if c.id == i) for i in ("counter-a", "counter-b"))
    assert a == b, "two reads 0.6 s apart saw different states: the container was not frozen"
    assert world.sandbox is not None
    time.sleep(0.5)  # the service runs again after verification (unpaused) and moved on
    assert world.sandbox.read_text("/var/lib/app/svc/counter").strip() != a.split()[-1]


def test_a_crashed_service_is_a_failure_with_evidence_not_unknown(world: World) -> None:
    assert world.sandbox is not None
    world.sandbox.exec("echo 'mode=off crash' > /workspace/svc.conf && sleep 0.5")
    v = world.verify()
    assert v.outcome == "failure", [(c.id, c.status, c.reason) for c in v.checks]
    svc = next(c for c in v.checks if c.id == "service-ticker")
    assert svc.status is Status.FAIL and "ticker is dead or stale" in svc.reason, svc
    assert v.status_of("mode-off") is Status.FAIL


def test_do_nothing_fails_on_the_goal_only(world: World) -> None:
    v = world.verify()
    assert v.outcome == "failure"
    assert v.status_of("mode-off") is Status.FAIL
    assert v.status_of("service-ticker") is Status.PASS


PHASES = ["after_freeze", "after_services", "after_pause", "after_integrity", "between_checks", "before_confirm",
          "during_test"]


def killer(phase: str, once: list[bool]) -> object:
    """A hook that kills the sandbox at `phase` (once per test): between checks = before the second reading
    check; during_test = 1 s into the hidden test, which runs the agent's code for 3 s."""

    def hook(name: str, sb: DockerSandbox, detail: str | None) -> None:
        if once[0]:
            return
        hit = (name == phase or (phase == "between_checks" and name == "before_check" and detail == "counter-a")
               or (phase == "before_confirm" and name == "before_confirm"))
        if phase == "during_test" and name == "before_check" and detail == "calc-works":
            once[0] = True
            threading.Timer(1.0, kill, args=(sb,)).start()
            return
        if hit:
            once[0] = True
            kill(sb)

    return hook


@pytest.mark.parametrize("phase", PHASES)
def test_a_sandbox_killed_during_verification_is_an_infrastructure_error(task: object, phase: str) -> None:
    once = [False]
    with World(task, run_id=RUN_ID, episode_id=f"kill-{phase}") as w, hooked(killer(phase, once)):  # type: ignore[arg-type]
        w.run_reference_solution()
        with pytest.raises(InfrastructureError):
            w.verify()
    assert once[0], f"the hook never reached {phase}"


@pytest.mark.parametrize("phase", PHASES)
def test_killed_verification_is_retried_to_the_correct_verdict(task: object, phase: str, tmp_path: Path) -> None:
    once = [False]
    db = tmp_path / "kill.db"
    config = RunConfig(tasks=["svc-counter"], agents=["oracle"], tasks_dir=[str(FIXTURES)], retries=2,
                       concurrency=1)
    with hooked(killer(phase, once)):  # type: ignore[arg-type]
        _, results = run(config, db)
    [r] = results
    assert once[0]
    assert r.status == "done" and r.classification == "true_success" and r.attempts == 2, r
    store = Store(db)
    try:
        errors = [row["error"] for row in store.db["attempts"].rows]
    finally:
        store.close()
    assert len(errors) == 1 and ("vanished" in errors[0] or "died" in errors[0] or "gone" in errors[0]
                                 or "engine" in errors[0].lower()), errors
