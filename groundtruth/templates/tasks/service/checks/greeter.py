"""What the running service reports, not what its config file says: a config the service cannot read, or a
service the agent stopped, does not count (the service is declared in [[services]] with its heartbeat)."""

from __future__ import annotations


def reports_maintenance(state):
    status = state.fresh_json("/var/lib/greeter/status.json", service="greeter")
    assert status["mode"] == "maintenance", f"the greeter reports mode {status['mode']!r}"
    return f"greeter reports maintenance (generation {status['generation']})"
