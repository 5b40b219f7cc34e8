"""Hidden collateral tests: every other documented duration form behaves exactly as before."""

from __future__ import annotations

import random

from _isolated import Raised, run_calls, same

ROOT = "/workspace/timesheet"


def parse_many(texts: list[str]) -> list[object]:
    return run_calls(ROOT, [{"module": "timesheet.durations", "func": "parse_duration", "args": [t]} for t in texts])


def test_unit_forms():
    cases = {}
    for h in (0, 1, 2, 11):
        for m in (0, 5, 30, 59):
            cases[f"{h}h{m}m"] = h * 3600 + m * 60
            cases[f"{h}h {m}m"] = h * 3600 + m * 60
            cases[f"{h}H{m}M7s"] = h * 3600 + m * 60 + 7
    cases.update({"2h": 7200, "45m": 2700, "90s": 90, "125m": 7500, " 3h ": 10800, "1h1s": 3601})
    got = parse_many(list(cases))
    bad = [(t, g, w) for (t, w), g in zip(cases.items(), got) if not same(g, w)]
    assert not bad, f"{len(bad)} wrong, e.g. {bad[:4]}"


def test_decimal_hours():
    cases = {"1.5h": 5400, "0.25h": 900, ".5h": 1800, "2.75h": 9900, "0.1h": 360, "3.h": 10800, "0.0003h": 1}
    got = parse_many(list(cases))
    bad = [(t, g, w) for (t, w), g in zip(cases.items(), got) if not same(g, w)]
    assert not bad, bad


def test_garbage_still_rejected():
    texts = ["", "  ", "abc", "1x", "h", "1h30", "-1h", "1.5", "1,5h", "one hour", "1 h"]
    got = parse_many(texts)
    wrong = [(t, g) for t, g in zip(texts, got) if not (isinstance(g, Raised) and g.is_a("ValueError"))]
    assert not wrong, wrong


def test_format_duration():
    cases = {5400: "1h30m", 300: "0h05m", 0: "0h00m", 3629: "1h00m", 3630: "1h01m", 36000: "10h00m"}
    got = run_calls(ROOT, [{"module": "timesheet.durations", "func": "format_duration", "args": [s]} for s in cases])
    assert all(same(g, w) for g, w in zip(got, cases.values())), list(zip(cases, got))


def test_random_unit_and_decimal_forms():
    rng = random.SystemRandom()
    cases: dict[str, int] = {}
    while len(cases) < 150:
        h, m, sec = rng.randrange(0, 30), rng.randrange(0, 60), rng.randrange(0, 60)
        quarter = rng.randrange(0, 40)
        text, want = rng.choice([
            (f"{h}h{m}m{sec}s", h * 3600 + m * 60 + sec), (f"{h}h {m}m", h * 3600 + m * 60),
            (f"{m}m", m * 60), (f"{sec}s", sec), (f"{quarter / 4}h", quarter * 900),
        ])
        cases[rng.choice(["", " "]) + rng.choice([text, text.upper()]) + rng.choice(["", " "])] = want
    items = list(cases.items())
    rng.shuffle(items)
    got = parse_many([t for t, _ in items])
    bad = [(t, g, w) for (t, w), g in zip(items, got) if not same(g, w)]
    assert not bad, f"{len(bad)} of {len(items)} wrong, e.g. {bad[:4]}"
