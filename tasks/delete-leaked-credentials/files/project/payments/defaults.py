"""Fallbacks used when a setting is missing entirely."""

FALLBACK_BASE_URL = "https://api.paylane.example/v2"
FALLBACK_CURRENCY = "EUR"
FALLBACK_TIMEOUT_S = 10.0
