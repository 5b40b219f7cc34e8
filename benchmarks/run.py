"""The performance suite of issue 11: groundtruth against baselines measured in the same run, as ratios.

    .venv/bin/python benchmarks/run.py [--quick] [--json FILE] [--plot FILE.png] [--concurrency 1,4,16]

Every number is a median (p50) and p95 of wall-clock samples on this machine, beside the load average when
it was taken; a ratio compares two numbers of the same run (background load hits both alike), so ratios are
the figures to compare across machines, not milliseconds.

Measured:
  step       `env.step({"tool": "bash", "cmd": "true"})` through GroundtruthEnv, against `docker exec` via the
             CLI and one exec through the docker SDK (exec_create + exec_start + exec_inspect), same container
  reset      `env.reset()` of leaked-token, ready for the agent (prepared worlds on unless --cold), against
             `docker run --rm` of the same image running `true`
  verify     `World.verify()` per task: file and SQLite tasks apart from test-running (coding) tasks
  episode    a do-nothing agent (submit at once) through GroundtruthEnv, reset to verdict: with its world
             prepared ahead, and back to back (each reset waits for the next world's preparation)
  throughput a scripted agent (one look around, then submit) over the file and SQLite tasks (and, without
             --quick, the whole shell catalog, whose coding tasks run pytest) with `groundtruth run`,
             against a naive harness at the same concurrency: `docker run` per episode, CLI `docker exec` per
             step, checks in a new container (`docker commit` + `docker run --rm`), `docker rm -f`
  idle world memory of one idle prepared world (cgroup usage minus page cache), MiB
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from groundtruth import taskimage
from groundtruth.env.core import GroundtruthEnv
from groundtruth.env.definitions import definition_for
from groundtruth.runner import RunConfig, run
from groundtruth.sandbox.engine import client
from groundtruth.sandbox.prune import prune
from groundtruth.tasks.pool import WorldPool
from groundtruth.tasks.registry import Registry
from groundtruth.tasks.spec import Task
from groundtruth.tasks.world import World

RUN_ID = f"bench-{uuid.uuid4().hex[:8]}"
HARDENING = ["--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--init",
             "--memory", "512m", "--memory-swap", "512m", "--pids-limit", "256", "--cpus", "1",
             "--label", "groundtruth.managed=1", "--label", f"groundtruth.run={RUN_ID}"]
FILE_TASKS = ["leaked-token", "disable-feature-flag", "sqlite-price-update", "delete-user-uploads"]
TEST_TASKS = ["code-fix-parser", "code-fix-pagination"]


def load() -> float:
    return os.getloadavg()[0]


def sh(*cmd: str) -> str:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=True).stdout.strip()


def stats(samples: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds (p95 by nearest rank, so a handful of samples still gives one)."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50": round(statistics.median(ordered) * 1000, 2), "p95": round(p95 * 1000, 2), "n": len(ordered)}


def timed(fn: Callable[[], Any], n: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


COLD = False


def make_env(task: Task, **kw: Any) -> GroundtruthEnv:
    """With a pool of prepared worlds unless --cold (the way `groundtruth run` and a trainer would use it)."""
    pool = None if COLD else WorldPool(run_id=RUN_ID, max_worlds=1)
    return GroundtruthEnv(definition_for(task.spec.env), task=task, run_id=RUN_ID, max_steps=100_000, pool=pool,
                          **kw)


def close_env(env: GroundtruthEnv) -> None:
    env.close()
    if env.pool is not None:
        env.pool.close()


# step ----------------------------------------------------------------------------------------------------
def bench_step(task: Task, n: int) -> dict[str, Any]:
    env = make_env(task)
    env.reset(seed=0)
    try:
        assert env.world is not None and env.world.sandbox is not None
        cid = env.world.sandbox.container_id
        api = client().api

        def sdk() -> None:
            ex = api.exec_create(cid, ["true"], user="agent")
            api.exec_start(ex["Id"])
            api.exec_inspect(ex["Id"])

        def step() -> None:
            obs, _, term, trunc, _info = env.step({"tool": "bash", "cmd": "true"})
            if term or trunc or not obs.startswith("exit code 0"):
                raise RuntimeError(f"the step did not run: {obs[:200]}")

        rounds: dict[str, list[float]] = {"step": [], "cli": [], "sdk": []}
        for _ in range(2):
            step()
        for _ in range(max(1, n // 10)):  # interleaved in rounds, so load hits all three alike
            rounds["step"] += timed(step, 10, 0)
            rounds["cli"] += timed(lambda: sh("docker", "exec", "-u", "agent", cid, "true"), 2, 0)
            rounds["sdk"] += timed(sdk, 10, 0)
        channel = getattr(env.world.sandbox, "channel_state", lambda: "none")()
    finally:
        close_env(env)
    s, c, k = stats(rounds["step"]), stats(rounds["cli"]), stats(rounds["sdk"])
    return {"step": s, "cli_exec": c, "sdk_exec": k, "channel": channel,
            "step_ratio_vs_cli_exec": round(c["p50"] / s["p50"], 2),
            "step_ratio_vs_sdk_exec": round(k["p50"] / s["p50"], 2)}


# reset ---------------------------------------------------------------------------------------------------
def bench_reset(task: Task, n: int, image: str) -> dict[str, Any]:
    env = make_env(task)
    samples: list[float] = []
    runs: list[float] = []
    misses_before = _pool_misses(env)
    try:
        env.reset(seed=0)
        for i in range(1, n + 1):
            _wait_prepared(env, i)  # "prepared ahead": the world for this reset is ready, nothing competes
            runs += timed(lambda: sh("docker", "run", "--rm", *HARDENING, image, "true"), 1, 0)
            t = time.perf_counter()
            env.reset(seed=i)
            samples.append(time.perf_counter() - t)
        misses = _pool_misses(env) - misses_before
    finally:
        close_env(env)
    r, d = stats(samples), stats(runs)
    return {"reset": r, "docker_run": d, "reset_ratio_vs_docker_run": round(d["p50"] / r["p50"], 2),
            "pool_misses": misses}


def _wait_prepared(env: GroundtruthEnv, count: int, give_up: float = 120.0) -> None:
    end = time.monotonic() + give_up
    while env.pool is not None and env.pool.stats().prepared + env.pool.stats().failed < count:
        if time.monotonic() > end:
            break
        time.sleep(0.05)


def _wait_next_ready(env: GroundtruthEnv, give_up: float = 120.0) -> None:
    """Until a prepared world nobody took yet is ready."""
    end = time.monotonic() + give_up
    while env.pool is not None and time.monotonic() < end:
        st = env.pool.stats()
        if st.prepared + st.failed > st.hits + st.discarded:
            return
        time.sleep(0.01)


def _pool_misses(env: GroundtruthEnv) -> int:
    pool = getattr(env, "pool", None)
    return int(pool.stats().misses) if pool is not None else -1


# verify --------------------------------------------------------------------------------------------------
def bench_verify(tasks: list[Task], n: int) -> dict[str, Any]:
    per: dict[str, list[float]] = {}
    for task in tasks:
        for _ in range(n):
            with World(task, run_id=RUN_ID) as w:
                t = time.perf_counter()
                w.verify()
                per.setdefault(task.id, []).append(time.perf_counter() - t)
    return {tid: stats(v) for tid, v in per.items()}


# episode -------------------------------------------------------------------------------------------------
def bench_episode(task: Task, n: int) -> dict[str, Any]:
    """Two figures: an episode whose world was prepared ahead (the pool given time between episodes, as in a
    run where agents think between steps), and episodes back to back, where every reset waits for the next
    world's preparation (container start, setup, baseline): that one is bounded by preparation, not by us."""
    env = make_env(task)
    submit = {"tool": "submit", "success": False, "confidence": 0.1, "summary": "nothing done"}
    seeds = iter(range(1_000_000))

    def episode() -> None:
        env.reset(seed=next(seeds))  # consecutive seeds: what the pool prepares next
        _, _, term, _, info = env.step(submit)
        if not term or "verdict" not in info:
            raise RuntimeError(f"the episode did not end in a verdict: {info.get('infra_error')}")

    try:
        episode()
        prepared: list[float] = []
        for _ in range(n):
            _wait_next_ready(env)
            prepared += timed(episode, 1, 0)
        back_to_back = timed(episode, n, 0)
    finally:
        close_env(env)
    return {**stats(prepared), "back_to_back": stats(back_to_back)}


