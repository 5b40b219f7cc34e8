"""The Ray executor on a real Ray cluster (a head and a second node process on loopback, both on this
machine's Docker engine): a run spreads over both nodes, one node is killed mid-run, and the store still holds
every episode exactly once with the verdicts the scripted agents are known to earn."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundtruth.cluster.node import LOST_ATTEMPT
from groundtruth.cluster.recorder import EpisodeRecorder, replay
from groundtruth.runner import RunConfig, plan, run_episode
from groundtruth.store import Store
from groundtruth.tasks.registry import Registry

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[test,ray]'")

from tests.raycluster import ENV, Cluster  # noqa: E402

GT = [sys.executable, "-m", "groundtruth"]
EXPECTED = {"oracle": ("success", "true_success", 2), "nop": ("failure", "honest_failure", 1)}


def _rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(conn.execute(sql, args))
    except sqlite3.OperationalError:
        return []  # the driver has not created the tables yet
    finally:
        conn.close()


def _run_containers(run_id: str) -> list[dict[str, object]]:
    from groundtruth.sandbox.engine import LABEL_RUN, client

    return list(client().api.containers(all=True, filters={"label": f"{LABEL_RUN}={run_id}"}))


@pytest.fixture(scope="module")
def cluster(sandbox_image: str) -> Iterator[Cluster]:
    c = Cluster()
    try:
        c.start([2, 2])
        yield c
    finally:
        c.stop()


@pytest.mark.docker
@pytest.mark.ray
def test_run_spreads_over_nodes_and_survives_losing_one(cluster: Cluster, tmp_path: Path) -> None:
    db = tmp_path / "gt.db"
    run_id = f"pytest-ray-{uuid.uuid4().hex[:8]}"
    head, doomed = cluster.nodes
    cmd = [*GT, "run", "--task", "leaked-token", "--agent", "oracle,nop", "--episodes", "5", "--executor", "ray",
           "--address", cluster.address, "--db", str(db), "--run-id", run_id, "--retries", "2", "--json"]
    driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **ENV})
    out: dict[str, str] = {}
    reader = threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"), driver.communicate(), strict=True)))
    reader.start()
    # Kill the second node once it has finished an episode (the run is spread) and runs another (in flight).
    killed_episode = None
    try:
        deadline = time.time() + 180
        while time.time() < deadline and driver.poll() is None:
            done_there = _rows(db, "select id from episodes where run_id = ? and node = ? and status = 'done'",
                               run_id, doomed.node_id)
            if done_there:
                pids = doomed.pids()
                mine = [c for c in _run_containers(run_id)
                        if int(str(c["Labels"]["groundtruth.owner"]).rpartition(":")[2]) in pids]  # type: ignore[index]
                if mine:
                    killed_episode = str(mine[0]["Labels"]["groundtruth.episode"])  # type: ignore[index]
                    doomed.kill()
                    break
            time.sleep(0.2)
        reader.join(timeout=240)
    finally:
        if driver.poll() is None:
            driver.kill()
            reader.join(timeout=30)
    assert not reader.is_alive(), "the run did not finish after the node was lost"
    assert driver.returncode == 0, out.get("stderr", "")[-3000:]
    assert killed_episode is not None, "the second node never had an episode in flight after finishing one"

    # every planned episode once, with the verdict its agent earns; none counted twice
    episodes = json.loads(out["stdout"])["episodes"]
    assert len(episodes) == 10 and len({e["id"] for e in episodes}) == 10
    rows = _rows(db, "select id, agent, status, verified, classification, steps, node, attempt from episodes "
                     "where run_id = ?", run_id)
    assert len(rows) == 10
    for _id, agent, status, verified, classification, steps, _node, _attempt in rows:
        assert (status, verified, classification, steps) == ("done", *EXPECTED[str(agent)]), _id
    for episode_id, n in _rows(db, "select e.id, count(s.idx) from episodes e left join steps s "
                                   "on s.episode_id = e.id where e.run_id = ? group by e.id", run_id):
        agent = str(episode_id).split("/")[3]
        assert n == EXPECTED[agent][2], f"{episode_id}: {n} steps stored"

    # spread over both nodes; the lost episode finished on the head as a second attempt
    nodes = {str(r[6]) for r in rows}
    assert nodes == {head.node_id, doomed.node_id}
    lost = {r[0]: r for r in rows}[killed_episode]
    attempt = int(str(lost[7]))
    assert lost[6] == head.node_id and attempt >= 2
    assert _rows(db, "select attempt, error from attempts where episode_id = ? order by attempt", killed_episode) == \
        [(i, LOST_ATTEMPT) for i in range(1, attempt)]  # each lost attempt once, numbered before the one stored
    assert _rows(db, "select status from runs where id = ?", run_id) == [("done",)]
    assert _run_containers(run_id) == []  # the head's keeper swept the dead node's container too


@pytest.mark.docker
@pytest.mark.ray
def test_unreachable_address_is_one_line(tmp_path: Path) -> None:
    from tests.raycluster import free_ports

    port = free_ports(1)[0]
    res = subprocess.run([*GT, "run", "--task", "leaked-token", "--executor", "ray", "--address", f"127.0.0.1:{port}",
                          "--db", str(tmp_path / "gt.db")], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in res.stderr
    assert not (tmp_path / "gt.db").exists()


def test_ray_missing_says_which_extra(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "from groundtruth.cli import main; sys.argv = ['groundtruth', 'run', '--executor', 'ray', '--task', "
            f"'leaked-token', '--db', {str(tmp_path / 'gt.db')!r}]; main()")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "pip install 'groundtruth[ray]'" in res.stderr


def test_no_engine_node_is_refused() -> None:
    """Pure logic against Ray's node listing: a cluster whose nodes lack the resource runs nothing."""
    from groundtruth.cluster.executor import start_keepers
    from groundtruth.errors import GroundtruthError

    class Listing:
        @staticmethod
        def nodes() -> list[dict[str, object]]:
            return [{"NodeID": "a" * 56, "Alive": True, "Resources": {"CPU": 4.0}},
                    {"NodeID": "b" * 56, "Alive": False, "Resources": {"docker_engine": 2.0}}]

    with pytest.raises(GroundtruthError, match="no node of the Ray cluster advertises a docker_engine resource"):
        start_keepers(Listing, "run-x")  # type: ignore[arg-type]


