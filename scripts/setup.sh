#!/usr/bin/env bash
# Sets up a fresh machine: system packages, a virtualenv with groundtruth and its test and ray extras, the images.
# Idempotent and cached: pip reuses ~/.cache/pip, images are skipped when their content tag exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v chromium >/dev/null || need+=(chromium)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install as root: apt-get install ${need[*]}" >&2; exit 1; fi
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test,ray]'  # ray: the Ray executor's tests (tests/test_ray_executor.py)
[ "${GROUNDTRUTH_SETUP_SKIP_IMAGES:-0}" = 1 ] || .venv/bin/groundtruth images build
