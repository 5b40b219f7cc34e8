"""Hidden goal tests: they call the agent's code in an isolated child interpreter, never in this process."""

from _isolated import run_calls, same

ROOT = "/workspace/calc"


def test_even_counts():
    cases = {(1, 2): 1.5, (4, 1, 3, 2): 2.5, (10, 0, 5, 7): 6.0, (-3, 3): 0.0, (2, 2, 8, 8): 5.0}
    got = run_calls(ROOT, [{"module": "calc.stats", "func": "median", "args": [list(c)]} for c in cases])
    bad = [(c, g, w) for (c, w), g in zip(cases.items(), got) if not same(g, w)]
    assert not bad, bad
