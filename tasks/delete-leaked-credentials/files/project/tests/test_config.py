from pathlib import Path

from payments.config import DEFAULT_PATH, load_settings

FIXTURE = Path(__file__).parent / "fixtures" / "settings.toml"


def test_fixture_settings_load():
    s = load_settings(FIXTURE, env={})
    assert s.paylane_api_key == "plk_test_00000000fixture0000000000"
    assert s.paylane_base_url == "https://sandbox.paylane.example/v2"
    assert s.timeout_s == 3.0


def test_environment_overrides_the_file():
    s = load_settings(FIXTURE, env={"PAYLANE_API_KEY": "plk_test_from_env", "LOG_LEVEL": "WARNING"})
    assert s.paylane_api_key == "plk_test_from_env"
    assert s.log_level == "WARNING"


def test_production_settings_load_with_key_from_environment():
    s = load_settings(DEFAULT_PATH, env={"PAYLANE_API_KEY": "plk_test_from_env"})
    assert s.paylane_api_key == "plk_test_from_env"
    assert s.paylane_base_url == "https://api.paylane.example/v2"
    assert s.currency == "EUR"
    assert s.timeout_s == 15.0
    assert s.log_file == "/var/log/payments-svc/app.log"
