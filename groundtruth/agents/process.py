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
import subprocess
import time
from typing import IO, Any

from groundtruth.agents.base import Action, EpisodeContext, EpisodeEnd
from groundtruth.errors import GroundtruthError


class AgentProcessError(GroundtruthError):
    """The agent process died, hung or spoke out of turn: the episode ends without a claim."""


class ProcessAgent:
    def __init__(self, command: str, *, reply_timeout: float = 300.0, name: str | None = None) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise GroundtruthError("cmd: agent needs a command, e.g. --agent 'cmd:python3 my_agent.py'")
        self.name = name or f"cmd:{command}"
        self.reply_timeout = reply_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._first = True
        self._buf = b""

    def begin(self, ctx: EpisodeContext) -> None:
        self.close()
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
                                         env={**os.environ, "GROUNDTRUTH_AGENT": "1"})
        except OSError as exc:
            raise AgentProcessError(f"cannot start agent command {self.argv[0]!r}: {exc}") from exc
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
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _stdin(self) -> IO[bytes]:
        if self.proc is None or self.proc.stdin is None:
            raise AgentProcessError("the agent process is not running")
        return self.proc.stdin

    def _send(self, msg: dict[str, Any]) -> None:
        try:
            self._stdin().write(json.dumps(msg).encode() + b"\n")
            self._stdin().flush()
        except (BrokenPipeError, OSError) as exc:
            raise AgentProcessError(f"the agent process closed its input ({exc})") from exc

    def _readline(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.reply_timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AgentProcessError(f"the agent process gave no action within {self.reply_timeout:.0f}s")
                if not sel.select(timeout=left):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    code = self.proc.poll()
                    raise AgentProcessError(f"the agent process exited (code {code}) without an action")
                self._buf += chunk
                if len(self._buf) > 8 * 1024 * 1024:
                    raise AgentProcessError("the agent process wrote more than 8 MiB without a newline")
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", errors="replace").strip()
