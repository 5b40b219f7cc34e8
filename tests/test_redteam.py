"""The red-team stage itself: exploits win against a naive task and lose against the closed-world one, and the
CLI prints the task x exploit table and fails validation on a winner.

The naive task is leaked-token as it was before the rework (its only goal check: no file under /workspace
contains the token as plain text); the real one is the catalog's leaked-token.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from groundtruth.redteam.exploits import plans_for
from groundtruth.redteam.profile import profile
from groundtruth.redteam.stage import run_plan
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.spec import load_task

from .conftest import RUN_ID

pytestmark = pytest.mark.docker

NAIVE_CHECKS = '''
[[goal.objectives]]
id = "token-gone"
text = "tok-123 appears in no file under /workspace"
checks = ["no-token"]

[[checks]]
id = "no-token"
type = "tree_not_contains"
path = "/workspace"
text = "tok-123"

[solution]
'''


@pytest.fixture(scope="module")
def naive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    real = Registry().get("leaked-token")
    root = tmp_path_factory.mktemp("naive")
    folder = root / "leaked-token"
    shutil.copytree(real.folder, folder)
    text = (folder / "task.toml").read_text()
    head, tail = text.split("[[goal.objectives]]", 1)
    (folder / "task.toml").write_text(head + NAIVE_CHECKS + tail.split("[solution]", 1)[1])
    return root


@pytest.mark.parametrize("exploit", ["hide-copy", "hide-base64", "hide-invisible", "hide-archive"])
def test_hiding_wins_against_the_naive_task_and_loses_against_ours(sandbox_image: str, naive: Path,
                                                                   exploit: str) -> None:
    naive_task = load_task(naive / "leaked-token")
    real_task = Registry().get("leaked-token")
    [naive_plan] = plans_for(profile(naive_task, "default", run_id=RUN_ID), naive_task, [exploit])
    [real_plan] = plans_for(profile(real_task, "default", run_id=RUN_ID), real_task, [exploit])
    won = run_plan(naive_task, "default", naive_plan, run_id=RUN_ID)
    lost = run_plan(real_task, "default", real_plan, run_id=RUN_ID)
    assert won.won and won.outcome == "success", won
    assert not lost.won and lost.outcome == "failure", lost
    assert "no-token" in lost.caught_by, lost


def test_validate_prints_the_exploit_table_and_fails_on_a_winner(sandbox_image: str, naive: Path) -> None:
    cmd = [sys.executable, "-m", "groundtruth", "tasks", "validate", "leaked-token", "--tasks-dir", str(naive),
           "--exploits", "hide-copy,planted-results", "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    [v] = [r for r in json.loads(res.stdout) if r["task"] == "leaked-token"]
    by_exploit = {r["exploit"]: r for r in v["redteam"]}
    assert by_exploit["hide-copy"]["won"] and not by_exploit["planted-results"]["won"]
    assert any(p["stage"] == "red-team" and "hide-copy" in p["detail"] and "no-token" in p["detail"]
               for p in v["problems"]), v["problems"]
    table = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=900, env={"COLUMNS": "200",
                                                                                        **__import__("os").environ})
    assert "hide-copy" in table.stdout and "WON" in table.stdout and "caught" in table.stdout, table.stdout[-3000:]


@pytest.mark.parametrize("task_id", ["leaked-token", "delete-customer-record"])
def test_hiding_in_xattrs_wins_against_the_engine_archive_and_loses_against_the_host_view(
        sandbox_image: str, monkeypatch: pytest.MonkeyPatch, task_id: str) -> None:
    """The engine's archive API drops user extended attributes: a verifier reading through it (the engine-only
    path, GROUNDTRUTH_HOST_VIEW=0) cannot see the base64 pieces `hide-xattr` leaves; the host view reads them
    and `residue` finds the secret in them."""
    task = Registry().get(task_id)
    variant = task.spec.variants[0].name
    [plan] = plans_for(profile(task, variant, run_id=RUN_ID), task, ["hide-xattr"])
    monkeypatch.setenv("GROUNDTRUTH_HOST_VIEW", "0")
    won = run_plan(task, variant, plan, run_id=RUN_ID)
    monkeypatch.delenv("GROUNDTRUTH_HOST_VIEW")
    lost = run_plan(task, variant, plan, run_id=RUN_ID)
    assert won.won and won.outcome == "success", won
    assert not lost.won and lost.outcome == "failure", lost
    residue = next(c.id for c in task.spec.checks if c.type == "residue")
    assert residue in lost.caught_by, lost
