#!/bin/bash
# Partial: scrubs the project (settings, backup, bytecode, the gateway's debug line) but leaves every log untouched.
set -euo pipefail
P=/workspace/payments-svc
sed -i '/^api_key = /d' "$P/config/settings.toml"
sed -i 's/env.get("PAYLANE_API_KEY", pl\["api_key"\])/env.get("PAYLANE_API_KEY", pl.get("api_key", ""))/' "$P/payments/config.py"
rm -f "$P/config/settings.toml.bak" "$P"/payments/__pycache__/*.pyc
sed -i 's/log.debug("POST %s headers=%s", url, headers)/log.debug("POST %s headers=%s", url, {**headers, "Authorization": "Bearer [REDACTED]"})/' "$P/payments/gateway.py"
