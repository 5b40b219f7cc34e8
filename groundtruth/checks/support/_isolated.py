"""Trusted helpers for hidden tests. The tests run on the host; the agent's code runs in the sandbox.

`run_calls` executes `python3 -c <bootstrap>` in the sandbox through the engine, as the agent, from the
project's directory, with the agent's environment: the same kind of process an agent's own tool call starts.
The calls go in on stdin (a Python literal, evaluated without builtins) and only plain data comes back, as a
literal on a line marked with a per-batch nonce. Nothing of
the solution is imported on the host, so an object that compares equal to everything, a patched pytest, a
conftest.py or `sys.exit(0)` at import cannot turn into a pass: the comparison happens here, on plain data.
The test files never enter the sandbox, so the code under test can neither read them nor see that they exist.
"""

from __future__ import annotations

import ast
import builtins
import math
import os
import secrets
import shlex
from functools import lru_cache
from typing import Any

from groundtruth.errors import InfrastructureError
from groundtruth.sandbox.base import SandboxSpec
from groundtruth.sandbox.docker import DockerSandbox

# Deliberately plain: this is all the code under test can see of how it is being run. Measured against an
# agent's own `cd PROJECT && python3 -c ...` tool call (tests/test_exploits_grader_blind.py), it leaves no
# generic trace: stdin is /dev/null again before the code is imported (as in a tool call), no extra file
# descriptor is open, no module beyond the interpreter's own startup set is loaded (no json, no importlib),
# `__main__` holds one ordinary name, the parent is `timeout` with the task's own exec timeout, and the
# environment, user, working directory, OLDPWD and flags are those of a tool call. What remains visible is
# the program text (argv, frames): only code that inspects its own process can see it, which is what the
# coding tasks' plain-code check forbids.
_BOOT = r'''
def main():
    import os, sys
    data = b""
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        data += chunk
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    key, calls = eval(data.decode(), {"__builtins__": {}, "nan": float("nan"), "inf": float("inf")})
    del data
    import builtins
    real = {n: c for n, c in vars(builtins).items() if isinstance(c, type) and issubclass(c, BaseException)}
    T, E, S = type, Exception, str

    def plain(v, n=0):
        t = T(v)
        if v is None or t is bool or t is int or t is str:
            return v
        if t is float:
            return {"f": v.hex()}
        if n < 8 and (t is list or t is tuple):
            return [plain(x, n + 1) for x in v]
        if n < 8 and t is dict and all(T(x) is str for x in v):
            return {"d": [[x, plain(y, n + 1)] for x, y in v.items()]}
        return {"u": S(t.__module__) + "." + S(t.__qualname__)}

    def name(c):
        m, q = S(c.__module__), S(c.__qualname__)
        return "builtins." + q if real.get(q) is c else ("fake." if m == "builtins" else "") + m + "." + q

    out = []
    for m, f, a, kw in calls:
        try:
            __import__(m)
            out.append({"ok": plain(getattr(sys.modules[m], f)(*a, **kw))})
        except E as e:
            out.append({"raised": [name(c) for c in T(e).__mro__]})
    try:
        sys.stdout.flush()
    except E:
        pass
    os.write(1, ("\n" + key + repr(out) + "\n").encode())


main()
'''


class Raised:
    """What a call raised: its classes, most specific first, as `module.qualname` (`builtins.ValueError` only
    for the interpreter's own class, so a look-alike class named ValueError does not pass for one)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def is_a(self, name: str) -> bool:
        """`ValueError` means the builtin; `PageOutOfRange` any class of that name; `pkg.mod.Cls` exactly."""
        if "." in name:
            return name in self.names
        if isinstance(getattr(builtins, name, None), type):
            return f"builtins.{name}" in self.names
        return any(n.rsplit(".", 1)[-1] == name for n in self.names)

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


# GT_SANDBOX_CHANNEL=1: the agent's own tool calls ran through the exec channel (its normal path), so these
# do too, through a fresh one: their parent process is then the same program as for a tool call. When the
# agent's channel had failed (or is off), its calls and these go through engine exec under `timeout`.
def exec_timeout() -> float:
    """The task's own limit for one agent command, so the `timeout` wrapper looks like a tool call's."""
    return float(os.environ.get("GT_SANDBOX_EXEC_TIMEOUT", "60"))


def run(cmd: str, *, cwd: str | None = None, stdin: str | None = None, timeout: float | None = None) -> Result:
    """A shell command in the sandbox as the agent (an agent's own tool call looks the same)."""
    try:
        res = sandbox().exec(cmd, user="agent", cwd=cwd, stdin=stdin, timeout=timeout or exec_timeout(),
                             channel=os.environ.get("GT_SANDBOX_CHANNEL") == "1")
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
        if set(v) == {"f"} and isinstance(v["f"], str):
            return float.fromhex(v["f"])
        return ("unplain", v.get("u"))
    return v


def _literal(v: object) -> str:
    """`repr` of plain data, checked to be only literals (plus nan/inf), so the boot can `eval` it bare."""
    if v is None or type(v) in (bool, int, str):
        return repr(v)
    if isinstance(v, float) and type(v) is float:
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else "inf" if v > 0 else "-inf")
    if isinstance(v, list | tuple) and type(v) in (list, tuple):
        return "[" + ", ".join(_literal(x) for x in v) + "]"
    if isinstance(v, dict) and type(v) is dict and all(type(k) is str for k in v):
        return "{" + ", ".join(f"{k!r}: {_literal(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"hidden tests may pass only plain data to the code under test, not {type(v).__name__}")


def run_calls(root: str, calls: list[dict[str, Any]], timeout: float | None = None) -> list[object]:
    """Run the calls in one fresh interpreter in the sandbox, started as an agent's tool call would start it
    (`cd ROOT && python3 -c ...` from the agent's home); each result is plain data or a Raised.
    A call is {"module": ..., "func": ..., "args": [...], "kwargs": {...}}."""
    nonce = "R" + secrets.token_hex(12) + ":"
    batch = "[" + ", ".join(
        f"({c['module']!r}, {c['func']!r}, {_literal(list(c.get('args', [])))}, {_literal(dict(c.get('kwargs', {})))})"
        for c in calls) + "]"
    res = run(f"cd {shlex.quote(root)} && python3 -c {shlex.quote(_BOOT)}", stdin=f"({nonce!r}, {batch})",
              timeout=timeout)
    marked = [ln for ln in res.stdout.splitlines() if ln.startswith(nonce)]
    assert res.exit_code == 0 and len(marked) == 1, (
        f"the solution did not run to completion (exit {res.exit_code}, {len(marked)} result lines): "
        f"{(res.stdout + res.stderr)[-600:]}"
    )
    raw = ast.literal_eval(marked[0][len(nonce):])
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
