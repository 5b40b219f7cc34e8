from tidewater import Client


def test_retry_budget_defaults_to_none():
    assert Client("k").retry_budget is None


def test_base_url_is_normalised():
    assert Client("k", base_url="https://x.example/v2/").base_url == "https://x.example/v2"
