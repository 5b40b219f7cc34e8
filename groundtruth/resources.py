"""Where the built-in catalog lives: inside the wheel (`_data/`) or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`tasks`, `envs` or `containers`: the installed copy wins, the checkout is the fallback."""
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PKG.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"groundtruth's {name}/ folder is missing from {installed} and {checkout}: reinstall")
