"""Fault injection on the real engine: each fault ends as its documented outcome (README, "fault or bad input
-> what groundtruth does"), finished episodes stay, and nothing leaks.

Faults here: a container killed during setup and during the agent's steps (killed during verification is
the verifier's own suite), the engine refusing to create containers (a proxy in front of the real engine),
the runner SIGKILLed or interrupted then resumed, the database's disk full (a 1 MiB tmpfs of the test's own),
and agents that fork, flood output or fill the disk (bounded: see "Disk" in docs/design-notes.md).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from groundtruth.runner import RunConfig, run
from groundtruth.sandbox import DockerSandbox, SandboxSpec
from tests.faults import Killer, RefusingEngine, cli_env, leftovers, process_state, scripted_agent

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
GT = [sys.executable, "-m", "groundtruth"]
SUBMIT_FAILURE = {"tool": "submit", "success": False, "confidence": 0.1, "summary": "did not finish"}


def _rows(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _task_with(tmp_path: Path, task_id: str, **changes: Any) -> Path:
    """A copy of leaked-token under another id, with setup commands appended or fields replaced."""
    spec = tomllib.loads((ROOT / "tasks" / "leaked-token" / "task.toml").read_text())
    spec["id"] = task_id
    for cmd in changes.pop("extra_setup", []):
        spec["setup"].setdefault("commands", []).append(cmd)
    spec.update(changes)
    folder = tmp_path / "tasks" / task_id
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(tomli_w.dumps(spec))
    (folder / "solution.sh").write_text((ROOT / "tasks" / "leaked-token" / "solution.sh").read_text())
    return tmp_path / "tasks"


def test_container_killed_during_setup_is_retried_as_infrastructure(tmp_path: Path) -> None:
    tasks = _task_with(tmp_path, "slow-setup", extra_setup=[{"run": "sleep 4.31", "user": "root"}])
    run_id = f"fault-setup-{uuid.uuid4().hex[:6]}"
    killer = Killer(run_id, "sleep 4.31")
    try:
        _, [res] = run(RunConfig(tasks=["slow-setup"], agents=["nop"], retries=2, tasks_dir=[str(tasks)]),
                       tmp_path / "gt.db", run_id=run_id)
    finally:
        killer.stop()
    assert len(killer.killed) == 1
    assert res.status == "done" and res.classification == "honest_failure" and res.attempts == 2
    [(attempt, error)] = _rows(tmp_path / "gt.db", "select attempt, error from attempts")
    assert attempt == 1 and "SandboxClosed" in error, error
    assert leftovers(run_id) == {"containers": 0, "volumes": 0, "images": 0}


def test_container_killed_during_agent_steps_is_retried_never_scored(tmp_path: Path) -> None:
    agent = scripted_agent(tmp_path, [{"tool": "bash", "cmd": "sleep 7.77; echo slept"}, SUBMIT_FAILURE])
    run_id = f"fault-steps-{uuid.uuid4().hex[:6]}"
    killer = Killer(run_id, "sleep 7.77")
    try:
        _, [res] = run(RunConfig(tasks=["leaked-token"], agents=[agent], retries=2), tmp_path / "gt.db",
                       run_id=run_id)
    finally:
        killer.stop()
    assert len(killer.killed) == 1
    assert res.status == "done" and res.attempts == 2, res
    assert res.classification == "honest_failure"  # the second attempt's own result, not the crash
    [(error,)] = _rows(tmp_path / "gt.db", "select error from attempts")
    assert "the sandbox container died while a command ran" in error, error
    # the stored transcript is the finished attempt's: the crashed one was forgotten, no duplicate steps
    steps = _rows(tmp_path / "gt.db", "select tool, observation from steps order by idx")
    assert [t for t, _ in steps] == ["bash", "submit"] and "slept" in steps[0][1]
    assert leftovers(run_id) == {"containers": 0, "volumes": 0, "images": 0}


@pytest.fixture()
def refusing(tmp_path: Path) -> Iterator[Any]:
    made: list[RefusingEngine] = []

    def make(refuse: int | None, drop: bool = False) -> RefusingEngine:
        sock = Path(f"/tmp/gt-refuse-{uuid.uuid4().hex[:8]}.sock")  # short: unix socket paths are limited
        proxy = RefusingEngine(sock, refuse, upstream=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
                               .removeprefix("unix://"), drop=drop)
        made.append(proxy)
        return proxy

    yield make
    for p in made:
        p.close()


def test_engine_refusing_then_recovering_is_retried_and_the_episode_finishes(tmp_path: Path, refusing: Any) -> None:
    proxy = refusing(2)
    db = tmp_path / "gt.db"
    res = subprocess.run([*GT, "run", "--task", "leaked-token", "--agent", "oracle", "--retries", "2", "--db",
                          str(db), "--json"], capture_output=True, text=True, timeout=300,
                         env=cli_env(DOCKER_HOST=proxy.url))
    assert res.returncode == 0, res.stderr
    [ep] = json.loads(res.stdout)["episodes"]
    assert proxy.refused == 2
    assert ep["status"] == "done" and ep["classification"] == "true_success" and ep["attempts"] == 3
    errors = [e for (e,) in _rows(db, "select error from attempts order by attempt")]
    assert len(errors) == 2 and all("refuses to create containers" in e for e in errors)
    assert leftovers(json.loads(res.stdout)["run_id"]) == {"containers": 0, "volumes": 0, "images": 0}


def test_an_engine_hanging_up_on_create_is_retried_in_place(tmp_path: Path, refusing: Any) -> None:
    """`RemoteDisconnected` on create (an overloaded engine, seen in CI) costs a moment, not an attempt."""
    proxy = refusing(2, drop=True)
    db = tmp_path / "gt.db"
    res = subprocess.run([*GT, "run", "--task", "leaked-token", "--agent", "oracle", "--retries", "0", "--db",
                          str(db), "--json"], capture_output=True, text=True, timeout=300,
                         env=cli_env(DOCKER_HOST=proxy.url))
    assert res.returncode == 0, res.stderr
    [ep] = json.loads(res.stdout)["episodes"]
    assert proxy.refused == 2
    assert ep["status"] == "done" and ep["classification"] == "true_success" and ep["attempts"] == 1
    assert leftovers(json.loads(res.stdout)["run_id"]) == {"containers": 0, "volumes": 0, "images": 0}


def test_engine_refusing_for_good_is_an_infra_error_not_an_agent_failure(tmp_path: Path, refusing: Any) -> None:
    proxy = refusing(None)
    db = tmp_path / "gt.db"
    res = subprocess.run([*GT, "run", "--task", "leaked-token", "--agent", "oracle,overclaimer", "--retries", "1",
                          "--db", str(db), "--json"], capture_output=True, text=True, timeout=300,
                         env=cli_env(DOCKER_HOST=proxy.url))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert {e["classification"] for e in out["episodes"]} == {"infra_error"}
    assert [row["infra_error"] for row in out["summary"]] == [1, 1]
    assert [row["false_success"] for row in out["summary"]] == [0, 0]  # never scored as the agent's failure
    assert _rows(db, "select count(*) from attempts")[0][0] == 4
    assert _rows(db, "select status from runs") == [("done",)]


def _wait_for(db: Path, sql: str, want: int, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if db.exists() and _rows(db, sql)[0][0] >= want:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {sql} >= {want}")


def test_sigkill_then_resume_summary_counts_every_episode_of_the_run(tmp_path: Path) -> None:
    db = tmp_path / "gt.db"
    proc = subprocess.Popen([*GT, "run", "--task", "leaked-token", "--agent", "oracle,nop", "--episodes", "3",
                             "--concurrency", "2", "--db", str(db), "--json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for(db, "select count(*) from episodes where status = 'done'", 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _rows(db, "select count(*) from episodes where status = 'done'")[0][0]
    assert 2 <= done_before < 6
    res = subprocess.run([*GT, "run", "--resume", "--db", str(db), "--json"], capture_output=True, text=True,
                         timeout=600, env=cli_env())
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert len(out["episodes"]) == 6 and len({e["id"] for e in out["episodes"]}) == 6
    assert sum(row["episodes"] for row in out["summary"]) == 6  # not only this invocation's
    assert {row["agent"]: row["verified_success"] for row in out["summary"]} == {"oracle": 3, "nop": 0}
    assert _rows(db, "select count(*), count(distinct id) from episodes") == [(6, 6)]
    assert _rows(db, "pragma integrity_check") == [("ok",)]
    assert leftovers(out["run_id"]) == {"containers": 0, "volumes": 0, "images": 0}


def test_ctrl_c_says_how_to_continue_and_leaves_nothing(tmp_path: Path) -> None:
    db = tmp_path / "gt.db"
    proc = subprocess.Popen([*GT, "run", "--task", "leaked-token", "--agent", "cmd:sleep 600", "--episodes", "2",
                             "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env())
    _wait_for(db, "select count(*) from episodes where status = 'running'", 1)
    run_id = _rows(db, "select id from runs")[0][0]
    deadline = time.monotonic() + 120
    while not leftovers(run_id)["containers"] and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"continue with: groundtruth run --resume --db {db} --run-id {run_id}" in err, err
    assert "Traceback" not in err
    assert _rows(db, "select status from runs") == [("interrupted",)]
    assert leftovers(run_id) == {"containers": 0, "volumes": 0, "images": 0}


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of this test's own, for the database only; unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_database_disk_full_stops_cleanly_keeps_what_is_stored_and_resumes(tmp_path: Path, tiny_disk: Path) -> None:
    plan = [{"tool": "bash", "cmd": "head -c 9000 /dev/zero | tr '\\0' x"} for _ in range(10)] + [SUBMIT_FAILURE]
    agent = scripted_agent(tmp_path, plan, "chatty")
    db = tiny_disk / "gt.db"
    res = subprocess.run([*GT, "run", "--task", "leaked-token", "--agent", agent, "--episodes", "6",
                          "--concurrency", "2", "--db", str(db)], capture_output=True, text=True, timeout=600,
                         env=cli_env())
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: cannot write to") and "disk is full" in lines[-1], res.stderr
    assert "groundtruth run --resume --db" in lines[-1] and "Traceback" not in res.stderr
    run_id = lines[-1].rsplit("--run-id ", 1)[1].strip()
    assert _rows(db, "pragma integrity_check") == [("ok",)]
    done = _rows(db, "select count(*) from episodes where status = 'done'")[0][0]
    assert 1 <= done < 6  # what finished before the disk filled is kept
    assert leftovers(run_id) == {"containers": 0, "volumes": 0, "images": 0}
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)  # "free space"
    res = subprocess.run([*GT, "run", "--resume", "--db", str(db), "--json"], capture_output=True, text=True,
                         timeout=600, env=cli_env())
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["episodes"]) == 6
    assert _rows(db, "select status, count(*) from episodes group by status") == [("done", 6)]
    dupes = _rows(db, "select episode_id, idx from steps group by episode_id, idx having count(*) > 1")
    assert dupes == []


def _episode(db: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    [ep] = [dict(r) for r in con.execute("select * from episodes")]
    steps = [tuple(r) for r in con.execute("select tool, observation from steps order by idx")]
    con.close()
    return ep, steps


def test_agent_that_forks_in_the_sandbox_and_on_the_host_is_contained(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    agent = scripted_agent(tmp_path, [
        {"tool": "bash", "cmd": "bomb() { bomb | bomb & }; bomb; sleep 3", "timeout": 6},
        {"fork_host": str(pidfile)},
        {"tool": "bash", "cmd": "echo still here"},
        SUBMIT_FAILURE,
    ])
    run_id, [res] = run(RunConfig(tasks=["leaked-token"], agents=[agent]), tmp_path / "gt.db")
    # verified as usual; on a loaded machine the bomb can stall the agent's commands until the task's time
    # budget runs out, and then the episode ends without a claim, as documented
    assert res.status == "done" and res.classification in ("honest_failure", "no_claim"), res
    ep, steps = _episode(tmp_path / "gt.db")
    assert "Resource temporarily unavailable" in steps[0][1], steps[0][1][:500]  # the pids limit held it
    if res.classification == "honest_failure":
        assert "still here" in steps[1][1]  # the bomb was swept: the sandbox works again
    assert json.loads(ep["verdict"])["outcome"] == "failure"
    assert process_state(int(pidfile.read_text())) in (None, "Z")  # what the agent forked on the host is gone
    assert leftovers(run_id) == {"containers": 0, "volumes": 0, "images": 0}


def test_agent_that_floods_output_is_bounded_and_its_stderr_kept(tmp_path: Path) -> None:
    agent = scripted_agent(tmp_path, [
        {"stderr": 3_000_000},
        {"tool": "bash", "cmd": "head -c 50000000 /dev/zero | tr '\\0' a; head -c 5000000 /dev/zero >&2"},
        {"junk": 3},
        SUBMIT_FAILURE,
    ])
    run_id, [res] = run(RunConfig(tasks=["leaked-token"], agents=[agent]), tmp_path / "gt.db")
    assert res.status == "done" and res.classification == "honest_failure", res
    _, steps = _episode(tmp_path / "gt.db")
    assert [t for t, _ in steps] == ["bash", "invalid", "invalid", "invalid", "submit"]
    assert "(output truncated)" in steps[0][1] and len(steps[0][1]) < 17_000
    [(text, size, truncated)] = _rows(tmp_path / "gt.db", "select text, bytes, truncated from agent_stderr")
    assert size == 3_000_000 and truncated == 1
    assert len(text) < 70_000 and "bytes of stderr not kept" in text
    assert leftovers(run_id) == {"containers": 0, "volumes": 0, "images": 0}


def test_agent_that_fills_the_disk_hits_the_sandbox_bounds_not_the_host(tmp_path: Path) -> None:
    agent = scripted_agent(tmp_path, [
        {"tool": "bash", "cmd": "dd if=/dev/zero of=/tmp/fill bs=1M count=100 2>&1 | head -1; "
                                "dd if=/dev/zero of=/var/tmp/fill bs=1M count=100 2>&1 | head -1; df -m /tmp"},
        {"tool": "bash", "cmd": "dd if=/dev/zero of=/workspace/fill bs=1M count=300 2>&1; ls -l /workspace/fill",
         "timeout": 60},
        SUBMIT_FAILURE,
    ])
    run_id, [res] = run(RunConfig(tasks=["leaked-token"], agents=[agent]), tmp_path / "gt.db")
    assert res.status == "done" and res.classification == "honest_failure", res
    _, steps = _episode(tmp_path / "gt.db")
    assert steps[0][1].count("No space left on device") == 2, steps[0][1]
    assert "File size limit exceeded" in steps[1][1], steps[1][1]
    assert f"{128 * 1024 * 1024} " in steps[1][1]  # stopped at RLIMIT_FSIZE (128 MiB), not at 300 MiB
    assert leftovers(run_id) == {"containers": 0, "volumes": 0, "images": 0}


def test_scratch_space_is_seen_by_the_engine_archive_api(sandbox_image: str) -> None:
    """/tmp is a tmpfs volume, not docker's tmpfs mount: setup files land there and verifiers read it."""
    with DockerSandbox.create(SandboxSpec(image=sandbox_image, run_id=f"scratch-{uuid.uuid4().hex[:6]}")) as sb:
        sb.write_file("/tmp/from-engine.txt", "placed by setup")
        assert sb.exec("cat /tmp/from-engine.txt").stdout == "placed by setup"
        sb.exec("echo hidden by the agent > /var/tmp/stash.txt")
        assert sb.read_text("/var/tmp/stash.txt") == "hidden by the agent\n"
        assert sb.stat("/var/tmp/stash.txt").exists


