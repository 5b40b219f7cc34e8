"""Reading a hijacked Docker exec socket with a host-side deadline and a bounded buffer.

docker-py's own readers block without a deadline and keep all output in memory; an agent printing
100 MB must neither hang the host nor grow it, so frames beyond the cap are read and dropped.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time

from pydantic import BaseModel

_HEADER = 8


class StreamResult(BaseModel):
    stdout: bytes
    stderr: bytes
    truncated: bool
    deadline_hit: bool
    cancelled: bool = False


class _Capped:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, data: bytes) -> None:
        room = self.cap - self.size
        if room <= 0:
            self.truncated = self.truncated or bool(data)
            return
        if len(data) > room:
            self.truncated = True
            data = data[:room]
        self.parts.append(data)
        self.size += len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


_CANCEL_POLL = 0.05


def pump(sock: socket.socket, stdin: bytes | None, cap: int, deadline: float,
         cancel: threading.Event | None = None) -> StreamResult:
    """Feed stdin, demultiplex stdout/stderr frames, and stop at EOF, at the deadline or when `cancel` is set.

    `cancel` is polled (every 50 ms) rather than woken: an Event has no file descriptor to select on, and 50 ms
    is far inside the one second a cancelled step has to return in."""
    out, err = _Capped(cap), _Capped(cap)
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    pending = memoryview(stdin) if stdin is not None else None
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending is not None else 0)
    sel.register(sock, events)
    buf = bytearray()
    want: int | None = None
    stream_id = 1
    deadline_hit = False
    cancelled = False
    poll = 1.0 if cancel is None else _CANCEL_POLL
    try:
        while True:
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                deadline_hit = True
                break
            ready = sel.select(timeout=min(remaining, poll))
            done = False
            for _, mask in ready:
                if mask & selectors.EVENT_WRITE and pending is not None:
                    try:
                        sent = sock.send(pending[:65536])
                    except BlockingIOError:
                        sent = 0
                    except (BrokenPipeError, ConnectionResetError):
                        sent, pending = 0, memoryview(b"")
                    pending = pending[sent:]
                    if len(pending) == 0:
                        pending = None
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_WR)
                        sel.modify(sock, selectors.EVENT_READ)
                if mask & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(262144)
                    except BlockingIOError:
                        continue
                    except ConnectionResetError:
                        chunk = b""
                    if not chunk:
                        done = True
                        break
                    buf += chunk
                    while True:
                        if want is None:
                            if len(buf) < _HEADER:
                                break
                            stream_id = buf[0]
                            want = struct.unpack(">I", bytes(buf[4:8]))[0]
                            del buf[:_HEADER]
                        take = min(want, len(buf))
                        if take == 0 and want > 0:
                            break
                        (err if stream_id == 2 else out).add(bytes(buf[:take]))
                        del buf[:take]
                        want -= take
                        if want == 0:
                            want = None
            if done:
                break
    finally:
        sel.close()
    return StreamResult(
        stdout=out.value(), stderr=err.value(), truncated=out.truncated or err.truncated,
        deadline_hit=deadline_hit, cancelled=cancelled,
    )
