"""The graders the exploit tests compare ours with, as helpers.

`naive_grade`: the old design of hidden tests, a fresh container of the pristine image with copies of the
project and of the tests at a predictable path, pytest run there with the old `_isolated`
(naive_isolated.py). `old_check`: a hidden test file from before the rework (old/), run by our own in-place
harness on the same final state, i.e. the old check definition. `old_outcome`: every check of a task's old
task.toml (old/), evaluated on the same final state.
"""

from __future__ import annotations

import posixpath
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from pydantic import TypeAdapter

from groundtruth.checks import trusted
from groundtruth.checks.results import Status
from groundtruth.checks.state import FinalState, Frozen
from groundtruth.sandbox.base import SandboxSpec
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks.spec import Check, PytestCheck, Task
from groundtruth.verify import run_check

HERE = Path(__file__).resolve().parent
NAIVE_DIR = "/opt/groundtruth-verify"


class Naive:
    def __init__(self, passed: bool, output: str, files: dict[str, str]) -> None:
        self.passed, self.output, self.files = passed, output, files


def naive_grade(agent_sb: DockerSandbox, project: str, tests: list[Path], *, run_id: str,
                keep: tuple[str, ...] = (), wait_for: Callable[[DockerSandbox], object] | None = None) -> Naive:
    """Copy `project` from the agent's final state into a fresh container, the tests to NAIVE_DIR/tests, run
    pytest there as the agent; `keep` are files read back from that container before it goes."""
    spec = SandboxSpec(image=agent_sb.spec.image, run_id=run_id, episode_id="naive-grader", workdir="/")
    with DockerSandbox.create(spec, kind="verifier") as v:
        parent = posixpath.dirname(project.rstrip("/"))
        v.make_dirs(parent)
        v.put_archive(parent, agent_sb.read_tree(project))
        files = [("_isolated.py", (HERE / "naive_isolated.py").read_bytes())]
        files += [(f.name if f.name.startswith("test_") else f"test_{f.name}", f.read_bytes()) for f in tests]
        for name, data in files:
            v.write_file(f"{NAIVE_DIR}/tests/{name}", data, mode=0o644)
        cmd = ["python3", "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts=",
               "--rootdir", f"{NAIVE_DIR}/tests", "-c", "/dev/null", f"{NAIVE_DIR}/tests"]
        res = v.exec(cmd, user="agent", timeout=600, cwd=f"{NAIVE_DIR}/tests")
        if wait_for is not None:
            wait_for(v)
        kept = {p: v.read_text(p) for p in keep if v.stat(p).exists}
    return Naive(res.exit_code == 0, res.stdout[-1500:], kept)


def old_check(sb: DockerSandbox, task: Task, fixture: str) -> tuple[Status, str]:
    """The old hidden test file `old/<fixture>` run by our harness against the same final state."""
    with tempfile.TemporaryDirectory(prefix="gt-old-check-") as tmp:
        shutil.copy(HERE / "old" / fixture, Path(tmp) / f"test_{fixture}")
        old = Task(spec=task.spec, folder=Path(tmp))
        check = PytestCheck(id="old-hidden-tests", type="pytest", tests=[f"test_{fixture}"])
        return trusted.run_pytest(check, old, sb)


def old_outcome(sb: DockerSandbox, task: Task, toml_fixture: str, code_fixture: str) -> tuple[bool, dict[str, str]]:
    """Every check of the task as it was before the rework (old/<toml_fixture>, its custom checks in
    old/<code_fixture>), evaluated on the sandbox's current state: (the old verdict's success, statuses).
    Call it after `verify`: the agent is frozen then, so a declared service's status file as it is now was
    refreshed after the freeze, which is what the old checks waited for."""
    data = tomllib.loads((HERE / "old" / toml_fixture).read_text())
    adapter: TypeAdapter[Check] = TypeAdapter(Check)
    checks = [adapter.validate_python({**c, "file": code_fixture} if c.get("type") == "python" else c)
              for c in data["checks"]]
    goal = data["goal"]
    preference_only = {c for p in goal.get("preferences", []) for c in p.get("checks", [])} - {
        c for item in [*goal["objectives"], *goal.get("requirements", [])] for c in item.get("checks", [])}
    old = Task(spec=task.spec, folder=HERE / "old")
    heartbeats = {svc.heartbeat.path: 0 for svc in task.spec.services if svc.heartbeat is not None}
    state = FinalState(sb, frozen=Frozen(heartbeats=heartbeats))
    try:
        results = {c.id: run_check(c, old, sb, state) for c in checks}
    finally:
        state.close()
    statuses = {i: f"{r.status.value}: {r.reason[:120]}" for i, r in results.items()}
    return all(r.status is Status.PASS for i, r in results.items() if i not in preference_only), statuses
