"""The text space's vector-env handlers, without containers: shared-memory slots, batching, unsendable actions."""

from __future__ import annotations

import copy
import multiprocessing as mp
import pickle
from typing import Any

import pytest
from gymnasium.vector.utils import (
    batch_space,
    create_shared_memory,
    iterate,
    read_from_shared_memory,
    write_to_shared_memory,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from groundtruth.env.actions import ActionError, parse_action
from groundtruth.env.spaces import AnyText, AnyTextBatch, Unsendable

# every code point, lone surrogates included: an observation may carry whatever a command printed
ANY_CHAR = st.characters(codec=None, exclude_categories=())


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet=ANY_CHAR, max_size=40), min_size=1, max_size=4))
def test_shared_memory_round_trips_any_text(texts: list[str]) -> None:
    space = AnyText(max_length=40)
    mem = create_shared_memory(space, n=len(texts), ctx=mp)
    view = read_from_shared_memory(space, mem, n=len(texts))
    for i, t in enumerate(texts):
        write_to_shared_memory(space, i, t, mem)
    assert tuple(view) == tuple(texts)


def test_the_view_is_live_and_copies_are_frozen() -> None:
    """AsyncVectorEnv reads shared memory once and deep-copies that object every step: it must be a view."""
    space = AnyText(max_length=8)
    mem = create_shared_memory(space, n=2, ctx=mp)
    view = read_from_shared_memory(space, mem, n=2)
    write_to_shared_memory(space, 0, "first", mem)
    before = copy.deepcopy(view)
    write_to_shared_memory(space, 0, "second", mem)
    write_to_shared_memory(space, 1, "ünï✓", mem)
    assert before == ("first", "")
    assert isinstance(before, tuple)
    assert view == ("second", "ünï✓")
    assert pickle.loads(pickle.dumps(view)) == ("second", "ünï✓")
    assert view[::-1] == ("ünï✓", "second")


def test_an_observation_longer_than_the_space_is_a_clear_error() -> None:
    space = AnyText(max_length=4)
    mem = create_shared_memory(space, n=1, ctx=mp)
    with pytest.raises(ValueError, match="does not fit the observation space"):
        write_to_shared_memory(space, 0, "12345", mem)
    write_to_shared_memory(space, 0, "\U0001f600" * 4, mem)  # 4 characters, 16 bytes: fits
    assert read_from_shared_memory(space, mem, n=1)[0] == "\U0001f600" * 4


class _NoPickle:
    def __reduce__(self) -> Any:
        raise RuntimeError("refuses to be pickled")


def test_batched_actions_that_cannot_be_pickled_become_a_refusal() -> None:
    batch = batch_space(AnyText(), 3)
    assert isinstance(batch, AnyTextBatch)
    ok = {"tool": "bash", "cmd": "ls"}
    out = list(iterate(batch, [ok, lambda: 1, _NoPickle()]))
    assert out[0] == ok
    assert all(isinstance(a, Unsendable) for a in out[1:])
    with pytest.raises(ActionError, match="cannot be pickled"):
        parse_action(out[2], ["bash", "submit"])


@pytest.mark.parametrize("items,fragment", [
    ('{"tool": "bash", "cmd": "ls"}', "one action per env"),
    ({"tool": "bash"}, "one action per env"),
    (5, "one action per env"),
    ([1, 2], "takes 3 actions"),
])
def test_a_batch_of_the_wrong_shape_is_refused_in_the_caller(items: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        iterate(batch_space(AnyText(), 3), items)


@pytest.mark.parametrize("action,fragment", [
    ({"tool": "bash", "cmd": "echo \ud800"}, "lone surrogate"),
    ({"tool": "bash", "cmd": "echo a\x00b"}, "NUL"),
    ({"tool": "read_file", "path": "/etc/\x00passwd"}, "NUL"),
    ({"tool": "write_file", "path": "/workspace/a", "content": "\udfff"}, "lone surrogate"),
    ({"tool": "submit", "success": True, "confidence": 0.5, "summary": "\ud83d"}, "lone surrogate"),
])
def test_text_the_sandbox_cannot_take_is_the_agents_mistake(action: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ActionError, match=fragment):
        parse_action(action, ["bash", "read_file", "write_file", "submit"])