@pytest.mark.docker
def test_recorded_writes_replay_to_what_a_direct_run_stores(tmp_path: Path, sandbox_image: str) -> None:
    """The worker-side recorder loses nothing: one episode run against the store and one recorded, then
    replayed, give the same rows (ids and clock times aside)."""
    config = RunConfig(tasks=["leaked-token"], agents=["oracle"])
    direct, replayed = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    recorder = EpisodeRecorder()
    for store, sink, rid in ((direct, direct, "r1"), (replayed, recorder, "r2")):
        store.begin_run(rid, config.model_dump())
        run_episode(plan(config, Registry([]), rid)[0], config, sink, threading.Event())
    replay(recorder.writes, replayed, node="n1")

    def shape(store: Store) -> list[object]:
        ep = store.episodes()[0]
        keep = ("status", "verified", "classification", "claimed_success", "reward", "steps", "attempt")
        steps = [(r["idx"], r["tool"], r["exit_code"]) for r in store.db.query("select * from steps order by idx")]
        checks = [(r["check_id"], r["status"]) for r in store.db.query("select * from checks order by check_id")]
        claims = [(r["success"], r["confidence"]) for r in store.db.query("select * from claims")]
        return [{k: ep[k] for k in keep}, json.loads(ep["verdict"])["outcome"], steps, checks, claims]

    assert shape(direct) == shape(replayed)
    assert shape(replayed)[0]["classification"] == "true_success"
    ep = replayed.episodes()[0]
    assert ep["node"] == "n1" and 0 < ep["seconds"] < 600


@pytest.mark.docker
@pytest.mark.ray
def test_interrupted_cluster_run_resumes_on_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    """Ctrl-C stops a cluster run cleanly (containers gone, run marked interrupted, nothing half-stored) and
    `--resume` finishes it on the cluster, each episode once. The agent waits for a gate file before acting,
    so the first invocation is surely interrupted mid-episode."""
    db, gate, run_id = tmp_path / "gt.db", tmp_path / "gate", f"pytest-ray-{uuid.uuid4().hex[:8]}"
    agent = (f"cmd:sh -c 'while [ ! -e {gate} ]; do sleep 0.2; done; "
             f"exec {sys.executable} {Path(__file__).parents[1] / 'examples' / 'agent.py'}'")
    where = ["--executor", "ray", "--address", cluster.address, "--db", str(db), "--run-id", run_id]
    env = {**os.environ, **ENV}
    first = subprocess.Popen([*GT, "run", "--task", "leaked-token", "--agent", agent, "--episodes", "3", *where],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(_run_containers(run_id)) < 2:
            time.sleep(0.2)
        assert len(_run_containers(run_id)) >= 2, "no episode started on the cluster"
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err[-2000:]
    assert "continue with: groundtruth run --resume" in err
    assert _run_containers(run_id) == []
    assert _rows(db, "select status from runs where id = ?", run_id) == [("interrupted",)]
    assert _rows(db, "select count(*) from episodes where run_id = ? and status in ('done', 'infra_error')",
                 run_id) == [(0,)]

    gate.touch()
    res = subprocess.run([*GT, "run", "--resume", *where, "--json"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(e["classification"] for e in json.loads(res.stdout)["episodes"]) == ["honest_failure"] * 3
    rows = _rows(db, "select status, classification, node from episodes where run_id = ?", run_id)
    assert len(rows) == 3 and all(r[:2] == ("done", "honest_failure") for r in rows)
    assert {r[2] for r in rows} <= {n.node_id for n in cluster.nodes if n.proc.poll() is None}
    assert _run_containers(run_id) == []
