"""The bytes a compiled module holds: ``circuitc cost --dims N=128``.

The module's figure is read off the memory-planned lines the NumPy module runs
(``emit/memory.py``, after ``emit/lincomb.py`` stacked its wide sums); beside it, an estimate
of what hand-written code holds. Both count float64 values of the circuit's shapes at the
given dimension sizes; ``instances`` (``--dims instances=1000``) is the length of the arrays
a scalar input carries (one number without it), so a scalar value that reads an input holds
that many numbers.
"""

from __future__ import annotations

import re

from ..emit.memory import reads
from ..emit.plan import Line

_WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")


#: the ``dims`` entry that sizes the arrays of instances a scalar input carries
INSTANCES = "instances"


def node_bytes(c, dims: dict[str, int]):
    """Bytes of a float64 value of each node's shape at ``dims``; None when a dimension the
    circuit uses has no size (a ``CircuitError`` for a size that is not a whole number ≥ 0).
    A scalar node that reads an input holds ``dims["instances"]`` numbers (1 when absent)."""
    from ..errors import CircuitError

    for k, v in dims.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise CircuitError(f"dimension {k} = {v!r}: a size is a whole number >= 0")
    g = c.graph
    used = sorted({d for node in g.nodes for d in node.shape if isinstance(d, str)})
    unknown = [k for k in dims if k not in used and k != INSTANCES]
    if unknown:
        have = f"its dimensions are {', '.join(used)}" if used else "it has no dimension symbols"
        raise CircuitError(
            f"dimension {unknown[0]} is not one of the circuit's ({have}; "
            f"{INSTANCES}=N sizes the arrays of instances its scalar inputs carry)"
        )
    inputs = {v for v, name in c.names.items() if name in c.inputs and g.nodes[v].op == "sym"}
    per_instance = [False] * len(g.nodes)
    for v, node in enumerate(g.nodes):  # ids are topological: arguments before their users
        per_instance[v] = v in inputs or any(per_instance[a] for a in node.args)
    out = []
    for v, node in enumerate(g.nodes):
        n = 8 * (dims.get(INSTANCES, 1) if node.shape == () and per_instance[v] else 1)
        for d in node.shape:
            if isinstance(d, str):
                if d not in dims:
                    return None
                d = dims[d]
            n *= int(d)
        out.append(n)
    return out


def memory_bytes(ins, args: list[str], sizes: list[int]) -> tuple[int, int]:
    """(the module's peak, a hand-written estimate) in bytes for ``value_and_grad``.

    The module's: liveness over the memory-planned lines it runs (``emit/memory.py``), its
    wide sums stacked (``stacked_sizes``). The estimate:
    what hand-written code must hold at the start of its backward pass (the forward values the
    backward reads) plus the gradients it returns plus one working buffer of the largest
    value; it does not count what hand code could overlap, so it is a target, not a bound.
    """
    from ..emit.render import constant_names, memory_plan, module_plans, stacked_plans

    c, p = ins.compiled, ins.plan
    ran = stacked_plans(c, module_plans(c)[0], None)[0]  # the plan the NumPy module prints
    bodies = memory_plan(c, ran, args)
    node_of = {n: v for v, n in ran.names.items()}
    quiet = constant_names(c, ran)

    def size(name: str) -> int:
        v = node_of.get(name)
        return 0 if v is None or name in quiet else sizes[v]

    stacked = stacked_sizes(ran, size)
    module = peak_bytes(
        bodies["value_and_grad"][0] + bodies["value_and_grad"][1],
        lambda name: stacked[name] if name in stacked else size(name),
    )
    read = set()
    for line in p.backward:
        read.update(w for w in _WORD.findall(line.rhs) if w in node_of)
    kept = sum(size(line.lhs) for line in p.forward_full if line.lhs in read)
    grads = sum(sizes[leaf] for _, leaf in c.wrt if leaf is not None)
    returned = {w for _, expr in p.grads for w in _WORD.findall(expr)}
    largest = max((size(n) for n in node_of if n not in returned and n not in read), default=0)
    return module, kept + grads + largest


