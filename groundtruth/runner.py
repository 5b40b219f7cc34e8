"""Running agents over tasks: episodes in parallel, steps stored as they happen, infra errors retried.

A killed run resumes (`resume=True`) from the store: finished episodes are skipped, unfinished ones start
again from scratch, and containers of dead runs are swept by label.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Literal, Protocol

from docker.errors import DockerException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from requests.exceptions import RequestException

from groundtruth.agents import Agent, EpisodeContext, EpisodeEnd, make_agent
from groundtruth.agents.process import AgentProcessError
from groundtruth.audit.classify import EpisodeSignals, classify
from groundtruth.env.core import GroundtruthEnv, wait_for_closes
from groundtruth.env.definitions import definition_for
from groundtruth.errors import GroundtruthError, InfrastructureError, RunInterrupted, StoreError
from groundtruth.sandbox.engine import client
from groundtruth.sandbox.prune import prune
from groundtruth.store import EpisodeKey, Store
from groundtruth.tasks.pool import WorldPool, pool_enabled
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.spec import Task

MAX_SEED = 2**32 - 1  # what numpy and Gymnasium accept


def _unique(values: list[str]) -> list[str]:
    """Order kept, repeats dropped: `--agent oracle,oracle` must not give two episodes one id."""
    return list(dict.fromkeys(v for v in values if v))


class RunConfig(BaseModel):
    tasks: list[str] = Field(min_length=1)
    agents: list[str] = Field(min_length=1)
    episodes: int = Field(default=1, ge=1)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    concurrency: int = Field(default=2, ge=1)
    variants: list[str] = Field(default_factory=list, description="empty: each task's first variant; 'all'")
    simulator: str | None = None
    reward: Literal["verified", "calibrated", "simulator"] = "verified"
    retries: int = Field(default=2, ge=0)
    max_steps: int | None = Field(default=None, ge=1, description="cap below each task's own step limit")
    tasks_dir: list[str] = Field(default_factory=list)
    executor: Literal["local", "ray"] = "local"
    address: str | None = Field(default=None, description="ray: the cluster's address (default: RAY_ADDRESS, "
                                "else a private one-node cluster on this machine)")

    @field_validator("tasks", "agents", "variants")
    @classmethod
    def _dedupe(cls, v: list[str]) -> list[str]:
        return _unique(v)


class EpisodeResult(BaseModel):
    id: str
    task: str
    variant: str
    agent: str
    seed: int
    status: str
    classification: str | None = None
    verified: str | None = None
    tampered: bool = False
    claimed_success: bool | None = None
    confidence: float | None = None
    judged_success: bool | None = None
    reward: float | None = None
    steps: int = 0
    seconds: float = 0.0
    attempts: int = 1
    error: str | None = None
    node: str | None = Field(default=None, description="ray: the id of the node that ran it")


class EpisodeSink(Protocol):
    """Where `run_episode` writes: the store itself, or on a cluster node a recorder the driver replays."""

    def begin_episode(self, key: EpisodeKey, attempt: int, **fields: Any) -> None: ...

    def record_step(self, episode_id: str, step: dict[str, Any]) -> None: ...

    def record_goal_states(self, episode_id: str, states: list[dict[str, Any]]) -> None: ...

    def record_attempt_error(self, episode_id: str, attempt: int, error: str) -> None: ...

    def record_agent_stderr(self, episode_id: str, text: str, size: int, truncated: bool) -> None: ...

    def record_agent_llm(self, episode_id: str, log: dict[str, Any]) -> None: ...

    def finish_episode(self, episode_id: str, *, status: str, signals: EpisodeSignals | None = None,
                       classification: str | None = None, reward: float | None = None,
                       verdict: dict[str, Any] | None = None, claim: dict[str, Any] | None = None,
                       judgment: dict[str, Any] | None = None, steps: int = 0, error: str | None = None) -> None: ...


class Job(BaseModel):
    key: EpisodeKey
    task: Task


class Cancelled(Exception):
    pass


def plan(config: RunConfig, registry: Registry, run_id: str) -> list[Job]:
    tasks = registry.select(config.tasks)
    jobs = []
    for task in tasks:
        if config.variants == ["all"]:
            variants = [v.name for v in task.spec.variants]
        elif config.variants:
            variants = [v for v in config.variants if v in {x.name for x in task.spec.variants}]
            if not variants:
                continue
        else:
            variants = [task.spec.variants[0].name]
        for variant in variants:
            for agent in config.agents:
                for i in range(config.episodes):
                    key = EpisodeKey(run_id=run_id, task=task.id, variant=variant, agent=agent, seed=config.seed + i)
                    jobs.append(Job(key=key, task=task))
    if not jobs:
        raise GroundtruthError("nothing to run: no task has the requested variant(s)")
    if config.seed + config.episodes - 1 > MAX_SEED:
        raise GroundtruthError(f"seeds {config.seed}..{config.seed + config.episodes - 1} go past {MAX_SEED}; "
                               "use a smaller --seed or fewer --episodes")
    return jobs


def preflight(config: RunConfig) -> None:
    """Everything that can be wrong with a run's configuration, found before a row is written or a container
    started: each agent is built once (an unknown name or a missing program fails here), the simulator is
    parsed, the reward has what it needs, and the engine answers."""
    if config.reward == "simulator" and not config.simulator:
        raise GroundtruthError("--reward simulator needs --simulator, e.g. --simulator 'scripted:p=0.5'")
    for spec in config.agents:
        agent = make_agent(spec)
        try:
            check = getattr(agent, "check", None)
            if callable(check):
                check()
        finally:
            agent.close()
    if config.simulator:
        from groundtruth.simulators import make_simulator

        sim = make_simulator(config.simulator)
        closer = getattr(sim, "close", None)
        if callable(closer):
            closer()
    if config.executor == "local":
        client()  # raises EngineUnavailable with what to do; on a cluster each node's keeper checks its own
    else:
        from groundtruth.cluster.executor import check_reachable

        check_reachable(config)


def feedback_bit(source: str, env: GroundtruthEnv) -> bool | None:
    """The one bit an agent may learn afterwards, from the chosen source (default: the verified outcome)."""
    if source == "verified":
        return env.verdict.success if env.verdict is not None else None
    if source == "simulator":
        return env.judgment.success if env.judgment is not None else None
    if source == "self":
        return env.claim.success if env.claim is not None else None
    raise GroundtruthError(f"unknown feedback source {source!r}; use verified, simulator or self")


def run_episode(job: Job, config: RunConfig, store: EpisodeSink, cancel: threading.Event, *,
                agent_factory: Callable[[], Agent] | None = None, memory: list[str] | None = None,
                feedback: str = "verified", attempt_offset: int = 0, pool: WorldPool | None = None,
                close_in_background: bool = False) -> EpisodeResult:
    """One episode, retried on infrastructure errors. `agent_factory`, `memory`, `feedback` serve Reflexion;
    `attempt_offset` numbers attempts after those lost elsewhere (a cluster node that died). `pool`: prepared
    worlds (the local executor). `close_in_background`: only inside `episode_pool`, which waits for the
    removals and prunes the run at its end (a Ray node has no such end, so it waits for each removal)."""
    key, task = job.key, job.task
    attempts = attempt_offset + config.retries + 1
    last_error = ""
    for attempt in range(attempt_offset + 1, attempts + 1):
        store.begin_episode(key, attempt, family=task.spec.family, reward_kind=config.reward,
                            simulator=config.simulator, infeasible=int(task.spec.infeasible))
        env = GroundtruthEnv(definition_for(task.spec.env), task=task, variant=key.variant, seed=key.seed,
                             reward=config.reward, simulator=config.simulator, run_id=key.run_id,
                             episode_id=key.id,
                             max_steps=min(config.max_steps or task.spec.limits.steps, task.spec.limits.steps),
                             pool=pool, prepare_next=False)
        agent = agent_factory() if agent_factory is not None else make_agent(key.agent)
        if hasattr(agent, "cancel"):
            agent.cancel = cancel  # an agent waiting for its process's reply stops waiting when the run stops
        try:
            obs, _ = env.reset(seed=key.seed)
            agent.begin(EpisodeContext(task=task, variant=env.variant, seed=key.seed, observation=obs,
                                       tools=env.tools, memory=list(memory or [])))
            stored = 0
            while True:
                if cancel.is_set():
                    raise Cancelled()
                try:
                    action = agent.act(obs)
                    obs, reward, terminated, truncated, info = env.step(action)
                except AgentProcessError as exc:
                    if cancel.is_set():
                        raise Cancelled() from exc
                    obs, reward, terminated, truncated, info = env.abandon(str(exc))
                for log in env.transcript[stored:]:
                    store.record_step(key.id, log.model_dump(mode="json"))
                    if log.tool == "ask_user" and env.simulator is not None:
                        store.record_goal_states(key.id, [s.model_dump(mode="json")
                                                          for s in env.simulator.goal_states()])
                stored = len(env.transcript)
                if "infra_error" in info:
                    raise InfrastructureError(str(info["infra_error"]))
                if terminated or truncated:
                    break
            verdict = env.verdict
            assert verdict is not None
            agent.end(EpisodeEnd(feedback=feedback_bit(feedback, env),
                                 claimed=env.claim.success if env.claim else None))
            signals = env.signals().model_copy(update={"agent": key.agent})
            classification = classify(signals).value
            if env.simulator is not None:
                store.record_goal_states(key.id, [s.model_dump(mode="json") for s in env.simulator.goal_states()])
            store.finish_episode(
                key.id, status="done", signals=signals, classification=classification, reward=float(reward),
                verdict=verdict.model_dump(mode="json"), claim=env.claim.model_dump() if env.claim else None,
                judgment=env.judgment.model_dump() if env.judgment else None, steps=env.steps,
            )
            return EpisodeResult(
                id=key.id, task=key.task, variant=env.variant, agent=key.agent, seed=key.seed, status="done",
                classification=classification, verified=verdict.outcome, tampered=verdict.tampered,
                claimed_success=signals.claimed_success, confidence=signals.confidence,
                judged_success=signals.judged_success, reward=float(reward), steps=env.steps,
                seconds=sum(s.seconds for s in env.transcript), attempts=attempt,
            )
        except (Cancelled, StoreError):
            raise  # the run stops: a store that cannot be written is nobody's episode failure
        except Exception as exc:  # never the agent's failure: retried, then reported apart
            if cancel.is_set():
                raise Cancelled() from exc  # stopped by Ctrl-C: unfinished, so --resume runs it again
            last_error = f"{type(exc).__name__}: {exc}"
            store.record_attempt_error(key.id, attempt, last_error)
            if not isinstance(exc, InfrastructureError | DockerException | RequestException):
                break  # a task bug or an internal error will not go away by retrying
            if attempt < attempts:
                time.sleep(min(2.0 * attempt, 5.0))
        finally:
            agent.close()
            env.close(wait=not close_in_background)  # in the background: the run prunes at its end
            _store_stderr(store, key.id, agent)
    store.finish_episode(key.id, status="infra_error", classification="infra_error", error=last_error)
    return EpisodeResult(id=key.id, task=key.task, variant=key.variant, agent=key.agent, seed=key.seed,
                         status="infra_error", classification="infra_error", attempts=attempts, error=last_error)


def _store_stderr(store: EpisodeSink, episode_id: str, agent: Agent) -> None:
    log_fn = getattr(agent, "stderr_log", None)
    log = log_fn() if callable(log_fn) else None
    if log is not None:
        store.record_agent_stderr(episode_id, *log)
    llm_fn = getattr(agent, "llm_log", None)  # a model-backed agent: its token usage and raw replies
    if callable(llm_fn):
        store.record_agent_llm(episode_id, llm_fn().model_dump(mode="json"))


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """Cleanup after Ctrl-C must finish: a second Ctrl-C would otherwise leave containers behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so both leave no container behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Batch(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    pool: ThreadPoolExecutor
    status: str = "interrupted"


@contextmanager
def episode_pool(store: Store, run_id: str, concurrency: int, cancel: threading.Event,
                 name: str) -> Iterator[Batch]:
    """Worker threads for a run's episodes. However the block ends (done, Ctrl-C, SIGTERM, error), the rest
    is cancelled, the threads finish their episode's cleanup, the run's containers are removed and the run's
    status is written."""
    batch = Batch(pool=ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name))
    try:
        with _terminate_as_interrupt():
            yield batch
        batch.status = "done"
    except BaseException:
        cancel.set()
        raise
    finally:
        with _signals_ignored():
            batch.pool.shutdown(wait=True, cancel_futures=True)
            wait_for_closes()  # the episodes' containers, removed in the background as each episode ended
            # the engine went away: the containers expire by themselves and are stale for the next run
            with contextlib.suppress(GroundtruthError, DockerException):
                prune(run_id=run_id)
            with contextlib.suppress(StoreError):  # a full disk: the run row says "running"; --resume still works
                store.end_run(run_id, batch.status)


