"""`groundtruth images`: build and list the sandbox images."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from groundtruth import images

app = typer.Typer(help="Build and list sandbox images (no registry needed).", no_args_is_help=True)
console = Console()


@app.command("build", epilog="Example: groundtruth images build sandbox --base-from debian:bookworm-slim")
def build_cmd(
    name: list[str] = typer.Argument(None, help="Recipes to build (default: all under containers/)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the content tag exists."),
    base_from: str = typer.Option(
        None, "--base-from", envvar="GROUNDTRUTH_BASE_IMAGE",
        help="Build the base FROM this public image instead of debootstrap (needs a registry).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Build every image recipe; unchanged recipes are skipped by content hash."""
    names = name or images.recipe_names()
    results = []
    with console.status("building images") as status:
        for n in names:
            results.append(images.build(n, force=force, base_from=base_from, log=lambda m: status.update(m)))
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in results], indent=2))
        return
    table = Table("recipe", "tag", "built", "seconds", "method")
    for r in results:
        table.add_row(r.name, r.tag, "yes" if r.built else "cached", f"{r.seconds:.1f}", r.method)
    console.print(table)


@app.command("list", epilog="Example: groundtruth images list --json")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print machine-readable results.")) -> None:
    """Show each recipe, its content tag, and whether the engine has it."""
    rows = [{"recipe": n, "tag": images.tag_for(n), "present": images.exists(images.tag_for(n))}
            for n in images.recipe_names()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("recipe", "tag", "present")
    for r in rows:
        table.add_row(str(r["recipe"]), str(r["tag"]), "yes" if r["present"] else "no")
    console.print(table)
