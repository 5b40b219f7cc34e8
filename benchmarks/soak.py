"""Soak: hundreds of episodes at high concurrency over the whole catalog, honest and hostile agents mixed, then
a ledger of what load did to the engine, the store and the host. Not part of the test suite (it takes long).

    .venv/bin/python benchmarks/soak.py                          # >= 500 episodes at concurrency 16
    .venv/bin/python benchmarks/soak.py --target 60 --concurrency 4 --db /tmp/soak.db --json

Agents: honest (oracle, nop, sandbagger, the example external agent) and hostile (overclaimer, tamperer,
partial, and external agents that fork-bomb and fork on the host, flood stdout/stderr and send junk, fill
/tmp and the writable layer, or crash mid-episode). Reports: containers, volumes and snapshot images the
run left (want 0), episodes lost or duplicated (want 0), `PRAGMA integrity_check` (want ok), host memory
available before and after (want back to its start), memory per idle sandbox, and episodes per minute.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from groundtruth import images
from groundtruth.errors import RunInterrupted
from groundtruth.runner import EpisodeResult, RunConfig, plan, run
from groundtruth.sandbox import DockerSandbox, SandboxSpec
from groundtruth.sandbox.engine import LABEL_MANAGED, LABEL_RUN, client
from groundtruth.tasks.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
PLAN_AGENT = ROOT / "benchmarks" / "agents" / "plan_agent.py"
HONEST = ["oracle", "nop", "sandbagger", f"cmd:{sys.executable} {ROOT / 'examples' / 'agent.py'}"]
CLAIM = {"tool": "submit", "success": True, "confidence": 0.9, "summary": "all done"}
HOSTILE_PLANS: dict[str, list[dict[str, Any]]] = {
    "forker": [{"tool": "bash", "cmd": "bomb() { bomb | bomb & }; bomb; sleep 2", "timeout": 5},
               {"fork_host": "{pidfile}"}, CLAIM],
    "flooder": [{"stderr": 1_000_000}, {"tool": "bash", "cmd": "head -c 20000000 /dev/zero | tr '\\0' a"},
                {"junk": 2}, CLAIM],
    "filler": [{"tool": "bash", "cmd": "dd if=/dev/zero of=/tmp/f bs=1M count=80 2>&1 | head -1; "
                                       "dd if=/dev/zero of=/workspace/f bs=1M count=200 2>&1 | tail -1; "
                                       "rm -f /workspace/f", "timeout": 60}, CLAIM],
    "crasher": [{"tool": "bash", "cmd": "ls -la /workspace"}, {"exit": 3}],
}


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return math.nan


def engine_counts(label: str) -> dict[str, int]:
    api = client().api
    vols = (api.volumes(filters={"label": label}) or {}).get("Volumes") or []
    return {"containers": len(api.containers(all=True, filters={"label": label})), "volumes": len(vols),
            "snapshot_images": len(api.images(filters={"label": [f"{LABEL_MANAGED}=1", label,
                                                                 "groundtruth.kind=snapshot"]}))}


def sandbox_memory(n: int) -> dict[str, float]:
    """Memory of idle sandboxes: the cgroup's own usage per container, and the host's MemAvailable drop."""
    run_id = f"soak-mem-{uuid.uuid4().hex[:6]}"
    before = mem_available_mib()
    boxes = [DockerSandbox.create(SandboxSpec(image=images.tag_for("sandbox"), run_id=run_id)) for _ in range(n)]
    try:
        for b in boxes:
            b.exec("true")
        time.sleep(2)
        usage = [client().api.stats(b.container_id, stream=False)["memory_stats"].get("usage", 0) / 2**20
                 for b in boxes]
        after = mem_available_mib()
    finally:
        for b in boxes:
            b.close()
    return {"sandboxes": n, "cgroup_mib_each": round(sum(usage) / n, 1),
            "host_mib_each": round((before - after) / n, 1)}


def agents(folder: Path) -> tuple[list[str], set[str]]:
    hostile = ["overclaimer", "tamperer", "partial"]
    for name, steps in HOSTILE_PLANS.items():
        text = json.dumps(steps).replace("{pidfile}", str(folder / f"{name}.pid"))
        (folder / f"{name}.json").write_text(text)
        hostile.append(f"cmd:{sys.executable} {PLAN_AGENT} {folder / f'{name}.json'}")
    return HONEST + hostile, set(hostile)


def ledger(db: Path, run_id: str, expected: set[str], reported: set[str]) -> dict[str, Any]:
    """`lost`: episodes the runner reported finished that the store does not hold as finished (want 0);
    `unfinished`: planned episodes not finished (0 unless the soak was stopped by its time budget)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("select id, status from episodes where run_id = ?", [run_id]).fetchall()
        finished = {r[0] for r in rows if r[1] in ("done", "infra_error")}
        ids = [r[0] for r in rows]
        dup_steps = con.execute("select count(*) from (select 1 from steps where episode_id like ? "
                                "group by episode_id, idx having count(*) > 1)", [f"{run_id}/%"]).fetchone()[0]
        statuses: dict[str, int] = {}
        for _, s in rows:
            statuses[s] = statuses.get(s, 0) + 1
        classes = dict(con.execute("select classification, count(*) from episodes where run_id = ? group by 1",
                                   [run_id]).fetchall())
        integrity = con.execute("pragma integrity_check").fetchone()[0]
    finally:
        con.close()
    return {"episodes_stored": len(ids), "finished": len(finished), "lost": len(reported - finished),
            "unfinished": len(expected - finished), "duplicated": len(ids) - len(set(ids)),
            "unexpected": len(set(ids) - expected), "duplicated_steps": dup_steps, "statuses": statuses,
            "classifications": classes, "integrity_check": integrity}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=int, default=500, help="at least this many episodes (default 500)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--task", default="*", help="task ids or globs, comma-separated (default: the whole catalog)")
    ap.add_argument("--db", type=Path, default=None, help="SQLite file (default: a fresh one in a temp folder)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="time budget: then stop the run as Ctrl-C would, and report what finished")
    ap.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = ap.parse_args()
    if args.target < 1 or args.concurrency < 1:
        ap.error("--target and --concurrency must be at least 1")
    images.build_all()
    work = Path(tempfile.mkdtemp(prefix="gt-soak-"))
    db = args.db or work / "soak.db"
    names, hostile = agents(work)
    tasks = [t.strip() for t in args.task.split(",") if t.strip()]
    per = max(1, math.ceil(args.target / (len(Registry().select(tasks)) * len(names))))
    config = RunConfig(tasks=tasks, agents=names, episodes=per, concurrency=args.concurrency, retries=2)
    run_id = f"soak-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    expected = {j.key.id for j in plan(config, Registry(), run_id)}
    say = (lambda *_: None) if args.json else print
    say(f"soak {run_id}: {len(expected)} episodes ({len(names)} agents, {len(hostile)} hostile) at concurrency "
        f"{args.concurrency}; db {db}")
    memory = sandbox_memory(8)
    say(f"memory per idle sandbox: {memory}")
    before = {"mem_available_mib": round(mem_available_mib()), **engine_counts(f"{LABEL_MANAGED}=1")}
    started = time.monotonic()
    done = 0
    reported: set[str] = set()

    def tick(r: EpisodeResult) -> None:
        nonlocal done
        done += 1
        reported.add(r.id)
        if done % 25 == 0 or r.status != "done":
            rate = done / (time.monotonic() - started) * 60
            say(f"  {done}/{len(expected)} ({rate:.1f}/min) last: {r.task} {r.agent[-24:]} {r.classification}")

    if args.minutes:
        budget = threading.Timer(args.minutes * 60, lambda: os.kill(os.getpid(), signal.SIGINT))
        budget.daemon = True
        budget.start()
    interrupted = False
    try:
        _, results = run(config, db, run_id=run_id, on_result=tick)
    except RunInterrupted as exc:
        interrupted = True
        say(exc.message)
        results = []
    minutes = (time.monotonic() - started) / 60
    n_done = len(results) if not interrupted else len(reported)
    time.sleep(10)  # let the engine finish auto-removals before counting
    after = {"mem_available_mib": round(mem_available_mib()), **engine_counts(f"{LABEL_MANAGED}=1")}
    report = {
        "run_id": run_id, "db": str(db), "concurrency": args.concurrency, "agents": names,
        "hostile_agents": sorted(hostile), "episodes_planned": len(expected), "episodes_finished": n_done,
        "stopped_by_time_budget": interrupted, "minutes": round(minutes, 1),
        "episodes_per_minute": round(n_done / minutes, 2),
        "leaked": engine_counts(f"{LABEL_RUN}={run_id}"), "store": ledger(db, run_id, expected, reported),
        "host_before": before, "host_after": after,
        "runner_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "memory_per_sandbox": memory,
    }
    if not args.json:
        st = report["store"]
        say(f"\n{n_done} episodes in {report['minutes']} min ({report['episodes_per_minute']}/min); leaked "
            f"{report['leaked']}; lost {st['lost']}, duplicated {st['duplicated']} (steps {st['duplicated_steps']}); "
            f"integrity {st['integrity_check']}; MemAvailable {before['mem_available_mib']} -> "
            f"{after['mem_available_mib']} MiB\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
