"""Hidden collateral tests: what worked before must still work."""

from _isolated import Raised, run_calls, same

ROOT = "/workspace/calc"


def test_odd_counts_and_mean():
    calls = [{"module": "calc.stats", "func": "median", "args": [[3, 1, 2]]},
             {"module": "calc.stats", "func": "median", "args": [[7]]},
             {"module": "calc.stats", "func": "mean", "args": [[1, 2, 3, 4]]}]
    got = run_calls(ROOT, calls)
    assert [same(g, w) for g, w in zip(got, [2, 7, 2.5])] == [True, True, True], got


def test_empty_input_still_raises():
    got = run_calls(ROOT, [{"module": "calc.stats", "func": "median", "args": [[]]}])
    assert isinstance(got[0], Raised) and got[0].is_a("ValueError"), got
