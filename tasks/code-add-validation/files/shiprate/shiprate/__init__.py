"""Parcel shipping quotes."""

from shiprate.batch import quote_many
from shiprate.rates import SERVICES, estimate_days, quote_breakdown, quote_shipping

__all__ = ["SERVICES", "estimate_days", "quote_breakdown", "quote_many", "quote_shipping"]
__version__ = "2.1.0"
