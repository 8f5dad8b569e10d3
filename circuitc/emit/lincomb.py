"""Wide sums of scalar parameters times inputs, ``Σ_j c·θ_j·x_j``, as one matrix product.

A user who writes logistic regression with one scalar parameter per feature (``theta_j``
over arrays ``x_j`` of N instances) gets, line for line, D products and D - 1 additions in the
forward pass and D products, D negations and D sums in the backward pass: 4D NumPy calls on
N-element arrays, where an expert stacks the x_j once and computes ``a = θ @ X`` and the D
gradients ``X @ g`` as two BLAS calls. This pass rewrites the NumPy path's function bodies
(never the plan: ``circuitc table``, ``trace`` and ``cost``'s op counts read that; ``cost``'s
peak bytes read the rewritten bodies, ``views/peak.py``) into the expert's form:

* forward: the sum's tree of additions and its matched terms lose their lines; the sum is
  ``_rows_t = _stack_rows(x_0, …)`` (the x_j as the rows of one array, a copy) then
  ``t = _lincomb(_rows_t, c, θ_0, …) + rest`` (the terms that do not match, added after);
* backward: the copies of the sum's adjoint to its terms (``_d_t0 = _d_t4``) and the terms'
  updates of their θ_j lose their lines; ``_gsum_t = _lincomb_grad(_d_t, _rows_t, c, θ_0, …)``
  gives every θ_j's gradient, summed to its shape, in one matrix-vector product, and the
  gradient dict reads it. A θ_j that other terms of the circuit also use keeps its update
  (reading the sum's adjoint) and is only stacked in the forward pass.

At run time the helpers take the matrix route only where it computes the same thing: the x_j
float arrays of one shape, the θ_j scalars of their dtype, the adjoint of the sum's shape;
anything else (a parameter given as an array, inputs of different broadcastable shapes,
Python floats alone) runs term by term. A term matches when it is ``c·θ·x`` (c the constant
most of the sum's terms share, θ a scalar parameter that appears in no other matched term, x an
input without an adjoint) used only by the sum; a sum needs ``MIN_TERMS`` matched terms.

Values: the matrix route sums the products in BLAS's order, not the tree's; the result is
within the dot product's error bound, ``|error| ≤ D·u·Σ_j |c·θ_j·x_j|`` (u = 2⁻⁵³), and so is
each gradient (``D`` replaced by the number of summed elements). Term by term, the sum runs
left to right over the terms (the tree's order for at most 8 terms).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from ..core.program import Compiled
from .memory import rename
from .plan import Line, Plan
from .printer import ADD

#: a sum needs at least this many matched terms (below it, D small calls beat stacking)
MIN_TERMS = 8


@dataclass
class Comb:
    """One wide sum: its root, its inner additions, its matched terms ``(term, θ, x)``, the
    common coefficient and the terms that did not match (in the sum's order)."""

    root: int
    inner: list[int]
    terms: list[tuple[int, int, int]]
    scale: object
    rest: list[int]


def find(c: Compiled) -> list[Comb]:
    """The wide sums of the forward pass whose terms are ``c·θ·x`` often enough."""
    g = c.graph
    roots = [c.output] + ([c.prediction] if c.prediction is not None else [])
    fwd = g.cone(roots)
    uses, bwd_reads = _uses(c, set(fwd))
    wrt = {leaf for _, leaf in c.wrt if leaf is not None}
    pinned = set(c.names) | set(roots) | bwd_reads  # values with a name or read again

    def inner(v: int) -> bool:
        node = g.nodes[v]
        return node.op == "add" and node.shape == () and uses.get(v, 0) == 1 and v not in pinned

    absorbed = {a for v in fwd if g.nodes[v].op == "add" for a in g.nodes[v].args if inner(a)}
    combs = []
    for v in fwd:
        if g.nodes[v].op != "add" or g.nodes[v].shape != () or v in absorbed:
            continue
        comb = _comb(c, v, inner, wrt, pinned, uses)
        if comb is not None:
            combs.append(comb)
    return combs


def _uses(c: Compiled, fwd: set[int]) -> tuple[dict[int, int], set[int]]:
    """How many nodes read each node (forward nodes and backward expressions), and the
    forward values the backward pass reads."""
    g = c.graph
    uses: dict[int, int] = {}
    for v in fwd:
        for a in g.nodes[v].args:
            uses[a] = uses.get(a, 0) + 1
    reads, seen, stack = set(), set(), [u.expr for u in c.updates]
    while stack:
        v = stack.pop()
        if v in fwd:
            reads.add(v)
        elif v not in seen:
            seen.add(v)
            stack.extend(g.nodes[v].args)
    return uses, reads


def _comb(c: Compiled, root: int, inner, wrt: set[int], pinned: set[int], uses) -> Comb | None:
    """The sum at ``root`` as a ``Comb``, or None when too few of its terms match."""
    g = c.graph
    leaves, nodes, stack = [], [], [root]
    while stack:  # the tree's leaves left to right (an explicit stack: trees may be deep)
        v = stack.pop()
        if v == root or inner(v):
            nodes.append(v)
            stack.extend(reversed(g.nodes[v].args))
        else:
            leaves.append(v)
    matches = [
        _term(c, v, wrt) if uses.get(v, 0) == 1 and v not in pinned else None for v in leaves
    ]
    # the constant most terms share (the first of those tied): the others are added after
    common = Counter(m[2] for m in matches if m is not None).most_common(1)
    scale = common[0][0] if common else None
    terms, rest, used = [], [], set()
    for v, match in zip(leaves, matches, strict=True):
        if match is not None and match[0] not in used and match[2] == scale:
            used.add(match[0])
            terms.append((v, match[0], match[1]))
        else:
            rest.append(v)
    if len(terms) < MIN_TERMS:
        return None
    return Comb(root, nodes[1:], terms, scale, rest)


def _term(c: Compiled, v: int, wrt: set[int]):
    """``(θ, x, c)`` when node ``v`` is ``c·θ·x`` (c a constant, 1 when absent), θ a scalar
    parameter and x a scalar input with no adjoint; else None."""
    g = c.graph
    node = g.nodes[v]
    if node.op != "mul" or node.shape != ():
        return None
    args = list(node.args)
    scale = g.values[args.pop(0)] if g.is_const(args[0]) else 1
    if len(args) != 2 or any(g.nodes[a].op != "sym" or g.nodes[a].shape != () for a in args):
        return None
    params = [a for a in args if a in wrt]
    inputs = [a for a in args if a not in wrt and a not in c.adjoint]
    if len(params) != 1 or len(inputs) != 1:
        return None
    return params[0], inputs[0], scale


def rewrite(c: Compiled, p: Plan, printer) -> Plan:
    """``p`` with its function bodies and gradients in the stacked form (``p`` unchanged).
    Each list of lines is rewritten in one pass for all the sums (linear in the circuit)."""
    combs = find(c)
    if not combs:
        return p
    taken = set(p.names.values()) | {n for n, _ in c.wrt} | set(c.inputs)
    counts: dict[int, int] = {}
    for u in c.updates:
        counts[u.target] = counts.get(u.target, 0) + 1
    forms = [_Form(c, comb, printer, taken, counts) for comb in combs]
    out = replace(p, names=p.names)
    out.forward, out.forward_full, out.predict = (
        _forward(forms, lines) for lines in (p.forward, p.forward_full, p.predict)
    )
    out.backward, out.grads = _backward(c, forms, p.backward, p.grads)
    helpers = set(p.helpers) | printer.helpers | {"_stack_rows", "_lincomb"}
    if any(form.exclusive for form in forms):
        helpers.add("_lincomb_grad")
    out.helpers = sorted(helpers)
    return out


def _free(name: str, taken: set[str]) -> str:
    """``name``, or with ``_`` appended until no other name of the module has it."""
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _forward(forms: list[_Form], lines: list[Line]) -> list[Line]:
    """Forward lines with each sum's own lines replaced by its two stacked lines."""
    by_root = {form.root: form for form in forms}
    gone = {name for form in forms for name in form.gone_names}
    out = []
    for line in lines:
        if line.lhs in gone:
            continue
        form = by_root.get(line.lhs)
        out += form.forward_lines(line) if form is not None else [line]
    return out


def _backward(c: Compiled, forms: list[_Form], lines: list[Line], grads):
    """The backward lines without the copies of each sum's adjoint and its matched terms'
    updates, one ``_lincomb_grad`` line in their place; the gradients that read it."""
    names = forms[0].printer.names
    owner = {v: form for form in forms for v in form.gone}
    exclusive = {v: form for form in forms for v in form.exclusive}
    to_root = {
        names[c.adjoint[v]]: names[c.adjoint[form.comb.root]]
        for v, form in owner.items()
        if v in c.adjoint and form.comb.root in c.adjoint
    }
    out, k, placed = [], 0, []
    for line in lines:
        u = c.updates[k] if k < len(c.updates) else None
        if u is None or line.lhs != names[c.adjoint[u.target]]:
            out.append(line)  # the seed, or a shared backward value
            continue
        k += 1
        if u.target in owner:
            continue  # a copy of a sum's adjoint
        form = exclusive.get(u.source)
        if form is None:
            out.append(rename(line, to_root) if u.source in owner else line)
        elif form not in placed and form.comb.root in c.adjoint:
            out.append(form.grad_line(names[c.adjoint[form.comb.root]]))
            placed.append(form)
    read = {name: expr for form in placed for name, expr in form.gradients()}
    return out, [(n, read.get(n, e)) for n, e in grads]


class _Form:
    """The stacked lines of one ``Comb``."""

    def __init__(self, c: Compiled, comb: Comb, printer, taken: set[str], counts):
        self.comb, self.printer = comb, printer
        names = printer.names
        self.root = names[comb.root]
        base = self.root.lstrip("_")
        self.rows = _free(f"_rows_{base}", taken)
        self.gsum = _free(f"_gsum_{base}", taken)
        self.scale = "1" if comb.scale == 1 else printer.number(comb.scale)
        self.params = [names[t] for _, t, _ in comb.terms]
        # θ_j whose only contribution is its term's: the gradient comes from _lincomb_grad
        self.exclusive = {term for term, t, _ in comb.terms if counts.get(t) == 1}
        self.gone = set(comb.inner) | {term for term, _, _ in comb.terms}
        self.gone_names = {names[v] for v in self.gone if v in names}

    def forward_lines(self, line: Line) -> list[Line]:
        """The sum's line ``line`` as the stacked two."""
        names, comb = self.printer.names, self.comb
        xs = ", ".join(names[x] for _, _, x in comb.terms)
        rhs = f"_lincomb({self.rows}, {self.scale}, {', '.join(self.params)}){self._rest()}"
        first, last = names.get(comb.terms[0][0], "?"), names.get(comb.terms[-1][0], "?")
        comment = f"{len(comb.terms)} terms theta*x ({first} ... {last}) as one product"
        stacked = Line(self.rows, f"_stack_rows({xs})")
        return [stacked, Line(self.root, rhs, comment=comment, note=line.note)]

    def _rest(self) -> str:
        """`` + a - b * c``: the sum's terms that did not match, as the printer adds them."""
        pr, text = self.printer, ""
        for v in self.comb.rest:
            neg = pr._negated(v)
            if neg is None:
                text += " + " + pr._wrap(v, 0, ADD + 1)  # a sum in parentheses
            else:
                text += " - " + pr._wrap_term(neg, 0)
        return text

    def grad_line(self, adjoint: str) -> Line:
        """``_gsum = _lincomb_grad(...)``: every θ_j's gradient, from the sum's adjoint."""
        rhs = f"_lincomb_grad({adjoint}, {self.rows}, {self.scale}, {', '.join(self.params)})"
        comment = f"dJ/d{self.params[0]} ... dJ/d{self.params[-1]}: {adjoint} times the rows"
        return Line(self.gsum, rhs, comment=comment)

    def gradients(self) -> list[tuple[str, str]]:
        """The gradient dict's entries of the exclusive θ_j: ``_gsum[j]``."""
        names = self.printer.names
        return [
            (names[t], f"{self.gsum}[{j}]")
            for j, (term, t, _) in enumerate(self.comb.terms)
            if term in self.exclusive
        ]
