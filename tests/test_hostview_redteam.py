"""Red-team findings against the host view (hostview.py) and host process control (hostprocs.py), kept as
regression tests: each one made the host path disagree with the engine or the kernel, crash, or miss something
on the first version of that code (a decoy read through `..` after a symlink, deep nesting, undecodable xattr
names, hard-link naming, trailing slashes, a zombie leader surviving the freeze, an IPC segment handed to root)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from groundtruth.checks import services
from groundtruth.checks.manifest import read_archive
from groundtruth.errors import InfrastructureError
from groundtruth.sandbox import DockerSandbox, SandboxSpec
from tests.conftest import engine_only

RUN_ID = "rt-hostview"


def _engine(sb: DockerSandbox) -> DockerSandbox:
    twin = engine_only(sb)
    assert isinstance(twin, DockerSandbox)
    return twin


def _new(sandbox_image: str, episode: str) -> DockerSandbox:
    return DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=RUN_ID, episode_id=episode))


@pytest.fixture(scope="module")
def sb(sandbox_image: str) -> Iterator[DockerSandbox]:
    box = _new(sandbox_image, "redteam-files")
    try:
        yield box
    finally:
        box.close()


@pytest.fixture()
def fresh(sandbox_image: str) -> Iterator[DockerSandbox]:
    box = _new(sandbox_image, "redteam-procs")
    try:
        yield box
    finally:
        box.close()


def _entries(tar_bytes: bytes, root: str) -> dict[str, tuple[object, ...]]:
    return {f.entry.path: (f.entry.kind, f.entry.mode, f.entry.uid, f.entry.size, f.entry.sha256, f.entry.link)
            for f in read_archive(tar_bytes, root)}


def _agent(sb: DockerSandbox, script: str) -> None:
    res = sb.exec(["python3", "-c", script], user="agent", timeout=120)
    assert res.exit_code == 0, res


# 1. verdict-changing: `..` in a symlink's target is cleaned lexically before the symlinks before it are followed
def test_dotdot_after_a_symlink_in_a_link_target_reads_what_the_kernel_reads(sb: DockerSandbox) -> None:
    _agent(sb, r"""
import os
os.makedirs('/workspace/dd/real/deep/sub')
open('/workspace/dd/conf', 'w').write('DECOY\n')             # what the verifier would be shown
open('/workspace/dd/real/deep/conf', 'w').write('REAL\n')    # what every process in the container reads
os.symlink('real/deep/sub', '/workspace/dd/d')
os.symlink('d/../conf', '/workspace/dd/app.conf')
""")
    kernel = sb.exec(["cat", "/workspace/dd/app.conf"], user="agent").stdout
    assert kernel == "REAL\n"
    assert _engine(sb).read_file("/workspace/dd/app.conf") == b"REAL\n"
    assert sb.read_file("/workspace/dd/app.conf") == b"REAL\n"  # host view: b"DECOY\n"
    assert sb.stat("/workspace/dd/app.conf").link_target == "/workspace/dd/real/deep/conf"


# 2. crash: read_tree recurses once per directory level -> RecursionError (not an InfrastructureError)
def test_deep_nesting_does_not_crash_read_tree(sb: DockerSandbox) -> None:
    _agent(sb, r"""
import os
os.makedirs('/workspace/nest'); os.chdir('/workspace/nest')
for _ in range(1200):
    os.mkdir('a'); os.chdir('a')
open('leaf', 'w').write('x')
""")
    engine = _entries(_engine(sb).read_tree("/workspace/nest"), "/workspace/nest")
    try:
        host = _entries(sb.read_tree("/workspace/nest"), "/workspace/nest")
    except InfrastructureError:
        pytest.fail("the engine reads this tree; the host view gave up")
    assert host == engine


# 3. crash: a user xattr whose *name* is not UTF-8 -> UnicodeEncodeError from tarfile's PAX writer
def test_a_non_utf8_xattr_name_does_not_crash_read_tree(sb: DockerSandbox) -> None:
    _agent(sb, r"""
import os
os.makedirs('/tmp/xattr-name')
open('/tmp/xattr-name/f', 'w').write('x')
os.setxattr('/tmp/xattr-name/f', b'user.\xff\xfe', b'v')
""")
    engine = _entries(_engine(sb).read_tree("/tmp/xattr-name"), "/tmp/xattr-name")
    assert _entries(sb.read_tree("/tmp/xattr-name"), "/tmp/xattr-name") == engine


# 4. cosmetic (parity): hard links are named after the first path in Python's str order, not the engine's byte order
def test_hard_links_are_named_like_the_engine_with_non_utf8_names(sb: DockerSandbox) -> None:
    _agent(sb, r"""
