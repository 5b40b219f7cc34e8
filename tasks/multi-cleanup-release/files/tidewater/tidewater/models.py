from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Extreme:
    time: dt.datetime
    kind: str  # "high" or "low"
    height_m: float
