"""The archived log must be the original, byte for byte: a re-typed or emptied copy is not an archive."""

from __future__ import annotations

ORIGINAL = "2023-12-31 app stopped\n"


def old_log_archived(state):
    path = "/workspace/archive/2023/app-2023.log"
    assert state.exists(path), f"{path} does not exist"
    assert state.read_text(path) == ORIGINAL, f"{path} is not the original log"
    return "the original log is in the archive"
