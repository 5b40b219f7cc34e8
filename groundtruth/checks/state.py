"""A read-only view of a sandbox's final state, read through the engine and never via the agent's tools.

During verification the container is paused (`docker pause`): every read of every check sees one frozen
state. Trees are read once and shared between checks.
"""

from __future__ import annotations

import configparser
import json
import posixpath
import sqlite3
import tempfile
import threading
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from groundtruth.checks.baseline import Baseline, open_copy
from groundtruth.checks.manifest import TreeFile, read_archive
from groundtruth.checks.results import Unknown
from groundtruth.sandbox.base import DiffEntry, FileStat, ProcessInfo
from groundtruth.sandbox.docker import DockerSandbox


class ServiceState(BaseModel):
    """What the verifier saw of one declared service after the agent was frozen and before the pause."""

    name: str
    alive: bool
    counter: int | None = None
    evidence: str = ""


class Frozen(BaseModel):
    """Facts collected between freezing the agent and pausing the container."""

    processes: list[ProcessInfo] = Field(default_factory=list)
    services: dict[str, ServiceState] = Field(default_factory=dict)
    heartbeats: dict[str, int] = Field(default_factory=dict, description="status path -> counter after freeze")
    ipc: list[str] = Field(default_factory=list, description="agent-owned IPC objects that survived the freeze")


class TreeEntry:
    def __init__(self, path: str, info: Any, data: bytes | None) -> None:
        self.path = path
        self.info = info
        self.data = data


