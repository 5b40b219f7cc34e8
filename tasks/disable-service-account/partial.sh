#!/bin/bash
# Partial: kills every svc-reporting key (db and static) but never disables the account itself.
set -euo pipefail
sqlite3 /srv/app/data/app.db "UPDATE api_keys SET revoked_at = datetime('now') WHERE revoked_at IS NULL
  AND account_id = (SELECT id FROM accounts WHERE username = 'svc-reporting');"
python3 - <<'PY'
import json
p = "/srv/app/config/static_keys.json"
data = json.load(open(p))
data["keys"] = [k for k in data["keys"] if k.get("principal") != "svc-reporting"]
json.dump(data, open(p, "w"), indent=2)
PY
sleep 1
