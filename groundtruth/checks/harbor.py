"""The `harbor_tests` check: a task's own test files, run the way Harbor's `test.sh` runs them, in place.

Harbor copies `tests/` to `/tests` after the agent finished and runs pytest there from the working directory,
usually as root, then scores a reward file. Here the tests are copied in only at verification, after every
reading check and with the agent frozen, root-owned; the image's own pytest runs offline (no uv, no network)
with no ini file, no cache, no plugin autoload and conftest files only from the trusted folder; the report goes
to a directory whose name is a fresh nonce; the number and names of the tests come from the trusted files on the
host, so a skip, a deselection or an early exit cannot pass. Reward files are never read.

What this cannot hide (documented in the README): the code the tests execute runs in the same container, so it
can see `/tests` while it runs, and the runner's user and working directory; Harbor's tests live at /tests by
convention and the tasks expect that. Code that looks for them is deliberate detection code.
"""

from __future__ import annotations

import ast
import io
import posixpath
import secrets
import shlex
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from groundtruth.checks import astlock
from groundtruth.checks.results import Status
from groundtruth.checks.trusted import count_tests
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task

Outcome = tuple[Status, str]


def defined_tests(source: str) -> list[str]:
    """`name` or `Class::name` of every test a trusted file defines (what the report must show as passed)."""
    out: list[str] = []
    for node in astlock.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            out.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            out += [f"{node.name}::{b.name}" for b in node.body
                    if isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef) and b.name.startswith("test")]
    return out


def _tests_archive(folder: Path, dest: str) -> bytes:
    """The trusted test folder as a tar rooted at `/`: root-owned, directories 0755, files 0644 or 0755."""
    buf = io.BytesIO()
    now = time.time()
    top = dest.strip("/")
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(top)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
        tar.addfile(info)
        for p in sorted(folder.rglob("*")):
            if "__pycache__" in p.parts:
                continue
            info = tarfile.TarInfo(posixpath.join(top, p.relative_to(folder).as_posix()))
            info.mtime = now
            if p.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif p.is_file():
                data = p.read_bytes()
                info.size, info.mode = len(data), 0o755 if p.stat().st_mode & 0o111 else 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _results(xml: bytes) -> dict[str, list[str]]:
    """test id (`module::name` or `module::Class::name`, parameters dropped) -> outcomes of its cases."""
    root = ET.fromstring(xml)
    out: dict[str, list[str]] = {}
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        parts = classname.split(".")
        module, cls = (parts[-2], parts[-1]) if len(parts) > 1 and parts[-1][:1].isupper() else (parts[-1], "")
        key = "::".join(p for p in (module, cls, name.split("[")[0]) if p)
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        out.setdefault(key, []).append(kinds[0] if kinds else "passed")
    return out


def run_harbor_tests(c: s.HarborTests, task: Task, sb: DockerSandbox) -> Outcome:
    files = task.test_files(c)
    folder = task.folder / c.tests
    dest = posixpath.normpath(c.dest)
    if sb.stat(dest).exists:
        return Status.FAIL, f"{dest} exists before the trusted tests were copied there (planted by the agent?)"
    names = {f"{f.stem}::{t}": f for f in files for t in defined_tests(f.read_text())}
    expected = c.min_passed if c.min_passed is not None else sum(count_tests(f.read_text()) for f in files)
    if not names or expected < 1:
        return Status.UNKNOWN, f"the trusted test files {[f.name for f in files]} define no test"
    sb.put_archive("/", _tests_archive(folder, dest))
    report_dir = f"/run/gt-{secrets.token_hex(8)}"
    sb.make_dirs(report_dir, owner=c.user, mode=0o700)
    report = f"{report_dir}/{secrets.token_hex(4)}.xml"
    targets = [posixpath.join(dest, f.relative_to(folder).as_posix()) for f in files]
    cmd = ["/usr/bin/python3", "-P", "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-c", "/dev/null",
           f"--rootdir={dest}", f"--confcutdir={dest}", "-rA", f"--junitxml={report}", *targets]
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_ADDOPTS": "", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONNOUSERSITE": "1", **c.env}
    try:
        res = sb.exec(shlex.join(cmd), user=c.user, cwd=c.cwd or sb.spec.workdir, env=env, timeout=c.timeout)
        tail = (res.stdout + res.stderr).strip()[-300:]
        if res.timed_out:
            return Status.FAIL, f"the tests did not finish within {c.timeout:g}s (the code under test hangs): {tail}"
        try:
            xml = sb.read_file(report)
        except FileNotFoundError:
            return Status.FAIL, f"the test run ended without its report (exit {res.exit_code}): {tail}"
    finally:
        sb.exec(["rm", "-rf", "--", dest], user="root", timeout=60, cwd="/")
        sb.exec(["rm", "-rf", "--", report_dir], user=c.user, timeout=60, cwd="/")
    try:
        results = _results(xml)
    except ET.ParseError as exc:
        return Status.FAIL, f"the test report is unreadable ({exc}): {tail}"
    cases = [o for outcomes in results.values() for o in outcomes]
    passed = cases.count("passed")
    missing = sorted(n for n in names if "passed" not in results.get(n, []))
    bad = len(cases) - passed
    if res.exit_code == 0 and not missing and bad == 0 and passed >= expected:
        return Status.PASS, f"{passed}/{expected} tests passed"
    why = f"not passed: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}; " if missing else ""
    return Status.FAIL, (f"{passed}/{expected} tests passed, {bad} failed/errored/skipped, exit {res.exit_code}; "
                         f"{why}{tail}")
