"""Trusted helpers for hidden tests. The tests run on the host; the agent's code runs in the sandbox.

`run_calls` executes `python3 -c <bootstrap>` in the sandbox through the engine, as the agent, from the
project's directory, with the agent's environment: the same kind of process an agent's own tool call starts.
The calls go in on stdin and only plain JSON comes back, on a line marked with a per-batch nonce. Nothing of
the solution is imported on the host, so an object that compares equal to everything, a patched pytest, a
conftest.py or `sys.exit(0)` at import cannot turn into a pass: the comparison happens here, on plain data.
The test files never enter the sandbox, so the code under test can neither read them nor see that they exist.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
from functools import lru_cache
from typing import Any

from groundtruth.errors import InfrastructureError
from groundtruth.sandbox.base import SandboxSpec
from groundtruth.sandbox.docker import DockerSandbox

# Deliberately plain: this is all the code under test can see of how it is being run.
_BOOT = r'''
import json, os, sys, importlib
_d = json.loads(sys.stdin.read())
_k, _calls = _d["k"], _d["c"]
del _d
_o = os.dup(1)
_t, _g, _E = type, getattr, Exception
def _p(v, n=0):
    t = _t(v)
    if v is None or t is bool or t is int or t is float or t is str:
        return v
    if n < 8 and (t is list or t is tuple):
        return [_p(x, n + 1) for x in v]
    if n < 8 and t is dict and all(_t(x) is str for x in v):
        return {"d": [[x, _p(y, n + 1)] for x, y in v.items()]}
    return {"u": t.__module__ + "." + t.__qualname__}
_r = []
for _c in _calls:
    try:
        _f = _g(importlib.import_module(_c["m"]), _c["f"])
        _r.append({"ok": _p(_f(*_c.get("a", []), **_c.get("kw", {})))})
    except _E as _e:
        _r.append({"raised": [c.__name__ for c in _t(_e).__mro__]})
os.write(_o, (_k + json.dumps(_r) + "\n").encode())
'''


class Raised:
    """What a call raised: its class names, most specific first."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def is_a(self, name: str) -> bool:
        return name in self.names

    def __repr__(self) -> str:
        return f"Raised({self.names[0] if self.names else '?'})"


@lru_cache(maxsize=1)
def sandbox() -> DockerSandbox:
    env = os.environ
    if "GT_SANDBOX_CONTAINER" not in env:
        raise RuntimeError("_isolated runs inside groundtruth's verifier (GT_SANDBOX_CONTAINER is not set)")
    spec = SandboxSpec(image=env["GT_SANDBOX_IMAGE"], run_id=env.get("GT_SANDBOX_RUN", "adhoc"),
                       episode_id=env.get("GT_SANDBOX_EPISODE", "adhoc"),
                       workdir=env.get("GT_SANDBOX_WORKDIR", "/home/agent"))
    return DockerSandbox(spec, env["GT_SANDBOX_CONTAINER"])


def _infra(exc: InfrastructureError) -> InfrastructureError:
    marker = os.environ.get("GT_INFRA_MARKER")
    if marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(f"{exc}\n")
    return exc


class Result:
    def __init__(self, exit_code: int, stdout: str, stderr: str, timed_out: bool) -> None:
        self.exit_code, self.stdout, self.stderr, self.timed_out = exit_code, stdout, stderr, timed_out

    def __repr__(self) -> str:
        return f"Result(exit {self.exit_code}, {self.stdout[-200:]!r}, {self.stderr[-200:]!r})"


def run(cmd: str, *, cwd: str | None = None, stdin: str | None = None, timeout: float = 60.0) -> Result:
    """A shell command in the sandbox as the agent (an agent's own tool call looks the same)."""
    try:
        res = sandbox().exec(cmd, user="agent", cwd=cwd, stdin=stdin, timeout=timeout)
    except InfrastructureError as exc:
        raise _infra(exc) from exc
    return Result(res.exit_code, res.stdout, res.stderr, res.timed_out)


def read_text(path: str) -> str:
    """A file of the final state, read through the engine."""
    try:
        return sandbox().read_file(path).decode("utf-8", errors="replace")
    except InfrastructureError as exc:
        raise _infra(exc) from exc


def tempdir() -> str:
    """A fresh scratch directory in the sandbox, made by the agent user the way an agent would (`mktemp -d`)."""
    res = run("mktemp -d")
    assert res.exit_code == 0, f"mktemp failed: {res}"
    return res.stdout.strip()


def put_text(path: str, text: str) -> None:
    """Write a file in the sandbox as the agent (input data for the code under test)."""
    res = run(f"cat > {shlex.quote(path)}", stdin=text)
    assert res.exit_code == 0, f"cannot write {path}: {res}"


def _decode(v: object) -> object:
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"d"} and isinstance(v["d"], list):
            return {k: _decode(x) for k, x in v["d"]}
        return ("unplain", v.get("u"))
    return v


def run_calls(root: str, calls: list[dict[str, Any]], timeout: float = 120.0) -> list[object]:
    """Run the calls in one fresh interpreter in the sandbox, from `root`; each result is plain data or a
    Raised. A call is {"module": ..., "func": ..., "args": [...], "kwargs": {...}}."""
    nonce = "R" + secrets.token_hex(12) + ":"
    batch = [{"m": c["module"], "f": c["func"], "a": list(c.get("args", [])), "kw": dict(c.get("kwargs", {}))}
             for c in calls]
    res = run(f"python3 -c {shlex.quote(_BOOT)}", cwd=root, stdin=json.dumps({"k": nonce, "c": batch}),
              timeout=timeout)
    marked = [ln for ln in res.stdout.splitlines() if ln.startswith(nonce)]
    assert res.exit_code == 0 and len(marked) == 1, (
        f"the solution did not run to completion (exit {res.exit_code}, {len(marked)} result lines): "
        f"{(res.stdout + res.stderr)[-600:]}"
    )
    raw = json.loads(marked[0][len(nonce):])
    assert type(raw) is list and len(raw) == len(calls), "malformed result batch"
    out: list[object] = []
    for item in raw:
        if "raised" in item:
            out.append(Raised([str(n) for n in item["raised"]]))
        else:
            out.append(_decode(item["ok"]))
    return out


def call(root: str, module: str, func: str, *args: object, **kwargs: object) -> object:
    return run_calls(root, [{"module": module, "func": func, "args": list(args), "kwargs": kwargs}])[0]


def same(got: object, want: object) -> bool:
    """Equal value AND exactly the same types all the way down (5 != 5.0, True != 1)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict) and isinstance(got, dict):
        return set(got) == set(want) and all(same(got[k], want[k]) for k in want)
    return got == want
