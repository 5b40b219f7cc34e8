"""The host view reads a container's files without the engine: it must agree with the engine's archive API on
every kind of entry an agent can make, and must never let a path the agent controls reach the host."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import uuid
from collections.abc import Iterator

import pytest

from groundtruth.checks.manifest import read_archive
from groundtruth.errors import FileTooLarge
from groundtruth.sandbox import DockerSandbox, SandboxSpec, hostview
from groundtruth.sandbox.hostview import HostView
from tests.conftest import RUN_ID, engine_only

MESSY = r"""
set -e
cd /workspace
mkdir -p a/b/c deep/x/y/z
printf 'one\n' > a/one.txt
printf '' > a/empty
head -c 300000 /dev/urandom > a/b/big.bin
ln -s one.txt a/rel-link
ln -s /workspace/a/b a/abs-dir-link
ln -s ../../../../../../../etc/passwd a/escape-rel
ln -s /nowhere/at/all a/dangling
ln -s loop2 a/loop1; ln -s loop1 a/loop2
ln a/one.txt a/hard-one
mkfifo a/pipe
printf 'x' > "a/$(printf 'caf\xc3\xa9 \xe2\x80\x8b name')"
printf 'long' > "deep/x/y/z/$(printf 'n%.0s' $(seq 1 150))"
chmod 4750 a/b/big.bin; chmod 700 a/b/c; chmod 0 a/empty
printf 'scratch\n' > /tmp/in-volume; mkdir -p /tmp/sub; ln -s /tmp/in-volume /tmp/sub/to-volume
ln -s /tmp/in-volume a/into-volume
ln -s a/abs-dir-link/c chain; ln -s a/abs-dir-link/nothere/x chain2; ln -s /tmp/sub/to-volume chain3
"""


@pytest.fixture()
def messy(sandbox_image: str) -> Iterator[DockerSandbox]:
    sb = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=RUN_ID, episode_id="hostview"))
    try:
        res = sb.exec(MESSY, user="agent", timeout=60)
        assert res.exit_code == 0, res
        # entries the agent cannot make: other owners, and a file deleted from the image's layer
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, uid, mode in (("owned/root-file", 0, 0o600), ("owned/nobody", 65534, 0o644)):
                ti = tarfile.TarInfo(name)
                ti.uid, ti.gid, ti.mode, ti.size = uid, uid, mode, 4
                tar.addfile(ti, io.BytesIO(b"data"))
        sb.put_archive("/workspace", buf.getvalue())
        assert sb.exec("rm -f /etc/issue.net", user="root").exit_code in (0, 1)
        yield sb
    finally:
        sb.close()


def _engine(sb: DockerSandbox) -> DockerSandbox:
    twin = engine_only(sb)
    assert isinstance(twin, DockerSandbox)
    return twin


def _entries(tar_bytes: bytes, root: str) -> dict[str, tuple[object, ...]]:
    return {f.entry.path: (f.entry.kind, f.entry.mode, f.entry.uid, f.entry.gid, f.entry.size, f.entry.sha256,
                           f.entry.link)
            for f in read_archive(tar_bytes, root)}


def test_host_view_is_available_on_this_engine(messy: DockerSandbox) -> None:
    # CI runs as root beside the engine: if this fails, every other test here silently tests the engine path
    assert messy.host_view() is not None


@pytest.mark.parametrize("root", ["/workspace", "/workspace/a", "/tmp", "/etc", "/workspace/a/abs-dir-link"])
def test_trees_match_the_engine_archive(messy: DockerSandbox, root: str) -> None:
    view = messy.host_view()
    assert view is not None
    engine = _entries(_engine(messy).read_tree(root), root)
    host = _entries(view.read_tree(root, messy.spec.file_size_limit), root)
    assert host == engine
    assert len(host) >= 1


def _paths(sb: DockerSandbox) -> list[str]:
    tree = _entries(_engine(sb).read_tree("/workspace"), "/workspace")
    return [*sorted(tree), "/workspace/a/abs-dir-link/c", "/workspace/a/escape-rel", "/nope",
            "/tmp", "/tmp/in-volume", "/tmp/sub/to-volume", "/etc/issue.net", "/etc/hostname", "/",
            "/workspace/./a//one.txt", "/workspace/a/../a/rel-link"]


def _outcome(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except Exception as exc:
        return type(exc).__name__


def test_stat_and_read_match_the_engine(messy: DockerSandbox) -> None:
    view = messy.host_view()
    assert view is not None
    eng = _engine(messy)
    for p in _paths(messy):
        if p.startswith("/workspace/a/loop"):
            # the engine answers 500 for a symlink loop (an infrastructure error); the host view reports the link
            assert view.stat(p).link_target == ("/workspace/a/loop2" if p.endswith("1") else "/workspace/a/loop1")
            with pytest.raises(FileNotFoundError):
                view.read_file(p, 1 << 20)
            continue
        assert view.stat(p) == eng.stat(p), p
        if p == "/workspace/a/pipe":
            continue  # the engine's read of a FIFO is its own business; ours must not block (below)
        assert _outcome(view.read_file, p, messy.spec.file_size_limit) == _outcome(eng.read_file, p), p


def test_a_path_through_a_file_is_missing_not_an_engine_error(messy: DockerSandbox) -> None:
    view = messy.host_view()
    assert view is not None
    assert not view.stat("/workspace/a/one.txt/x").exists  # the engine answers 500 here
    with pytest.raises(FileNotFoundError):
        view.read_file("/workspace/a/one.txt/x", 1 << 20)


def test_symlinks_never_reach_the_host(messy: DockerSandbox) -> None:
    secret = f"/tmp/gt-host-only-{uuid.uuid4().hex}"
    with open(secret, "w") as fh:
        fh.write("host secret")
    try:
        assert not messy.exec(f"ln -s {secret} /workspace/to-host && ln -s /proc/1/root/{secret} /workspace/p",
                              user="agent").exit_code
        view = messy.host_view()
        assert view is not None
        with pytest.raises(FileNotFoundError):
            view.read_file("/workspace/to-host", 1 << 20)
        with pytest.raises(FileNotFoundError):  # through /proc: the engine's business, inside the container
            messy.read_file("/workspace/p")
        with open(secret) as fh:  # a naive reader that joins the merged dir with the link's target escapes
            naive = os.path.join(view.merged, "workspace/to-host")
            assert os.path.realpath(naive) == secret and fh.read() == "host secret"
        tree = view.read_tree("/workspace", 1 << 20)
        assert b"host secret" not in tree
    finally:
        os.unlink(secret)


def test_a_fifo_never_blocks_the_reader(messy: DockerSandbox) -> None:
    view = messy.host_view()
    assert view is not None
    done: list[object] = []
    t = threading.Thread(target=lambda: done.append(_outcome(view.read_file, "/workspace/a/pipe", 1 << 20)))
    t.start()
    t.join(10)
    assert done == ["FileNotFoundError"]
    assert messy.read_file("/workspace/a/one.txt") == b"one\n"


def test_limits_hold(messy: DockerSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    view = messy.host_view()
    assert view is not None
    with pytest.raises(FileTooLarge):
        view.read_file("/workspace/a/b/big.bin", 1000)
    # a scope is read whole, as the engine's archive reads it: one big file is no reason to fail a check
    assert "/workspace/a/b/big.bin" in _entries(view.read_tree("/workspace/a", 1000), "/workspace/a")
    monkeypatch.setattr(hostview, "_SCOPE_BYTES", 100_000)
    with pytest.raises(FileTooLarge):
        view.read_tree("/workspace/a", 1000)


def test_xattrs_are_visible(messy: DockerSandbox) -> None:
    """An agent can hide data in a user xattr; the engine's archive drops it, the host view keeps it."""
    res = messy.exec("python3 -c \"import os; os.setxattr('/workspace/a/one.txt', 'user.note', b'hidden')\"",
                     user="agent")
    if res.exit_code != 0:
        pytest.skip(f"this storage driver refuses user xattrs: {res.stderr.strip()}")
    view = messy.host_view()
    assert view is not None
    files = {f.entry.path: f for f in read_archive(view.read_tree("/workspace/a", 1 << 20), "/workspace/a")}
    assert files["/workspace/a/one.txt"].pax.get("SCHILY.xattr.user.note") == "hidden"


