"""The `task.toml` format: one verifiable job, validated strictly so a typo never becomes a silent pass."""

from __future__ import annotations

import re
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
    dir_owner: str | None = Field(
        default=None, description="owner of the parent directories this file creates; default: the owner of "
                                  "the directory they are created in (root's under /etc, the agent's under "
                                  "/workspace), so a setup file never hands the agent a directory it could "
                                  "not have made itself")

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


class SetupDir(Strict):
    """A directory created through the engine before any file (owner and mode set exactly, parents root-owned)."""

    path: str
    owner: str = "root"
    mode: str = "0755"

    @model_validator(mode="after")
    def _fields(self) -> SetupDir:
        if not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must be absolute")
        int(self.mode, 8)
        return self


class Setup(Strict):
    dirs: list[SetupDir] = Field(default_factory=list)
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


class Knowledge(Strict):
    """Something the simulated user knows and the instruction leaves out: it answers a clarifying question
    about it, and may volunteer it later. Both the scripted and the LLM user use it."""

    id: str = Field(pattern=ID_PATTERN)
    about: list[str] = Field(min_length=1, description="words or phrases; a message naming one is asking")
    answer: str = Field(min_length=1, description="what the user says when asked")
    volunteer_at: int | None = Field(default=None, ge=1, description="said unasked at this turn if not told yet")


class Goal(Strict):
    """UGST decomposition of what the user wants: who they are, their rules, and what counts as done, plus
    what the user knows and tells when asked (`knowledge`)."""

    profile: dict[str, str] = Field(default_factory=dict)
    policy: list[str] = Field(default_factory=list)
    objectives: list[Objective] = Field(min_length=1)
    requirements: list[Requirement] = Field(default_factory=list)
    preferences: list[Preference] = Field(default_factory=list)
    knowledge: list[Knowledge] = Field(default_factory=list)
    unknown_answer: str = Field(
        default="I don't know more than I told you. Please go ahead as I described.",
        description="the user's reply to a question its knowledge does not answer")


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
    """Copied out through the engine and queried on the host, never with the container's sqlite3.

    TOML has no null: `null = "NULL"` names a string that stands for SQL NULL in `expect`."""

    type: Literal["sqlite_query"]
    path: str
    query: str
    expect: list[list[str | int | float | None]]
    null: str | None = Field(default=None, description="the string in `expect` that means SQL NULL")

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("null"), str) and isinstance(data.get("expect"), list):
            marker = data["null"]
            data = {**data, "expect": [[None if v == marker else v for v in row] if isinstance(row, list) else row
                                       for row in data["expect"]]}
        return data


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
    """A trusted command run in place, after every file has been read from the frozen state.

    `copy` is accepted for task folders written before checks ran in place; it has no effect any more."""

    type: Literal["command"]
    run: str
    copy_paths: list[str] = Field(default_factory=list, alias="copy")
    files: dict[str, str] = Field(default_factory=dict, description="container path -> task-folder path")
    expect_exit: int = 0
    stdout_contains: str | None = None
    stdout_lacks: list[str] = Field(default_factory=list)
    timeout: float = 120.0
    cwd: str = "/"
    user: str = Field(default="root", description="who runs it; use `agent` when it executes the agent's code")


class PytestCheck(CheckBase):
    """Trusted tests, run on the host; they reach the agent's code only through `_isolated` calls executed in
    the frozen sandbox as the agent, so the code cannot read the tests or tell that it is graded."""

    type: Literal["pytest"]
    tests: list[str] = Field(min_length=1, description="task-folder paths of trusted test files")
    copy_paths: list[str] = Field(default_factory=list, alias="copy", description="no effect (kept for old tasks)")
    min_passed: int | None = None
    timeout: float = 180.0


