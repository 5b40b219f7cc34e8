"""A forked process (gymnasium's AsyncVectorEnv workers fork) must get its own engine client: the parent's
pooled connections carrying two processes' requests at once corrupted them (`400 Bad Request` and
`RemoteDisconnected` on container create, seen in CI)."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from groundtruth.sandbox.engine import client

pytestmark = pytest.mark.docker


def _child(parent_id: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    try:
        mine = client()
        errors = 0
        for _ in range(100):
            try:
                mine.api.version()
            except Exception:
                errors += 1
        out.put((id(mine) != parent_id, errors))
    except Exception as exc:  # reported, not lost with the child
        out.put((False, repr(exc)))


def test_a_forked_child_gets_its_own_client_and_both_keep_working() -> None:
    parent = client()
    parent.api.version()  # a pooled connection exists before the fork
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    children = [ctx.Process(target=_child, args=(id(parent), out)) for _ in range(3)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                parent.api.version()
            except Exception as exc:
                errors.append(exc)

    t = threading.Thread(target=hammer)
    t.start()
    for c in children:
        c.start()
    results = [out.get(timeout=120) for _ in children]
    stop.set()
    t.join()
    for c in children:
        c.join(30)
    assert results == [(True, 0)] * 3
    assert not errors
    assert client() is parent
