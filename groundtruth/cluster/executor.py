"""The Ray executor: a run's episodes as Ray tasks on the nodes that advertise a Docker engine.

Everything a scheduler would do is Ray's: a node's `docker_engine` resource is its concurrency limit (no
engine is oversubscribed), `SPREAD` places episodes across nodes, and `max_retries` re-runs an episode whose
worker or node died on another node. The driver keeps the store: each finished episode comes back (via
`ray.wait`) with its recorded writes, which are replayed as they arrive, so an attempt lost with its node
never reaches the store and a retried episode is stored exactly once. One keeper actor per node, pinned to
it, checks the node's engine and sweeps the run's objects there when the run ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from groundtruth import __version__
from groundtruth.cluster.node import NodeInfo, NodeKeeper, NodeOutcome, run_on_node
from groundtruth.cluster.recorder import replay
from groundtruth.errors import GroundtruthError, StoreError
from groundtruth.runner import EpisodeResult, Job, RunConfig, _signals_ignored
from groundtruth.store import Store

RESOURCE = "docker_engine"
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2
CANCEL_GRACE_SECONDS = 30.0
SWEEP_TIMEOUT_SECONDS = 120.0


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError as exc:
        raise GroundtruthError("the ray executor needs Ray: pip install 'groundtruth[ray]'") from exc
    module: ModuleType = ray
    return module


def _probe(address: str) -> None:
    """A wrong address fails here in seconds with one line, instead of inside Ray's connection retries."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://").rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise GroundtruthError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001)")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as exc:
        raise GroundtruthError(f"no Ray cluster answers at {address} ({exc.strerror or exc}): start its head "
                               f"with `ray start --head --resources='{{\"{RESOURCE}\": 4}}'` or fix --address") \
            from exc


def check_reachable(config: RunConfig) -> None:
    """Ray importable and the cluster's address answering: checked before the store is touched."""
    import_ray()
    address = config.address or os.environ.get("RAY_ADDRESS")
    if address:
        _probe(address)


@contextmanager
def connected(config: RunConfig) -> Iterator[ModuleType]:
    """Ray, connected: to `config.address`, else RAY_ADDRESS, else a private one-node cluster on this machine
    whose `docker_engine` is `config.concurrency` (stopped afterwards). A driver that already called
    `ray.init` (a trainer) keeps its connection."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = config.address or os.environ.get("RAY_ADDRESS")
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        _probe(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            if "auth" in f"{exc} {exc.__cause__}".lower():
                raise GroundtruthError(f"the Ray cluster at {address} wants its token: set RAY_AUTH_MODE=token and "
                                       "RAY_AUTH_TOKEN (or ~/.ray/auth_token) as on its nodes") from exc
            raise GroundtruthError(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}") from exc
    else:
        ray.init(resources={RESOURCE: config.concurrency}, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                 include_dashboard=False, **quiet)
    try:
        yield ray
    finally:
        ray.shutdown()


def engine_nodes(ray: ModuleType) -> list[str]:
    """Alive nodes that advertise a Docker engine."""
    return [str(n["NodeID"]) for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(RESOURCE, 0) >= 1]


def start_keepers(ray: ModuleType, run_id: str) -> dict[str, Any]:
    """One keeper per engine node, pinned there; fails with one line when a node cannot serve the run."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = engine_nodes(ray)
    if not nodes:
        raise GroundtruthError(f"no node of the Ray cluster advertises a {RESOURCE} resource: start each node "
                               f"that has a Docker engine with `ray start ... --resources='{{\"{RESOURCE}\": N}}'` "
                               "(N = episodes it runs at once)")
    keeper = ray.remote(NodeKeeper)
    keepers = {nid: keeper.options(num_cpus=0, max_restarts=0, name=f"gt-keeper-{run_id}-{nid}",
                                   scheduling_strategy=NodeAffinitySchedulingStrategy(nid, soft=False)).remote(run_id)
               for nid in nodes}
    infos: list[NodeInfo] = ray.get([k.check.remote() for k in keepers.values()], timeout=300)
    problems = [f"node {i.host} ({i.node_id[:12]}): {i.engine_error}" for i in infos if i.engine_error]
    problems += [f"node {i.host} ({i.node_id[:12]}) runs groundtruth {i.version}, this driver {__version__}: install "
                 "the same version on every node" for i in infos if i.version != __version__]
    if problems:
        raise GroundtruthError("; ".join(problems))
    return keepers


