#!/bin/bash
# Reference: account (new row, work email, 'Surname, First' display name, username praman2 because
# praman belongs to a former employee), data-team + vpn-users only (no admin, per access-policy.conf),
# and a welcome note from the template.
set -euo pipefail
I=/srv/intranet
sqlite3 "$I/data/intranet.db" "INSERT INTO users (username, email, display_name, department, title, start_date, active, is_admin)
  VALUES ('praman2', 'priya.raman@halvorsen-freight.com', 'Raman, Priya', 'Data & Analytics', 'Data Analyst', '2024-07-01', 1, 0);"
python3 - <<'PY'
import re
from pathlib import Path

p = Path("/srv/intranet/config/groups.conf")
out, section = [], None
for line in p.read_text().splitlines(keepends=True):
    m = re.match(r"\s*\[([^\]]+)\]", line)
    if m:
        section = m.group(1)
    elif section in ("data-team", "vpn-users") and re.match(r"\s*members\s*=", line):
        line = line.rstrip("\n").rstrip() + ", praman2\n"
    out.append(line)
p.write_text("".join(out))
PY
sed -e 's/{first_name}/Priya/' -e 's/{department}/Data \& Analytics/' -e 's/{start_date}/2024-07-01/' \
    -e 's/{username}/praman2/' -e 's/{email}/priya.raman@halvorsen-freight.com/' -e 's/{manager}/Jonas Chen/' \
    "$I/notes/welcome/TEMPLATE.md" > "$I/notes/welcome/praman2.md"
grep -n "praman2" "$I/config/groups.conf"
