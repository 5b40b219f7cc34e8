"""The `task.toml` format: one verifiable job, validated strictly so a typo never becomes a silent pass."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from groundtruth.errors import TaskSpecError

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetupFile(Strict):
    """A file placed through the engine before the agent starts (owner and mode set exactly)."""

    path: str
    content: str | None = None
    source: str | None = Field(default=None, description="path relative to the task folder")
    owner: str = "root"
    mode: str = "0644"

    @model_validator(mode="after")
    def _one_source(self) -> SetupFile:
        if (self.content is None) == (self.source is None):
            raise ValueError("give exactly one of `content` or `source`")
        int(self.mode, 8)
        return self


class SetupCommand(Strict):
    """Runs before the agent starts; gets GT_SEED, GT_VARIANT and GT_<PARAM> in its environment."""

    run: str
    user: str = "root"
    timeout: float = 120.0


class Setup(Strict):
    files: list[SetupFile] = Field(default_factory=list)
    commands: list[SetupCommand] = Field(default_factory=list)


class Objective(Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: str
    checks: list[str] = Field(min_length=1)


class Requirement(Strict):
    id: str = Field(pattern=ID_PATTERN)
    objective: str
    text: str
    checks: list[str] = Field(default_factory=list)


class Preference(Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: str
    checks: list[str] = Field(default_factory=list)


class Goal(Strict):
    """UGST decomposition of what the user wants: who they are, their rules, and what counts as done."""

    profile: dict[str, str] = Field(default_factory=dict)
    policy: list[str] = Field(default_factory=list)
    objectives: list[Objective] = Field(min_length=1)
    requirements: list[Requirement] = Field(default_factory=list)
    preferences: list[Preference] = Field(default_factory=list)


class CheckBase(Strict):
    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["goal", "collateral"] = "goal"
    canary: bool = Field(default=False, description="a failure means tampering, not just failure")
    description: str = ""


class FileExists(CheckBase):
    type: Literal["file_exists"]
    path: str


class FileAbsent(CheckBase):
    """Absent means no directory entry at all: an emptied file or a symlink is still there."""

    type: Literal["file_absent"]
    path: str


class FileContains(CheckBase):
    type: Literal["file_contains", "file_not_contains"]
    path: str
    text: str


class FileMatches(CheckBase):
    type: Literal["file_matches"]
    path: str
    regex: str


class FileSha256(CheckBase):
    type: Literal["file_sha256"]
    path: str
    sha256: str


class TreeContains(CheckBase):
    """Searches every file under a directory (archived through the engine) for a string."""

    type: Literal["tree_contains", "tree_not_contains"]
    path: str
    text: str


class DirListing(CheckBase):
    type: Literal["dir_listing"]
    path: str
    equals: list[str] | None = None
    includes: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(default_factory=list)


class SqliteQuery(CheckBase):
    """Copied out through the engine and queried on the host, never with the container's sqlite3."""

    type: Literal["sqlite_query"]
    path: str
    query: str
    expect: list[list[str | int | float | None]]


class ProcessState(CheckBase):
    type: Literal["process_present", "process_absent"]
    pattern: str = Field(description="regular expression searched in the command line")
    user: str | None = None


class FileMode(CheckBase):
    type: Literal["file_mode"]
    path: str
    owner: str | None = None
    mode: str | None = None
    not_readable_by: str | None = Field(default=None, description="a user that must not be able to read it")


class UserState(CheckBase):
    type: Literal["user_state"]
    user: str
    exists: bool | None = None
    locked: bool | None = None
    shell: str | None = None


class CommandCheck(CheckBase):
    """A trusted command in a fresh verifier container of the pristine image, fed copies of agent files."""

    type: Literal["command"]
    run: str
    copy_paths: list[str] = Field(default_factory=list, alias="copy")
    files: dict[str, str] = Field(default_factory=dict, description="container path -> task-folder path")
    expect_exit: int = 0
    stdout_contains: str | None = None
    timeout: float = 120.0
    user: str = Field(default="root", description="who runs it; use `agent` when it executes the agent's code")


class PytestCheck(CheckBase):
    """Trusted tests (never in the agent's container) against copies of the agent's solution files."""

    type: Literal["pytest"]
    tests: list[str] = Field(min_length=1, description="task-folder paths of trusted test files")
    copy_paths: list[str] = Field(alias="copy", min_length=1)
    min_passed: int | None = None
    timeout: float = 180.0


class PythonCheck(CheckBase):
    """Custom check: a function in the task folder, plain `assert`, given a read-only view of the state."""

    type: Literal["python"]
    file: str
    function: str


Check = Annotated[
    FileExists | FileAbsent | FileContains | FileMatches | FileSha256 | TreeContains | DirListing | SqliteQuery
    | ProcessState | FileMode | UserState | CommandCheck | PytestCheck | PythonCheck,
    Field(discriminator="type"),
]


class Limits(Strict):
    steps: int = Field(default=30, ge=1)
    seconds: float = Field(default=600.0, gt=0)
    exec_timeout: float = Field(default=30.0, gt=0)


class Claim(Strict):
    success: bool
    confidence: float = Field(default=0.9, ge=0, le=1)
    summary: str = ""


class Solution(Strict):
    """The reference solution: a script run as the agent, then the honest claim it should make."""

    script: str | None = Field(default=None, description="task-folder path of a shell script")
    run: str | None = None
    claim: Claim = Claim(success=True, confidence=0.95, summary="reference solution")
    partial: str | None = Field(
        default=None, description="task-folder path of a script that completes only some objectives"
    )

    @model_validator(mode="after")
    def _one(self) -> Solution:
        if self.script is not None and self.run is not None:
            raise ValueError("give `script` or `run`, not both")
        return self


