"""The container's files as the host sees them: its merged overlay directory and its volumes, read with plain
system calls instead of one engine round trip (tens of milliseconds, hundreds under load) per read.

Only used where the engine's root filesystem is mounted in this process's mount namespace and readable
(rootful Docker on the same machine, overlay2 or fuse-overlayfs); everywhere else `HostView.of` returns None
and reads go through the engine's archive API as before. `GROUNDTRUTH_HOST_VIEW=0` turns it off.

What the agent controls is data, never a path on the host: every path is resolved component by component
inside the container's root, relative to directory file descriptors opened with O_NOFOLLOW, and symlinks are
followed the way the engine follows them (their targets taken as container paths, `..` clamped at the
container's root). Only regular files are ever opened (a FIFO cannot block the verifier), with O_NOFOLLOW and
O_NONBLOCK. The results keep the engine's archive format and semantics (`stat` and `read_tree` do not follow
a final symlink; hard links are named after their first path; sockets are left out), so checks, baselines and
manifests cannot tell the two apart - except that extended attributes are included (the engine's archive
keeps only `security.capability`), which only lets a check see more.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import posixpath
import stat as st
import tarfile
from collections.abc import Iterator
from typing import Any

from groundtruth.errors import FileTooLarge, InfrastructureError
from groundtruth.sandbox.base import FileStat

# Container paths the host view never answers for: kernel filesystems and mounts it does not know.
_ENGINE_ONLY = ("/proc", "/sys", "/dev")
_DRIVERS = ("overlay2", "fuse-overlayfs", "overlay")
_MAX_HOPS = 40
_MAX_DEPTH = 256  # deeper scopes are the engine's: a directory fd per level would run out
_SCOPE_BYTES = 1 << 30
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_LIST = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_host_dir(path: str) -> int:
    """A directory the engine chose on the host (a volume, a container's hosts file's folder): trusted."""
    return os.open(path, _DIR & ~os.O_NOFOLLOW)


def enabled() -> bool:
    return os.environ.get("GROUNDTRUTH_HOST_VIEW", "1") != "0"


class NotServed(Exception):
    """This path is not readable through the host view: ask the engine."""


def _parts(path: str) -> list[str]:
    return [p for p in posixpath.normpath("/" + path).split("/") if p]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class HostView:
    """Reads of one container's filesystem through the host (see the module docstring)."""

    def __init__(self, merged: str, dir_mounts: dict[str, str], file_mounts: dict[str, str]) -> None:
        self.merged = merged
        self.dir_mounts = dir_mounts
        self.file_mounts = file_mounts

    @classmethod
    def of(cls, info: dict[str, Any]) -> HostView | None:
        """The view of a container from its `docker inspect`; None when this process cannot see its files."""
        if not enabled():
            return None
        driver = info.get("GraphDriver") or {}
        merged = str((driver.get("Data") or {}).get("MergedDir") or "")
        if driver.get("Name") not in _DRIVERS or not merged:
            return None
        try:
            if not os.path.ismount(merged) or not os.access(merged, os.R_OK | os.X_OK):
                return None  # the engine mounts it in another namespace (a VM, a snap, rootless)
        except OSError:
            return None
        dirs: dict[str, str] = {}
        files: dict[str, str] = {}
        for m in info.get("Mounts") or []:
            dest, src = posixpath.normpath(str(m.get("Destination", ""))), str(m.get("Source", ""))
            if not src or not os.path.exists(src):
                return None
            (dirs if os.path.isdir(src) else files)[dest] = src
        for key, dest in (("HostsPath", "/etc/hosts"), ("HostnamePath", "/etc/hostname"),
                          ("ResolvConfPath", "/etc/resolv.conf")):
            if info.get(key):
                files[dest] = str(info[key])
        return cls(merged, dirs, files)

    # resolution ------------------------------------------------------------------------------------
    def _served(self, path: str) -> None:
        if any(_under(path, r) for r in _ENGINE_ONLY):
            raise NotServed(path)

    def _open_root(self) -> int:
        try:
            return os.open(self.merged, _DIR)
        except OSError as exc:
            raise NotServed(f"the container's root is not mounted here: {exc}") from exc

    def _locate(self, path: str, *, follow: bool, fds: list[int], lexical: bool = False) -> tuple[int, str, str]:
        """(directory fd, name in it, container path) of `path`, every symlink on the way followed inside the
        container, the last one only when `follow`. The request path is cleaned as text first (as the engine
        does); in a symlink's target `..` is the parent of the directory actually reached, as for the kernel.
        Raises FileNotFoundError / NotADirectoryError, unless `lexical`: then missing parts are kept as
        written (the engine's way of reporting where a link leads). Open fds are kept in `fds` for the caller
        to close."""
        if len(path) > 1 and (path.endswith("/") or path.endswith("/.")):
            raise NotServed("a trailing slash asks the engine to follow the last link")  # rare: its semantics
        root = self._open_root()
        fds.append(root)
        stack: list[tuple[str, int | None]] = [("/", root)]  # directories reached; None: a missing one

        def pop_to(depth: int) -> None:
            while len(stack) > depth:
                _, fd = stack.pop()
                if fd is not None:
                    fds.remove(fd)
                    os.close(fd)

        def push(cpath: str, fd: int | None) -> None:
            if len(stack) > _MAX_DEPTH:
                raise NotServed(f"{path}: deeper than {_MAX_DEPTH} directories")
            if fd is not None:
                fds.append(fd)
            stack.append((cpath, fd))

        pending = _parts(path)
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                pop_to(max(1, len(stack) - 1))
                continue
            cur, fd = stack[-1]
            cand = posixpath.join(cur, part)
            self._served(cand)
            last = not any(p not in ("", ".") for p in pending)
            if fd is None:
                if not lexical:
                    raise FileNotFoundError(cand)
                push(cand, None)
                continue
            if cand in self.file_mounts or (cand in self.dir_mounts and last):
                src = self.file_mounts.get(cand) or self.dir_mounts[cand]
                if not last:
                    raise NotADirectoryError(cand)
                pfd = _open_host_dir(posixpath.dirname(src))
                fds.append(pfd)
                return pfd, posixpath.basename(src), cand
            if cand in self.dir_mounts:
                push(cand, _open_host_dir(self.dir_mounts[cand]))
                continue
            try:
                info = os.lstat(part, dir_fd=fd)
            except (FileNotFoundError, NotADirectoryError):
                if not lexical:
                    raise
                push(cand, None)
                continue
            if st.S_ISLNK(info.st_mode) and (follow or not last):
                hops += 1
                if hops > _MAX_HOPS:
                    raise OSError(errno.ELOOP, f"{path}: too many levels of symbolic links")
                target = os.readlink(part, dir_fd=fd)
                if target.startswith("/"):
                    pop_to(1)
                pending = target.split("/") + pending
                continue
            if last:
                return fd, part, cand
            if not st.S_ISDIR(info.st_mode):
                if not lexical:
                    raise NotADirectoryError(cand)
                push(cand, None)
                continue
            push(cand, os.open(part, _DIR, dir_fd=fd))
        cur, fd = stack[-1]
        if fd is None:
            if not lexical:
                raise FileNotFoundError(cur)
            return root, ".", cur
        return fd, ".", cur

    @contextlib.contextmanager
    def _at(self, path: str, *, follow: bool, lexical: bool = False) -> Iterator[tuple[int, str, str]]:
        fds: list[int] = []
        try:
            yield self._locate(path, follow=follow, fds=fds, lexical=lexical)
        finally:
            for fd in fds:
                os.close(fd)

    def _link_target(self, path: str, raw: str) -> str:
        """Where a symlink leads, as the engine reports it: every further link followed inside the container,
        a missing tail kept as written; a loop gives the link's own target."""
        try:
            with self._at(path, follow=True, lexical=True) as (_, _, cpath):
                return cpath
        except OSError:
            here = "/" + "/".join(_parts(path)[:-1])
            return "/" + "/".join(_parts(posixpath.join(here, raw)))

    # reads -----------------------------------------------------------------------------------------
    def stat(self, path: str) -> FileStat:
        """The engine's stat: the entry itself, a final symlink not followed; a missing path is not an error."""
        try:
            with self._at(path, follow=False) as (fd, name, _):
                info = os.lstat(name, dir_fd=fd)
                link = os.readlink(name, dir_fd=fd) if st.S_ISLNK(info.st_mode) else ""
            if link:
                link = self._link_target(path, link)
        except (FileNotFoundError, NotADirectoryError):
            return FileStat(path=path, exists=False, kind="missing")
        except NotServed:
            raise
        except OSError as exc:
            raise InfrastructureError(f"stat {path} on the host: {exc}") from exc
        kind = ("dir" if st.S_ISDIR(info.st_mode) else "symlink" if st.S_ISLNK(info.st_mode)
                else "file" if st.S_ISREG(info.st_mode) else "other")
        return FileStat(path=path, exists=True, kind=kind, size=info.st_size, mode=info.st_mode & 0o7777,
                        link_target=link)

    def read_file(self, path: str, limit: int) -> bytes:
        """The content of a regular file, symlinks followed inside the container."""
        try:
            with self._at(path, follow=True) as (fd, name, _):
                info = os.lstat(name, dir_fd=fd)
                if st.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(f"{path} is a directory")
                if not st.S_ISREG(info.st_mode):
                    raise FileNotFoundError(f"{path} is not a regular file")
                if info.st_size > limit:
                    raise FileTooLarge(f"{path} is {info.st_size} bytes, over the {limit}-byte limit; "
                                       "raise SandboxSpec.file_size_limit to read it")
                ffd = os.open(name, _FILE, dir_fd=fd)
                with os.fdopen(ffd, "rb") as fh:
                    if not st.S_ISREG(os.fstat(fh.fileno()).st_mode):
                        raise FileNotFoundError(f"{path} is not a regular file")
                    data = fh.read(limit + 1)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise FileNotFoundError(f"{path}: no such file in the sandbox") from exc
        except (IsADirectoryError, FileTooLarge, NotServed):
            raise
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FileNotFoundError(f"{path}: too many levels of symbolic links") from exc
            raise InfrastructureError(f"read {path} on the host: {exc}") from exc
        if len(data) > limit:
            raise FileTooLarge(f"{path} grew beyond the read limit while being read")
        return data

    def read_tree(self, path: str, limit: int) -> bytes:
        """A tar archive of `path` in the engine's layout (members named from the path's basename)."""
        if not _parts(path):
            raise NotServed("the whole root")
        try:
            with self._at(path, follow=False) as (fd, name, cpath):
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    _Walker(self, tar, limit).add(fd, name, cpath, posixpath.basename(cpath))
                return buf.getvalue()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise FileNotFoundError(f"{path}: no such file or directory in the sandbox") from exc
        except (FileTooLarge, NotServed):
            raise
        except OSError as exc:
            raise InfrastructureError(f"archive {path} on the host: {exc}") from exc


