"""The OLD design's `_isolated`, kept as a test fixture: it runs INSIDE a fresh verifier container, beside the
hidden tests at a predictable path, and calls the solution in a `python3 -I` child. This is the naive grader
tests/test_exploits_grader_blind.py compares the in-place design with; `Raised.is_a` matches bare class names.

Original docstring: trusted helper for the hidden tests: runs the agent's code in a separate, isolated
interpreter.

Nothing of the solution is imported into the test process. Each batch of calls runs in
`python3 -I -c ...` (no PYTHONPATH, no user site, no current directory on sys.path) with sys.path
set explicitly to the copied project, and only plain JSON comes back, on a line marked with a
per-call nonce. So an object that compares equal to everything, a patched pytest, a conftest.py,
or `sys.exit(0)` at import cannot turn into a pass: the comparison happens here, on plain data.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile

_CHILD = r'''
import json as _json, os as _os, sys as _sys, importlib as _importlib
_dumps, _write, _type, _getattr, _Exception = _json.dumps, _os.write, type, getattr, Exception
_nonce, _root, _request = _sys.argv[1], _sys.argv[2], _json.loads(_sys.argv[3])
_fd = _os.dup(1)
_sys.path.insert(0, _root)


def _plain(v, depth=0):
    t = _type(v)
    if v is None or t is bool or t is int or t is float or t is str:
        return v
    if depth < 8 and (t is list or t is tuple):
        return [_plain(x, depth + 1) for x in v]
    if depth < 8 and t is dict and all(_type(k) is str for k in v):
        return {"__dict__": [[k, _plain(x, depth + 1)] for k, x in v.items()]}
    return {"__unplain__": t.__module__ + "." + t.__qualname__}


_results = []
for _call in _request:
    try:
        _fn = _getattr(_importlib.import_module(_call["module"]), _call["func"])
        _r = _fn(*_call.get("args", []), **_call.get("kwargs", {}))
        _results.append({"ok": _plain(_r)})
    except _Exception as _e:
        _results.append({"raised": [c.__name__ for c in _type(_e).__mro__]})
_write(_fd, (_nonce + _dumps(_results) + "\n").encode())
'''

class Raised:
    """What a call raised: its class names, most specific first."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def is_a(self, name: str) -> bool:
        return name in self.names

    def __repr__(self) -> str:
        return f"Raised({self.names[0] if self.names else '?'})"


def _decode(v: object) -> object:
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"__dict__"} and isinstance(v["__dict__"], list):
            return {k: _decode(x) for k, x in v["__dict__"]}
        return ("unplain", v.get("__unplain__"))
    return v


def run_calls(root: str, calls: list[dict[str, object]], timeout: float = 30.0) -> list[object]:
    """Run the calls in one isolated child; each result is a plain value or a Raised."""
    nonce = "GT" + secrets.token_hex(12) + ":"
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, nonce, root, json.dumps(calls)],
            capture_output=True, text=True, timeout=timeout, cwd=cwd,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": cwd},
        )
    marked = [ln for ln in proc.stdout.splitlines() if ln.startswith(nonce)]
    assert proc.returncode == 0 and len(marked) == 1, (
        f"the solution did not run to completion (exit {proc.returncode}, {len(marked)} result lines): "
        f"{(proc.stdout + proc.stderr)[-600:]}"
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


def read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def tempdir() -> str:
    return tempfile.mkdtemp()


def put_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