import os
os.makedirs(b'/workspace/hl')
open(b'/workspace/hl/x\xc3', 'w').write('SECRET\n')
os.link(b'/workspace/hl/x\xc3', b'/workspace/hl/x\xc3\xa9')
""")
    engine = _entries(_engine(sb).read_tree("/workspace/hl"), "/workspace/hl")
    assert _entries(sb.read_tree("/workspace/hl"), "/workspace/hl") == engine


# 5. cosmetic (parity): a hard-linked FIFO or symlink is a hard link in the engine's archive, not in the host view's
def test_hard_linked_fifos_and_symlinks_match_the_engine(sb: DockerSandbox) -> None:
    _agent(sb, r"""
import os
os.makedirs('/workspace/hl2')
os.mkfifo('/workspace/hl2/f1'); os.link('/workspace/hl2/f1', '/workspace/hl2/f2')
os.symlink('/etc/passwd', '/workspace/hl2/s1'); os.link('/workspace/hl2/s1', '/workspace/hl2/s2', follow_symlinks=False)
""")
    engine = _entries(_engine(sb).read_tree("/workspace/hl2"), "/workspace/hl2")
    assert _entries(sb.read_tree("/workspace/hl2"), "/workspace/hl2") == engine


# 6. disagreement: a trailing slash (or /.) makes the engine follow a final symlink; the host view drops it
def test_a_trailing_slash_follows_the_final_symlink_like_the_engine(sb: DockerSandbox) -> None:
    _agent(sb, r"""
import os
os.makedirs('/workspace/ts/stash')
open('/workspace/ts/stash/kept', 'w').write('residue\n')
os.symlink('stash', '/workspace/ts/out')
""")
    eng = _engine(sb)
    for root in ("/workspace/ts/out/", "/workspace/ts/out/."):
        assert sb.stat(root) == eng.stat(root), root
        assert _entries(sb.read_tree(root), root) == _entries(eng.read_tree(root), root), root


# 7. crash + agent survives: a process whose thread-group leader exited (state Z) while its other threads run
ZOMBIE_LEADER = r"""
import ctypes, os, threading, time
if os.fork() == 0:
    os.setsid()
    def work():
        while True:
            with open('/tmp/alive', 'w') as fh:
                fh.write(repr(time.time()))
            time.sleep(0.1)
    threading.Thread(target=work).start()
    time.sleep(0.3)
    ctypes.CDLL(None).syscall(60, 0)  # SYS_exit (x86-64): only the main thread ends
"""


def test_freeze_stops_a_process_whose_leader_is_a_zombie(fresh: DockerSandbox) -> None:
    sb = fresh
    _agent(sb, ZOMBIE_LEADER)
    time.sleep(1)
    agent = sb.uid("agent")
    assert [p.state for p in sb.processes() if p.uid == agent] == ["Z"]
    start = time.monotonic()
    try:
        sb.freeze_agent()
    except InfrastructureError as exc:
        pytest.fail(f"freeze gave up after {time.monotonic() - start:.1f}s: {exc}")
    assert time.monotonic() - start < 5
    before = sb.read_file("/tmp/alive")
    time.sleep(0.5)
    assert sb.read_file("/tmp/alive") == before, "the agent still runs after the freeze"


# 8. verdict-changing (both paths): IPC_SET hands a segment to root; its creator (cuid) is still the agent
CHOWNED_SHM = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
class Perm(ctypes.Structure):
    _fields_ = [("key", ctypes.c_int), ("uid", ctypes.c_uint), ("gid", ctypes.c_uint), ("cuid", ctypes.c_uint),
                ("cgid", ctypes.c_uint), ("mode", ctypes.c_ushort), ("p1", ctypes.c_ushort), ("seq", ctypes.c_ushort),
                ("p2", ctypes.c_ushort), ("u1", ctypes.c_ulong), ("u2", ctypes.c_ulong)]
class Shm(ctypes.Structure):
    _fields_ = [("perm", Perm), ("segsz", ctypes.c_size_t), ("atime", ctypes.c_long), ("dtime", ctypes.c_long),
                ("ctime", ctypes.c_long), ("cpid", ctypes.c_int), ("lpid", ctypes.c_int), ("nattch", ctypes.c_ulong),
                ("u4", ctypes.c_ulong), ("u5", ctypes.c_ulong)]
shmid = libc.shmget(0x5EC2E8, 4096, 0o1666)
assert shmid >= 0, ctypes.get_errno()
ds = Shm()
assert libc.shmctl(shmid, 2, ctypes.byref(ds)) == 0  # IPC_STAT
ds.perm.uid = ds.perm.gid = 0
assert libc.shmctl(shmid, 1, ctypes.byref(ds)) == 0, ctypes.get_errno()  # IPC_SET: owner now root
"""


def test_agent_ipc_sees_a_segment_the_agent_gave_to_root(fresh: DockerSandbox) -> None:
    _agent(fresh, CHOWNED_SHM)
    table = fresh.exec("cat /proc/sysvipc/shm", user="root").stdout
    assert " 1000 " in table  # cuid/cgid: the agent made it
    assert services.agent_ipc(fresh), "an agent-made shm segment is invisible to the residue check"
