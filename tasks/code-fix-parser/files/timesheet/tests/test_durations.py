import pytest

from timesheet.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("45m", 2700), ("90s", 90), ("1h30m", 5400), ("1h 30m", 5400), ("2h5m10s", 7510)],
)
def test_units(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), [("1.5h", 5400), ("0.25h", 900), (".5h", 1800)])
def test_decimal_hours(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "seconds"), [("1:00", 3600), ("1:30", 5400), ("2:00", 7200)])
def test_clock_notation(text, seconds):
    assert parse_duration(text) == seconds


def test_case_and_whitespace():
    assert parse_duration("  2H ") == 7200


@pytest.mark.parametrize("text", ["", "   ", "abc", "1x", "h", "1h30", "-1h"])
def test_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration():
    assert format_duration(5400) == "1h30m"
    assert format_duration(300) == "0h05m"
