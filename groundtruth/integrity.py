"""Tamper evidence: fingerprints of protected paths taken after setup, compared after the agent is frozen."""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile

from groundtruth.checks.baseline import Baseline
from groundtruth.checks.results import IntegrityFinding
from groundtruth.sandbox.docker import DockerSandbox
from groundtruth.sandbox.engine import cheap_diff

__all__ = ["Baseline", "findings", "fingerprint", "take_baseline"]


def fingerprint(sb: DockerSandbox, paths: list[str]) -> dict[str, str]:
    """path -> type, mode, owner and content hash of every entry under the protected paths."""
    out: dict[str, str] = {}
    for root in paths:
        if not sb.stat(root).exists:
            out[root] = "missing"
            continue
        parent = posixpath.dirname(root.rstrip("/")) or "/"
        with tarfile.open(fileobj=io.BytesIO(sb.read_tree(root))) as tar:
            for m in tar:
                full = posixpath.normpath(posixpath.join(parent, m.name))
                if m.isfile():
                    fh = tar.extractfile(m)
                    digest = hashlib.sha256(fh.read() if fh else b"").hexdigest()
                    out[full] = f"file:{m.mode & 0o7777:o}:{m.uid}:{digest}"
                elif m.issym() or m.islnk():
                    out[full] = f"link:{m.linkname}"
                else:
                    out[full] = f"{'dir' if m.isdir() else 'other'}:{m.mode & 0o7777:o}:{m.uid}"
    return out


def take_baseline(sb: DockerSandbox, protected: list[str]) -> Baseline:
    """Only fingerprints: what setup wrote under protected paths is in them, so no engine diff is needed yet."""
    return Baseline(fingerprints=fingerprint(sb, protected))


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r.rstrip("/") or path.startswith(r.rstrip("/") + "/") for r in roots)


def findings(sb: DockerSandbox, protected: list[str], baseline: Baseline) -> list[IntegrityFinding]:
    if not protected:
        return []
    now = fingerprint(sb, protected)
    out: list[IntegrityFinding] = []
    for path in sorted(set(now) | set(baseline.fingerprints)):
        before, after = baseline.fingerprints.get(path), now.get(path)
        if before == after:
            continue
        if before is None or before == "missing":
            out.append(IntegrityFinding(path=path, kind="added", evidence=f"appeared: {after}"))
        elif after is None or after == "missing":
            out.append(IntegrityFinding(path=path, kind="deleted", evidence=f"was {before}"))
        else:
            out.append(IntegrityFinding(path=path, kind="modified", evidence=f"{before} -> {after}"))
    if not cheap_diff():
        return out  # the fingerprints above already cover every entry under the protected roots
    seen = {f.path for f in out}
    for d in sb.diff():
        # setup's own writes are in the baseline fingerprints; anything else under a protected root is new
        if _under(d.path, protected) and d.path not in baseline.fingerprints and d.path not in seen:
            kind = d.kind if d.kind in ("added", "deleted") else "modified"
            out.append(IntegrityFinding(path=d.path, kind=kind, evidence=f"engine diff: {d.kind}"))
    return out
