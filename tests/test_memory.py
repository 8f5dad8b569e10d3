"""Memory planning of the NumPy path (circuitc/emit/memory.py): temporaries folded into the line
that reads them, every local dropped at its last use.

The oracles: hand-written NumPy (benchmarks/expert.py and closed forms here), central
differences, tracemalloc's count of the bytes a call holds at once, and Python's own
evaluation of the folded text against the unfolded text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from measure import peak
from oracles import assert_close, vjp_check

import circuitc
from circuitc.emit.memory import drop, fold, reads, schedule
from circuitc.emit.plan import Line

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's benchmarks/
from benchmarks import circuits, expert  # noqa: E402

#: 2**16 float64 = 512 KiB: above NumPy's 256 KiB threshold for reusing operator temporaries
BIG = 1 << 16
ARRAY = BIG * 8


# -- the pass on lines -----------------------------------------------------------------------------
def test_reads_names_not_attributes_keywords_or_keyword_arguments():
    text = "_np.add.reduce(_t1 * x, axis=None) + _np.where(a > b, c, 0) if d else None"
    assert reads(text) == ["_np", "_t1", "x", "_np", "a", "b", "c", "d"]  # module names too


def test_a_copy_group_is_dropped_together_after_its_last_reader():
    lines = [
        Line("_t0", "x * 2"),
        Line("_d_a", "_t0"),  # a copy: _d_a and _t0 are one array
        Line("_t1", "_d_a + 1"),
        Line("_t2", "_t0 * 3"),
        Line("J", "_t1 + _t2"),
    ]
    out = drop(lines, keep={"J"}, args={"x"})
    text = [line.text for line in out]
    assert text == [
        "_t0 = x * 2",
        "_d_a = _t0",
        "_t1 = _d_a + 1",
        "_t2 = _t0 * 3",
        "del _t0, _d_a",
        "J = _t1 + _t2",
    ]  # nothing dropped after the last line: returning frees it all


def test_returned_names_arguments_and_constants_are_never_dropped():
    lines = [
        Line("_t0", "1 / N"),
        Line("g", "x * _t0"),
        Line("_t1", "g + x"),
        Line("J", "_t1 * _t0"),
    ]
    out = drop(lines, keep={"J", "g"}, args={"x"}, quiet={"_t0"})
    dropped = [name for line in out if line.op == "del" for name in line.rhs.split(", ")]
    assert dropped == []  # _t1 is last read by the last line, g is returned, _t0 is a number


def test_fold_keeps_notes_and_stops_at_an_in_place_update():
    lines = [
        Line("_t0", "x * 2"),
        Line("_t1", "_softplus(x)", note="stable: log(1 - sigmoid(x)) = -softplus(x)"),
        Line("_d_x", "y * 3"),
        Line("_t2", "_d_x + 1"),  # reads _d_x, which the next line updates in place
        Line("_d_x", "y", "+="),
        Line("J", "_t0 + _t1 + _t2"),
    ]
    out = fold(lines, keep={"J"})
    text = [line.text for line in out]
    assert "J = x * 2 + _t1 + _t2" in text  # _t0 moved; _t1 keeps its note; _t2 stays put
    assert "_t2 = _d_x + 1" in text


def _expr(draw_leaf, depth):
    """A strategy for arithmetic expression text over the names a, b, θ."""
    leaf = st.sampled_from(["a", "b", "θ", "2", "0.5"])  # θ: ast counts bytes, not characters
    if depth == 0:
        return leaf
    sub = _expr(draw_leaf, depth - 1)
    binary = st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "**"]), sub).map(
        lambda t: f"({t[0]}) {t[1]} ({t[2]})"
    )
    unary = sub.map(lambda s: f"-({s})")
    return st.one_of(leaf, binary, unary)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    head=_expr(None, 2),
    op=st.sampled_from(["+", "-", "*", "/", "**"]),
    other=_expr(None, 1),
    side=st.sampled_from(["left", "right", "neg"]),
)
def test_folded_text_computes_the_same_value_bit_for_bit(head, op, other, side):
    """Writing a temporary into its reader keeps Python's order of operations exactly."""
    head = _tidy(head)
    consumer = {"left": f"_t0 {op} {other}", "right": f"{other} {op} _t0", "neg": "-_t0"}[side]
    out = fold([Line("_t0", head), Line("J", consumer)], keep={"J"})
    env = {"a": 1.75, "b": -0.625, "θ": 3.0}
    with np.errstate(all="ignore"):
        env = {k: np.float64(v) for k, v in env.items()}
        try:
            expected = eval(consumer, {}, {**env, "_t0": eval(head, {}, env)})  # noqa: S307
        except (ZeroDivisionError, OverflowError):
            return
        if len(out) == 2:  # not folded (a call argument or too long): nothing to compare
            return
        got = eval(out[0].rhs, {}, env)  # noqa: S307
    assert np.array_equal(got, expected, equal_nan=True), (head, consumer, out[0].rhs)


