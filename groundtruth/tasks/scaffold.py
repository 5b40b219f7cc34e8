"""`groundtruth tasks new`: a copy of a template task (a folder under groundtruth/templates/tasks/), each one a
valid task with a sample Python check, renamed to the new id."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from groundtruth.errors import GroundtruthError
from groundtruth.tasks.spec import ID_PATTERN

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "tasks"
DEFAULT_TEMPLATE = "shell"


def template_names() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if (p / "task.toml").is_file())


def template_dir(name: str) -> Path:
    if name not in template_names():
        raise GroundtruthError(f"no task template {name!r}; choose one of: {', '.join(template_names())}")
    return TEMPLATES / name


def _check_id(value: str, what: str) -> None:
    if not re.fullmatch(ID_PATTERN, value):
        raise GroundtruthError(f"{what} {value!r} is not valid: use lowercase letters, digits and dashes, "
                               "starting with a letter or digit (e.g. my-task)")


def scaffold(root: Path, task_id: str, family: str = "custom", template: str = DEFAULT_TEMPLATE) -> Path:
    """Refuses a bad id or family before anything is written, so no half-made folder is left behind."""
    _check_id(task_id, "task id")
    _check_id(family, "family")
    source = template_dir(template)
    if root.exists() and not root.is_dir():
        raise GroundtruthError(f"{root} is a file; --into needs a folder")
    folder = root / task_id
    if folder.exists():
        raise GroundtruthError(f"{folder} already exists; pick another id or remove it")
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    spec = folder / "task.toml"
    text = spec.read_text()
    text = re.sub(r'^id = ".*"$', f'id = "{task_id}"', text, count=1, flags=re.M)
    text = re.sub(r'^family = ".*"$', f'family = "{family}"', text, count=1, flags=re.M)
    spec.write_text(text)
    return folder
