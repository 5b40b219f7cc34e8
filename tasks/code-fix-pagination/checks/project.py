"""The one file the fix may change must stay plain code (groundtruth.checks.plaincode): code that reads files,
the environment, its own process or its caller could behave one way when graded and another when used."""

from __future__ import annotations

from pathlib import Path

from groundtruth.checks.plaincode import assert_plain

FIX = "/workspace/catalog/catalog/pagination.py"
ORIGINAL = Path(__file__).resolve().parent.parent / "files" / "catalog" / "catalog" / "pagination.py"


def plain_fix(st) -> str:
    return assert_plain(st, FIX, ORIGINAL)
