#!/bin/bash
# Reference solution: one validator shared by quote_breakdown and quote_shipping (and so by the batch
# tool); every bad argument raises ValueError naming the argument; valid inputs price exactly as before.
set -euo pipefail
cd /workspace/shiprate
python3 - <<'PY'
from pathlib import Path

p = Path("shiprate/rates.py")
src = p.read_text()
old_service = '''def _service(name: str) -> Service:
    return SERVICES[name.strip().lower()]
'''
new_service = '''def _service(name: str) -> Service:
    return SERVICES[name.strip().lower()]


def _real(name: str, value: object) -> float:
    """A finite int or float (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value!r}")
    return value


def _validate(weight_kg: object, distance_km: object, service: object, insured_value: object) -> Service:
    weight = _real("weight_kg", weight_kg)
    if not 0 < weight <= MAX_WEIGHT_KG:
        raise ValueError(f"weight_kg must be more than 0 and at most {MAX_WEIGHT_KG}, not {weight_kg!r}")
    distance = _real("distance_km", distance_km)
    if not 0 <= distance <= MAX_DISTANCE_KM:
        raise ValueError(f"distance_km must be between 0 and {MAX_DISTANCE_KM}, not {distance_km!r}")
    if insured_value is not None and _real("insured_value", insured_value) < 0:
        raise ValueError(f"insured_value must not be negative, not {insured_value!r}")
    if not isinstance(service, str) or service.strip().lower() not in SERVICES:
        raise ValueError(f"service must be one of {sorted(SERVICES)}, not {service!r}")
    return _service(service)
'''
assert old_service in src
src = src.replace(old_service, new_service)
old_call = '''    """Every part of a quote, in cents, and the total."""
    svc = _service(service)
'''
assert old_call in src
src = src.replace(old_call, '''    """Every part of a quote, in cents, and the total; ValueError for any invalid argument."""
    svc = _validate(weight_kg, distance_km, service, insured_value)
''')
p.write_text(src)
PY
python3 -m pytest -q -p no:cacheprovider
