"""Bad input at every edge (CLI options, task files, task ids) ends in one clear line, never a traceback.

Property-based (hypothesis) where the input space is large; CLI calls run in-process through `entry`, the
function behind the `groundtruth` command, so hundreds of examples stay cheap. No engine is touched: every
case fails, or is accepted and then stopped by a task id that does not exist, before a container starts.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundtruth.cli import entry
from groundtruth.errors import TaskSpecError
from groundtruth.store import Store
from groundtruth.tasks.spec import load_task

ROOT = Path(__file__).resolve().parents[1]
NO_TASK = "no-such-task-for-this-test"
SLOW = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = entry(list(args))
    return code, out.getvalue(), err.getvalue()


def assert_clear_error(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert "error:" in err or "Error" in err, err


option_values = (st.integers(min_value=-(2**70), max_value=2**70).map(str)
                 | st.text(max_size=12).filter(lambda t: not t.startswith("-"))
                 | st.sampled_from(["0", "-1", "1e3", "nan", "inf", "", " ", "2", "4294967296"]))


@SLOW
@given(st.sampled_from(["--episodes", "--concurrency", "--max-steps", "--retries", "--seed"]), option_values)
def test_run_numeric_options_never_trace(option: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code, _, err = cli("run", "--task", NO_TASK, "--db", f"{tmp}/gt.db", option, value)
        assert_clear_error(code, err)
        assert "Invalid value" in err or f"no task matches {NO_TASK!r}" in err, err
        assert not os.path.exists(f"{tmp}/gt.db")  # nothing written before the run is known to be runnable


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=0, max_size=20).filter(lambda t: not t.startswith("-")))
def test_run_reward_and_agent_names_never_trace(value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for args in (["--reward", value], ["--agent", value], ["--simulator", value], ["--variant", value]):
            code, _, err = cli("run", "--task", NO_TASK, "--db", f"{tmp}/gt.db", *args)
            assert_clear_error(code, err)


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "--episodes", "0"], "Invalid value for '--episodes'"),
    (["run", "--concurrency", "0"], "Invalid value for '--concurrency'"),
    (["run", "--max-steps", "0"], "Invalid value for '--max-steps'"),
    (["run", "--retries", "-1"], "Invalid value for '--retries'"),
    (["run", "--seed", "-5"], "Invalid value for '--seed'"),
    (["run", "--reward", "bogus"], "Invalid value for '--reward'"),
    (["run", "--task", "leaked-token", "--agent", "nosuch"], "unknown agent 'nosuch'"),
    (["run", "--task", "leaked-token", "--agent", "cmd:/nonexistent/agent"], "'/nonexistent/agent' not found"),
    (["run", "--task", "leaked-token", "--agent", "cmd:"], "cmd: agent needs a command"),
    (["run", "--task", "leaked-token", "--reward", "simulator"], "--reward simulator needs --simulator"),
    (["run", "--task", "leaked-token", "--simulator", "scripted:p=abc"], "bad value 'abc' for knob 'p'"),
    (["run", "--task", "leaked-token", "--simulator", "nosuch"], "unknown simulator 'nosuch'"),
    (["run", "--task", "leaked-token", "--variant", "nosuch"], "no task has the requested variant"),
    (["run", "--task", "leaked-token", "--seed", "4294967295", "--episodes", "2"], "go past 4294967295"),
    (["run", "--resume"], "nothing to resume"),
    (["audit", "--by", "colour"], "cannot group by ['colour']"),
    (["audit", "--bootstrap", "0"], "Invalid value for '--bootstrap'"),
    (["tasks", "validate", "--workers", "0", "leaked-token"], "Invalid value for '--workers'"),
    (["reflexion", "--task", "leaked-token", "--trials", "0"], "Invalid value for '--trials'"),
    (["experiment", "drift", "--lr", "nan"], "Invalid value for '--lr'"),
])
def test_each_bad_option_is_one_clear_error_before_anything_runs(args: list[str], fragment: str,
                                                                   tmp_path: Path) -> None:
    db = tmp_path / "gt.db"
    if args[0] == "audit":  # a real groundtruth database with one run, so only the option is wrong
        store = Store(db)
        store.begin_run("r", {"kind": "run"})
        store.close()
    extra = ["--db", str(db)] if args[0] in ("run", "audit", "reflexion") else []
    code, _, err = cli(*args, *extra)
    assert_clear_error(code, err)
    assert fragment in err, err
    if args[0] == "run":
        assert not db.exists() or "resume" in fragment  # no dangling run rows: no database at all


def test_an_unreachable_engine_leaves_no_database_and_no_running_row(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    res = subprocess.run([sys.executable, "-m", "groundtruth", "run", "--task", "leaked-token", "--agent", "nop",
                          "--db", str(tmp_path / "gt.db")], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2
    assert "start dockerd or set DOCKER_HOST" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "gt.db").exists()


def test_brackets_in_error_text_are_shown_as_they_are(tmp_path: Path) -> None:
    code, _, err = cli("run", "--task", "[weird]*^$", "--db", str(tmp_path / "gt.db"))
    assert code == 2
    assert "no task matches '[weird]*^$'" in err


@SLOW
@given(st.text(max_size=24))
def test_tasks_new_accepts_only_valid_ids_and_never_breaks_tasks_list(task_id: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code, _, err = cli("tasks", "new", task_id, "--into", tmp)
        if code == 0:
            code, out, err = cli("tasks", "list", "--tasks-dir", tmp, "--json")
            assert code == 0, err
            assert task_id in out
        elif not task_id.startswith("-"):
            assert_clear_error(code, err)
            assert "is not valid" in err or "Invalid value" in err or "Missing argument" in err, err
        assert "Traceback" not in err


def test_a_broken_task_is_reported_and_the_rest_still_listed(tmp_path: Path) -> None:
    assert cli("tasks", "new", "good-one", "--into", str(tmp_path))[0] == 0
    bad = tmp_path / "bad-one"
    bad.mkdir()
    (bad / "task.toml").write_text('id = "bad-one"\ninstruction = 5\n')
    code, out, _err = cli("tasks", "list", "--tasks-dir", str(tmp_path), "--json")
    assert code == 1
    assert '"good-one"' in out and '"leaked-token"' in out
    broken = [r for r in json.loads(out) if r.get("error")]
    assert len(broken) == 1 and "bad-one/task.toml: field instruction" in broken[0]["error"], out


# -- task specs ------------------------------------------------------------------------------------------

BASE_SPEC: dict[str, Any] = tomllib.loads((ROOT / "tasks" / "leaked-token" / "task.toml").read_text())
toml_scalars = (st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.floats()
                | st.text(max_size=12) | st.sampled_from(["0644", "zzz", "/abs", "../../etc/passwd", "a\x00b",
                                                         "file_exists", "pytest", "command", "goal", "collateral"]))
toml_values = st.recursive(toml_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3), max_leaves=10)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


FILE_FIELDS = [("solution", "script"), ("solution", "partial"), ("setup", "files", 0, "source"),
               ("setup", "commands", 0, "run"), ("limits", "seconds"), ("limits", "steps"), ("id",), ("env",),
               ("image",), ("protected", 0), ("variants", 0, "name"), ("setup", "files", 0, "mode")]


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    import copy

    spec = copy.deepcopy(BASE_SPEC)
    if draw(st.booleans()):  # the fields that name files and limits, where a bad value goes furthest
        path = draw(st.sampled_from(FILE_FIELDS))
        parent = spec
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = draw(toml_scalars)
        if path[-1] == "source":
            parent.pop("content", None)
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(spec)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = spec
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(toml_values)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(toml_values)
    return spec


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_any_mutated_task_spec_loads_or_says_file_field_and_reason(spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "leaked-token"
        folder.mkdir()
        (folder / "solution.sh").write_text((ROOT / "tasks" / "leaked-token" / "solution.sh").read_text())
        try:
            text = tomli_w.dumps(spec)
        except (TypeError, ValueError):
            return  # not expressible as TOML, so not a file anyone can write
        (folder / "task.toml").write_text(text)
        try:
            load_task(folder)
        except TaskSpecError as exc:
            assert str(folder / "task.toml") in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_as_task_toml_load_or_say_what_is_wrong(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "x"
        folder.mkdir()
        (folder / "task.toml").write_bytes(data)
        with pytest.raises(TaskSpecError, match=str(folder / "task.toml")):
            load_task(folder)


def test_nan_and_huge_limits_in_a_spec_are_explained(tmp_path: Path) -> None:
    folder = tmp_path / "leaked-token"
    folder.mkdir()
    (folder / "solution.sh").write_text("true\n")
    spec = {**BASE_SPEC, "limits": {"steps": 20, "seconds": math.nan, "exec_timeout": 30}}
    (folder / "task.toml").write_text(tomli_w.dumps(spec))
    with pytest.raises(TaskSpecError, match=r"field limits\.seconds"):
        load_task(folder)


@pytest.mark.parametrize("name", ["a\x00b", "x" * 5000, "/etc/passwd", "../outside", "."])
def test_file_names_a_task_cannot_use_are_explained(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "leaked-token"
    folder.mkdir()
    spec = {**BASE_SPEC, "solution": {**BASE_SPEC["solution"], "script": name}}
    (folder / "task.toml").write_text(tomli_w.dumps(spec))
    with pytest.raises(TaskSpecError, match=r"task\.toml: .*(not a usable file name|outside|does not exist)"):
        load_task(folder)