class _Walker:
    """Writes one scope into a tar archive: sorted like the engine's walk, hard links named once."""

    def __init__(self, view: HostView, tar: tarfile.TarFile, limit: int) -> None:
        self.view = view
        self.tar = tar
        self.budget = max(limit * 16, _SCOPE_BYTES)
        self.inodes: dict[tuple[int, int], str] = {}

    def add(self, dfd: int, name: str, cpath: str, arcname: str, depth: int = 0) -> None:
        if any(_under(cpath, r) for r in _ENGINE_ONLY):
            return
        if depth > _MAX_DEPTH:
            raise NotServed(f"{cpath}: deeper than {_MAX_DEPTH} directories")
        info = os.lstat(name, dir_fd=dfd)
        mode = info.st_mode
        if st.S_ISSOCK(mode):
            return
        ti = tarfile.TarInfo(arcname)
        ti.mode, ti.uid, ti.gid, ti.mtime = mode & 0o7777, info.st_uid, info.st_gid, int(info.st_mtime)
        ti.pax_headers = self._xattrs(dfd, name, mode)
        key = (info.st_dev, info.st_ino)
        if not st.S_ISDIR(mode) and info.st_nlink > 1:
            if key in self.inodes:  # any kind of entry, as the engine does: FIFOs and symlinks too
                ti.type, ti.linkname = tarfile.LNKTYPE, self.inodes[key]
                self.tar.addfile(ti)
                return
            self.inodes[key] = arcname
        if st.S_ISREG(mode):
            self.budget -= info.st_size
            if self.budget < 0:  # the engine's archive had no limit at all; one file may exceed `limit` here
                raise FileTooLarge(f"{cpath}: the scope holds over {_SCOPE_BYTES >> 20} MiB")
            ffd = os.open(name, _FILE, dir_fd=dfd)
            with os.fdopen(ffd, "rb") as fh:
                data = fh.read(info.st_size) if st.S_ISREG(os.fstat(fh.fileno()).st_mode) else b""
            ti.type, ti.size = tarfile.REGTYPE, len(data)
            self.tar.addfile(ti, io.BytesIO(data))
        elif st.S_ISLNK(mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dfd)
            self.tar.addfile(ti)
        elif st.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            self.tar.addfile(ti)
            sub = os.open(name, _LIST, dir_fd=dfd)
            try:
                for child in sorted(os.listdir(sub), key=os.fsencode):  # byte order, as the engine walks
                    ccpath = posixpath.join(cpath, child)
                    if ccpath in self.view.dir_mounts or ccpath in self.view.file_mounts:
                        src = self.view.dir_mounts.get(ccpath) or self.view.file_mounts[ccpath]
                        pfd = _open_host_dir(posixpath.dirname(src))
                        try:
                            self.add(pfd, posixpath.basename(src), ccpath, f"{arcname}/{child}", depth + 1)
                        finally:
                            os.close(pfd)
                        continue
                    self.add(sub, child, ccpath, f"{arcname}/{child}", depth + 1)
            finally:
                os.close(sub)
        else:
            ti.type = (tarfile.FIFOTYPE if st.S_ISFIFO(mode) else tarfile.CHRTYPE if st.S_ISCHR(mode)
                       else tarfile.BLKTYPE)
            if not st.S_ISFIFO(mode):
                ti.devmajor, ti.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
            self.tar.addfile(ti)

    @staticmethod
    def _xattrs(dfd: int, name: str, mode: int) -> dict[str, str]:
        if st.S_ISLNK(mode) or not (st.S_ISREG(mode) or st.S_ISDIR(mode)):
            return {}
        try:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        except OSError:
            return {}
        try:
            proc = f"/proc/self/fd/{fd}"
            out = {}
            for key in os.listxattr(proc):
                with contextlib.suppress(OSError):
                    value = os.getxattr(proc, key).decode("utf-8", "replace")
                    # a pax key is strict UTF-8 without "=": undecodable bytes and "=" are escaped
                    safe = key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                    out[f"SCHILY.xattr.{safe.replace('=', '%3D')}"] = value
            return out
        except OSError:
            return {}
        finally:
            os.close(fd)
