"""Docker backend: one hardened container per episode, driven through the engine API only.

The blocking work lives in `DockerSandbox` (the sync API); `AsyncDockerSandbox` runs the same calls in
anyio's worker threads, so hundreds of episodes share a bounded pool instead of a thread each.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import tarfile
import threading
import time
import uuid
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import DriverConfig, Mount
from docker.utils import decode_json_header
from pydantic import BaseModel
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import RequestException

from groundtruth.errors import CommandTooLong, FileTooLarge, ImageMissing, InfrastructureError, SandboxClosed
from groundtruth.sandbox.base import (
    AGENT_USER,
    MAX_COMMAND_BYTES,
    SCRATCH_DIRS,
    DiffEntry,
    ExecResult,
    FileStat,
    ProcessInfo,
    SandboxSpec,
)
from groundtruth.sandbox.channel import ChannelBroken, ChannelCancelled, ExecChannel
from groundtruth.sandbox.engine import LABEL_KIND, base_labels, client
from groundtruth.sandbox.hostprocs import HostProcesses
from groundtruth.sandbox.hostview import HostView, NotServed
from groundtruth.sandbox.streams import pump

T = TypeVar("T")

HOST_GRACE_SECONDS = 5.0
KILL_AFTER_SECONDS = 2
_GO_DIR = 1 << 31
# `write_file(dir_owner=INHERIT_OWNER)`: new parents are owned like the directory they are made in
INHERIT_OWNER = "<inherit>"
_GO_SYMLINK = 1 << 27
# Go's fs.FileMode: named pipe, socket, device, char device, irregular; setuid, setgid, sticky
_GO_SPECIAL = (1 << 25) | (1 << 24) | (1 << 26) | (1 << 21) | (1 << 19)
_GO_PERM_BITS = ((1 << 23, 0o4000), (1 << 22, 0o2000), (1 << 20, 0o1000))
_DIFF_KINDS = {0: "modified", 1: "added", 2: "deleted"}
CHANNEL_START_SECONDS = 30.0
_CHANNEL_DIED_NOTE = (b"\n[groundtruth: the exec channel stopped during this command (%s); its exit code is unknown; "
                      b"later commands run through docker exec]\n")


def channel_enabled() -> bool:
    """`GROUNDTRUTH_EXEC_CHANNEL=0` turns the exec channel off (every agent command through engine exec)."""
    return os.environ.get("GROUNDTRUTH_EXEC_CHANNEL", "1") != "0"

# Runs as the timed-out command's user: kills every process of that uid that started after the command did,
# which catches double-forked daemons that left the process group `timeout` killed. Only shell builtins (no
# fork), so it still works when a fork bomb has used up the pids limit; start times in USER_HZ (100) ticks.
# The command's start comes as wall-clock microseconds (host and container share the kernel's clock) and the
# script measures the elapsed time itself: its own start can lag by a second on a loaded engine, and a command
# run over the exec channel starts at once, so an elapsed time measured on the host would miss processes.
# The same holds for a command a cancel event ended (the sweep is how a cancel kills it, over either path).
# Zombies are skipped: dead already, and a stopped parent (an agent can stop the channel) never reaps them.
# $2 (optional): the pid of an exec channel the host dropped mid-command (a cancel): it is older than the
# command, so the window spares it, and no agent process may outlive a cancelled step.
_SWEEP_SCRIPT = r"""
me=$$
[ -n "${2:-}" ] && kill -KILL "$2" 2>/dev/null
read -r up _ < /proc/uptime
now=${EPOCHREALTIME/./}
el=$(( (now - $1) / 10000 + 2 ))
frac=${up#*.}; frac=${frac#0}
lim=$(( ${up%.*} * 100 + frac - el ))
pass=0
while [ $pass -lt 8 ]; do
  found=""
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$me" ] && continue
    [ -O "$d" ] || continue
    read -r st 2>/dev/null < "$d/stat" || continue
    rest=${st##*) }
    set -- $rest
    [ "$1" = Z ] && continue
    shift 19
    [ "${1:-0}" -ge "$lim" ] 2>/dev/null || continue
    found="$found $p"
  done
  [ -z "$found" ] && exit 0
  kill -STOP $found 2>/dev/null; kill -KILL $found 2>/dev/null
  pass=$((pass+1))
done
exit 1
"""

_FORK_FAILED = b"Resource temporarily unavailable"

_STOP_ALL_SCRIPT = "for i in 1 2 3 4 5; do kill -STOP -1 2>/dev/null; kill -KILL -1 2>/dev/null; done; exit 0"

# Sets RLIMIT_FSIZE (512-byte blocks in POSIX sh) for the agent's command and everything it starts.
_FSIZE_WRAPPER = 'ulimit -f "$1" 2>/dev/null; shift; exec "$@"'


def scratch_mounts(spec: SandboxSpec, labels: dict[str, str]) -> list[Mount]:
    """/tmp and /var/tmp as size-limited tmpfs *volumes*: anonymous, labelled, removed with the container.

    Not docker's `tmpfs` option: the engine's archive API cannot see into those mounts (measured), so setup
    files would vanish and a verifier could not find what an agent hid there. Volumes it sees."""
    if spec.scratch_mb <= 0:
        return []
    opts = {"type": "tmpfs", "device": "tmpfs", "o": f"size={spec.scratch_mb}m,mode=1777"}
    return [Mount(target=d, source=None, type="volume", labels=labels, driver_config=DriverConfig("local", opts))
            for d in SCRATCH_DIRS]


def _engine_call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except NotFound as exc:
        if "Could not find the file" in str(exc.explanation):
            raise FileNotFoundError(f"{what}: {exc.explanation}") from exc
        raise SandboxClosed(f"{what}: the sandbox container is gone ({exc.explanation})") from exc
    except (DockerException, RequestException) as exc:  # an overloaded engine answers with a read timeout
        raise InfrastructureError(f"{what}: Docker engine error: {exc}") from exc


class _Transient(Exception):
    """The engine dropped the connection: worth another try."""


class RawExec(BaseModel):
    exit_code: int
    stdout: bytes
    stderr: bytes
    duration: float
    truncated: bool
    timed_out: bool
    pids_exhausted: bool = False
    cancelled: bool = False


class DockerSandbox:
    """Sync sandbox over one container. Create with `DockerSandbox.create(spec)`; always `close()`."""

    def __init__(self, spec: SandboxSpec, container_id: str) -> None:
        self.spec = spec
        self.container_id = container_id
        self._closed = False
        self._uids: dict[str, tuple[int, int]] = {}
        self._snapshots: list[str] = []
        self._channel: ExecChannel | None = None
        self.channel_failure: str | None = None
        self.use_channel = channel_enabled()
        self._view: HostView | None = None
        self._procs: HostProcesses | None = None
        self._view_known = False

    # lifecycle -------------------------------------------------------------------------------------
    @classmethod
    def create(cls, spec: SandboxSpec, *, kind: str = "sandbox") -> DockerSandbox:
        return cls(spec, cls._start_container(spec, spec.image, kind))

    @staticmethod
    def _start_container(spec: SandboxSpec, image: str, kind: str) -> str:
        """Retried when the engine drops the connection (seen under load: `RemoteDisconnected` on create); a
        container made by an attempt whose answer was lost carries the run's labels and is pruned with it."""
        for attempt in range(3):
            try:
                return DockerSandbox._start_once(spec, image, kind)
            except _Transient:
                if attempt == 2:
                    raise InfrastructureError(f"could not start a sandbox from {image!r}: the Docker engine "
                                              "dropped the connection three times") from None
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _start_once(spec: SandboxSpec, image: str, kind: str) -> str:
        labels = {**base_labels(spec.run_id, spec.episode_id, spec.ttl_seconds, kind), **spec.labels}
        mem = f"{spec.memory_mb}m"
        try:
            container = client().containers.create(
                image,
                command=["sleep", str(spec.ttl_seconds)],
                detach=True,
                auto_remove=True,
                init=True,
                network_mode="none",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                mem_limit=mem,
                memswap_limit=mem,
                pids_limit=spec.pids,
                nano_cpus=int(spec.cpus * 1e9),
                ipc_mode="none",  # no /dev/shm: a tmpfs the engine's archive API cannot read
                hostname="sandbox",
                labels=labels,
                mounts=scratch_mounts(spec, labels),
                user=spec.init_user,
            )
            try:
                container.start()
            except (APIError, RequestException):
                with contextlib.suppress(DockerException, RequestException):
                    container.remove(force=True)
                raise
        except ImageNotFound as exc:
            if image != spec.image:
                raise InfrastructureError(
                    f"snapshot image {image[:19]} is no longer in the Docker engine (removed by "
                    "`groundtruth sandbox prune --all`?): take a new snapshot"
                ) from exc
            raise ImageMissing(
                f"image {image!r} is not in the Docker engine: run `groundtruth images build` first"
            ) from exc
        except RequestsConnectionError as exc:
            raise _Transient(str(exc)) from exc
        except (APIError, RequestException) as exc:
            raise InfrastructureError(f"could not start a sandbox from {image!r}: {exc}") from exc
        return str(container.id)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._drop_channel()
        try:
            client().api.remove_container(self.container_id, force=True, v=True)
        except NotFound:
            pass
        except APIError as exc:
            if "already in progress" not in str(exc):
                raise InfrastructureError(f"could not remove sandbox {self.container_id[:12]}: {exc}") from exc
        for image in self._snapshots:
            with contextlib.suppress(NotFound, APIError):
                client().api.remove_image(image, force=True)
        self._snapshots.clear()

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxClosed("the sandbox is closed")

    # exec ------------------------------------------------------------------------------------------
    def exec(
        self,
        cmd: str | list[str],
        *,
        user: str = AGENT_USER,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | str | None = None,
        timeout: float = 60.0,
        cancel: threading.Event | None = None,
        channel: bool = False,
    ) -> ExecResult:
        """`channel=True`: through the exec channel when it works (agent tools only: what the channel says is
        never trusted beyond the agent's own observation), else through engine exec."""
        raw = self.exec_bytes(cmd, user=user, cwd=cwd, env=env, stdin=stdin, timeout=timeout, cancel=cancel,
                              channel=channel)
        return ExecResult(
            exit_code=raw.exit_code,
            stdout=raw.stdout.decode("utf-8", errors="replace"),
            stderr=raw.stderr.decode("utf-8", errors="replace"),
            duration=raw.duration,
            truncated=raw.truncated,
            timed_out=raw.timed_out,
            pids_exhausted=raw.pids_exhausted,
            cancelled=raw.cancelled,
        )

    def exec_bytes(
        self,
        cmd: str | list[str],
        *,
        user: str = AGENT_USER,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | str | None = None,
        timeout: float = 60.0,
        output_cap: int | None = None,
        cancel: threading.Event | None = None,
        channel: bool = False,
    ) -> RawExec:
        """`exec` without decoding, for binary output. Setting `cancel` (from any thread) ends the command like a
        timeout does, at once: every process it started is killed, and the result says `cancelled`."""
        self._check_open()
        argv = ["/bin/bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        longest = max((len(a.encode()) for a in argv), default=0)
        if longest > MAX_COMMAND_BYTES:
            raise CommandTooLong(
                f"the command is {longest} bytes, over the {MAX_COMMAND_BYTES}-byte limit of one command: "
                "write a script file first, then run it"
            )
        limit = max(float(timeout), 0.1)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        if channel and self.use_channel and self.channel_failure is None and user == AGENT_USER:
            via = self._via_channel(argv, user, cwd, env, data, limit, output_cap or self.spec.output_cap, cancel)
            if via is not None:
                return via
        wrapped = ["/usr/bin/timeout", "-k", str(KILL_AFTER_SECONDS), f"{limit:.3f}", *argv]
        if user == AGENT_USER and self.spec.max_file_mb > 0:
            wrapped = ["/bin/sh", "-c", _FSIZE_WRAPPER, "sh", str(self.spec.max_file_mb * 2048), *wrapped]
        api = client().api
        started = time.monotonic()
        started_wall = time.time()
        exec_id = _engine_call(
            "exec", api.exec_create, self.container_id, wrapped, stdin=data is not None,
            stdout=True, stderr=True, user=user, workdir=cwd or self.spec.workdir, environment=env,
        )["Id"]
        sock = _engine_call("exec", api.exec_start, exec_id, socket=True)
        raw = getattr(sock, "_sock", sock)
        deadline = started + limit + KILL_AFTER_SECONDS + HOST_GRACE_SECONDS
        try:
            stream = pump(raw, data, output_cap or self.spec.output_cap, deadline, cancel)
        finally:
            with contextlib.suppress(OSError):
                sock.close()
        duration = time.monotonic() - started
        exit_code = self._exit_code(exec_id, wait=not (stream.deadline_hit or stream.cancelled))
        if not stream.cancelled and (exit_code is None or exit_code >= 128) and self._died():
            raise SandboxClosed("the sandbox container died while a command ran in it")
        timed_out = stream.deadline_hit or (exit_code in (124, 137) and duration >= limit)
        exhausted = False
        if stream.cancelled:
            self._sweep(user, started_wall)
            exit_code = 137 if exit_code is None else exit_code
        elif timed_out:
            self._sweep(user, started_wall)
            exit_code = 124 if exit_code is None or exit_code not in (124, 137) else exit_code
        elif _FORK_FAILED in stream.stdout or _FORK_FAILED in stream.stderr:
            exhausted = self._pids_exhausted()
            if exhausted:  # a fork bomb left running would make the sandbox unusable for the rest of the episode
                self._sweep(user, started_wall)
        return RawExec(
            exit_code=-1 if exit_code is None else exit_code, stdout=stream.stdout, stderr=stream.stderr,
            duration=duration, truncated=stream.truncated, timed_out=timed_out, pids_exhausted=exhausted,
            cancelled=stream.cancelled,
        )

    # the exec channel -------------------------------------------------------------------------------
    def channel_state(self) -> str:
        """How agent commands run now: "channel", "engine" (channel off or not started), or why it fell back."""
        if self.channel_failure is not None:
            return f"engine (exec channel failed: {self.channel_failure})"
        if self._channel is not None and not self._channel.closed:
            return "channel"
        return "engine" if not self.use_channel else "channel (not started)"

    def start_channel(self, user: str = AGENT_USER) -> None:
        """Start the channel now rather than at the first agent command (prepared worlds do this ahead)."""
        if self._channel is None and self.use_channel and self.channel_failure is None:
            try:
                self._channel = ExecChannel(self.container_id, user, self.spec.workdir, CHANNEL_START_SECONDS)
            except ChannelBroken as exc:
                self.channel_failure = f"could not start: {exc.reason}"
            except (DockerException, RequestException) as exc:
                self.channel_failure = f"could not start: {exc}"

    def _drop_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _via_channel(self, argv: list[str], user: str, cwd: str | None, env: dict[str, str] | None,
                     data: bytes | None, limit: float, cap: int,
                     cancel: threading.Event | None) -> RawExec | None:
        """One agent command over the channel; None when it never started there (run it through the engine).
        A cancel is the engine path's: the host stops waiting at once and the engine-side sweep kills every
        process the command started, and the channel's own process (older than the command, so outside the
        sweep's window): its stream is mid-command, so it is dropped and the next command starts a new one."""
        self.start_channel(user)
        if self._channel is None:
            return None
        started = time.monotonic()
        started_wall = time.time()
        deadline = started + limit + KILL_AFTER_SECONDS + HOST_GRACE_SECONDS
        fsize = self.spec.max_file_mb * 1024 * 1024 if self.spec.max_file_mb > 0 else 0
        try:
            res = self._channel.run(argv, cwd=cwd or self.spec.workdir, env=env, stdin=data, timeout=limit,
                                    cap=cap, fsize=fsize, deadline=deadline, cancel=cancel)
        except ChannelCancelled as exc:
            pid = self._channel.pid
            self._drop_channel()
            self._sweep(user, started_wall, pid)
            return RawExec(exit_code=137, stdout=exc.stdout, stderr=exc.stderr, duration=time.monotonic() - started,
                           truncated=False, timed_out=False, cancelled=True)
        except ChannelBroken as exc:
            self.channel_failure = exc.reason
            pid = self._channel.pid
            self._drop_channel()
            if self._died():  # the engine's state lags the kill by a moment
                raise SandboxClosed("the sandbox container died while a command ran in it") from exc
            if not exc.started:
                return None
            timed_out = time.monotonic() >= deadline
            cancelled = cancel is not None and cancel.is_set()
            if timed_out or cancelled:
                self._sweep(user, started_wall, pid if cancelled else None)
            note = _CHANNEL_DIED_NOTE % exc.reason.encode()
            return RawExec(exit_code=-1, stdout=exc.stdout, stderr=exc.stderr + note,
                           duration=time.monotonic() - started, truncated=False, timed_out=timed_out,
                           cancelled=cancelled)
        duration = time.monotonic() - started
        if res.exit_code >= 128 and self._died():
            raise SandboxClosed("the sandbox container died while a command ran in it")
        exhausted = False
        if res.timed_out:
            self._sweep(user, started_wall)
        elif _FORK_FAILED in res.stdout or _FORK_FAILED in res.stderr:
            exhausted = self._pids_exhausted()
            if exhausted:
                self._sweep(user, started_wall)
        return RawExec(exit_code=res.exit_code, stdout=res.stdout, stderr=res.stderr, duration=duration,
                       truncated=res.truncated, timed_out=res.timed_out, pids_exhausted=exhausted)

    def _pids_exhausted(self) -> bool:
        try:
            return len(self.processes()) >= self.spec.pids - 8
        except InfrastructureError:
            return False

    def alive(self) -> bool:
        """Whether the container still runs: a command cut short by its death must not pass for its result."""
        try:
            state = client().api.inspect_container(self.container_id).get("State") or {}
        except NotFound:
            return False
        except (DockerException, RequestException) as exc:
            raise InfrastructureError(f"inspect: Docker engine error: {exc}") from exc
        return bool(state.get("Running")) and not state.get("Paused") and not state.get("Restarting")

    def _died(self) -> bool:
        """After a command ended by a signal: was it the container dying? Its state lags the kill by a moment."""
        for _ in range(3):
            if not self.alive():
                return True
            time.sleep(0.1)
        return False

    def _exit_code(self, exec_id: str, *, wait: bool) -> int | None:
        for _ in range(50 if wait else 1):
            info = _engine_call("exec inspect", client().api.exec_inspect, exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.02)
        return None

    def _sweep(self, user: str, started_wall: float, channel_pid: int | None = None) -> None:
        """After a timeout or a cancel, no process that the command started may survive it. `started_wall`: the
        host's `time.time()` at the command's start; the script measures the elapsed time from it in the
        container. Retried: under a fork bomb the sweep itself needs one free pid to start, and the bomb's churn
        frees one now and then. `channel_pid`: a dropped channel's process, killed as well."""
        give_up = time.monotonic() + 20
        argv = ["/bin/bash", "-c", _SWEEP_SCRIPT, "sweep", str(int(started_wall * 1_000_000))]
        if channel_pid is not None:
            argv.append(str(channel_pid))
        while time.monotonic() < give_up:
            try:
                code = self._run_detached(argv, user, give_up)
            except NotFound:
                return  # the container is gone: nothing left to sweep
            except (APIError, RequestException):
                code = None
            if code == 0:
                return
            time.sleep(0.1)

    def _run_detached(self, argv: list[str], user: str, give_up: float) -> int | None:
        """Start a helper command detached and poll for its exit code until `give_up`. Never the attached
        `exec_start`: when an exec cannot start (a fork bomb has every pid) the engine may never close the
        attached stream, and that read has no timeout (seen in the soak: workers blocked for good)."""
        api = client().api
        exec_id = api.exec_create(self.container_id, argv, user=user)["Id"]
        api.exec_start(exec_id, detach=True)
        while True:
            info = api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() >= give_up:
                return None
            time.sleep(0.05)

    # files -----------------------------------------------------------------------------------------
    def host_view(self) -> HostView | None:
        """Reads straight from the host when it can see the container's files (one inspect per container)."""
        if not self._view_known:
            self._learn_view(_engine_call("inspect", client().api.inspect_container, self.container_id))
        return self._view

    def host_processes(self) -> HostProcesses | None:
        """The container's processes straight from the host, when it can see them."""
        self.host_view()
        return self._procs

    def _learn_view(self, info: dict[str, Any]) -> None:
        if not self._view_known:
            self._view = HostView.of(info)
            self._procs = HostProcesses.of(info) if self._view is not None else None
            self._view_known = True

    def stat(self, path: str) -> FileStat:
        self._check_open()
        view = self.host_view()
        if view is not None:
            with contextlib.suppress(NotServed):
                return view.stat(path)
        api = client().api
        try:
            res = api.head(api._url("/containers/{0}/archive", self.container_id), params={"path": path})
        except (DockerException, RequestException) as exc:
            raise InfrastructureError(f"stat {path}: {exc}") from exc
        if res.status_code == 404:
            if "No such container" in res.text:
                raise SandboxClosed("stat: the sandbox container is gone")
            return FileStat(path=path, exists=False, kind="missing")
        if res.status_code >= 400:
            raise InfrastructureError(f"stat {path}: engine answered {res.status_code}")
        st = decode_json_header(res.headers["x-docker-container-path-stat"])
        mode = int(st.get("mode", 0))
        kind = ("dir" if mode & _GO_DIR else "symlink" if mode & _GO_SYMLINK
                else "other" if mode & _GO_SPECIAL else "file")
        perm = mode & 0o777
        for go_bit, unix_bit in _GO_PERM_BITS:
            if mode & go_bit:
                perm |= unix_bit
        return FileStat(
            path=path, exists=True, kind=kind, size=int(st.get("size", 0)), mode=perm,
            link_target=str(st.get("linkTarget", "")),
        )

    def read_file(self, path: str, *, user: str | None = None) -> bytes:
        """Read through the engine (user=None: outside the agent's reach) or as `user` (its permissions)."""
        self._check_open()
        if user is not None and user != "root":
            res = self.exec_bytes(["cat", "--", path], user=user, timeout=60,
                                  output_cap=self.spec.file_size_limit + 1)
            if res.exit_code != 0:
                raise FileNotFoundError(res.stderr.decode(errors="replace").strip() or f"cannot read {path}")
            if res.truncated:
                raise FileTooLarge(f"{path} is over the {self.spec.file_size_limit}-byte read limit")
            return res.stdout
        view = self.host_view()
        if view is not None:
            with contextlib.suppress(NotServed):
                return view.read_file(path, self.spec.file_size_limit)
        target = path
        for _ in range(8):
            st = self.stat(target)
            if not st.exists:
                raise FileNotFoundError(f"{path}: no such file in the sandbox")
            if st.kind == "symlink":
                target = posixpath.normpath(posixpath.join(posixpath.dirname(target), st.link_target))
                continue
            if st.kind == "dir":
                raise IsADirectoryError(f"{path} is a directory")
            if st.size > self.spec.file_size_limit:
                raise FileTooLarge(
                    f"{path} is {st.size} bytes, over the {self.spec.file_size_limit}-byte limit; "
                    "raise SandboxSpec.file_size_limit to read it"
                )
            return self._archive_member(target)
        raise FileNotFoundError(f"{path}: too many levels of symbolic links")

    def _archive_member(self, path: str) -> bytes:
        stream, _ = _engine_call("read", client().api.get_archive, self.container_id, path)
        buf = io.BytesIO()
        for chunk in stream:
            buf.write(chunk)
            if buf.tell() > self.spec.file_size_limit + 1024 * 1024:
                raise FileTooLarge(f"{path} grew beyond the read limit while being read")
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tar:
            for member in tar:
                if member.isfile():
                    fh = tar.extractfile(member)
                    return fh.read() if fh is not None else b""
        raise FileNotFoundError(f"{path} is not a regular file")

    def read_text(self, path: str, *, user: str | None = None) -> str:
        return self.read_file(path, user=user).decode("utf-8")

    def read_tree(self, path: str) -> bytes:
        """The engine's tar archive of a path, for checks that inspect a whole directory from outside."""
        self._check_open()
        view = self.host_view()
        if view is not None:
            with contextlib.suppress(NotServed):
                return view.read_tree(path, self.spec.file_size_limit)
        stream, _ = _engine_call("read", client().api.get_archive, self.container_id, path)
        return b"".join(stream)

    def write_file(
        self,
        path: str,
        data: bytes | str,
        *,
        user: str | None = None,
        mode: int = 0o644,
        owner: str = "root",
        dir_owner: str | None = None,
    ) -> None:
        """Write through the engine (user=None; owner/mode set exactly) or as `user` (its permissions apply).

        Parent directories the engine write creates belong to `dir_owner` (default: `owner`); `INHERIT_OWNER`
        gives them the owner of the nearest existing directory above them."""
        self._check_open()
        payload = data.encode() if isinstance(data, str) else data
        if len(payload) > self.spec.file_size_limit:
            raise FileTooLarge(f"{len(payload)} bytes is over the {self.spec.file_size_limit}-byte write limit")
        if user is not None and user != "root":
            script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod "$2" -- "$1"'
            res = self.exec(["/bin/sh", "-c", script, "sh", path, f"{mode:o}"], user=user, stdin=payload, timeout=60)
            if res.exit_code != 0:
                raise PermissionError(res.stderr.strip() or f"cannot write {path} as {user}")
            return
        uid, gid = self._ids(owner)
        path = posixpath.normpath(path)
        anchor, missing = self._missing_parents(path)
        if dir_owner is None:
            duid, dgid = uid, gid
        elif dir_owner == INHERIT_OWNER:
            duid, dgid = self._entry_ids(anchor) if missing else (uid, gid)
        else:
            duid, dgid = self._ids(dir_owner)
        buf = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            rel = self._add_dirs(tar, missing, duid, dgid, now)
            name = posixpath.join(rel, posixpath.basename(path)) if rel else posixpath.basename(path)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(payload), mode, uid, gid, now
            tar.addfile(info, io.BytesIO(payload))
        ok = _engine_call("write", client().api.put_archive, self.container_id, anchor, buf.getvalue())
        if not ok:
            raise InfrastructureError(f"the engine refused to write {path}")

    def make_dirs(self, path: str, *, owner: str = "root", mode: int = 0o755) -> None:
        """`mkdir -p` through the engine: works where capability-less root may not write (agent-owned dirs)."""
        self._check_open()
        path = posixpath.normpath(path)
        if self.stat(path).exists:
            return
        uid, gid = self._ids(owner)
        anchor, missing = self._missing_parents(posixpath.join(path, "x"))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            self._add_dirs(tar, missing, uid, gid, time.time(), mode)
        if not _engine_call("mkdir", client().api.put_archive, self.container_id, anchor, buf.getvalue()):
            raise InfrastructureError(f"the engine refused to create {path}")

    def _entry_ids(self, path: str) -> tuple[int, int]:
        """(uid, gid) of one entry from the first header of its engine archive; the rest is never read."""
        api = client().api
        try:
            res = api._get(api._url("/containers/{0}/archive", self.container_id), params={"path": path},
                           stream=True)
            api._raise_for_status(res)
            buf = io.BytesIO()
            with res:
                for chunk in res.iter_content(chunk_size=4096):
                    buf.write(chunk)
                    if buf.tell() >= 8192:  # enough for the first header, long-name extensions included
                        break
            buf.seek(0)
            with tarfile.open(fileobj=buf, mode="r|") as tar:
                head = tar.next()
        except (DockerException, tarfile.TarError) as exc:
            raise InfrastructureError(f"stat {path}: {exc}") from exc
        if head is None:
            raise InfrastructureError(f"stat {path}: the engine sent an empty archive")
        return head.uid, head.gid

    def _missing_parents(self, path: str) -> tuple[str, list[str]]:
        anchor = posixpath.dirname(path)
        missing: list[str] = []
        while anchor not in ("/", "") and not self.stat(anchor).exists:
            missing.append(posixpath.basename(anchor))
            anchor = posixpath.dirname(anchor)
        return anchor or "/", list(reversed(missing))

    @staticmethod
    def _add_dirs(tar: tarfile.TarFile, parts: list[str], uid: int, gid: int, mtime: float,
                  mode: int = 0o755) -> str:
        rel = ""
        for part in parts:
            rel = posixpath.join(rel, part) if rel else part
            info = tarfile.TarInfo(rel)
            info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, mode, uid, gid, mtime
            tar.addfile(info)
        return rel

    def put_archive(self, directory: str, tar_bytes: bytes) -> None:
        self._check_open()
        if not _engine_call("write", client().api.put_archive, self.container_id, directory, tar_bytes):
            raise InfrastructureError(f"the engine refused the archive for {directory}")

    def _ids(self, user: str) -> tuple[int, int]:
        if user not in self._uids:
            if user == "root":
                self._uids[user] = (0, 0)
            else:
                passwd = self.read_file("/etc/passwd").decode()
                for line in passwd.splitlines():
                    fields = line.split(":")
                    if len(fields) > 3 and fields[0] == user:
                        self._uids[user] = (int(fields[2]), int(fields[3]))
                        break
                else:
                    raise InfrastructureError(f"user {user!r} does not exist in image {self.spec.image}")
        return self._uids[user]

    def uid(self, user: str = AGENT_USER) -> int:
        return self._ids(user)[0]

    def ids(self, user: str = AGENT_USER) -> tuple[int, int]:
        """(uid, gid) of a user of the image."""
        return self._ids(user)

    # state from the engine ---------------------------------------------------------------------------
    def diff(self) -> list[DiffEntry]:
        self._check_open()
        changes = _engine_call("diff", client().api.diff, self.container_id) or []
        return [DiffEntry(path=c["Path"], kind=_DIFF_KINDS.get(c["Kind"], "modified")) for c in changes]

    def processes(self) -> list[ProcessInfo]:
        self._check_open()
        procs = self.host_processes()
        if procs is not None:
            try:
                return procs.ps()
            except OSError as exc:  # the cgroup is gone with the container
                if self._died():
                    raise SandboxClosed("the sandbox container is gone") from exc
                raise InfrastructureError(f"processes: {exc}") from exc
        top = _engine_call(
            "processes", client().api.top, self.container_id, ps_args="-eo pid,ppid,uid,stat,etimes,args"
        )
        out: list[ProcessInfo] = []
        for row in top.get("Processes") or []:
            pid, ppid, uid, state, etimes, *args = row
            out.append(ProcessInfo(
                pid=int(pid), ppid=int(ppid), uid=int(uid), state=state, elapsed_seconds=int(etimes or 0),
                command=" ".join(args),
            ))
        return out

    def stop_agent_processes(self, user: str = AGENT_USER) -> int:
        """Freeze the agent: state at submit time is what counts, so nothing of its may run afterwards."""
        return self.freeze_agent(user)[0]

    def freeze_agent(self, user: str = AGENT_USER) -> tuple[int, list[ProcessInfo]]:
        """`stop_agent_processes`, also returning the process list that showed none of the agent's left: the
        verifier's frozen process list, without one more engine call."""
        uid = self.uid(user)
        host = self.host_processes()
        if host is not None:
            try:
                procs = host.ps()
                if not any(p.uid == uid for p in procs):
                    return 0, procs
                self._drop_channel()  # it is one of the agent's processes: about to be killed
                return host.stop_user(uid, time.monotonic() + 10)
            except TimeoutError as exc:
                raise InfrastructureError(f"could not stop the processes of {user!r} in the sandbox: {exc}") from exc
            except OSError as exc:
                if self._died():
                    raise SandboxClosed("the sandbox container is gone") from exc
                raise InfrastructureError(f"freezing the agent: {exc}") from exc
        procs = self.processes()
        before = sum(1 for p in procs if p.uid == uid)
        for _ in range(10):
            if not any(p.uid == uid for p in procs):
                return before, procs
            self._drop_channel()  # it is one of the agent's processes: about to be killed
            try:
                self._run_detached(["/bin/sh", "-c", _STOP_ALL_SCRIPT], user, time.monotonic() + 10)
            except NotFound as exc:
                raise SandboxClosed("the sandbox container is gone") from exc
            except (APIError, RequestException):
                time.sleep(0.2)
            procs = self.processes()
        if any(p.uid == uid for p in procs):
            raise InfrastructureError(f"could not stop the processes of {user!r} in the sandbox")
        return before, procs

    # freezing, for verification ------------------------------------------------------------------------
    def identity(self) -> str:
        """Which incarnation of the container this is: a restart or a replacement changes it."""
        info = _engine_call("inspect", client().api.inspect_container, self.container_id)
        self._learn_view(info)
        return f"{info['Id']}@{info['State'].get('StartedAt', '')}"

    def confirm(self, identity: str) -> None:
        """Raise an infrastructure error unless the container is the same one, still alive."""
        try:
            info = client().api.inspect_container(self.container_id)
        except NotFound as exc:
            raise SandboxClosed("the sandbox container vanished during verification") from exc
        except DockerException as exc:
            raise InfrastructureError(f"could not inspect the sandbox: {exc}") from exc
        state = info.get("State") or {}
        now = f"{info['Id']}@{state.get('StartedAt', '')}"
        if now != identity or not state.get("Running") or state.get("Restarting") or state.get("Dead"):
            raise SandboxClosed(
                f"the sandbox died or was replaced during verification (status {state.get('Status', '?')}, "
                f"OOM-killed: {bool(state.get('OOMKilled'))})"
            )

    def pause(self) -> None:
        """Freeze every process in the container (cgroup freezer): reads then see one state."""
        self._check_open()
        _engine_call("pause", client().api.pause, self.container_id)

    def unpause(self) -> None:
        self._check_open()
        try:
            client().api.unpause(self.container_id)
        except NotFound as exc:
            raise SandboxClosed("unpause: the sandbox container is gone") from exc
        except APIError as exc:
            if "is not paused" not in str(exc):
                raise InfrastructureError(f"unpause: Docker engine error: {exc}") from exc

    # snapshots -------------------------------------------------------------------------------------
    def snapshot(self) -> str:
        self._check_open()
        tag = f"snap-{uuid.uuid4().hex[:12]}"
        image = _engine_call(
            "snapshot", client().api.commit, self.container_id, repository="groundtruth-snapshot", tag=tag,
            conf={"Labels": {**base_labels(self.spec.run_id, self.spec.episode_id, self.spec.ttl_seconds),
                             **self.spec.labels, LABEL_KIND: "snapshot"}},
        )
        self._snapshots.append(str(image["Id"]))
        return str(image["Id"])

    def reset(self, snapshot: str | None = None) -> None:
        """Replace the container by a fresh one from a snapshot (default: the image it was made from)."""
        self._check_open()
        self._drop_channel()
        self.channel_failure = None
        self._view, self._procs, self._view_known = None, None, False
        with contextlib.suppress(NotFound):
            client().api.remove_container(self.container_id, force=True, v=True)
        self.container_id = self._start_container(self.spec, snapshot or self.spec.image, "sandbox")


async def _run(fn: partial[T]) -> T:
    return await anyio.to_thread.run_sync(fn)


class AsyncDockerSandbox:
    """The async face of `DockerSandbox`: every call runs in anyio's bounded worker pool."""

    def __init__(self, inner: DockerSandbox) -> None:
        self.inner = inner
        self.spec = inner.spec

    @classmethod
    async def create(cls, spec: SandboxSpec) -> AsyncDockerSandbox:
        return cls(await _run(partial(DockerSandbox.create, spec)))

    async def exec(
        self,
        cmd: str | list[str],
        *,
        user: str = AGENT_USER,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | str | None = None,
        timeout: float = 60.0,
    ) -> ExecResult:
        return await _run(partial(self.inner.exec, cmd, user=user, cwd=cwd, env=env, stdin=stdin, timeout=timeout))

    async def read_file(self, path: str, *, user: str | None = None) -> bytes:
        return await _run(partial(self.inner.read_file, path, user=user))

    async def read_text(self, path: str, *, user: str | None = None) -> str:
        return await _run(partial(self.inner.read_text, path, user=user))

    async def write_file(
        self, path: str, data: bytes | str, *, user: str | None = None, mode: int = 0o644, owner: str = "root",
    ) -> None:
        await _run(partial(self.inner.write_file, path, data, user=user, mode=mode, owner=owner))

    async def stat(self, path: str) -> FileStat:
        return await _run(partial(self.inner.stat, path))

    async def diff(self) -> list[DiffEntry]:
        return await _run(partial(self.inner.diff))

    async def processes(self) -> list[ProcessInfo]:
        return await _run(partial(self.inner.processes))

    async def stop_agent_processes(self) -> int:
        return await _run(partial(self.inner.stop_agent_processes))

    async def snapshot(self) -> str:
        return await _run(partial(self.inner.snapshot))

    async def reset(self, snapshot: str | None = None) -> None:
        await _run(partial(self.inner.reset, snapshot))

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await _run(partial(self.inner.close))

    async def __aenter__(self) -> AsyncDockerSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
