"""Find and remove what groundtruth left in the engine, by label, so leaks never accumulate.

The engine is shared (other users, other runs, other test sessions), so nothing here is chosen by kind
alone: a container, snapshot image or scratch volume is removed only when it carries the caller's own run
id, or when it is stale (expired, or owned by a process on this host that no longer exists). Removing
every groundtruth object on the engine is a separate, explicit call (`prune_everything`).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from docker.errors import APIError, NotFound
from pydantic import BaseModel

from groundtruth.sandbox.engine import (
    LABEL_CREATED,
    LABEL_EXPIRES,
    LABEL_KIND,
    LABEL_MANAGED,
    LABEL_OWNER,
    LABEL_RUN,
    client,
)


class PruneReport(BaseModel):
    containers: list[str]
    images: list[str]
    volumes: list[str] = []


class PrunePlan(BaseModel):
    """What a prune would remove, counted before anything is removed."""

    containers: list[str]
    images: list[str]
    volumes: list[str]
    live_containers: int = 0


def _owner_alive(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's owner: only its expiry can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


CREATED_GRACE_SECONDS = 120


def is_stale(labels: dict[str, str], status: str, now: float | None = None) -> bool:
    """Stale = expired, owned by a process on this host that no longer exists, or stuck before starting or
    after exiting for longer than a grace period (every live container passes through "created").
    Images and volumes have no state: pass status "" and only expiry and owner count."""
    now = time.time() if now is None else now
    expires = labels.get(LABEL_EXPIRES, "")
    if expires.isdigit() and float(expires) < now:
        return True
    if not _owner_alive(labels.get(LABEL_OWNER, "")):
        return True
    created = labels.get(LABEL_CREATED, "")
    old = created.isdigit() and now - float(created) > CREATED_GRACE_SECONDS
    return status in ("exited", "dead", "created") and old


def managed_containers() -> list[dict[str, Any]]:
    return list(client().api.containers(all=True, filters={"label": f"{LABEL_MANAGED}=1"}))


def _snapshot_images() -> list[dict[str, Any]]:
    return list(client().api.images(filters={"label": [f"{LABEL_MANAGED}=1", f"{LABEL_KIND}=snapshot"]}))


def _volumes() -> list[dict[str, Any]]:
    found = client().api.volumes(filters={"label": f"{LABEL_MANAGED}=1"}) or {}
    return list(found.get("Volumes") or [])


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj.get("Labels") or {})


def _selected(labels: dict[str, str], status: str, *, run_id: str | None, stale_only: bool, everything: bool) -> bool:
    if everything:
        return True
    if run_id is not None:
        return labels.get(LABEL_RUN) == run_id and (not stale_only or is_stale(labels, status))
    return is_stale(labels, status)


def plan(*, run_id: str | None = None, stale_only: bool = False, everything: bool = False) -> PrunePlan:
    """What a prune would remove: with `run_id`, that run's objects (only its stale ones with `stale_only`);
    without, every stale object; with `everything`, all of them. Also counts the live containers in it."""
    containers, live = [], 0
    for c in managed_containers():
        labels, status = _labels(c), str(c.get("State", ""))
        if _selected(labels, status, run_id=run_id, stale_only=stale_only, everything=everything):
            containers.append(str(c["Id"]))
            live += int(not is_stale(labels, status))
    images = [str(i["Id"]) for i in _snapshot_images()
              if _selected(_labels(i), "", run_id=run_id, stale_only=stale_only, everything=everything)]
    volumes = [str(v["Name"]) for v in _volumes()
               if _selected(_labels(v), "", run_id=run_id, stale_only=stale_only, everything=everything)]
    return PrunePlan(containers=containers, images=images, volumes=volumes, live_containers=live)


def execute(p: PrunePlan) -> PruneReport:
    """Containers first (their scratch volumes go with them), then snapshot images, then left-over volumes."""
    api = client().api
    removed: list[str] = []
    for cid in p.containers:
        try:
            api.remove_container(cid, force=True, v=True)
            removed.append(cid[:12])
        except NotFound:
            pass
        except APIError as exc:
            if "already in progress" not in str(exc):
                raise
    images: list[str] = []
    for image in p.images:
        try:
            api.remove_image(image, force=True)
            images.append(image.removeprefix("sha256:")[:12])
        except (NotFound, APIError):
            pass
    volumes: list[str] = []
    for name in p.volumes:
        try:
            api.remove_volume(name, force=True)
            volumes.append(name[:12])
        except NotFound:
            volumes.append(name[:12])  # removed together with its container
        except APIError:
            pass  # still in use by a container that is not ours to remove
    return PruneReport(containers=removed, images=images, volumes=volumes)


def prune(*, stale_only: bool = False, run_id: str | None = None) -> PruneReport:
    """Remove the containers, snapshot images and scratch volumes of `run_id` (live or not; only the stale
    ones with `stale_only`), or without a run id every stale one. Never another live run's."""
    return execute(plan(run_id=run_id, stale_only=stale_only))


def prune_everything() -> PruneReport:
    """Every groundtruth container, snapshot image and volume on the engine, whoever owns it."""
    return execute(plan(everything=True))