class HarborTests(CheckBase):
    """A task's own test files run the way Harbor runs them: copied to `dest` (root-owned) only at verification,
    after every reading check, then the image's pytest runs them offline from the working directory, in place in
    the agent's container. Every test the trusted files define must pass (counted on the host)."""

    type: Literal["harbor_tests"]
    tests: str = Field(default="tests", description="task-folder directory copied to `dest`")
    files: list[str] = Field(default_factory=list, description="test files to run, relative to `tests` "
                                                               "(default: every test_*.py there)")
    dest: str = "/tests"
    cwd: str | None = Field(default=None, description="default: the task's working directory")
    user: str = Field(default="root", description="who runs the tests (Harbor runs them as root)")
    env: dict[str, str] = Field(default_factory=dict)
    min_passed: int | None = None
    timeout: float = 180.0

    @model_validator(mode="after")
    def _fields(self) -> HarborTests:
        if not self.dest.startswith("/") or self.dest.rstrip("/") in ("", "/tmp", "/usr", "/etc", "/var"):
            raise ValueError(f"dest {self.dest!r} must be an absolute path of its own (e.g. /tests)")
        return self


class ExpectedChange(Strict):
    """One declared change inside an `fs_diff` scope; the first rule whose glob matches an entry applies.

    expect: `removed` (gone), `drop_lines` (the file's content is exactly the old content without the lines
    matching `pattern`), `modified` (changed; `contains`/`lacks`/`matches` hold for the new content),
    `added` (may appear, with the same content predicates), `any` (anything), `unchanged` (the default)."""

    path: str = Field(description="absolute glob: `*` within a name, `**` across directories; `d/**` includes d")
    expect: Literal["unchanged", "removed", "drop_lines", "modified", "added", "any"]
    pattern: str | None = Field(default=None, description="drop_lines: regex of the lines that must go")
    contains: list[str] = Field(default_factory=list)
    lacks: list[str] = Field(default_factory=list)
    matches: str | None = None
    required: bool = Field(default=True, description="removed/modified: each matching entry must change; "
                                                     "added: at least one entry must appear")

    @model_validator(mode="after")
    def _fields(self) -> ExpectedChange:
        if not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must be absolute")
        if (self.expect == "drop_lines") != (self.pattern is not None):
            raise ValueError("`pattern` goes with expect = \"drop_lines\", and drop_lines needs it")
        if (self.contains or self.lacks or self.matches) and self.expect not in ("modified", "added"):
            raise ValueError("contains/lacks/matches apply to expect = \"modified\" or \"added\"")
        return self


class FsDiff(CheckBase):
    """Closed world over directories: compared entry by entry with the manifest taken right after setup;
    every difference must be one the task declared in `changes`."""

    type: Literal["fs_diff"]
    scope: list[str] = Field(min_length=1)
    ignore: list[str] = Field(default_factory=list, description="globs never compared (e.g. a service's status)")
    changes: list[ExpectedChange] = Field(default_factory=list)

    @field_validator("scope", "ignore")
    @classmethod
    def _abs(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p.startswith("/"):
                raise ValueError(f"{p!r} must be an absolute path")
        return v


class TableChange(Strict):
    """How one table may differ from its state right after setup. Conditions are SQL expressions: `delete`
    and `update` over the baseline's rows (other baseline tables may be named in subqueries), `insert` over the
    final rows."""

    name: str
    delete: str | None = Field(default=None, description="exactly the baseline rows matching this must be gone")
    update: str | None = Field(default=None, description="baseline rows matching this may change")
    columns: list[str] = Field(default_factory=list, description="the columns an update may change (empty: any)")
    insert: str | None = Field(default=None, description="every new row must match this (`1`: any row)")
    new: bool = Field(default=False, description="the task creates this table")


class SqliteDiff(CheckBase):
    """Closed world over one SQLite database: the schema (tables, views, triggers, indexes) equals the baseline's
    except for declared new tables, and every row differs only as `tables` declares (by primary key)."""

    type: Literal["sqlite_diff"]
    path: str
    tables: list[TableChange] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list, description="table-name globs never compared (e.g. FTS "
                                                                "shadow tables: scan those with `residue`)")


