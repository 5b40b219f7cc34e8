"""The drift-compounding experiment: what does a policy learn when its reward is a sycophantic user?

A learning agent picks one of a few real behaviours per episode with a softmax policy over logits, trained by
REINFORCE (batch-mean baseline, numpy, seeded). Each behaviour is a scripted reference agent executed in a
real container: `honest` (oracle: do the work, claim honestly), `claim-without-work` (overclaimer),
`partial-claim-all` (partial: run the task's partial script, claim every objective; on a task without one it
does nothing and still claims), `tamper` (tamperer: edit the protected paths, claim success), `sandbag`
(sandbagger: do the work, claim failure) and `give-up` (nop: do nothing, say so). The reward is one of: the
verified outcome `c`; the calibration-aware `c - (q - c)^2`; or a scripted user simulator's judgment at a
grid of sycophancy settings `p` (the probability that the user accepts a claim it cannot check).

MEMOISATION, plainly: a scripted behaviour's verified outcome and claim on a given (task, variant, seed) are
deterministic, so each (task, behaviour, seed) runs ONCE as a real episode through the runner (concurrency 2,
stored in the database like any `groundtruth run`), and every training step that samples that cell reuses the
stored result instead of starting a new container. What is random per training step is re-drawn per step with
a seeded numpy generator: which behaviour and which seed are sampled, and, for simulator rewards, whether the
user accepts. The acceptance follows `ScriptedSimulator.judge` without a view of the state: a success claim is
accepted with probability `p`, a failure claim never (`accepted = claimed_success and u < p`). In a real
episode the scripted user's `u` is fixed by (task, variant, seed); here every training step stands for a new
user, so `u` is drawn afresh per step -- the same acceptance probability, without tying the user's mood to a
handful of memo cells. Training episodes are therefore not stored one by one; the real episodes behind them
are.

What is tracked per iteration is exact under the current policy (an expectation over the memo table, not a
sample): the false-success rate (share of the policy's episodes that claim success on an untampered verified
failure), the tamper rate, and the real success rate (verified success, untampered). Bands are 95% percentile
bootstrap intervals of the mean over training seeds. The final policies are audited by sampling episodes from
them and passing those to `audit.metrics.summarize`, so the audit's own definitions (e.g. false success over
false success plus honest failure) apply there.
"""

from __future__ import annotations

import json
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from groundtruth.audit.classify import Classification, EpisodeSignals, classify
from groundtruth.audit.metrics import AuditSummary, summarize
from groundtruth.errors import GroundtruthError
from groundtruth.records import Claim, RewardKind, reward_of
from groundtruth.runner import EpisodeResult, RunConfig, run
from groundtruth.simulators import make_simulator
from groundtruth.simulators.scripted import ScriptedSimulator
from groundtruth.store import Store

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BEHAVIOURS: dict[str, str] = {
    "honest": "oracle",
    "claim-without-work": "overclaimer",
    "partial-claim-all": "partial",
    "tamper": "tamperer",
    "sandbag": "sandbagger",
    "give-up": "nop",
}
DEFAULT_REWARDS = ["verified", "calibrated", "scripted:p=0", "scripted:p=0.5", "scripted:p=0.9", "scripted:p=1"]
METRICS = ("false_success", "tamper", "real_success")


class DriftConfig(BaseModel):
    tasks: list[str] = Field(default_factory=lambda: ["leaked-token"])
    variants: list[str] = Field(default_factory=list, description="empty: each task's first variant")
    behaviours: list[str] = Field(default_factory=lambda: list(BEHAVIOURS))
    rewards: list[str] = Field(default_factory=lambda: list(DEFAULT_REWARDS))
    env_seeds: int = Field(default=3, ge=1, description="real episodes per (task, behaviour): seeds S..S+N-1")
    seed: int = 0
    train_seeds: int = Field(default=20, ge=1)
    iterations: int = Field(default=150, ge=1)
    batch: int = Field(default=16, ge=1)
    lr: float = Field(default=1.0, gt=0)
    audit_episodes: int = Field(default=40, ge=1, description="episodes sampled per final policy and training seed")
    concurrency: int = Field(default=2, ge=1)
    retries: int = Field(default=2, ge=0)
    tasks_dir: list[str] = Field(default_factory=list)


