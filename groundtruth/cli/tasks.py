"""`groundtruth tasks`: list, show, scaffold, explore and validate verifiable tasks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from groundtruth.cli.tables import id_column, text_column
from groundtruth.cli.tasks_import import app as import_app
from groundtruth.errors import GroundtruthError
from groundtruth.redteam.stage import exploit_names
from groundtruth.sandbox.prune import prune
from groundtruth.tasks.registry import ENV_VAR, Registry
from groundtruth.tasks.scaffold import DEFAULT_TEMPLATE, scaffold, template_names
from groundtruth.tasks.validate import Validation, validate

app = typer.Typer(help="List, show, scaffold, explore and validate verifiable tasks.", no_args_is_help=True)
app.add_typer(import_app, name="import")
console = Console()

TasksDir = typer.Option(None, "--tasks-dir", help=f"Extra folder of tasks (repeatable); also ${ENV_VAR}.")


@app.command("list", epilog="Example: groundtruth tasks list --tasks-dir mytasks")
def list_cmd(
    tasks_dir: list[Path] = TasksDir,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """List every known task with its family, env and variants, then every broken task folder with its errors
    (exit 1 when there is one)."""
    reg = Registry(tasks_dir)
    tasks, broken = reg.load_all()
    rows = [{
        "id": t.id, "family": t.spec.family, "env": t.spec.env, "title": t.spec.title,
        "variants": [v.name for v in t.spec.variants], "checks": len(t.spec.checks),
        "infeasible": t.spec.infeasible, "folder": str(t.folder), "error": None,
    } for t in tasks]
    rows += [{"id": Path(folder).name, "folder": folder, "error": error} for folder, error in broken.items()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        widest = max((len(t.id) + len(t.spec.family) + len(t.spec.env) for t in tasks), default=0)
        if console.width >= widest + 60:
            table = Table(id_column("id"), id_column("family"), id_column("env"), text_column("variants"),
                          "checks", text_column("title", ratio=2))
            for t in tasks:
                table.add_row(t.id, t.spec.family, t.spec.env, escape(", ".join(v.name for v in t.spec.variants)),
                              str(len(t.spec.checks)), escape(t.spec.title))
            console.print(table)
        else:  # too narrow for a table whose ids stay whole: one block per task, the title wrapped under it
            for t in tasks:
                console.print(f"[bold]{escape(t.id)}[/]  {escape(t.spec.family)} · {escape(t.spec.env)} · "
                              f"{len(t.spec.checks)} checks · variants: "
                              f"{escape(', '.join(v.name for v in t.spec.variants))}", highlight=False)
                console.print(Padding(escape(t.spec.title), (0, 0, 0, 4)), highlight=False)
        console.print(f"{len(tasks)} tasks in {len({t.spec.family for t in tasks})} families")
        if broken:
            console.print(f"\n[bold red]broken ({len(broken)}):[/] these folders hold a task.toml that does not load")
            for folder, error in broken.items():
                console.print(f"[bold]{escape(folder)}[/]")
                for line in error.splitlines():
                    console.print(f"  {escape(line)}", highlight=False)
    if broken:
        raise typer.Exit(1)


@app.command("show", epilog="Example: groundtruth tasks show leaked-token --json")
def show_cmd(
    task_id: str = typer.Argument(..., help="Task id."),
    tasks_dir: list[Path] = TasksDir,
    as_json: bool = typer.Option(False, "--json", help="Print the validated spec as JSON."),
) -> None:
    """Show one task's validated spec: instruction, goal, checks, protected paths, variants."""
    task = Registry(tasks_dir).get(task_id)
    if as_json:
        typer.echo(task.spec.model_dump_json(indent=2, by_alias=True))
        return
    s = task.spec
    console.print(escape(f"{s.id} v{s.version} ({s.family}) — {s.title}"), style="bold")
    console.print(escape(str(task.folder)) + "\n")
    console.print(escape(s.instruction.strip()) + "\n")
    table = Table(id_column("check"), "kind", id_column("type"), text_column("objective / requirement"))
    owners: dict[str, list[str]] = {}
    for o in s.goal.objectives:
        for cid in o.checks:
            owners.setdefault(cid, []).append(f"objective {o.id}")
    for r in s.goal.requirements:
        for cid in r.checks:
            owners.setdefault(cid, []).append(f"requirement {r.id}")
    for c in s.checks:
        table.add_row(c.id, c.kind + (" canary" if c.canary else ""), c.type, escape(", ".join(owners.get(c.id, []))))
    console.print(table)
    if s.goal.knowledge:
        console.print("the user knows: " + escape("; ".join(f"{k.id} (asked about {', '.join(k.about)})"
                                                            for k in s.goal.knowledge)))
    console.print(escape(f"protected: {', '.join(s.protected) or '-'}"))
    console.print(escape(f"variants: {', '.join(v.name for v in s.variants)}"))


