#!/usr/bin/env python3
"""A tiny service: rereads its config and rewrites its status file every 0.2 s, counting generations."""
import json
import os
import time

CONF = "/srv/greeter/greeter.conf"
STATUS = "/var/lib/greeter/status.json"

generation = 0
while True:
    generation += 1
    settings = {}
    try:
        with open(CONF) as fh:
            for line in fh:
                key, sep, value = line.partition("=")
                if sep and not line.lstrip().startswith("#"):
                    settings[key.strip()] = value.strip()
    except OSError as exc:
        settings = {"error": str(exc)}
    tmp = STATUS + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"generation": generation, "mode": settings.get("mode", "normal"), "settings": settings}, fh)
    os.replace(tmp, STATUS)
    time.sleep(0.1)
