"""Every command answers --help, and engine errors tell the user what to do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.main import get_command

from groundtruth.cli import app


def _commands() -> list[list[str]]:
    root = get_command(app)
    out: list[list[str]] = [[]]

    def walk(cmd: object, path: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            out.append([*path, name])
            walk(sub, [*path, name])

    walk(root, [])
    return out


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "root")
def test_every_command_has_help(path: list[str]) -> None:
    res = subprocess.run([sys.executable, "-m", "groundtruth", *path, "--help"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "Usage:" in res.stdout
    assert "Example" in res.stdout, "every --help shows an example"


def test_version() -> None:
    from groundtruth import __version__

    res = subprocess.run([sys.executable, "-m", "groundtruth", "--version"], capture_output=True, text=True)
    assert res.stdout.strip() == f"groundtruth {__version__}"


def test_unreachable_engine_says_what_to_do() -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    res = subprocess.run([sys.executable, "-m", "groundtruth", "sandbox", "list"], capture_output=True, text=True,
                         env=env)
    assert res.returncode == 2
    assert "start dockerd or set DOCKER_HOST" in res.stderr
    assert "Traceback" not in res.stderr
