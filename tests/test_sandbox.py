"""The Docker backend on the real engine: round trips, hardening seen from inside, timeouts, caps."""

from __future__ import annotations

import os
import resource
import time

import anyio
import pytest

from groundtruth.errors import FileTooLarge, ImageMissing, SandboxClosed
from groundtruth.sandbox import AsyncDockerSandbox, DockerSandbox, SandboxSpec

from .conftest import RUN_ID

pytestmark = pytest.mark.docker


def test_exec_reports_exit_code_streams_and_user(sandbox: DockerSandbox) -> None:
    res = sandbox.exec("id -un; echo oops >&2; exit 7")
    assert res.exit_code == 7
    assert res.stdout == "agent\n"
    assert res.stderr == "oops\n"
    assert not res.timed_out and not res.truncated
    assert res.duration > 0


def test_exec_cwd_env_stdin_and_root(sandbox: DockerSandbox) -> None:
    res = sandbox.exec('pwd; echo "$GREETING"; cat', cwd="/tmp", env={"GREETING": "héllo"}, stdin="in\x00put")
    assert res.stdout == "/tmp\nhéllo\nin\x00put"
    assert sandbox.exec("id -u", user="root").stdout.strip() == "0"
    assert sandbox.exec(["printf", "%s|", "a b", "c"]).stdout == "a b|c|"


@pytest.mark.parametrize(
    "payload",
    [b"", "ünïcödé ✓ 日本語\n".encode(), bytes(range(256)) * 4, os.urandom(10 * 1024 * 1024)],
    ids=["empty", "unicode", "binary", "10MB"],
)
def test_files_round_trip_through_the_engine(sandbox: DockerSandbox, payload: bytes) -> None:
    sandbox.write_file("/home/agent/deep/dir/blob.bin", payload, owner="agent", mode=0o600)
    assert sandbox.read_file("/home/agent/deep/dir/blob.bin") == payload
    ls = sandbox.exec("stat -c '%U %a %s' /home/agent/deep/dir/blob.bin /home/agent/deep").stdout.split("\n")
    assert ls[0] == f"agent 600 {len(payload)}"
    assert ls[1].startswith("agent 755")
    # what the agent reads with its own permissions is the same data
    assert sandbox.read_file("/home/agent/deep/dir/blob.bin", user="agent") == payload


def test_text_round_trip_and_stat(sandbox: DockerSandbox) -> None:
    sandbox.write_file("/tmp/t.txt", "línea 1\nline 2\n")
    assert sandbox.read_text("/tmp/t.txt") == "línea 1\nline 2\n"
    assert sandbox.stat("/tmp/t.txt").kind == "file"
    assert sandbox.stat("/tmp").kind == "dir"
    assert not sandbox.stat("/tmp/nope").exists
    sandbox.exec("ln -s /tmp/t.txt /tmp/link")
    assert sandbox.stat("/tmp/link").kind == "symlink"
    assert sandbox.read_text("/tmp/link") == "línea 1\nline 2\n"
    with pytest.raises(FileNotFoundError):
        sandbox.read_file("/tmp/nope")
    with pytest.raises(IsADirectoryError):
        sandbox.read_file("/tmp")


def test_size_limits_are_enforced(sandbox_image: str) -> None:
    spec = SandboxSpec(image=sandbox_image, run_id=RUN_ID, file_size_limit=1000)
    with DockerSandbox.create(spec) as sb:
        with pytest.raises(FileTooLarge):
            sb.write_file("/tmp/big", b"x" * 1001)
        sb.exec("head -c 5000 /dev/zero > /tmp/big")
        with pytest.raises(FileTooLarge):
            sb.read_file("/tmp/big")


def test_agent_writes_respect_permissions(sandbox: DockerSandbox) -> None:
    with pytest.raises(PermissionError):
        sandbox.write_file("/etc/evil.conf", "x", user="agent")
    sandbox.write_file("/workspace/ok.txt", "fine", user="agent")
    assert sandbox.exec("stat -c %U /workspace/ok.txt").stdout.strip() == "agent"


