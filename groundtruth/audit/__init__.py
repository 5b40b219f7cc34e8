"""Audit metrics: compare what the container proved, what the agent claimed and what the simulator judged.

Pure logic, no I/O, so the numbers in a report can be recomputed from stored episode records alone.
"""