class Variant(Strict):
    name: str = Field(pattern=ID_PATTERN)
    distribution: Literal["train", "shifted"] | None = None
    monitored: bool | None = None
    instruction_prefix: str = ""
    instruction_suffix: str = ""
    params: dict[str, str] = Field(default_factory=dict)
    setup: Setup = Setup()


class Sandbox(Strict):
    memory_mb: int = 512
    cpus: float = 1.0
    pids: int = 256


class TaskSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    version: int = 1
    family: str = Field(pattern=ID_PATTERN)
    tags: list[str] = Field(default_factory=list)
    title: str = ""
    instruction: str = Field(min_length=1)
    env: str = "shell"
    image: str = "sandbox"
    infeasible: bool = Field(default=False, description="the correct outcome is to report failure")
    limits: Limits = Limits()
    sandbox: Sandbox = Sandbox()
    setup: Setup = Setup()
    goal: Goal
    checks: list[Check] = Field(min_length=1)
    protected: list[str] = Field(default_factory=list)
    solution: Solution
    variants: list[Variant] = Field(default_factory=lambda: [Variant(name="default")])

    @field_validator("protected")
    @classmethod
    def _absolute(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p.startswith("/"):
                raise ValueError(f"protected path {p!r} must be absolute")
        return v

    @model_validator(mode="after")
    def _references(self) -> TaskSpec:
        ids = [c.id for c in self.checks]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate check ids: {sorted(dupes)}")
        known = set(ids)
        objectives = {o.id for o in self.goal.objectives}
        refs = [(f"goal.objectives[{o.id}]", c) for o in self.goal.objectives for c in o.checks]
        refs += [(f"goal.requirements[{r.id}]", c) for r in self.goal.requirements for c in r.checks]
        refs += [(f"goal.preferences[{p.id}]", c) for p in self.goal.preferences for c in p.checks]
        for where, c in refs:
            if c not in known:
                raise ValueError(f"{where} names check {c!r}, which is not defined in [[checks]]")
        for r in self.goal.requirements:
            if r.objective not in objectives:
                raise ValueError(f"goal.requirements[{r.id}] names objective {r.objective!r}, which does not exist")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate variant names: {names}")
        if not self.variants:
            raise ValueError("at least one variant is needed")
        if not self.infeasible and not any(c.kind == "goal" for c in self.checks):
            raise ValueError("a feasible task needs at least one goal check")
        return self

    def variant(self, name: str | None) -> Variant:
        if name is None:
            return self.variants[0]
        for v in self.variants:
            if v.name == name:
                return v
        raise TaskSpecError(f"task {self.id!r} has no variant {name!r}; it has: {[v.name for v in self.variants]}")

    def check(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def instruction_for(self, variant: str | None) -> str:
        v = self.variant(variant)
        return "\n\n".join(p for p in (v.instruction_prefix, self.instruction.strip(), v.instruction_suffix) if p)


class Task(BaseModel):
    """A loaded task: its spec plus the folder its files are relative to."""

    model_config = ConfigDict(frozen=True)

    spec: TaskSpec
    folder: Path

    @property
    def id(self) -> str:
        return self.spec.id

    def file(self, rel: str) -> Path:
        try:
            path = (self.folder / rel).resolve()
            is_file = path.is_file()
        except (ValueError, OSError) as exc:  # a NUL byte, a name too long
            raise TaskSpecError(f"{self.folder / 'task.toml'}: {rel[:80]!r} is not a usable file name "
                                f"({type(exc).__name__})") from exc
        if not path.is_relative_to(self.folder.resolve()):
            raise TaskSpecError(f"{self.folder / 'task.toml'}: {rel!r} points outside the task folder")
        if not is_file:
            raise TaskSpecError(f"{self.folder / 'task.toml'}: file {rel!r} does not exist in the task folder")
        return path


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load_task(folder: Path) -> Task:
    """Load and validate one task folder; every error names the file, the field and the reason."""
    path = folder / "task.toml"
    if not path.is_file():
        raise TaskSpecError(f"{path}: no task.toml in this folder")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskSpecError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise TaskSpecError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p in _CHECK_TYPES))
            reason = "unknown field (not part of the task format)" if e["type"] == "extra_forbidden" else e["msg"]
            if e["type"] == "extra_forbidden" and len(loc) > 1 and loc[-1] in TaskSpec.model_fields:
                reason += (f"; `{loc[-1]}` is a top-level key: in TOML it must come before the first [table] or "
                           "[[table]] header, or it belongs to that table")
            lines.append(f"{path}: field {_loc(loc)}: {reason}")
        raise TaskSpecError("\n".join(lines)) from exc
    if spec.id != folder.name:
        raise TaskSpecError(f"{path}: field id: {spec.id!r} must equal the folder name {folder.name!r}")
    task = Task(spec=spec, folder=folder.resolve())
    for f in [*spec.setup.files, *(f for v in spec.variants for f in v.setup.files)]:
        if f.source is not None:
            task.file(f.source)
    for c in spec.checks:
        for rel in _task_files(c):
            task.file(rel)
    for script in (spec.solution.script, spec.solution.partial):
        if script:
            task.file(script)
    return task


def _task_files(c: Check) -> list[str]:
    if isinstance(c, PytestCheck):
        return list(c.tests)
    if isinstance(c, CommandCheck):
        return list(c.files.values())
    if isinstance(c, PythonCheck):
        return [c.file]
    return []


_CHECK_TYPES = {
    "file_exists", "file_absent", "file_contains", "file_not_contains", "file_matches", "file_sha256",
    "tree_contains", "tree_not_contains", "dir_listing", "sqlite_query", "process_present", "process_absent",
    "file_mode", "user_state", "command", "pytest", "python",
}
