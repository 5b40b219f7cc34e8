"""Custom checks: Python functions from the task folder with plain `assert`, run on the host.

They receive a `FinalState`, which reads only through the engine; they never import or run anything
from inside the container.
"""

from __future__ import annotations

import importlib.util
import traceback

from groundtruth.checks.results import Status, Unknown
from groundtruth.checks.state import FinalState
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task

Outcome = tuple[Status, str]


def run_python(c: s.PythonCheck, task: Task, state: FinalState) -> Outcome:
    path = task.file(c.file)
    module_spec = importlib.util.spec_from_file_location(f"gt_check_{task.id.replace('-', '_')}", path)
    if module_spec is None or module_spec.loader is None:
        return Status.UNKNOWN, f"cannot load {c.file}"
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    fn = getattr(module, c.function, None)
    if not callable(fn):
        return Status.UNKNOWN, f"{c.file} has no function {c.function}"
    try:
        note = fn(state)
    except AssertionError as exc:
        return Status.FAIL, str(exc) or _assert_line(exc)
    except Unknown as exc:
        return Status.UNKNOWN, str(exc)
    return Status.PASS, str(note) if note else ""


def _assert_line(exc: AssertionError) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"assertion failed: {frames[-1].line}" if frames else "assertion failed"
