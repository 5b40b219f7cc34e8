#!/bin/bash
# Reference fix: clock notation H:MM is hours and minutes, not decimal hours ("1:30" is 90 minutes,
# not 1.3 h); minutes must be two digits 00-59, anything else in clock form is rejected.
set -euo pipefail
cd /workspace/timesheet
python3 - <<'PY'
from pathlib import Path

p = Path("timesheet/durations.py")
src = p.read_text()
old = '''    if ":" in raw:
        # clock notation: "1:30" is an hour and a half, same as "1.30h"
        raw = raw.replace(":", ".") + "h"
'''
new = '''    if ":" in raw:
        # clock notation H:MM: hours and minutes ("1:30" is 90 minutes), minutes 00-59
        m = _CLOCK.fullmatch(raw)
        if not m or int(m.group("m")) > 59:
            raise ValueError(f"unrecognised duration: {text!r} (clock notation is H:MM, minutes 00-59)")
        return int(m.group("h")) * 3600 + int(m.group("m")) * 60
'''
assert old in src, "unexpected durations.py"
src = src.replace(old, new)
src = src.replace(
    '_DECIMAL_HOURS = re.compile(',
    '_CLOCK = re.compile(r"(?P<h>\\d{1,2}):(?P<m>\\d{2})")\n_DECIMAL_HOURS = re.compile(',
)
p.write_text(src)
PY
python3 -m pytest -q -p no:cacheprovider
