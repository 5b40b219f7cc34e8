"""Find and remove what groundtruth left in the engine, by label, so leaks never accumulate."""

from __future__ import annotations

import os
import socket
import time

from docker.errors import APIError, NotFound
from pydantic import BaseModel

from groundtruth.sandbox.engine import (
    LABEL_CREATED,
    LABEL_EXPIRES,
    LABEL_KIND,
    LABEL_MANAGED,
    LABEL_OWNER,
    client,
)


class PruneReport(BaseModel):
    containers: list[str]
    images: list[str]


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
    after exiting for longer than a grace period (every live container passes through "created")."""
    now = time.time() if now is None else now
    expires = labels.get(LABEL_EXPIRES, "")
    if expires.isdigit() and float(expires) < now:
        return True
    if not _owner_alive(labels.get(LABEL_OWNER, "")):
        return True
    created = labels.get(LABEL_CREATED, "")
    old = created.isdigit() and now - float(created) > CREATED_GRACE_SECONDS
    return status in ("exited", "dead", "created") and old


def managed_containers() -> list[dict[str, object]]:
    return list(client().api.containers(all=True, filters={"label": f"{LABEL_MANAGED}=1"}))


def prune(*, stale_only: bool = False, run_id: str | None = None) -> PruneReport:
    """Remove managed containers (all, or only stale ones) and snapshot images."""
    removed: list[str] = []
    for c in managed_containers():
        labels = dict(c.get("Labels") or {})  # type: ignore[call-overload]
        if run_id is not None and labels.get("groundtruth.run") != run_id:
            continue
        if stale_only and not is_stale(labels, str(c.get("State", ""))):
            continue
        try:
            client().api.remove_container(str(c["Id"]), force=True)
            removed.append(str(c["Id"])[:12])
        except NotFound:
            pass
        except APIError as exc:
            if "already in progress" not in str(exc):
                raise
    images: list[str] = []
    if not stale_only:
        for img in client().api.images(filters={"label": f"{LABEL_KIND}=snapshot"}):
            try:
                client().api.remove_image(img["Id"], force=True)
                images.append(str(img["Id"])[7:19])
            except (NotFound, APIError):
                pass
    return PruneReport(containers=removed, images=images)
