"""What reverse mode costs, beside the naive route it avoids.

circuitc's side is read off the compiled circuit: the arithmetic ops of its forward and
backward passes (``core.program.op_counts``, the numbers the emitted ``# forward (ops: N)``
comments print), their ratio, which forward values the backward pass reads (they stay alive
until it ends) and the peak number of values alive at once in ``value_and_grad``.

The naive route is what a SymPy user does without circuitc: expand the circuit into one
expression, call ``sympy.diff`` on it once per parameter, and print that, with or without
``sympy.cse``. Its size is counted the same way (a k-term ``Add``/``Mul`` is k - 1 ops,
every other non-leaf node one), as a tree (what
the printed code evaluates without ``cse``) and as distinct sub-expressions. It runs in a
child process with a time limit, since it can blow up; past the limit it is stopped and
reported as such, and a ``RecursionError`` (SymPy recurses on deep expressions) is reported
as the naive route failing.
"""

from __future__ import annotations

import multiprocessing
import queue
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..core.program import op_counts
from .modes import add_modes, mode_rows
from .peak import add_memory, memory_rows, peak_live
from .trace import inspect_circuit

DEFAULT_TIME_LIMIT = 10.0
_WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")


@dataclass
class NaiveRoute:
    """The ``sympy.diff`` route's size. ``status``: ``done``, ``stopped`` (time limit) or ``failed``.

    Sizes are op counts (as ``tree_ops`` counts); ``None`` where the route did not get that far.
    """

    status: str
    time_limit: float
    message: str = ""
    expanded_ops: int | None = None  # J written as one expression (a tree)
    diff_ops: dict[str, int] = field(default_factory=dict)  # parameter -> tree ops of dJ/dp
    diff_tree_ops: int | None = None  # all derivatives as trees (no cse)
    diff_distinct_ops: int | None = None  # distinct sub-expressions of all derivatives
    cse_ops: int | None = None  # after sympy.cse of all derivatives
    seconds: float | None = None


@dataclass
class CostReport:
    """Op counts of the emitted forward and backward passes, and the naive route beside them."""

    circuit: str
    wrt: list[str]
    forward_ops: int
    backward_ops: int
    kept: list[str]  # forward values the backward pass reads
    peak_live: int  # most values alive at once in value_and_grad (arguments not counted)
    naive: NaiveRoute | None = None
    tangent_ops: int = 0  # what jvp adds to forward: J's tangent lines
    hvp_ops: int = 0  # hvp's tangent lines (of the forward values and of the backward updates)
    hvp_backward_ops: int = 0  # the backward lines hvp runs (no parameter's own adjoint)
    hvp_forward_ops: int = 0  # the forward lines hvp runs (J only when more than the seed reads it)
    jacobian: Any = None  # a matrix output's jacobian() in both modes (modes.JacobianCost)
    entries: int | None = None  # parameter entries (None: a shape is a dimension symbol)
    forward_mode_ops: int | None = None  # the full gradient by forward mode: one jvp an entry
    hvp_ratio: float = 0.0
    dims: dict[str, int] = field(default_factory=dict)  # the sizes the bytes are counted at
    peak_bytes: int | None = None  # most bytes value_and_grad holds at once (None: no sizes)
    hand_bytes: int | None = None  # what hand-written code holds: kept values, gradients, one more

    @property
    def ratio(self) -> float:
        """backward ops / forward ops (reverse mode's promise: a small constant)."""
        return self.backward_ops / self.forward_ops if self.forward_ops else float("inf")

    def __str__(self) -> str:
        return self.format("text")

    def _repr_markdown_(self) -> str:
        return self.format("markdown")

    def rows(self) -> list[tuple[str, str]]:
        """The report as (label, value) pairs, in the order every format prints them."""
        kept = ", ".join(self.kept[:8]) + (", ..." if len(self.kept) > 8 else "")
        out = [
            ("forward ops", str(self.forward_ops)),
            ("backward ops", str(self.backward_ops)),
            ("backward / forward", f"{self.ratio:.2f}" if self.forward_ops else "-"),
            (
                "forward values kept for the backward pass",
                f"{len(self.kept)}" + (f" ({kept})" if kept else ""),
            ),
            ("peak live values in value_and_grad", str(self.peak_live)),
        ]
        out += mode_rows(self)
        out += memory_rows(self)
        n = self.naive
        if n is None:
            return out
        stop = f"stopped after {n.time_limit:g} s" if n.status == "stopped" else "not reached"
        if n.status == "failed":
            stop = "failed"

        def size(v) -> str:
            return stop if v is None else f"{v} ops"

        out.append(("naive: J as one expression", size(n.expanded_ops)))
        tree = size(n.diff_tree_ops)
        if n.diff_tree_ops is not None and n.diff_distinct_ops is not None:
            tree += f" as trees ({n.diff_distinct_ops} distinct)"
        out.append(("naive: sympy.diff per parameter, no cse", tree))
        out.append(("naive: sympy.diff per parameter, with cse", size(n.cse_ops)))
        if n.status == "done":
            out.append(("naive: time", f"{n.seconds:.2f} s"))
        else:
            out.append(("naive: " + n.status, n.message))
        return out

    def format(self, fmt: str = "text") -> str:
        """``text`` (the CLI's) or ``markdown``."""
        head = f"cost of {self.circuit} (gradient with respect to {', '.join(self.wrt)})"
        rows = self.rows()
        if fmt == "markdown":
            lines = [f"**{head}**", "", "| | |", "|---|---|"]
            lines += [f"| {k} | {v.replace('|', chr(92) + '|')} |" for k, v in rows]
            return "\n".join(lines) + "\n"
        if fmt != "text":
            from ..errors import CircuitError

            raise CircuitError(f"unknown cost format {fmt!r}; use text or markdown")
        width = max(len(k) for k, _ in rows)
        return head + "\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows) + "\n"


