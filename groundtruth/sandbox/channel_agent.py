"""The in-sandbox end of the exec channel: one long-lived process that runs the agent's commands.

Runs inside the container as the agent user (stdlib only; the sandbox's python3), started by the host with
`python3 -c <this file's text>` over one attached engine exec, so it writes no file into the container.
It saves the engine a new exec (and `timeout`, and a shell wrapper) per command; it is NOT trusted: the
agent can kill, replace or talk over it, and the host treats everything it says as the agent's own
observation only. Verification and setup never use it.

Protocol. Host -> channel, on stdin: 4-byte big-endian length + a JSON request
  {"id": n, "argv": [...], "cwd": str, "env": {..}, "stdin": latin-1 str or null, "timeout": s, "cap": bytes,
   "fsize": bytes or 0}
Channel -> host, on stdout: 1-byte type + 4-byte big-endian length + payload, types
  R ready (once; payload: its pid), S started (payload: id), O stdout chunk, E stderr chunk, X exit (JSON: id, code,
  timed_out, truncated).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import time
from typing import Any

KILL_AFTER = 2.0
OUT = sys.stdout.buffer


def send(kind: bytes, payload: bytes = b"") -> None:
    OUT.write(kind + struct.pack(">I", len(payload)) + payload)
    OUT.flush()


def read_exact(n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = os.read(0, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def limit_file_size(fsize: int) -> None:
    """The file-size limit of the commands, set on this process, whose children inherit it (it writes only to
    pipes, which the limit does not cover): a preexec_fn would make every spawn a slow Python-level fork.
    SIGPIPE is restored in the child by subprocess itself (restore_signals). A limit cannot be raised again
    by an unprivileged process: a stricter earlier one stays."""
    if fsize <= 0 or resource.getrlimit(resource.RLIMIT_FSIZE) == (fsize, fsize):
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


def run(req: dict[str, Any]) -> None:
    rid = str(req["id"]).encode()
    cap = int(req.get("cap") or 1 << 20)
    env = dict(os.environ)
    env.update(req.get("env") or {})
    data = req.get("stdin")
    limit_file_size(int(req.get("fsize") or 0))
    try:
        proc = subprocess.Popen(
            req["argv"], cwd=req.get("cwd") or None, env=env, start_new_session=True,
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError as exc:
        send(b"S", rid)
        send(b"E", f"{req['argv'][0]}: {exc.strerror}\n".encode())
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        send(b"X", json.dumps({"id": req["id"], "code": code, "timed_out": False, "truncated": False}).encode())
        return
    send(b"S", rid)
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sizes = {b"O": 0, b"E": 0}
    truncated = False
    sel.register(proc.stdout, selectors.EVENT_READ, b"O")
    sel.register(proc.stderr, selectors.EVENT_READ, b"E")
    pending = memoryview(data.encode("latin-1")) if data is not None else memoryview(b"")
    if data is not None and proc.stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        if len(pending):
            sel.register(proc.stdin, selectors.EVENT_WRITE, b"I")
        else:
            proc.stdin.close()
    limit = time.monotonic() + float(req.get("timeout") or 60)
    killed_at: float | None = None
    timed_out = False
    open_streams = 2
    while open_streams or proc.poll() is None:
        now = time.monotonic()
        if not timed_out and now >= limit:
            timed_out, killed_at = True, now
            kill_group(proc.pid, signal.SIGTERM)
        if killed_at is not None and now >= killed_at + KILL_AFTER:
            kill_group(proc.pid, signal.SIGKILL)
            if now >= killed_at + KILL_AFTER + 1:
                break  # something outside the group holds the pipes: the host sweeps it
        wait = (killed_at + KILL_AFTER if killed_at is not None else limit) - now
        if not open_streams:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.01, min(wait, 0.5)))
            continue
        for key, _ in sel.select(timeout=max(0.01, min(wait, 1.0))):
            kind = key.data
            if kind == b"I" and proc.stdin is not None:
                try:
                    sent = os.write(proc.stdin.fileno(), pending[:65536])
                except BlockingIOError:
                    continue
                except OSError:
                    sent = len(pending)
                pending = pending[sent:]
                if not len(pending):
                    sel.unregister(proc.stdin)
                    proc.stdin.close()
                continue
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            room = cap - sizes[kind]
            if room <= 0:
                truncated = True
                continue
            if len(chunk) > room:
                chunk, truncated = chunk[:room], True
            sizes[kind] += len(chunk)
            send(kind, chunk)
    sel.close()
    polled = proc.poll()
    if polled is None:
        kill_group(proc.pid, signal.SIGKILL)
        polled = proc.wait()
    code = polled
    if code < 0:
        code = 128 - code
    if timed_out:
        code = 124 if code != 137 else 137
    send(b"X", json.dumps({"id": req["id"], "code": code, "timed_out": timed_out, "truncated": truncated}).encode())


def main() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    send(b"R", str(os.getpid()).encode())
    while True:
        head = read_exact(4)
        if head is None:
            return
        body = read_exact(struct.unpack(">I", head)[0])
        if body is None:
            return
        run(json.loads(body))


if __name__ == "__main__":
    main()
