"""What runs on a cluster node: one episode per Ray task, and one long-lived keeper actor per node.

Imported by Ray workers by reference (never pickled by value), so every node needs the same groundtruth
installed; `NodeKeeper.check` compares versions before the first episode is sent.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from pydantic import BaseModel

from groundtruth import __version__
from groundtruth.cluster.recorder import EpisodeRecorder, Write
from groundtruth.errors import GroundtruthError
from groundtruth.runner import EpisodeResult, Job, RunConfig, run_episode
from groundtruth.sandbox.engine import client
from groundtruth.sandbox.prune import prune
from groundtruth.tasks.registry import Registry

LOST_ATTEMPT = "InfrastructureError: the Ray worker or node running this attempt was lost; retried elsewhere"


class NodeInfo(BaseModel):
    node_id: str
    host: str
    version: str
    engine_error: str | None = None


class NodeOutcome(BaseModel):
    """An episode's result plus every store write it made, for the driver to replay."""

    result: EpisodeResult
    writes: list[Write]
    node_id: str
    host: str


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def _attempt_number() -> int:
    """How many earlier attempts of this Ray task were lost. Ray retries only system failures here (a dead
    worker or node): every exception of an episode is caught inside `run_episode`. Ray exposes the number on
    its core worker only; a Ray without it counts 0 (lost attempts then go unrecorded, never double)."""
    import ray

    core = getattr(ray._private.worker.global_worker, "core_worker", None)
    getter = getattr(core, "get_current_task_attempt_number", None)
    try:
        return int(getter()) if callable(getter) else 0
    except Exception:
        return 0


def local_job(job: Job, config: RunConfig) -> Job:
    """The job with its task folder as found on this node. Task folders are absolute paths on the driver; a
    node with the package installed elsewhere finds the same task by id, and refuses one whose spec differs."""
    if job.task.folder.is_dir():
        return job
    found = Registry([Path(p) for p in config.tasks_dir]).select([job.task.id])
    if not found or found[0].spec != job.task.spec:
        raise GroundtruthError(f"task {job.task.id} is missing or different on node {socket.gethostname()}: "
                               "install the same groundtruth version and --tasks-dir folders on every node")
    return Job(key=job.key, task=found[0])


def run_on_node(job: Job, config: RunConfig) -> NodeOutcome:
    """One episode, as a Ray task. Earlier attempts Ray lost with their worker or node are recorded as
    infrastructure errors, and this one is numbered after them."""
    lost = _attempt_number()
    recorder = EpisodeRecorder()
    for attempt in range(1, lost + 1):
        recorder.record_attempt_error(job.key.id, attempt, LOST_ATTEMPT)
    result = run_episode(local_job(job, config), config, recorder, threading.Event(), attempt_offset=lost)
    node = _node_id()
    return NodeOutcome(result=result.model_copy(update={"node": node}), writes=recorder.writes, node_id=node,
                       host=socket.gethostname())


class NodeKeeper:
    """One per node and run, pinned to its node: owns the node's checks and its cleanup sweep (only the run's
    own objects, or stale ones). A per-node pool of prepared worlds would live here too."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def check(self) -> NodeInfo:
        """The node can run episodes: its engine answers; leftovers of dead runs are swept first."""
        info = NodeInfo(node_id=_node_id(), host=socket.gethostname(), version=__version__)
        try:
            client()
            prune(stale_only=True)
        except GroundtruthError as exc:
            info.engine_error = str(exc)
        return info

    def sweep(self) -> int:
        """Removes the run's containers, snapshots and volumes on this node's engine; how many containers."""
        return len(prune(run_id=self.run_id).containers)
