"""Runs a task's trusted tests in a fresh process that starts warm.

A new `python -m pytest` spends most of a second importing pytest, the docker client and pydantic before the
first test runs: most of a coding task's verification. A small fork server (one per verifier process,
started on first use) has those modules imported and forks a clean child per run: every run still gets its
own process, environment, working directory and output file, and nothing of one run reaches the next (the
server itself never runs a test, and holds no thread when it forks). Each child writes its exit code to a
file and is waited for through a pidfd. Where the server cannot run, a plain subprocess runs the tests.
`GROUNDTRUTH_WARM_PYTEST=0` turns it off.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

_lock = threading.Lock()
_server: subprocess.Popen[str] | None = None


def _start() -> subprocess.Popen[str] | None:
    global _server
    if _server is not None and _server.poll() is None:
        return _server
    try:
        _server = subprocess.Popen([sys.executable, "-m", "groundtruth.checks.testserver"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
    except OSError:
        _server = None
        return None
    if _server.stdout is None or _server.stdout.readline().strip() != "ready":
        _stop()
        return None
    return _server


def _stop() -> None:
    global _server
    if _server is not None:
        with contextlib.suppress(OSError):
            _server.kill()
        with contextlib.suppress(Exception):
            _server.wait(5)
        _server = None


atexit.register(_stop)


def _fork(args: list[str], env: dict[str, str], cwd: str) -> int | None:
    if os.environ.get("GROUNDTRUTH_WARM_PYTEST", "1") == "0" or not hasattr(os, "pidfd_open"):
        return None
    with _lock:
        server = _start()
        if server is None:
            return None
        stdin: IO[str] | None = server.stdin
        stdout: IO[str] | None = server.stdout
        try:
            assert stdin is not None and stdout is not None
            stdin.write(json.dumps({"args": args, "env": env, "cwd": cwd}) + "\n")
            stdin.flush()
            reply: dict[str, Any] = json.loads(stdout.readline() or "{}")
        except (OSError, ValueError):
            _stop()
            return None
    pid = reply.get("pid")
    return int(pid) if isinstance(pid, int) and pid > 0 else None


def run(args: list[str], *, env: dict[str, str], cwd: str, timeout: float) -> tuple[int, str]:
    """pytest `args` -> (exit code, output). Raises subprocess.TimeoutExpired like subprocess.run."""
    pid = _fork(args, env, cwd)
    if pid is not None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            fd = None  # it has already finished
        if fd is not None:
            try:
                ready, _, _ = select.select([fd], [], [], timeout)
                if not ready:
                    with contextlib.suppress(OSError):
                        signal.pidfd_send_signal(fd, signal.SIGKILL)
                    raise subprocess.TimeoutExpired(args, timeout)
            finally:
                os.close(fd)
        out = Path(cwd)
        code = (out / "pytest-exit").read_text().strip() if (out / "pytest-exit").exists() else ""
        text = (out / "pytest-output").read_text(errors="replace") if (out / "pytest-output").exists() else ""
        return (int(code) if code.lstrip("-").isdigit() else -1), text
    res = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    return res.returncode, res.stdout + res.stderr