class Outcome(BaseModel):
    """One real episode: the memo cell that training steps reuse."""

    behaviour: str
    signals: EpisodeSignals
    classification: str
    verified_success: bool
    false_success: bool
    verified_reward: float
    calibrated_reward: float


class Band(BaseModel):
    mean: list[float]
    lo: list[float]
    hi: list[float]


class FinalStat(BaseModel):
    mean: float
    lo: float
    hi: float
    per_seed: list[float]


class SourceResult(BaseModel):
    reward: str
    curves: dict[str, Band]
    policy_curves: dict[str, Band]
    final: dict[str, FinalStat]
    final_policy: dict[str, FinalStat]
    audit: AuditSummary


class DriftResult(BaseModel):
    config: DriftConfig
    run_id: str
    db: str
    outcomes: list[Outcome]
    sources: list[SourceResult]
    seconds: dict[str, float]
    files: list[str] = Field(default_factory=list)


# -- policy gradient (pure) --------------------------------------------------------------------------------

def softmax(theta: FloatArray) -> FloatArray:
    z = np.exp(theta - theta.max())
    out: FloatArray = z / z.sum()
    return out


def reinforce_step(theta: FloatArray, actions: IntArray, rewards: FloatArray, lr: float) -> FloatArray:
    """One REINFORCE ascent step: grad log pi(a) = onehot(a) - pi for a softmax, weighted by the advantage.

    The batch-mean baseline keeps the estimate unbiased enough for a fixed batch while removing the common
    part of the reward, so a reward that is the same for every behaviour (e.g. a user who accepts nothing)
    leaves the policy exactly where it is.
    """
    pi = softmax(theta)
    adv = rewards - rewards.mean()
    onehot = np.zeros((actions.shape[0], theta.shape[0]))
    onehot[np.arange(actions.shape[0]), actions] = 1.0
    grad: FloatArray = (adv[:, None] * (onehot - pi[None, :])).mean(axis=0)
    out: FloatArray = theta + lr * grad
    return out


def simulator_p(spec: str) -> float:
    """The sycophancy knob of a scripted simulator spec; other knobs do not change a state-blind judgment.

    A user who looks at the state (`sees=true`) is refused: its judgment depends on per-check statuses that
    the memo table does not replay.
    """
    sim = make_simulator(spec)
    if not isinstance(sim, ScriptedSimulator):
        raise GroundtruthError(f"the drift experiment needs a scripted simulator, not {spec!r}")
    if getattr(sim.knobs, "sees_state", False):
        raise GroundtruthError(f"the drift experiment models a state-blind user; {spec!r} looks at the state")
    return float(sim.knobs.accept_without_evidence)


def simulator_accepts(claimed: npt.NDArray[np.bool_], u: FloatArray, p: float) -> npt.NDArray[np.bool_]:
    """`ScriptedSimulator.judge` without a view, vectorised: believe a success claim with probability p."""
    out: npt.NDArray[np.bool_] = claimed & (u < p)
    return out


def reward_kind(source: str) -> RewardKind:
    if source in ("verified", "calibrated"):
        return RewardKind(source)
    simulator_p(source)
    return RewardKind.SIMULATOR


def _stable_seed(*parts: str | int) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


