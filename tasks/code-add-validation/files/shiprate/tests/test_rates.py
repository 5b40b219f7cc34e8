import pytest

from shiprate import estimate_days, quote_breakdown, quote_shipping


def test_express_example_from_readme():
    assert quote_shipping(2.5, 340, "express") == 1190 + 5 * 95 + 4 * 60


def test_standard_is_default():
    assert quote_shipping(1, 100) == 495 + 2 * 60 + 1 * 35


def test_service_name_is_case_and_space_insensitive():
    assert quote_shipping(1, 100, " Express ") == quote_shipping(1, 100, "express")


def test_insurance_above_100_eur():
    parts = quote_breakdown(3, 500, "standard", insured_value=450)
    assert parts["insurance"] == 350
    assert parts["total"] == parts["base"] + parts["weight"] + parts["distance"] + 350


def test_no_insurance_up_to_100_eur():
    assert quote_breakdown(3, 500, insured_value=80)["insurance"] == 0


def test_estimate_days():
    assert estimate_days("overnight") == (1, 1)


def test_negative_weight_is_rejected():
    with pytest.raises(ValueError):
        quote_shipping(-2, 100)


def test_unknown_service_is_rejected():
    with pytest.raises(ValueError):
        quote_shipping(2, 100, "drone")
