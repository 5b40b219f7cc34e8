"""Custom checks for multi-cleanup-release: the changelog parsed into its sections, the pyproject parsed as
TOML and the package's __init__ parsed as Python, each compared with the file as shipped.

Semantic, closed world: the version is what tomllib and the interpreter would read (a second `version =`
line in another table, or a `__version__` line inside a docstring, is not a bump), and each file may differ
from the original only by the release's own changes.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

PROJECT = "/workspace/tidewater"
CHANGELOG = f"{PROJECT}/CHANGELOG.md"
PYPROJECT = f"{PROJECT}/pyproject.toml"
INIT = f"{PROJECT}/tidewater/__init__.py"
SHIPPED = Path(__file__).resolve().parent.parent / "files" / "tidewater"
ORIGINAL = (SHIPPED / "CHANGELOG.md").read_text()
OLD, NEW = "2.3.1", "2.4.0"
PIN = "tidewater-schemas==2.3.1"
REPO = "https://github.com/halcyon-labs/tidewater/compare"
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


def _entry_ok(body: list[str]) -> str | None:
    """The new section: `### Added` and exactly one bullet, about retry_budget, citing PR #231."""
    lines = [ln for ln in body if ln.strip()]
    bullets = [ln for ln in lines if ln.lstrip().startswith(("-", "*"))]
    if [ln for ln in lines if ln not in bullets] != ["### Added"] or len(bullets) != 1:
        return f"the 2.4.0 section should be '### Added' and one entry, not {lines[:5]}"
    if "retry_budget" not in bullets[0] or "#231" not in bullets[0]:
        return f"the entry {bullets[0]!r} does not name retry_budget and PR #231"
    return None


def changelog_closed_world(st) -> str:
    """Exactly the original changelog plus the release's own changes: the new section directly below an
    empty [Unreleased], and the compare links updated as docs/releasing.md says. Nothing else."""
    pre0, sections0, links0 = parse(ORIGINAL)
    pre, sections, links = parse(_read(st))
    assert pre == pre0, "the changelog's title and introduction changed"
    heads = [h for h, _ in sections]
    released = [(h, b) for h, b in sections if not NEW_HEADING.match(h)]
    assert released == sections0, (f"sections other than 2.4.0 differ from the original (headings now "
                                   f"{heads[:4]}...); [Unreleased] stays empty and released sections are history")
    if len(heads) == len(sections0):
        assert links == links0, "the compare links changed although no 2.4.0 section was added"
        return "changelog unchanged"
    assert len(heads) == len(sections0) + 1 and NEW_HEADING.match(heads[1]), (
        f"the 2.4.0 section must come once, directly below [Unreleased]: {heads[:4]}")
    problem = _entry_ok(sections[1][1])
    assert problem is None, problem
    want = [f"[Unreleased]: {REPO}/v{NEW}...HEAD", f"[{NEW}]: {REPO}/v{OLD}...v{NEW}", *links0[1:]]
    assert [ln.rstrip() for ln in links] == want, (
        f"compare links at the bottom are {links[:3]}, want {want[:2]} above the old ones")
    return "changelog = original + the 2.4.0 section + updated compare links"


def _toml(st) -> dict:
    try:
        return tomllib.loads(st.read_text(PYPROJECT))
    except tomllib.TOMLDecodeError as exc:
        raise AssertionError(f"pyproject.toml no longer parses: {exc}") from None


def version_pyproject(st) -> str:
    version = _toml(st).get("project", {}).get("version")
    assert version == NEW, f"[project] version is {version!r} (as tomllib reads it), not {NEW!r}"
    return f"[project] version = {version}"


def schemas_pin_kept(st) -> str:
    deps = _toml(st).get("project", {}).get("dependencies", [])
    pins = [d for d in deps if isinstance(d, str) and d.replace(" ", "").startswith("tidewater-schemas")]
    assert pins == [PIN], f"the tidewater-schemas dependency is {pins}, it must stay {PIN!r}"
    return f"{PIN} kept"


def _init_tree(st) -> ast.Module:
    try:
        return ast.parse(st.read_bytes(INIT))
    except (SyntaxError, ValueError) as exc:
        raise AssertionError(f"tidewater/__init__.py no longer parses: {exc}") from None


def _version_assignments(tree: ast.Module) -> list[ast.AST]:
    return [n for n in ast.walk(tree)
            if isinstance(n, ast.Assign | ast.AnnAssign | ast.AugAssign)
            and any(isinstance(t, ast.Name) and t.id == "__version__"
                    for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]


def version_init(st) -> str:
    tree = _init_tree(st)
    found = _version_assignments(tree)
    assert len(found) == 1 and found[0] in tree.body, (
        f"tidewater/__init__.py assigns __version__ {len(found)} times (want one plain module-level assignment)")
    value = found[0].value if isinstance(found[0], ast.Assign) else None
    assert isinstance(value, ast.Constant) and value.value == NEW, (
        f"__version__ is {ast.unparse(value) if value else '?'}, not {NEW!r}")
    return f"__version__ = {NEW!r}"


def release_files_closed_world(st) -> str:
    """pyproject.toml and tidewater/__init__.py mean exactly what they meant before, apart from the version."""
    data = _toml(st)
    if data.get("project", {}).get("version") == NEW:
        data["project"]["version"] = OLD
    assert data == tomllib.loads((SHIPPED / "pyproject.toml").read_text()), (
        "pyproject.toml differs from the original by more than the version (as tomllib reads it)")
    tree = _init_tree(st)
    for node in _version_assignments(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == NEW:
            node.value.value = OLD
    original = ast.parse((SHIPPED / "tidewater" / "__init__.py").read_bytes())
    assert ast.dump(tree) == ast.dump(original), "tidewater/__init__.py differs from the original by more than the version"
    return "pyproject.toml and __init__.py differ only by the version"
