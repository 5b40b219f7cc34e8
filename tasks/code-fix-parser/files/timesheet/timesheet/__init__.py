"""Turn plain-text work logs into per-project hour totals."""

from timesheet.durations import format_duration, parse_duration

__all__ = ["format_duration", "parse_duration"]
__version__ = "0.4.2"
