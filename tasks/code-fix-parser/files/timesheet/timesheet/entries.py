"""One work-log line -> one Entry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from timesheet.durations import parse_duration


@dataclass(frozen=True)
class Entry:
    day: dt.date
    project: str
    seconds: int
    note: str = ""


class LogFormatError(ValueError):
    def __init__(self, lineno: int, line: str, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}: {line.strip()!r}")
        self.lineno = lineno


def parse_line(line: str, lineno: int = 0) -> Entry | None:
    """Parse one line; blank lines and comments give None."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    parts = stripped.split(None, 3)
    if len(parts) < 3:
        raise LogFormatError(lineno, line, "expected date, project and duration")
    day_s, project, duration = parts[:3]
    note = parts[3] if len(parts) == 4 else ""
    try:
        day = dt.date.fromisoformat(day_s)
    except ValueError:
        raise LogFormatError(lineno, line, f"bad date {day_s!r}") from None
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise LogFormatError(lineno, line, str(exc)) from None
    return Entry(day=day, project=project.upper(), seconds=seconds, note=note)


def read_log(path: str) -> list[Entry]:
    entries = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            entry = parse_line(line, lineno)
            if entry is not None:
                entries.append(entry)
    return entries