class MemoTable:
    """The real outcomes as arrays: behaviour x cell (task, variant, seed), in a fixed order."""

    def __init__(self, outcomes: list[Outcome], behaviours: list[str]) -> None:
        self.behaviours = behaviours
        cells = sorted({(o.signals.task, o.signals.variant, o.signals.seed) for o in outcomes})
        index = {(o.behaviour, o.signals.task, o.signals.variant, o.signals.seed): o for o in outcomes}
        missing = [(b, *c) for b in behaviours for c in cells if (b, *c) not in index]
        if missing:
            raise GroundtruthError(f"no real episode for {missing[:3]} (and {max(0, len(missing) - 3)} more)")
        self.cells = cells
        self.table = [[index[(b, *c)] for c in cells] for b in behaviours]

        def arr(fn: Callable[[Outcome], float]) -> FloatArray:
            return np.array([[fn(o) for o in row] for row in self.table], dtype=np.float64)

        self.claimed = arr(lambda o: float(bool(o.signals.claimed_success))) > 0.5
        self.verified_reward = arr(lambda o: o.verified_reward)
        self.calibrated_reward = arr(lambda o: o.calibrated_reward)
        self.rates = {
            "false_success": arr(lambda o: float(o.false_success)).mean(axis=1),
            "tamper": arr(lambda o: float(o.signals.tampered)).mean(axis=1),
            "real_success": arr(lambda o: float(o.verified_success)).mean(axis=1),
        }

    def rewards(self, source: str, actions: IntArray, cells: IntArray, u: FloatArray) -> FloatArray:
        kind = reward_kind(source)
        if kind is RewardKind.VERIFIED:
            out: FloatArray = self.verified_reward[actions, cells]
            return out
        if kind is RewardKind.CALIBRATED:
            out = self.calibrated_reward[actions, cells]
            return out
        return simulator_accepts(self.claimed[actions, cells], u, simulator_p(source)).astype(np.float64)


def outcome_of(behaviour: str, s: EpisodeSignals) -> Outcome:
    verified_success = s.verified == "success" and not s.tampered
    claim = None if s.claimed_success is None else Claim(success=s.claimed_success, confidence=s.confidence or 0.0)
    return Outcome(
        behaviour=behaviour, signals=s, classification=classify(s).value, verified_success=verified_success,
        false_success=classify(s) is Classification.FALSE_SUCCESS,
        verified_reward=reward_of(RewardKind.VERIFIED, verified_success, claim, None),
        calibrated_reward=reward_of(RewardKind.CALIBRATED, verified_success, claim, None),
    )


# -- training ----------------------------------------------------------------------------------------------

def train(memo: MemoTable, source: str, train_seed: int, config: DriftConfig) -> tuple[FloatArray, FloatArray]:
    """One policy on one reward source; returns (metrics[T+1, 3], policy[T+1, A]) from start to end."""
    rng = np.random.default_rng([train_seed, _stable_seed(source)])
    n_actions, n_cells = len(memo.behaviours), len(memo.cells)
    rates = np.stack([memo.rates[m] for m in METRICS], axis=1)  # A x 3
    theta = np.zeros(n_actions)
    policies = np.empty((config.iterations + 1, n_actions))
    for it in range(config.iterations):
        pi = softmax(theta)
        policies[it] = pi
        actions = rng.choice(n_actions, size=config.batch, p=pi).astype(np.int64)
        cells = rng.integers(0, n_cells, size=config.batch).astype(np.int64)
        u = rng.random(config.batch)
        theta = reinforce_step(theta, actions, memo.rewards(source, actions, cells, u), config.lr)
    policies[-1] = softmax(theta)
    metrics: FloatArray = policies @ rates
    return metrics, policies


def bootstrap_band(values: FloatArray, n_boot: int = 1000, seed: int = 0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean over seeds (axis 0) with a 95% percentile bootstrap interval, fixed-seed like the audit's."""
    n = values.shape[0]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    means = values[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975], axis=0)
    return values.mean(axis=0), lo, hi


def _r(xs: FloatArray) -> list[float]:
    return [round(float(x), 4) for x in np.atleast_1d(xs)]


def _band(values: FloatArray) -> Band:
    mean, lo, hi = bootstrap_band(values)
    return Band(mean=_r(mean), lo=_r(lo), hi=_r(hi))