def test_off_switch_and_unreadable_roots(sandbox: DockerSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from groundtruth.sandbox.engine import client

    info = client().api.inspect_container(sandbox.container_id)
    assert HostView.of(info) is not None
    monkeypatch.setenv("GROUNDTRUTH_HOST_VIEW", "0")
    assert HostView.of(info) is None
    monkeypatch.delenv("GROUNDTRUTH_HOST_VIEW")
    elsewhere = {**info, "GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": "/nonexistent/merged"}}}
    assert HostView.of(elsewhere) is None
    assert HostView.of({**info, "GraphDriver": {"Name": "vfs", "Data": {}}}) is None


def test_reads_do_not_go_through_the_engine(messy: DockerSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed-up must not quietly fall back to the engine: with the engine unreachable, reads still work."""
    import groundtruth.sandbox.docker as d

    assert messy.host_view() is not None

    def no_engine() -> object:
        raise AssertionError("the engine was called")

    monkeypatch.setattr(d, "client", no_engine)
    assert "/workspace/a/one.txt" in _entries(messy.read_tree("/workspace"), "/workspace")
    assert messy.stat("/workspace/a/one.txt").kind == "file"
    assert messy.read_file("/workspace/a/rel-link") == b"one\n"
    with pytest.raises(AssertionError, match="engine was called"):
        messy.stat("/proc/1/status")  # kernel filesystems are the engine's
