"""Hidden collateral tests: every valid quote is priced exactly as before the change (in place, as the agent).

Fixed grids plus fresh random quotes on every run, so no table of remembered answers can stand in for the
pricing code."""

from __future__ import annotations

import math
import random

from _isolated import run_calls, same

ROOT = "/workspace/shiprate"
RATES = {"standard": (495, 60, 35, (3, 5)), "express": (1190, 95, 60, (1, 2)), "overnight": (2490, 140, 90, (1, 1))}
WEIGHTS = [0.01, 0.1, 0.5, 0.51, 1, 2, 2.5, 7, 33.3, 69.99, 70]
DISTANCES = [0, 0.5, 1, 99, 100, 101, 340, 2500, 4999, 5000]
SERVICES = ["standard", "Express", " overnight ", "STANDARD", "express\n", "Overnight"]
INSURED = [None, 0, 0.0, 50, 100, 100.5, 101, 450, 2500, 99999.99]


def breakdown(w, d, s="standard", insured=None) -> dict:
    name = s.strip().lower()
    base, per_half_kg, per_100km, _ = RATES[name]
    weight = per_half_kg * math.ceil(w * 2)
    distance = per_100km * math.ceil(d / 100)
    insurance = round(max(0, insured - 100) * 0.01 * 100) if insured else 0
    return {"service": name, "base": base, "weight": weight, "distance": distance, "insurance": insurance,
            "total": base + weight + distance + insurance}


def test_quote_shipping_grid():
    cases = [(w, d, s) for s in SERVICES for w in WEIGHTS for d in DISTANCES]
    got = run_calls(ROOT, [{"module": "shiprate.rates", "func": "quote_shipping", "args": list(c)} for c in cases])
    bad = [(c, g, breakdown(*c)["total"]) for c, g in zip(cases, got) if not same(g, breakdown(*c)["total"])]
    assert not bad, f"{len(bad)} of {len(cases)} valid quotes changed, e.g. {bad[:5]}"


def test_default_service_and_insurance():
    cases = [(w, d, v) for w in (0.4, 3, 18) for d in (12, 500, 1250) for v in INSURED]
    calls = [{"module": "shiprate.rates", "func": "quote_shipping", "args": [w, d], "kwargs": {"insured_value": v}}
             for w, d, v in cases]
    got = run_calls(ROOT, calls)
    bad = [(c, g) for c, g in zip(cases, got) if not same(g, breakdown(c[0], c[1], insured=c[2])["total"])]
    assert not bad, bad[:5]


def test_breakdown_unchanged():
    cases = [(2.5, 340, "express", None), (3, 500, "standard", 450), (70, 5000, "Overnight", 2500), (0.2, 0, "standard", 0)]
    calls = [{"module": "shiprate.rates", "func": "quote_breakdown", "args": [w, d, s], "kwargs": {"insured_value": v}}
             for w, d, s, v in cases]
    got = run_calls(ROOT, calls)
    for c, g in zip(cases, got):
        assert same(g, breakdown(*c)), (c, g)


def test_batch_valid_rows_unchanged():
    rows = [
        {"order_id": "SO-88121", "weight_kg": "2.5", "distance_km": "340", "service": "express", "insured_value": ""},
        {"order_id": "SO-88122", "weight_kg": "0,4", "distance_km": "12", "service": "", "insured_value": ""},
        {"order_id": "SO-88123", "weight_kg": "18", "distance_km": "1250", "service": "standard", "insured_value": "650"},
        {"order_id": "SO-88124", "weight_kg": "1.2", "distance_km": "80", "service": "Overnight", "insured_value": ""},
        {"order_id": "SO-88127", "weight_kg": "70", "distance_km": "4999", "service": "standard", "insured_value": "2500"},
    ]
    want = [
        {"order_id": "SO-88121", "price_cents": breakdown(2.5, 340, "express")["total"]},
        {"order_id": "SO-88122", "price_cents": breakdown(0.4, 12)["total"]},
        {"order_id": "SO-88123", "price_cents": breakdown(18, 1250, insured=650.0)["total"]},
        {"order_id": "SO-88124", "price_cents": breakdown(1.2, 80, "overnight")["total"]},
        {"order_id": "SO-88127", "price_cents": breakdown(70, 4999, insured=2500.0)["total"]},
    ]
    got = run_calls(ROOT, [{"module": "shiprate.batch", "func": "quote_many", "args": [rows]}])[0]
    assert same(got, want), got


def test_estimate_days_unchanged():
    got = run_calls(ROOT, [{"module": "shiprate.rates", "func": "estimate_days", "args": [s]} for s in RATES])
    assert all(same(g, list(RATES[s][3])) for g, s in zip(got, RATES)), got


def test_random_valid_quotes():
    rng = random.SystemRandom()
    cases = []
    for _ in range(250):
        w = rng.choice([round(rng.uniform(0.01, 70), 2), rng.randrange(1, 71), round(rng.uniform(0.001, 1), 3)])
        d = rng.choice([round(rng.uniform(0, 5000), 1), rng.randrange(0, 5001), 0])
        s = rng.choice(["standard", "express", "overnight"])
        s = rng.choice(["", " ", "\t"]) + rng.choice([s, s.upper(), s.title()]) + rng.choice(["", " ", "\n"])
        v = rng.choice([None, 0, round(rng.uniform(0, 100), 2), round(rng.uniform(100, 99999), 2), rng.randrange(0, 5000)])
        cases.append((w, d, s, v))
    calls = [{"module": "shiprate.rates", "func": rng.choice(["quote_shipping", "quote_breakdown"]),
              "args": [w, d, s], "kwargs": {"insured_value": v}} for w, d, s, v in cases]
    got = run_calls(ROOT, calls)
    bad = []
    for c, call, g in zip(cases, calls, got):
        want = breakdown(*c)
        if not same(g, want["total"] if call["func"] == "quote_shipping" else want):
            bad.append((call["func"], c, g))
    assert not bad, f"{len(bad)} of {len(cases)} valid quotes changed, e.g. {bad[:4]}"
