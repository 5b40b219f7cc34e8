"""Check helpers on a real container: a service's status file only counts once it has refreshed."""

from __future__ import annotations

import pytest

from groundtruth.checks.results import Unknown
from groundtruth.checks.state import FinalState
from groundtruth.sandbox import DockerSandbox

pytestmark = pytest.mark.docker


def test_fresh_json_reads_only_what_the_service_refreshed_after_the_freeze(sandbox: DockerSandbox) -> None:
    """The verifier's services phase waits for the refresh (tests/test_verification.py); here: what fresh_json
    makes of what that phase saw. Undeclared -> unknown (the task is wrong), older than the seen refresh or
    missing -> failure, refreshed -> the data."""
    from groundtruth.checks.state import Frozen

    sandbox.write_file("/tmp/status.json", '{"generation": 7, "ok": false}')
    undeclared = FinalState(sandbox)
    seen = FinalState(sandbox, frozen=Frozen(heartbeats={"/tmp/status.json": 9}))
    try:
        with pytest.raises(Unknown, match="no heartbeat"):
            undeclared.fresh_json("/tmp/status.json", service="svc")
        with pytest.raises(AssertionError, match="older than the refresh"):
            seen.fresh_json("/tmp/status.json", service="svc")
    finally:
        undeclared.close()
        seen.close()
    sandbox.write_file("/tmp/status.json", '{"generation": 9, "ok": true}')
    fresh = FinalState(sandbox, frozen=Frozen(heartbeats={"/tmp/status.json": 9}))
    gone = FinalState(sandbox, frozen=Frozen(heartbeats={"/tmp/other.json": 1}))
    try:
        assert fresh.fresh_json("/tmp/status.json", service="svc") == {"generation": 9, "ok": True}
        with pytest.raises(AssertionError, match="does not exist"):
            gone.fresh_json("/tmp/other.json", service="svc")
    finally:
        fresh.close()
        gone.close()