class FinalState:
    """What custom checks receive. Every read goes through the engine archive API."""

    def __init__(self, sandbox: DockerSandbox, processes: list[ProcessInfo] | None = None, *,
                 baseline: Baseline | None = None, frozen: Frozen | None = None) -> None:
        self._sb = sandbox
        self.baseline = baseline or Baseline()
        self.frozen = frozen or Frozen(processes=processes or [])
        self._processes = processes if processes is not None else (self.frozen.processes or None)
        self._tmp = tempfile.TemporaryDirectory(prefix="gt-state-")
        self._passwd: dict[str, int] | None = None
        self._trees: dict[str, list[TreeFile]] = {}
        self._stats: dict[str, FileStat] = {}
        self._lock = threading.Lock()
        self._root_locks: dict[str, threading.Lock] = {}

    def close(self) -> None:
        self._tmp.cleanup()

    @property
    def sandbox(self) -> DockerSandbox:
        return self._sb

    # files -------------------------------------------------------------------------------------------
    def stat(self, path: str) -> FileStat:
        """Type, size and mode of `path` itself (a symlink is not followed). A missing path is not an
        error: `exists` is False and `kind` is "missing"."""
        with self._lock:
            if path not in self._stats:
                self._stats[path] = self._sb.stat(path)
            return self._stats[path]

    def exists(self, path: str) -> bool:
        """True when any entry is there: a file, a directory, or a symlink (even a dangling one)."""
        return self.stat(path).exists

    def read_bytes(self, path: str) -> bytes:
        """The file's content; symlinks are followed. Raises FileNotFoundError when it is missing,
        IsADirectoryError for a directory, FileTooLarge over 64 MiB (each makes the check unknown unless
        caught)."""
        return self._sb.read_file(path)

    def read_text(self, path: str) -> str:
        """`read_bytes` decoded as UTF-8 (undecodable bytes become U+FFFD); the same errors for a missing
        file or a directory."""
        return self._sb.read_file(path).decode("utf-8", errors="replace")

    def json(self, path: str) -> Any:
        """Parsed JSON; a file the agent made unparsable fails the check that needed it."""
        return json.loads(self.read_bytes(path))

    def toml(self, path: str) -> dict[str, Any]:
        """Parsed TOML; FileNotFoundError when the file is missing, TOMLDecodeError when it does not parse."""
        return tomllib.loads(self.read_text(path))

    def ini(self, path: str) -> configparser.ConfigParser:
        """Parsed INI (no interpolation); FileNotFoundError when the file is missing."""
        cp = configparser.ConfigParser(interpolation=None)
        cp.read_string(self.read_text(path))
        return cp

    def resolve(self, path: str) -> str:
        """The path the software would really open: normalised, every symlink on the way followed through the
        engine (an alias such as `/a/./b`, `/a//b` or a symlinked directory resolves to the same target)."""
        parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
        out = "/"
        hops = 0
        while parts:
            part = parts.pop(0)
            cand = posixpath.normpath(posixpath.join(out, part))
            st = self.stat(cand)
            if st.kind == "symlink":
                hops += 1
                if hops > 40:
                    raise OSError(f"{path}: too many levels of symbolic links")
                target = st.link_target
                base = "/" if target.startswith("/") else out
                parts = [p for p in posixpath.normpath(posixpath.join(base, target)).split("/") if p] + parts
                out = "/"
                continue
            out = cand
        return out

    def files(self, root: str) -> list[TreeFile]:
        """Every entry under `root` (itself included) with file contents, from one engine archive (cached;
        checks running in parallel that need the same root wait for one read)."""
        with self._lock:
            cached = self._trees.get(root)
            lock = self._root_locks.setdefault(root, threading.Lock())
        if cached is not None:
            return cached
        with lock:
            with self._lock:
                cached = self._trees.get(root)
            if cached is not None:
                return cached
            out = list(read_archive(self._sb.read_tree(root), root)) if self.exists(root) else []
            with self._lock:
                self._trees[root] = out
        return out

    def tree(self, path: str, *, with_data: bool = True) -> list[TreeEntry]:
        """Every entry under `path` (itself included), from one engine archive; [] when the path is missing.
        Each entry has `path`, `info` (its header: uid, gid, mode, type) and `data` (file bytes, or None for
        directories, links and when `with_data` is False)."""
        out = []
        for f in self.files(path):
            e = f.entry
            out.append(TreeEntry(e.path, _Info(e), f.data if with_data else None))
        return out

    def listdir(self, path: str) -> list[str]:
        """Sorted names directly under a directory; [] when the path is missing."""
        base = posixpath.normpath(path)
        return sorted(posixpath.basename(e.path) for e in self.tree(path, with_data=False)
                      if posixpath.dirname(e.path) == base)

    def sqlite(self, path: str) -> sqlite3.Connection:
        """A host-side copy of the database (with its -wal/-journal), queried by the host's sqlite3; close it
        when done. Raises FileNotFoundError when the database file is missing."""
        folder = Path(tempfile.mkdtemp(dir=self._tmp.name))
        name = posixpath.basename(path)
        for suffix in ("", "-wal", "-journal"):
            if suffix == "" or self.exists(path + suffix):
                (folder / (name + suffix)).write_bytes(self._sb.read_file(path + suffix))
        return sqlite3.connect(folder / name)

    def baseline_sqlite(self, path: str) -> sqlite3.Connection:
        """The database as it was right after setup (only for databases a closed-world check compares)."""
        if path not in self.baseline.databases:
            raise Unknown(f"no baseline of {path}: name it in a sqlite_diff or residue check")
        return open_copy(self.baseline.databases[path])

    # processes and services ----------------------------------------------------------------------------
    def processes(self) -> list[ProcessInfo]:
        """Every process in the container as the engine listed it after the agent was frozen."""
        if self._processes is None:
            self._processes = self._sb.processes()
        return self._processes

    def fresh_json(self, path: str, *, service: str = "the service", counter: str = "generation",
                   advance: int = 2, timeout: float = 3.0) -> dict[str, Any]:
        """A status file a running service rewrites, read only if the service refreshed it after the agent was
        frozen: the verifier waits for that before it pauses the container (declare the service with a
        heartbeat in [[services]]). A stale file never counts."""
        if path not in self.frozen.heartbeats:
            dead = [s for s in self.frozen.services.values() if not s.alive]
            if dead:
                raise AssertionError(f"{dead[0].name} is not running: {dead[0].evidence}")
            raise Unknown(f"{path} has no heartbeat: declare {service} in [[services]] with heartbeat.path = {path!r}")
        try:
            data = json.loads(self.read_text(path))
        except FileNotFoundError as exc:
            raise AssertionError(f"{path} does not exist: {service} is not publishing its state") from exc
        if not isinstance(data, dict):
            raise AssertionError(f"{path} does not hold a JSON object")
        seen = self.frozen.heartbeats[path]
        if int(data.get(counter, -1)) < seen:
            raise AssertionError(f"{path} is older than the refresh the verifier saw ({counter} {seen})")
        return data

    def diff(self) -> list[DiffEntry]:
        """The engine's list of paths added, modified or deleted since the image (slow on fuse-overlayfs)."""
        return self._sb.diff()

    # users -------------------------------------------------------------------------------------------
    def uid_of(self, user: str) -> int | None:
        """The uid /etc/passwd gives `user`; None when there is no such user."""
        if self._passwd is None:
            self._passwd = {}
            for line in self.read_text("/etc/passwd").splitlines():
                f = line.split(":")
                if len(f) > 3:
                    self._passwd[f[0]] = int(f[2])
        return self._passwd.get(user)

    def owner_of(self, path: str) -> tuple[int, int, int]:
        """(uid, gid, mode) of a file or directory entry, from the archive header; FileNotFoundError when the
        path is missing."""
        entries = self.files(path)
        if not entries:
            raise FileNotFoundError(path)
        head = entries[0].entry
        return head.uid, head.gid, head.mode


class _Info:
    """The few tarfile.TarInfo attributes custom checks used, for compatibility."""

    def __init__(self, e: Any) -> None:
        self._kind: str = str(e.kind)
        self.name = e.path
        self.mode = e.mode
        self.uid = e.uid
        self.gid = e.gid
        self.size = e.size
        self.linkname = e.link

    def isfile(self) -> bool:
        return self._kind == "file"

    def isdir(self) -> bool:
        return self._kind == "dir"

    def issym(self) -> bool:
        return self._kind == "symlink"
