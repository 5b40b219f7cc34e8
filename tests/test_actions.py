"""The action contract under any input: strict types, one-line errors, and nothing but ActionError escapes."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundtruth.env.actions import (
    MAX_DEPTH,
    ActionError,
    Bash,
    Submit,
    check_objectives,
    loggable,
    parse_action,
)
from groundtruth.sandbox.base import MAX_COMMAND_BYTES

TOOLS = ["bash", "read_file", "write_file", "ask_user", "submit"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
field_values = json_values | st.sampled_from([math.nan, math.inf, -0.0, 10**30, "0.9", "yes", "true", 1, 0])
tool_names = st.sampled_from([*TOOLS, "Bash", "", "rm", "submit ", None, 1, True])
action_dicts = st.fixed_dictionaries(
    {"tool": tool_names},
    optional={k: field_values for k in ("cmd", "path", "content", "message", "success", "confidence", "summary",
                                        "objectives", "timeout", "extra")},
)


class Weird:
    """A trainer's object at its worst: every dunder a parser might touch raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    __hash__ = None  # type: ignore[assignment]


class BrokenMapping(dict[str, Any]):
    def get(self, *a: Any, **k: Any) -> Any:
        raise RuntimeError("broken get")


def _one_line_or_parsed(raw: Any) -> None:
    try:
        parsed = parse_action(raw, TOOLS)
    except ActionError as exc:
        text = str(exc)
        assert text and "\n" not in text and "Traceback" not in text
        return
    assert parsed.tool in TOOLS


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_value_parses_or_is_explained(value: Any) -> None:
    _one_line_or_parsed(value)
    _one_line_or_parsed(json.dumps(value))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(action_dicts)
def test_any_action_shaped_dict_parses_or_is_explained(action: dict[str, Any]) -> None:
    _one_line_or_parsed(action)
    loggable(action)  # the transcript can always keep it
    json.dumps(loggable(action))


@given(st.binary(max_size=64) | st.text(max_size=64) | st.from_type(type).flatmap(st.from_type))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_python_object_parses_or_is_explained(obj: Any) -> None:
    _one_line_or_parsed(obj)
    loggable(obj)


@pytest.mark.parametrize("obj", [
    12345, None, ["tool", "bash"], ("tool",), {"tool"}, b"\xff\xfe", bytearray(b'{"tool": "bash", "cmd": "ls"}'),
    Weird(), {"tool": Weird()}, {"tool": "bash", "cmd": Weird()}, BrokenMapping(tool="bash"), object(),
    {("tuple", "key"): 1}, {1: "int key"}, OrderedDict(tool="nope"), float("nan"), "[" * 100_000, '{"a":' * 5000,
    {"tool": "submit", "success": True, "confidence": 0.5, "objectives": {1: True}}, memoryview(b"{}"),
])
def test_objects_a_trainer_could_pass_never_raise_anything_else(obj: Any) -> None:
    _one_line_or_parsed(obj)
    assert loggable(obj) is not None


def test_bytes_and_mappings_that_hold_valid_actions_are_accepted() -> None:
    assert isinstance(parse_action(b'{"tool": "bash", "cmd": "ls"}', TOOLS), Bash)
    assert isinstance(parse_action(OrderedDict(tool="bash", cmd="ls"), TOOLS), Bash)


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("success", "yes", "success: Input should be a valid boolean (got 'yes')"),
    ("success", 1, "success: Input should be a valid boolean (got 1)"),
    ("success", "true", "success: Input should be a valid boolean"),
    ("confidence", "0.9", "confidence must be a number, not str '0.9'"),
    ("confidence", True, "confidence must be a number, not bool"),
    ("confidence", math.nan, "confidence is NaN"),
    ("confidence", math.inf, "confidence is infinite"),
    ("confidence", 1.5, "confidence must be from 0 to 1"),
    ("summary", 7, "summary: Input should be a valid string"),
    ("objectives", {"x": "yes"}, "objectives.x: Input should be a valid boolean"),
    ("objectives", ["x"], "objectives: Input should be a valid dictionary"),
])
def test_claims_are_never_coerced(field: str, value: Any, fragment: str) -> None:
    action = {"tool": "submit", "success": True, "confidence": 0.5, field: value}
    with pytest.raises(ActionError) as info:
        parse_action(action, TOOLS)
    assert fragment in str(info.value)


