"""Shared fixtures: real images on the real engine, and a leak check over the whole test session."""

from __future__ import annotations

import os
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


def engine_only(sb: object) -> object:
    """The same container, read through the engine only (no host view of files or processes)."""
    from groundtruth.sandbox import DockerSandbox

    assert isinstance(sb, DockerSandbox)
    twin = DockerSandbox(sb.spec, sb.container_id)
    twin._view, twin._procs, twin._view_known = None, None, True
    return twin


@pytest.fixture(scope="session")
def endpoint() -> str:
    """The local OpenAI-compatible server: required in CI, optional (skipped with a note) elsewhere."""
    url = os.environ.get("GROUNDTRUTH_LLM_BASE_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide the local model server: .ci/run starts it with .ci/llm-server.sh")
        pytest.skip("no local model server: run `eval \"$(bash .ci/llm-server.sh start)\"` to enable")
    return url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No container of this test session may outlive it; a leak fails the run."""
    try:
        from groundtruth.sandbox.engine import LABEL_OWNER, LABEL_RUN, client, owner_tag

        api = client().api
        leaked = {c["Id"]: c for c in api.containers(all=True, filters={"label": f"{LABEL_RUN}={RUN_ID}"})}
        # every container this pytest process created, whatever run id the runner gave it
        leaked.update({c["Id"]: c for c in api.containers(all=True, filters={"label": f"{LABEL_OWNER}={owner_tag()}"})})
    except Exception:
        return
    if leaked:
        for cid in leaked:
            api.remove_container(cid, force=True)
        print(f"\nLEAK: {len(leaked)} containers created by this test session were left behind")
        session.exitstatus = 1