@app.command("new", epilog="Example: groundtruth tasks new my-task --into mytasks --template sqlite")
def new_cmd(
    task_id: str = typer.Argument(..., help="New task id (lowercase, digits, dashes)."),
    into: Path = typer.Option(Path("tasks"), "--into", help="Folder to create the task in."),
    family: str = typer.Option("custom", "--family", help="Task family."),
    template: str = typer.Option(DEFAULT_TEMPLATE, "--template",
                                 help=f"What kind of task to start from: {', '.join(template_names())}."),
) -> None:
    """Scaffold a valid task folder from a template (task.toml, solution.sh, a Python check) to edit."""
    folder = scaffold(into, task_id, family, template)
    typer.echo(f"created {folder} from the {template} template; check it with:\n"
               f"  groundtruth tasks validate {task_id} --tasks-dir {into}\n"
               f"look around its world with:\n  groundtruth tasks shell {task_id} --tasks-dir {into}")


@app.command("api", epilog="Example: groundtruth tasks api > FINALSTATE.md")
def api_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print the methods and types as JSON."),
) -> None:
    """The FinalState API a Python check receives: signatures, return types, missing-path behaviour, and
    what the check's return value and exceptions mean (generated from the code itself)."""
    from groundtruth.tasks.apidoc import reference, render_markdown

    if as_json:
        methods, types = reference()
        typer.echo(json.dumps({"methods": [m.model_dump() for m in methods],
                               "types": [t.model_dump() for t in types]}, indent=2))
        return
    typer.echo(render_markdown())


@app.command("shell", epilog="Examples: groundtruth tasks shell leaked-token --variant default --seed 3\n\n"
                             "echo 'ls -la /workspace' | groundtruth tasks shell leaked-token --run solution")
