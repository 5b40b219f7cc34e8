"""The host end of the exec channel: agent commands over one attached engine exec instead of one exec each.

A new engine exec costs an exec_create, an exec_start (a hijacked HTTP connection), runc starting a process
and an exec_inspect: tens of milliseconds idle, hundreds under load. The channel pays that once per sandbox.
It runs with the agent's rights, so nothing it says is trusted beyond the agent's own observation: frames
are parsed defensively (a bad frame, a wrong id, silence past the host deadline, or EOF makes the channel
broken for good and the sandbox falls back to engine exec). Verification and setup never use it.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import struct
import threading
import time
from importlib import resources
from typing import Any

from pydantic import BaseModel

from groundtruth.sandbox.engine import client

_DOCKER_HEADER = 8
_FRAME_HEADER = 5
_KINDS = {b"R", b"S", b"O", b"E", b"X"}
_MAX_FRAME = 1 << 20  # the channel sends chunks of at most 64 KiB; anything larger is junk
_CANCEL_POLL = 0.05


class ChannelBroken(Exception):
    """The channel stopped speaking the protocol. `started`: the command may have run (never re-run it)."""

    def __init__(self, reason: str, *, started: bool, stdout: bytes = b"", stderr: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.started = started
        self.stdout = stdout
        self.stderr = stderr


class ChannelCancelled(Exception):
    """The cancel event was set while a command ran: the host stopped waiting (the channel is closed, its stream
    being mid-command); the caller kills the command's processes. Carries the output read until then."""

    def __init__(self, stdout: bytes, stderr: bytes) -> None:
        super().__init__("cancelled")
        self.stdout = stdout
        self.stderr = stderr


class _Cancelled(Exception):
    """Internal: unwinds `_frame` to `run`, which adds the output read so far."""


class ChannelResult(BaseModel):
    exit_code: int
    stdout: bytes
    stderr: bytes
    truncated: bool
    timed_out: bool


def agent_source() -> str:
    return resources.files("groundtruth.sandbox").joinpath("channel_agent.py").read_text()


