"""`groundtruth audit`: how far each agent's claims and the simulated user's judgment can be trusted."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from groundtruth.audit.metrics import GROUP_KEYS
from groundtruth.audit.report import AuditReport, build_report, metric_rows, render_html
from groundtruth.cli.run import CLASS_STYLE
from groundtruth.cli.tables import id_column, text_column
from groundtruth.errors import GroundtruthError
from groundtruth.store import Store

console = Console()
BY_HELP = f"Group keys, comma-separated: {', '.join(GROUP_KEYS)}."


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def open_existing(db: Path) -> Store:
    """Read-only, and only a groundtruth database: a typo in --db must be an error, not an empty report, and an
    unrelated SQLite file must come out of the audit unchanged."""
    return Store.open_readonly(db)


def _short(x: BaseModel, *, pct: bool = True) -> str:
    """`67% (44-84)`: the terminal has no room for the long form of every interval."""
    d = x.model_dump()
    if d["value"] is None:
        return "-"

    def f(v: float) -> str:
        return f"{v * 100:.0f}" if pct else f"{v:.2f}"

    unit = "%" if pct else ""
    return f"{f(d['value'])}{unit} ({f(d['ci_low'])}-{f(d['ci_high'])})"


def _print(report: AuditReport) -> None:
    scope = f"run {report.run_id}" if report.run_id else "all runs"
    wide = console.width >= 120
    metrics = Table("metric", "value [95% CI]", "n", *(["meaning"] if wide else []),
                    title=escape(f"audit of {report.db} ({scope}, {report.n_episodes} episodes)"), title_justify="left")
    for row in metric_rows(report.overall, report.simulator_false_rejection_rate):
        text = escape(re.sub(r" n=\d+$", "", row["text"]))
        if row["name"] in ("false_success_rate", "tamper_rate") and report.overall.model_dump()[row["name"]]["k"]:
            text = f"[bold red]{text}[/]"
        metrics.add_row(row["name"], text, str(row["n"]), *([row["help"]] if wide else []))
    console.print(metrics)
    cc = report.overall.classification_counts
    console.print("classification: " + ", ".join(
        f"[{CLASS_STYLE.get(k, '')}]{k} {v}[/]" if v and CLASS_STYLE.get(k) else f"{k} {v}" for k, v in cc.items()))
    if report.groups:
        keys = list(report.groups[0].group)
        table = Table(*[id_column(k) for k in keys], "n", "true succ", "false succ", "tampered", "false succ rate",
                      "claim prec", "sim false acc", "ECE", title=f"per {' x '.join(keys)} (rates: value (95% CI))",
                      title_justify="left")
        for g in report.groups:
            s = g.summary
            gc = s.classification_counts
            fs = gc.get("false_success", 0)
            tp = gc.get("tampered", 0)
            table.add_row(*[escape(g.group[k]) for k in keys], str(s.n_episodes), str(gc.get("true_success", 0)),
                          f"[bold red]{fs}[/]" if fs else "0", f"[bold magenta]{tp}[/]" if tp else "0",
                          _short(s.false_success_rate), _short(s.claim_precision),
                          _short(s.simulator_false_acceptance_rate), _short(s.ece, pct=False))
        console.print(table)
    if report.false_success_episodes:
        runs = {e.run_id for e in report.false_success_episodes}
        where = escape(f" in run {next(iter(runs))}") if len(runs) == 1 else ""
        fs_table = Table(id_column("agent"), id_column("task"), id_column("variant"), id_column("seed"), "conf",
                         "simulator", text_column("failing checks"), *([] if len(runs) == 1 else [id_column("run")]),
                         title=f"false successes ({len(report.false_success_episodes)}){where}", title_justify="left")
        for e in report.false_success_episodes:
            judged = "-" if e.judged_success is None else ("accepted" if e.judged_success else "rejected")
            fs_table.add_row(escape(e.agent), escape(e.task), escape(e.variant), str(e.seed),
                             "-" if e.confidence is None else f"{e.confidence:.2f}", judged,
                             ", ".join(c.check_id for c in e.failing_checks),
                             *([] if len(runs) == 1 else [escape(e.run_id)]))
        console.print(fs_table)
    else:
        console.print("[green]no false successes[/]")
    for c in report.curves:
        if c.events:
            episodes = len({ev.episode_id for ev in c.events})
            console.print(f"[yellow]simulator {c.simulator}: {len(c.events)} drift events in {episodes} of "
                          f"{c.episodes} episodes[/]")


def audit_cmd(
    db: Path = typer.Option(..., "--db", help="SQLite database written by `groundtruth run`."),
    run: str = typer.Option(None, "--run", help="Only this run id ('latest' for the newest); default: all runs."),
    by: list[str] = typer.Option(["agent"], "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable metrics."),
    html_out: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report to this file."),
    max_transcripts: int = typer.Option(200, "--max-transcripts", min=0, max=100_000,
                                        help="Transcripts to embed in the HTML report (the rest are listed)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1, max=1_000_000,
                                  help="Bootstrap resamples for kappa/Brier/ECE CIs."),
) -> None:
    """Verified vs claimed vs judged over stored episodes: rates with 95% CIs, per group, false successes.

    Example: `groundtruth audit --db gt.db --run latest --by agent,task --html report.html`. The database is
    opened read-only.
    """
    store = open_existing(db)
    try:
        run_id: str | None = run
        if run == "latest":
            run_id = store.latest_run()
            if run_id is None:
                raise GroundtruthError(f"no runs in {db}")
        started = time.perf_counter()
        report = build_report(store, run_id=run_id, by=_split(by), n_boot=bootstrap,
                              max_transcripts=max_transcripts)
    finally:
        store.close()
    if html_out is not None:
        if html_out.is_dir():
            raise GroundtruthError(f"--html {html_out} is a directory: give a file, e.g. {html_out / 'report.html'}")
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(render_html(report), encoding="utf-8")
    seconds = time.perf_counter() - started
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    _print(report)
    if html_out is not None:
        console.print(f"HTML report: {html_out} ({seconds:.1f}s)")