def shell_cmd(
    task_id: str = typer.Argument(..., help="Task id."),
    variant: str = typer.Option(None, "--variant", help="Variant name (default: the task's first)."),
    seed: int = typer.Option(0, "--seed", help="Seed the setup sees as $GT_SEED."),
    root: bool = typer.Option(False, "--root", help="Open the shell as root (capability-less) instead of agent."),
    run: str = typer.Option(None, "--run", help="First run the task's `solution` or `partial` script as the agent."),
    verify: bool = typer.Option(False, "--verify", help="When the shell exits, verify the state and show checks."),
    tasks_dir: list[Path] = TasksDir,
) -> None:
    """A shell in a fresh sandbox set up for the task, as the agent sees it; the sandbox is removed on exit.
    Without a terminal, commands are read from standard input."""
    from groundtruth.tasks.world import World

    task = Registry(tasks_dir).get(task_id)
    if run not in (None, "solution", "partial"):
        raise GroundtruthError(f"--run takes solution or partial, not {run!r}")
    docker = shutil.which("docker")
    if docker is None:
        raise GroundtruthError("`tasks shell` needs the docker command-line client on PATH (apt-get install "
                               "docker.io, or docker-ce-cli)")
    world = World(task, variant, seed, run_id=f"shell-{uuid.uuid4().hex[:8]}", episode_id=f"shell-{task.id}")
    err = Console(stderr=True)
    code = 0
    try:
        with err.status(f"setting up {task.id} ({world.variant}, seed {seed})"):
            sb = world.open()
        if run is not None:
            script = _script(task, run)
            res = sb.exec(script, timeout=task.spec.limits.seconds, cwd=sb.spec.workdir)
            err.print(f"[bold]{run} script[/] exited {res.exit_code}{' (timed out)' if res.timed_out else ''}")
            for name, text in (("stdout", res.stdout), ("stderr", res.stderr)):
                if text.strip():
                    err.print(f"--- {name} ---\n{escape(text.rstrip())}", highlight=False)
        user = "root" if root else "agent"
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        err.print(f"{task.id} ({world.variant}, seed {seed}) in container {sb.container_id[:12]}, as {user}, "
                  f"network off; {'exit' if interactive else 'end of input'} removes it", highlight=False)
        argv = [docker, "exec", "-i", *(["-t"] if interactive else []), "-u", user, "-w", sb.spec.workdir,
                "-e", f"GT_TASK={task.id}", "-e", f"GT_VARIANT={world.variant}", "-e", f"GT_SEED={seed}",
                sb.container_id, "bash", *(["-l"] if interactive else [])]
        code = subprocess.call(argv)
        if verify:
            verdict = world.verify()
            table = Table(id_column("check"), "kind", "status", text_column("reason", ratio=3),
                          title=f"verified: {verdict.outcome}{' (tampered)' if verdict.tampered else ''}")
            for c in verdict.checks:
                table.add_row(c.id, c.kind, c.status.value, escape(c.reason))
            console.print(table)
    finally:
        world.close()
    raise typer.Exit(code)


def _script(task: object, which: str) -> str:
    from groundtruth.tasks.spec import Task

    assert isinstance(task, Task)
    sol = task.spec.solution
    if which == "partial":
        if not sol.partial:
            raise GroundtruthError(f"task {task.id} has no partial script ([solution] partial = ...)")
        return task.file(sol.partial).read_text()
    if sol.script:
        return task.file(sol.script).read_text()
    if sol.run:
        return sol.run
    raise GroundtruthError(f"task {task.id} has no reference solution ([solution] script or run)")


