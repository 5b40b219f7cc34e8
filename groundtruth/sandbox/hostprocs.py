"""The container's processes as the host sees them: listed from its cgroup and /proc, signalled through pidfds.

`docker top` is a round trip that makes the engine run `ps` on the host, and stopping the agent needed an
engine exec on top (together about 150 ms idle, seconds under load): the host can do both with a few system
calls. Used only where this process shares the engine's PID namespace and cgroup hierarchy, as root, and the
container has no user-namespace remapping (its uids are the host's); `HostProcesses.of` returns None
elsewhere and the engine is used as before. `GROUNDTRUTH_HOST_VIEW=0` turns it off with the file view.

A pid read from the cgroup may die and be reused by an unrelated process before it is signalled: every
signal goes through a pidfd opened first, and only when the pid is still in the container's cgroup after
that, so it can only ever reach the process that was listed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from typing import Any

from groundtruth.sandbox.base import ProcessInfo
from groundtruth.sandbox.hostview import enabled

_TICKS = os.sysconf("SC_CLK_TCK")
_CLONE_NEWIPC = 0x08000000


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _euid(status: str) -> int | None:
    """The effective uid in a /proc/<pid>/status text (what `ps -o uid` shows)."""
    return next((int(ln.split()[2]) for ln in status.splitlines() if ln.startswith("Uid:")), None)


def _uid_of(pid: int) -> int | None:
    try:
        return _euid(_read(f"/proc/{pid}/status"))
    except OSError:
        return None


class HostProcesses:
    """One container's processes (see the module docstring)."""

    def __init__(self, procs_file: str, init_pid: int) -> None:
        self.procs_file = procs_file
        self.init_pid = init_pid

    @classmethod
    def of(cls, info: dict[str, Any]) -> HostProcesses | None:
        if not enabled() or os.geteuid() != 0 or not hasattr(os, "pidfd_open"):
            return None
        pid = int((info.get("State") or {}).get("Pid") or 0)
        if pid <= 0:
            return None
        try:
            if _read(f"/proc/{pid}/uid_map").split() != ["0", "0", "4294967295"]:
                return None
            lines = _read(f"/proc/{pid}/cgroup").splitlines()
            os.close(os.pidfd_open(pid))  # a kernel without pidfds (before 5.3): signals go through the engine
        except OSError:
            return None  # another PID namespace: the engine's init is not visible here
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                candidate = f"/sys/fs/cgroup{path}/cgroup.procs"  # cgroup v2
            elif "pids" in controllers.split(","):
                candidate = f"/sys/fs/cgroup/{controllers}{path}/cgroup.procs"
            else:
                continue
            try:
                if str(pid) in _read(candidate).split():
                    return cls(candidate, pid)
            except OSError:
                continue
        return None

    def pids(self) -> list[int]:
        return [int(p) for p in _read(self.procs_file).split()]

    def ps(self) -> list[ProcessInfo]:
        """Like `docker top -eo pid,ppid,uid,stat,etimes,args`: host pids, effective uids."""
        uptime = float(_read("/proc/uptime").split()[0])
        out: list[ProcessInfo] = []
        for pid in self.pids():
            try:
                stat = _read(f"/proc/{pid}/stat")
                status = _read(f"/proc/{pid}/status")
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    argv = fh.read()
            except OSError:
                continue  # it exited meanwhile
            comm_end = stat.rfind(")")
            comm = stat[stat.find("(") + 1:comm_end]
            fields = stat[comm_end + 2:].split()
            uid = _euid(status)
            started = int(fields[19]) / _TICKS
            command = " ".join(a.decode(errors="replace") for a in argv.split(b"\0") if a) or f"[{comm}]"
            out.append(ProcessInfo(pid=pid, ppid=int(fields[1]), uid=-1 if uid is None else uid, state=fields[0],
                                   elapsed_seconds=max(0, int(uptime - started)), command=command))
        return out

    def signal(self, pids: list[int], sig: int, uid: int | None = None) -> None:
        """Signal each pid that is still the listed process. Pidfds are opened first, then the cgroup is read
        again: a pid in it now is held either by the process the fd pins (it is ours) or, if that one died
        meanwhile, the fd's signal goes nowhere. (A zombie leader whose threads still run has an empty
        /proc/<pid>/cgroup, so membership is read from the cgroup's side.)"""
        opened: dict[int, int] = {}
        try:
            for pid in pids:
                with contextlib.suppress(OSError):
                    opened[pid] = os.pidfd_open(pid)
            members = set(self.pids()) if opened else set()
            for pid, fd in opened.items():
                if pid in members and (uid is None or _uid_of(pid) == uid):
                    with contextlib.suppress(OSError):
                        signal.pidfd_send_signal(fd, sig)
        finally:
            for fd in opened.values():
                os.close(fd)

    def stop_user(self, uid: int, give_up: float) -> tuple[int, list[ProcessInfo]]:
        """Kill every process of `uid`: stopped first (a fork bomb cannot outrun it), then killed, until the
        list shows none (killed processes linger as zombies for a moment until init reaps them)."""
        procs = self.ps()
        before = sum(1 for p in procs if p.uid == uid)
        while True:
            mine = [p.pid for p in procs if p.uid == uid]
            if not mine:
                return before, procs
            if time.monotonic() >= give_up:
                raise TimeoutError(f"{len(mine)} processes of uid {uid} survived")
            # zombies too: a process whose main thread exited shows as Z while its other threads run on
            self.signal(mine, signal.SIGSTOP, uid)  # the uid again: a pid reused inside the container meanwhile
            self.signal(mine, signal.SIGKILL, uid)  # is another user's process, never signalled
            time.sleep(0.002)
            procs = self.ps()


