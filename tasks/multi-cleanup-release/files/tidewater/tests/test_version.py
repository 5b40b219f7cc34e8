import re
from pathlib import Path

import tidewater

ROOT = Path(__file__).resolve().parent.parent


def test_versions_agree():
    m = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert m and m.group(1) == tidewater.__version__


def test_changelog_mentions_current_version():
    assert f"## [{tidewater.__version__}]" in (ROOT / "CHANGELOG.md").read_text()
