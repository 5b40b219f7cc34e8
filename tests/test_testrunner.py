"""The warm pytest runner: each run is a clean process of its own, bounded by its timeout, with the same
results as a cold `python -m pytest`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from groundtruth.checks import testrunner

LEAKY = """
import json, os, sys
STATE = sys.modules.setdefault("gt_leak_probe", type(sys)("gt_leak_probe"))

def test_first_sight():
    assert not hasattr(STATE, "seen"), "a previous run's module state is visible"
    STATE.seen = True
    assert os.environ.get("ONLY_HERE") == os.environ["EXPECT"]
    assert os.getcwd() == os.environ["EXPECT_CWD"]

def test_fails_on_purpose():
    assert os.environ.get("FAIL") != "1"
"""


def _run(tmp: Path, name: str, extra: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    d = tmp / name
    d.mkdir()
    (d / "test_leaky.py").write_text(LEAKY)
    env = {"PATH": os.environ["PATH"], "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "EXPECT_CWD": str(d), **extra}
    return testrunner.run(["-q", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(d), str(d)],
                          env=env, cwd=str(d), timeout=timeout)


@pytest.mark.parametrize("warm", ["1", "0"])
def test_runs_are_isolated_and_report_like_pytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: str) -> None:
    monkeypatch.setenv("GROUNDTRUTH_WARM_PYTEST", warm)
    code, out = _run(tmp_path, "a", {"ONLY_HERE": "a", "EXPECT": "a"})
    assert code == 0, out
    assert "2 passed" in out
    code, out = _run(tmp_path, "b", {"EXPECT": "", "ONLY_HERE": "", "FAIL": "1"})
    assert code == 1, out
    assert "1 failed, 1 passed" in out  # the module state and the environment of run "a" are gone


def test_the_warm_path_is_really_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDTRUTH_WARM_PYTEST", "1")
    code, out = _run(tmp_path, "a", {"ONLY_HERE": "a", "EXPECT": "a"})
    assert code == 0, out
    assert (tmp_path / "a" / "pytest-exit").read_text() == "0"  # written by the fork server's child only


def test_a_hanging_test_is_killed_at_its_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDTRUTH_WARM_PYTEST", "1")
    d = tmp_path / "hang"
    d.mkdir()
    (d / "test_hang.py").write_text("import os, time\n\ndef test_hang():\n"
                                    "    open('pid', 'w').write(str(os.getpid()))\n    time.sleep(600)\n")
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        testrunner.run(["-q", "-p", "no:cacheprovider", "-c", os.devnull, str(d)],
                       env={"PATH": os.environ["PATH"], "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, cwd=str(d), timeout=3)
    assert time.monotonic() - start < 20
    pid = int((d / "pid").read_text())
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
