from catalog.api import list_products


def test_first_page_of_packs():
    out = list_products(page=1, per_page=5, category="packs")
    assert out["total"] == 10
    assert out["pages"] == 2
    assert [p["sku"] for p in out["items"]] == ["TW-1021", "TW-1022", "TW-1023", "TW-1024", "TW-1025"]
    assert out["next_page"] == 2


def test_last_page_of_packs_has_no_next():
    out = list_products(page=2, per_page=5, category="packs")
    assert out["has_next"] is False
    assert out["next_page"] is None


def test_sort_by_price():
    out = list_products(page=1, per_page=10, sort="price")
    prices = [p["price_cents"] for p in out["items"]]
    assert prices == sorted(prices)
