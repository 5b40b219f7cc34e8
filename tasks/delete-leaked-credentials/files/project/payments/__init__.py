"""payments-svc: card charges through the Paylane API."""

__version__ = "0.7.3"
