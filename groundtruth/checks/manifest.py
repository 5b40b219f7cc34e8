"""Manifests: what every entry of a scope looked like (type, mode, owner, size, content hash).

Right after setup the verifier records one per scope; at verification the scope is read again and the two
are compared entry by entry, so that anything added, renamed, moved or changed shows up, not only the one
thing a check looked for.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import tarfile
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel

Kind = Literal["file", "dir", "symlink", "hardlink", "other"]


class Entry(BaseModel):
    path: str
    kind: Kind
    mode: int
    uid: int
    gid: int
    size: int = 0
    sha256: str = ""
    link: str = ""

    def fingerprint(self) -> str:
        """One comparable string: a change of any field is a change of the entry."""
        if self.kind in ("symlink", "hardlink"):
            return f"{self.kind}:{self.link}"
        body = f"{self.kind}:{self.mode:o}:{self.uid}:{self.gid}"
        return f"{body}:{self.size}:{self.sha256}" if self.kind == "file" else body


class TreeFile(BaseModel):
    """An entry plus its content (files only), as read from one engine archive."""

    entry: Entry
    data: bytes | None = None
    pax: dict[str, str] = {}


def _kind(m: tarfile.TarInfo) -> Kind:
    if m.isfile():
        return "file"
    if m.isdir():
        return "dir"
    if m.issym():
        return "symlink"
    if m.islnk():
        return "hardlink"
    return "other"


def read_archive(tar_bytes: bytes, root: str, *, with_data: bool = True) -> Iterator[TreeFile]:
    """The entries of an engine archive of `root`, with absolute paths."""
    parent = posixpath.dirname(root.rstrip("/")) or "/"
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for m in tar:
            full = posixpath.normpath(posixpath.join(parent, m.name))
            kind = _kind(m)
            data: bytes | None = None
            digest = ""
            if kind == "file":
                fh = tar.extractfile(m)
                raw = fh.read() if fh is not None else b""
                digest = hashlib.sha256(raw).hexdigest()
                data = raw if with_data else None
            link = m.linkname if kind in ("symlink", "hardlink") else ""
            if kind == "hardlink":
                link = posixpath.normpath(posixpath.join(parent, link))
            yield TreeFile(
                entry=Entry(path=full, kind=kind, mode=m.mode & 0o7777, uid=m.uid, gid=m.gid, size=m.size,
                            sha256=digest, link=link),
                data=data,
                pax={k: str(v) for k, v in (m.pax_headers or {}).items()},
            )


def manifest(files: Iterable[TreeFile]) -> dict[str, Entry]:
    return {f.entry.path: f.entry for f in files}


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`*` and `?` stay inside one path component, `**` crosses them; `dir/**` also matches `dir` itself."""
    out = ""
    i = 0
    p = pattern.rstrip("/") or "/"
    tail_all = p.endswith("/**")
    if tail_all:
        p = p[:-3]
    while i < len(p):
        c = p[i]
        if p.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if p.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = p.find("]", i + 1)
            if j == -1:
                out += re.escape(c)
            else:
                body = p[i + 1:j].replace("\\", "\\\\")
                out += f"[^{body[1:]}]" if body.startswith("!") else f"[{body}]"
                i = j
        else:
            out += re.escape(c)
        i += 1
    if tail_all:
        out += "(?:/.*)?"
    return re.compile(out + r"\Z")


def glob_match(path: str, pattern: str) -> bool:
    return _glob_regex(pattern).match(posixpath.normpath(path)) is not None


def under(path: str, root: str) -> bool:
    root = posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")
