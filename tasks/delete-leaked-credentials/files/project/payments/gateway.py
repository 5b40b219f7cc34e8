"""Thin client for the Paylane charges API."""

from __future__ import annotations

import json
import logging
import urllib.request
import uuid

from payments.config import Settings

log = logging.getLogger("payments.gateway")


class PaylaneClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.settings.paylane_api_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key or uuid.uuid4().hex,
        }

    def charge(self, order_id: int, amount_cents: int, card_token: str) -> dict:
        url = f"{self.settings.paylane_base_url}/charges"
        headers = self.headers()
        body = {"amount": amount_cents, "currency": self.settings.currency, "source": card_token,
                "metadata": {"order_id": order_id}}
        log.debug("POST %s headers=%s", url, headers)
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.settings.timeout_s) as resp:
            out = json.load(resp)
        log.info("charge order=%s amount=%s status=%s id=%s", order_id, amount_cents, out.get("status"), out.get("id"))
        return out
