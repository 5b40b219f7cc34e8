from shiprate.batch import quote_many


def test_quote_many_valid_rows():
    rows = [
        {"order_id": "A1", "weight_kg": "2,5", "distance_km": "340", "service": "express", "insured_value": ""},
        {"order_id": "A2", "weight_kg": "1", "distance_km": "100", "service": "", "insured_value": ""},
    ]
    assert quote_many(rows) == [{"order_id": "A1", "price_cents": 1905}, {"order_id": "A2", "price_cents": 650}]


def test_quote_many_reports_unparseable_numbers():
    out = quote_many([{"order_id": "B1", "weight_kg": "heavy", "distance_km": "10", "service": "standard"}])
    assert out[0]["order_id"] == "B1" and "error" in out[0]
