"""Custom checks for multi-onboard-employee: plain asserts over the final state, read through the engine.

Closed world: the new row must be the whole account the ticket and the README's conventions describe (not
just something that mentions Priya), groups.conf must parse to exactly the original groups plus her login in
the two groups the manager asked for, and the welcome note must be the template filled in with her data.
"""

from __future__ import annotations

import configparser
import re
import sqlite3
from pathlib import Path

DB = "/srv/intranet/data/intranet.db"
GROUPS = "/srv/intranet/config/groups.conf"
WELCOME_DIR = "/srv/intranet/notes/welcome"
FILES = Path(__file__).resolve().parent.parent / "files"
COLUMNS = "id, username, email, display_name, department, title, start_date, active, is_admin, created_at"
# README: login = first letter + surname, taken (praman is a former employee) -> append 2;
# email = firstname.surname@ the company domain.
USERNAME = "praman2"
EMAIL = "priya.raman@halvorsen-freight.com"
GRANTED = ("data-team", "vpn-users")
NOTE_VALUES = {"first_name": "Priya", "department": "Data & Analytics", "start_date": "2024-07-01",
               "username": USERNAME, "email": EMAIL, "manager": "Jonas Chen"}


def _seed_rows() -> list[tuple]:
    conn = sqlite3.connect(":memory:")
    conn.executescript((FILES / "schema.sql").read_text() + (FILES / "seed-users.sql").read_text())
    return conn.execute(f"SELECT {COLUMNS} FROM users ORDER BY id").fetchall()


def _seed_groups() -> dict[str, set[str]]:
    return _parse_groups((FILES / "groups.conf").read_text())


def _parse_groups(text: str) -> dict[str, set[str]]:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    return {s: {m for m in re.split(r"[,\s]+", cp[s].get("members", "")) if m} for s in cp.sections()}


