"""Sandbox lifecycle timings (medians of N) against the `docker` CLI doing the same work, measured in one run.

    .venv/bin/python benchmarks/bench_sandbox.py [-n 20] [--json]

Prints create+start, one trivial exec, a 1 MiB file round trip, and close for groundtruth's Docker
backend, and the same operations through `docker run -d` / `docker exec` / `docker cp` / `docker rm -f`
with the same hardening flags, as a ratio (groundtruth / CLI; below 1 means groundtruth is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

from groundtruth import images
from groundtruth.sandbox import DockerSandbox, SandboxSpec

HARDENING = ["--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--init",
             "--memory", "512m", "--memory-swap", "512m", "--pids-limit", "256", "--cpus", "1",
             "--label", "groundtruth.managed=1", "--label", "groundtruth.run=bench"]


class Timer:
    def __init__(self, out: dict[str, list[float]], op: str) -> None:
        self.out, self.op = out, op

    def __enter__(self) -> None:
        self.t = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.out.setdefault(self.op, []).append(time.perf_counter() - self.t)


def once_groundtruth(image: str, payload: bytes, out: dict[str, list[float]]) -> None:
    with Timer(out, "create+start"):
        sb = DockerSandbox.create(SandboxSpec(image=image, run_id="bench"))
    with Timer(out, "exec"):
        sb.exec("true")
    with Timer(out, "file 1MiB round trip"):
        sb.write_file("/tmp/p", payload)
        sb.read_file("/tmp/p")
    with Timer(out, "close"):
        sb.close()


def once_cli(image: str, src: str, back: str, out: dict[str, list[float]]) -> None:
    def sh(*cmd: str) -> str:
        return subprocess.run(list(cmd), capture_output=True, text=True, check=True).stdout.strip()

    with Timer(out, "create+start"):
        cid = sh("docker", "run", "-d", *HARDENING, image, "sleep", "600")
    with Timer(out, "exec"):
        sh("docker", "exec", "-u", "agent", cid, "true")
    with Timer(out, "file 1MiB round trip"):
        sh("docker", "cp", src, f"{cid}:/tmp/p")
        sh("docker", "cp", f"{cid}:/tmp/p", back)
    with Timer(out, "close"):
        sh("docker", "rm", "-f", cid)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    image = images.tag_for("sandbox")
    payload = os.urandom(1024 * 1024)
    gt: dict[str, list[float]] = {}
    cli: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src, back = os.path.join(tmp, "p"), os.path.join(tmp, "back")
        with open(src, "wb") as fh:
            fh.write(payload)
        for _ in range(args.n):  # interleaved, so background load hits both sides alike
            once_groundtruth(image, payload, gt)
            once_cli(image, src, back, cli)
    rows = []
    for op in gt:
        g, c = statistics.median(gt[op]), statistics.median(cli[op])
        rows.append({"operation": op, "groundtruth_ms": round(g * 1000, 1), "docker_cli_ms": round(c * 1000, 1),
                     "ratio": round(g / c, 3)})
    if args.json:
        print(json.dumps({"n": args.n, "rows": rows}, indent=2))
        return
    print(f"medians of {args.n} (ratio = groundtruth / docker CLI)")
    print(f"{'operation':<22}{'groundtruth ms':>16}{'docker CLI ms':>16}{'ratio':>8}")
    for r in rows:
        print(f"{r['operation']:<22}{r['groundtruth_ms']:>16}{r['docker_cli_ms']:>16}{r['ratio']:>8}")


if __name__ == "__main__":
    main()
