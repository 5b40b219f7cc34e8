"""`groundtruth tasks import harbor`: a Harbor task folder (task.toml, instruction.md, environment/Dockerfile,
tests/test.sh + test files, solution/solve.sh) becomes a groundtruth task folder that `tasks validate` accepts.

Mapping: the instruction is the instruction; limits and resources come from `[agent]`/`[verifier]`/
`[environment]`; the Dockerfile's steps become the task recipe (`apt-get install` lines become `[image]
packages`); the standard `test.sh` becomes one `harbor_tests` check (and one goal objective) per test file;
`solve.sh` (with the rest of `solution/`) is the reference solution. The agent is root by default, as in
Harbor, with capabilities dropped and no network. Everything that cannot be translated is reported, never
dropped silently. An optional `groundtruth.toml` beside `task.toml` adds groundtruth checks (closed-world or
grader-blind ones where Harbor's tests alone are weak), objectives and protected paths.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import ValidationError

from groundtruth.errors import GroundtruthError
from groundtruth.harbor import dockerfile, testsh
from groundtruth.harbor.model import HarborToml, ImportResult, Note
from groundtruth.tasks.spec import load_task

# What a root agent could rewrite to make the image's own pytest lie, fingerprinted as protected paths (kept small:
# each is read at setup and at every verification); /tests must not exist before verification copies the trusted
# tests there. The standard library under /usr/lib/python3.11 is not covered (see the README).
ROOT_PROTECTED = ["/tests", "/usr/bin/python3.11", "/usr/lib/python3/dist-packages/_pytest",
                  "/usr/lib/python3/dist-packages/pytest", "/etc/python3.11", "/etc/ld.so.preload"]
AgentUser = Literal["root", "agent"]


class HarborImportError(GroundtruthError):
    """The folder is not a Harbor task this importer can read; the message says what is missing."""


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return s or "task"


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_str(k)


def toml_value(v: Any) -> str:
    """One TOML value (inline tables for nested dicts); json's string escapes are valid TOML escapes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise HarborImportError(f"cannot write {v!r} as TOML")


def _multiline(text: str) -> str:
    return f"'''\n{text}'''" if "'''" not in text and "\r" not in text else toml_value(text)


def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters.update(q=toml_value, v=toml_value, ml=_multiline, key=_toml_key)
    text = resources.files("groundtruth.harbor").joinpath("templates", "task.toml.j2").read_text()
    return env.from_string(text)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise HarborImportError(f"{path}: not valid TOML: {exc}") from exc


def _solution(src: Path, out: Path, env: dict[str, str], notes: list[Note]) -> str | None:
    """The reference: solve.sh as it is, or a wrapper that first puts the rest of solution/ at /solution (where
    Harbor uploads it) and exports [solution].env."""
    folder = src / "solution"
    if not (folder / "solve.sh").is_file():
        notes.append(Note(source="solution/solve.sh", what="reference solution", status="not translated",
                          reason="missing: `tasks validate` needs a reference that passes"))
        return None
    shutil.copytree(folder, out / "solution", dirs_exist_ok=True)
    extra = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "solve.sh")
    if not extra and not env:
        notes.append(Note(source="solution/solve.sh", what="solve.sh", status="translated",
                          reason="the reference solution, run as the agent from the working directory"))
        return "solution/solve.sh"
    lines = ["#!/bin/bash", "# Generated: Harbor uploads solution/ to /solution before running solve.sh.", "set -e"]
    lines += [f"export {k}={json.dumps(v)}" for k, v in env.items()]
    for p in [*extra, folder / "solve.sh"]:
        rel = p.relative_to(folder).as_posix()
        data = base64.b64encode(p.read_bytes()).decode()
        lines += [f"mkdir -p \"$(dirname /solution/{rel})\"", f"base64 -d > /solution/{rel} <<'GT_EOF'", data,
                  "GT_EOF"]
    lines += ["bash /solution/solve.sh"]
    (out / "solution" / "reference.sh").write_text("\n".join(lines) + "\n")
    notes.append(Note(source="solution/", what=f"solve.sh + {[p.name for p in extra]}", status="translated",
                      reason="reference.sh writes them to /solution (as Harbor uploads them), then runs solve.sh"))
    return "solution/reference.sh"


def _overlay(src: Path) -> dict[str, Any]:
    path = src / "groundtruth.toml"
    if not path.is_file():
        return {}
    data = _read_toml(path)
    unknown = set(data) - {"checks", "objectives", "protected", "agent_user", "collateral"}
    if unknown:
        raise HarborImportError(f"{path}: unknown keys {sorted(unknown)}; allowed: checks, objectives, protected, "
                                "agent_user, collateral")
    bad = [f for f in data.get("collateral", []) if not isinstance(f, str) or not (src / "tests" / f).is_file()]
    if bad:
        raise HarborImportError(f"{path}: collateral names {bad}, which are not test files in tests/; list the "
                                "test files whose tests already pass before the agent acts")
    return data


