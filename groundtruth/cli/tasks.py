"""`groundtruth tasks`: list, show, scaffold and validate verifiable tasks."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from groundtruth.cli.tasks_import import app as import_app
from groundtruth.redteam.stage import exploit_names
from groundtruth.sandbox.prune import prune
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.scaffold import scaffold
from groundtruth.tasks.validate import Validation, validate

app = typer.Typer(help="List, show, scaffold and validate verifiable tasks.", no_args_is_help=True)
app.add_typer(import_app, name="import")
console = Console()

TasksDir = typer.Option(None, "--tasks-dir", help="Extra folder of tasks (repeatable); also $GROUNDTRUTH_TASKS_PATH.")


@app.command("list")
def list_cmd(
    tasks_dir: list[Path] = TasksDir,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """List every known task with its family, env and variants."""
    reg = Registry(tasks_dir)
    tasks = reg.all()
    rows = [{
        "id": t.id, "family": t.spec.family, "env": t.spec.env, "title": t.spec.title,
        "variants": [v.name for v in t.spec.variants], "checks": len(t.spec.checks),
        "infeasible": t.spec.infeasible, "folder": str(t.folder),
    } for t in tasks]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "family", "env", "variants", "checks", "title")
    for r in rows:
        table.add_row(str(r["id"]), str(r["family"]), str(r["env"]), ", ".join(r["variants"]),  # type: ignore[arg-type]
                      str(r["checks"]), str(r["title"]))
    console.print(table)
    console.print(f"{len(rows)} tasks in {len({r['family'] for r in rows})} families")


@app.command("show")
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
    console.print(f"[bold]{s.id}[/] v{s.version} ({s.family}) — {s.title}\n{task.folder}\n")
    console.print(s.instruction.strip() + "\n")
    table = Table("check", "kind", "type", "objective / requirement")
    owners: dict[str, list[str]] = {}
    for o in s.goal.objectives:
        for cid in o.checks:
            owners.setdefault(cid, []).append(f"objective {o.id}")
    for r in s.goal.requirements:
        for cid in r.checks:
            owners.setdefault(cid, []).append(f"requirement {r.id}")
    for c in s.checks:
        table.add_row(c.id, c.kind + (" canary" if c.canary else ""), c.type, ", ".join(owners.get(c.id, [])))
    console.print(table)
    console.print(f"protected: {', '.join(s.protected) or '-'}")
    console.print(f"variants: {', '.join(v.name for v in s.variants)}")


@app.command("new")
def new_cmd(
    task_id: str = typer.Argument(..., help="New task id (lowercase, digits, dashes)."),
    into: Path = typer.Option(Path("tasks"), "--into", help="Folder to create the task in."),
    family: str = typer.Option("custom", "--family", help="Task family."),
) -> None:
    """Scaffold a valid task folder (task.toml, solution.sh, checks/) to edit."""
    folder = scaffold(into, task_id, family)
    console.print(f"created {folder}; check it with: groundtruth tasks validate {task_id} --tasks-dir {into}")


@app.command("validate")
def validate_cmd(
    task_ids: list[str] = typer.Argument(None, help="Task ids or globs."),
    all_: bool = typer.Option(False, "--all", help="Validate every known task."),
    tasks_dir: list[Path] = TasksDir,
    workers: int = typer.Option(2, "--workers", help="Tasks validated at once."),
    no_redteam: bool = typer.Option(False, "--no-redteam", help="Skip the red-team stage (generic exploits)."),
    exploits: str = typer.Option("", "--exploits", help="Only these exploits, comma-separated (see the table)."),
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
                               exploits=only)
    finally:
        prune(run_id=run_id)
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in results], indent=2))
    else:
        table = Table("task", "variant", "result", "reference", "verify s", "problems")
        for r in results:
            secs = sorted(r.verify_seconds)[len(r.verify_seconds) // 2] if r.verify_seconds else 0.0
            status = "[green]ok[/]" if r.ok else "[red]FAIL[/]"
            table.add_row(r.task, r.variant, status, ", ".join(r.reference_outcomes), f"{secs:.2f}",
                          "\n".join(f"{p.stage}: {p.detail}" for p in r.problems))
        console.print(table)
        if any(r.redteam is not None for r in results):
            console.print(exploit_table(results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def exploit_table(results: list[Validation]) -> Table:
    """Task x exploit: `caught` (a verified failure), `WON` (verified success without the job), `allowed`
    (the task accepts it, with a reason), `-` (does not apply to this task)."""
    names = [n for n in exploit_names() if any(x.exploit == n for r in results for x in r.redteam or [])]
    table = Table("task/variant", *names, title="red team: generic exploits (WON = verified success without the job)")
    for r in results:
        cells = []
        for n in names:
            hits = [x for x in r.redteam or [] if x.exploit == n]
            if not hits:
                cells.append("-")
            elif any(x.won and x.allowed is None for x in hits):
                cells.append("[red]WON[/]" + (f" {sum(x.won for x in hits)}/{len(hits)}" if len(hits) > 1 else ""))
            elif any(x.won for x in hits):
                cells.append("[yellow]allowed[/]")
            else:
                cells.append("[green]caught[/]" + (f" {len(hits)}" if len(hits) > 1 else ""))
        table.add_row(f"{r.task}/{r.variant}", *cells)
    return table
