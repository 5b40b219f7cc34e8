"""The `groundtruth` command: one subcommand group per library module, sqlite-utils style."""

from __future__ import annotations

import sqlite3
import sys

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from groundtruth import __version__
from groundtruth.cli import experiment as experiment_cli
from groundtruth.cli import images as images_cli
from groundtruth.cli import sandbox as sandbox_cli
from groundtruth.cli import tasks as tasks_cli
from groundtruth.cli.audit import audit_cmd
from groundtruth.cli.reflexion import reflexion_cmd
from groundtruth.cli.run import run_cmd
from groundtruth.cli.serve import serve_cmd
from groundtruth.errors import GroundtruthError

app = typer.Typer(
    name="groundtruth",
    help="Environment-grounded agent sandboxes with verifiable outcomes.",
    epilog="Example: groundtruth run --task leaked-token --agent oracle,overclaimer && groundtruth audit --db "
           "groundtruth.db",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(images_cli.app, name="images", epilog="Example: groundtruth images build")
app.add_typer(sandbox_cli.app, name="sandbox", epilog="Example: groundtruth sandbox prune --stale")
app.add_typer(tasks_cli.app, name="tasks",
              epilog="Example: groundtruth tasks new my-task --into mytasks --template sqlite")
app.command("run", epilog="Example: groundtruth run --task 'delete-*' --agent oracle,overclaimer --episodes 3 "
                           "--simulator 'scripted:p=0.5' --db runs.db")(run_cmd)
app.command("reflexion", epilog="Example: groundtruth reflexion --task leaked-token --agent learner --trials 3 "
                                 "--feedback verified --db reflexion.db")(reflexion_cmd)
app.add_typer(experiment_cli.app, name="experiment", epilog="Example: groundtruth experiment drift --out drift-results")
app.command("audit", epilog="Example: groundtruth audit --db runs.db --run latest --by agent,family --html "
                             "report.html")(audit_cmd)
app.command("serve", epilog="Example: groundtruth serve --db runs.db --port 8001")(serve_cmd)

err = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"groundtruth {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Run agents in hardened Docker sandboxes and check what they really did."""


def describe(exc: ValidationError) -> str:
    """A pydantic error as one line: where, what was wrong, what was given."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or exc.title
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid {where}: {first['msg']} (got {first.get('input')!r}){more}"


def error(message: str) -> None:
    """One line on stderr, with brackets in the message shown as they are (no rich markup)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def entry(argv: list[str] | None = None) -> int:
    """Runs the CLI and returns its exit code. Bad input of any kind ends in one `error:` line, never a
    traceback: groundtruth's own errors, invalid values that reach a model, SQLite and file-system errors."""
    try:
        app(args=argv, prog_name="groundtruth")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except GroundtruthError as exc:
        error(str(exc))
        return 2
    except ValidationError as exc:
        error(describe(exc))
        return 2
    except sqlite3.Error as exc:
        error(f"database error: {exc}; check the --db file, or choose another one")
        return 2
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        error(f"{exc.strerror or exc}{where}")
        return 2
    return 0


def main() -> None:
    sys.exit(entry())