class ResidueSource(Strict):
    """Values read from the baseline (the world right after setup): each query row, or each regex match, is one
    record whose values must not remain anywhere."""

    sqlite: str | None = None
    query: str | None = None
    file: str | None = None
    regex: str | None = Field(default=None, description="its first group, or the whole match, is a value")

    @model_validator(mode="after")
    def _one(self) -> ResidueSource:
        if (self.sqlite is None) == (self.file is None):
            raise ValueError("give `sqlite` + `query` or `file` + `regex`")
        if (self.sqlite is not None) != (self.query is not None) or (self.file is not None) != (
                self.regex is not None):
            raise ValueError("`sqlite` needs `query`, `file` needs `regex`")
        return self


class Residue(CheckBase):
    """The values that had to go are not recoverable anywhere in scope: plain, case-folded, Unicode-normalised,
    hex, base64, URL-encoded, inside compressed files and archives, in SQLite free pages, WAL and journals."""

    type: Literal["residue"]
    values: list[str] = Field(default_factory=list)
    sources: list[ResidueSource] = Field(default_factory=list)
    scope: list[str] = Field(default_factory=list, description="roots scanned besides every agent-writable place")
    agent_writable: bool = Field(default=True, description="scan every place the agent could write")
    exclude: list[str] = Field(default_factory=list, description="globs where the values may stay")
    min_length: int = Field(default=6, ge=3, description="shorter values are ignored (too common)")
    min_fields: int = Field(default=1, ge=1, description="a file holds a record when it has this many of its values")

    @model_validator(mode="after")
    def _something(self) -> Residue:
        if not self.values and not self.sources:
            raise ValueError("give `values` or `sources`")
        return self


class PythonCheck(CheckBase):
    """Custom check: a function in the task folder, plain `assert`, given a read-only view of the state."""

    type: Literal["python"]
    file: str
    function: str


Check = Annotated[
    FileExists | FileAbsent | FileContains | FileMatches | FileSha256 | TreeContains | DirListing | SqliteQuery
    | ProcessState | FileMode | UserState | CommandCheck | PytestCheck | PythonCheck | FsDiff | SqliteDiff | Residue
    | HarborTests,
    Field(discriminator="type"),
]


class Heartbeat(Strict):
    """A JSON status file the service rewrites with a counter that grows on every refresh."""

    path: str
    counter: str = "generation"
    advance: int = Field(default=2, ge=1, description="refreshes needed after the freeze")
    within: float = Field(default=5.0, gt=0, description="seconds the service gets to refresh")


class Service(Strict):
    """A process the task's checks rely on. At verification it must be alive (and its heartbeat fresh) after the
    agent was frozen; otherwise the verdict is a failure with the evidence, never unknown."""

    name: str = Field(pattern=ID_PATTERN)
    process: str = Field(description="regular expression searched in the command line")
    user: str = "app"
    heartbeat: Heartbeat | None = None


class RedteamAllow(Strict):
    """An exploit of the red-team stage that this task accepts winning, and why (shown in the exploit table)."""

    exploit: str
    target: str | None = Field(default=None, description="one instance (as the table names it); default all")
    reason: str = Field(min_length=10)


class Redteam(Strict):
    allow: list[RedteamAllow] = Field(default_factory=list)


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
    agent_user: Literal["agent", "root"] = Field(
        default="agent", description="`root`: an opt-in for imported tasks whose agent expects root; the image's "
                                     "`agent` account becomes uid 0, capabilities stay dropped, no network")


class ImageSpec(Strict):
    """A per-task image: the base recipe plus Debian packages and/or a task-local recipe folder whose Dockerfile
    steps (COPY, RUN, WORKDIR, ENV, ...) are baked in at build time. Tagged by the content hash of all of it."""

    base: str = Field(default="sandbox", description="a recipe under containers/")
    packages: list[str] = Field(default_factory=list, description="extra Debian packages (bootstrapped with the "
                                                                  "base's own packages, so no version skew)")
    recipe: str | None = Field(default=None, description="task-folder directory holding a Dockerfile")

    @field_validator("packages")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for p in v:
            if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", p):
                raise ValueError(f"{p!r} is not a Debian package name")
        return v


class TaskSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    version: int = 1
    family: str = Field(pattern=ID_PATTERN)
    tags: list[str] = Field(default_factory=list)
    title: str = ""
    instruction: str = Field(min_length=1)
    env: str = "shell"
    image: str | ImageSpec = "sandbox"
    workdir: str | None = Field(default=None, description="where the agent, the solution and the tests start "
                                                           "(default /home/agent); created owned by the agent")
    infeasible: bool = Field(default=False, description="the correct outcome is to report failure")
    limits: Limits = Limits()
    sandbox: Sandbox = Sandbox()
    setup: Setup = Setup()
    goal: Goal
    checks: list[Check] = Field(min_length=1)
    protected: list[str] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    redteam: Redteam = Redteam()
    solution: Solution
    variants: list[Variant] = Field(default_factory=lambda: [Variant(name="default")])

    @field_validator("workdir")
    @classmethod
    def _workdir(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise ValueError(f"workdir {v!r} must be an absolute path")
        return v

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
        g = self.goal
        refs = [(f"goal.objectives[{i}] (id {o.id!r})", c) for i, o in enumerate(g.objectives) for c in o.checks]
        refs += [(f"goal.requirements[{i}] (id {r.id!r})", c) for i, r in enumerate(g.requirements) for c in r.checks]
        refs += [(f"goal.preferences[{i}] (id {p.id!r})", c) for i, p in enumerate(g.preferences) for c in p.checks]
        bad = [f"{where} names check {c!r}" for where, c in refs if c not in known]
        if bad:
            raise ValueError(f"{'; '.join(bad)}, not an id of any [[checks]] entry; the checks defined are: "
                             f"{', '.join(ids) or 'none'}")
        for i, r in enumerate(g.requirements):
            if r.objective not in objectives:
                raise ValueError(f"goal.requirements[{i}] (id {r.id!r}) names objective {r.objective!r}, which "
                                 f"does not exist; the objectives are: {', '.join(sorted(objectives))}")
        services = [sv.name for sv in self.services]
        if len(set(services)) != len(services):
            raise ValueError(f"duplicate service names: {services}")
        clash = {f"service-{n}" for n in services} & known
        if clash:
            raise ValueError(f"check ids {sorted(clash)} are reserved for the liveness of [[services]]")
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

    def test_files(self, c: HarborTests) -> list[Path]:
        """The test files a `harbor_tests` check runs (each must exist in the task folder)."""
        folder = self.folder / c.tests
        if not folder.is_dir():
            raise TaskSpecError(f"{self.folder / 'task.toml'}: check {c.id}: no directory {c.tests!r} in the task "
                                "folder")
        if c.files:
            return [self.file(f"{c.tests}/{f}") for f in c.files]
        found = sorted(folder.glob("test_*.py"))
        if not found:
            raise TaskSpecError(f"{self.folder / 'task.toml'}: check {c.id}: no test_*.py in {c.tests!r}; name the "
                                "files with `files`")
        return found

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
        raise TaskSpecError(f"{path}: not valid TOML: {exc}{_toml_hint(path.read_text(), str(exc))}") from exc
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
    if isinstance(spec.image, ImageSpec) and spec.image.recipe is not None:
        task.file(f"{spec.image.recipe}/Dockerfile")
    for c in spec.checks:
        if isinstance(c, HarborTests):
            task.test_files(c)
    return task


_NULL_WORDS = re.compile(r"(?<![\w\"'])(null|None|nil|NULL)(?![\w\"'])")


def _toml_hint(text: str, message: str) -> str:
    """The one TOML mistake the parser cannot explain: there is no null."""
    m = re.search(r"at line (\d+)", message)
    lines = text.splitlines()
    line = lines[int(m.group(1)) - 1] if m and 0 < int(m.group(1)) <= len(lines) else ""
    if _NULL_WORDS.search(line.split("#", 1)[0]):
        return ('; TOML has no null: for SQL NULL in a sqlite_query `expect`, add `null = "NULL"` to the check '
                'and write "NULL" where a NULL is expected')
    return ""


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
    "file_mode", "user_state", "command", "pytest", "python", "fs_diff", "sqlite_diff", "residue", "harbor_tests",
}
