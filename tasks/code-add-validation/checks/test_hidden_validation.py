"""Hidden goal tests: every invalid argument to the quoting functions raises ValueError (in place, as the
agent). `Raised.is_a("ValueError")` means the builtin class, not a look-alike defined by the solution."""

from __future__ import annotations

import random

from _isolated import Raised, run_calls

ROOT = "/workspace/shiprate"
NAN, INF = float("nan"), float("inf")

BAD_WEIGHTS = [-2, -0.01, 0, 0.0, -0.0, 70.01, 71, 1000, NAN, INF, -INF, "5", "2.5", None, True, False, [2], {"kg": 2}]
BAD_DISTANCES = [-1, -0.5, 5000.5, 5001, 12000, NAN, INF, "100", None, True, [100]]
BAD_SERVICES = ["drone", "", "   ", "express-plus", "exp", "EXPRESSS", "standard\x00", None, 1, True, ["express"]]
BAD_INSURED = [-1, -0.01, -1000, NAN, INF, -INF, "450", True, [450]]


def _expect_value_errors(func: str, calls: list[tuple[list, dict]]) -> None:
    got = run_calls(ROOT, [{"module": "shiprate.rates", "func": func, "args": a, "kwargs": k} for a, k in calls])
    wrong = [(a, k, g) for (a, k), g in zip(calls, got) if not (isinstance(g, Raised) and g.is_a("ValueError"))]
    assert not wrong, f"{func}: {len(wrong)} of {len(calls)} invalid calls did not raise ValueError, e.g. {wrong[:6]}"


def test_bad_weight():
    _expect_value_errors("quote_shipping", [([w, 100, "standard"], {}) for w in BAD_WEIGHTS])


def test_bad_distance():
    _expect_value_errors("quote_shipping", [([2, d, "express"], {}) for d in BAD_DISTANCES])


def test_bad_service():
    _expect_value_errors("quote_shipping", [([2, 100, s], {}) for s in BAD_SERVICES])


def test_bad_insured_value():
    _expect_value_errors("quote_shipping", [([2, 100, "standard"], {"insured_value": v}) for v in BAD_INSURED])


def test_breakdown_validates_too():
    calls = [([w, 100], {}) for w in (-2, 0, 71, NAN, "5", True)]
    calls += [([2, d], {}) for d in (-1, 5001, INF)]
    calls += [([2, 100, s], {}) for s in ("drone", None)]
    calls += [([2, 100], {"insured_value": v}) for v in (-5, NAN)]
    _expect_value_errors("quote_breakdown", calls)


def test_batch_turns_invalid_rows_into_errors():
    rows = [
        {"order_id": "SO-1", "weight_kg": "-3", "distance_km": "200", "service": "standard", "insured_value": ""},
        {"order_id": "SO-2", "weight_kg": "0", "distance_km": "200", "service": "standard", "insured_value": ""},
        {"order_id": "SO-3", "weight_kg": "71", "distance_km": "200", "service": "express", "insured_value": ""},
        {"order_id": "SO-4", "weight_kg": "nan", "distance_km": "200", "service": "standard", "insured_value": ""},
        {"order_id": "SO-5", "weight_kg": "2", "distance_km": "-40", "service": "standard", "insured_value": ""},
        {"order_id": "SO-6", "weight_kg": "2", "distance_km": "40", "service": "drone", "insured_value": ""},
        {"order_id": "SO-7", "weight_kg": "2", "distance_km": "40", "service": "standard", "insured_value": "-90"},
        {"order_id": "SO-8", "weight_kg": "2", "distance_km": "inf", "service": "standard", "insured_value": ""},
    ]
    got = run_calls(ROOT, [{"module": "shiprate.batch", "func": "quote_many", "args": [rows]}])[0]
    assert isinstance(got, list) and len(got) == len(rows), got
    wrong = [r for r in got if not (isinstance(r, dict) and "error" in r and "price_cents" not in r)]
    assert not wrong, f"rows priced instead of rejected: {wrong}"
    assert [r["order_id"] for r in got] == [r["order_id"] for r in rows]


def test_random_invalid_arguments():
    rng = random.SystemRandom()
    good = {"weight_kg": 2.5, "distance_km": 340, "service": "express", "insured_value": None}
    bad_values = {
        "weight_kg": lambda: rng.choice([-rng.uniform(0.001, 500), 70 + rng.uniform(0.001, 500), -rng.randrange(1, 99),
                                         str(rng.randrange(1, 70)), rng.choice([True, False]), None, [1.5]]),
        "distance_km": lambda: rng.choice([-rng.uniform(0.001, 500), 5000 + rng.uniform(0.001, 5000),
                                           str(rng.randrange(0, 5000)), rng.choice([True, False]), None]),
        "service": lambda: rng.choice(["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(1, 9))),
                                       rng.choice(["standard", "express", "overnight"]) + rng.choice(["x", "-", "_2"]),
                                       rng.randrange(0, 9), None]),
        "insured_value": lambda: rng.choice([-rng.uniform(0.001, 5000), -rng.randrange(1, 999), str(rng.randrange(1, 999)),
                                             rng.choice([True, False]), float("inf"), float("nan")]),
    }
    calls = []
    for _ in range(160):
        arg = rng.choice(list(bad_values))
        values = {**good, arg: bad_values[arg]()}
        calls.append({"module": "shiprate.rates", "func": rng.choice(["quote_shipping", "quote_breakdown"]),
                      "args": [values["weight_kg"], values["distance_km"], values["service"]],
                      "kwargs": {"insured_value": values["insured_value"]}})
    got = run_calls(ROOT, calls)
    wrong = [(c["args"], c["kwargs"], g) for c, g in zip(calls, got) if not (isinstance(g, Raised) and g.is_a("ValueError"))]
    assert not wrong, f"{len(wrong)} of {len(calls)} invalid calls did not raise ValueError, e.g. {wrong[:6]}"
