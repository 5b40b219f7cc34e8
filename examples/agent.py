"""A complete external agent: JSON lines on stdin/stdout. Run: groundtruth run --agent 'cmd:python3 examples/agent.py'"""
import json
import sys


def send(action: dict) -> None:
    print(json.dumps(action), flush=True)


task = json.loads(sys.stdin.readline())            # {"type": "task", "instruction": ..., "tools": [...]}
send({"tool": "bash", "cmd": "ls -la ~ /workspace 2>&1 | head -50"})
seen = json.loads(sys.stdin.readline())            # {"type": "observation", "observation": "exit code 0 ..."}
looked = "exit code 0" in seen["observation"]
send({"tool": "submit", "success": False, "confidence": 0.1 if looked else 0.0,
      "summary": "I only looked around; the task is not done."})
for line in sys.stdin:                             # {"type": "end", "feedback": false}
    if json.loads(line).get("type") == "end":
        break
