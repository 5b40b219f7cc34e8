"""groundtruth: environment-grounded agent sandboxes with verifiable outcomes."""

__version__ = "0.1.0"
