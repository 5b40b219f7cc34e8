"""`groundtruth sandbox`: inspect and clean up sandbox containers."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from groundtruth.sandbox import prune as prune_mod
from groundtruth.sandbox.engine import LABEL_EPISODE, LABEL_EXPIRES, LABEL_RUN

app = typer.Typer(help="Inspect and clean up sandbox containers.", no_args_is_help=True)
console = Console()


@app.command("prune", epilog="Example: groundtruth sandbox prune --run validate-1a2b3c4d")
def prune_cmd(
    stale: bool = typer.Option(False, "--stale", help="Only expired ones and those whose owner process died."),
    run: str = typer.Option(None, "--run", help="Only the containers of this run id."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Remove every container and snapshot image groundtruth created (found by label)."""
    report = prune_mod.prune(stale_only=stale, run_id=run)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    console.print(f"removed {len(report.containers)} containers and {len(report.images)} snapshot images")


@app.command("list", epilog="Example: groundtruth sandbox list --json")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print machine-readable results.")) -> None:
    """List the containers groundtruth manages right now."""
    rows = []
    for c in prune_mod.managed_containers():
        labels = dict(c.get("Labels") or {})  # type: ignore[call-overload]
        rows.append({
            "id": str(c["Id"])[:12], "state": str(c.get("State")), "run": labels.get(LABEL_RUN, ""),
            "episode": labels.get(LABEL_EPISODE, ""), "expires": labels.get(LABEL_EXPIRES, ""),
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "state", "run", "episode", "expires")
    for r in rows:
        table.add_row(*r.values())
    console.print(table)