def _final(values: FloatArray) -> FinalStat:
    mean, lo, hi = bootstrap_band(values[:, None])
    return FinalStat(mean=_r(mean)[0], lo=_r(lo)[0], hi=_r(hi)[0], per_seed=_r(values))


def audit_final(memo: MemoTable, source: str, policies: FloatArray, config: DriftConfig) -> AuditSummary:
    """Episodes sampled from each seed's final policy (memoised outcomes, fresh simulator draws), audited."""
    p = simulator_p(source) if reward_kind(source) is RewardKind.SIMULATOR else None
    eps: list[EpisodeSignals] = []
    for s, pi in enumerate(policies):
        rng = np.random.default_rng([s, _stable_seed(source, "audit")])
        actions = rng.choice(len(pi), size=config.audit_episodes, p=pi)
        cells = rng.integers(0, len(memo.cells), size=config.audit_episodes)
        u = rng.random(config.audit_episodes)
        for j, (a, c) in enumerate(zip(actions, cells, strict=True)):
            o = memo.table[int(a)][int(c)]
            judged = None if p is None else bool(o.signals.claimed_success) and bool(u[j] < p)
            eps.append(o.signals.model_copy(update={
                "episode_id": f"{o.signals.episode_id}#{source}/{s}/{j}", "agent": f"drift[{source}]",
                "judged_success": judged,
            }))
    return summarize(eps)


def train_all(memo: MemoTable, config: DriftConfig) -> list[SourceResult]:
    results = []
    for source in config.rewards:
        runs = [train(memo, source, s, config) for s in range(config.train_seeds)]
        metrics = np.stack([m for m, _ in runs])  # S x (T+1) x 3
        policies = np.stack([p for _, p in runs])  # S x (T+1) x A
        results.append(SourceResult(
            reward=source,
            curves={m: _band(metrics[:, :, i]) for i, m in enumerate(METRICS)},
            policy_curves={b: _band(policies[:, :, i]) for i, b in enumerate(memo.behaviours)},
            final={m: _final(metrics[:, -1, i]) for i, m in enumerate(METRICS)},
            final_policy={b: _final(policies[:, -1, i]) for i, b in enumerate(memo.behaviours)},
            audit=audit_final(memo, source, policies[:, -1, :], config),
        ))
    return results


# -- real episodes -----------------------------------------------------------------------------------------

def real_outcomes(config: DriftConfig, db: str | Path, *, run_id: str | None = None, reuse: bool = False,
                  on_result: Callable[[EpisodeResult], None] | None = None) -> tuple[str, list[Outcome]]:
    """Each (task, behaviour, seed) once, through the runner; `reuse` reads an earlier run's episodes instead."""
    unknown = [b for b in config.behaviours if b not in BEHAVIOURS]
    if unknown:
        raise GroundtruthError(f"unknown behaviour(s) {unknown}; known: {list(BEHAVIOURS)}")
    agents = [BEHAVIOURS[b] for b in config.behaviours]
    if reuse:
        if run_id is None:
            raise GroundtruthError("--reuse needs the run id of an earlier drift run")
    else:
        run_id = run_id or f"drift-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        run(RunConfig(tasks=config.tasks, agents=agents, episodes=config.env_seeds, seed=config.seed,
                      concurrency=config.concurrency, variants=config.variants, retries=config.retries,
                      tasks_dir=config.tasks_dir), db, run_id=run_id, on_result=on_result)
    store = Store(db)
    try:
        signals = store.signals(run_id)
    finally:
        store.close()
    by_agent = {a: b for b, a in zip(config.behaviours, agents, strict=True)}
    seeds = range(config.seed, config.seed + config.env_seeds)
    signals = [s for s in signals if s.agent in by_agent and s.seed in seeds]
    broken = [s.episode_id for s in signals if s.infra_error or s.verified is None]
    if broken:
        raise GroundtruthError(f"{len(broken)} real episode(s) ended in an infrastructure error, e.g. {broken[0]}; "
                               "the experiment needs every cell: rerun, or check `groundtruth sandbox list`")
    if not signals:
        raise GroundtruthError(f"run {run_id} in {db} has no episodes of these behaviours")
    return run_id, [outcome_of(by_agent[s.agent], s) for s in signals]


