"""Finding tasks: the built-in catalog, extra folders, and installed task packages (entry points)."""

from __future__ import annotations

import fnmatch
import os
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from groundtruth.errors import TaskSpecError
from groundtruth.resources import data_dir
from groundtruth.tasks.spec import Task, load_task

ENV_VAR = "GROUNDTRUTH_TASKS_PATH"
ENTRY_POINT_GROUP = "groundtruth.tasks"


def task_roots(extra: list[Path] | None = None) -> list[Path]:
    """Later roots override earlier ones: built-in, then entry points, then the env variable, then --tasks-dir."""
    roots = [data_dir("tasks")]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, ModuleType):
            roots.append(Path(obj.__file__ or "").parent / "tasks")
        else:
            roots.append(Path(obj() if callable(obj) else obj))
    roots += [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    roots += list(extra or [])
    return roots


class Registry:
    def __init__(self, extra_dirs: list[Path] | None = None) -> None:
        self.roots = task_roots(extra_dirs)
        self._folders: dict[str, Path] = {}
        for root in self.roots:
            if not root.is_dir():
                raise TaskSpecError(f"task folder {root} does not exist (from --tasks-dir or ${ENV_VAR})")
            for sub in sorted(root.iterdir()):
                if (sub / "task.toml").is_file():
                    self._folders[sub.name] = sub
        self._cache: dict[str, Task] = {}

    def ids(self) -> list[str]:
        return sorted(self._folders)

    def get(self, task_id: str) -> Task:
        if task_id not in self._folders:
            raise TaskSpecError(f"no task {task_id!r}; `groundtruth tasks list` shows the known ones")
        if task_id not in self._cache:
            self._cache[task_id] = load_task(self._folders[task_id])
        return self._cache[task_id]

    def select(self, patterns: list[str]) -> list[Task]:
        """Ids or globs (`delete-*`), in catalog order, without duplicates."""
        chosen: list[str] = []
        for pat in patterns:
            hits = [i for i in self.ids() if fnmatch.fnmatchcase(i, pat)]
            if not hits:
                raise TaskSpecError(f"no task matches {pat!r}; `groundtruth tasks list` shows the known ones")
            chosen += [h for h in hits if h not in chosen]
        return [self.get(i) for i in chosen]

    def all(self) -> list[Task]:
        return [self.get(i) for i in self.ids()]

    def scan(self) -> tuple[list[Task], dict[str, str]]:
        """Every task that loads, and for each one that does not, its error: one broken folder must not hide
        the rest of the catalog."""
        good: list[Task] = []
        broken: dict[str, str] = {}
        for i in self.ids():
            try:
                good.append(self.get(i))
            except TaskSpecError as exc:
                broken[i] = str(exc)
        return good, broken
