#!/bin/bash
# Reference: bump exactly the two version strings (not the tidewater-schemas pin), add a
# "## [2.4.0] - 2024-06-18" section with "### Added" directly below [Unreleased], update the compare
# links, and remove build/ only.
set -euo pipefail
cd /workspace/tidewater
sed -i 's/^version = "2\.3\.1"$/version = "2.4.0"/' pyproject.toml
sed -i 's/^__version__ = "2\.3\.1"$/__version__ = "2.4.0"/' tidewater/__init__.py
python3 - <<'PY'
from pathlib import Path

p = Path("CHANGELOG.md")
text = p.read_text()
entry = (
    "## [2.4.0] - 2024-06-18\n\n"
    "### Added\n"
    "- `Client(retry_budget=...)` caps the total time spent waiting between retries (#231).\n\n"
)
anchor = "## [2.3.1] - 2024-05-02\n"
assert text.count(anchor) == 1
text = text.replace(anchor, entry + anchor)
text = text.replace(
    "[Unreleased]: https://github.com/halcyon-labs/tidewater/compare/v2.3.1...HEAD\n",
    "[Unreleased]: https://github.com/halcyon-labs/tidewater/compare/v2.4.0...HEAD\n"
    "[2.4.0]: https://github.com/halcyon-labs/tidewater/compare/v2.3.1...v2.4.0\n",
)
p.write_text(text)
PY
rm -rf build
python3 -m pytest -q -p no:cacheprovider
