"""`fs_diff`: a scope compared entry by entry with its manifest from right after setup.

Every difference must be one the task declared. Hiding a file under another name, moving it, encoding it in
place, leaving a symlink or a decoy, or changing anything nobody asked for is a difference nobody declared.
"""

from __future__ import annotations

import re

from groundtruth.checks.baseline import scope_entries
from groundtruth.checks.manifest import Entry, TreeFile, glob_match, read_archive
from groundtruth.checks.results import Status
from groundtruth.checks.state import FinalState
from groundtruth.tasks import spec as s

Outcome = tuple[Status, str]
_UNCHANGED = s.ExpectedChange(path="/**", expect="unchanged")


def _describe(e: Entry) -> str:
    if e.kind == "file":
        return f"file, {e.size} bytes, mode {e.mode:04o}, uid {e.uid}"
    if e.kind in ("symlink", "hardlink"):
        return f"{e.kind} to {e.link}"
    return f"{e.kind}, mode {e.mode:04o}, uid {e.uid}"


def _what_changed(a: Entry, b: Entry) -> str:
    if a.kind != b.kind:
        return f"became a {b.kind} (was a {a.kind})"
    parts = []
    if a.sha256 != b.sha256 or a.size != b.size:
        parts.append(f"content ({a.size} -> {b.size} bytes)")
    if a.mode != b.mode:
        parts.append(f"mode {a.mode:04o} -> {b.mode:04o}")
    if (a.uid, a.gid) != (b.uid, b.gid):
        parts.append(f"owner {a.uid}:{a.gid} -> {b.uid}:{b.gid}")
    if a.link != b.link:
        parts.append(f"link {a.link} -> {b.link}")
    return "changed " + ", ".join(parts or ["metadata"])


def drop_lines(data: bytes, pattern: str) -> bytes:
    rx = re.compile(pattern)
    return b"".join(line for line in data.splitlines(keepends=True)
                    if not rx.search(line.decode("utf-8", errors="replace")))


def _predicates(rule: s.ExpectedChange, path: str, data: bytes | None) -> str | None:
    if not (rule.contains or rule.lacks or rule.matches):
        return None
    if data is None:
        return f"{path} is not a regular file"
    text = data.decode("utf-8", errors="replace")
    for t in rule.contains:
        if t not in text:
            return f"{path} lacks {t!r}"
    for t in rule.lacks:
        if t in text:
            return f"{path} still holds {t!r}"
    if rule.matches is not None and not re.search(rule.matches, text, re.MULTILINE):
        return f"{path} has no match for /{rule.matches}/"
    return None


def judge(rule: s.ExpectedChange, path: str, before: TreeFile | None, after: TreeFile | None) -> str | None:
    """None when the entry's state is what the rule expects, else the evidence."""
    b, a = (before.entry if before else None), (after.entry if after else None)
    if rule.expect == "any":
        return None
    if b is None:
        if a is None:
            return None
        if rule.expect == "added":
            return _predicates(rule, path, after.data if after else None)
        return f"added {path} ({_describe(a)})"
    if rule.expect == "removed":
        if a is None:
            return None
        if rule.required:
            return f"{path} is still there ({_describe(a)}); it had to be removed"
        return None if a.fingerprint() == b.fingerprint() else f"{path}: {_what_changed(b, a)}"
    if a is None:
        return f"removed {path} (was a {_describe(b)})"
    if rule.expect == "drop_lines" and b.kind == "file" and before is not None and rule.pattern is not None:
        want = drop_lines(before.data or b"", rule.pattern)
        got = after.data if after else None
        if a.kind != "file" or got is None:
            return f"{path} {_what_changed(b, a)}"
        if (a.mode, a.uid, a.gid) != (b.mode, b.uid, b.gid):
            return f"{path}: {_what_changed(b, a)}"
        if got != want:
            return (f"{path} is not its old content minus the lines matching /{rule.pattern}/ "
                    f"({len(got)} bytes, expected {len(want)})")
        return None
    if rule.expect == "modified":
        if a.kind != b.kind or (a.mode, a.uid, a.gid) != (b.mode, b.uid, b.gid):
            return f"{path}: {_what_changed(b, a)}"
        if rule.required and a.fingerprint() == b.fingerprint():
            return f"{path} was not changed"
        return _predicates(rule, path, after.data if after else None)
    return None if a.fingerprint() == b.fingerprint() else f"{path}: {_what_changed(b, a)}"


def fs_diff(c: s.FsDiff, st: FinalState) -> Outcome:
    problems: list[str] = []
    matched: dict[int, int] = {}
    compared = 0
    for root in c.scope:
        raw = st.baseline.scopes.get(root)
        if raw is None:
            return Status.UNKNOWN, f"no baseline of {root}: the world was not prepared for this check"
        before = {f.entry.path: f for f in read_archive(raw, root)} if raw else {}
        after = {f.entry.path: f for f in st.files(root)}
        for path in sorted(set(before) | set(after)):
            if any(glob_match(path, g) for g in c.ignore):
                continue
            compared += 1
            idx, rule = next(((i, r) for i, r in enumerate(c.changes) if glob_match(path, r.path)),
                             (-1, _UNCHANGED))
            if idx >= 0 and (path in before if rule.expect != "added" else path not in before):
                matched[idx] = matched.get(idx, 0) + 1
            problem = judge(rule, path, before.get(path), after.get(path))
            if problem:
                problems.append(problem)
    for i, rule in enumerate(c.changes):
        if rule.required and rule.expect in ("removed", "modified", "drop_lines", "added") and not matched.get(i):
            what = "appeared" if rule.expect == "added" else "existed after setup"
            problems.append(f"nothing matching {rule.path} {what} ({rule.expect} was required)")
    if problems:
        more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
        return Status.FAIL, "; ".join(problems[:6]) + more
    return Status.PASS, f"{compared} entries under {', '.join(c.scope)} differ only as declared"


__all__ = ["drop_lines", "fs_diff", "judge", "scope_entries"]
