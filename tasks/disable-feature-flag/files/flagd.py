#!/usr/bin/env python3
"""flagd: resolves the storefront's feature flags and publishes them to the app workers.

Every 0.5 s:
  1. start from the defaults compiled into the storefront release (DEFAULTS below),
  2. apply /opt/app/config/flags.json (the reviewed, versioned flag config),
  3. apply /opt/app/config/flags.local.json (per-host overrides; these WIN over flags.json),
and write the result to /var/lib/flagd/effective.json, which the workers read on every request.
A flag is ON when enabled is true and rollout_percent > 0.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time

CONFIG = "/opt/app/config/flags.json"
LOCAL = "/opt/app/config/flags.local.json"
OUT_DIR = "/var/lib/flagd"
OUT = f"{OUT_DIR}/effective.json"

# compiled into storefront 3.4.1: a flag missing from every config falls back to these
DEFAULTS = {
    "new_checkout": True,
    "new_checkout_banner": False,
    "search_v2": False,
    "dark_mode": False,
    "recommendations_carousel": True,
    "legacy_invoice_pdf": True,
    "gift_cards": False,
}


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def resolve(errors: list[str]) -> dict:
    flags: dict[str, dict] = {
        name: {"enabled": on, "rollout_percent": 100, "sources": ["default"]} for name, on in DEFAULTS.items()
    }
    layers = []
    try:
        layers.append(("flags.json", _load(CONFIG).get("flags", {})))
    except (OSError, ValueError) as exc:
        errors.append(f"{CONFIG}: {exc}")
    try:
        layers.append(("flags.local.json", _load(LOCAL).get("overrides", {})))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        errors.append(f"{LOCAL}: {exc}")
    for source, layer in layers:
        for name, spec in layer.items():
            if not isinstance(spec, dict):
                errors.append(f"{source}: {name}: expected an object")
                continue
            cur = flags.setdefault(name, {"enabled": False, "rollout_percent": 100, "sources": []})
            for key in ("enabled", "rollout_percent"):
                if key in spec:
                    cur[key] = spec[key]
            cur["sources"].append(source)
    for f in flags.values():
        f["on"] = bool(f["enabled"]) and float(f.get("rollout_percent", 0) or 0) > 0
    return flags


def main() -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    generation = 0
    last: dict = {}
    while True:
        errors: list[str] = []
        flags = resolve(errors)
        if not errors:
            last = flags
        generation += 1
        tmp = f"{OUT}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"generation": generation,
                       "resolved_at": dt.datetime.now().isoformat(timespec="milliseconds"),
                       "flags": last, "errors": errors}, fh, indent=2, sort_keys=True)
        os.replace(tmp, OUT)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
