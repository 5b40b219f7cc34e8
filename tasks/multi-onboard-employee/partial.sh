#!/bin/bash
# Partial: the account and the groups, but no welcome note.
set -euo pipefail
I=/srv/intranet
sqlite3 "$I/data/intranet.db" "INSERT INTO users (username, email, display_name, department, title, start_date, active, is_admin)
  VALUES ('praman2', 'priya.raman@halvorsen-freight.com', 'Raman, Priya', 'Data & Analytics', 'Data Analyst', '2024-07-01', 1, 0);"
sed -i -E '/^\[(data-team|vpn-users)\]/,/^members/ s/^(members = .*)$/\1, praman2/' "$I/config/groups.conf"
