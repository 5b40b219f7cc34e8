"""`groundtruth run`: agents against sandboxed tasks, verified outcome beside the agent's claim."""

from __future__ import annotations

import contextlib
import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from groundtruth.cli.tables import id_column, text_column
from groundtruth.errors import RunInterrupted
from groundtruth.runner import MAX_SEED, EpisodeResult, RunConfig, run, summarize

console = Console()


class Executor(StrEnum):
    local = "local"
    ray = "ray"


class Reward(StrEnum):
    verified = "verified"
    calibrated = "calibrated"
    simulator = "simulator"

CLASS_STYLE = {
    "true_success": "green", "honest_failure": "cyan", "false_success": "bold red", "false_failure": "yellow",
    "tampered": "bold magenta", "infra_error": "dim", "no_claim": "yellow", "unknown": "dim",
}


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _yn(v: bool | None) -> str:
    return "-" if v is None else ("yes" if v else "no")


def run_cmd(
    task: list[str] = typer.Option(["*"], "--task", "-t", help="Task ids or globs (repeatable or comma-separated)."),
    agent: list[str] = typer.Option(["oracle"], "--agent", "-a", help="oracle, nop, overclaimer, sandbagger, "
                                    "tamperer, partial, 'cmd:COMMAND ARGS', llm[:MODEL[@URL]] (repeatable)."),
    episodes: int = typer.Option(1, "--episodes", "-n", min=1,
                                 help="Episodes per task, variant and agent (seeds S..S+N-1)."),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_SEED, help="First seed."),
    concurrency: int = typer.Option(2, "--concurrency", "-k", min=1, max=256, help="Episodes at once."),
    db: Path = typer.Option(Path("groundtruth.db"), "--db", dir_okay=False,
                            help="SQLite database to write (created if missing)."),
    variant: list[str] = typer.Option([], "--variant", help="Variant names, or 'all' (default: each task's first)."),
    simulator: str = typer.Option(None, "--simulator", help="User simulator, e.g. scripted or 'scripted:p=0.5'."),
    reward: Reward = typer.Option(Reward.verified, "--reward", help="What the reward is."),
    retries: int = typer.Option(2, "--retries", min=0, max=100,
                                help="Retries of an episode after an infrastructure error."),
    max_steps: int = typer.Option(None, "--max-steps", min=1,
                                  help="Cap on steps per episode (below each task's limit)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the latest run in --db, skipping finished episodes."),
    run_id: str = typer.Option(None, "--run-id", help="With --resume: which run to continue."),
    tasks_dir: list[Path] = typer.Option(None, "--tasks-dir", help="Extra folder of tasks (repeatable)."),
    executor: Executor = typer.Option(Executor.local, "--executor",
                                      help="Where episodes run: this machine's engine, or a Ray cluster's nodes "
                                      "(needs groundtruth[ray]), e.g. --executor ray --address 10.0.0.5:6379."),
    address: str = typer.Option(None, "--address", help="With --executor ray: the cluster (HOST:PORT of its head; "
                                "default RAY_ADDRESS, else a one-node cluster on this machine)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Run agents on tasks in fresh sandboxes; show verified vs claimed per episode, then a summary.

    Example: `groundtruth run --task leaked-token --agent oracle,overclaimer --episodes 3 --db gt.db`.
    Over a Ray cluster: `groundtruth run --task '*' --agent oracle --executor ray --address HEAD:6379`.
    Ctrl-C stops cleanly and prints how to continue (`--resume`).
    """
    if run_id and not resume:
        typer.echo("note: --run-id without --resume names a new run", err=True)
    config = RunConfig(
        tasks=_split(task), agents=_split(agent), episodes=episodes, seed=seed, concurrency=concurrency,
        variants=_split(variant), simulator=simulator, reward=reward.value, retries=retries, max_steps=max_steps,
        tasks_dir=[str(p) for p in tasks_dir or []], executor=executor.value, address=address,
    )
    if address and executor is not Executor.ray:
        typer.echo("note: --address is used only with --executor ray", err=True)
    with Progress(TextColumn("episodes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True), transient=True,
                  disable=as_json) as bar:
        job = bar.add_task("", total=None)

        def started(total: int, skipped: int) -> None:
            bar.update(job, total=total, completed=skipped, description=f"({skipped} already done)" if skipped else "")

        def finished(r: EpisodeResult) -> None:
            bar.update(job, advance=1, description=f"{r.task} {r.agent}: {r.classification}")

        try:  # stdout is the results' (--json): whatever else prints there meanwhile (Ray's notes) goes to stderr
            with contextlib.redirect_stdout(sys.stderr):
                rid, results = run(config, db, run_id=run_id, resume=resume, on_start=started, on_result=finished)
        except RunInterrupted as exc:
            bar.stop()
            Console(stderr=True, soft_wrap=True).print(exc.message, markup=False, highlight=False)
            raise typer.Exit(130) from exc
    results.sort(key=lambda r: (r.task, r.variant, r.agent, r.seed))
    summary = summarize(results)
    if as_json:
        typer.echo(json.dumps({"run_id": rid, "db": str(db), "episodes": [r.model_dump() for r in results],
                               "summary": summary}, indent=2))
        return
    wide = console.width >= 130
    cols = ["task", "variant", "agent", "seed", "verified", "claimed", "conf", "judged", "class", "reward", "steps"]
    if not wide:  # a narrow terminal keeps what tells a false claim apart, and the seed that tells rows apart
        cols = ["task", "agent", "seed", "verified", "claim", "class"]
    table = Table(*[id_column(c) if c in ("task", "agent", "seed", "class") else text_column(c) for c in cols],
                  title=escape(f"run {rid}"), box=None if not wide else box.HEAVY_HEAD, pad_edge=False)
    for r in results:
        verified = (r.verified or "-") + (" +tamper" if r.tampered else "")
        style = CLASS_STYLE.get(r.classification or "", "")
        cls = f"[{style}]{r.classification}[/]" if style else str(r.classification)
        claimed = _yn(r.claimed_success)
        if wide:
            table.add_row(escape(r.task), escape(r.variant), escape(r.agent), str(r.seed), verified, claimed,
                          "-" if r.confidence is None else f"{r.confidence:.2f}", _yn(r.judged_success), cls,
                          "-" if r.reward is None else f"{r.reward:.2f}", str(r.steps))
        else:
            table.add_row(escape(f"{r.task}\n({r.variant})"), escape(r.agent), str(r.seed), verified, claimed, cls)
    longest = max((len(r.task) + len(r.agent) + len(str(r.seed)) for r in results), default=0)
    if wide or longest + 50 <= console.width:
        console.print(table)
    else:  # even the narrow table would cut an id: one line per episode, ids whole
        console.print(f"run {rid}", style="bold")
        for r in results:
            style = CLASS_STYLE.get(r.classification or "", "")
            console.print(f"{escape(r.task)} ({escape(r.variant)})  {escape(r.agent)}  seed {r.seed}  verified "
                          f"{r.verified or '-'}{' +tamper' if r.tampered else ''}, claimed "
                          f"{_yn(r.claimed_success)}: [{style or 'default'}]{r.classification}[/]",
                          soft_wrap=True, highlight=False)
    totals = Table("agent", "n", "verified ok", "claimed ok", "false succ", "false fail", "tamper", "no claim",
                   "infra", title="verified vs claimed (counts)")
    for row in summary:
        totals.add_row(escape(row["agent"]), str(row["episodes"]), str(row["verified_success"]),
                       str(row["claimed_success"]),
                       f"[bold red]{row['false_success']}[/]" if row["false_success"] else "0",
                       str(row["false_failure"]), str(row["tampered"]), str(row["no_claim"]), str(row["infra_error"]))
    console.print(totals)
    console.print(escape(f"stored in {db} (run {rid}); audit with: groundtruth audit --db {db}"))
