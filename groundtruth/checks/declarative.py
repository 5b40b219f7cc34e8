"""The declarative checks of `task.toml`, each deciding pass / fail / unknown from the final state."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from groundtruth.checks.results import Status
from groundtruth.checks.state import FinalState
from groundtruth.tasks import spec as s

Outcome = tuple[Status, str]


def _pass(reason: str = "") -> Outcome:
    return Status.PASS, reason


def _fail(reason: str) -> Outcome:
    return Status.FAIL, reason


def file_exists(c: s.FileExists, st: FinalState) -> Outcome:
    info = st.stat(c.path)
    return _pass(f"{c.path} is a {info.kind}") if info.exists else _fail(f"{c.path} does not exist")


def file_absent(c: s.FileAbsent, st: FinalState) -> Outcome:
    info = st.stat(c.path)
    if not info.exists:
        return _pass(f"{c.path} does not exist")
    return _fail(f"{c.path} still exists (a {info.kind} of {info.size} bytes)")


def file_contains(c: s.FileContains, st: FinalState) -> Outcome:
    info = st.stat(c.path)
    want = c.type == "file_contains"
    if not info.exists:
        return _fail(f"{c.path} does not exist") if want else _pass(f"{c.path} does not exist")
    found = c.text in st.read_text(c.path)
    if found == want:
        return _pass(f"{c.path} {'contains' if found else 'does not contain'} the text")
    return _fail(f"{c.path} {'contains' if found else 'does not contain'} {c.text!r}")


def file_matches(c: s.FileMatches, st: FinalState) -> Outcome:
    if not st.exists(c.path):
        return _fail(f"{c.path} does not exist")
    m = re.search(c.regex, st.read_text(c.path), re.MULTILINE)
    return _pass(f"matched {m.group(0)[:80]!r}") if m else _fail(f"{c.path} has no match for /{c.regex}/")


def file_sha256(c: s.FileSha256, st: FinalState) -> Outcome:
    if not st.exists(c.path):
        return _fail(f"{c.path} does not exist")
    digest = hashlib.sha256(st.read_bytes(c.path)).hexdigest()
    return _pass() if digest == c.sha256.lower() else _fail(f"{c.path} has sha256 {digest[:16]}…")


def tree_contains(c: s.TreeContains, st: FinalState) -> Outcome:
    needle = c.text.encode()
    hits = [e.path for e in st.tree(c.path) if e.data is not None and needle in e.data]
    if c.type == "tree_contains":
        return _pass(f"found in {hits[0]}") if hits else _fail(f"no file under {c.path} contains {c.text!r}")
    if hits:
        more = f" and {len(hits) - 1} more" if len(hits) > 1 else ""
        return _fail(f"{c.text!r} is still in {hits[0]}{more}")
    return _pass(f"no file under {c.path} contains the text")


def dir_listing(c: s.DirListing, st: FinalState) -> Outcome:
    if not st.exists(c.path):
        return _fail(f"{c.path} does not exist")
    names = set(st.listdir(c.path))
    if c.equals is not None and names != set(c.equals):
        return _fail(f"{c.path} holds {sorted(names)}, expected exactly {sorted(c.equals)}")
    missing = [n for n in c.includes if n not in names]
    if missing:
        return _fail(f"{c.path} lacks {missing}")
    extra = [n for n in c.excludes if n in names]
    if extra:
        return _fail(f"{c.path} still holds {extra}")
    return _pass(f"{len(names)} entries as expected")


def _norm(v: object) -> object:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v


def sqlite_query(c: s.SqliteQuery, st: FinalState) -> Outcome:
    if not st.exists(c.path):
        return _fail(f"database {c.path} does not exist")
    conn = st.sqlite(c.path)
    try:
        rows = [[_norm(v) for v in row] for row in conn.execute(c.query).fetchall()]
    finally:
        conn.close()
    expect = [[_norm(v) for v in row] for row in c.expect]
    if rows == expect:
        return _pass(f"{len(rows)} rows as expected")
    return _fail(f"query returned {rows[:5]}{'…' if len(rows) > 5 else ''}, expected {expect[:5]}")


def process_state(c: s.ProcessState, st: FinalState) -> Outcome:
    uid = st.uid_of(c.user) if c.user else None
    if c.user and uid is None:
        return Status.UNKNOWN, f"user {c.user!r} does not exist"
    rx = re.compile(c.pattern)
    hits = [p for p in st.processes() if rx.search(p.command) and (uid is None or p.uid == uid)]
    if c.type == "process_present":
        return _pass(f"running: {hits[0].command[:80]}") if hits else _fail(f"no process matches /{c.pattern}/")
    return _fail(f"still running: {hits[0].command[:80]}") if hits else _pass(f"no process matches /{c.pattern}/")


def _groups_of(st: FinalState, user: str) -> set[int]:
    gids: set[int] = set()
    for line in st.read_text("/etc/passwd").splitlines():
        f = line.split(":")
        if len(f) > 3 and f[0] == user:
            gids.add(int(f[3]))
    for line in st.read_text("/etc/group").splitlines():
        f = line.split(":")
        if len(f) > 3 and user in f[3].split(","):
            gids.add(int(f[2]))
    return gids


def file_mode(c: s.FileMode, st: FinalState) -> Outcome:
    if not st.exists(c.path):
        return _fail(f"{c.path} does not exist")
    uid, gid, mode = st.owner_of(c.path)
    if c.owner is not None and st.uid_of(c.owner) != uid:
        return _fail(f"{c.path} is owned by uid {uid}, not {c.owner}")
    if c.mode is not None and mode != int(c.mode, 8):
        return _fail(f"{c.path} has mode {mode:04o}, expected {c.mode}")
    if c.not_readable_by is not None:
        who = st.uid_of(c.not_readable_by)
        if who is None:
            return Status.UNKNOWN, f"user {c.not_readable_by!r} does not exist"
        readable = (
            (who == uid and mode & 0o400)
            or (gid in _groups_of(st, c.not_readable_by) and mode & 0o040)
            or mode & 0o004
        )
        if readable:
            return _fail(f"{c.not_readable_by} can read {c.path} (uid {uid}, gid {gid}, mode {mode:04o})")
    return _pass(f"uid {uid}, gid {gid}, mode {mode:04o}")


def user_state(c: s.UserState, st: FinalState) -> Outcome:
    entry = next((ln.split(":") for ln in st.read_text("/etc/passwd").splitlines()
                  if ln.split(":")[0] == c.user), None)
    if c.exists is not None and (entry is not None) != c.exists:
        return _fail(f"user {c.user} {'exists' if entry else 'does not exist'}")
    if entry is None:
        return _pass(f"user {c.user} does not exist") if c.exists is False else _fail(f"user {c.user} is missing")
    if c.shell is not None and entry[6] != c.shell:
        return _fail(f"user {c.user} has shell {entry[6]}, expected {c.shell}")
    if c.locked is not None:
        shadow = next((ln.split(":") for ln in st.read_text("/etc/shadow").splitlines()
                       if ln.split(":")[0] == c.user), None)
        if shadow is None:
            return Status.UNKNOWN, f"no /etc/shadow entry for {c.user}"
        locked = shadow[1].startswith(("!", "*"))
        if locked != c.locked:
            return _fail(f"user {c.user} is {'locked' if locked else 'not locked'}")
    return _pass(f"user {c.user} as expected")


DECLARATIVE: dict[type, Callable[..., Outcome]] = {
    s.FileExists: file_exists,
    s.FileAbsent: file_absent,
    s.FileContains: file_contains,
    s.FileMatches: file_matches,
    s.FileSha256: file_sha256,
    s.TreeContains: tree_contains,
    s.DirListing: dir_listing,
    s.SqliteQuery: sqlite_query,
    s.ProcessState: process_state,
    s.FileMode: file_mode,
    s.UserState: user_state,
}
