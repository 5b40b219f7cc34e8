"""Checks that must run code: in a fresh container of the pristine image, outside the agent's reach.

The agent's container is never trusted to run a grader: its PATH, interpreters, site-packages, conftest
files and background processes may all be the agent's. The verifier container starts from the task's
image, receives copies of only the named solution files and the trusted test files, and runs there.
"""

from __future__ import annotations

import ast
import posixpath
import xml.etree.ElementTree as ET
from pathlib import Path

from groundtruth.checks.results import Status
from groundtruth.sandbox.base import SandboxSpec
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task

Outcome = tuple[Status, str]
VERIFY_DIR = "/opt/groundtruth-verify"


def _verifier(agent_sb: DockerSandbox) -> DockerSandbox:
    spec = SandboxSpec(
        image=agent_sb.spec.image, memory_mb=agent_sb.spec.memory_mb, cpus=agent_sb.spec.cpus,
        pids=agent_sb.spec.pids, ttl_seconds=900, run_id=agent_sb.spec.run_id,
        episode_id=agent_sb.spec.episode_id, workdir="/",
    )
    return DockerSandbox.create(spec, kind="verifier")


def _copy_in(agent_sb: DockerSandbox, verifier: DockerSandbox, paths: list[str]) -> list[str]:
    missing = []
    for path in paths:
        if not agent_sb.stat(path).exists:
            missing.append(path)
            continue
        parent = posixpath.dirname(path.rstrip("/")) or "/"
        verifier.make_dirs(parent)
        verifier.put_archive(parent, agent_sb.read_tree(path))
    return missing


def run_command(c: s.CommandCheck, task: Task, agent_sb: DockerSandbox) -> Outcome:
    with _verifier(agent_sb) as v:
        _copy_in(agent_sb, v, c.copy_paths)
        for dest, rel in c.files.items():
            v.write_file(dest, task.file(rel).read_bytes(), mode=0o755)
        res = v.exec(c.run, user=c.user, timeout=c.timeout, cwd="/")
    if res.timed_out:
        return Status.UNKNOWN, f"the trusted command timed out after {c.timeout:.0f}s"
    tail = (res.stdout + res.stderr).strip()[-300:]
    if res.exit_code != c.expect_exit:
        return Status.FAIL, f"exit {res.exit_code}, expected {c.expect_exit}: {tail}"
    if c.stdout_contains is not None and c.stdout_contains not in res.stdout:
        return Status.FAIL, f"output lacks {c.stdout_contains!r}: {tail}"
    return Status.PASS, f"exit {res.exit_code}"


def count_tests(source: str) -> int:
    """Tests a trusted file defines, counted on the host: skips or early exits cannot shrink the count."""
    tree = ast.parse(source)
    n = 0
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            n += 1
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            n += sum(1 for b in node.body if isinstance(b, ast.FunctionDef) and b.name.startswith("test"))
    return n


def _support_files() -> list[tuple[str, bytes]]:
    """Trusted helpers every hidden test may import (`from _isolated import run_calls, same, Raised`);
    a task file of the same name, written after, overrides one."""
    folder = Path(__file__).parent / "support"
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob("_*.py")) if p.name != "__init__.py"]


def run_pytest(c: s.PytestCheck, task: Task, agent_sb: DockerSandbox) -> Outcome:
    files = [task.file(rel) for rel in c.tests]
    expected = c.min_passed if c.min_passed is not None else sum(count_tests(f.read_text()) for f in files)
    with _verifier(agent_sb) as v:
        missing = _copy_in(agent_sb, v, c.copy_paths)
        for name, data in [*_support_files(), *((Path(f).name, f.read_bytes()) for f in files)]:
            v.write_file(f"{VERIFY_DIR}/tests/{name}", data, mode=0o644)
        v.write_file(f"{VERIFY_DIR}/out/.keep", b"", owner="agent")
        cmd = [
            "python3", "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest",
            "-o", "addopts=", "--rootdir", f"{VERIFY_DIR}/tests", "-c", "/dev/null",
            f"--junitxml={VERIFY_DIR}/out/junit.xml", f"{VERIFY_DIR}/tests",
        ]
        res = v.exec(cmd, user="agent", timeout=c.timeout, cwd=f"{VERIFY_DIR}/tests")
        if res.timed_out:
            return Status.UNKNOWN, f"trusted tests timed out after {c.timeout:.0f}s"
        try:
            xml = v.read_file(f"{VERIFY_DIR}/out/junit.xml")
        except FileNotFoundError:
            return Status.FAIL, f"the tests produced no report (exit {res.exit_code}): {res.stdout[-300:]}"
    suite = ET.fromstring(xml)
    node = suite if suite.tag == "testsuite" else suite.find("testsuite")
    if node is None:
        return Status.UNKNOWN, "unreadable test report"
    total = int(node.get("tests", 0))
    bad = int(node.get("failures", 0)) + int(node.get("errors", 0)) + int(node.get("skipped", 0))
    passed = total - bad
    note = f" (solution files missing: {missing})" if missing else ""
    if res.exit_code == 0 and passed >= expected and bad == 0:
        return Status.PASS, f"{passed}/{expected} trusted tests passed"
    return Status.FAIL, f"{passed}/{expected} trusted tests passed, exit {res.exit_code}{note}: {res.stdout[-300:]}"
