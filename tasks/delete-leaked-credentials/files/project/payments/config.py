"""Settings for payments-svc: config/settings.toml, overridden by the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "config" / "settings.toml"


@dataclass(frozen=True)
class Settings:
    paylane_api_key: str
    paylane_base_url: str
    currency: str
    timeout_s: float
    log_file: str
    log_level: str


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data = tomllib.loads(Path(path or DEFAULT_PATH).read_text())
    pl, log = data["paylane"], data["logging"]
    return Settings(
        paylane_api_key=env.get("PAYLANE_API_KEY", pl["api_key"]),
        paylane_base_url=env.get("PAYLANE_BASE_URL", pl["base_url"]),
        currency=pl.get("currency", "EUR"),
        timeout_s=float(env.get("PAYLANE_TIMEOUT_S", pl.get("timeout_s", 10))),
        log_file=log["file"],
        log_level=env.get("LOG_LEVEL", log.get("level", "INFO")),
    )
