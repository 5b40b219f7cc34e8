"""Putting a task's world into a fresh sandbox before the agent sees it."""

from __future__ import annotations

import io
import posixpath
import tarfile
import time

from groundtruth.checks.baseline import Baseline, capture
from groundtruth.errors import GroundtruthError
from groundtruth.sandbox.docker import INHERIT_OWNER, DockerSandbox
from groundtruth.tasks.spec import Setup, SetupDir, Task


class TaskSetupError(GroundtruthError):
    """The task's own setup failed: a task bug, never the agent's failure."""


def _dirs(sb: DockerSandbox, dirs: list[SetupDir]) -> None:
    """Directory entries through the engine: created, or given this owner and mode if they exist (capability-less
    root could not chown them); missing parents are root-owned 0755."""
    if not dirs:
        return
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in dirs:
            info = tarfile.TarInfo(posixpath.normpath(d.path).lstrip("/"))
            uid, gid = sb.ids(d.owner)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, int(d.mode, 8), time.time()
            info.uid, info.gid = uid, gid
            tar.addfile(info)
    sb.put_archive("/", buf.getvalue())


def _apply(sb: DockerSandbox, task: Task, setup: Setup, env: dict[str, str]) -> None:
    for f in setup.files:
        data = f.content.encode() if f.content is not None else task.file(f.source or "").read_bytes()
        # A parent it creates is never the file owner's by default: /etc/ssh must not become the agent's.
        sb.write_file(f.path, data, owner=f.owner, mode=int(f.mode, 8), dir_owner=f.dir_owner or INHERIT_OWNER)
    for cmd in setup.commands:
        res = sb.exec(cmd.run, user=cmd.user, env=env, timeout=cmd.timeout, cwd="/")
        if not res.ok:
            raise TaskSetupError(
                f"task {task.id}: setup command failed (exit {res.exit_code}{', timed out' if res.timed_out else ''}): "
                f"{cmd.run[:120]!r}\n{(res.stdout + res.stderr).strip()[-800:]}"
            )


def prepare(sb: DockerSandbox, task: Task, variant: str | None, seed: int) -> tuple[Baseline, float]:
    """Run base then variant setup, then record the baseline the verifier compares against (protected
    fingerprints, closed-world scopes and databases, residue values, agent-writable places)."""
    started = time.monotonic()
    v = task.spec.variant(variant)
    env = {"GT_SEED": str(seed), "GT_VARIANT": v.name, "GT_TASK": task.id}
    env.update({f"GT_{k.upper()}": val for k, val in v.params.items()})
    _dirs(sb, [*task.spec.setup.dirs, *v.setup.dirs])
    if task.spec.workdir is not None:
        sb.make_dirs(task.spec.workdir, owner="agent")  # no-op when the image or setup.dirs made it
    _apply(sb, task, task.spec.setup, env)
    _apply(sb, task, v.setup, env)
    baseline = capture(sb, task, v.name)
    return baseline, time.monotonic() - started