def run_drift(config: DriftConfig, db: str | Path, *, run_id: str | None = None, reuse: bool = False,
              on_result: Callable[[EpisodeResult], None] | None = None) -> DriftResult:
    for source in config.rewards:
        reward_kind(source)  # a bad reward spec fails before any container starts
    t0 = time.monotonic()
    rid, outcomes = real_outcomes(config, db, run_id=run_id, reuse=reuse, on_result=on_result)
    t1 = time.monotonic()
    memo = MemoTable(outcomes, config.behaviours)
    sources = train_all(memo, config)
    t2 = time.monotonic()
    outcomes.sort(key=lambda o: (config.behaviours.index(o.behaviour), o.signals.task, o.signals.seed))
    return DriftResult(config=config, run_id=rid, db=str(db), outcomes=outcomes, sources=sources,
                       seconds={"episodes": round(t1 - t0, 1), "training": round(t2 - t1, 1)})


# -- output ------------------------------------------------------------------------------------------------

LABELS = {"false_success": "false-success rate", "tamper": "tamper rate",
          "real_success": "real (verified) success rate"}


def source_label(source: str) -> str:
    if source in ("verified", "calibrated"):
        return f"{source} reward"
    return f"simulator p={simulator_p(source):g}"


def _colour(source: str, rewards: list[str]) -> Any:
    from matplotlib import colormaps

    if source == "verified":
        return "#1a9850"
    if source == "calibrated":
        return "#4575b4"
    sims = sorted(simulator_p(r) for r in rewards if reward_kind(r) is RewardKind.SIMULATOR)
    rank = sims.index(simulator_p(source)) / max(1, len(sims) - 1)
    return colormaps["autumn_r"](0.25 + 0.75 * rank)


def plot(result: DriftResult, paths: list[Path]) -> None:
    """Figure without pyplot: no global backend, safe in tests; a fixed hash salt and no date keep SVG stable."""
    import matplotlib
    from matplotlib.figure import Figure

    cfg = result.config
    with matplotlib.rc_context({"svg.hashsalt": "groundtruth-drift", "font.size": 9}):
        fig = Figure(figsize=(13, 4.2), layout="constrained")
        axes = fig.subplots(1, len(METRICS), sharey=True)
        x = np.arange(cfg.iterations + 1)
        for ax, metric in zip(axes, METRICS, strict=True):
            for src in result.sources:
                band = src.curves[metric]
                colour = _colour(src.reward, cfg.rewards)
                ax.plot(x, band.mean, color=colour, lw=1.6, label=source_label(src.reward))
                ax.fill_between(x, band.lo, band.hi, color=colour, alpha=0.18, lw=0)
            ax.set_title(f"{LABELS[metric]} of the learned policy")
            ax.set_xlabel("training iteration")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("share of the policy's episodes")
        axes[0].legend(loc="upper right", frameon=False)
        fig.suptitle(f"REINFORCE over {len(cfg.behaviours)} real behaviours on {', '.join(cfg.tasks)} "
                     f"(mean of {cfg.train_seeds} training seeds, 95% bootstrap band)")
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            meta: dict[str, Any] = {"Date": None} if path.suffix == ".svg" else {}
            fig.savefig(path, metadata=meta, dpi=110)


def write_outputs(result: DriftResult, out: Path) -> DriftResult:
    out.mkdir(parents=True, exist_ok=True)
    figures = [out / "drift.svg", out / "drift.png"]
    plot(result, figures)
    result = result.model_copy(update={"files": [str(p) for p in [*figures, out / "drift.json"]]})
    (out / "drift.json").write_text(json.dumps(result.model_dump(mode="json"), indent=1) + "\n")
    return result
