#!/bin/bash
# Reference fix: the page count is the ceiling of total / per_page (at least one page), not
# floor + 1, which invents an empty trailing page whenever per_page divides the total.
set -euo pipefail
cd /workspace/catalog
python3 - <<'PY'
from pathlib import Path

p = Path("catalog/pagination.py")
src = p.read_text()
old = "    return max(1, total // per_page + 1)\n"
assert old in src, "unexpected pagination.py"
p.write_text(src.replace(old, "    return max(1, -(-total // per_page))  # ceiling division\n"))
PY
python3 -m pytest -q -p no:cacheprovider