def stacked_sizes(p, size) -> dict[str, int]:
    """Bytes of the values ``emit/lincomb.py``'s lines bind: ``_rows_t = _stack_rows(x_0, …)``
    holds a copy of every x_j; ``_gsum_t = _lincomb_grad(_d_t, _rows_t, c, θ_0, …)`` one
    number per θ_j."""
    out = {}
    for line in p.forward_full + p.backward:
        if line.rhs.startswith("_stack_rows("):
            out[line.lhs] = sum(size(name) for name in reads(line.rhs)[1:])
        elif line.rhs.startswith("_lincomb_grad("):
            params = line.rhs[len("_lincomb_grad(") : -1].split(", ")[3:]  # after _d_t, rows, c
            out[line.lhs] = 8 * len(params)
    return out


def format_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    if n < 1024**2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024**2:.2f} MiB"


def add_memory(report, ins, args: list[str], dims: dict[str, int] | None) -> None:
    """Fill ``report``'s ``dims``, ``peak_bytes`` and ``hand_bytes`` (left None when a
    dimension of the circuit has no size in ``dims``)."""
    report.dims = dict(dims or {})
    sizes = node_bytes(ins.compiled, report.dims)
    if sizes is not None:
        report.peak_bytes, report.hand_bytes = memory_bytes(ins, args, sizes)


def memory_rows(report) -> list[tuple[str, str]]:
    """The report's row of peak bytes (none when they were not counted)."""
    if report.peak_bytes is None:
        return []
    at = ", ".join(f"{k}={v}" for k, v in report.dims.items())
    label = "peak live bytes in value_and_grad" + (f" at {at}" if at else "")
    value = format_bytes(report.peak_bytes)
    return [(label, f"{value} (hand-written estimate {format_bytes(report.hand_bytes)})")]


def peak_live(p, args: list[str]) -> int:
    """Most named values alive at once in ``value_and_grad``: defined, and read again later."""
    lines = [(line.lhs, line.op, line.rhs) for line in p.forward_full + p.backward]
    final = " ".join(expr for _, expr in p.grads) + " " + p.output
    defined_at: dict[str, int] = {}
    last_use: dict[str, int] = {}
    for i, (lhs, op, rhs) in enumerate(lines):
        for w in _WORD.findall(rhs):
            last_use[w] = i
        if op != "=":
            last_use[lhs] = i
        defined_at.setdefault(lhs, i)
    end = len(lines)
    for w in _WORD.findall(final):
        last_use[w] = end
    arg_set = set(args)
    delta = [0] * (end + 2)
    for n, d in defined_at.items():
        if n in arg_set:
            continue
        delta[d] += 1
        delta[max(last_use.get(n, d), d) + 1] -= 1
    peak = live = 0
    for step in delta:
        live += step
        peak = max(peak, live)
    return peak


def peak_bytes(lines: list[Line], size) -> int:
    """The most bytes the named values of a planned body hold at once.

    ``size(name)``: the bytes of the value a line binds to ``name`` (0 for a number or a name
    the function did not make). A copy line (``a = b``) binds a second name to the same
    value; a value is freed when its last name is dropped or bound again. Operator temporaries
    inside one line are not counted (NumPy frees or reuses them before the next line).
    """
    value_of: dict[str, int] = {}  # name -> id of the value it holds
    names_of: dict[int, int] = {}  # value id -> how many names hold it
    bytes_of: dict[int, int] = {}
    live = peak = 0

    def unbind(name: str) -> int:
        old = value_of.pop(name, None)
        if old is None:
            return 0
        names_of[old] -= 1
        return bytes_of[old] if names_of[old] == 0 else 0

    for i, line in enumerate(lines):
        if line.op == "del":
            for name in line.rhs.split(", "):
                live -= unbind(name)
            continue
        if line.op != "=":
            continue  # an in-place update: the same buffer
        source = value_of.get(line.rhs) if reads(line.rhs) == [line.rhs] else None
        freed = unbind(line.lhs)
        if source is None:  # a new value
            source = i
            bytes_of[i] = size(line.lhs)
            names_of[i] = 0
            live += bytes_of[i]
        names_of[source] += 1
        value_of[line.lhs] = source
        peak = max(peak, live)
        live -= freed
    return peak
