from pathlib import Path

from timesheet.entries import parse_line
from timesheet.report import render, totals, totals_from_file

LOG = Path(__file__).resolve().parent.parent / "logs" / "2024-03.log"


def test_parse_line():
    e = parse_line("2024-03-07   internal   1h        hiring panel")
    assert e.project == "INTERNAL"
    assert e.seconds == 3600
    assert e.note == "hiring panel"
    assert parse_line("# comment") is None
    assert parse_line("   ") is None


def test_totals_simple():
    entries = [parse_line("2024-03-01 A 1h"), parse_line("2024-03-02 A 30m"), parse_line("2024-03-02 B 2h")]
    assert totals(entries) == {"A": 5400, "B": 7200}


def test_march_log_internal_total():
    assert totals_from_file(str(LOG))["INTERNAL"] == 6300


def test_render():
    out = render({"A": 5400, "B": 7200})
    assert "A" in out and "1h30m" in out and "3h30m" in out
