"""Compile cost of wide and long circuits (issue 11.1): seconds, peak memory and source size.

    python -m benchmarks.wide [--steps 10000 30000 100000] [--width 20000] [--params 8000]
                              [--levels 1000] [--second-order auto|yes|no] [--traced]

Each case runs in a fresh subprocess, so its peak resident memory (``ru_maxrss``) and its CPU
seconds are its own: the SymPy circuit is built first (its time and memory reported apart),
then circuitc builds the IR and renders the module (``circuitc_s``), then Python compiles and
imports it (``python_compile_s``), as ``circuitc.compile`` does. ``--traced`` adds the peak of
the memory Python allocates while compiling and importing (``tracemalloc``; slower). Nothing
here is asserted: the tests count lines, statements and steps (tests/test_long_compile.py,
tests/test_wide_compile.py); this file reports figures.

Recorded on the shared 2-core machine (CPU seconds of circuitc plus Python's compile and
import; SymPy's own time apart). Before: main at 38d5508, where every module had jvp, hvp and
jacobian. After: ``second_order="auto"`` (each circuit below has more than its 5000 IR nodes),
``grad()`` passing many arguments as one dict, the IR dropped before Python compiles, and a
long text compiled one top-level function at a time.

| case | source MB before → after | peak RSS MB before → after | CPU s before → after |
|---|---|---|---|
| sin chain, 10,000 steps | 7.6 → 2.1 | 551 → 197 | 4.5 → 1.8 |
| sin chain, 30,000 steps | 24.5 → 6.8 | 1370 → 436 | 13.7 → 6.5 |
| sin chain, 100,000 steps | 83.3 → 23.2 | 4499 → 1274 | 55.0 → 20.5 |
| 1000-level DAG | 6.9 → 1.8 | 357 → 163 | 4.5 → 1.9 |
| 8,000 scalar parameters | 17.6 → 5.7 | 1100 → 338 | 10.3 → 3.8 |
| sum of 20,000 squares | 28.0 → 12.1 | 1695 → 580 | 19.6 → 8.3 |
| product of 20,000 factors | 30.3 → 10.5 | 2096 → 626 | 25.0 → 5.9 |

Each step of a chain still costs about 230 bytes of source and 11 KB of peak memory, most of it
Python's syntax tree of ``value_and_grad`` (three statements a step).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

#: CPU seconds of this process: the machines these run on are shared, and a process waiting
#: for a core is not charged for the wait (as benchmarks/run.py's clock)
_clock = time.process_time

#: ``--second-order``'s values as ``circuitc.compile`` takes them
SECOND_ORDER = {"auto": "auto", "yes": True, "no": False}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_case(kind: str, n: int) -> tuple:
    """``source``'s positional arguments for one circuit of size n."""
    import sympy as sp

    import circuitc

    if kind == "chain":  # x -> sin(x) -> sin(sin(x)) ..., n steps
        x = sp.Symbol("x")
        steps, prev = [], x
        for k in range(n):
            s = sp.Symbol(f"s{k}")
            steps.append((s, sp.sin(prev)))
            prev = s
        return (circuitc.Circuit("chain", prev, [x], steps=steps),)
    if kind in ("sum", "product"):
        xs = list(sp.symbols(f"x0:{n}"))
        return (sp.Add(*(x**2 for x in xs)) if kind == "sum" else sp.Mul(*xs), xs, kind)
    if kind == "params":  # t_k = sin(t_{k-1}) + w_k: n parameters
        x = sp.Symbol("x")
        ws = list(sp.symbols(f"w0:{n}"))
        steps, prev = [], x
        for k, w in enumerate(ws):
            t = sp.Symbol(f"t{k}")
            steps.append((t, sp.sin(prev) + w))
            prev = t
        return (circuitc.Circuit("params", prev, [x, *ws], steps=steps),)
    if kind == "dag":  # n levels of x <- sin(x)*x + cos(x)/(1 + x**2) + a (benchmarks/run.py's)
        x, a = sp.symbols("x a")
        e = x
        for _ in range(n):
            e = sp.sin(e) * e + sp.cos(e) / (1 + e**2) + a
        return (e, [x, a], "dag")
    raise ValueError(kind)


def _case(kind: str, n: int, second_order, traced: bool) -> dict:
    """Build one circuit of size n, compile and import it, report times and peak memory."""
    import circuitc
    from circuitc.loader import load_source

    sys.setrecursionlimit(10_000)  # SymPy's own constructors recurse on the deep DAG
    t0 = _clock()
    args = build_case(kind, n)
    built, rss_sympy = _clock() - t0, _rss_mb()
    # "auto" is the default (and the only choice of a circuitc older than the option)
    option = {} if second_order == "auto" else {"second_order": second_order}
    t1 = _clock()
    text = circuitc.source(*args, **option)
    t2 = _clock()
    if traced:
        import tracemalloc

        tracemalloc.start()
    load_source(text, kind)
    traced_peak = tracemalloc.get_traced_memory()[1] / 1e6 if traced else None
    t3 = _clock()
    return {
        "case": kind,
        "n": n,
        "sympy_s": round(built, 2),
        "circuitc_s": round(t2 - t1, 2),
        "python_compile_s": round(t3 - t2, 2),
        "source_mb": round(len(text) / 1e6, 1),
        "rss_after_sympy_mb": round(rss_sympy),
        "peak_rss_mb": round(_rss_mb()),
        "traced_compile_mb": None if traced_peak is None else round(traced_peak),
    }


TITLES = {
    "chain": "sin chain, {n:,} steps",
    "dag": "{n}-level DAG",
    "params": "{n:,} scalar parameters",
    "sum": "sum of {n:,} squares",
    "product": "product of {n:,} factors",
}


def table(rows: list[dict]) -> list[str]:
    """The Markdown table of the children's results."""
    head = "| case | SymPy s | circuitc s | Python compile s | source MB | peak RSS MB |"
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {TITLES[r['case']].format(n=r['n'])} | {r['error']} | | | | |")
            continue
        traced = f" (traced {r['traced_compile_mb']})" if r["traced_compile_mb"] else ""
        lines.append(
            f"| {TITLES[r['case']].format(n=r['n'])} | {r['sympy_s']} | {r['circuitc_s']} | "
            f"{r['python_compile_s']} | {r['source_mb']} | {r['peak_rss_mb']}{traced} |"
        )
    return lines


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    p.add_argument("--width", type=int, default=20_000)
    p.add_argument("--params", type=int, default=8_000)
    p.add_argument("--levels", type=int, default=1000)
    p.add_argument("--second-order", choices=tuple(SECOND_ORDER), default="auto")
    p.add_argument("--traced", action="store_true", help="also tracemalloc's peak (slower)")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.case:  # the child: one case, one JSON line
        print(json.dumps(_case(a.case, a.n, SECOND_ORDER[a.second_order], a.traced)))
        return
    cases = [("chain", s) for s in a.steps] + [("dag", a.levels), ("params", a.params)]
    cases += [("sum", a.width), ("product", a.width)]
    rows = []
    for kind, n in cases:
        cmd = [sys.executable, "-m", "benchmarks.wide", "--case", kind, "--n", str(n)]
        cmd += ["--second-order", a.second_order] + (["--traced"] if a.traced else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode == 0:
            rows.append(json.loads(out.stdout))
        else:
            last = (out.stderr.strip().splitlines() or ["failed"])[-1]
            rows.append({"case": kind, "n": n, "error": last})
        print(json.dumps(rows[-1]), flush=True)
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