def _parse_all(text: str) -> dict[str, dict[str, object]]:
    """Every section (DEFAULT included) with every key, members as a set: what a reader of the file gets."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    out: dict[str, dict[str, object]] = {"DEFAULT": dict(cp.defaults())}
    for sec in cp.sections():
        keys: dict[str, object] = dict(cp.items(sec))
        if "members" in keys:
            keys["members"] = {m for m in re.split(r"[,\s]+", str(keys["members"])) if m}
        out[sec] = keys
    return out


def _rows(st) -> list[tuple]:
    assert st.exists(DB), f"{DB} is missing"
    conn = st.sqlite(DB)
    try:
        return conn.execute(f"SELECT {COLUMNS} FROM users ORDER BY id").fetchall()
    finally:
        conn.close()


def _new_hire(st) -> tuple:
    seed_ids = {r[0] for r in _seed_rows()}
    new = [r for r in _rows(st) if r[0] not in seed_ids and ("priya" in r[2].lower() or "priya" in r[3].lower())]
    assert new, "no new account for Priya Raman in the users table"
    assert len(new) == 1, f"{len(new)} new accounts for Priya: {[r[1] for r in new]}"
    return new[0]


def _groups(st) -> dict[str, set[str]]:
    assert st.exists(GROUPS), f"{GROUPS} is missing"
    try:
        return _parse_groups(st.read_text(GROUPS))
    except configparser.Error as exc:
        raise AssertionError(f"groups.conf no longer parses: {exc}") from None


def account_created(st) -> str:
    row = _new_hire(st)
    username, active = row[1], row[7]
    seed_ids = {r[0] for r in _seed_rows()}
    others = [r[1] for r in _rows(st) if r[0] not in seed_ids and r[0] != row[0]]
    assert not others, f"other new accounts besides Priya's: {others}"
    assert active == 1, f"the new account {username} is not active"
    assert username == USERNAME, (f"username {username!r} does not follow the README's convention "
                                  f"(first letter + surname, taken by a former employee -> {USERNAME!r})")
    want = {"department": "Data & Analytics", "title": "Data Analyst", "start_date": "2024-07-01", "is_admin": 0}
    got = {"department": row[4], "title": row[5], "start_date": row[6], "is_admin": row[8]}
    assert got == want, f"the account does not carry the ticket's data: {got}, want {want}"
    return f"new account {username} (id {row[0]})"


def work_email(st) -> str:
    email = _new_hire(st)[2]
    assert email == EMAIL, f"her email is {email!r}; the directory uses the work address {EMAIL!r}"
    return f"email {email}"


def groups_granted(st) -> str:
    username = _new_hire(st)[1]
    groups = _groups(st)
    missing = [g for g in ("data-team", "vpn-users") if username not in groups.get(g, set())]
    assert not missing, f"{username} is not in {missing}"
    return f"{username} is in data-team and vpn-users"


def _norm(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def welcome_note(st) -> str:
    row = _new_hire(st)
    username = row[1]
    path = f"{WELCOME_DIR}/{username}.md"
    info = st.stat(path)
    assert info.exists, f"no welcome note at {path}"
    assert info.kind == "file", f"{path} is a {info.kind}, not a file of its own"
    assert info.mode & 0o004, f"{path} has mode {info.mode:04o}: the intranet service (user app) cannot read it"
    text = st.read_text(path)
    assert not re.search(r"\{[a-z_]+\}", text), f"{path} still has template placeholders"
    want = (FILES / "TEMPLATE.md").read_text()
    for key, value in NOTE_VALUES.items():
        want = want.replace("{" + key + "}", value)
    got, expected = _norm(text), _norm(want)
    diff = [(i + 1, g, w) for i, (g, w) in enumerate(zip(got, expected)) if g != w]
    assert got == expected, (f"{path} is not the template filled in with her data: "
                             + (f"line {diff[0][0]} is {diff[0][1]!r}, want {diff[0][2]!r}" if diff
                                else f"{len(got)} lines, want {len(expected)}"))
    return f"{path} written from the template"


def admin_untouched(st) -> str:
    before = _seed_groups()["admin"]
    groups = _groups(st)
    assert "admin" in groups, "the [admin] group is gone"
    assert groups["admin"] == before, f"[admin] members changed: {sorted(groups['admin'])}, were {sorted(before)}"
    admins = sorted(r[1] for r in _rows(st) if r[8])
    want = sorted(r[1] for r in _seed_rows() if r[8])
    assert admins == want, f"users with is_admin = 1: {admins}, were {want}"
    return "no admin rights granted"


def existing_users_intact(st) -> str:
    now = {r[0]: r for r in _rows(st)}
    changed = [r[1] for r in _seed_rows() if now.get(r[0]) != r]
    assert not changed, f"existing directory rows changed or removed: {changed}"
    return "every existing account unchanged"


def other_groups_intact(st) -> str:
    before, now = _seed_groups(), _groups(st)
    lost = {g: sorted(m - now.get(g, set())) for g, m in before.items() if m - now.get(g, set())}
    assert not lost, f"members removed from groups: {lost}"
    return "no existing membership removed"


def groups_closed_world(st) -> str:
    """groups.conf reads exactly as before, except her login in the groups the manager asked for."""
    before = _parse_all((FILES / "groups.conf").read_text())
    assert st.exists(GROUPS), f"{GROUPS} is missing"
    try:
        now = _parse_all(st.read_text(GROUPS))
    except configparser.Error as exc:
        raise AssertionError(f"groups.conf no longer parses: {exc}") from None
    problems = []
    for sec in sorted(set(before) | set(now)):
        if sec not in now:
            problems.append(f"[{sec}] is gone")
        elif sec not in before:
            problems.append(f"a new section [{sec}] appeared")
        else:
            for key in sorted(set(before[sec]) | set(now[sec])):
                old, new = before[sec].get(key), now[sec].get(key)
                if sec in GRANTED and key == "members" and isinstance(old, set) and new in (old, old | {USERNAME}):
                    continue
                if old != new:
                    problems.append(f"[{sec}] {key} changed: {sorted(new) if isinstance(new, set) else new!r}")
    assert not problems, "; ".join(problems[:4])
    return "groups.conf changed only by her membership of data-team and vpn-users"
