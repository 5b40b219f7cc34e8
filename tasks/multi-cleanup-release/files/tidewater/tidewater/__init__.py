"""Python client for the Halcyon tide and water-level API."""

from tidewater.client import Client
from tidewater.models import Extreme, Station

__all__ = ["Client", "Extreme", "Station"]
__version__ = "2.3.1"
