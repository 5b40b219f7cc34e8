"""HTTP client with bounded retries."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request

from tidewater.models import Extreme, Station

DEFAULT_BASE_URL = "https://api.halcyon-labs.example/v2"


class Client:
    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0,
                 retries: int = 3, retry_budget: float | None = None) -> None:
        """`retry_budget` caps the total seconds spent waiting between retries (None: no cap)."""
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.retry_budget = retry_budget

    def _get(self, path: str) -> dict:
        waited, delay = 0.0, 0.5
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(f"{self.base_url}{path}", headers={"Authorization": f"Bearer {self.api_key}"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except OSError:
                if attempt == self.retries:
                    raise
                if self.retry_budget is not None and waited + delay > self.retry_budget:
                    raise
                time.sleep(delay)
                waited += delay
                delay *= 2
        raise RuntimeError("unreachable")

    def stations(self) -> list[Station]:
        out, page = [], 1
        while True:
            data = self._get(f"/stations?page={page}")
            out += [Station(**s) for s in data["items"]]
            if not data.get("next_page"):
                return out
            page = data["next_page"]

    def extremes(self, station_id: str, days: int = 1) -> list[Extreme]:
        data = self._get(f"/stations/{station_id}/extremes?days={days}")
        return [Extreme(time=dt.datetime.fromisoformat(e["time"]), kind=e["kind"], height_m=e["height_m"])
                for e in data["items"]]
