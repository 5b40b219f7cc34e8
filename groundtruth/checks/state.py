"""A read-only view of a sandbox's final state, read through the engine and never via the agent's tools."""

from __future__ import annotations

import io
import json
import posixpath
import sqlite3
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from groundtruth.checks.results import Unknown
from groundtruth.sandbox.base import DiffEntry, FileStat, ProcessInfo
from groundtruth.sandbox.docker import DockerSandbox


class TreeEntry:
    def __init__(self, path: str, info: tarfile.TarInfo, data: bytes | None) -> None:
        self.path = path
        self.info = info
        self.data = data


class FinalState:
    """What custom checks receive. Every read goes through the engine archive API."""

    def __init__(self, sandbox: DockerSandbox, processes: list[ProcessInfo] | None = None) -> None:
        self._sb = sandbox
        self._processes = processes
        self._tmp = tempfile.TemporaryDirectory(prefix="gt-state-")
        self._passwd: dict[str, int] | None = None

    def close(self) -> None:
        self._tmp.cleanup()

    def stat(self, path: str) -> FileStat:
        """Type, size and mode of `path` itself (a symlink is not followed). A missing path is not an
        error: `exists` is False and `kind` is "missing"."""
        return self._sb.stat(path)

    def exists(self, path: str) -> bool:
        """True when any entry is there: a file, a directory, or a symlink (even a dangling one)."""
        return self._sb.stat(path).exists

    def read_bytes(self, path: str) -> bytes:
        """The file's content; symlinks are followed. Raises FileNotFoundError when it is missing,
        IsADirectoryError for a directory, FileTooLarge over 64 MiB (each makes the check unknown unless
        caught)."""
        return self._sb.read_file(path)

    def read_text(self, path: str) -> str:
        """`read_bytes` decoded as UTF-8 (undecodable bytes become U+FFFD); the same errors for a missing
        file or a directory."""
        return self._sb.read_file(path).decode("utf-8", errors="replace")

    def fresh_json(self, path: str, *, service: str = "the service", counter: str = "generation",
                   advance: int = 2, timeout: float = 3.0) -> dict[str, Any]:
        """A status file a running service rewrites, read only once `counter` has moved `advance` times
        since the agent was frozen: a snapshot the agent's last edits may not have reached yet never counts.
        Unknown (never a pass) when the file is missing or the service stopped refreshing it."""

        def read() -> dict[str, Any]:
            try:
                data = json.loads(self.read_text(path))
            except FileNotFoundError as exc:
                raise Unknown(f"{path} does not exist: {service} never ran") from exc
            except json.JSONDecodeError as exc:
                raise Unknown(f"{path} is not JSON ({exc}); {service} may be mid-write") from exc
            if not isinstance(data, dict):
                raise Unknown(f"{path} does not hold a JSON object")
            return data

        start = int(read().get(counter, 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.25)
            current = read()
            if int(current.get(counter, 0)) >= start + advance:
                return current
        raise Unknown(f"{service} did not refresh {path} within {timeout:.0f}s after the agent was frozen "
                      "(is it still running?)")

    def tree(self, path: str, *, with_data: bool = True) -> list[TreeEntry]:
        """Every entry under `path` (itself included), from one engine archive; [] when the path is missing.
        Each entry has `path`, `info` (its tar header: uid, gid, mode, type) and `data` (file bytes, or None
        for directories, links and when `with_data` is False)."""
        if not self.exists(path):
            return []
        raw = self._sb.read_tree(path)
        parent = posixpath.dirname(path.rstrip("/")) or "/"
        out: list[TreeEntry] = []
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar:
                full = posixpath.normpath(posixpath.join(parent, member.name))
                data = None
                if with_data and member.isfile():
                    fh = tar.extractfile(member)
                    data = fh.read() if fh is not None else b""
                out.append(TreeEntry(full, member, data))
        return out

    def listdir(self, path: str) -> list[str]:
        """Sorted names directly under a directory; [] when the path is missing."""
        base = posixpath.normpath(path)
        return sorted(
            posixpath.basename(e.path) for e in self.tree(path, with_data=False) if posixpath.dirname(e.path) == base
        )

    def sqlite(self, path: str) -> sqlite3.Connection:
        """A host-side copy of the database (with its -wal/-journal), queried by the host's sqlite3; close it
        when done. Raises FileNotFoundError when the database file is missing."""
        folder = Path(tempfile.mkdtemp(dir=self._tmp.name))
        name = posixpath.basename(path)
        for suffix in ("", "-wal", "-journal"):
            if suffix == "" or self.exists(path + suffix):
                (folder / (name + suffix)).write_bytes(self._sb.read_file(path + suffix))
        return sqlite3.connect(folder / name)

    def processes(self) -> list[ProcessInfo]:
        """Every process in the container as the engine listed it after the agent was frozen."""
        if self._processes is None:
            self._processes = self._sb.processes()
        return self._processes

    def diff(self) -> list[DiffEntry]:
        """The engine's list of paths added, modified or deleted since the image (slow on fuse-overlayfs)."""
        return self._sb.diff()

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
        entries = self.tree(path, with_data=False)
        if not entries:
            raise FileNotFoundError(path)
        head = entries[0].info
        return head.uid, head.gid, head.mode & 0o7777
