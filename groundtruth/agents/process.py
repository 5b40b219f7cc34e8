"""An agent in any language: a process speaking JSON lines on stdin/stdout (`--agent 'cmd:python3 my.py'`).

groundtruth writes `{"type": "task", ...}` once, then `{"type": "observation", ...}` after every action,
and `{"type": "end", "feedback": true|false|null}` at the end; the process answers each of the first two
with one action per line, in the env's action contract.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import threading
import time
from typing import Any

from groundtruth.agents.base import Action, EpisodeContext, EpisodeEnd
from groundtruth.errors import GroundtruthError

STDERR_KEEP = 32 * 1024
MAX_LINE = 8 * 1024 * 1024


class AgentProcessError(GroundtruthError):
    """The agent process died, hung or spoke out of turn: the episode ends without a claim."""


class StderrTail:
    """An agent's stderr, drained all the time (a full pipe would block the agent) and kept bounded: the first
    and the last `keep` bytes, with the count of what was dropped between them."""

    def __init__(self, fd: int, keep: int = STDERR_KEEP) -> None:
        self.fd = fd
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.size = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="gt-agent-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not sel.select(timeout=0.2):
                    continue
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.size += len(chunk)
                room = self.keep - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                if chunk:
                    self.tail += chunk
                    del self.tail[:-self.keep]

    def finish(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join(1.0)

    @property
    def truncated(self) -> bool:
        return self.size > len(self.head) + len(self.tail)

    def text(self) -> str:
        dropped = self.size - len(self.head) - len(self.tail)
        middle = f"\n[... {dropped} bytes of stderr not kept ...]\n".encode() if dropped > 0 else b""
        return (bytes(self.head) + middle + bytes(self.tail)).decode("utf-8", errors="replace")


def resolve_command(argv: list[str]) -> str | None:
    """Where the agent command's program is, or None: checked before a run starts, not episode by episode."""
    exe = argv[0]
    if os.sep in exe:
        return exe if os.path.isfile(exe) and os.access(exe, os.X_OK) else None
    return shutil.which(exe)


class ProcessAgent:
    def __init__(self, command: str, *, reply_timeout: float = 300.0, name: str | None = None) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise GroundtruthError(f"cmd: agent command {command!r} cannot be split into words ({exc}); "
                                   "check its quotes") from exc
        if not self.argv:
            raise GroundtruthError("cmd: agent needs a command, e.g. --agent 'cmd:python3 my_agent.py'")
        self.name = name or f"cmd:{command}"
        self.reply_timeout = reply_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr: StderrTail | None = None
        self.cancel: threading.Event | None = None  # set by the runner: a stopping run does not wait for replies
        self._first = True
        self._buf = b""

    def check(self) -> None:
        """Fail before any episode when the program cannot be found or run."""
        if resolve_command(self.argv) is None:
            raise GroundtruthError(f"agent {self.name!r}: program {self.argv[0]!r} not found or not executable; "
                                   "give a path or a program on PATH, e.g. --agent 'cmd:python3 my_agent.py'")

    def begin(self, ctx: EpisodeContext) -> None:
        self.close()
        try:
            # Its own session: Ctrl-C reaches the runner only, and close() can end everything the agent forked.
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, start_new_session=True,
                                         env={**os.environ, "GROUNDTRUTH_AGENT": "1"})
        except OSError as exc:
            raise AgentProcessError(f"cannot start agent command {self.argv[0]!r}: {exc}") from exc
        assert self.proc.stderr is not None
        self.stderr = StderrTail(self.proc.stderr.fileno())
        self._first = True
        self._buf = b""
        self._send({"type": "task", "task": ctx.task.id, "variant": ctx.variant, "seed": ctx.seed,
                    "instruction": ctx.observation, "tools": ctx.tools, "memory": ctx.memory})

    def act(self, observation: str) -> Action:
        if not self._first:
            self._send({"type": "observation", "observation": observation})
        self._first = False
        line = self._readline()
        try:
            parsed: Any = json.loads(line)
        except json.JSONDecodeError:
            return line  # the env turns it into an error observation
        return parsed if isinstance(parsed, dict) else line

    def end(self, result: EpisodeEnd) -> None:
        with contextlib.suppress(AgentProcessError):
            self._send({"type": "end", "feedback": result.feedback})
        self.close()

    def close(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the agent and whatever it forked, even if it exited
        proc.wait()
        if self.stderr is not None:
            self.stderr.finish()
        if proc.stderr is not None:
            with contextlib.suppress(OSError):
                proc.stderr.close()

    def stderr_log(self) -> tuple[str, int, bool] | None:
        """(text, bytes written, truncated) of the last episode's stderr, for the store; None if it wrote none."""
        if self.stderr is None or self.stderr.size == 0:
            return None
        return self.stderr.text(), self.stderr.size, self.stderr.truncated

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise AgentProcessError("the run is stopping")

    def _send(self, msg: dict[str, Any]) -> None:
        """Written with a deadline: an agent that never reads its input must not block the runner forever."""
        if self.proc is None or self.proc.stdin is None:
            raise AgentProcessError("the agent process is not running")
        data = memoryview(json.dumps(msg).encode() + b"\n")
        fd = self.proc.stdin.fileno()
        os.set_blocking(fd, False)
        deadline = time.monotonic() + self.reply_timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_WRITE)
            while data:
                self._check_cancel()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AgentProcessError(f"the agent process read no input for {self.reply_timeout:.0f}s")
                if not sel.select(timeout=min(left, 1.0)):
                    continue
                try:
                    data = data[os.write(fd, data):]
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise AgentProcessError(f"the agent process closed its input ({exc})") from exc

    def _readline(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.reply_timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                self._check_cancel()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AgentProcessError(f"the agent process gave no action within {self.reply_timeout:.0f}s")
                if not sel.select(timeout=min(left, 0.5)):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    code = self.proc.poll()
                    raise AgentProcessError(f"the agent process exited (code {code}) without an action")
                self._buf += chunk
                if len(self._buf) > MAX_LINE:
                    raise AgentProcessError("the agent process wrote more than 8 MiB without a newline")
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", errors="replace").strip()
