"""The builder-form rules of products and powers: an n-ary product's partials from prefix and
suffix products, and the power with an exponent that is not a constant (both written against
the IR builder, as ``rules.structural_vjp`` dispatches them)."""

from __future__ import annotations

import sympy as sp

from ..core.ir import Graph


def product_vjp(graph: Graph, args, g: int) -> list[int]:
    """All partials of a_0·…·a_{n-1} from prefix and suffix products: 3n multiplications, not n².

    The prefix products carry the incoming adjoint (``prefix[i] = g·a_0·…·a_{i-1}``), so each
    contribution ``prefix[i]·suffix[i]`` costs one more multiplication.
    """
    n = len(args)
    prefix = [g] * n  # prefix[i] = g · a_0 … a_{i-1}
    suffix = [None] * n  # suffix[i] = a_{i+1} … a_{n-1}
    for i in range(1, n):
        prefix[i] = graph.mul(prefix[i - 1], args[i - 1])
    for i in range(n - 2, -1, -1):
        suffix[i] = args[n - 1] if i == n - 2 else graph.mul(args[i + 1], suffix[i + 1])
    return [prefix[i] if suffix[i] is None else graph.mul(prefix[i], suffix[i]) for i in range(n)]


def symbolic_pow_vjp(graph: Graph, nid: int, g: int) -> list[int]:
    """b**e with an exponent that is not a constant: to the base ``g*e*b**(e-1)``, to the
    exponent ``g*ans*log(b)``, except where ans is 0 (b = 0, e > 0): there ans*log(b) is
    0*(-inf) = nan while its limit is 0, which a where gives (as PyTorch does)."""
    base, exp = graph.nodes[nid].args
    to_base = graph.mul(g, exp, graph.pow(base, graph.add(exp, graph.const(-1))))
    if graph.is_const(base) and graph.values[base].is_zero:
        # 0**e is 0 for every e > 0, so d/de is 0 there (the limit ans*log(b) -> 0, as in
        # autograd and PyTorch); log(0) itself is no number
        return [to_base, None]
    if graph.is_const(base):  # 2**e: log(2) is a number
        return [to_base, graph.mul(g, nid, graph.const(sp.log(graph.values[base])))]
    zero = graph.const(0)
    to_exp = graph.mul(g, nid, graph.call("log", base))
    return [to_base, graph.call("where", graph.call("eq", nid, zero), zero, to_exp)]