def _failed(store: Store, job: Job, config: RunConfig, error: str) -> EpisodeResult:
    """An episode Ray could not finish (its last attempt lost too, or the node could not run it)."""
    key, attempts = job.key, config.retries + 1
    store.begin_episode(key, attempts, family=job.task.spec.family, reward_kind=config.reward,
                        simulator=config.simulator, infeasible=int(job.task.spec.infeasible))
    store.record_attempt_error(key.id, attempts, error)
    store.finish_episode(key.id, status="infra_error", classification="infra_error", error=error)
    return EpisodeResult(id=key.id, task=key.task, variant=key.variant, agent=key.agent, seed=key.seed,
                         status="infra_error", classification="infra_error", attempts=attempts, error=error)


def collect(ray: ModuleType, ref: Any, job: Job, config: RunConfig, store: Store) -> EpisodeResult:
    """A finished Ray task into the store: its writes replayed, or one infrastructure error if it failed."""
    try:
        out: NodeOutcome = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # raised on the node before or outside the episode
        cause = getattr(exc, "cause", None) or exc
        return _failed(store, job, config, f"{type(cause).__name__}: {cause}".splitlines()[0])
    except ray.exceptions.RayError as exc:
        return _failed(store, job, config, f"InfrastructureError: lost with its Ray worker or node "
                                           f"{config.retries + 1} times ({type(exc).__name__})")
    replay(out.writes, store, node=out.node_id)
    return out.result


def run_on_ray(todo: list[Job], config: RunConfig, store: Store, run_id: str, results: list[EpisodeResult],
               on_result: Callable[[EpisodeResult], None] | None) -> None:
    """Runs `todo` on the cluster; `results` grows as episodes finish. However it ends, unfinished episodes
    are cancelled (each cleans up its container), every node sweeps the run's objects and the run's status is
    written."""
    status = "interrupted"
    with connected(config) as ray:
        keepers: dict[str, Any] = {}
        refs: dict[Any, Job] = {}
        try:
            keepers = start_keepers(ray, run_id)
            episode = ray.remote(run_on_node).options(num_cpus=0, resources={RESOURCE: 1}, max_retries=config.retries,
                                                      retry_exceptions=False, scheduling_strategy="SPREAD")
            shared = ray.put(config)
            refs = {episode.remote(job, shared): job for job in todo}
            while refs:
                # whatever finished within half a second, in one call (one wait per result would be O(n^2))
                ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0.5)
                for ref in ready:
                    res = collect(ray, ref, refs.pop(ref), config, store)
                    results.append(res)
                    if on_result:
                        on_result(res)
            status = "done"
        except BaseException:
            with _signals_ignored():
                for ref in refs:
                    ray.cancel(ref)  # KeyboardInterrupt in the worker: the episode closes its sandbox
                if refs:
                    ray.wait(list(refs), num_returns=len(refs), timeout=CANCEL_GRACE_SECONDS)
            raise
        finally:
            with _signals_ignored():
                sweep(ray, keepers)
                with contextlib.suppress(StoreError):
                    store.end_run(run_id, status)


def sweep(ray: ModuleType, keepers: dict[str, Any]) -> int:
    """Every live node removes the run's objects from its engine; a dead node's expire by their TTL (or the
    next run's stale sweep there). How many containers were removed."""
    pending = [k.sweep.remote() for k in keepers.values()]
    if not pending:
        return 0
    ready, _ = ray.wait(pending, num_returns=len(pending), timeout=SWEEP_TIMEOUT_SECONDS)
    removed = 0
    for ref in ready:
        with contextlib.suppress(ray.exceptions.RayError):
            removed += int(ray.get(ref))
    for k in keepers.values():
        with contextlib.suppress(ray.exceptions.RayError):
            ray.kill(k)
    return removed
