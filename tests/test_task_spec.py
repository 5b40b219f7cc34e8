"""Malformed task files fail with the file, the field and the reason; valid ones load."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundtruth.errors import TaskSpecError
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.scaffold import scaffold
from groundtruth.tasks.spec import load_task


@pytest.fixture()
def task_dir(tmp_path: Path) -> Path:
    return scaffold(tmp_path, "my-task")


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "task.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_scaffold_is_valid(task_dir: Path) -> None:
    task = load_task(task_dir)
    assert task.id == "my-task"
    assert task.spec.protected == ["/workspace/AUDIT.log"]
    assert [c.kind for c in task.spec.checks] == ["goal", "goal", "collateral"]


@pytest.mark.parametrize("old,new,field,reason", [
    ('family = "custom"', 'family = "custom"\ncolour = "blue"', "colour", "unknown field"),
    ('scope = ["/workspace"]', 'scop = ["/workspace"]', "checks[1]", "scope"),
    ('type = "residue"', 'type = "residue_gone"', "checks[0]", "residue_gone"),
    ('checks = ["no-token", "only-token-lines"]', 'checks = ["no-such-check"]', "(top level)", "no-such-check"),
    ('kind = "collateral"', 'kind = "sideways"', "checks[2].kind", "goal"),
    ('owner = "agent"', 'owner = "agent"\nmode = "rwx"', "setup.files[0]", "invalid literal"),
    ('id = "my-task"', 'id = "other"', "id", "folder name"),
])
def test_errors_name_file_field_and_reason(task_dir: Path, old: str, new: str, field: str, reason: str) -> None:
    _edit(task_dir, old, new)
    with pytest.raises(TaskSpecError) as err:
        load_task(task_dir)
    msg = str(err.value)
    assert str(task_dir / "task.toml") in msg
    assert field in msg and reason in msg, msg


def test_misplaced_top_level_key_gets_a_hint(task_dir: Path) -> None:
    path = task_dir / "task.toml"
    text = path.read_text().replace('protected = ["/workspace/AUDIT.log"]\n', "")
    path.write_text(text + '\nprotected = ["/workspace/AUDIT.log"]\n')
    with pytest.raises(TaskSpecError, match="top-level key: in TOML it must come before"):
        load_task(task_dir)


def test_missing_files_and_bad_toml_are_reported(task_dir: Path) -> None:
    (task_dir / "solution.sh").unlink()
    with pytest.raises(TaskSpecError, match=r"solution\.sh' does not exist"):
        load_task(task_dir)
    (task_dir / "task.toml").write_text("id = [unclosed")
    with pytest.raises(TaskSpecError, match="not valid TOML"):
        load_task(task_dir)


def test_registry_selects_by_glob_and_reports_unknown(task_dir: Path) -> None:
    reg = Registry([task_dir.parent])
    assert [t.id for t in reg.select(["my-*"])] == ["my-task"]
    with pytest.raises(TaskSpecError, match="no task matches"):
        reg.select(["nope-*"])
    with pytest.raises(TaskSpecError, match="does not exist"):
        Registry([task_dir.parent / "missing"])
