"""The host's view of a sandbox's processes: the same list as the engine's `top`, an agent stopped without an
engine exec, signals that can never reach a process outside the container, and the agent's IPC objects."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from groundtruth.checks import services
from groundtruth.sandbox import DockerSandbox
from groundtruth.sandbox.hostprocs import HostProcesses, ipc_objects
from tests.conftest import engine_only

IPC = r"""
import ctypes, ctypes.util, os
libc = ctypes.CDLL(None, use_errno=True)
assert libc.shmget(0x5eC2E7, 4096, 0o1600) >= 0
rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
rt.mq_open.restype = ctypes.c_int
assert rt.mq_open(b"/stash", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0, ctypes.get_errno()
"""


def _engine_only(sb: DockerSandbox) -> DockerSandbox:
    twin = engine_only(sb)
    assert isinstance(twin, DockerSandbox)
    return twin


def _host(sb: DockerSandbox) -> HostProcesses:
    procs = sb.host_processes()
    assert procs is not None, "CI runs as root beside the engine: the host must see the sandbox's processes"
    return procs


def test_the_list_matches_docker_top(sandbox: DockerSandbox) -> None:
    sb = sandbox
    assert sb.exec("nohup sleep 300 >/dev/null 2>&1 & (sleep 301 &) ; true", user="agent").exit_code == 0
    time.sleep(0.3)

    def key(ps: list) -> set[tuple[int, int, int, str, str]]:
        return {(p.pid, p.ppid, p.uid, p.state[0], p.command) for p in ps}

    host, engine = key(_host(sb).ps()), key(_engine_only(sb).processes())
    assert host == engine
    assert {c for *_, c in host} >= {"sleep 300", "sleep 301"}


def test_the_agent_is_stopped_without_the_engine(sandbox: DockerSandbox) -> None:
    sb = sandbox
    # a process that respawns its child, a detached one, and a setsid'd stopped one
    script = ("nohup sh -c 'while true; do sleep 100 & wait; done' >/dev/null 2>&1 & "
              "setsid sleep 200 >/dev/null 2>&1 & sleep 250 & kill -STOP $!; true")
    assert sb.exec(script, user="agent").exit_code == 0
    time.sleep(0.3)
    agent = sb.uid("agent")
    before = [p for p in sb.processes() if p.uid == agent]
    assert len(before) >= 4
    stopped, after = sb.freeze_agent()
    assert stopped == len(before)
    assert not [p for p in after if p.uid == agent]
    assert not [p for p in _engine_only(sb).processes() if p.uid == agent]
    assert any(p.uid == 0 for p in after), "the container's own processes stay"
    assert sb.exec("echo alive", user="agent").stdout == "alive\n"


def test_signals_never_leave_the_container(sandbox: DockerSandbox) -> None:
    host = _host(sandbox)
    outsider = subprocess.Popen(["sleep", "60"])
    try:
        host.signal([outsider.pid], signal.SIGKILL)
        time.sleep(0.2)
        assert outsider.poll() is None, "a pid outside the container's cgroup was signalled"
    finally:
        outsider.kill()
        outsider.wait()


def test_agent_ipc_objects_are_found_from_the_host(sandbox: DockerSandbox) -> None:
    sb = sandbox
    res = sb.exec(["python3", "-c", IPC], user="agent")
    if res.exit_code != 0:
        pytest.fail(f"could not make IPC objects in the sandbox: {res.stderr}")
    uid = sb.uid("agent")
    direct = ipc_objects(_host(sb).init_pid)  # not the exec fallback
    assert {kind for kind, uids, _ in direct if uid in uids} == {"SysV shm", "message queue"}
    host = services.agent_ipc(sb)
    engine = services.agent_ipc(_engine_only(sb))
    assert sorted(host) == sorted(engine)
    assert any(x.startswith("SysV shm") for x in host) and "message queue stash" in host
    # root's own objects are not the agent's
    assert sb.exec(["python3", "-c", "import ctypes; ctypes.CDLL(None).shmget(77, 4096, 0o1600)"],
                   user="root").exit_code == 0
    assert sorted(services.agent_ipc(sb)) == sorted(host)
