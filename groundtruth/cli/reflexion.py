"""`groundtruth reflexion`: trials with a binary feedback bit and reflections, beside plain retries."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from groundtruth.errors import GroundtruthError
from groundtruth.reflexion import ReflexionConfig, ReflexionReport, TrialRecord, run_reflexion

console = Console()


def _yn(v: bool | None) -> str:
    return "-" if v is None else ("yes" if v else "no")


def _print(report: ReflexionReport) -> None:
    cfg = report.config
    trials = Table("arm", "seq", "trial", "seed", "status", "verified", "claimed", "judged", "feedback", "memory",
                   "reflection", title=f"reflexion {report.run_id}: {cfg.agent} on {cfg.task}, feedback={cfg.feedback}")
    for r in report.trials:
        reflection = r.reflection or "-"
        if r.tamper_flag:
            reflection = f"[bold magenta]TAMPER? {reflection}[/]"
        verified = "-" if r.status != "done" else (r.verified or "-") + (" +tamper" if r.tampered else "")
        trials.add_row(r.arm, str(r.sequence), str(r.trial), str(r.seed), r.status, verified, _yn(r.claimed),
                       _yn(r.judged), _yn(r.feedback), str(len(r.memory)), reflection)
    console.print(trials)
    curves = Table("arm", *[f"success@{k}" for k in range(1, cfg.trials + 1)], "solved by K", "regressions",
                   "stopped early", "stopped unverified", "tamper flags", "infra",
                   title="verified success per trial (whatever the feedback source)")
    for a in report.arms:
        reg = a.regression
        curves.add_row(a.arm, *[f"{v:.2f}" for v in a.success_at], f"{a.solved_by[-1]:.2f}",
                       f"{reg.k}/{reg.n}" + ("" if reg.rate is None else f" ({reg.rate:.2f})"), str(a.stopped_early),
                       f"[bold red]{a.stopped_unverified}[/]" if a.stopped_unverified else "0",
                       f"[bold magenta]{a.tamper_flags}[/]" if a.tamper_flags else "0", str(a.infra_errors))
    console.print(curves)
    console.print(f"stored in {report.db} (run {report.run_id}, tables reflexion_runs, reflexion_trials); "
                  f"{report.seconds:.0f} s")


def reflexion_cmd(
    task: str = typer.Option(..., "--task", "-t", help="Task id."),
    agent: str = typer.Option("learner", "--agent", "-a", help="Agent spec: learner, any scripted agent, "
                              "'cmd:COMMAND', llm[:MODEL[@URL]]."),
    trials: int = typer.Option(3, "--trials", "-k", min=1, max=100, help="Trials per sequence (K)."),
    feedback: str = typer.Option("verified", "--feedback", help="Source of the binary feedback bit: verified "
                                 "(default), simulator, or self (the agent's own claim)."),
    memory: int = typer.Option(3, "--memory", min=0, help="Omega: how many of the latest reflections go into a trial."),
    simulator: str = typer.Option(None, "--simulator", help="User simulator, e.g. 'scripted:p=0.5' (needed for "
                                  "--feedback simulator; otherwise only recorded)."),
    seeds: int = typer.Option(1, "--seeds", min=1, help="Independent sequences per arm (paired seeds across arms)."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="First seed."),
    variant: str = typer.Option(None, "--variant", help="Task variant (default: the first)."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=256, help="Sequences at once."),
    db: Path = typer.Option(Path("groundtruth.db"), "--db", dir_okay=False, help="SQLite database to write."),
    tasks_dir: list[Path] = typer.Option(None, "--tasks-dir", help="Extra folder of tasks (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results."),
) -> None:
    """Reflexion: retry a task with a binary feedback bit and self-reflections; compare with plain retries."""
    if feedback not in ("verified", "simulator", "self"):
        raise GroundtruthError(f"--feedback must be verified, simulator or self, not {feedback!r}")
    config = ReflexionConfig.model_validate({
        "task": task, "agent": agent, "trials": trials, "feedback": feedback, "memory": memory,
        "simulator": simulator, "seeds": seeds, "seed": seed, "variant": variant, "concurrency": concurrency,
        "tasks_dir": [str(p) for p in tasks_dir or []],
    })
    err = Console(stderr=True)

    def progress(r: TrialRecord) -> None:
        if not as_json and r.status != "skipped":
            err.print(f"[dim]{r.arm} seq {r.sequence} trial {r.trial}: {r.classification} "
                      f"(feedback {_yn(r.feedback)})[/]", highlight=False)

    report = run_reflexion(config, db, on_trial=progress)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    _print(report)
