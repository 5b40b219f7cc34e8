"""The shop's read-only product catalog."""

__version__ = "1.8.0"
