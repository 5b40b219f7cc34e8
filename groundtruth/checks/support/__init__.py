"""Trusted helpers injected beside the hidden tests of `pytest` checks in the verifier container."""
