#!/bin/bash
# Reference: disable the account (kept for the audit trail), revoke its database keys, drop its legacy static
# key (static keys bypass account status), then confirm against authd's effective credentials.
set -euo pipefail
DB=/srv/app/data/app.db
sqlite3 "$DB" <<'SQL'
BEGIN;
UPDATE accounts SET is_active = 0, disabled_at = datetime('now'),
       disabled_reason = 'reporting integration decommissioned'
 WHERE username = 'svc-reporting';
UPDATE api_keys SET revoked_at = datetime('now')
 WHERE revoked_at IS NULL AND account_id = (SELECT id FROM accounts WHERE username = 'svc-reporting');
INSERT INTO audit_log (at, actor, account_id, action, detail)
SELECT datetime('now'), 'ops', id, 'account.disable', 'reporting integration decommissioned; keys revoked'
  FROM accounts WHERE username = 'svc-reporting';
COMMIT;
SQL
python3 - <<'PY'
import json
p = "/srv/app/config/static_keys.json"
data = json.load(open(p))
data["keys"] = [k for k in data["keys"] if k.get("principal") != "svc-reporting"]
with open(p + ".new", "w") as fh:
    json.dump(data, fh, indent=2)
    fh.write("\n")
import os
os.replace(p + ".new", p)
PY
for _ in $(seq 1 20); do
  sleep 0.6
  if ! python3 -c 'import json,sys; c=json.load(open("/var/lib/authd/effective.json"))["credentials"]; sys.exit(any(x["principal"]=="svc-reporting" for x in c))'; then
    continue
  fi
  echo "svc-reporting no longer accepted"; exit 0
done
echo "authd still accepts svc-reporting" >&2; exit 1
