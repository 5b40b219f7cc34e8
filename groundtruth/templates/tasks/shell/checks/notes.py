"""Python checks get a read-only FinalState (`groundtruth tasks api` lists its methods). Fail with `assert`;
raise groundtruth.checks.results.Unknown when the state cannot tell; a returned string is the pass reason."""

from __future__ import annotations

KEPT = ("meeting at 10", "buy milk")


def other_lines_kept(state):
    copies = ["/workspace/notes.txt"]
    if state.exists("/workspace/backup"):
        copies += [f"/workspace/backup/{name}" for name in state.listdir("/workspace/backup")]
    for path in copies:
        assert state.exists(path), f"{path} was deleted"
        lines = state.read_text(path).splitlines()
        missing = [line for line in KEPT if line not in lines]
        assert not missing, f"{path} lost {missing}"
    return f"{len(copies)} files keep every other line"
