#!/usr/bin/env python3
"""appcron: a small cron-style scheduler for the Northwind app tier.

Every 0.5 s it rescans its job definitions, writes what it loaded to /var/lib/appcron/status.json and
queues the jobs that are due in /var/lib/appcron/queue.jsonl (the worker pool picks them up from there).

Job files: every /etc/appcron.d/*.cron, read in lexical order. Line format (fields separated by blanks):

    minute hour day-of-month month day-of-week  job-name  command...

`#` starts a comment line. `@include GLOB` loads the matching files at that point (lexical order).
A job name defined more than once: the definition loaded LAST wins.
"""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import time

JOB_DIR = "/etc/appcron.d"
STATE_DIR = "/var/lib/appcron"
STATUS = os.path.join(STATE_DIR, "status.json")
QUEUE = os.path.join(STATE_DIR, "queue.jsonl")
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
MAX_INCLUDE_DEPTH = 4


def field_values(expr: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for part in expr.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = int(s)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
        else:
            a = b = int(part)
        if a < lo or b > hi or a > b or step < 1:
            raise ValueError(f"{expr!r} is out of range {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return out


def parse_schedule(fields: list[str]) -> list[set[int]]:
    sets = [field_values(f, lo, hi) for f, (lo, hi) in zip(fields, RANGES)]
    if 7 in sets[4]:
        sets[4].add(0)
    return sets


def load(path: str, jobs: dict, errors: list, files: list, depth: int = 0) -> None:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror}")
        return
    files.append(path)
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@include"):
            parts = line.split(None, 1)
            if len(parts) != 2 or depth >= MAX_INCLUDE_DEPTH:
                errors.append(f"{path}:{n}: bad or too deeply nested @include")
                continue
            for inc in sorted(glob.glob(parts[1])):
                load(inc, jobs, errors, files, depth + 1)
            continue
        fields = line.split(None, 6)
        if len(fields) < 7:
            errors.append(f"{path}:{n}: expected 5 schedule fields, a job name and a command")
            continue
        try:
            parse_schedule(fields[:5])
        except ValueError as exc:
            errors.append(f"{path}:{n}: {exc}")
            continue
        jobs[fields[5]] = {
            "name": fields[5], "schedule": " ".join(fields[:5]), "command": fields[6],
            "source": path, "line": n,
        }


def due(job: dict, now: dt.datetime) -> bool:
    m, h, dom, mon, dow = parse_schedule(job["schedule"].split())
    return (now.minute in m and now.hour in h and now.day in dom and now.month in mon
            and (now.isoweekday() % 7) in dow)


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def main() -> None:
    os.makedirs(STATE_DIR, exist_ok=True)
    generation = 0
    queued: set[tuple[str, str]] = set()
    while True:
        jobs: dict = {}
        errors: list = []
        files: list = []
        for path in sorted(glob.glob(os.path.join(JOB_DIR, "*.cron"))):
            load(path, jobs, errors, files)
        now = dt.datetime.now().replace(second=0, microsecond=0)
        stamp = now.isoformat()
        for job in jobs.values():
            if due(job, now) and (job["name"], stamp) not in queued:
                queued.add((job["name"], stamp))
                with open(QUEUE, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"at": stamp, "job": job["name"], "command": job["command"]}) + "\n")
        generation += 1
        write_json(STATUS, {
            "generation": generation, "scanned_at": dt.datetime.now().isoformat(timespec="milliseconds"),
            "pid": os.getpid(), "files": files, "jobs": sorted(jobs.values(), key=lambda j: j["name"]),
            "errors": errors,
        })
        time.sleep(0.1)


if __name__ == "__main__":
    main()
