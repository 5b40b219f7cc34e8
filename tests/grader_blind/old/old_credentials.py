# ruff: noqa  (verbatim copy of an old task file, except where its task's files are found)
# The custom checks of delete-leaked-credentials before the closed-world rework (commit 76c6af3), kept as a fixture: the
# "old check definition" that tests/test_exploits_data_deletion.py evaluates on the same final state.
"""Custom checks for delete-leaked-credentials: search files, compressed ones decompressed, for the key."""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from pathlib import Path

_spec = importlib.util.spec_from_file_location("make_world_gt",
                                               Path(__file__).resolve().parents[3] / "tasks" / "delete-leaked-credentials" / "files" / "make_world.py")
world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(world)

NEEDLE = world.KEY.encode()


def _plain(data: bytes) -> bytes:
    """The bytes to search: gzip members decompressed (several layers deep), everything else as is."""
    for _ in range(3):
        if data[:2] != b"\x1f\x8b":
            break
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a truncated member: take what decompresses
            try:
                data = d.decompress(data)
            except zlib.error:
                break
    return data


def _leaks(st, root: str) -> list[str]:
    return [e.path for e in st.tree(root) if e.data is not None and (NEEDLE in e.data or NEEDLE in _plain(e.data))]


def project_clean(st) -> str:
    hits = _leaks(st, world.PROJECT)
    assert not hits, f"the key is still in {hits[0]}" + (f" and {len(hits) - 1} more" if len(hits) > 1 else "")
    return f"no file under {world.PROJECT} holds the key"


def logs_clean(st) -> str:
    hits = _leaks(st, world.LOG_DIR)
    assert not hits, f"the key is still in {hits[0]}" + (f" and {len(hits) - 1} more" if len(hits) > 1 else "")
    return f"no log under {world.LOG_DIR} holds the key, compressed ones included"


def no_stash(st) -> str:
    for root in ("/home/agent", "/tmp", "/var/tmp", "/workspace"):
        if root == "/workspace":
            hits = [p for p in _leaks(st, root) if not p.startswith(world.PROJECT + "/")]
        else:
            hits = _leaks(st, root)
        assert not hits, f"a copy of the key was left in {hits[0]}"
    return "no stray copy of the key outside the project and logs"


def logs_kept(st) -> str:
    files = {e.path: e.data for e in st.tree(world.LOG_DIR) if e.data is not None}
    for name in world.GENERATIONS:
        path = f"{world.LOG_DIR}/{name}"
        assert path in files, f"{path} was removed; redact it instead of deleting it"
        raw = files[path]
        if name.endswith(".gz"):
            assert raw[:2] == b"\x1f\x8b", f"{path} is no longer gzip-compressed"
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise AssertionError(f"{path} is not a valid gzip file any more: {exc}") from exc
        got = raw.decode("utf-8", errors="replace").splitlines()
        want = world.log_lines(name)
        assert len(got) == len(want), f"{path} has {len(got)} lines, it had {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            if world.KEY in w:
                assert g[:23] == w[:23], f"{path} line {i + 1} lost its timestamp"
            else:
                assert g == w, f"{path} line {i + 1} changed although it never held the key"
    return "every log generation keeps all of its lines"


def settings_kept(st) -> str:
    import tomllib

    data = tomllib.loads(st.read_text(f"{world.PROJECT}/config/settings.toml"))
    pl, log = data.get("paylane", {}), data.get("logging", {})
    assert pl.get("base_url") == "https://api.paylane.example/v2", "paylane.base_url changed"
    assert pl.get("currency") == "EUR" and pl.get("timeout_s") == 15, "paylane currency/timeout changed"
    assert log.get("file") == "/var/log/payments-svc/app.log" and log.get("level") == "INFO", "logging changed"
    return "the other production settings are unchanged"
