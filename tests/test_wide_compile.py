"""Compiling is linear in the circuit's width, length and number of parameters (issue 11.1).

Proved by counting steps, never by timing: every Python line executed while circuitc builds
and renders a module is counted (``sys.settrace``), for a circuit and for the same circuit
twice as large. A linear compiler takes about twice the steps; a quadratic one (the emitter
once rescanned every update per parameter) takes four times as many. The emitted module is
also checked to grow linearly, and to have no line that grows with the circuit.
"""

from __future__ import annotations

import io
import sys
import tokenize

import pytest
import sympy as sp

import circuitc

#: doubling the circuit may multiply the steps by at most this (2 plus slack for the
#: constant part not halving exactly, never the 4 of a quadratic)
DOUBLING = 2.3


def steps(build) -> int:
    """Python lines executed by ``build()`` (every frame, circuitc's and its libraries')."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame, event, arg):
        return local

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        build()
    finally:
        sys.settrace(old)
    return count


def assert_linear(make, n: int) -> None:
    """steps(make(2n)) is no more than DOUBLING times steps(make(n)). A small circuit of the
    same kind is compiled first, so one-time work (templates, rule caches) is not counted."""
    circuitc.source(*make(max(2, n // 8)))
    small, large = (steps(lambda k=k: circuitc.source(*make(k))) for k in (n, 2 * n))
    assert large <= DOUBLING * small, f"{n}: {small} steps, {2 * n}: {large} steps"


def chain_with_parameters(n: int):
    """t_k = sin(t_{k-1}) + w_k: n steps and n parameters (wrt grows with the circuit)."""
    x = sp.Symbol("x")
    ws = list(sp.symbols(f"w0:{n}"))
    steps_, prev = [], x
    for k, w in enumerate(ws):
        t = sp.Symbol(f"t{k}")
        steps_.append((t, sp.sin(prev) + w))
        prev = t
    return (circuitc.Circuit("chain", prev, [x, *ws], steps=steps_),)


def wide_sum(n: int):
    xs = list(sp.symbols(f"x0:{n}"))
    return sp.Add(*(x**2 for x in xs)), xs


def wide_product(n: int):
    xs = list(sp.symbols(f"x0:{n}"))
    return sp.Mul(*xs), xs


def wide_condition(n: int):
    x = sp.Symbol("x")
    zs = list(sp.symbols(f"z0:{n}"))
    return sp.Piecewise((x**2, sp.And(*(z > 0 for z in zs))), (x, True)), [x]


def wide_max(n: int):
    xs = list(sp.symbols(f"x0:{n}"))
    return sp.Max(*xs, evaluate=False), xs


@pytest.mark.slow
def test_compile_steps_linear_in_parameters():
    """8k parameters must compile in seconds: the emitter may not rescan updates per parameter."""
    assert_linear(chain_with_parameters, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("make", [wide_sum, wide_product, wide_condition, wide_max])
def test_compile_steps_linear_in_width(make):
    assert_linear(make, 300)


def operators_per_line(source: str) -> int:
    """The most arithmetic operators on one line of code (comments do not count)."""
    most: dict[int, int] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.OP and tok.string in ("+", "-", "*", "/", "**"):
            most[tok.start[0]] = most.get(tok.start[0], 0) + 1
    return max(most.values())


def test_no_line_grows_with_the_width():
    """A 2000-term sum and product: no emitted line holds more operators than the 64-wide
    module's longest line (a few terms a line, whatever the width)."""
    for make in (wide_sum, wide_product):
        most = {n: operators_per_line(circuitc.source(*make(n))) for n in (64, 2000)}
        assert most[2000] <= most[64] <= 20, most


def test_source_size_linear_in_width():
    """The module of a 2n-term sum is at most about twice the n-term one."""
    sizes = {n: len(circuitc.source(*wide_sum(n))) for n in (500, 1000)}
    assert sizes[1000] <= 2.1 * sizes[500], sizes