def _tidy(text: str) -> str:
    """The strategy's text printed with the fewest parentheses (as the printer writes it)."""
    import ast

    return ast.unparse(ast.parse(text, mode="eval"))


# -- emitted modules ---------------------------------------------------------------------------
def _chain(n: int) -> circuitc.Circuit:
    """t_k = 2 t_{k-1} + 1, J = t_n: a backward pass that reads no forward value."""
    x = sp.Symbol("x")
    steps, prev = [], x
    for k in range(n):
        t = sp.Symbol(f"t{k}")
        steps.append((t, 2 * prev + 1))
        prev = t
    return circuitc.Circuit("chain", prev, [x], steps=steps)


def test_a_long_chain_holds_a_few_arrays_not_one_per_step():
    module = circuitc.compile(_chain(12))
    x = np.linspace(-1, 1, BIG)
    J, g = module.value_and_grad(x=x)
    np.testing.assert_allclose(J, 4096 * x + 4095, rtol=1e-15)  # closed form
    np.testing.assert_array_equal(g["x"], np.full(BIG, 4096.0))
    # J and the gradient are returned; at most two more arrays alive at once (was 24)
    assert peak(lambda: module.value_and_grad(x=x)) <= 4.5 * ARRAY
    assert peak(lambda: module.forward(x=x)) <= 2.5 * ARRAY


def test_a_folded_operator_chain_reuses_its_temporary():
    """(x + y)·z - x with x, y, z arrays: two arrays at once (NumPy reuses the temporaries of
    ``x + y`` and of ``-x``); three when each temporary is a name (dropped after its use)."""
    x, y, z = sp.symbols("x y z")
    module = circuitc.compile((x + y) * z - x, wrt=[x], name="fold")
    src = module.__source__
    forward = src[src.index("def forward") : src.index("def value_and_grad")]
    assert "_J = -x + z * (x + y)" in forward
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=BIG) for _ in range(3))
    assert_close(module.forward(x=a, y=b, z=c), (a + b) * c - a, "exact")
    assert peak(lambda: module.forward(x=a, y=b, z=c)) <= 2.5 * ARRAY


def test_mlp_with_instances_as_columns_against_the_expert_and_in_less_memory():
    D, H, K, N = 784, 256, 10, 128
    J_expr, wrt = circuits.mlp_columns(D, H, K)
    module = circuitc.compile(J_expr, wrt=wrt, name="mlp_columns")
    rng = np.random.default_rng(1)
    W1, W2 = rng.normal(0, 0.05, (H, D)), rng.normal(0, 0.2, (K, H))
    X, Y = rng.random((D, N)), np.eye(K)[rng.integers(0, K, N)].T.copy()
    J, g = module.value_and_grad(W1=W1, W2=W2, X=X, Y=Y)
    Je, (gW1, gW2) = expert.mlp_columns(W1, W2, X, Y)
    assert_close(J, Je, "exact")
    np.testing.assert_allclose(g["W1"], gW1, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g["W2"], gW2, rtol=1e-10, atol=1e-15)
    mine = peak(lambda: module.value_and_grad(W1=W1, W2=W2, X=X, Y=Y))
    hand = peak(lambda: expert.mlp_columns(W1, W2, X, Y))
    assert mine <= 1.25 * hand  # the bound (was 1.9x before memory planning)


def test_small_mlp_with_instances_as_columns_against_central_differences():
    J_expr, wrt = circuits.mlp_columns(5, 4, 3)
    module = circuitc.compile(J_expr, wrt=wrt, name="mlp_columns_small")
    rng = np.random.default_rng(2)
    point = dict(
        W1=rng.normal(size=(4, 5)),
        W2=rng.normal(size=(3, 4)),
        X=rng.normal(size=(5, 6)),
        Y=np.eye(3)[rng.integers(0, 3, 6)].T.copy(),
    )
    _, grads = module.value_and_grad(**point)
    vjp_check(module.forward, grads, point, ["W1", "W2"], seed=3)