def test_bad_input_beside_a_live_run_never_harms_it(tmp_path: Path) -> None:
    db = tmp_path / "gt.db"
    live = subprocess.Popen([*GT, "run", "--task", "leaked-token", "--agent", "oracle,nop", "--episodes", "2",
                             "--db", str(db), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env())
    _wait_for(db, "select count(*) from episodes where status = 'running'", 1)
    for args in (["run", "--episodes", "0", "--db", str(db)], ["run", "--agent", "nosuch", "--db", str(db)],
                 ["run", "--resume", "--run-id", "no-such-run", "--db", str(db)], ["audit", "--db", str(db)],
                 ["sandbox", "prune"], ["sandbox", "prune", "--stale"]):
        res = subprocess.run([*GT, *args], capture_output=True, text=True, timeout=300, env=cli_env())
        assert "Traceback" not in res.stderr, (args, res.stderr)
    out, err = live.communicate(timeout=600)
    assert live.returncode == 0, err
    result = json.loads(out)
    assert [e["status"] for e in result["episodes"]] == ["done"] * 4
    assert _rows(db, "pragma integrity_check") == [("ok",)]


def test_an_engine_too_busy_to_answer_is_an_infrastructure_error() -> None:
    """Seen in the soak at load 200+: the Docker client's read timeout is a requests error, not a Docker one."""
    from requests.exceptions import ReadTimeout

    from groundtruth.errors import InfrastructureError
    from groundtruth.sandbox.docker import _engine_call

    def busy() -> None:
        raise ReadTimeout("Read timed out. (read timeout=120)")

    with pytest.raises(InfrastructureError, match="exec: Docker engine error: Read timed out"):
        _engine_call("exec", busy)
