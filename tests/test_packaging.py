"""The built-in catalog ships inside the wheel, and the CLI works from a wheel install alone."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_catalog_and_cli_works_from_it(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        check=True,
    )
    wheel = next(tmp_path.glob("groundtruth-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("tasks", "envs", "containers"):
        shipped = {n for n in names if n.startswith(f"groundtruth/_data/{folder}/")}
        local = {f"groundtruth/_data/{folder}/{p.relative_to(ROOT / folder)}"
                 for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert local <= shipped, f"{folder}/ files missing from the wheel: {sorted(local - shipped)[:5]}"
    pkg = ROOT / "groundtruth"
    for folder in ("templates", "serve_plugins"):
        local = {f"groundtruth/{p.relative_to(pkg)}" for p in (pkg / folder).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
        assert local and local <= set(names), f"{folder}/ missing from the wheel: {sorted(local - set(names))[:5]}"
    assert "groundtruth/audit/report.html.j2" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    probe = (
        "import groundtruth.resources as r, groundtruth.images as i; "
        "print(r.data_dir('containers')); print(i.recipe_names())"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(str(target)), out
    assert "sandbox" in out[1]
    help_out = subprocess.run([sys.executable, "-m", "groundtruth", "--help"], cwd=tmp_path,
                              env={"PYTHONPATH": str(target)}, capture_output=True, text=True, check=True).stdout
    assert "images" in help_out
    api = subprocess.run([sys.executable, "-m", "groundtruth", "tasks", "api"], cwd=tmp_path,
                         env={"PYTHONPATH": str(target)}, capture_output=True, text=True, check=True).stdout
    assert "read_text(path: str) -> str" in api
    new = subprocess.run([sys.executable, "-m", "groundtruth", "tasks", "new", "from-wheel", "--into",
                          str(tmp_path / "t"), "--template", "code"], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True)
    assert new.returncode == 0, new.stderr
    assert (tmp_path / "t" / "from-wheel" / "checks" / "test_hidden_median.py").is_file()
