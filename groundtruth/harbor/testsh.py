"""Harbor's standard `tests/test.sh`: install uv, run pytest on files under /tests, write a reward file.

groundtruth replaces the whole pattern by one `harbor_tests` check per test file (the image's pytest, offline).
Lines that belong to the pattern are recognised and reported as translated; any other line is reported as not
translated, so a custom verifier step is never dropped silently.
"""

from __future__ import annotations

import re
import shlex

from pydantic import BaseModel, Field

from groundtruth.harbor.model import Note

# Lines of the standard pattern (installing uv and curl, the reward file, exit codes, safety checks).
_PATTERN = [re.compile(p) for p in (
    r"^#", r"^set\s", r"^(apt-get|apt)\s", r"^rm\s+-rf\s+/var/lib/apt/lists", r"^curl\s.*astral\.sh/uv.*\|\s*sh$",
    r"^(source|\.)\s+\S*\.local/bin/env", r"^export\s+PATH=", r"^export\s+HOME=", r"^: \"\$\{HOME",
    r"^mkdir\s+-p\s+/logs", r"^chmod\s.*/logs", r"^chown\s.*/logs", r"^rm\s+-f\s+/logs/verifier",
    r"^python3?\s+-m\s+pip\s+install\s.*\buv\b", r"^(if|elif)\b.*(\$\?|_EXIT|_RC|exit_code|RET|TEST_EXIT|reward)",
    r"^if\s+\[\s+\"?\$PWD\"?\s+=\s+\"?/\"?\s+\]", r"^if\s+!\s+command\s+-v\s+uvx", r"^(then|else|fi|done)\b",
    r"^echo\b.*(/logs/verifier|Error|error|\$reward)", r"^(reward|exit_code|[A-Z_]+)=(\$\?|0|1|\"?[0-9.]+\"?)$",
    r"^exit\b", r"^trap\s.*reward", r"^\[\s.*\]\s*&&\s*reward=", r"^(PASSED|FAILED)=\$\(jq\s.*ctrf",
    r"^(REWARD_FILE|CTRF_FILE)=", r"^cd\s", r"^uvx\s+--version$", r"^true$",
)]
_STD_PLUGINS = {"pytest", "pytest-json-ctrf"}


class TestScript(BaseModel):
    files: list[str] = Field(default_factory=list, description="test files, relative to tests/")
    pip: list[str] = Field(default_factory=list, description="extra packages uvx was told to bring (-w/--with)")
    notes: list[Note] = Field(default_factory=list)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf:
            start = i
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def parse(text: str, where: str = "tests/test.sh") -> TestScript:
    out = TestScript()
    runs = 0
    pattern: list[int] = []
    for line_no, line in _logical_lines(text):
        src = f"{where}:{line_no}"
        if re.search(r"(^|[\s/])(uvx|uv\s+run|pytest|python3?\s+-m\s+pytest)\b", line) and "/tests/" in line:
            runs += 1
            try:
                words = shlex.split(line.split("||")[0].split(";")[0].removeprefix("if ").strip())
            except ValueError:
                words = line.split()
            for i, w in enumerate(words):
                if w in ("-w", "--with") and i + 1 < len(words):
                    name = re.split(r"[=<>~! ]", words[i + 1])[0]
                    if name not in _STD_PLUGINS and name not in out.pip:
                        out.pip.append(name)
                elif w.startswith("/tests/") and w.endswith(".py"):
                    rel = w.removeprefix("/tests/")
                    if rel not in out.files:
                        out.files.append(rel)
            out.notes.append(Note(source=src, what=line, status="translated",
                                  reason=f"one harbor_tests check per test file: {out.files}; run by the image's "
                                         "pytest, offline, from the working directory; every test defined must pass"))
        elif any(p.match(line) for p in _PATTERN):
            pattern.append(line_no)
        else:
            out.notes.append(Note(source=src, what=line, status="not translated",
                                  reason="not part of the standard test.sh pattern; add it as a check by hand"))
    if pattern:
        out.notes.insert(0, Note(source=f"{where}:{','.join(map(str, pattern))}", what="uv install, reward file",
                                 status="translated", reason="the standard pattern's plumbing: not needed offline"))
    for name in out.pip:
        out.notes.append(Note(source=where, what=f"--with {name}", status="not translated",
                              reason=f"tests need the PyPI package {name!r}: add its Debian package (e.g. "
                                     f"python3-{name.lower()}) to [image] packages"))
    if not runs:
        out.notes.append(Note(source=where, what="pytest", status="not translated",
                              reason="no pytest run on files under /tests: every test_*.py in tests/ is run instead"))
    return out
