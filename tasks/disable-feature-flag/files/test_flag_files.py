"""CI: the flag files must stay well-formed."""
import json

CONFIG = "/opt/app/config/flags.json"
LOCAL = "/opt/app/config/flags.local.json"


def test_flags_json_shape():
    data = json.load(open(CONFIG))
    assert isinstance(data["version"], int)
    for name, spec in data["flags"].items():
        assert name.islower() and " " not in name
        assert isinstance(spec["enabled"], bool)
        assert 0 <= spec["rollout_percent"] <= 100
        assert spec.get("owner"), f"{name} has no owner"


def test_local_overrides_shape():
    data = json.load(open(LOCAL))
    for name, spec in data["overrides"].items():
        assert set(spec) <= {"enabled", "rollout_percent", "_why"}, name
