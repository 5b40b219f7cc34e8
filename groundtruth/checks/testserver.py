"""The fork server of `testrunner`: imports what the trusted tests need once, then forks a child per request.

Protocol (one JSON object per line): request {"args": [...], "env": {...}, "cwd": str}; reply {"pid": n}.
The child runs `pytest.main(args)` in `cwd` with exactly `env`, its output in `cwd/pytest-output` and its
exit code in `cwd/pytest-exit`. Children are reaped by the kernel (SIGCHLD ignored). The server exits when
its stdin closes.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import docker  # noqa: F401  (preloaded for the children)
import pydantic  # noqa: F401
import pytest
from _pytest import junitxml  # noqa: F401

import groundtruth.sandbox.docker  # noqa: F401


def _child(req: dict[str, object]) -> None:
    code = 3
    try:
        cwd = str(req["cwd"])
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in dict(req["env"]).items()})  # type: ignore[call-overload]
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        fd = os.open(os.path.join(cwd, "pytest-output"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdin.close()
        code = int(pytest.main([str(a) for a in list(req["args"])]))  # type: ignore[call-overload]
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            with open(os.path.join(str(req.get("cwd", ".")), "pytest-exit"), "w") as fh:
                fh.write(str(code))
        finally:
            os._exit(code)


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            out.write('{"pid": 0}\n')
            out.flush()
            continue
        pid = os.fork()
        if pid == 0:
            _child(req)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
