"""Gymnasium's vector API over real containers: defaults (shared memory, next-step autoreset), junk actions.

A trainer batches whatever its policy produced. Every value below, however malformed (bad JSON, NaN, bytes that
are not UTF-8, lone surrogates, NUL bytes, lambdas, objects that refuse to be pickled or printed), must come
back as an error observation in that env's slot; the workers stay alive and the next real command still runs.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import groundtruth.env  # noqa: F401 - registers groundtruth/<Name>-v0
from groundtruth.env.core import OBS_SPACE_CHARS

from .conftest import RUN_ID

pytestmark = pytest.mark.docker

TOOLS = ["bash", "read_file", "write_file", "submit", "ask_user", "nope", None, 3]
ANY_CHAR = st.characters(codec=None, exclude_categories=())


class _Hostile:
    """Breaks every way a value can be inspected: repr, pickling, equality, attribute access."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __reduce__(self) -> Any:
        raise RuntimeError("no pickle")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    __hash__ = object.__hash__

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")


def _nested(depth: int) -> Any:
    v: Any = "x"
    for _ in range(depth):
        v = {"k": v}
    return v


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=ANY_CHAR, max_size=30), st.binary(max_size=30),
)
OBJECTS = st.sampled_from([lambda: 1, object(), _Hostile(), _nested(200), float("nan"), b"\xff\xfe", "\x00",
                           '{"tool": "bash", "cmd": "ls"', "```json\n{}\n```", ["tool", "bash"]])
JUNK_VALUES = st.one_of(SCALARS, OBJECTS, st.lists(SCALARS, max_size=3),
                        st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))
# shaped like actions, with junk in the fields; bash commands are short text, so they end quickly
SHAPED = st.fixed_dictionaries(
    {"tool": st.sampled_from(TOOLS)},
    optional={"cmd": st.one_of(st.text(alphabet=ANY_CHAR, max_size=12), JUNK_VALUES),
              "timeout": JUNK_VALUES, "path": JUNK_VALUES, "content": JUNK_VALUES,
              "success": JUNK_VALUES, "confidence": JUNK_VALUES, "objectives": JUNK_VALUES},
)
JUNK = st.one_of(JUNK_VALUES, SHAPED)


def _probe(i: int) -> dict[str, Any]:
    return {"tool": "bash", "cmd": f"echo probe-{i}"}


def _drive(venv: gym.vector.VectorEnv, n_envs: int, junk: list[Any], submit_every: int) -> dict[str, int]:
    """Steps through `junk`, one probe per env every third step; checks every result. Returns counts."""
    counts = {"steps": 0, "ended": 0, "resets_seen": 0, "probes_ok": 0}
    obs, _ = venv.reset(seed=0)
    assert len(obs) == n_envs and all(o.startswith("Task:") for o in obs)
    ended = [False] * n_envs
    for t, j in enumerate(junk):
        if t % 3 == 2:
            actions = [_probe(t * 10 + e) for e in range(n_envs)]
        elif t % submit_every == submit_every - 1:
            actions = [{"tool": "submit", "success": False, "confidence": 0.1}] * n_envs
        else:
            actions = [j if e % 2 == 0 else junk[(t + e) % len(junk)] for e in range(n_envs)]
        obs, rewards, term, trunc, info = venv.step(actions)
        counts["steps"] += n_envs
        assert isinstance(obs, tuple) and len(obs) == n_envs
        for e in range(n_envs):
            assert isinstance(obs[e], str) and len(obs[e]) <= OBS_SPACE_CHARS
            assert math.isfinite(float(rewards[e])) and float(rewards[e]) in (0.0, 1.0)
            if ended[e]:  # next-step autoreset: this step only reset the env and ignored its action
                assert obs[e].startswith("Task:"), obs[e][:200]
                counts["resets_seen"] += 1
            elif t % 3 == 2:
                assert f"probe-{t * 10 + e}" in obs[e], obs[e][:300]
                counts["probes_ok"] += 1
            ended[e] = bool(term[e] or trunc[e])
            counts["ended"] += int(ended[e])
        assert "infra_error" not in info, info.get("infra_error")
    return counts


@pytest.mark.parametrize("mode,n_envs", [("async", 3), ("sync", 2)])
def test_vector_env_survives_junk_actions(mode: str, n_envs: int) -> None:
    venv = gym.make_vec("groundtruth/Shell-v0", num_envs=n_envs, vectorization_mode=mode,
                        task="leaked-token", run_id=RUN_ID, max_steps=40)
    total = {"steps": 0, "ended": 0, "resets_seen": 0, "probes_ok": 0}

    @settings(max_examples=3, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(junk=st.lists(JUNK, min_size=40, max_size=40))
    def run(junk: list[Any]) -> None:
        for k, v in _drive(venv, n_envs, junk, submit_every=17).items():
            total[k] += v

    try:
        run()
        if mode == "async":
            assert all(p.is_alive() for p in venv.unwrapped.processes)  # type: ignore[attr-defined]
            assert venv.unwrapped.shared_memory  # type: ignore[attr-defined]
    finally:
        venv.close()
    assert total["steps"] >= 3 * 40 * n_envs
    assert total["ended"] >= n_envs and total["resets_seen"] >= n_envs, total
    assert total["probes_ok"] >= 3 * 13 * n_envs - total["resets_seen"], total
