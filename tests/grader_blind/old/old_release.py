# ruff: noqa  (verbatim copy of an old task file, except where its task's files are found)
# The custom checks of this task before the closed-world rework (commit a16d110), kept as a fixture: the
# "old check definition" that tests/test_exploits_multi_objective.py evaluates on the same final state.
"""Custom checks for multi-cleanup-release: the changelog, parsed into its sections."""

from __future__ import annotations

import re
from pathlib import Path

CHANGELOG = "/workspace/tidewater/CHANGELOG.md"
ORIGINAL = (Path(__file__).resolve().parents[3] / "tasks" / "multi-cleanup-release" / "files" / "tidewater" / "CHANGELOG.md").read_text()
NEW_HEADING = re.compile(r"^## \[2\.4\.0\] - 2024-06-18\s*$")
LINK = re.compile(r"^\[[^\]]+\]:\s")


def parse(text: str) -> tuple[str, list[tuple[str, list[str]]], list[str]]:
    """(preamble, [(heading, body lines)], link reference lines)."""
    pre: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    links: list[str] = []
    for line in text.splitlines():
        if LINK.match(line):
            links.append(line)
        elif line.startswith("## "):
            sections.append((line.rstrip(), []))
        elif sections:
            sections[-1][1].append(line.rstrip())
        else:
            pre.append(line.rstrip())
    return "\n".join(pre).strip(), [(h, _trim(b)) for h, b in sections], links


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines = lines[:-1]
    while lines and not lines[0]:
        lines = lines[1:]
    return lines


def _read(st) -> str:
    assert st.exists(CHANGELOG), f"{CHANGELOG} is missing"
    return st.read_text(CHANGELOG)


def changelog_entry(st) -> str:
    _, sections, _ = parse(_read(st))
    hits = [h for h, body in sections for line in body if line.lstrip().startswith(("-", "*")) and "retry_budget" in line]
    assert hits, "no changelog entry mentions retry_budget"
    return f"entry found under {hits[0]!r}"


def changelog_heading(st) -> str:
    _, sections, _ = parse(_read(st))
    headings = [h for h, _ in sections]
    new = [i for i, h in enumerate(headings) if NEW_HEADING.match(h)]
    assert len(new) == 1, f"expected one '## [2.4.0] - 2024-06-18' heading, found {len(new)} (headings: {headings[:4]})"
    i = new[0]
    assert i + 1 < len(headings) and headings[i + 1].startswith("## [2.3.1]"), "the 2.4.0 section is not directly above 2.3.1"
    assert all(h.startswith("## [Unreleased]") for h in headings[:i]), f"sections above 2.4.0: {headings[:i]}"
    body = sections[i][1]
    sub = None
    placed = False
    for line in body:
        if line.startswith("### "):
            sub = line[4:].strip()
        elif "retry_budget" in line and line.lstrip().startswith(("-", "*")):
            assert sub == "Added", f"the retry_budget entry is under '### {sub}', not '### Added'"
            placed = True
    assert placed, "the 2.4.0 section has no retry_budget entry"
    elsewhere = [h for j, (h, b) in enumerate(sections) if j != i and any("retry_budget" in ln for ln in b)]
    assert not elsewhere, f"retry_budget is also listed under {elsewhere}"
    return "entry under ## [2.4.0] - 2024-06-18 / ### Added"


def old_entries_intact(st) -> str:
    pre0, sections0, links0 = parse(ORIGINAL)
    pre, sections, links = parse(_read(st))
    assert pre == pre0, "the changelog's title and introduction changed"
    now = dict(sections)
    for heading, body in sections0:
        if heading.startswith("## [Unreleased]"):
            continue
        assert heading in now, f"section {heading!r} is gone or its heading changed"
        assert now[heading] == body, f"the released section {heading!r} was edited"
    missing = [ln for ln in links0 if not ln.startswith("[Unreleased]") and ln not in links]
    assert not missing, f"compare links removed or changed: {missing}"
    order = [h for h in (h for h, _ in sections) if h in {h0 for h0, _ in sections0}]
    assert order == [h for h, _ in sections0 if h in order], "released sections were reordered"
    return "every released section and its compare link unchanged"
