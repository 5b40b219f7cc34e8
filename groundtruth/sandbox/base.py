"""The sandbox protocol: what every backend offers, shaped after Inspect AI's exec/read_file/write_file."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

DEFAULT_OUTPUT_CAP = 1024 * 1024
AGENT_USER = "agent"
# One argv string may hold at most 128 KiB on Linux (MAX_ARG_STRLEN); stay clearly below it.
MAX_COMMAND_BYTES = 100_000
SCRATCH_DIRS = ("/tmp", "/var/tmp")


class SandboxSpec(BaseModel):
    """Limits and identity of one sandbox. Defaults are the hardened ones; loosening is explicit."""

    image: str
    memory_mb: int = Field(default=512, ge=16)
    cpus: float = Field(default=1.0, gt=0)
    pids: int = Field(default=256, ge=16)
    ttl_seconds: int = Field(default=3600, ge=10, description="self-destruct after this long")
    workdir: str = "/home/agent"
    output_cap: int = Field(default=DEFAULT_OUTPUT_CAP, ge=1024)
    file_size_limit: int = Field(default=64 * 1024 * 1024, ge=1)
    scratch_mb: int = Field(default=64, ge=0, description="size of the tmpfs volumes at /tmp and /var/tmp; 0: none")
    max_file_mb: int = Field(default=128, ge=0, description="RLIMIT_FSIZE of every agent command; 0: none")
    run_id: str = "adhoc"
    episode_id: str = "adhoc"
    labels: dict[str, str] = Field(default_factory=dict)
    init_user: str = Field(default="root", description="who runs the container's main process (`sleep TTL`); "
                                                       "not root when the agent is, so freezing it spares the sandbox")


class ExecResult(BaseModel):
    exit_code: int
    stdout: str
    stderr: str
    duration: float
    truncated: bool = False
    timed_out: bool = False
    pids_exhausted: bool = False
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class FileStat(BaseModel):
    path: str
    exists: bool
    kind: Literal["file", "dir", "symlink", "other", "missing"]
    size: int = 0
    mode: int = 0
    link_target: str = ""


class ProcessInfo(BaseModel):
    """One process as the engine sees it; pid is the engine host's pid, not the container's."""

    pid: int
    ppid: int
    uid: int
    state: str
    elapsed_seconds: int
    command: str


class DiffEntry(BaseModel):
    path: str
    kind: Literal["modified", "added", "deleted"]


@runtime_checkable
class AsyncSandbox(Protocol):
    spec: SandboxSpec

    async def exec(
        self,
        cmd: str | list[str],
        *,
        user: str = AGENT_USER,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | str | None = None,
        timeout: float = 60.0,
    ) -> ExecResult: ...

    async def read_file(self, path: str, *, user: str | None = None) -> bytes: ...

    async def read_text(self, path: str, *, user: str | None = None) -> str: ...

    async def write_file(
        self, path: str, data: bytes | str, *, user: str | None = None, mode: int = 0o644,
        owner: str = "root",
    ) -> None: ...

    async def stat(self, path: str) -> FileStat: ...

    async def diff(self) -> list[DiffEntry]: ...

    async def processes(self) -> list[ProcessInfo]: ...

    async def stop_agent_processes(self) -> int: ...

    async def snapshot(self) -> str: ...

    async def reset(self, snapshot: str | None = None) -> None: ...

    async def close(self) -> None: ...
