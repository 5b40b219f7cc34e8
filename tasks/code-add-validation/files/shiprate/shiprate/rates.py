"""Shipping prices in euro cents."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    base_cents: int
    per_half_kg_cents: int
    per_100km_cents: int
    days: tuple[int, int]


SERVICES: dict[str, Service] = {
    "standard": Service("standard", base_cents=495, per_half_kg_cents=60, per_100km_cents=35, days=(3, 5)),
    "express": Service("express", base_cents=1190, per_half_kg_cents=95, per_100km_cents=60, days=(1, 2)),
    "overnight": Service("overnight", base_cents=2490, per_half_kg_cents=140, per_100km_cents=90, days=(1, 1)),
}

MAX_WEIGHT_KG = 70
MAX_DISTANCE_KM = 5000
INSURANCE_FREE_UP_TO_EUR = 100
INSURANCE_RATE = 0.01


def _service(name: str) -> Service:
    return SERVICES[name.strip().lower()]


def quote_breakdown(weight_kg: float, distance_km: float, service: str = "standard", *,
                    insured_value: float | None = None) -> dict[str, int | str]:
    """Every part of a quote, in cents, and the total."""
    svc = _service(service)
    weight = svc.per_half_kg_cents * math.ceil(weight_kg * 2)
    distance = svc.per_100km_cents * math.ceil(distance_km / 100)
    insurance = 0
    if insured_value:
        insurance = round(max(0, insured_value - INSURANCE_FREE_UP_TO_EUR) * INSURANCE_RATE * 100)
    total = svc.base_cents + weight + distance + insurance
    return {"service": svc.name, "base": svc.base_cents, "weight": weight, "distance": distance,
            "insurance": insurance, "total": total}


def quote_shipping(weight_kg: float, distance_km: float, service: str = "standard", *,
                   insured_value: float | None = None) -> int:
    """The price in cents of shipping one parcel."""
    return int(quote_breakdown(weight_kg, distance_km, service, insured_value=insured_value)["total"])


def estimate_days(service: str = "standard") -> tuple[int, int]:
    """Earliest and latest delivery, in working days."""
    return _service(service).days
