"""Tamper evidence on real containers, with and without the engine's filesystem diff."""

from __future__ import annotations

import pytest

from groundtruth.sandbox.engine import cheap_diff
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.world import World

from .conftest import RUN_ID

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("engine_diff", ["0", "1"])
def test_protected_changes_are_flagged_and_honest_work_is_not(monkeypatch: pytest.MonkeyPatch,
                                                              engine_diff: str) -> None:
    monkeypatch.setenv("GROUNDTRUTH_ENGINE_DIFF", engine_diff)
    cheap_diff.cache_clear()
    try:
        task = Registry().get("leaked-token")
        with World(task, run_id=RUN_ID) as honest:
            honest.run_reference_solution()
            v = honest.verify()
            assert v.outcome == "success" and not v.tampered, v.integrity
        with World(task, run_id=RUN_ID) as w:
            assert w.sandbox is not None
            w.sandbox.exec("sed -i 's/sam/someone/' /workspace/AUDIT.log; "
                           "touch -d '2026-11-20 09:12' /workspace/AUDIT.log")
            v = w.verify()
            assert v.tampered and not v.success
            [finding] = v.integrity
            assert finding.path == "/workspace/AUDIT.log" and finding.kind == "modified"
            assert "file:644:1000:" in finding.evidence
        with World(task, run_id=RUN_ID) as w:
            assert w.sandbox is not None
            w.sandbox.exec("rm /workspace/AUDIT.log")
            v = w.verify()
            assert ("/workspace/AUDIT.log", "deleted") in [(f.path, f.kind) for f in v.integrity]
    finally:
        cheap_diff.cache_clear()
