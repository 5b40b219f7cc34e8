"""Shared fixtures: real images on the real engine, and a leak check over the whole test session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

RUN_ID = f"pytest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    from groundtruth import images

    images.build_all()
    return images.tag_for("sandbox")


@pytest.fixture()
def sandbox(sandbox_image: str) -> Iterator[object]:
    from groundtruth.sandbox import DockerSandbox, SandboxSpec

    sb = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=RUN_ID, episode_id="fixture"))
    try:
        yield sb
    finally:
        sb.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No container of this test session may outlive it; a leak fails the run."""
    try:
        from groundtruth.sandbox.engine import LABEL_RUN, client
        from groundtruth.sandbox.prune import prune

        leaked = client().api.containers(all=True, filters={"label": f"{LABEL_RUN}={RUN_ID}"})
    except Exception:
        return
    if leaked:
        prune(run_id=RUN_ID)
        print(f"\nLEAK: {len(leaked)} containers of test run {RUN_ID} were left behind")
        session.exitstatus = 1
