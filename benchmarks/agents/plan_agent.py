"""An external agent (JSON lines) that follows a plan file step by step, misbehaving where the plan says so.

    python plan_agent.py PLAN.json

Each plan entry is an action sent as is, or one of: {"stderr": N} (write N bytes to stderr), {"fork_host":
PIDFILE} (start a `sleep 300` child on the host, in this process's group, and write its pid), {"junk": N}
(write N lines that are not actions), {"exit": CODE} (quit mid-episode). Used by the fault-injection tests
and the soak benchmark.
"""

import json
import subprocess
import sys
from pathlib import Path

plan = json.loads(Path(sys.argv[1]).read_text())
task = json.loads(sys.stdin.readline())
for step in plan:
    if "stderr" in step:
        chunk = b"e" * 65536
        left = step["stderr"]
        while left > 0:
            sys.stderr.buffer.write(chunk[:left])
            left -= len(chunk)
        sys.stderr.flush()
        continue
    if "fork_host" in step:
        child = subprocess.Popen(["sleep", "300"])
        with open(step["fork_host"], "w") as fh:
            fh.write(str(child.pid))
        continue
    if "junk" in step:
        for i in range(step["junk"]):
            print(f"this is not an action {i}", flush=True)
            sys.stdin.readline()
        continue
    if "exit" in step:
        sys.exit(step["exit"])
    print(json.dumps(step), flush=True)
    if step.get("tool") == "submit":
        break
    sys.stdin.readline()
for line in sys.stdin:
    if json.loads(line).get("type") == "end":
        break
