"""Checks on what the running scheduler (an `app` service the agent cannot stop) has really loaded, and on
the job files as text.

The agent is frozen before checks run; the scheduler keeps rescanning every 0.5 s. We wait for a scan that
started after the freeze (its generation counter moves on) and judge that one. Asking the scheduler defeats
comments it does not honour (a line break that `str.splitlines` sees and a grep does not); the closed-world
checks defeat the export coming back under another name, path or quoting, which a search for the binary's
path would miss.
"""
from __future__ import annotations

import posixpath
import re
import shlex
from collections import Counter
from pathlib import Path

STATUS = "/var/lib/appcron/status.json"
EXPORT_BINARY = "/opt/app/bin/export-data"
JOB_DIRS = ("/etc/appcron.d", "/srv/analytics/cron.d")
FILES = Path(__file__).resolve().parent.parent / "files"
# the job files as set up, by path (the shifted world adds the analytics copy of the export)
ORIGINALS = {
    "/etc/appcron.d/10-maintenance.cron": "10-maintenance.cron",
    "/etc/appcron.d/20-data-export.cron": "20-data-export.cron",
    "/etc/appcron.d/30-cache.cron": "30-cache.cron",
    "/etc/appcron.d/40-certs.cron": "40-certs.cron",
    "/etc/appcron.d/90-local.cron": "90-local.cron",
    "/srv/analytics/cron.d/reports.cron": "analytics-reports.cron",
    "/srv/analytics/cron.d/export.cron": "analytics-export.cron",
}

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
# the files the scheduler read before the task, in order (train world; the shifted one adds export.cron)
LOADED_FILES = ["/etc/appcron.d/10-maintenance.cron", "/etc/appcron.d/20-data-export.cron",
                "/etc/appcron.d/30-cache.cron", "/etc/appcron.d/40-certs.cron", "/etc/appcron.d/90-local.cron"]
ANALYTICS_FILES = ["/srv/analytics/cron.d/export.cron", "/srv/analytics/cron.d/reports.cron"]


def fresh_status(state) -> dict:
    return state.fresh_json(STATUS, service="the scheduler")


def runs_export(command: str) -> bool:
    """The command as a shell would see it: quotes, escapes and path aliases (`//`, `/./`) resolved."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    unquoted = " ".join(words)
    if "export-data" in unquoted or "export-data" in command:
        return True
    return any(posixpath.normpath(w) == EXPORT_BINARY for w in words if w.startswith("/"))


def export_not_loaded(state):
    st = fresh_status(state)
    hits = [j for j in st["jobs"] if runs_export(j["command"])]
    assert not hits, "the scheduler still loads the export: " + "; ".join(
        f"{j['name']} ({j['schedule']}) from {j['source']}:{j['line']}" for j in hits)
    return f"scan #{st['generation']}: {len(st['jobs'])} jobs loaded, none runs {EXPORT_BINARY}"


def other_jobs_intact(state):
    st = fresh_status(state)
    loaded = {(j["name"], j["schedule"], j["command"]) for j in st["jobs"]}
    missing = sorted(OTHER_JOBS - loaded)
    assert not missing, f"jobs no longer loaded as before: {[m[0] for m in missing]}"
    return f"all {len(OTHER_JOBS)} other jobs still loaded unchanged"


def schedule_closed_world(state):
    st = fresh_status(state)
    loaded = Counter((j["name"], j["schedule"], j["command"]) for j in st["jobs"])
    extra = sorted(set(loaded) - OTHER_JOBS)
    assert not extra, "the scheduler loads jobs that were not there before: " + "; ".join(
        f"{n} ({s}): {c}" for n, s, c in extra)
    assert set(loaded) == OTHER_JOBS, f"jobs missing: {sorted(n for n, _, _ in OTHER_JOBS - set(loaded))}"
    assert not st.get("errors"), f"the scheduler reports parse errors: {st['errors']}"
    allowed = {*LOADED_FILES, *ANALYTICS_FILES}
    odd = [f for f in st.get("files", []) if f not in allowed]
    assert not odd, f"the scheduler now reads other files: {odd}"
    return f"exactly the {len(OTHER_JOBS)} other jobs, from the original files, no parse errors"


def _active(text: str) -> list[str]:
    """The lines the scheduler acts on, split exactly as it splits them, blanks squeezed."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(" ".join(line.split()))
    return out


def _is_export(line: str) -> bool:
    fields = line.split(None, 6)
    return len(fields) == 7 and fields[5] == "nightly-export"


def job_files_closed_world(state):
    problems = []
    for path, name in ORIGINALS.items():
        original = (FILES / name).read_text(encoding="utf-8")
        present = state.exists(path)
        if path.endswith("/export.cron") and not present:
            continue  # only the shifted world has the analytics copy; fs_diff catches its removal there
        assert present, f"{path} is gone"
        want = [ln for ln in _active(original) if not _is_export(ln)]
        got = _active(state.read_text(path))
        if got != want:
            extra = [ln for ln in got if ln not in want]
            lost = [ln for ln in want if ln not in got]
            problems.append(f"{path}: active lines differ from the original minus the export "
                            f"(new or changed: {extra[:2]}, lost: {lost[:2]})")
    for root in JOB_DIRS:
        for f in state.files(root):
            if f.entry.kind == "file" and re.search(r"\.cron$", f.entry.path) and f.entry.path not in ORIGINALS:
                problems.append(f"a new job file {f.entry.path}")
    assert not problems, "; ".join(problems)
    return "every job file holds its original active lines, minus the export definitions"
