"""The world right after setup, recorded before the agent acts: what closed-world checks compare against.

Everything here is read through the engine, from outside the agent's reach, while nothing of the agent has
run yet: fingerprints of protected paths, archives of the scopes that `fs_diff` checks compare, consistent
copies of the databases that `sqlite_diff` and `residue` checks read, the values that must not remain, and
every place the agent can write (where hidden copies are looked for).
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel, Field

from groundtruth.checks.manifest import read_archive
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task

# Always scanned for hidden copies when they exist: the places every user may write on a Debian system.
SCRATCH = ["/tmp", "/var/tmp", "/run/lock", "/home/agent", "/workspace"]

_FIND = (
    "find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o ! -type l "
    "\\( -uid {uid} -o \\( -gid {gid} -perm -g+w \\) -o -perm -o+w \\) -print 2>/dev/null; exit 0"
)


class Baseline(BaseModel):
    fingerprints: dict[str, str] = Field(default_factory=dict, description="protected path -> fingerprint")
    scopes: dict[str, bytes] = Field(default_factory=dict, description="fs_diff scope -> engine archive")
    databases: dict[str, bytes] = Field(default_factory=dict, description="path -> one-file consistent copy")
    residue: dict[str, list[list[str]]] = Field(default_factory=dict, description="check id -> records")
    writable: list[str] = Field(default_factory=list, description="roots of every agent-writable place")


def collapse(paths: list[str]) -> list[str]:
    """The minimal set of roots covering `paths` (a path under a kept root adds nothing)."""
    out: list[str] = []
    for p in sorted({p.rstrip("/") or "/" for p in paths}):
        if not any(p == r or p.startswith(r.rstrip("/") + "/") for r in out):
            out.append(p)
    return out


_writable_cache: dict[tuple[str, str, int, str], list[str]] = {}
_writable_lock = threading.Lock()


def writable_places(sb: DockerSandbox, task: Task, variant: str) -> list[str]:
    """Every entry the agent user may write (owner, group-writable or world-writable), as collapsed roots.

    Setup decides this and setup is deterministic per task variant, so it is computed once per process."""
    key = (sb.spec.image, task.id, task.spec.version, variant)
    with _writable_lock:
        if key in _writable_cache:
            return _writable_cache[key]
    uid, gid = sb.ids("agent")
    if uid == 0:  # a root agent ([sandbox] agent_user) may write nearly all of /: its home and workdir instead
        found = ["/root", sb.spec.workdir]
    else:
        res = sb.exec(_FIND.format(uid=uid, gid=gid), user="root", timeout=60, cwd="/")
        found = [line for line in res.stdout.splitlines() if line.startswith("/")]
    roots = collapse([*found, *(p for p in SCRATCH if sb.stat(p).exists)])
    with _writable_lock:
        _writable_cache[key] = roots
    return roots


def database_copy(sb: DockerSandbox, path: str) -> bytes:
    """One self-contained file with the database's committed state (its -wal and hot -journal applied)."""
    with tempfile.TemporaryDirectory(prefix="gt-db-") as tmp:
        folder = Path(tmp)
        name = Path(path).name
        for suffix in ("", "-wal", "-journal"):
            if suffix == "" or sb.stat(path + suffix).exists:
                (folder / (name + suffix)).write_bytes(sb.read_file(path + suffix))
        src = sqlite3.connect(folder / name)
        try:
            mem = sqlite3.connect(":memory:")
            src.backup(mem)
            data = mem.serialize()
            mem.close()
        finally:
            src.close()
    return bytes(data)


def open_copy(data: bytes) -> sqlite3.Connection:
    """An in-memory connection to a copy. A WAL database's header says so (bytes 18-19 = 2), and an in-memory
    database cannot use WAL: the copy is marked as a rollback-journal database instead (same content)."""
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        data = data[:18] + b"\x01\x01" + data[20:]
    conn = sqlite3.connect(":memory:")
    conn.deserialize(data)
    return conn


def _residue_records(c: s.Residue, sb: DockerSandbox, databases: dict[str, bytes]) -> list[list[str]]:
    records: list[list[str]] = [[v] for v in c.values]
    for src in c.sources:
        if src.sqlite is not None and src.query is not None:
            conn = open_copy(databases[src.sqlite])
            try:
                for row in conn.execute(src.query):
                    records.append([str(v) for v in row if v is not None])
            finally:
                conn.close()
        elif src.file is not None and src.regex is not None:
            text = sb.read_file(src.file).decode("utf-8", errors="replace")
            for m in re.finditer(src.regex, text, re.MULTILINE):
                records.append([m.group(1) if m.groups() else m.group(0)])
    out = []
    for rec in records:
        kept = sorted({v.strip() for v in rec if len(v.strip()) >= c.min_length})
        if kept:
            out.append(kept)
    return out


def capture(sb: DockerSandbox, task: Task, variant: str) -> Baseline:
    from groundtruth.integrity import fingerprint

    base = Baseline(fingerprints=fingerprint(sb, task.spec.protected))
    checks = task.spec.checks
    for c in checks:
        if isinstance(c, s.FsDiff):
            for root in c.scope:
                if root not in base.scopes:
                    base.scopes[root] = sb.read_tree(root) if sb.stat(root).exists else b""
        dbs = [c.path] if isinstance(c, s.SqliteDiff) else []
        if isinstance(c, s.Residue):
            dbs += [src.sqlite for src in c.sources if src.sqlite is not None]
        for path in dbs:
            if path not in base.databases:
                if not sb.stat(path).exists:
                    raise FileNotFoundError(f"{task.id}: check {c.id} compares against {path}, which setup did "
                                            "not create")
                base.databases[path] = database_copy(sb, path)
    for c in checks:
        if isinstance(c, s.Residue):
            base.residue[c.id] = _residue_records(c, sb, base.databases)
            if c.agent_writable and not base.writable:
                base.writable = writable_places(sb, task, variant)
    return base


def scope_entries(base: Baseline, root: str) -> dict[str, bytes | None]:
    """path -> content (None for non-files) of a scope as it was after setup."""
    raw = base.scopes.get(root, b"")
    if not raw:
        return {}
    return {f.entry.path: f.data for f in read_archive(raw, root)}
