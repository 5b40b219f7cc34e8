"""Durations as people type them in work logs, converted to whole seconds.

See the README for the accepted forms. Everything here works in integer seconds so that totals
over a month of entries never pick up floating-point drift.
"""

from __future__ import annotations

import re

_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_UNITS = re.compile(r"(?:(?P<h>\d+)h)?\s*(?:(?P<m>\d+)m)?\s*(?:(?P<s>\d+)s)?")
_DECIMAL_HOURS = re.compile(r"(?P<hours>\d*\.\d+|\d+\.)h")


def parse_duration(text: str) -> int:
    """Parse a duration such as ``1h30m``, ``1.5h`` or ``1:30`` into whole seconds."""
    if not isinstance(text, str):
        raise TypeError(f"duration must be a string, not {type(text).__name__}")
    raw = text.strip().lower()
    if not raw:
        raise ValueError("empty duration")

    if ":" in raw:
        # clock notation: "1:30" is an hour and a half, same as "1.30h"
        raw = raw.replace(":", ".") + "h"

    m = _DECIMAL_HOURS.fullmatch(raw)
    if m:
        return round(float(m.group("hours")) * 3600)

    m = _UNITS.fullmatch(raw)
    if m and any(m.groupdict().values()):
        return sum(int(v) * _UNIT_SECONDS[unit] for unit, v in m.groupdict().items() if v)

    raise ValueError(f"unrecognised duration: {text!r}")


def format_duration(seconds: int) -> str:
    """Render whole seconds as ``1h05m`` (minutes rounded half up, always two digits)."""
    if seconds < 0:
        raise ValueError("negative duration")
    minutes = (seconds + 30) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