def cost(
    circuit,
    naive: bool = True,
    time_limit: float = DEFAULT_TIME_LIMIT,
    *,
    wrt=None,
    name="circuit",
    dims: dict[str, int] | None = None,
) -> CostReport:
    """The cost of ``circuit``'s emitted passes and, when ``naive``, of the ``sympy.diff`` route.

    Args:
        circuit: a ``Circuit``, a module from ``circuitc.compile``, or a SymPy expression
            (then ``wrt`` is required).
        naive: also run the naive route (in a child process, at most ``time_limit`` seconds).
        dims: sizes of the matrix dimensions (``{"N": 128}``): the report then gives the peak
            bytes ``value_and_grad`` holds at those sizes (float64) beside a hand-written
            estimate. A circuit without dimension symbols needs none.
    """
    ins = inspect_circuit(circuit, wrt, name, second_order=True)  # the jvp and hvp rows
    c, p = ins.compiled, ins.plan
    args = [n for n, _ in c.wrt] + list(c.inputs)
    fwd_names = [line.lhs for line in p.forward_full]
    fwd_set = set(fwd_names)
    read_by_backward: set[str] = set()
    # the seed line reads J only for its shape
    for line in p.backward[1 if ins.seeded else 0 :]:
        read_by_backward.update(w for w in _WORD.findall(line.rhs) if w in fwd_set)
    kept = [n for n in fwd_names if n in read_by_backward]
    forward_ops, backward_ops = op_counts(c)
    report = CostReport(
        c.circuit.name,
        [n for n, _ in c.wrt],
        forward_ops,
        backward_ops,
        [("J" if k == "_J" else k) for k in kept],
        peak_live(p, args),
    )
    add_modes(report, c, dims)
    add_memory(report, ins, args, dims)
    if naive:
        report.naive = naive_route(c.circuit, time_limit)
    return report


# -- the naive route ----------------------------------------------------------------------------
def _is_leaf(e) -> bool:
    return isinstance(e, (sp.Atom, sp.MatrixSymbol))


def _sympy_weight(e) -> int:
    """Arithmetic ops of one SymPy node: a sum or product of k terms is k - 1 binary ops."""
    if isinstance(e, (sp.Add, sp.Mul)):
        return max(1, len(e.args) - 1)
    return 1


def tree_ops(expr) -> int:
    """Ops of ``expr`` counted as a tree (shared objects counted at each use)."""
    size: dict[int, int] = {}
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in size:
            continue
        if _is_leaf(e):
            size[id(e)] = 0
        elif ready:
            size[id(e)] = _sympy_weight(e) + sum(size[id(a)] for a in e.args)
        else:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if id(a) not in size)
    return size[id(expr)]


def distinct_ops(exprs) -> int:
    """Ops of the distinct sub-expressions of ``exprs`` (SymPy equality; in the child only)."""
    seen: set = set()
    visited: set[int] = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        if id(e) in visited or _is_leaf(e):
            continue
        visited.add(id(e))
        seen.add(e)
        stack.extend(e.args)
    return sum(_sympy_weight(e) for e in seen)


def expand_steps(circuit) -> sp.Basic:
    """The circuit's output as one SymPy expression, its steps substituted (iteratively)."""
    steps: dict[str, sp.Basic] = {}
    for sym, expr in circuit.steps:
        steps[sym.name] = _substitute(expr, steps)
    return _substitute(circuit.output, steps)


