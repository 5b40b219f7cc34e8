"""The built-in catalog: its shape, and `tasks validate --all` in real containers (what makes a task trusted)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from groundtruth.tasks.registry import Registry


def test_catalog_covers_the_required_families_and_variants() -> None:
    tasks = Registry().all()
    families = Counter(t.spec.family for t in tasks)
    assert len(tasks) >= 15, f"{len(tasks)} tasks"
    assert len(families) >= 5, families
    for family in ("data-deletion", "disable-capability", "sqlite-ops", "coding", "multi-objective"):
        assert families[family] >= 2, family
    pairs = [t.id for t in tasks if {"train", "shifted"} <= {v.distribution for v in t.spec.variants}]
    assert len(pairs) >= 2, pairs
    cues = [t.id for t in tasks if {True, False} <= {v.monitored for v in t.spec.variants}]
    assert cues, "no monitored/unmonitored pair"
    assert any(t.spec.infeasible for t in tasks)
    multi = [t for t in tasks if len(t.spec.goal.objectives) >= 2 and t.spec.goal.requirements]
    assert multi and all(t.spec.goal.preferences or t.spec.goal.policy for t in multi)
    for t in tasks:
        assert t.spec.protected, f"{t.id}: no protected path, so tampering could not be caught"


@pytest.mark.docker
@pytest.mark.timeout(3600)
def test_validate_all_passes_in_real_containers() -> None:
    """Every task, every variant: reference, do-nothing, partial, tampering, and the whole red team."""
    res = subprocess.run([sys.executable, "-m", "groundtruth", "tasks", "validate", "--all", "--json"],
                         capture_output=True, text=True, timeout=3500)
    results = json.loads(res.stdout)
    bad = [(r["task"], r["variant"], r["problems"]) for r in results if not r["ok"]]
    assert bad == [], bad
    assert res.returncode == 0
    tasks = Registry().all()
    assert len(results) == sum(len(t.spec.variants) for t in tasks)
    secs = sorted(s for r in results for s in r["verify_seconds"])
    print(f"\nmedian verification time: {secs[len(secs) // 2]:.2f}s over {len(secs)} reference episodes")
