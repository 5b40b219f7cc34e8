"""Running one agent tool in the sandbox, always as the agent user, and rendering what it saw."""

from __future__ import annotations

from groundtruth.env.actions import Action, Bash, ReadFile, WriteFile
from groundtruth.errors import CommandTooLong, FileTooLarge
from groundtruth.sandbox.base import AGENT_USER
from groundtruth.sandbox.docker import DockerSandbox


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters not shown]"


def run_tool(sb: DockerSandbox, action: Action, exec_timeout: float, obs_limit: int) -> tuple[str, int | None]:
    """Returns the observation text and, for bash, the exit code. Agent errors are observations."""
    if isinstance(action, Bash):
        timeout = min(action.timeout or exec_timeout, exec_timeout)
        try:
            res = sb.exec(action.cmd, user=AGENT_USER, timeout=timeout, channel=True)
        except CommandTooLong as exc:
            return f"error: {exc}", None
        flags = " (timed out)" if res.timed_out else ""
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
