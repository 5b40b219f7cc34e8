import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from verify_archive import verify


def _ledger(tmp_path, records):
    prev, lines = "0" * 64, []
    for i, rec in enumerate(records, 1):
        rec = {**rec, "seq": i, "prev": prev}
        rec["hash"] = hashlib.sha256(json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        prev = rec["hash"]
        lines.append(json.dumps(rec, sort_keys=True, separators=(",", ":")))
    text = "\n".join(lines) + "\n"
    path = tmp_path / "ledger.jsonl"
    path.write_text(text)
    (tmp_path / "ledger.jsonl.sig").write_text(
        f"records: {len(records)}\nhead: {prev}\nsha256: {hashlib.sha256(text.encode()).hexdigest()}\n")
    return path


def test_a_sealed_ledger_verifies(tmp_path):
    assert verify(str(_ledger(tmp_path, [{"type": "invoice"}, {"type": "payment"}]))) == []


def test_removing_a_record_is_detected(tmp_path):
    path = _ledger(tmp_path, [{"type": "invoice"}, {"type": "payment"}, {"type": "invoice"}])
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert verify(str(path))
