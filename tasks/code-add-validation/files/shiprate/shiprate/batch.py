"""Quotes for a whole CSV export of orders (the warehouse's nightly run)."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from shiprate.rates import quote_shipping


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def quote_many(rows: Iterable[dict[str, str]]) -> list[dict[str, object]]:
    """One result per row: {"order_id", "price_cents"} or {"order_id", "error"}."""
    out: list[dict[str, object]] = []
    for row in rows:
        order_id = row.get("order_id", "")
        try:
            insured = row.get("insured_value") or None
            price = quote_shipping(
                _number(row["weight_kg"]), _number(row["distance_km"]), row.get("service") or "standard",
                insured_value=_number(insured) if insured else None,
            )
        except (ValueError, KeyError) as exc:
            out.append({"order_id": order_id, "error": str(exc)})
        else:
            out.append({"order_id": order_id, "price_cents": price})
    return out


def quote_file(path: str) -> list[dict[str, object]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return quote_many(csv.DictReader(fh))