def import_task(src: Path, into: Path, *, agent_user: AgentUser | None = None, force: bool = False) -> ImportResult:
    started = time.monotonic()
    src = src.resolve()
    for need in ("task.toml", "instruction.md", "environment/Dockerfile", "tests"):
        if not (src / need).exists():
            raise HarborImportError(f"{src}: no {need}; a Harbor task has task.toml, instruction.md, "
                               "environment/Dockerfile, tests/ (test.sh + test files) and solution/solve.sh")
    try:
        cfg = HarborToml.model_validate(_read_toml(src / "task.toml"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise HarborImportError(f"{src / 'task.toml'}: field {where}: {first['msg']}") from exc
    overlay = _overlay(src)
    user: AgentUser = agent_user or overlay.get("agent_user", "root")
    task_id = slug(src.name)
    out = into / task_id
    if out.exists():
        if not force:
            raise HarborImportError(f"{out} already exists: pass --force to replace it, or --into another folder")
        shutil.rmtree(out)
    notes: list[Note] = []
    try:
        out.mkdir(parents=True)
        # environment/ -> the task recipe
        shutil.copytree(src / "environment", out / "environment")
        tr = dockerfile.translate((src / "environment" / "Dockerfile").read_text())
        notes += tr.notes
        if cfg.environment.docker_image:
            notes.append(Note(source="task.toml", what=f"environment.docker_image = {cfg.environment.docker_image}",
                              status="not translated", reason="prebuilt images need a registry; the Dockerfile's "
                                                              "steps are built locally instead"))
        workdir = tr.workdir or "/app"
        steps = list(tr.steps)
        if user == "agent":
            steps.append(f"RUN mkdir -p {workdir} && chown -R agent:agent {workdir}\n")
            notes.append(Note(source="import", what=f"chown -R agent {workdir}", status="changed",
                              reason="agent_user = agent: the working directory is given to the agent at build time"))
        (out / "environment" / "Dockerfile").write_text(
            f"# Translated from the Harbor task's environment/Dockerfile by groundtruth.\n{''.join(steps)}")
        # tests/ -> harbor_tests checks, one objective per test file
        shutil.copytree(src / "tests", out / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        ts = testsh.parse((src / "tests" / "test.sh").read_text()) if (src / "tests" / "test.sh").is_file() \
            else testsh.TestScript(notes=[Note(source="tests/test.sh", what="test.sh", status="not translated",
                                               reason="missing: every test_*.py in tests/ is run")])
        notes += ts.notes
        files = ts.files or sorted(p.name for p in (src / "tests").glob("test_*.py"))
        if not files:
            raise HarborImportError(f"{src / 'tests'}: no test files (test.sh names none and there is no test_*.py)")
        checks: list[dict[str, Any]] = []
        objectives: list[dict[str, Any]] = []
        for f in files:
            if not (src / "tests" / f).is_file():
                raise HarborImportError(f"{src / 'tests' / 'test.sh'} runs /tests/{f}, which is not in tests/")
            cid = slug(f"tests-{Path(f).stem.removeprefix('test_')}")
            check: dict[str, Any] = {"id": cid, "type": "harbor_tests", "tests": "tests", "files": [f],
                                     "timeout": cfg.verifier.timeout_sec}
            if cfg.verifier.env:
                check["env"] = cfg.verifier.env
            if f in overlay.get("collateral", []):
                # tests of what must stay as it was: they pass before the agent acts, so they guard, not goal
                check["kind"] = "collateral"
                checks.append(check)
                continue
            checks.append(check)
            objectives.append({"id": slug(Path(f).stem.removeprefix("test_")) or cid, "checks": [cid],
                               "text": f"every test in tests/{f} passes"})
        checks += overlay.get("checks", [])
        if (src / "groundtruth").is_dir():  # files the overlay's checks name (hidden tests, custom checks)
            shutil.copytree(src / "groundtruth", out / "groundtruth", ignore=shutil.ignore_patterns("__pycache__"))
        objectives += overlay.get("objectives", [])
        solution = _solution(src, out, cfg.solution.env, notes)
        for key in ("gpus", "storage_mb", "storage", "allow_internet", "build_timeout_sec"):
            val = getattr(cfg.environment, key)
            if val is not None and not (key == "allow_internet" and val is False):
                notes.append(Note(source="task.toml", what=f"environment.{key} = {val}", status="not translated",
                                  reason={"gpus": "sandboxes have no GPUs", "allow_internet": "sandboxes have no "
                                          "network", "build_timeout_sec": "local builds have no timeout"}.get(
                                      key, "no disk quota in sandboxes")))
        for extra_key in sorted(set(cfg.model_extra or {})):
            notes.append(Note(source="task.toml", what=extra_key, status="not translated",
                              reason="unknown to this importer"))
        instruction = (src / "instruction.md").read_text()
        heading = next((ln.lstrip("# ").strip() for ln in instruction.splitlines() if ln.startswith("#")), "")
        meta = cfg.metadata
        tags = [str(t) for t in meta.get("tags", []) if isinstance(t, str)]
        tags += [str(meta[k]) for k in ("category", "difficulty") if isinstance(meta.get(k), str)]
        protected = (ROOT_PROTECTED if user == "root" else []) + list(overlay.get("protected", []))
        text = _template().render(
            source=src.name, id=task_id, title=heading or task_id, tags=tags, workdir=workdir,
            protected=protected, instruction=instruction if instruction.endswith("\n") else instruction + "\n",
            packages=tr.packages, steps=100, seconds=float(cfg.agent.timeout_sec),
            exec_timeout=float(min(cfg.agent.timeout_sec, 300.0)),
            memory_mb=max(cfg.environment.memory_in_mb() or 1024, 256), cpus=float(cfg.environment.cpus or 1.0),
            agent_user=user, solution=solution, objectives=objectives, checks=checks,
            dropped=[n for n in notes if n.status == "not translated"],
        )
        (out / "task.toml").write_text(text)
        load_task(out)  # the result must be a valid task, or the import fails here
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return ImportResult(source=str(src), task=task_id, folder=str(out), notes=notes,
                        seconds=time.monotonic() - started)
