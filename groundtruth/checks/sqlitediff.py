"""`sqlite_diff`: one database compared with its copy from right after setup, schema and rows.

A renamed table with a view of the old name in front, a copy of the rows in a new table, a trigger, an
encoded value, an unrequested update: each is a difference the task did not declare.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from typing import Any

from groundtruth.checks.baseline import open_copy
from groundtruth.checks.manifest import glob_match
from groundtruth.checks.results import Status, Unknown
from groundtruth.checks.state import FinalState
from groundtruth.tasks import spec as s

Outcome = tuple[Status, str]
Row = tuple[tuple[str, Any], ...]


def _typed(row: tuple[Any, ...]) -> Row:
    """Values with their storage class: 5, 5.0 and '5' are different values."""
    return tuple((type(v).__name__, v) for v in row)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, str]]:
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    return {(t, n): (tbl, re.sub(r"\s+", " ", sql or "").strip()) for t, n, tbl, sql in rows}


def _pk(conn: sqlite3.Connection, table: str) -> list[str]:
    cols = conn.execute(f"PRAGMA table_info({_q(table)})").fetchall()
    return [c[1] for c in sorted((c for c in cols if c[5] > 0), key=lambda c: c[5])]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [c[1] for c in conn.execute(f"PRAGMA table_info({_q(table)})").fetchall()]


def _keyed(conn: sqlite3.Connection, table: str, pk: list[str], where: str | None = None) -> dict[Row, Row]:
    cols = _columns(conn, table)
    sel = ", ".join(_q(c) for c in [*pk, *cols])
    sql = f"SELECT {sel} FROM {_q(table)}" + (f" WHERE {where}" if where else "")
    return {_typed(r[:len(pk)]): _typed(r[len(pk):]) for r in conn.execute(sql)}


def _multiset(conn: sqlite3.Connection, table: str, where: str | None = None) -> Counter[Row]:
    sql = f"SELECT * FROM {_q(table)}" + (f" WHERE {where}" if where else "")
    return Counter(_typed(r) for r in conn.execute(sql))


def _show(key: Row) -> str:
    return "(" + ", ".join(repr(v) for _, v in key) + ")"


def _keys(rows: object, n: int = 3) -> str:
    items = list(rows)  # type: ignore[call-overload]
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(_show(k) for k in items[:n]) + more


def _table_problems(base: sqlite3.Connection, final: sqlite3.Connection, table: str,
                    rule: s.TableChange | None) -> list[str]:
    out: list[str] = []
    pk = _pk(base, table) if not (rule and rule.new) else _pk(final, table)
    if rule is not None and rule.new:
        if rule.insert is None:
            return [f"{table}: rows were added, but the task allows no insert"] if _multiset(final, table) else []
        bad = _multiset(final, table) - _multiset(final, table, rule.insert)
        return [f"{table}: {sum(bad.values())} new rows do not meet `{rule.insert}`"] if bad else []
    if pk:
        before, after = _keyed(base, table, pk), _keyed(final, table, pk)
        deleted = before.keys() - after.keys()
        inserted = after.keys() - before.keys()
        updated = {k for k in before.keys() & after.keys() if before[k] != after[k]}
        must_go = set(_keyed(base, table, pk, rule.delete)) if rule and rule.delete else set()
        may_change = set(_keyed(base, table, pk, rule.update)) if rule and rule.update else set()
        may_add = set(_keyed(final, table, pk, rule.insert)) if rule and rule.insert else set()
        if deleted - must_go:
            out.append(f"{table}: rows deleted that had to stay: {_keys(sorted(deleted - must_go))}")
        if must_go - deleted:
            out.append(f"{table}: rows that had to be deleted are still there: {_keys(sorted(must_go - deleted))}")
        if updated - may_change:
            out.append(f"{table}: rows changed that had to stay as they were: {_keys(sorted(updated - may_change))}")
        if rule and rule.columns:
            cols = _columns(base, table)
            allowed = set(rule.columns)
            for k in sorted(updated & may_change):
                changed = {c for c, x, y in zip(cols, before[k], after[k], strict=True) if x != y}
                if changed - allowed:
                    out.append(f"{table}: row {_show(k)} changed {sorted(changed - allowed)}, only {sorted(allowed)} "
                               "may change")
                    break
        if inserted - may_add:
            out.append(f"{table}: rows added that the task does not allow: {_keys(sorted(inserted - may_add))}")
        return out
    # No primary key: rows are compared as a multiset (an update is a delete plus an insert). Each row that may
    # change and is gone must be paired with a new row that differs from it only in the declared columns;
    # an unpaired one was deleted, an unpaired new row that no `insert` allows was added.
    before_m, after_m = _multiset(base, table), _multiset(final, table)
    gone, new = before_m - after_m, after_m - before_m
    must_go_m = _multiset(base, table, rule.delete) if rule and rule.delete else Counter[Row]()
    may_change_m = _multiset(base, table, rule.update) if rule and rule.update else Counter[Row]()
    may_add_m = _multiset(final, table, rule.insert) if rule and rule.insert else Counter[Row]()
    extra_gone = gone - (must_go_m | may_change_m)
    missing = must_go_m - gone
    changing = (gone - must_go_m) & may_change_m
    unexplained = new - may_add_m
    fixed = _fixed_columns(base, table, rule)
    paired, unexplained_left = _pair(changing, unexplained, fixed)
    paired2, _ = _pair(changing - paired, new - unexplained, fixed)
    vanished = sum((changing - paired - paired2).values())
    if extra_gone:
        out.append(f"{table}: {sum(extra_gone.values())} rows deleted or changed that had to stay")
    if missing:
        out.append(f"{table}: {sum(missing.values())} rows that had to be deleted are still there")
    if vanished:
        where = sorted(rule.columns) if rule and rule.columns else "any column"
        out.append(f"{table}: {vanished} rows that could only change (in {where}) were deleted or changed elsewhere")
    if unexplained_left:
        out.append(f"{table}: {sum(unexplained_left.values())} rows added that the task does not allow")
    return out


def _fixed_columns(conn: sqlite3.Connection, table: str, rule: s.TableChange | None) -> list[int]:
    """Positions of the columns an update must leave alone (all but the declared ones; none declared: none)."""
    if rule is None or not rule.columns:
        return []
    allowed = set(rule.columns)
    return [i for i, c in enumerate(_columns(conn, table)) if c not in allowed]


def _pair(old: Counter[Row], new: Counter[Row], fixed: list[int]) -> tuple[Counter[Row], Counter[Row]]:
    """Match each old row with a new row equal to it in the `fixed` columns: (old rows matched, new rows left)."""
    pool: dict[Row, list[Row]] = {}
    for row in new.elements():
        pool.setdefault(tuple(row[i] for i in fixed), []).append(row)
    matched: Counter[Row] = Counter()
    for row in old.elements():
        bucket = pool.get(tuple(row[i] for i in fixed))
        if bucket:
            bucket.pop()
            matched[row] += 1
    left: Counter[Row] = Counter(r for bucket in pool.values() for r in bucket)
    return matched, left


def sqlite_diff(c: s.SqliteDiff, st: FinalState) -> Outcome:
    if c.path not in st.baseline.databases:
        raise Unknown(f"no baseline of {c.path}: the world was not prepared for this check")
    if not st.exists(c.path):
        return Status.FAIL, f"database {c.path} is gone"
    base = open_copy(st.baseline.databases[c.path])
    final = st.sqlite(c.path)
    try:
        rules = {t.name: t for t in c.tables}
        new_tables = {t.name for t in c.tables if t.new}

        def ignored(name: str) -> bool:
            return any(glob_match(name, g) for g in c.ignore)

        before, after = schema(base), schema(final)
        problems: list[str] = []
        for key in sorted(set(before) | set(after)):
            kind, name = key
            tbl = (after.get(key) or before[key])[0]
            if ignored(name) or ignored(tbl):
                continue
            if key not in after:
                problems.append(f"the {kind} {name} is gone")
            elif key not in before:
                if tbl not in new_tables:
                    problems.append(f"a new {kind} {name} appeared" + (f" on {tbl}" if tbl != name else ""))
            elif before[key] != after[key]:
                problems.append(f"the {kind} {name} was redefined: {after[key][1][:120]}")
        for name in sorted(new_tables - {n for (k, n) in after if k == "table"}):
            problems.append(f"the table {name} the task creates is missing")
        if problems:
            return Status.FAIL, "; ".join(problems[:6])
        tables = sorted(n for (k, n) in after if k == "table" and not ignored(n))
        for table in tables:
            problems += _table_problems(base, final, table, rules.get(table))
        if problems:
            return Status.FAIL, "; ".join(problems[:6])
        return Status.PASS, f"{len(tables)} tables differ only as declared"
    finally:
        base.close()
        final.close()
