#!/bin/bash
# Reference: turn the flag off in the reviewed config AND in the host override that wins over it, then
# confirm with flagd's published values.
set -euo pipefail
python3 - <<'PY'
import json, os

def rewrite(path, fn):
    data = json.load(open(path))
    fn(data)
    with open(path + ".new", "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(path + ".new", path)

def cfg(d):
    d["flags"]["new_checkout"]["enabled"] = False
    d["version"] += 1
    d["updated_by"] = "oncall"

def local(d):
    o = d["overrides"].get("new_checkout")
    if o is not None:
        o["enabled"] = False
        o["_why"] = "turned off: checkout failing payments (incident)"

rewrite("/opt/app/config/flags.json", cfg)
rewrite("/opt/app/config/flags.local.json", local)
PY
for _ in $(seq 1 20); do
  sleep 0.6
  if python3 -c 'import json,sys; f=json.load(open("/var/lib/flagd/effective.json"))["flags"]["new_checkout"]; sys.exit(1 if f["on"] else 0)'; then
    echo "new_checkout is off"; exit 0
  fi
done
echo "flagd still publishes new_checkout on" >&2; exit 1
