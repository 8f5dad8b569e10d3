"""Circuits and measurements several test files share (not oracles: see ``oracles.py``).

* ``sin_chain``: the long step circuit s_k = sin(s_{k-1}) the complexity and long-compile
  tests grow;
* ``peak``: the most bytes one call holds at once, by tracemalloc (the memory tests' oracle).
"""

from __future__ import annotations

import tracemalloc

import sympy as sp

import circuitc


def sin_chain(n: int, name: str = "sin_chain") -> circuitc.Circuit:
    """s_0 = sin(x), s_k = sin(s_{k-1}): n steps written as Circuit steps (3n IR nodes with
    the backward pass)."""
    x = sp.Symbol("x")
    steps, prev = [], x
    for k in range(n):
        s = sp.Symbol(f"s{k}")
        steps.append((s, sp.sin(prev)))
        prev = s
    return circuitc.Circuit(name, prev, [x], steps=steps)


def peak(fn) -> int:
    """The most bytes one call of ``fn`` holds at once (what it returns included), after one
    warm-up call."""
    fn()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        out = tracemalloc.get_traced_memory()[1] - before
        del result
    finally:
        tracemalloc.stop()
    return out
