"""Running one agent tool in the sandbox, always as the agent user, and rendering what it saw."""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from groundtruth.env.actions import Action, Bash, ReadFile, WriteFile
from groundtruth.errors import CommandTooLong, FileTooLarge
from groundtruth.sandbox.base import AGENT_USER
from groundtruth.sandbox.docker import DockerSandbox

_FUNCTIONS = Path(__file__).resolve().parent.parent / "templates" / "tool-functions.json"


@cache
def _function_specs() -> dict[str, dict[str, Any]]:
    specs: dict[str, dict[str, Any]] = json.loads(_FUNCTIONS.read_text())
    return specs


def tool_functions(tools: list[str]) -> list[dict[str, Any]]:
    """The env's tools as OpenAI-style function definitions, for endpoints with native tool calling. A call
    `name(arguments)` becomes the action `{"tool": name, **arguments}`, checked like any other action. The
    schemas are closed (`additionalProperties: false`): llama.cpp turns them into a grammar, and an open one
    lets a small model add keys until the context is full. No `maxLength`: llama.cpp expands it into one
    grammar rule per character, refuses a 4000 as too large, and its server process died of it (measured)."""
    specs = _function_specs()
    return [{"type": "function", "function": {"name": t, **specs[t]}} for t in tools if t in specs]


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"


def run_tool(sb: DockerSandbox, action: Action, exec_timeout: float, obs_limit: int,
             cancel: threading.Event | None = None) -> tuple[str, int | None]:
    """Returns the observation text and, for bash, the exit code. Agent errors are observations. Only bash can be
    cancelled midway: file tools are bounded by size and end within their own short timeout."""
    if isinstance(action, Bash):
        timeout = min(action.timeout or exec_timeout, exec_timeout)
        try:
            res = sb.exec(action.cmd, user=AGENT_USER, timeout=timeout, cancel=cancel, channel=True)
        except CommandTooLong as exc:
            return f"error: {exc}", None
        flags = " (timed out)" if res.timed_out else ""
        flags += " (cancelled: the command and everything it started were killed)" if res.cancelled else ""
        flags += " (output truncated)" if res.truncated else ""
        if res.pids_exhausted:
            flags += " (the sandbox hit its process limit: the processes this command started were killed)"
        half = obs_limit // 2
        body = f"exit code {res.exit_code}{flags}\n"
        if res.stdout:
            body += f"--- stdout ---\n{_clip(res.stdout, half)}\n"
        if res.stderr:
            body += f"--- stderr ---\n{_clip(res.stderr, half)}\n"
        return body.rstrip("\n"), res.exit_code
    if isinstance(action, ReadFile):
        try:
            data = sb.read_file(action.path, user=AGENT_USER)
        except (FileNotFoundError, PermissionError, IsADirectoryError, FileTooLarge) as exc:
            return f"error: {exc}", None
        return _clip(data.decode("utf-8", errors="replace"), obs_limit), None
    if isinstance(action, WriteFile):
        try:
            sb.write_file(action.path, action.content, user=AGENT_USER)
        except (PermissionError, FileTooLarge) as exc:
            return f"error: {exc}", None
        return f"wrote {len(action.content.encode())} bytes to {action.path}", None
    return f"error: tool {action.tool} is not available here", None
