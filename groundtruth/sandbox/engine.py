"""One shared Docker client per process, and the labels that make every container findable."""

from __future__ import annotations

import os
import socket
import threading
import time
from functools import lru_cache

import docker
from docker.errors import DockerException

from groundtruth.errors import EngineUnavailable

LABEL_MANAGED = "groundtruth.managed"
LABEL_RUN = "groundtruth.run"
LABEL_EPISODE = "groundtruth.episode"
LABEL_CREATED = "groundtruth.created"
LABEL_EXPIRES = "groundtruth.expires"
LABEL_OWNER = "groundtruth.owner"
LABEL_KIND = "groundtruth.kind"

_lock = threading.Lock()
_clients: dict[int, docker.DockerClient] = {}


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def _client() -> docker.DockerClient:
    pid = os.getpid()
    if pid in _clients:
        return _clients[pid]
    try:
        client = docker.from_env(timeout=120, max_pool_size=64)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailable(
            f"Docker engine not reachable at {engine_address()}: start dockerd or set DOCKER_HOST ({exc})"
        ) from exc
    _clients[pid] = client
    return client


def client() -> docker.DockerClient:
    """The process-wide client; the first call pings the engine so failures surface early and clearly.
    A forked child (gymnasium's AsyncVectorEnv workers, multiprocessing) gets its own: its parent's pooled
    connections must never carry two processes' requests at once (seen as `400 Bad Request` and
    `RemoteDisconnected` on container create)."""
    with _lock:
        return _client()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # it may have been held by another thread at the fork
    _clients.clear()  # the parent's connections stay the parent's (never closed or used here)


os.register_at_fork(after_in_child=_after_fork_in_child)


def owner_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def base_labels(run_id: str, episode_id: str, ttl_seconds: int, kind: str = "sandbox") -> dict[str, str]:
    now = time.time()
    return {
        LABEL_MANAGED: "1",
        LABEL_RUN: run_id,
        LABEL_EPISODE: episode_id,
        LABEL_CREATED: f"{now:.0f}",
        LABEL_EXPIRES: f"{now + ttl_seconds:.0f}",
        LABEL_OWNER: owner_tag(),
        LABEL_KIND: kind,
    }


@lru_cache(maxsize=1)
def cheap_diff() -> bool:
    """Whether the engine's filesystem diff is cheap here. overlay2 with native diff answers from the upper
    layer; fuse-overlayfs and naive diff walk the whole image (2-3 s per call measured on this project's
    machines). `GROUNDTRUTH_ENGINE_DIFF=1|0` overrides."""
    forced = os.environ.get("GROUNDTRUTH_ENGINE_DIFF")
    if forced in ("0", "1"):
        return forced == "1"
    info = client().info()
    status = {str(k): str(v) for k, v in info.get("DriverStatus") or []}
    return info.get("Driver") == "overlay2" and status.get("Native Overlay Diff", "").lower() == "true"
