"""`groundtruth sandbox`: inspect and clean up sandbox containers."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from groundtruth.errors import GroundtruthError
from groundtruth.sandbox import prune as prune_mod
from groundtruth.sandbox.engine import LABEL_EPISODE, LABEL_EXPIRES, LABEL_RUN

app = typer.Typer(help="Inspect and clean up sandbox containers.", no_args_is_help=True)
console = Console()


@app.command("prune", epilog="Example: groundtruth sandbox prune --run validate-1a2b3c4d")
def prune_cmd(
    stale: bool = typer.Option(False, "--stale", help="Only stale ones (the default without --run or --all)."),
    run: str = typer.Option(None, "--run", help="Only what this run id created, live or not (with --stale: only "
                            "its stale ones)."),
    everything: bool = typer.Option(False, "--all", help="Everything groundtruth created on this engine, other "
                                    "users' live runs included; says how many first."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --all: do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Remove stale sandboxes (expired, or their owner process is gone), or one run's, never a live run's.

    Examples: `groundtruth sandbox prune` (stale ones), `groundtruth sandbox prune --run run-2026...` (one run),
    `groundtruth sandbox prune --all --yes` (everything, on an engine nobody else uses).
    """
    if everything and (run or stale):
        raise GroundtruthError("--all removes everything: use it without --run and --stale")
    if everything:
        todo = prune_mod.plan(everything=True)
        what = (f"{len(todo.containers)} containers ({todo.live_containers} of them live), "
                f"{len(todo.images)} snapshot images and {len(todo.volumes)} volumes")
        typer.echo(f"--all will remove {what}, whoever created them", err=True)
        if not yes:
            if not sys.stdin.isatty():
                raise GroundtruthError(f"--all would remove {what}; add --yes to confirm")
            typer.confirm("remove them?", abort=True, err=True)
        report = prune_mod.execute(todo)
    else:
        report = prune_mod.prune(stale_only=stale, run_id=run)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    console.print(f"removed {len(report.containers)} containers, {len(report.images)} snapshot images and "
                  f"{len(report.volumes)} volumes")


@app.command("list", epilog="Example: groundtruth sandbox list --json")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print machine-readable results.")) -> None:
    """List the containers groundtruth manages right now."""
    rows = []
    for c in prune_mod.managed_containers():
        labels = dict(c.get("Labels") or {})
        rows.append({
            "id": str(c["Id"])[:12], "state": str(c.get("State")), "run": labels.get(LABEL_RUN, ""),
            "episode": labels.get(LABEL_EPISODE, ""), "expires": labels.get(LABEL_EXPIRES, ""),
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "state", "run", "episode", "expires")
    for r in rows:
        table.add_row(*(escape(v) for v in r.values()))
    console.print(table)
