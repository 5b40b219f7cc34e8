"""What the web layer calls for GET /api/products; returns JSON-ready dicts."""

from __future__ import annotations

from catalog import store
from catalog.pagination import paginate
from catalog.settings import DATA_FILE, DEFAULT_PER_PAGE


def list_products(page: int = 1, per_page: int = DEFAULT_PER_PAGE, category: str | None = None,
                  sort: str = "sku", data_file: str | None = None) -> dict:
    products = store.query(store.load(data_file or DATA_FILE), category=category, sort=sort)
    p = paginate(products, page=page, per_page=per_page)
    return {
        "items": [prod.to_dict() for prod in p.items],
        "page": p.number,
        "per_page": p.per_page,
        "total": p.total,
        "pages": p.pages,
        "has_next": p.has_next,
        "has_prev": p.has_prev,
        "next_page": p.number + 1 if p.has_next else None,
    }
