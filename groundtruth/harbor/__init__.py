"""Harbor / Terminal-Bench 2.x task import."""