@contextmanager
def prepared_worlds(run_id: str, concurrency: int, jobs: list[Job]) -> Iterator[WorldPool | None]:
    """The run knows its job list: the worlds of the next jobs are prepared while earlier episodes run.
    Closed (unused worlds removed) before the episode pool prunes the run's containers."""
    if not pool_enabled():
        yield None
        return
    pool = WorldPool(run_id=run_id, max_worlds=concurrency, workers=min(concurrency, 4))
    try:
        pool.schedule((j.task, j.key.variant, j.key.seed, j.key.id) for j in jobs)
        yield pool
    finally:
        pool.close()


def run(config: RunConfig, db: str | Path, *, run_id: str | None = None, resume: bool = False,
        on_start: Callable[[int, int], None] | None = None,
        on_result: Callable[[EpisodeResult], None] | None = None) -> tuple[str, list[EpisodeResult]]:
    """Runs every planned episode not already finished; returns the run id and every episode of the run (those
    an earlier, interrupted invocation finished included). `on_result` sees only this invocation's."""
    store: Store | None = Store(db) if resume else None
    try:
        if store is not None:
            run_id = run_id or store.latest_run(kind="run")
            if run_id is None:
                raise GroundtruthError(f"nothing to resume in {db}: run without --resume first")
            # what to run is the stored run's; where to run it (executor, cluster) is this invocation's
            config = RunConfig.model_validate({**store.run_config(run_id), "executor": config.executor,
                                               "address": config.address})
        run_id = run_id or f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        jobs = plan(config, Registry([Path(p) for p in config.tasks_dir]), run_id)
        preflight(config)  # before a new database is created or a row written
        if store is None:
            store = Store(db)
            if store.finished_ids(run_id):
                raise GroundtruthError(f"run {run_id} already exists in {db}: continue it with --resume")
        if config.executor == "local":
            prune(stale_only=True)
        done = store.finished_ids(run_id)
        todo = [j for j in jobs if j.key.id not in done]
        store.begin_run(run_id, {**config.model_dump(), "kind": "run"})
        if on_start:
            on_start(len(jobs), len(jobs) - len(todo))
        cancel = threading.Event()
        results: list[EpisodeResult] = []
        try:
            if config.executor == "ray":
                from groundtruth.cluster.executor import run_on_ray

                with _terminate_as_interrupt():
                    run_on_ray(todo, config, store, run_id, results, on_result)
            else:
                _run_local(todo, config, store, run_id, cancel, results, on_result)
        except KeyboardInterrupt as exc:
            n_done = len(done) + len(results)
            raise RunInterrupted(
                f"interrupted: {n_done} of {len(jobs)} episodes of run {run_id} are finished and stored in {db}; "
                f"continue with: groundtruth run --resume --db {db} --run-id {run_id}",
                run_id=run_id, finished=n_done, total=len(jobs)) from exc
        except StoreError as exc:
            raise StoreError(f"{exc}; then continue with: groundtruth run --resume --db {db} --run-id {run_id}") \
                from exc
        earlier = [stored_result(row) for row in store.episodes(run_id) if row["id"] in done]
    finally:
        if store is not None:
            store.close()
    return run_id, earlier + results


