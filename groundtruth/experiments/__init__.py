"""Experiments built on the runner: studies that need many episodes and a result beyond one run's audit."""