class ExecChannel:
    """One channel process in one container, as one user; `run` is not reentrant (one command at a time)."""

    def __init__(self, container_id: str, user: str, workdir: str, start_timeout: float = 30.0) -> None:
        api = client().api
        self.exec_id = api.exec_create(container_id, ["python3", "-c", agent_source()], stdin=True, stdout=True,
                                       stderr=True, user=user, workdir=workdir)["Id"]
        self._sock_obj = api.exec_start(self.exec_id, socket=True)
        self._sock: socket.socket = getattr(self._sock_obj, "_sock", self._sock_obj)
        self._sock.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._sock, selectors.EVENT_READ)
        self._raw = bytearray()      # the engine's multiplexed stream, not yet demultiplexed
        self._want: int | None = None
        self._stream = 1
        self._out = bytearray()      # the channel's stdout, not yet parsed into frames
        self._next_id = 0
        self.closed = False
        kind, payload = self._frame(time.monotonic() + start_timeout, started=False)
        if kind != b"R":
            raise ChannelBroken(f"the channel did not start (first frame {kind!r})", started=False)
        # Its pid in the container, sent before any agent command ran: a cancel kills it with the command (the
        # kill runs as the agent, so a wrong pid could only hit the agent's own processes).
        self.pid: int | None = int(payload) if payload.isdigit() and len(payload) < 10 else None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError, ValueError):
            self._sel.close()
        with contextlib.suppress(OSError):
            self._sock_obj.close()

    def run(self, argv: list[str], *, cwd: str, env: dict[str, str] | None, stdin: bytes | None, timeout: float,
            cap: int, fsize: int, deadline: float, cancel: threading.Event | None = None) -> ChannelResult:
        """One command; `deadline` (host monotonic clock) bounds everything, whatever the channel does. Setting
        `cancel` raises ChannelCancelled within about 50 ms (polled, like the engine path's stream pump)."""
        if self.closed:
            raise ChannelBroken("the channel is closed", started=False)
        self._next_id += 1
        rid = self._next_id
        req: dict[str, Any] = {"id": rid, "argv": argv, "cwd": cwd, "env": env or {}, "timeout": timeout,
                               "cap": cap, "fsize": fsize,
                               "stdin": stdin.decode("latin-1") if stdin is not None else None}
        body = json.dumps(req).encode()
        try:
            self._send(struct.pack(">I", len(body)) + body, deadline)
        except ChannelBroken:
            self.close()
            raise
        # From here on the command may have run, whatever the channel says: it is never run a second time.
        out, err = bytearray(), bytearray()
        started = False
        try:
            while True:
                kind, payload = self._frame(deadline, started=True, cancel=cancel)
                if kind == b"S":
                    if started or payload != str(rid).encode():
                        raise ChannelBroken("a start frame for another command", started=True)
                    started = True
                elif kind in (b"O", b"E") and started:
                    target = out if kind == b"O" else err
                    target += payload[: max(0, cap - len(target))]
                elif kind == b"X" and started:
                    info = json.loads(payload)
                    if not isinstance(info, dict) or info.get("id") != rid:
                        raise ChannelBroken("an exit frame for another command", started=True)
                    return ChannelResult(
                        exit_code=int(info["code"]), stdout=bytes(out), stderr=bytes(err),
                        truncated=bool(info.get("truncated")) or len(out) >= cap or len(err) >= cap,
                        timed_out=bool(info.get("timed_out")),
                    )
                else:
                    raise ChannelBroken(f"an unexpected {kind!r} frame", started=True)
        except _Cancelled as exc:
            self.close()
            raise ChannelCancelled(bytes(out), bytes(err)) from exc
        except ChannelBroken as exc:
            self.close()
            exc.stdout, exc.stderr = bytes(out), bytes(err)
            raise
        except (ValueError, KeyError, TypeError) as exc:  # junk JSON in an exit frame
            self.close()
            raise ChannelBroken(f"a malformed exit frame: {exc}", started=True, stdout=bytes(out),
                                stderr=bytes(err)) from exc

    # transport -------------------------------------------------------------------------------------------
    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while len(view):
            if time.monotonic() >= deadline:
                raise ChannelBroken("the channel stopped reading its requests", started=False)
            try:
                sent = self._sock.send(view[:65536])
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError as exc:
                raise ChannelBroken(f"the channel's stream is gone: {exc}", started=False) from exc
            view = view[sent:]

    def _frame(self, deadline: float, *, started: bool,
               cancel: threading.Event | None = None) -> tuple[bytes, bytes]:
        """The next frame of the channel's stdout, reading the socket until one is complete."""
        while True:
            if len(self._out) >= _FRAME_HEADER:
                kind = bytes(self._out[:1])
                size = struct.unpack(">I", bytes(self._out[1:5]))[0]
                if kind not in _KINDS or size > _MAX_FRAME:
                    raise ChannelBroken(f"junk on the channel (frame {kind!r}, {size} bytes)", started=started)
                if len(self._out) >= _FRAME_HEADER + size:
                    payload = bytes(self._out[_FRAME_HEADER:_FRAME_HEADER + size])
                    del self._out[:_FRAME_HEADER + size]
                    return kind, payload
            if cancel is not None and cancel.is_set():
                raise _Cancelled()
            self._fill(deadline, started, 1.0 if cancel is None else _CANCEL_POLL)

    def _fill(self, deadline: float, started: bool, poll: float = 1.0) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelBroken("no answer from the channel before the host deadline", started=started)
        if not self._sel.select(timeout=min(remaining, poll)):
            return
        try:
            chunk = self._sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as exc:
            raise ChannelBroken(f"the channel's stream failed: {exc}", started=started) from exc
        if not chunk:
            raise ChannelBroken("the channel exited", started=started)
        self._raw += chunk
        while True:  # the engine's multiplexing: 8-byte header (stream id, size), then the payload
            if self._want is None:
                if len(self._raw) < _DOCKER_HEADER:
                    return
                self._stream = self._raw[0]
                self._want = struct.unpack(">I", bytes(self._raw[4:8]))[0]
                del self._raw[:_DOCKER_HEADER]
            take = min(self._want, len(self._raw))
            if take == 0 and self._want > 0:
                return
            if self._stream == 1:
                self._out += self._raw[:take]
            del self._raw[:take]  # the channel's own stderr (a traceback at worst) is dropped
            self._want -= take
            if self._want == 0:
                self._want = None