def test_hardening_is_visible_from_inside(sandbox: DockerSandbox) -> None:
    assert sandbox.exec("id -u").stdout.strip() != "0"
    caps = dict(line.split(":\t") for line in sandbox.exec("grep ^Cap /proc/self/status").stdout.splitlines())
    assert caps["CapEff"] == "0000000000000000"
    assert caps["CapBnd"] == "0000000000000000"  # all capabilities dropped, even for root
    root_caps = sandbox.exec("grep ^CapEff /proc/self/status", user="root").stdout
    assert root_caps.split()[1] == "0000000000000000"
    assert sandbox.exec("grep NoNewPrivs /proc/self/status").stdout.split()[1] == "1"
    ifaces = [ln.split(":")[0].strip() for ln in sandbox.exec("cat /proc/net/dev").stdout.splitlines()[2:]]
    assert ifaces == ["lo"]
    net = sandbox.exec("python3 -c \"import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)\"")
    assert net.exit_code != 0
    assert not sandbox.exec("test -e /var/run/docker.sock").ok
    for path in ["/etc/x", "/usr/bin/x", "/root/x", "/x"]:
        res = sandbox.exec(f"echo hi > {path}")
        assert res.exit_code != 0 and "Permission denied" in res.stderr, path
    assert sandbox.exec("echo hi > /tmp/x && echo hi > /home/agent/x && echo hi > /workspace/x").ok


def test_engine_config_is_hardened(sandbox: DockerSandbox) -> None:
    from groundtruth.sandbox.engine import client

    info = client().api.inspect_container(sandbox.container_id)
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Init"] is True
    assert host["Memory"] == host["MemorySwap"] == 512 * 1024 * 1024
    assert host["PidsLimit"] == 256
    assert host["NanoCpus"] == 1_000_000_000
    assert not host.get("Binds")
    # no host mounts: the only mounts are the size-limited tmpfs volumes at /tmp and /var/tmp
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    assert set(mounts) == {"/tmp", "/var/tmp"}
    for m in mounts.values():
        assert m["Type"] == "volume" and m["Driver"] == "local"
        opts = client().api.inspect_volume(m["Name"])["Options"]
        assert opts["type"] == "tmpfs" and "size=64m" in opts["o"]
    labels = info["Config"]["Labels"]
    assert labels["groundtruth.run"] == RUN_ID
    assert {"groundtruth.episode", "groundtruth.created", "groundtruth.expires"} <= set(labels)


def test_fork_bomb_is_contained_by_pids_limit(sandbox: DockerSandbox) -> None:
    res = sandbox.exec("bomb() { bomb | bomb & }; bomb; sleep 3", timeout=10)
    assert "Resource temporarily unavailable" in res.stderr  # forks were refused by the pids limit
    assert len(sandbox.processes()) <= sandbox.spec.pids
    sandbox.stop_agent_processes()
    assert [p for p in sandbox.processes() if p.uid == sandbox.uid()] == []
    assert sandbox.exec("echo alive").stdout == "alive\n"


def test_memory_hog_is_killed(sandbox: DockerSandbox) -> None:
    res = sandbox.exec("python3 -c \"x = bytearray(2 * 1024**3); print('survived')\"", timeout=60)
    assert "survived" not in res.stdout
    assert res.exit_code in (137, 1)  # OOM-killed, or MemoryError under the limit
    assert sandbox.exec("echo alive").ok


def test_timeout_leaves_no_process_behind(sandbox: DockerSandbox) -> None:
    script = (
        "trap '' TERM; "                                    # the shell ignores SIGTERM
        "sh -c 'trap \"\" TERM; sleep 300' & "              # a child that ignores SIGTERM
        "setsid sh -c 'setsid sleep 301 & sleep 302' & "    # a double-forked daemon outside the group
        "nohup sleep 303 >/dev/null 2>&1 & "
        "sleep 304"
    )
    started = time.monotonic()
    res = sandbox.exec(script, timeout=2)
    elapsed = time.monotonic() - started
    assert res.timed_out
    assert elapsed < 15
    leftovers = [p.command for p in sandbox.processes() if "sleep 30" in p.command]
    assert leftovers == []
    # a process the agent started earlier, in another command, is not collateral damage
    sandbox.exec("nohup sleep 999 >/dev/null 2>&1 &")
    time.sleep(0.5)
    assert sandbox.exec("sleep 30", timeout=1).timed_out
    assert any("sleep 999" in p.command for p in sandbox.processes())


def test_large_output_is_truncated_and_flagged_with_bounded_memory(sandbox: DockerSandbox) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = sandbox.exec("head -c 100000000 /dev/urandom | base64 -w0; head -c 100000000 /dev/zero >&2", timeout=120)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert res.truncated
    assert len(res.stdout) == 1024 * 1024
    assert len(res.stderr) == 1024 * 1024
    assert res.exit_code == 0
    assert grown_mb < 64, f"host grew {grown_mb:.0f} MB reading 200 MB of output"