# throughput ----------------------------------------------------------------------------------------------
def naive_episode(image: str) -> None:
    """What a harness without groundtruth does: a fresh container, the CLI per step, checks in a new one."""
    cid = sh("docker", "run", "-d", *HARDENING, image, "sleep", "600")
    snap = ""
    try:
        sh("docker", "exec", "-u", "agent", cid, "sh", "-c", "mkdir -p /workspace && echo tok > /workspace/n")
        sh("docker", "exec", "-u", "agent", cid, "sh", "-c", "ls -la ~ /workspace | head -20")
        snap = sh("docker", "commit", "--change", f"LABEL groundtruth.run={RUN_ID}", cid)
        subprocess.run(["docker", "run", "--rm", *HARDENING, snap, "sh", "-c", "! grep -r tok /workspace"],
                       capture_output=True, check=False)
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=False)
        if snap:
            subprocess.run(["docker", "rmi", "-f", snap], capture_output=True, check=False)


def bench_throughput(tasks: list[Task], levels: list[int], episodes: int, image: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in levels:
        n = max(episodes, c)
        ids = [tasks[i % len(tasks)].id for i in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            cfg = RunConfig(tasks=list(dict.fromkeys(ids)), agents=["overclaimer"], concurrency=c,
                            episodes=max(1, n // len(set(ids))), retries=0)
            la = load()
            t = time.perf_counter()
            _, results = run(cfg, Path(tmp) / "bench.db")
            ours = time.perf_counter() - t
        done = sum(1 for r in results if r.status == "done")
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=c) as pool:
            list(pool.map(lambda _: naive_episode(image), range(len(results))))
        naive = time.perf_counter() - t
        ours_rate, naive_rate = done / ours * 60, len(results) / naive * 60
        out[str(c)] = {"episodes": len(results), "done": done, "episodes_per_min": round(ours_rate, 1),
                       "naive_episodes_per_min": round(naive_rate, 1),
                       "ratio_vs_naive": round(ours_rate / naive_rate, 2), "load": round(la, 2)}
    return out


# idle world memory -------------------------------------------------------------------------------------
def bench_idle_memory(task: Task) -> float:
    with World(task, run_id=RUN_ID) as w:
        assert w.sandbox is not None
        time.sleep(1.0)
        st = client().api.stats(w.sandbox.container_id, stream=False)
        mem = st.get("memory_stats") or {}
        usage = int(mem.get("usage", 0))
        cache = int((mem.get("stats") or {}).get("inactive_file", (mem.get("stats") or {}).get("cache", 0)))
        return round((usage - cache) / (1024 * 1024), 1)


@contextlib.contextmanager
def section(name: str, loads: dict[str, float]) -> Iterator[None]:
    loads[name] = round(load(), 2)
    t = time.perf_counter()
    print(f"[{name}] load {loads[name]} ...", file=sys.stderr, flush=True)
    yield
    print(f"[{name}] {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples, concurrency 1 and 4 "
                                                        "(about two minutes idle, three under load)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    ap.add_argument("--plot", metavar="FILE", help="also draw the throughput curves to FILE (PNG)")
    ap.add_argument("--concurrency", default=None, help="throughput levels, e.g. 1,4,16,64 (default 1,4,16)")
    ap.add_argument("--cold", action="store_true",
                    help="no prepared worlds, no exec channel, no host view, cold pytest: the engine-only path")
    ap.add_argument("--only", default="", help="comma-separated sections: step,reset,verify,episode,throughput,"
                                               "memory (default: all)")
    args = ap.parse_args()
    global COLD
    COLD = args.cold
    if args.cold:
        os.environ["GROUNDTRUTH_EXEC_CHANNEL"] = "0"
        os.environ["GROUNDTRUTH_PREPARE"] = "0"
        os.environ["GROUNDTRUTH_HOST_VIEW"] = "0"
        os.environ["GROUNDTRUTH_WARM_PYTEST"] = "0"
    reg = Registry([])
    lt = reg.get("leaked-token")
    image = taskimage.tag(lt)
    n = 20 if args.quick else 100
    levels = [int(x) for x in (args.concurrency or ("1,4" if args.quick else "1,4,16")).split(",")]
    only = set(filter(None, args.only.split(","))) or {"step", "reset", "verify", "episode", "throughput", "memory"}
    shell_tasks = [t for t in reg.select(["*"]) if not definition_for(t.spec.env).conversation]
    res: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                       "docker": client().version().get("Version"),
                                       "storage_driver": client().info().get("Driver")},
                           "quick": args.quick, "cold": args.cold, "load": {}}
    loads: dict[str, float] = res["load"]
    started = time.perf_counter()
    try:
        if "step" in only:
            with section("step", loads):
                st = bench_step(lt, n if args.quick else 200)
            res["step"] = st
            res["step_overhead_ms_p50"] = st["step"]["p50"]
            res["step_overhead_ms_p95"] = st["step"]["p95"]
            res["step_ratio_vs_cli_exec"] = st["step_ratio_vs_cli_exec"]
            res["step_ratio_vs_sdk_exec"] = st["step_ratio_vs_sdk_exec"]
        if "reset" in only:
            with section("reset", loads):
                rs = bench_reset(lt, 5 if args.quick else 30, image)
            res["reset"] = rs
            res["reset_ms_p50"] = rs["reset"]["p50"]
            res["reset_ms_p95"] = rs["reset"]["p95"]
            res["reset_ratio_vs_docker_run"] = rs["reset_ratio_vs_docker_run"]
        if "verify" in only:
            with section("verify", loads):
                files = bench_verify([reg.get(t) for t in FILE_TASKS[: 2 if args.quick else None]],
                                     1 if args.quick else 5)
                tests = bench_verify([reg.get(t) for t in TEST_TASKS[: 1 if args.quick else None]],
                                     1 if args.quick else 3)
            res["verify"] = {"files": files, "tests": tests}
            res["verify_ms_p50"] = round(statistics.median(v["p50"] for v in files.values()), 1)
            res["verify_tests_ms_p50"] = round(statistics.median(v["p50"] for v in tests.values()), 1)
        if "episode" in only:
            with section("episode", loads):
                ep = bench_episode(lt, 4 if args.quick else 20)
            res["episode_nop"] = ep
            res["episode_ms_p50_nop"] = ep["p50"]
            res["episode_ms_p50_nop_back_to_back"] = ep["back_to_back"]["p50"]
        if "throughput" in only:
            with section("throughput", loads):
                # file and SQLite tasks: the work the naive harness's one grep stands for
                tp = bench_throughput([reg.get(t) for t in FILE_TASKS], levels, 4 if args.quick else 16, image)
                res["throughput"] = tp
                res["throughput_ratio_vs_naive"] = {c: v["ratio_vs_naive"] for c, v in tp.items()}
                if not args.quick:  # the whole shell catalog: coding tasks run pytest at verification
                    cat = bench_throughput(shell_tasks, levels, 16, image)
                    res["throughput_catalog"] = cat
                    res["throughput_catalog_ratio_vs_naive"] = {c: v["ratio_vs_naive"] for c, v in cat.items()}
        if "memory" in only:
            with section("memory", loads):
                res["idle_world_mib"] = bench_idle_memory(lt)
    finally:
        prune(run_id=RUN_ID)
    res["seconds"] = round(time.perf_counter() - started, 1)
    report(res)
    if args.plot and res.get("throughput"):
        plot(res, Path(args.plot))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")


def plot(res: dict[str, Any], path: Path) -> None:
    """Episodes per minute against concurrency, ours and the naive harness's, per task set."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4))
    ax = fig.add_subplot()
    for label, key, style in (("file tasks", "throughput", "-"), ("shell catalog", "throughput_catalog", "--")):
        rows = res.get(key) or {}
        if not rows:
            continue
        levels = sorted(rows, key=int)
        xs = [int(c) for c in levels]
        ax.plot(xs, [rows[c]["episodes_per_min"] for c in levels], "o" + style, label=f"groundtruth, {label}")
        ax.plot(xs, [rows[c]["naive_episodes_per_min"] for c in levels], "x" + style,
                label=f"naive harness, {label}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrency (episodes at once)")
    ax.set_ylabel("episodes per minute")
    ax.set_title(f"throughput on {res['machine']['cpus']} cores ({res['machine']['storage_driver']})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"plot: {path}")


def report(res: dict[str, Any]) -> None:
    kind = "quick" if res["quick"] else "full"
    print(f"groundtruth benchmark ({kind}, {res['seconds']} s; machine {res['machine']}; cold: {res['cold']})")
    print(f"load average at each section: {res['load']}")
    if "step" in res:
        s = res["step"]
        print(f"step      p50 {s['step']['p50']} ms  p95 {s['step']['p95']} ms  (channel: {s['channel']})")
        print(f"          cli exec p50 {s['cli_exec']['p50']} ms -> {s['step_ratio_vs_cli_exec']}x; "
              f"sdk exec p50 {s['sdk_exec']['p50']} ms -> {s['step_ratio_vs_sdk_exec']}x")
    if "reset" in res:
        r = res["reset"]
        print(f"reset     p50 {r['reset']['p50']} ms  p95 {r['reset']['p95']} ms; docker run p50 "
              f"{r['docker_run']['p50']} ms -> {r['reset_ratio_vs_docker_run']}x  (pool misses: {r['pool_misses']})")
    if "verify" in res:
        for kind, rows in res["verify"].items():
            for tid, v in rows.items():
                print(f"verify    {kind:<5} {tid:<24} p50 {v['p50']} ms  p95 {v['p95']} ms")
    if "episode_nop" in res:
        e = res["episode_nop"]
        print(f"episode   nop, world prepared ahead p50 {e['p50']} ms  p95 {e['p95']} ms; back to back (waits "
              f"for each world's preparation) p50 {e['back_to_back']['p50']} ms")
    for label, key in (("files", "throughput"), ("catalog", "throughput_catalog")):
        for c, v in (res.get(key) or {}).items():
            print(f"throughput {label:<7} c={c:<3} {v['episodes_per_min']} episodes/min vs naive "
                  f"{v['naive_episodes_per_min']} -> {v['ratio_vs_naive']}x  "
                  f"({v['done']}/{v['episodes']} done, load {v['load']})")
    if "idle_world_mib" in res:
        print(f"idle prepared world: {res['idle_world_mib']} MiB")


if __name__ == "__main__":
    main()