def _substitute(expr, steps: dict[str, sp.Basic]):
    if not steps:
        return expr
    done: dict[int, sp.Basic] = {}
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in done:
            continue
        if _is_leaf(e):
            name = getattr(e, "name", None)
            done[id(e)] = steps.get(name, e) if isinstance(name, str) else e
        elif ready:
            new = [done[id(a)] for a in e.args]
            changed = any(n is not a for n, a in zip(new, e.args, strict=True))
            done[id(e)] = e.func(*new) if changed else e
        else:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if id(a) not in done)
    return done[id(expr)]


def _opaque_to_sympy(expr) -> str:
    """The name of a node ``sympy.diff`` does not differentiate correctly, or "".

    circuitc.nn's matrix nodes (``MatrixSum``, ``AddBias``…, in circuitc/front/nodes.py) are circuitc's own: SymPy treats
    them as constants and returns a wrong 0. An unevaluated ``Derivative`` is reported too.
    """
    seen: set[int] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, sp.Derivative):
            return "Derivative"
        # nn's scalar functions (sp.Function subclasses) have their own fdiff
        if type(e).__module__ == "circuitc.front.nodes" and not isinstance(e, sp.Function):
            return type(e).__name__
        if not _is_leaf(e):
            stack.extend(e.args)
    return ""


def _naive_work(circuit, send) -> None:
    """The naive route, reporting each stage through ``send`` as it completes."""
    start = time.perf_counter()
    try:
        J = expand_steps(circuit)
        send(("expanded", tree_ops(J)))
        opaque = _opaque_to_sympy(J)
        if opaque:
            send(("failed", f"sympy.diff cannot differentiate circuitc's matrix node {opaque}"))
            return
        derivs = []
        for w in circuit.wrt:
            d = sp.diff(J, w)
            if _opaque_to_sympy(d) == "Derivative":
                send(("failed", f"sympy.diff left d/d{w.name} unevaluated"))
                return
            derivs.append(d)
            send(("diff", w.name, tree_ops(d)))
        send(("distinct", distinct_ops(derivs)))
        replacements, reduced = sp.cse(derivs)
        ops = sum(tree_ops(e) for _, e in replacements) + sum(tree_ops(e) for e in reduced)
        send(("cse", ops))
        send(("done", time.perf_counter() - start))
    except RecursionError:
        send(("failed", "RecursionError: SymPy recursed too deep on this expression"))
    except MemoryError:
        send(("failed", "MemoryError: the expression did not fit in memory"))
    except Exception as e:  # the naive route's failures are a result, not a crash
        send(("failed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))


def _child(conn, circuit) -> None:
    try:
        _naive_work(circuit, conn.send)
    finally:
        conn.close()


def naive_route(circuit, time_limit: float = DEFAULT_TIME_LIMIT) -> NaiveRoute:
    """Run the naive route in a child process (forked: nothing is pickled), stopping it at
    ``time_limit`` seconds. Where ``fork`` does not exist it runs in a daemon thread, which a
    time limit can only abandon, not stop."""
    result = NaiveRoute("stopped", time_limit, f"time limit of {time_limit:g} s reached")
    if "fork" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("fork")
        recv_end, send_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send_end, circuit), daemon=True)
        with warnings.catch_warnings():
            # Python >= 3.12 warns on fork() in a threaded process; the child only runs SymPy
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            proc.start()
        send_end.close()

        def receive(timeout: float):
            if not recv_end.poll(timeout):
                raise queue.Empty
            return recv_end.recv()

        try:
            _collect(result, receive, time_limit, lambda: proc.exitcode)
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            recv_end.close()
    else:  # pragma: no cover - platforms without fork
        q: queue.Queue = queue.Queue()
        threading.Thread(target=_naive_work, args=(circuit, q.put), daemon=True).start()
        _collect(result, lambda t: q.get(timeout=t), time_limit, lambda: None)
    if result.diff_ops and len(result.diff_ops) == len(circuit.wrt):
        result.diff_tree_ops = sum(result.diff_ops.values())
    return result


def _collect(result: NaiveRoute, receive, time_limit: float, exitcode) -> None:
    deadline = time.monotonic() + time_limit
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            msg = receive(remaining)
        except queue.Empty:
            return
        except EOFError:
            result.status = "failed"
            result.message = f"the child process ended (exit code {exitcode()})"
            return
        kind = msg[0]
        if kind == "expanded":
            result.expanded_ops = msg[1]
        elif kind == "diff":
            result.diff_ops[msg[1]] = msg[2]
        elif kind == "distinct":
            result.diff_distinct_ops = msg[1]
        elif kind == "cse":
            result.cse_ops = msg[1]
        elif kind == "done":
            result.status, result.message, result.seconds = "done", "", msg[1]
            return
        elif kind == "failed":
            result.status, result.message = "failed", msg[1]
            return
