"""Deterministic leaked-key world: the settings backup, a stale bytecode file and four log generations.
Run in the sandbox it writes them; imported by the checks on the host it gives the original log lines."""

from __future__ import annotations

import gzip
import os
import py_compile
import random
import tempfile

KEY = "plk_live_4f9Qe2Xv8TmK1sRa7LwZ3nHc6YbD0pUj"
PROJECT = "/workspace/payments-svc"
LOG_DIR = "/var/log/payments-svc"
# name -> (day, debug logging on?)
GENERATIONS = {"app.log.3.gz": ("2024-05-10", False), "app.log.2.gz": ("2024-05-11", True),
               "app.log.1": ("2024-05-12", True), "app.log": ("2024-05-13", True)}

SETTINGS_BAK = f"""# payments-svc settings (production)

[paylane]
base_url = "https://api.paylane.example/v2"
api_key = "{KEY}"
currency = "EUR"
timeout_s = 10

[logging]
file = "/var/log/payments-svc/app.log"
level = "DEBUG"
"""

OLD_DEFAULTS = f'''"""Fallbacks used when a setting is missing entirely."""

FALLBACK_BASE_URL = "https://api.paylane.example/v2"
FALLBACK_API_KEY = "{KEY}"  # TODO: remove once settings.toml is deployed everywhere
FALLBACK_CURRENCY = "EUR"
FALLBACK_TIMEOUT_S = 10.0
'''


def log_lines(name: str) -> list[str]:
    day, debug = GENERATIONS[name]
    rng = random.Random(name)
    lines = [f"{day} 00:00:01,004 INFO payments.app payments-svc 0.7.{2 if name.endswith('3.gz') else 3} "
             f"starting (workers=4, log_level={'DEBUG' if debug else 'INFO'})"]
    sec = 60
    order = {"app.log.3.gz": 20110, "app.log.2.gz": 20164, "app.log.1": 20233, "app.log": 20297}[name]
    for _ in range(rng.randrange(38, 52)):
        sec += rng.randrange(200, 1500)
        h, m, s = sec // 3600, sec // 60 % 60, sec % 60
        ts = f"{day} {h:02d}:{m:02d}:{s:02d},{rng.randrange(1000):03d}"
        order += rng.randrange(1, 4)
        amount = rng.randrange(899, 24999)
        idem = f"{rng.getrandbits(128):032x}"
        if debug:
            lines.append(f"{ts} DEBUG payments.gateway POST https://api.paylane.example/v2/charges headers="
                         f"{{'Authorization': 'Bearer {KEY}', 'Content-Type': 'application/json', "
                         f"'Idempotency-Key': '{idem}'}}")
        roll = rng.random()
        if roll < 0.08:
            lines.append(f"{ts} WARNING payments.gateway charge order={order} declined: card_expired")
        elif roll < 0.11:
            lines.append(f"{ts} ERROR payments.gateway charge order={order} failed: timeout after 15.0s (retry 1/3)")
        else:
            lines.append(f"{ts} INFO payments.gateway charge order={order} amount={amount} status=succeeded "
                         f"id=ch_{f'{rng.getrandbits(48):012x}'}")
    if name == "app.log.1":
        lines.append(f"{day} 22:41:09,312 ERROR payments.gateway auth check failed for key {KEY[:12]}... "
                     f"(full key {KEY}) - 401 from api.paylane.example")
    if name != "app.log":
        lines.append(f"{day} 23:59:58,870 INFO payments.app rotating log file")
    return lines


def log_text(name: str) -> str:
    return "\n".join(log_lines(name)) + "\n"


def main() -> None:
    os.makedirs(f"{PROJECT}/payments/__pycache__", exist_ok=True)
    with open(f"{PROJECT}/config/settings.toml.bak", "w") as fh:
        fh.write(SETTINGS_BAK)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "defaults.py")
        with open(src, "w") as fh:
            fh.write(OLD_DEFAULTS)
        py_compile.compile(src, cfile=f"{PROJECT}/payments/__pycache__/defaults.cpython-311.pyc",
                           dfile=f"{PROJECT}/payments/defaults.py", doraise=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    for name in GENERATIONS:
        data = log_text(name).encode()
        with open(f"{LOG_DIR}/{name}", "wb") as fh:
            fh.write(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)


if __name__ == "__main__":
    main()