def test_arguments_are_never_written_and_returned_arrays_stay_fresh():
    x, y = sp.symbols("x y")
    module = circuitc.compile(sp.sin(x * y) + x * y + (x - y) ** 2, wrt=[x, y], name="fresh")
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=BIG), rng.normal(size=BIG)
    a0, b0 = a.copy(), b.copy()
    J1, g1 = module.value_and_grad(x=a, y=b)
    kept = (J1.copy(), g1["x"].copy(), g1["y"].copy())
    J2, g2 = module.value_and_grad(x=2 * a, y=b)  # a second call reuses no returned buffer
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    for first, before in zip((J1, g1["x"], g1["y"]), kept, strict=True):
        np.testing.assert_array_equal(first, before)
    for one in (J1, g1["x"], g1["y"]):
        for other in (J2, g2["x"], g2["y"], a, b):
            assert not np.shares_memory(one, other)
    # oracle: the gradient by hand
    c = np.cos(a * b)
    np.testing.assert_allclose(g1["x"], c * b + b + 2 * (a - b), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g1["y"], c * a + a - 2 * (a - b), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["mlp", "two_layer_nn_batch", "logistic_regression_batch"])
def test_table_still_shows_every_node_after_planning(name):
    """``circuitc table`` reads the plan, not the planned lines: every value keeps its row."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    module = __import__(f"examples.{name}", fromlist=["_"])
    report = circuitc.table(module.circuit)
    src = circuitc.source(module.circuit)
    for row in report.rows:
        assert row.forward  # every node has its forward line in the table
    assert "del " in src  # and the module itself does drop its temporaries


def test_schedule_splits_the_parts_it_was_given():
    forward = [Line("_t0", "x * 2"), Line("a", "_t0 + 1")]
    backward = [Line("_d_a", "g * a"), Line("_d_x", "_d_a * 2")]
    fwd, bwd = schedule([forward, backward], keep={"_d_x"}, args={"x", "g"})
    assert [line.text for line in fwd] == ["a = x * 2 + 1"]
    assert [line.text for line in bwd] == ["_d_a = g * a", "del a", "_d_x = _d_a * 2"]


# -- circuitc cost: the module's peak bytes ------------------------------------------------------
def test_cost_reports_the_peak_bytes_tracemalloc_measures():
    from circuitc.views.cost import cost

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    mlp = __import__("examples.mlp", fromlist=["_"])
    report = cost(mlp.circuit, naive=False, dims={"N": 128})
    module = circuitc.compile(mlp.circuit)
    rng = np.random.default_rng(5)
    kw = {
        "W1": rng.normal(size=(784, 256)),
        "b1": rng.normal(size=(1, 256)),
        "W2": rng.normal(size=(256, 10)),
        "b2": rng.normal(size=(1, 10)),
        "X": rng.random((128, 784)),
        "Y": np.eye(10)[rng.integers(0, 10, 128)],
    }
    measured = peak(lambda: module.value_and_grad(**kw))
    # the count is of named values; NumPy's short-lived operator temporaries come on top
    assert 0.9 * measured <= report.peak_bytes <= 1.1 * measured
    assert report.hand_bytes > 0
    assert "peak live bytes in value_and_grad at N=128" in str(report)
    # without the sizes of its dimensions the bytes are not reported
    assert cost(mlp.circuit, naive=False).peak_bytes is None


def test_cost_cli_reads_dims_and_refuses_a_bad_one(capsys):
    from circuitc.cli import main

    root = Path(__file__).resolve().parent.parent
    assert main(["cost", str(root / "examples" / "mlp.py"), "--no-naive", "--dims", "N=64"]) == 0
    assert "at N=64" in capsys.readouterr().out
    assert main(["cost", str(root / "examples" / "mlp.py"), "--no-naive", "--dims", "N"]) == 2
    err = capsys.readouterr().err
    assert "--dims 'N'" in err and len(err.strip().splitlines()) == 1


def test_reads_agrees_with_pythons_tokenizer_on_every_emitted_line():
    """``reads`` scans with a regular expression (the tokenizer is slow on 10⁵-line modules);
    on every right-hand side of the committed modules it finds what the tokenizer finds."""
    from circuitc.emit.memory import _token_reads

    root = Path(__file__).resolve().parent.parent / "generated"
    checked = 0
    for path in sorted(root.glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("  # ", 1)[0].strip()
            if " = " not in code or code.startswith(("#", "def ", "return")):
                continue
            rhs = code.split(" = ", 1)[1]
            try:
                expected = _token_reads(rhs)
            except Exception:  # noqa: BLE001 - a line that continues on the next one
                continue
            assert reads(rhs) == expected, rhs
            checked += 1
    assert checked > 200