def test_nan_has_its_own_message_even_from_json_text() -> None:
    with pytest.raises(ActionError, match="confidence is NaN"):
        parse_action('{"tool": "submit", "success": true, "confidence": NaN}', TOOLS)


def test_a_valid_claim_keeps_its_exact_values() -> None:
    sub = parse_action({"tool": "submit", "success": False, "confidence": 1, "summary": "s",
                        "objectives": {"a": True}, "note": "extra fields are allowed"}, TOOLS)
    assert isinstance(sub, Submit)
    assert sub.success is False and sub.confidence == 1.0 and isinstance(sub.confidence, float)
    assert sub.objectives == {"a": True}


def test_unknown_objective_ids_are_reported_with_the_known_ones() -> None:
    check_objectives({"a": True}, ["a", "b"])
    with pytest.raises(ActionError, match=r"unknown objective id\(s\) 'c'; this task's objectives are: a, b"):
        check_objectives({"a": True, "c": False}, ["a", "b"])


def test_an_oversized_command_is_refused_with_what_to_do() -> None:
    with pytest.raises(ActionError, match="write a script with write_file"):
        parse_action({"tool": "bash", "cmd": "x" * (MAX_COMMAND_BYTES + 1)}, TOOLS)
    assert isinstance(parse_action({"tool": "bash", "cmd": "x" * MAX_COMMAND_BYTES}, TOOLS), Bash)


def test_bash_timeout_must_be_a_positive_finite_number() -> None:
    for bad in (0, -1, math.nan, "5", True):
        with pytest.raises(ActionError, match="timeout"):
            parse_action({"tool": "bash", "cmd": "ls", "timeout": bad}, TOOLS)
    assert parse_action({"tool": "bash", "cmd": "ls", "timeout": 5}, TOOLS).timeout == 5.0  # type: ignore[union-attr]


def test_deep_nesting_is_refused_not_recursed() -> None:
    deep: dict[str, Any] = {"tool": "bash", "cmd": "ls"}
    node = deep
    for _ in range(MAX_DEPTH + 5):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ActionError, match="nested"):
        parse_action(deep, TOOLS)
    circular: dict[str, Any] = {"tool": "bash", "cmd": "ls"}
    circular["self"] = circular
    with pytest.raises(ActionError, match="nested"):
        parse_action(circular, TOOLS)
    assert isinstance(loggable(circular), str)


@pytest.mark.docker
def test_a_real_env_survives_any_action_then_still_verifies() -> None:
    """Junk of every kind into one live episode: each is an error observation, and the episode still ends
    with a verified claim."""
    import gymnasium as gym

    import groundtruth.env  # noqa: F401 - registers the envs

    env = gym.make("groundtruth/Shell-v0", task="leaked-token", max_steps=100_000).unwrapped
    try:
        env.reset(seed=0)
        seen: list[str] = []

        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        @given(json_values | action_dicts.filter(lambda a: a.get("tool") in (None, 1, True, "", "Bash", "rm"))
               | st.sampled_from([12345, None, ["tool", "bash"], Weird(), b"\xff", {"tool": "submit",
                                  "success": "yes", "confidence": 0.9}, {"tool": "submit", "success": True,
                                  "confidence": math.nan}, {"tool": "submit", "success": True,
                                  "confidence": 0.9, "objectives": {"no-such-objective": True}}]))
        def junk(action: Any) -> None:
            obs, reward, terminated, truncated, info = env.step(action)
            assert obs.startswith("error: ") and "\n" not in obs.split(". Send one JSON object")[0]
            assert not terminated and not truncated and reward == 0.0 and "infra_error" not in info
            seen.append(obs)

        junk()
        assert env.claim is None  # no junk became a claim
        _, reward, terminated, _, info = env.step({"tool": "submit", "success": True, "confidence": 0.9})
        assert terminated and info["classification"] == "false_success" and reward == 0.0
        assert len(env.transcript) == len(seen) + 1
        json.dumps([s.model_dump(mode="json") for s in env.transcript])  # the transcript stays storable
    finally:
        env.close()
