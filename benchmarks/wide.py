"""Compile cost of wide and long circuits (issue 11.1): seconds and peak memory, reported.

    python -m benchmarks.wide [--steps 100000] [--width 20000] [--params 8000]

Each case runs in a fresh subprocess, so its peak resident memory (``ru_maxrss``) is its own:
the SymPy circuit is built first (its memory is reported apart), then circuitc builds and
renders the module, then Python compiles and imports it. Nothing here is asserted: the tests
prove linear growth with step counts (tests/test_wide_compile.py), this file reports figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _case(kind: str, n: int) -> dict:
    """Build one circuit of size n, compile it, report times and peak memory (in this process)."""
    import sympy as sp

    import circuitc
    from circuitc.loader import load_source

    t0 = time.perf_counter()
    if kind == "chain":  # x -> sin(x) -> sin(sin(x)) ..., n steps
        x = sp.Symbol("x")
        steps, prev = [], x
        for k in range(n):
            s = sp.Symbol(f"s{k}")
            steps.append((s, sp.sin(prev)))
            prev = s
        args = (circuitc.Circuit("chain", prev, [x], steps=steps),)
    elif kind in ("sum", "product"):
        xs = list(sp.symbols(f"x0:{n}"))
        args = (sp.Add(*(x**2 for x in xs)) if kind == "sum" else sp.Mul(*xs), xs)
    elif kind == "params":  # t_k = sin(t_{k-1}) + w_k: n parameters
        x = sp.Symbol("x")
        ws = list(sp.symbols(f"w0:{n}"))
        steps, prev = [], x
        for k, w in enumerate(ws):
            t = sp.Symbol(f"t{k}")
            steps.append((t, sp.sin(prev) + w))
            prev = t
        args = (circuitc.Circuit("params", prev, [x, *ws], steps=steps),)
    else:
        raise ValueError(kind)
    built, rss_sympy = time.perf_counter() - t0, _rss_mb()
    t1 = time.perf_counter()
    text = circuitc.source(*args)
    t2 = time.perf_counter()
    load_source(text, kind)
    t3 = time.perf_counter()
    return {
        "case": kind,
        "n": n,
        "sympy_s": round(built, 2),
        "circuitc_s": round(t2 - t1, 2),
        "python_compile_s": round(t3 - t2, 2),
        "source_mb": round(len(text) / 1e6, 1),
        "rss_after_sympy_mb": round(rss_sympy),
        "peak_rss_mb": round(_rss_mb()),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--width", type=int, default=20_000)
    p.add_argument("--params", type=int, default=8_000)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.case:  # the child: one case, one JSON line
        print(json.dumps(_case(a.case, a.n)))
        return
    cases = [("sum", a.width), ("product", a.width), ("params", a.params), ("chain", a.steps)]
    for kind, n in cases:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.wide", "--case", kind, "--n", str(n)],
            capture_output=True,
            text=True,
        )
        print(out.stdout.strip() or out.stderr.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
