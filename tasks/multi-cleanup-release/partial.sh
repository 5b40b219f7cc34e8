#!/bin/bash
# Partial: version bumped in both files and build/ removed, but no changelog entry.
set -euo pipefail
cd /workspace/tidewater
sed -i 's/^version = "2\.3\.1"$/version = "2.4.0"/' pyproject.toml
sed -i 's/^__version__ = "2\.3\.1"$/__version__ = "2.4.0"/' tidewater/__init__.py
rm -rf build
