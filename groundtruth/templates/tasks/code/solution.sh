#!/bin/bash
set -e
cd /workspace/calc
python3 - <<'PY'
from pathlib import Path
p = Path("calc/stats.py")
p.write_text(p.read_text().replace(
    "    return ordered[len(ordered) // 2]\n",
    "    mid = len(ordered) // 2\n"
    "    if len(ordered) % 2:\n"
    "        return ordered[mid]\n"
    "    return (ordered[mid - 1] + ordered[mid]) / 2\n"))
PY
# -B and no cache: nothing may be written under the protected tests folder
python3 -B -m pytest -q -p no:cacheprovider tests
