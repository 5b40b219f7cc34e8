from pathlib import Path

from payments.config import load_settings
from payments.gateway import PaylaneClient

FIXTURE = Path(__file__).parent / "fixtures" / "settings.toml"


def test_headers_carry_the_configured_key():
    client = PaylaneClient(load_settings(FIXTURE, env={}))
    h = client.headers("idem-1")
    assert h["Authorization"] == "Bearer plk_test_00000000fixture0000000000"
    assert h["Idempotency-Key"] == "idem-1"


def test_idempotency_keys_are_unique():
    client = PaylaneClient(load_settings(FIXTURE, env={}))
    assert client.headers()["Idempotency-Key"] != client.headers()["Idempotency-Key"]
