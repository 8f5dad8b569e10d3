"""Plain NumPy functions that tests/test_wide.py registers as circuitc ops (imported by name)."""

import numpy as np


def sum_squares(*args):
    """Σ a_k², elementwise over broadcast arguments."""
    return sum(np.square(a) for a in args)
