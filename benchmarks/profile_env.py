"""Where reset, step and verify spend their time: a pyinstrument profile of one leaked-token episode.

    .venv/bin/pip install pyinstrument && .venv/bin/python benchmarks/profile_env.py [--out DIR] [--steps 30]

Writes reset.txt, step.txt and verify.txt (call trees, wall time) to DIR and prints the top of each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyinstrument import Profiler

from groundtruth.env.core import GroundtruthEnv
from groundtruth.env.definitions import definition_for
from groundtruth.sandbox.prune import prune
from groundtruth.tasks.registry import Registry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="profile", help="directory for the three reports")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--task", default="leaked-token")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    task = Registry([]).get(args.task)
    env = GroundtruthEnv(definition_for(task.spec.env), task=task, run_id="bench-profile", max_steps=10_000)
    try:
        env.reset(seed=0)  # warm: image checks, client, caches
        for name, body in (
            ("reset", lambda: env.reset(seed=1)),
            ("step", lambda: [env.step({"tool": "bash", "cmd": "true"}) for _ in range(args.steps)]),
            ("verify", lambda: env.step({"tool": "submit", "success": False, "confidence": 0.1, "summary": "-"})),
        ):
            prof = Profiler(interval=0.0005)
            prof.start()
            body()
            prof.stop()
            text = prof.output_text(unicode=False, color=False, show_all=False)
            (out / f"{name}.txt").write_text(text)
            print(f"===== {name}\n" + "\n".join(text.splitlines()[:40]))
    finally:
        env.close()
        prune(run_id="bench-profile")


if __name__ == "__main__":
    main()
