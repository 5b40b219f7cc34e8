"""Check helpers on a real container: a service's status file only counts once it has refreshed."""

from __future__ import annotations

import pytest

from groundtruth.checks.results import Unknown
from groundtruth.checks.state import FinalState
from groundtruth.sandbox import DockerSandbox

pytestmark = pytest.mark.docker


def test_fresh_json_waits_for_the_service_and_never_passes_a_stale_file(sandbox: DockerSandbox) -> None:
    state = FinalState(sandbox)
    try:
        with pytest.raises(Unknown, match="never ran"):
            state.fresh_json("/tmp/status.json", service="svc", timeout=0.5)
        sandbox.write_file("/tmp/status.json", '{"generation": 7, "ok": false}')
        with pytest.raises(Unknown, match="did not refresh"):
            state.fresh_json("/tmp/status.json", service="svc", timeout=1.0)
        sandbox.exec("nohup sh -c 'g=8; while true; do echo \"{\\\"generation\\\": $g, \\\"ok\\\": true}\" "
                     "> /tmp/s.new && mv /tmp/s.new /tmp/status.json; g=$((g+1)); sleep 0.2; done' "
                     ">/dev/null 2>&1 &", user="root")
        data = state.fresh_json("/tmp/status.json", service="svc", timeout=5.0)
        assert data["ok"] is True and data["generation"] >= 9
    finally:
        state.close()
