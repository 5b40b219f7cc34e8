"""Shared-engine hygiene on the real engine: a run's cleanup and `sandbox prune` never touch another live run's
containers, snapshot images or volumes. (`prune --all --yes` is never run here: the engine is shared.)"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid

import pytest

from groundtruth.errors import InfrastructureError
from groundtruth.sandbox import DockerSandbox, SandboxSpec
from groundtruth.sandbox.engine import LABEL_OWNER, client
from groundtruth.sandbox.prune import plan, prune
from tests.faults import leftovers

pytestmark = pytest.mark.docker


def _exists(cid: str) -> bool:
    return bool(client().api.containers(all=True, filters={"id": cid}))


def _image_exists(image: str) -> bool:
    return any(i["Id"] == image for i in client().api.images(filters={"label": "groundtruth.kind=snapshot"}))


def test_a_runs_cleanup_removes_only_its_own_containers_snapshots_and_volumes(sandbox_image: str) -> None:
    mine, theirs = f"prune-mine-{uuid.uuid4().hex[:6]}", f"prune-theirs-{uuid.uuid4().hex[:6]}"
    a = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=mine))
    b = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=theirs))
    try:
        a.write_file("/workspace/a.txt", "a")
        b.write_file("/workspace/b.txt", "b")
        snap_a, snap_b = a.snapshot(), b.snapshot()
        assert leftovers(mine) == {"containers": 1, "volumes": 2, "images": 1}
        report = prune(run_id=mine)
        assert report.containers == [a.container_id[:12]]
        assert len(report.images) == 1 and snap_a.removeprefix("sha256:").startswith(report.images[0])
        assert leftovers(mine) == {"containers": 0, "volumes": 0, "images": 0}
        # the other run is untouched and can still go back to its snapshot
        assert _exists(b.container_id) and _image_exists(snap_b)
        assert leftovers(theirs) == {"containers": 1, "volumes": 2, "images": 1}
        b.reset(snap_b)
        assert b.read_text("/workspace/b.txt") == "b"
        with pytest.raises(InfrastructureError, match=r"snapshot image .* is no longer in the Docker engine"):
            a_again = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=mine))
            try:
                a_again.reset(snap_a)
            finally:
                a_again.close()
    finally:
        a.close()
        b.close()
    assert leftovers(mine) == {"containers": 0, "volumes": 0, "images": 0}
    assert leftovers(theirs) == {"containers": 0, "volumes": 0, "images": 0}


def test_sandbox_prune_defaults_to_stale_ones_and_all_needs_confirmation(sandbox_image: str) -> None:
    run = f"prune-cli-{uuid.uuid4().hex[:6]}"
    live = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=run))
    orphan = DockerSandbox.create(  # owned by a pid that cannot exist on this host: a crashed runner
        SandboxSpec(image=sandbox_image, run_id=run, labels={LABEL_OWNER: f"{socket.gethostname()}:999999999"}))
    try:
        orphan_snap = orphan.snapshot()
        res = subprocess.run([sys.executable, "-m", "groundtruth", "sandbox", "prune", "--json"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        removed = json.loads(res.stdout)
        assert orphan.container_id[:12] in removed["containers"]
        assert live.container_id[:12] not in removed["containers"]  # a live run's, never removed by default
        assert not _image_exists(orphan_snap)
        assert _exists(live.container_id) and not _exists(orphan.container_id)
        # --all says how many it would remove and, without a terminal, refuses unless --yes
        total = len(plan(everything=True).containers)
        res = subprocess.run([sys.executable, "-m", "groundtruth", "sandbox", "prune", "--all"], capture_output=True,
                             text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert "--all will remove" in res.stderr and "containers (" in res.stderr and "add --yes" in res.stderr
        assert total >= 1
        assert _exists(live.container_id)
        # --run removes that run's, live or not
        res = subprocess.run([sys.executable, "-m", "groundtruth", "sandbox", "prune", "--run", run, "--json"],
                             capture_output=True, text=True, timeout=120)
        assert json.loads(res.stdout)["containers"] == [live.container_id[:12]]
    finally:
        live.close()
        orphan.close()
    assert leftovers(run) == {"containers": 0, "volumes": 0, "images": 0}
