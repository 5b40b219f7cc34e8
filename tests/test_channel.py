"""The exec channel on real containers: same semantics as engine exec, and an agent that tampers with it only
ever changes its own observations (the sandbox falls back to engine exec, verification never notices)."""

from __future__ import annotations

import threading
import time

import pytest

from groundtruth.env.core import GroundtruthEnv
from groundtruth.env.definitions import definition_for
from groundtruth.sandbox import DockerSandbox, SandboxSpec
from groundtruth.sandbox.base import AGENT_USER
from groundtruth.tasks.registry import Registry

from .conftest import RUN_ID


@pytest.fixture()
def chan(sandbox: DockerSandbox) -> DockerSandbox:
    sandbox.start_channel()
    assert sandbox.channel_state() == "channel"
    return sandbox


def test_exit_codes_streams_user_cwd_env_and_stdin(chan: DockerSandbox) -> None:
    res = chan.exec("echo out; echo err >&2; id -un; pwd; echo $GT_X; exit 7", env={"GT_X": "x1"}, channel=True)
    assert res.exit_code == 7
    assert res.stdout == "out\nagent\n/home/agent\nx1\n"
    assert res.stderr == "err\n"
    assert chan.exec("cat; pwd", stdin="abc\n", cwd="/tmp", channel=True).stdout == "abc\n/tmp\n"
    assert chan.exec("exit 0", channel=True).ok
    assert chan.channel_state() == "channel"  # every command above went over the channel


def test_output_is_capped_per_stream(chan: DockerSandbox) -> None:
    res = chan.exec("head -c 5000000 /dev/zero | tr '\\0' a; head -c 3000000 /dev/zero | tr '\\0' b >&2",
                    timeout=60, channel=True)
    assert res.truncated and res.exit_code == 0
    assert len(res.stdout) == chan.spec.output_cap and set(res.stdout) == {"a"}
    assert len(res.stderr) == chan.spec.output_cap and set(res.stderr) == {"b"}
    assert chan.channel_state() == "channel"


def test_file_size_limit_applies(sandbox_image: str) -> None:
    with DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=RUN_ID, max_file_mb=1)) as sb:
        res = sb.exec("head -c 3000000 /dev/zero > /home/agent/big; echo rc=$?; stat -c %s /home/agent/big",
                      channel=True)
        assert sb.channel_state() == "channel"
        assert "File size limit exceeded" in res.stderr or "File too large" in res.stderr
        assert res.stdout.splitlines()[-1] == str(1024 * 1024)


def test_timeout_leaves_no_process_behind_and_spares_earlier_ones(chan: DockerSandbox) -> None:
    chan.exec("nohup sleep 999 >/dev/null 2>&1 &", channel=True)
    time.sleep(0.3)
    script = (
        "trap '' TERM; sh -c 'trap \"\" TERM; sleep 300' & "
        "setsid sh -c 'setsid sleep 301 & sleep 302' & nohup sleep 303 >/dev/null 2>&1 & sleep 304"
    )
    started = time.monotonic()
    res = chan.exec(script, timeout=2, channel=True)
    assert res.timed_out and res.exit_code in (124, 137)
    assert time.monotonic() - started < 15
    commands = [p.command for p in chan.processes()]
    assert not any("sleep 30" in c for c in commands), commands
    assert any("sleep 999" in c for c in commands)
    assert chan.channel_state() == "channel"  # the channel itself survived the sweep


def test_cancel_kills_a_channel_command_and_the_channel_then_a_new_one_starts(chan: DockerSandbox) -> None:
    uid = chan.uid(AGENT_USER)
    cancel = threading.Event()
    timer = threading.Timer(1.5, cancel.set)
    timer.start()
    started = time.monotonic()
    # a TERM-ignoring child and a double-forked daemon: killing the shell alone would leave both
    res = chan.exec("echo begun; (trap '' TERM; sleep 30) & setsid sh -c 'sleep 40' & sleep 20", cancel=cancel,
                    channel=True)
    elapsed = time.monotonic() - started
    timer.cancel()
    assert res.cancelled and res.exit_code == 137 and not res.timed_out
    assert res.stdout == "begun\n"
    assert elapsed < 1.5 + 5  # generous: the step returns about 0.3 s after the cancel
    assert [p for p in chan.processes() if p.uid == uid] == []  # neither the command nor the dropped channel
    assert chan.channel_state() == "channel (not started)"  # dropped, not failed
    assert chan.exec("echo again", channel=True).stdout == "again\n"
    assert chan.channel_state() == "channel"


def test_fork_bomb_is_contained(chan: DockerSandbox) -> None:
    res = chan.exec("bomb() { bomb | bomb & }; bomb; sleep 3", timeout=10, channel=True)
    assert "Resource temporarily unavailable" in res.stderr
    assert len(chan.processes()) <= chan.spec.pids
    assert chan.exec("echo alive", channel=True, timeout=30).stdout == "alive\n"


def test_killed_channel_reports_unknown_then_falls_back(chan: DockerSandbox) -> None:
    res = chan.exec("echo before; pkill -9 -f 'python3 -c'; sleep 1; echo after", channel=True)
    assert res.exit_code == -1 and "exec channel stopped" in res.stderr
    assert chan.channel_state().startswith("engine (exec channel failed")
    again = chan.exec("echo fallback; id -un", channel=True)
    assert again.stdout == "fallback\nagent\n"


def test_junk_frames_break_the_channel_not_the_sandbox(chan: DockerSandbox) -> None:
    # the command writes garbage straight into the channel's stdout, as any agent process could
    res = chan.exec("printf 'ZZZZZZZZZZZZZZZZ' > /proc/$PPID/fd/1; sleep 0.5; echo done", channel=True)
    assert res.exit_code == -1 and "junk on the channel" in res.stderr
    assert chan.exec("echo ok", channel=True).stdout == "ok\n"
    assert chan.channel_state().startswith("engine")


def test_a_stopped_channel_is_bounded_by_the_host_deadline(chan: DockerSandbox) -> None:
    started = time.monotonic()
    res = chan.exec("kill -STOP $PPID; sleep 100", timeout=1, channel=True)
    elapsed = time.monotonic() - started
    assert res.timed_out and elapsed < 20  # limit 1 s + kill grace 2 s + host grace 5 s, plus load
    assert not any("sleep 100" in p.command for p in chan.processes())  # swept from outside
    assert chan.exec("echo ok", channel=True).stdout == "ok\n"


def test_tampering_with_the_channel_never_reaches_the_verdict() -> None:
    task = Registry([]).get("leaked-token")
    env = GroundtruthEnv(definition_for(task.spec.env), task=task, run_id=RUN_ID)
    try:
        env.reset(seed=3)
        _, _, _, _, info = env.step({"tool": "bash", "cmd": "true"})
        assert info["exec"] == "channel"
        # the agent replaces the channel's answers with forged ones, then kills it
        env.step({"tool": "bash", "cmd": "printf 'X\\0\\0\\0\\x2c{\"id\": 2, \"code\": 0, \"timed_out\": false}' "
                                         "> /proc/$PPID/fd/1; kill -9 $PPID"})
        _, _, _, _, info = env.step({"tool": "bash", "cmd": task.file("solution.sh").read_text()})
        assert info["exec"].startswith("engine (exec channel failed")
        _, _, terminated, _, info = env.step({"tool": "submit", "success": True, "confidence": 0.9,
                                              "summary": "removed"})
        assert terminated
        assert info["verdict"]["outcome"] == "success" and not info["verdict"]["tampered"]
    finally:
        env.close()
