"""Checks that run code: in place, in the agent's own container, after every file was read frozen.

Running them in the very container the agent worked in, as the agent, with the agent's paths, working
directory and environment, is what makes them grader-blind: there is no second container (whose init would
be younger, whose hostname, command line or files would differ), and no test file ever enters the sandbox.
`pytest` checks run the trusted tests on the host; a test reaches the agent's code only through the
`_isolated` helpers, which execute `python3 -c ...` in the sandbox through the engine exactly as an agent's
own tool call would, and compare plain data on the host. The agent's processes are dead by then (frozen),
so nothing of the agent can interfere.
"""

from __future__ import annotations

import ast
import os
import posixpath
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from groundtruth.checks import astlock, testrunner
from groundtruth.checks.results import Status
from groundtruth.errors import InfrastructureError
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.tasks import spec as s
from groundtruth.tasks.spec import Task

Outcome = tuple[Status, str]


def _topmost_new(sb: DockerSandbox, path: str) -> str:
    """The highest ancestor of `path` (or the path itself) that does not exist yet."""
    top = posixpath.normpath(path)
    parent = posixpath.dirname(top)
    while parent != "/" and not sb.stat(parent).exists:
        top, parent = parent, posixpath.dirname(parent)
    return top


def run_command(c: s.CommandCheck, task: Task, sb: DockerSandbox) -> Outcome:
    created = [_topmost_new(sb, dest) for dest in c.files if not sb.stat(dest).exists]
    for dest, rel in c.files.items():
        sb.write_file(dest, task.file(rel).read_bytes(), mode=0o755)
    try:
        res = sb.exec(c.run, user=c.user, timeout=c.timeout, cwd=c.cwd)
    finally:
        # The trusted files go again: a later executing check (hidden tests) must not find a grader artifact.
        if created:
            sb.exec(["rm", "-rf", "--", *created], user="root", timeout=30)
    tail = (res.stdout + res.stderr).strip()[-300:]
    if res.timed_out:
        return Status.FAIL, f"the command did not finish within {c.timeout:g}s: {tail}"
    if res.exit_code != c.expect_exit:
        return Status.FAIL, f"exit {res.exit_code}, expected {c.expect_exit}: {tail}"
    if c.stdout_contains is not None and c.stdout_contains not in res.stdout:
        return Status.FAIL, f"output lacks {c.stdout_contains!r}: {tail}"
    for text in c.stdout_lacks:
        if text in res.stdout:
            return Status.FAIL, f"output still holds {text!r}: {tail}"
    return Status.PASS, f"exit {res.exit_code}"


def count_tests(source: str) -> int:
    """Tests a trusted file defines, counted on the host: skips or early exits cannot shrink the count."""
    tree = astlock.parse(source)
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


def run_pytest(c: s.PytestCheck, task: Task, sb: DockerSandbox) -> Outcome:
    files = [task.file(rel) for rel in c.tests]
    expected = c.min_passed if c.min_passed is not None else sum(count_tests(f.read_text()) for f in files)
    with tempfile.TemporaryDirectory(prefix="gt-tests-") as tmp:
        root = Path(tmp)
        tests = root / "tests"
        tests.mkdir()
        for name, data in [*_support_files(), *((f.name, f.read_bytes()) for f in files)]:
            (tests / name).write_bytes(data)
        junit, infra = root / "junit.xml", root / "infra-error"
        env = {
            **os.environ, "GT_SANDBOX_CONTAINER": sb.container_id, "GT_SANDBOX_IMAGE": sb.spec.image,
            "GT_SANDBOX_RUN": sb.spec.run_id, "GT_SANDBOX_EPISODE": sb.spec.episode_id,
            "GT_SANDBOX_WORKDIR": sb.spec.workdir, "GT_INFRA_MARKER": str(infra),
            "GT_SANDBOX_EXEC_TIMEOUT": f"{task.spec.limits.exec_timeout:g}",
            "GT_SANDBOX_CHANNEL": "1" if sb.use_channel and sb.channel_failure is None else "0",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1",
        }
        args = [
            "-q", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts=",
            "-c", os.devnull, "--rootdir", str(root), f"--junitxml={junit}", str(tests),
        ]
        try:
            returncode, output = testrunner.run(args, env=env, cwd=str(root), timeout=c.timeout)
        except subprocess.TimeoutExpired:
            if infra.exists():
                raise InfrastructureError(f"the engine failed during the trusted tests: {infra.read_text()}") from None
            return Status.FAIL, f"the trusted tests did not finish within {c.timeout:g}s (the code under test hangs)"
        if infra.exists():
            raise InfrastructureError(f"the engine failed during the trusted tests: {infra.read_text()}")
        if not junit.exists():
            return Status.UNKNOWN, f"the trusted tests could not run (exit {returncode}): {output[-300:]}"
        xml = junit.read_bytes()
    suite = ET.fromstring(xml)
    node = suite if suite.tag == "testsuite" else suite.find("testsuite")
    if node is None:
        return Status.UNKNOWN, "unreadable test report"
    total = int(node.get("tests", 0))
    bad = int(node.get("failures", 0)) + int(node.get("errors", 0)) + int(node.get("skipped", 0))
    passed = total - bad
    if returncode == 0 and passed >= expected and bad == 0:
        return Status.PASS, f"{passed}/{expected} trusted tests passed"
    return Status.FAIL, f"{passed}/{expected} trusted tests passed, exit {returncode}: {output[-300:]}"
