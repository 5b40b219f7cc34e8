# The check code of this task before the closed-world rework, kept verbatim.
# ruff: noqa: I001
"""Checks on what the running scheduler (an `app` service the agent cannot stop) has really loaded.

The agent is frozen before checks run; the scheduler keeps rescanning every 0.5 s. We wait for a scan that
started after the freeze (its generation counter moves on) and judge that one.
"""
from __future__ import annotations



STATUS = "/var/lib/appcron/status.json"
EXPORT_BINARY = "/opt/app/bin/export-data"

OTHER_JOBS = {
    ("logrotate-app", "0 * * * *",
     "/usr/sbin/logrotate --state /var/lib/app/logrotate.state /opt/app/logrotate.conf"),
    ("db-vacuum", "20 3 * * *", "/opt/app/bin/db-maint --vacuum --analyze"),
    ("weekly-export-cleanup", "15 4 * * 0", "/opt/app/bin/prune-exports --dir /srv/exports --keep-days 30"),
    ("cache-warm", "*/10 * * * *", "/opt/app/bin/cache-warm --top 500"),
    ("metrics-hourly", "5 * * * *", "/opt/app/bin/push-metrics --window 1h"),
    ("cert-expiry-check", "0 7 * * 1-5", "/opt/app/bin/check-certs --warn-days 21 --notify ops@northwind.example"),
    ("report-digest", "0 6 * * 1", "/opt/app/bin/report-digest --to analytics@northwind.example"),
    ("funnel-rollup", "40 1 * * *", "/opt/app/bin/funnel-rollup --days 1"),
}


def fresh_status(state) -> dict:
    return state.fresh_json(STATUS, service="the scheduler")


def export_not_loaded(state):
    st = fresh_status(state)
    hits = [j for j in st["jobs"] if EXPORT_BINARY in j["command"]]
    assert not hits, "the scheduler still loads the export: " + "; ".join(
        f"{j['name']} ({j['schedule']}) from {j['source']}:{j['line']}" for j in hits)
    return f"scan #{st['generation']}: {len(st['jobs'])} jobs loaded, none runs {EXPORT_BINARY}"


def other_jobs_intact(state):
    st = fresh_status(state)
    loaded = {(j["name"], j["schedule"], j["command"]) for j in st["jobs"]}
    missing = sorted(OTHER_JOBS - loaded)
    assert not missing, f"jobs no longer loaded as before: {[m[0] for m in missing]}"
    return f"all {len(OTHER_JOBS)} other jobs still loaded unchanged"
