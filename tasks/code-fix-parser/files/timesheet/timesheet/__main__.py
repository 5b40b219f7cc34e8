"""python3 -m timesheet report LOGFILE [--by-day]"""

from __future__ import annotations

import argparse
import sys

from timesheet.durations import format_duration
from timesheet.entries import LogFormatError, read_log
from timesheet.report import render, totals, totals_by_day


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="timesheet")
    sub = ap.add_subparsers(dest="cmd", required=True)
    rep = sub.add_parser("report", help="hours per project")
    rep.add_argument("log")
    rep.add_argument("--by-day", action="store_true")
    args = ap.parse_args(argv)
    try:
        entries = read_log(args.log)
    except (OSError, LogFormatError) as exc:
        print(f"timesheet: {exc}", file=sys.stderr)
        return 1
    if args.by_day:
        for project, days in totals_by_day(entries).items():
            print(project)
            for day, seconds in days.items():
                print(f"  {day}  {format_duration(seconds):>8}")
    else:
        print(render(totals(entries)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