def _sysvipc_in(ns_fd: int, out: dict[str, str], errors: list[BaseException]) -> None:
    """Runs in a thread of its own, which alone joins the container's IPC namespace and then ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(ns_fd, _CLONE_NEWIPC) != 0:
            raise OSError(ctypes.get_errno(), "setns into the sandbox's IPC namespace")
        for kind in ("shm", "msg", "sem"):
            out[kind] = _read(f"/proc/sysvipc/{kind}")
    except BaseException as exc:  # handed to the caller
        errors.append(exc)


def ipc_objects(pid: int) -> list[tuple[str, frozenset[int], str]]:
    """(kind, uids of its owner and creator, id or name) of every SysV IPC object and POSIX message queue in
    the IPC namespace of `pid` (a process of the container), read from the host. The creator counts: an agent
    can hand a segment it filled to another owner (IPC_SET) and it stays its data."""
    ns_fd = os.open(f"/proc/{pid}/ns/ipc", os.O_RDONLY | os.O_CLOEXEC)
    try:
        tables: dict[str, str] = {}
        errors: list[BaseException] = []
        t = threading.Thread(target=_sysvipc_in, args=(ns_fd, tables, errors), name="gt-ipc-ns")
        t.start()
        t.join()
    finally:
        os.close(ns_fd)
    if errors:
        raise OSError(f"reading the sandbox's IPC objects: {errors[0]}")
    out: list[tuple[str, frozenset[int], str]] = []
    for kind, text in tables.items():
        lines = text.splitlines()
        if lines:
            out += sysvipc_rows(f"SysV {kind}", lines[0].split(), [ln.split() for ln in lines[1:]])
    mq = f"/proc/{pid}/root/dev/mqueue"
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        dfd = os.open(mq, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in os.listdir(dfd):
                with contextlib.suppress(OSError):
                    out.append(("message queue", frozenset({os.lstat(name, dir_fd=dfd).st_uid}), name))
        finally:
            os.close(dfd)
    return out


def sysvipc_rows(kind: str, header: list[str], rows: list[list[str]]) -> list[tuple[str, frozenset[int], str]]:
    """The rows of a /proc/sysvipc table as (kind, owner and creator uids, id)."""
    cols = [header.index(c) for c in ("uid", "cuid") if c in header]
    out = []
    for row in rows:
        if cols and len(row) == len(header) and all(row[i].isdigit() for i in cols):
            out.append((kind, frozenset(int(row[i]) for i in cols), row[1]))
    return out
