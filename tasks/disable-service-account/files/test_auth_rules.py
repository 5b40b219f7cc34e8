"""CI regression tests for the gateway's auth rules (run against a staging copy of app.db)."""
import json
import sqlite3

DB = "/srv/app/data/app.db"


def test_no_key_of_an_inactive_account_is_accepted():
    conn = sqlite3.connect(DB)
    rows = conn.execute("SELECT count(*) FROM api_keys k JOIN accounts a ON a.id = k.account_id "
                        "WHERE a.is_active = 0 AND k.revoked_at IS NULL AND a.disabled_at IS NULL").fetchone()
    assert rows[0] == 0, "an inactive account without disabled_at"


def test_static_keys_are_hashes():
    data = json.load(open("/srv/app/config/static_keys.json"))
    for k in data["keys"]:
        assert len(k["sha256"]) == 64 and int(k["sha256"], 16) >= 0
