"""Hidden collateral tests: the pagination contract the orders service relies on stays as it was."""

from __future__ import annotations

from _isolated import Raised, run_calls, same

ROOT = "/workspace/catalog"


def test_invalid_requests_still_rejected():
    calls = [
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": 0, "per_page": 10}},
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": -3, "per_page": 10}},
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": 1, "per_page": 0}},
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": 1, "per_page": 101}},
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": 1, "per_page": 10, "sort": "stock"}},
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": "2", "per_page": 10}},
    ]
    want = ["PageOutOfRange", "PageOutOfRange", "ValueError", "ValueError", "ValueError", "TypeError"]
    got = run_calls(ROOT, calls)
    bad = [(c["kwargs"], g, w) for c, g, w in zip(calls, got, want) if not (isinstance(g, Raised) and g.is_a(w))]
    assert not bad, bad


def test_first_page_shape():
    out = run_calls(ROOT, [{"module": "catalog.api", "func": "list_products", "kwargs": {"page": 1, "per_page": 3}}])[0]
    assert isinstance(out, dict), out
    assert set(out) == {"items", "page", "per_page", "total", "pages", "has_next", "has_prev", "next_page"}, sorted(out)
    assert same(out["page"], 1) and same(out["has_prev"], False) and same(out["next_page"], 2)
    assert len(out["items"]) == 3
    assert all(set(i) == {"sku", "name", "category", "price_cents", "stock"} for i in out["items"])


def test_empty_category_has_one_empty_page():
    calls = [
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": 1, "per_page": 10, "category": "kayaks"}},
        {"module": "catalog.api", "func": "list_products", "kwargs": {"page": 2, "per_page": 10, "category": "kayaks"}},
    ]
    first, second = run_calls(ROOT, calls)
    assert isinstance(first, dict) and same(first["items"], []) and same(first["pages"], 1), first
    assert same(first["has_next"], False) and same(first["next_page"], None)
    assert isinstance(second, Raised) and second.is_a("PageOutOfRange"), second