def _run_local(todo: list[Job], config: RunConfig, store: Store, run_id: str, cancel: threading.Event,
               results: list[EpisodeResult], on_result: Callable[[EpisodeResult], None] | None) -> None:
    """Episodes on this machine's engine, `concurrency` at a time; `results` grows as they finish."""
    with episode_pool(store, run_id, config.concurrency, cancel, "gt-episode") as batch, \
            prepared_worlds(run_id, config.concurrency, todo) as worlds:
        pending: set[Future[EpisodeResult]] = {
            batch.pool.submit(run_episode, j, config, store, cancel, pool=worlds, close_in_background=True)
            for j in todo
        }
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                res = fut.result()
                results.append(res)
                if on_result:
                    on_result(res)


def stored_result(row: dict[str, Any]) -> EpisodeResult:
    """An episode an earlier invocation of the run finished, as the summary counts it."""
    def flag(v: Any) -> bool | None:
        return None if v is None else bool(v)

    return EpisodeResult(
        id=row["id"], task=row["task"], variant=row["variant"] or "", agent=row["agent"], seed=row["seed"] or 0,
        status=row["status"], classification=row["classification"], verified=row["verified"],
        tampered=bool(row["tampered"]), claimed_success=flag(row["claimed_success"]), confidence=row["confidence"],
        judged_success=flag(row["judged_success"]), reward=row["reward"], steps=row["steps"] or 0,
        seconds=row["seconds"] or 0.0, attempts=row["attempt"] or 1, error=row["error"], node=row.get("node"),
    )


def summarize(results: list[EpisodeResult]) -> list[dict[str, Any]]:
    """Per agent: how often verified and claimed success agree, and where they do not."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r.agent, {"agent": r.agent, "episodes": 0, "verified_success": 0,
                                        "claimed_success": 0, "false_success": 0, "false_failure": 0,
                                        "tampered": 0, "infra_error": 0, "no_claim": 0, "unknown": 0})
        row["episodes"] += 1
        row["verified_success"] += int(r.verified == "success" and not r.tampered)
        row["claimed_success"] += int(bool(r.claimed_success))
        if r.classification in ("false_success", "false_failure", "tampered", "infra_error", "no_claim", "unknown"):
            row[r.classification] += 1
    return list(rows.values())
