"""`groundtruth tasks import harbor`: convert Harbor / Terminal-Bench 2.x task folders into groundtruth tasks."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from groundtruth.errors import GroundtruthError
from groundtruth.harbor.importer import import_task

app = typer.Typer(help="Import tasks written for other harnesses.", no_args_is_help=True,
                  epilog="Example: groundtruth tasks import harbor ~/tb2/csv-report --into mytasks")
console = Console()


@app.command("harbor")
def harbor_cmd(
    paths: list[Path] = typer.Argument(..., help="Harbor task folders (task.toml, instruction.md, environment/, "
                                                 "tests/, solution/)."),
    into: Path = typer.Option(Path("tasks-imported"), "--into", help="Folder the groundtruth tasks are written to."),
    agent_user: str = typer.Option(None, "--agent-user", help="root (Harbor's default) or agent (non-root); "
                                                              "default: the task's groundtruth.toml, else root."),
    force: bool = typer.Option(False, "--force", help="Replace a task folder that already exists."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list the steps translated as they are."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Convert Harbor task folders; print every step that could not be translated, and why.

    Example: groundtruth tasks import harbor ~/tb2/fix-git ~/tb2/csv-report --into mytasks
    then:    groundtruth tasks validate fix-git csv-report --tasks-dir mytasks
    """
    if agent_user not in (None, "root", "agent"):
        raise typer.BadParameter("--agent-user must be root or agent")
    results = []
    failed = 0
    for path in paths:
        try:
            results.append(import_task(path, into, agent_user=agent_user, force=force))  # type: ignore[arg-type]
        except (GroundtruthError, OSError) as exc:
            failed += 1
            typer.echo(f"{path}: {exc}", err=True)
    if as_json:
        typer.echo(json.dumps([r.model_dump() | {"dropped": len(r.dropped)} for r in results], indent=2))
    else:
        for r in results:
            console.print(f"[bold]{r.task}[/bold] <- {r.source} -> {r.folder} ({r.seconds:.2f}s)")
            table = Table("source", "step", "status", "why", show_lines=False)
            for n in r.notes:
                if n.status == "translated" and not verbose:
                    continue
                style = {"not translated": "red", "changed": "yellow"}.get(n.status, "")
                table.add_row(n.source, n.what, f"[{style}]{n.status}[/{style}]" if style else n.status, n.reason)
            console.print(table)
            console.print(f"{len(r.dropped)} step(s) not translated. Next: groundtruth tasks validate {r.task} "
                          f"--tasks-dir {into}")
    if failed:
        raise typer.Exit(1)
