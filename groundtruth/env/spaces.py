"""A Space of arbitrary text, and what Gymnasium's vector envs need to batch and share it.

Gymnasium's `Text` rejects spaces and punctuation by default, so the envs use `AnyText`. The vector API
dispatches by space type (functools.singledispatch), so `AnyText` registers its own handlers here, at import:

- shared memory (AsyncVectorEnv's default `shared_memory=True`): one fixed-capacity byte slot per env, a
  4-byte length prefix then UTF-8. A slot holds `4 * max_length` bytes, so every string the space contains
  fits whatever its characters; a longer one raises a `ValueError` naming the limit. Our envs clip their
  observations to `max_length` and flag it in `info`, so they never reach that error.
- batching: the batched space is `AnyTextBatch` (a `Tuple`), whose `iterate` hands each env its own action and
  swaps an action that cannot be pickled (a lambda, an open file) for an `Unsendable` marker. Without that the
  parent's pipe write fails mid-batch; with it the env answers the way it answers any bad action.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import string
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, overload

import numpy as np
from gymnasium.spaces import Space, Tuple
from gymnasium.vector.utils import (
    batch_space,
    create_shared_memory,
    iterate,
    read_from_shared_memory,
    write_to_shared_memory,
)
from pydantic import BaseModel

_ALPHABET = string.printable
_PREFIX = 4
_BYTES_PER_CHAR = 4  # the UTF-8 worst case (lone surrogates, kept with surrogatepass, take 3)


class AnyText(Space[str]):
    def __init__(self, max_length: int = 1_000_000, seed: int | np.random.Generator | None = None) -> None:
        self.max_length = max_length
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    @property
    def slot_bytes(self) -> int:
        """Bytes one env's observation takes in a vector env's shared memory."""
        return _PREFIX + _BYTES_PER_CHAR * self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        n = int(self.np_random.integers(1, 64))
        idx = self.np_random.integers(0, len(_ALPHABET), size=n)
        return "".join(_ALPHABET[i] for i in idx)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyText) and other.max_length == self.max_length

    def __hash__(self) -> int:
        return hash(("AnyText", self.max_length))


class Unsendable(BaseModel):
    """Stands in for an action that could not be pickled to a vector env's worker; the env refuses it."""

    kind: str
    reason: str


class AnyTextBatch(Tuple[Any]):
    """`batch_space(AnyText, n)`: a Tuple whose `iterate` checks the batch and makes every action sendable."""


def sendable(action: Any) -> Any:
    try:
        pickle.dumps(action)
    except Exception as exc:  # any object: pickling can fail in arbitrary ways
        return Unsendable(kind=type(action).__name__, reason=f"{type(exc).__name__}: {str(exc)[:200]}")
    return action


@batch_space.register(AnyText)
def _batch(space: AnyText, n: int = 1) -> AnyTextBatch:
    return AnyTextBatch(tuple(AnyText(space.max_length) for _ in range(n)))


@iterate.register(AnyTextBatch)
def _iterate(space: AnyTextBatch, items: Any) -> Iterator[Any]:  # type: ignore[misc]
    n = len(space.spaces)
    if isinstance(items, str | bytes | dict) or not hasattr(items, "__len__"):
        raise ValueError(f"a vector env step takes one action per env: a list or tuple of {n} actions, "
                         f"not {type(items).__name__}")
    if len(items) != n:
        raise ValueError(f"a vector env step takes {n} actions (one per env), got {len(items)}")
    return iter([sendable(a) for a in items])


@create_shared_memory.register(AnyText)
def _create(space: AnyText, n: int = 1, ctx: ModuleType = mp) -> Any:
    return ctx.Array("B", n * space.slot_bytes)


class SharedTexts(Sequence[str]):
    """A live view of the envs' observation slots. AsyncVectorEnv reads shared memory once, at construction,
    and relies on the result being a view (numpy arrays are), then hands out `deepcopy` of it every step; so
    this decodes on access and deep-copies (and pickles) to a plain tuple of str. Gymnasium's own `Text`
    handler returns a tuple read once, which never changes afterwards."""

    def __init__(self, space: AnyText, shared_memory: Any, n: int) -> None:
        self._rows = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8).reshape((n, space.slot_bytes))

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(len(self))[index])
        row = self._rows[index]
        size = int.from_bytes(row[:_PREFIX].tobytes(), "little")
        text: str = row[_PREFIX:_PREFIX + size].tobytes().decode("utf-8", errors="surrogatepass")
        return text

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"SharedTexts({tuple(self)!r})"


@read_from_shared_memory.register(AnyText)
def _read(space: AnyText, shared_memory: Any, n: int = 1) -> SharedTexts:
    return SharedTexts(space, shared_memory, n)


@write_to_shared_memory.register(AnyText)
def _write(space: AnyText, index: int, value: Any, shared_memory: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"an AnyText observation must be str, not {type(value).__name__}")
    if len(value) > space.max_length:
        raise ValueError(f"an observation of {len(value)} characters does not fit the observation space "
                         f"(max_length={space.max_length}); clip it in the env")
    data = value.encode("utf-8", errors="surrogatepass")
    per_env = space.slot_bytes
    row = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8)[index * per_env:(index + 1) * per_env]
    row[:_PREFIX] = np.frombuffer(len(data).to_bytes(_PREFIX, "little"), dtype=np.uint8)
    row[_PREFIX:_PREFIX + len(data)] = np.frombuffer(data, dtype=np.uint8)
