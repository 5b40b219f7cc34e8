"""A task's world: one sandbox set up for one task variant and seed, and its verification."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from groundtruth import taskimage
from groundtruth.checks.baseline import Baseline
from groundtruth.checks.results import Verdict
from groundtruth.sandbox.base import ExecResult, SandboxSpec
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks.setup import prepare
from groundtruth.tasks.spec import Task
from groundtruth.verify import verify


class World:
    def __init__(self, task: Task, variant: str | None = None, seed: int = 0, *, run_id: str = "adhoc",
                 episode_id: str = "adhoc", labels: dict[str, str] | None = None) -> None:
        self.task = task
        self.labels = dict(labels or {})
        self.variant = task.spec.variant(variant).name
        self.seed = seed
        self.run_id = run_id
        self.episode_id = episode_id
        self.sandbox: DockerSandbox | None = None
        self.baseline: Baseline | None = None
        self.timings: dict[str, float] = {}
        self.on_close: list[Callable[[World], None]] = []
        self._closed = False

    def open(self) -> DockerSandbox:
        t = time.monotonic()
        sb_spec = self.task.spec.sandbox
        spec = SandboxSpec(
            image=taskimage.tag(self.task), memory_mb=sb_spec.memory_mb, cpus=sb_spec.cpus,
            pids=sb_spec.pids, ttl_seconds=int(self.task.spec.limits.seconds) + 900, run_id=self.run_id,
            episode_id=self.episode_id, labels=self.labels, **taskimage.sandbox_fields(self.task),
        )
        self.sandbox = DockerSandbox.create(spec)
        self.timings["create"] = time.monotonic() - t
        try:
            self.baseline, self.timings["setup"] = prepare(self.sandbox, self.task, self.variant, self.seed)
        except BaseException:
            self.close()
            raise
        return self.sandbox

    def run_reference_solution(self) -> ExecResult | None:
        sol = self.task.spec.solution
        sb = self._sb()
        script = self.task.file(sol.script).read_text() if sol.script else sol.run
        if not script:
            return None
        return sb.exec(script, timeout=self.task.spec.limits.seconds, cwd=sb.spec.workdir)

    def verify(self) -> Verdict:
        t = time.monotonic()
        if self.baseline is None:
            raise RuntimeError("world not opened")
        verdict = verify(self._sb(), self.task, self.variant, self.baseline)
        verdict.timings["verify"] = time.monotonic() - t
        return verdict

    def _sb(self) -> DockerSandbox:
        if self.sandbox is None:
            raise RuntimeError("world not opened")
        return self.sandbox

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.sandbox is not None:
                self.sandbox.close()
        finally:
            for fn in self.on_close:
                fn(self)

    def __enter__(self) -> World:
        self.open()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