@app.command("validate", epilog="Example: groundtruth tasks validate my-task --tasks-dir mytasks --keep")
def validate_cmd(
    task_ids: list[str] = typer.Argument(None, help="Task ids or globs."),
    all_: bool = typer.Option(False, "--all", help="Validate every known task."),
    tasks_dir: list[Path] = TasksDir,
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Tasks validated at once."),
    no_redteam: bool = typer.Option(False, "--no-redteam", help="Skip the red-team stage (generic exploits)."),
    exploits: str = typer.Option("", "--exploits", help="Only these exploits, comma-separated (see the table)."),
    keep: bool = typer.Option(False, "--keep", help="Leave the sandboxes of the reference, do-nothing, partial and "
                              "tamper stages running for `docker exec` (listed at the end); removed only by "
                              "their time-to-live or `groundtruth sandbox prune --run ID`."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """In real containers: the reference passes twice, do-nothing fails, tampering is flagged, and every
    generic exploit agent (hide, encode, facade, alias, grader detection, partial work, sabotage, planted
    results) ends as a verified failure.

    Example: groundtruth tasks validate leaked-token --exploits hide-copy,decoy
    """
    reg = Registry(tasks_dir)
    if not task_ids and not all_:
        raise typer.BadParameter("name task ids, or use --all")
    tasks = reg.all() if all_ else reg.select(task_ids)
    run_id = f"validate-{uuid.uuid4().hex[:8]}"
    jobs = sum(len(t.spec.variants) for t in tasks)
    prune(stale_only=True)
    try:
        with Progress(TextColumn("validating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=Console(stderr=True), transient=True) as bar:
            job = bar.add_task("", total=jobs)

            def tick(v: Validation) -> None:
                bar.update(job, advance=1, description=f"{v.task}/{v.variant}")

            only = [e.strip() for e in exploits.split(",") if e.strip()] or None
            unknown = sorted(set(only or []) - set(exploit_names()))
            if unknown:
                raise typer.BadParameter(f"unknown exploits {unknown}; known: {', '.join(exploit_names())}")
            results = validate(tasks, run_id=run_id, workers=workers, progress=tick, redteam=not no_redteam,
                               exploits=only, keep=keep)
    finally:
        if not keep:
            prune(run_id=run_id)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in results], indent=2))
    else:
        _print_validation(results, run_id if keep else None)
        if any(r.redteam is not None for r in results):
            console.print(exploit_table(results, console.width))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _print_validation(results: list[Validation], kept_run: str | None) -> None:
    """Problems go under the table, not in a column: at 80 columns a column would leave them a word a line."""
    table = Table(id_column("task"), id_column("variant"), "result", text_column("reference"), "verify s")
    for r in results:
        secs = sorted(r.verify_seconds)[len(r.verify_seconds) // 2] if r.verify_seconds else 0.0
        status = "[green]ok[/]" if r.ok else "[red]FAIL[/]"
        if r.warnings:
            status += " [yellow]warn[/]"
        table.add_row(r.task, r.variant, status, ", ".join(r.reference_outcomes), f"{secs:.2f}")
    console.print(table)
    for r in results:
        for label, items, style in (("problem", r.problems, "red"), ("warning", r.warnings, "yellow")):
            for p in items:
                head, _, rest = p.detail.partition("\n")
                console.print(f"[{style}]{label}[/] [bold]{escape(r.task)}/{escape(r.variant)}[/] "
                              f"{escape(p.stage)}: {escape(head)}", highlight=False, soft_wrap=True)
                if rest:
                    console.print(escape(rest), highlight=False, soft_wrap=True)
    kept = [(r, k) for r in results for k in r.kept]
    if kept:
        console.print(f"\nkept {len(kept)} sandboxes (remove them with: groundtruth sandbox prune --run {kept_run}):",
                      soft_wrap=True)
        for r, k in kept:
            console.print(f"  {escape(r.task)}/{escape(r.variant)} {escape(k.stage)}: {escape(k.enter)}",
                          highlight=False, soft_wrap=True)


def exploit_table(results: list[Validation], width: int = 200) -> Table:
    """Task x exploit: `caught` (a verified failure), `WON` (verified success without the job), `allowed`
    (the task accepts it, with a reason), `-` (does not apply to this task). On a narrow terminal, one row per
    task with the exploits grouped by result instead (ids are never cut; `--json` has every detail)."""
    names = [n for n in exploit_names() if any(x.exploit == n for r in results for x in r.redteam or [])]

    def cell(r: Validation, n: str) -> str:
        hits = [x for x in r.redteam or [] if x.exploit == n]
        if not hits:
            return "-"
        if any(x.won and x.allowed is None for x in hits):
            return "WON" + (f" {sum(x.won for x in hits)}/{len(hits)}" if len(hits) > 1 else "")
        if any(x.won for x in hits):
            return "allowed"
        return "caught" + (f" {len(hits)}" if len(hits) > 1 else "")

    colour = {"WON": "red", "allowed": "yellow", "caught": "green"}
    title = "red team: generic exploits (WON = verified success without the job)"
    if width >= 24 + 10 * len(names):
        table = Table(id_column("task/variant"), *names, title=title)
        for r in results:
            row = [cell(r, n) for n in names]
            table.add_row(f"{r.task}/{r.variant}",
                          *(f"[{colour[c.split()[0]]}]{c}[/]" if c != "-" else c for c in row))
        return table
    table = Table(id_column("task/variant"), "WON", "caught", "allowed / n/a", title=title)
    for r in results:
        cells = {n: cell(r, n) for n in names}
        won = [n for n, c in cells.items() if c.startswith("WON")]
        allowed = [n for n, c in cells.items() if c == "allowed"]
        caught = sum(1 for c in cells.values() if c.startswith("caught"))
        na = sum(1 for c in cells.values() if c == "-")
        table.add_row(f"{r.task}/{r.variant}", f"[red]{', '.join(won)}[/]" if won else "none",
                      f"{caught} exploits", (", ".join(allowed) + "; " if allowed else "") + f"{na} n/a")
    return table
