"""What the job is: the reference solution run once in a fresh world, its effect recorded.

Generic exploits are written against this profile: which files the job removes or modifies, which database
rows it deletes or updates, which code files it fixes, and which values had to disappear. Each exploit then
does something cheaper than the job that a naive grader could mistake for it.
"""

from __future__ import annotations

import difflib
import posixpath
import sqlite3
import zlib
from typing import Literal

from pydantic import BaseModel, Field

from groundtruth.checks.baseline import collapse, database_copy, open_copy, writable_places
from groundtruth.checks.manifest import TreeFile, read_archive
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task
from groundtruth.tasks.world import World

CODE_SUFFIXES = (".py", ".sh", ".js", ".ts", ".rb", ".go", ".rs", ".c", ".h", ".java")
SQLITE_MAGIC = b"SQLite format 3\x00"
MIN_SECRET = 6
SCRATCH_PREFIXES = ("/tmp/", "/var/tmp/", "/run/lock/", "/home/agent/")


class FileChange(BaseModel):
    path: str
    kind: Literal["added", "removed", "modified"]
    is_dir: bool = False
    code: bool = False
    sqlite: bool = False
    before: bytes | None = None
    after: bytes | None = None
    link: str | None = Field(default=None, description="the symlink's target before the job, when it was one")


class TableChange(BaseModel):
    db: str
    table: str
    pk: list[str]
    deleted: list[list[object]] = Field(default_factory=list, description="pk values of rows the job deletes")
    updated: list[list[object]] = Field(default_factory=list)
    inserted: int = 0


class JobProfile(BaseModel):
    task: str
    variant: str
    roots: list[str]
    changes: list[FileChange] = Field(default_factory=list)
    tables: list[TableChange] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list, description="values the job made disappear")
    untouched: list[str] = Field(default_factory=list, description="files the job leaves as they were")
    service_inputs: list[str] = Field(default_factory=list,
                                      description="files the agent owns outside its scratch space")
    reference_exit: int | None = None

    @property
    def data_changes(self) -> list[FileChange]:
        return [c for c in self.changes if not c.code and not c.is_dir and not c.sqlite]

    @property
    def code_changes(self) -> list[FileChange]:
        return [c for c in self.changes if c.code and c.kind == "modified"]

    @property
    def databases(self) -> list[str]:
        return sorted({t.db for t in self.tables})

    @property
    def removes_data(self) -> bool:
        return bool(self.secrets)


def _plain(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 64 * 1024 * 1024)
        except zlib.error:
            return data
    return data


def _removed_text(before: bytes, after: bytes | None) -> list[str]:
    """Content that disappeared: whole lines dropped, and spans replaced inside a line (a redaction)."""
    old = _plain(before).decode("utf-8", errors="replace").splitlines()
    new = _plain(after).decode("utf-8", errors="replace").splitlines() if after is not None else []
    out: list[str] = []
    sm = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "delete":
            out += old[i1:i2]
        elif op == "replace":
            for k, line in enumerate(old[i1:i2]):
                partner = new[j1 + k] if j1 + k < j2 else ""
                inner = difflib.SequenceMatcher(a=line, b=partner, autojunk=False)
                for iop, a1, a2, _, _ in inner.get_opcodes():
                    if iop in ("delete", "replace") and a2 - a1 >= MIN_SECRET:
                        out.append(line[a1:a2])
    return [x.strip() for x in out if len(x.strip()) >= MIN_SECRET]


def _tree(sb: DockerSandbox, root: str) -> dict[str, TreeFile]:
    if not sb.stat(root).exists:
        return {}
    return {f.entry.path: f for f in read_archive(sb.read_tree(root), root)}


def _pk(conn: sqlite3.Connection, table: str) -> list[str]:
    cols = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    return [c[1] for c in sorted((c for c in cols if c[5] > 0), key=lambda c: c[5])] or ["rowid"]


def _shadow_tables(conn: sqlite3.Connection) -> set[str]:
    """The internal tables of virtual tables (an FTS5 index's _data, _idx, _content...): SQLite maintains them,
    an exploit works through the virtual table itself, and their BLOB keys cannot travel in a JSON plan."""
    try:
        return {r[1] for r in conn.execute("PRAGMA table_list") if r[2] == "shadow"}
    except sqlite3.Error:  # SQLite before 3.37 has no table_list: recognise the FTS/R-tree suffixes instead
        virtual = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL%'")]
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n for n in names for v in virtual if n.startswith(v + "_")}