def test_diff_and_processes_come_from_the_engine(sandbox: DockerSandbox) -> None:
    sandbox.exec("echo x > /workspace/new.txt; rm -f /home/agent/.bashrc; nohup sleep 500 >/dev/null 2>&1 &")
    changes = {(d.path, d.kind) for d in sandbox.diff()}
    assert ("/workspace/new.txt", "added") in changes
    assert ("/home/agent/.bashrc", "deleted") in changes
    procs = sandbox.processes()
    assert any(p.command == "sleep 500" and p.uid == sandbox.uid() for p in procs)
    stopped = sandbox.stop_agent_processes()
    assert stopped >= 1
    assert not any(p.uid == sandbox.uid() for p in sandbox.processes())


def test_snapshot_and_reset(sandbox: DockerSandbox) -> None:
    sandbox.write_file("/workspace/keep.txt", "kept", owner="agent")
    snap = sandbox.snapshot()
    sandbox.exec("rm /workspace/keep.txt; echo junk > /workspace/junk.txt")
    sandbox.reset(snap)
    assert sandbox.read_text("/workspace/keep.txt") == "kept"
    assert not sandbox.stat("/workspace/junk.txt").exists
    sandbox.reset()
    assert not sandbox.stat("/workspace/keep.txt").exists


def test_close_is_idempotent_and_removes_the_container(sandbox_image: str) -> None:
    from groundtruth.sandbox.engine import client

    sb = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=RUN_ID))
    cid = sb.container_id
    sb.close()
    sb.close()
    assert client().api.containers(all=True, filters={"id": cid}) == []
    with pytest.raises(SandboxClosed):
        sb.exec("true")


def test_missing_image_says_what_to_do() -> None:
    with pytest.raises(ImageMissing, match="groundtruth images build"):
        DockerSandbox.create(SandboxSpec(image="groundtruth/nope:0", run_id=RUN_ID))


def test_self_destruct_timer_removes_the_container(sandbox_image: str) -> None:
    from groundtruth.sandbox.engine import client

    sb = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=RUN_ID, ttl_seconds=10))
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and client().api.containers(all=True, filters={"id": sb.container_id}):
        time.sleep(1)
    assert client().api.containers(all=True, filters={"id": sb.container_id}) == []
    sb.close()


def test_async_api_runs_many_sandboxes_concurrently(sandbox_image: str) -> None:
    async def one(i: int) -> str:
        async with await AsyncDockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=RUN_ID)) as sb:
            await sb.write_file("/tmp/n", str(i))
            res = await sb.exec("cat /tmp/n")
            return res.stdout

    async def main() -> list[str]:
        out: list[str] = [""] * 6
        async with anyio.create_task_group() as tg:
            for i in range(6):
                async def go(i: int = i) -> None:
                    out[i] = await one(i)
                tg.start_soon(go)
        return out

    assert anyio.run(main) == [str(i) for i in range(6)]


def test_prune_removes_stale_and_labelled_containers(sandbox_image: str) -> None:
    import socket

    from groundtruth.sandbox.engine import LABEL_OWNER
    from groundtruth.sandbox.prune import prune

    run = RUN_ID + "-prune"
    alive = DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=run))
    orphan = DockerSandbox.create(  # owned by a pid that cannot exist on this host: a crashed runner
        SandboxSpec(image=sandbox_image, run_id=run, labels={LABEL_OWNER: f"{socket.gethostname()}:999999999"})
    )
    try:
        assert prune(stale_only=True, run_id=run).containers == [orphan.container_id[:12]]
        assert prune(run_id=run).containers == [alive.container_id[:12]]
    finally:
        alive.close()
        orphan.close()


def test_make_dirs_works_inside_agent_owned_directories(sandbox: DockerSandbox) -> None:
    assert sandbox.exec("mkdir -p /workspace/proj/src", user="root").exit_code != 0  # root has no DAC override
    sandbox.make_dirs("/workspace/proj/src", owner="agent")
    assert sandbox.stat("/workspace/proj/src").kind == "dir"
    assert sandbox.exec("stat -c %U /workspace/proj /workspace/proj/src").stdout.split() == ["agent", "agent"]
