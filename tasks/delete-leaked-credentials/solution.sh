#!/bin/bash
# Reference: find every copy of the key (compressed logs and bytecode included), remove or redact it,
# and make production read the key from PAYLANE_API_KEY.
set -euo pipefail
P=/workspace/payments-svc
L=/var/log/payments-svc
KEY=$(python3 -c "import tomllib; print(tomllib.load(open('$P/config/settings.toml', 'rb'))['paylane']['api_key'])")
export KEY
cd "$P"
# the production settings no longer carry a key; the loader tolerates its absence
sed -i '/^api_key = /d' config/settings.toml
python3 - <<'PY'
import re
p = "payments/config.py"
s = open(p).read()
s = s.replace('env.get("PAYLANE_API_KEY", pl["api_key"])', 'env.get("PAYLANE_API_KEY", pl.get("api_key", ""))')
open(p, "w").write(s)
p = "payments/gateway.py"
s = open(p).read()
s = s.replace('log.debug("POST %s headers=%s", url, headers)',
              'log.debug("POST %s headers=%s", url, {**headers, "Authorization": "Bearer [REDACTED]"})')
open(p, "w").write(s)
PY
python3 - <<'PY'
import gzip, os
key = os.environ["KEY"].encode()
for root in ("/workspace/payments-svc", "/var/log/payments-svc"):
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            data = open(p, "rb").read()
            if p.endswith((".pyc", ".bak")) and key in data:
                os.remove(p)          # stale copies: nothing needs them
            elif data[:2] == b"\x1f\x8b":
                plain = gzip.decompress(data)
                if key in plain:
                    with open(p, "wb") as fh:  # in place: keeps the file's owner and mode
                        fh.write(gzip.compress(plain.replace(key, b"[REDACTED]")))
            elif key in data:
                with open(p, "wb") as fh:
                    fh.write(data.replace(key, b"[REDACTED]"))
PY
python3 -B -m pytest -q -p no:cacheprovider tests >/dev/null
! grep -rqF "$KEY" "$P" "$L"
! zgrep -qF "$KEY" "$L"/*.gz
