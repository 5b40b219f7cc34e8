"""Loading and querying the ERP export."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from catalog.settings import DATA_FILE, SORT_KEYS


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price_cents: int
    stock: int

    def to_dict(self) -> dict:
        return asdict(self)


def load(path: Path | str = DATA_FILE) -> list[Product]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Product(**row) for row in data["products"]]


def query(products: list[Product], category: str | None = None, sort: str = "sku") -> list[Product]:
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {SORT_KEYS}")
    rows = [p for p in products if category is None or p.category == category]
    key = {"sku": lambda p: p.sku, "name": lambda p: (p.name.lower(), p.sku), "price": lambda p: (p.price_cents, p.sku)}
    return sorted(rows, key=key[sort])