def _table_changes(db: str, before: bytes, after: bytes) -> tuple[list[TableChange], list[str]]:
    b, a = open_copy(before), open_copy(after)
    out: list[TableChange] = []
    secrets: list[str] = []
    try:
        tables = [r[0] for r in b.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                          "AND name NOT LIKE 'sqlite_%'")]
        shadow = _shadow_tables(b)
        tables = [t for t in tables if t not in shadow]
        after_tables = {r[0] for r in a.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for t in tables:
            if t not in after_tables:
                continue
            pk = _pk(b, t)
            sel = ", ".join(f'"{c}"' if c != "rowid" else "rowid" for c in pk)
            try:
                rows_b = {tuple(r[:len(pk)]): r[len(pk):] for r in b.execute(f'SELECT {sel}, * FROM "{t}"')}
                rows_a = {tuple(r[:len(pk)]): r[len(pk):] for r in a.execute(f'SELECT {sel}, * FROM "{t}"')}
            except sqlite3.Error:
                continue
            if any(isinstance(v, bytes) for k in rows_b for v in k):
                continue  # a BLOB key cannot travel in a JSON plan (and no exploit needs one)
            deleted = sorted(rows_b.keys() - rows_a.keys(), key=repr)
            updated = sorted((k for k in rows_b.keys() & rows_a.keys() if rows_b[k] != rows_a[k]), key=repr)
            inserted = len(rows_a.keys() - rows_b.keys())
            if deleted or updated or inserted:
                out.append(TableChange(db=db, table=t, pk=pk, deleted=[list(k) for k in deleted],
                                       updated=[list(k) for k in updated], inserted=inserted))
            for k in deleted:
                secrets += [str(v) for v in rows_b[k] if isinstance(v, str) and len(v) >= MIN_SECRET]
    finally:
        b.close()
        a.close()
    return out, secrets


def scopes_of(task: Task) -> list[str]:
    """Where the task's data lives, as its checks declare it."""
    out: list[str] = []
    for c in task.spec.checks:
        if isinstance(c, s.FsDiff):
            out += c.scope
        elif isinstance(c, s.SqliteDiff | s.SqliteQuery):
            out.append(posixpath.dirname(c.path))
        elif isinstance(c, s.Residue):
            out += c.scope
        elif isinstance(c, s.TreeContains | s.DirListing):
            out.append(c.path)
        elif isinstance(c, s.FileAbsent | s.FileContains | s.FileMatches | s.FileSha256 | s.FileExists):
            out.append(posixpath.dirname(c.path))
    return out


def profile(task: Task, variant: str, *, run_id: str) -> JobProfile:
    with World(task, variant, 0, run_id=run_id, episode_id=f"redteam-profile-{task.id}") as w:
        sb = w.sandbox
        assert sb is not None and w.baseline is not None
        roots = collapse([*writable_places(sb, task, w.variant), *scopes_of(task)])
        roots = [r for r in roots if r not in ("/", "/etc", "/usr", "/var")] or roots
        before = {p: f for r in roots for p, f in _tree(sb, r).items()}
        dbs_before = {p: database_copy(sb, p) for p, f in before.items()
                      if f.data is not None and f.data.startswith(SQLITE_MAGIC)}
        res = w.run_reference_solution()
        after = {p: f for r in roots for p, f in _tree(sb, r).items()}
        dbs_after = {p: database_copy(sb, p) for p in dbs_before if p in after}
        residue_values = sorted({v for recs in w.baseline.residue.values() for rec in recs for v in rec})
        agent_uid = sb.uid("agent")
    prof = JobProfile(task=task.id, variant=variant, roots=roots, reference_exit=None if res is None else res.exit_code)
    secrets: list[str] = list(residue_values)
    for path in sorted(set(before) | set(after)):
        b, a = before.get(path), after.get(path)
        if b is not None and a is not None and b.entry.fingerprint() == a.entry.fingerprint():
            continue
        if posixpath.basename(path).endswith(("-wal", "-journal", "-shm")):
            continue
        ent = (a or b)
        assert ent is not None
        kind: Literal["added", "removed", "modified"] = "added" if b is None else "removed" if a is None else "modified"
        is_sqlite = path in dbs_before or bool(a and a.data and a.data.startswith(SQLITE_MAGIC))
        change = FileChange(path=path, kind=kind, is_dir=ent.entry.kind == "dir",
                            code=path.endswith(CODE_SUFFIXES), sqlite=is_sqlite,
                            before=b.data if b else None, after=a.data if a else None,
                            link=b.entry.link if b and b.entry.kind == "symlink" else None)
        prof.changes.append(change)
        if is_sqlite and path in dbs_before and path in dbs_after:
            tables, values = _table_changes(path, dbs_before[path], dbs_after[path])
            prof.tables += tables
            secrets += values
        elif is_sqlite and kind == "removed":
            secrets.append(path)
        elif not change.code and not change.is_dir and change.before is not None:
            secrets += _removed_text(change.before, change.after)
    prof.secrets = sorted(set(secrets))
    changed = {c.path for c in prof.changes}
    prof.untouched = sorted(p for p, f in before.items() if f.entry.kind == "file" and p not in changed)
    prof.service_inputs = sorted(
        p for p, f in before.items()
        if f.entry.kind == "file" and f.entry.uid == agent_uid and not p.startswith(SCRATCH_PREFIXES)
    )
    return prof
