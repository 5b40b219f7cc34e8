"""`groundtruth experiment`: studies over many episodes, with plots and JSON beside the database."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from groundtruth.experiments.drift import BEHAVIOURS, DEFAULT_REWARDS, DriftConfig, FinalStat, run_drift, source_label
from groundtruth.experiments.drift import write_outputs as write_drift
from groundtruth.runner import EpisodeResult

BEHAVIOUR_HELP = f"Subset of {', '.join(BEHAVIOURS)} (default all)."
REWARD_HELP = f"Reward sources: verified, calibrated, 'scripted:p=P' (default: {', '.join(DEFAULT_REWARDS)})."

app = typer.Typer(help="Experiments: the drift-compounding study.", no_args_is_help=True)
console = Console()


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _stat(s: FinalStat) -> str:
    return f"{s.mean:.2f} [{s.lo:.2f}, {s.hi:.2f}]"


def _rate(value: float | None, k: int, n: int) -> str:
    return "-" if value is None else f"{value:.2f} ({k}/{n})"


@app.command("drift", epilog="Example: groundtruth experiment drift --reward verified "
                                     "--reward 'scripted:p=0.3' --train-seeds 5 --out /tmp/d")
def drift_cmd(
    task: list[str] = typer.Option(["leaked-token"], "--task", "-t", help="Tasks the behaviours run on."),
    behaviour: list[str] = typer.Option(None, "--behaviour", help=BEHAVIOUR_HELP),
    reward: list[str] = typer.Option(None, "--reward", help=REWARD_HELP),
    env_seeds: int = typer.Option(3, "--env-seeds", min=1, help="Real episodes per task and behaviour."),
    train_seeds: int = typer.Option(20, "--train-seeds", min=1, help="Independent training runs per reward source."),
    iterations: int = typer.Option(150, "--iterations", min=1, help="Policy-gradient steps per training run."),
    batch: int = typer.Option(16, "--batch", min=1, help="Sampled episodes per step."),
    lr: float = typer.Option(1.0, "--lr", min=1e-9, max=1e6, help="Learning rate on the logits."),
    audit_episodes: int = typer.Option(40, "--audit-episodes", min=1,
                                       help="Episodes sampled per final policy and seed."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="First environment seed."),
    concurrency: int = typer.Option(2, "--concurrency", "-k", min=1, max=256, help="Real episodes at once."),
    out: Path = typer.Option(Path("drift-results"), "--out", help="Folder for drift.svg, drift.png, drift.json."),
    db: Path = typer.Option(None, "--db", dir_okay=False,
                            help="SQLite database for the real episodes (default OUT/drift.db)."),
    reuse: str = typer.Option(None, "--reuse", help="Reuse the real episodes of this earlier drift run in --db."),
    tasks_dir: list[Path] = typer.Option(None, "--tasks-dir", help="Extra folder of tasks (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Train a policy over real behaviours on each reward source; plot false success, tampering, real success."""
    config = DriftConfig(
        tasks=_split(task), behaviours=_split(behaviour) or list(BEHAVIOURS), rewards=_split(reward) or DEFAULT_REWARDS,
        env_seeds=env_seeds, train_seeds=train_seeds, iterations=iterations, batch=batch, lr=lr,
        audit_episodes=audit_episodes, seed=seed, concurrency=concurrency, tasks_dir=[str(p) for p in tasks_dir or []],
    )
    out.mkdir(parents=True, exist_ok=True)
    db = db or out / "drift.db"
    with Progress(TextColumn("real episodes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=Console(stderr=True), transient=True,
                  disable=as_json) as bar:
        job = bar.add_task("", total=len(config.tasks) * len(config.behaviours) * config.env_seeds)

        def finished(r: EpisodeResult) -> None:
            bar.update(job, advance=1, description=f"{r.task} {r.agent}/{r.seed}: {r.classification}")

        result = run_drift(config, db, run_id=reuse, reuse=reuse is not None, on_result=finished)
    result = write_drift(result, out)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    cells = Table("behaviour", "task", "seed", "class", "claimed", "conf", "reward: verified", "calibrated",
                  title=f"real episodes (run {result.run_id}), each reused by every training step that samples it")
    for o in result.outcomes:
        s = o.signals
        cells.add_row(o.behaviour, s.task, str(s.seed), o.classification, str(s.claimed_success),
                      "-" if s.confidence is None else f"{s.confidence:.2f}", f"{o.verified_reward:.2f}",
                      f"{o.calibrated_reward:.3f}")
    console.print(cells)
    table = Table("reward source", "false success", "tamper", "real success", "P(claim w/o work)",
                  "audit: false-success rate", "audit: tamper", "audit: sim. false accept",
                  title=f"final policies after {config.iterations} iterations: mean [95% band] over "
                        f"{config.train_seeds} seeds")
    for src in result.sources:
        a = src.audit
        cww = src.final_policy.get("claim-without-work")
        table.add_row(source_label(src.reward), _stat(src.final["false_success"]), _stat(src.final["tamper"]),
                      _stat(src.final["real_success"]), "-" if cww is None else _stat(cww),
                      _rate(a.false_success_rate.value, a.false_success_rate.k, a.false_success_rate.n),
                      _rate(a.tamper_rate.value, a.tamper_rate.k, a.tamper_rate.n),
                      _rate(a.simulator_false_acceptance_rate.value, a.simulator_false_acceptance_rate.k,
                            a.simulator_false_acceptance_rate.n))
    console.print(table)
    secs = result.seconds
    console.print(f"real episodes {secs['episodes']:.0f} s, training {secs['training']:.1f} s; wrote "
                  f"{', '.join(result.files)}; episodes in {result.db}")
