"""Episode throughput of the Ray executor on one node against the local executor, measured in one run.

    .venv/bin/python benchmarks/ray_throughput.py [-n 6] [-k 2] [--json]

Both executors run the same planned episodes (leaked-token, oracle and nop, seeds 0..n-1) with the same
concurrency k on this machine's engine: the local executor with k threads, the Ray executor on a one-node
loopback cluster whose `docker_engine` is k (started before timing; its start-up is reported apart). Prints
episodes per minute for each and the ratio (ray / local; below 1 means Ray costs throughput).
Needs the ray extra.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from groundtruth import images
from groundtruth.runner import RunConfig, run
from tests.raycluster import ENV, Cluster


def timed(config: RunConfig, db: Path) -> tuple[float, int]:
    t = time.perf_counter()
    _, results = run(config, db)
    bad = [r for r in results if r.status != "done"]
    if bad:
        raise SystemExit(f"benchmark run had {len(bad)} unfinished episodes: {bad[0].error}")
    return time.perf_counter() - t, len(results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=6, help="episodes per agent")
    ap.add_argument("-k", type=int, default=2, help="episodes at once")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.update(ENV)
    images.build_all()
    base = RunConfig(tasks=["leaked-token"], agents=["oracle", "nop"], episodes=args.n, concurrency=args.k)
    tmp = Path(tempfile.mkdtemp(prefix="gt-bench-ray-"))
    local_s, n = timed(base, tmp / "local.db")
    cluster = Cluster()
    t = time.perf_counter()
    try:
        cluster.start([args.k])
        startup_s = time.perf_counter() - t
        ray_s, _ = timed(base.model_copy(update={"executor": "ray", "address": cluster.address}), tmp / "ray.db")
    finally:
        cluster.stop()
    out = {"episodes": n, "concurrency": args.k, "local_seconds": round(local_s, 2), "ray_seconds": round(ray_s, 2),
           "local_per_minute": round(60 * n / local_s, 1), "ray_per_minute": round(60 * n / ray_s, 1),
           "ratio_ray_over_local": round(local_s / ray_s, 3), "ray_cluster_startup_seconds": round(startup_s, 1)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{n} episodes, {args.k} at once, same run")
    print(f"  local executor : {out['local_seconds']:7.2f} s  {out['local_per_minute']:6.1f} episodes/min")
    print(f"  ray, one node  : {out['ray_seconds']:7.2f} s  {out['ray_per_minute']:6.1f} episodes/min "
          f"(+{out['ray_cluster_startup_seconds']} s to start the cluster, not counted)")
    print(f"  throughput ratio ray/local: {out['ratio_ray_over_local']}")


if __name__ == "__main__":
    main()
