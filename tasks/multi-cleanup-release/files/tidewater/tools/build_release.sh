#!/bin/sh
# Builds the sdist and wheel into dist/ and uploads them (CI only: needs the PyPI token).
set -e
cd "$(dirname "$0")/.."
rm -rf dist
python3 -m build
python3 -m twine upload dist/*
