"""Per-project totals and their text rendering."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from timesheet.durations import format_duration
from timesheet.entries import Entry, read_log


def totals(entries: Iterable[Entry]) -> dict[str, int]:
    """Seconds per project, projects sorted by name."""
    acc: dict[str, int] = defaultdict(int)
    for e in entries:
        acc[e.project] += e.seconds
    return dict(sorted(acc.items()))


def totals_by_day(entries: Iterable[Entry]) -> dict[str, dict[str, int]]:
    acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in entries:
        acc[e.project][e.day.isoformat()] += e.seconds
    return {p: dict(sorted(days.items())) for p, days in sorted(acc.items())}


def totals_from_file(path: str) -> dict[str, int]:
    return totals(read_log(path))


def render(project_totals: dict[str, int]) -> str:
    width = max((len(p) for p in project_totals), default=7)
    lines = [f"{'project':<{width}}  {'hours':>8}"]
    for project, seconds in project_totals.items():
        lines.append(f"{project:<{width}}  {format_duration(seconds):>8}")
    lines.append(f"{'total':<{width}}  {format_duration(sum(project_totals.values())):>8}")
    return "\n".join(lines)
