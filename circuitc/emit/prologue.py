"""The lines that open each emitted function: the arguments converted to NumPy floats of one
dtype (skipped for float64 arrays), then the matrix arguments' shapes checked, which binds
the dimensions (``_bind`` words the error)."""

from __future__ import annotations

from ..core.program import Compiled
from .floats import may_stay_floats
from .layout import WIDTH, condition, long_statement, shape_tuple, wrapped_lines
from .single import single_number_lines


def shape_checks(c: Compiled, names: list[str] | None = None) -> list[str]:
    """The call-time check of the matrix arguments' shapes (of ``names``, default all), which
    also binds the dimensions."""
    parts = {}  # each spec's text -> its three parts, for a spec too long for its line
    names = [n for n, _ in c.wrt] + c.inputs if names is None else names
    for name in names:
        shape = c.shapes.get(name, ())
        if shape:
            want = ", ".join(str(d) if isinstance(d, int) else f'"{d}"' for d in shape)
            want += "," if len(shape) == 1 else ""  # a one-entry shape is still a tuple
            three = (f'"{name}"', name, f"({want})")
            parts[f"({', '.join(three)})"] = three
    if not parts:
        return []
    dims = sorted({d for n in names for d in c.shapes.get(n, ()) if isinstance(d, str)})
    names = "".join(f'"{d}", ' for d in dims).rstrip(" ")
    target = "" if not dims else (f"({dims[0]},) = " if len(dims) == 1 else f"{', '.join(dims)} = ")
    lines = wrapped_lines(f"{target}_bind(", [f"({names})", *parts], ")", indent=8)
    out = []
    for line in lines:
        spec = line.strip().rstrip(",")
        if 8 + len(line) > WIDTH and spec in parts:  # one part a line, as ruff explodes it
            out += ["    (", *(f"        {part}," for part in parts[spec]), "    ),"]
        else:
            out.append(line)
    return out


#: up to this many arguments, a call whose arguments are all float64 arrays skips ``_dtype`` and
#: ``_arg`` (one ``type``/``dtype`` test per argument, about 25 ns each, instead of a pass over
#: all of them, about 0.4 µs each); beyond it the test's lines would outweigh what they save
FAST_ARGS_MAX = 512


def prologue(c: Compiled, names: list[str], roots=()) -> list[str]:
    """The lines that open a function: the arguments as NumPy floats, then their shape check.

    Float64 arrays (the usual call) need no conversion: a cheap test skips ``_dtype``/``_arg``;
    a scalar argument that ``floats.may_stay_floats`` allows may be a Python float in that
    call too (scalar parameters over float64 data). The shapes are compared as tuples, the
    dimensions read off the first argument that has them; ``_bind`` (which words the error)
    runs only when that comparison fails. A dimension that the values under ``roots`` use as
    a number (a mean divides by N) must not be 0.
    """
    fast = 0 < len(names) <= FAST_ARGS_MAX
    dtype_call = wrapped_lines("_dt = _dtype(", names, ")", indent=8 if fast else 4)
    indent = 8 if fast else 4
    convert = dtype_call + [
        line for a in names for line in long_statement(f"{a} = ", f'_arg({a}, _dt, "{a}")', indent)
    ]
    if fast:
        # one test a line when they do not fit on one: ruff's layout of a long `and` chain
        floats = may_stay_floats(c, names)
        tests = [t for a in names for t in fast_tests(a, a in floats)]
        lines = _fast_condition(tests)
        comment = "Python floats and float64 arrays" if floats else "float64 arrays"
        lines += [f"    _dt = _float64  # {comment}: nothing to convert", "else:"]
        lines += ["    " + line for line in convert]
    else:
        lines = convert
    return lines + shape_lines(c, names, roots) + single_number_lines(c.graph, names, roots)


def fast_tests(name: str, may_be_float: bool) -> tuple[str, ...]:
    """The fast test's terms for one argument: a float64 array (``_type(x) is _ndarray and
    x.dtype is _float64``), or (``may_be_float``) also a Python float: ``_f64(x)``, a helper,
    since an ``or`` inside the ``and`` chain needs parentheses that ruff lays out unevenly."""
    if may_be_float:
        return (f"_f64({name})",)
    return (f"_type({name}) is _ndarray", f"{name}.dtype is _float64")


def _fast_condition(tests: list[str]) -> list[str]:
    """``condition(tests, "and")`` as ruff lays it out: for exactly two tests, the second a call
    (``_f64(x)``), too long for one line, ruff splits the call's brackets rather than adding
    parentheses (one ``and`` is not enough for it to prefer them)."""
    lines = condition(tests, "and")
    if len(tests) != 2 or len(lines) == 1 or not tests[1].endswith(")"):
        return lines
    head, inner = tests[1][:-1].split("(", 1)
    first = f"if {tests[0]} and {head}("
    return [first, f"    {inner}", "):"] if 4 + len(first) <= WIDTH else lines


def shape_lines(c: Compiled, names: list[str], roots=()) -> list[str]:
    """The shape check of a function's arguments ``names`` (the array-API backend's prologue
    ends with it too): the dimensions read off the first argument that has them, the shapes
    compared as tuples, ``_bind`` called when they differ; then, for a dimension that the
    values under ``roots`` use as a number (a mean divides by N), a ValueError naming it when
    it is 0 (never a ZeroDivisionError from inside the module)."""
    bind = shape_checks(c, names)
    if not bind:
        return []
    lines = []
    specs = [(n, c.shapes[n]) for n in names if c.shapes.get(n, ())]
    dims = sorted({d for _, shape in specs for d in shape if isinstance(d, str)})
    for d in dims:
        name, shape = next((n, s) for n, s in specs if d in s)
        read = f"{name}.shape[{shape.index(d)}] if {name}.ndim == {len(shape)} else -1"
        lines += long_statement(f"{d} = ", read, 4)
    lines += condition([f"{n}.shape != {shape_tuple(s)}" for n, s in specs], "or")
    lines += ["    " + line for line in bind]
    g = c.graph
    used = {g.nodes[v].attrs[0] for v in g.cone(roots) if g.nodes[v].op == "dim"} if roots else ()
    for d in sorted(set(dims) & set(used)):
        name, shape = next((n, s) for n, s in specs if d in s)
        axis = "rows" if shape.index(d) == 0 else "columns"
        message = f"{d} = 0: the circuit divides by {d} (a mean over no {axis} of {name})"
        if len(message) > WIDTH - 28:  # (a long argument name: the line keeps to the width)
            message = f"{d} = 0: the circuit divides by {d} (a mean over no {axis})"
        lines += [f"if {d} == 0:", f'    raise ValueError("{message}")']
    return lines
