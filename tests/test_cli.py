"""The ``circuitc`` command line: each subcommand, and every bad-input path (exit 2, one line)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy as sp

import circuitc
from circuitc import cli

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "small_example.py"
LOGREG = ROOT / "examples" / "logistic_regression.py"


def run(capsys, *argv) -> tuple[int, str, str]:
    """``circuitc argv…`` in this process: (exit status, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, text: str, name: str = "circ.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def small_circuit() -> circuitc.Circuit:
    x = sp.Symbol("x")
    t, u1, u2, u, J = sp.symbols("t u1 u2 u J")
    steps = [(t, x**2), (u1, sp.sin(t)), (u2, 3 * t), (u, u1 + u2), (J, sp.cos(u))]
    return circuitc.Circuit("small_example", J, [x], steps=steps)


# -- the happy paths ----------------------------------------------------------------------


def test_compile_writes_one_module_per_circuit(capsys, tmp_path):
    out = tmp_path / "gen"
    code, stdout, err = run(capsys, "compile", LOGREG, "-o", out)
    assert (code, err) == (0, "")
    names = sorted(p.name for p in out.iterdir())
    # exactly the two modules: no temporary file left behind
    assert names == ["logistic_regression.py", "logistic_regression_cross_entropy.py"]
    assert "wrote" in stdout
    module = circuitc.loader.import_file(out / "logistic_regression.py")
    assert module.NAME == "logistic_regression"
    assert tuple(module.WRT) == tuple(f"theta_{j}" for j in range(5))


def test_compile_output_equals_the_api_source(capsys, tmp_path):
    code, _, _ = run(capsys, "compile", SMALL, "-o", tmp_path)
    assert code == 0
    written = (tmp_path / "small_example.py").read_text(encoding="utf-8")
    assert written == circuitc.source(small_circuit())


def test_compile_circuit_option_selects_one(capsys, tmp_path):
    code, _, _ = run(
        capsys, "compile", LOGREG, "--circuit", "logistic_regression_cross_entropy", "-o", tmp_path
    )
    assert code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["logistic_regression_cross_entropy.py"]


def test_compile_replaces_atomically_and_leaves_no_temp_file(capsys, tmp_path, monkeypatch):
    target = tmp_path / "small_example.py"
    target.write_text("old contents\n", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    code, _, err = run(capsys, "compile", SMALL, "-o", tmp_path)
    assert code == 2
    assert err.count("\n") == 1 and "cannot write" in err and "Traceback" not in err
    # the old file is untouched and the temporary file is gone
    assert target.read_text(encoding="utf-8") == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["small_example.py"]


def test_compile_does_not_write_when_a_later_circuit_fails(capsys, tmp_path):
    path = write(
        tmp_path,
        """
        import sympy as sp
        from circuitc import Circuit
        x = sp.Symbol("x")
        circuits = [Circuit("fine", sp.sin(x), [x]), Circuit("bad", sp.gamma(x), [x])]
        """,
    )
    out = tmp_path / "out"
    code, _, err = run(capsys, "compile", path, "-o", out)
    assert code == 2 and "gamma" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_show_prints_the_emitted_module(capsys):
    code, out, err = run(capsys, "show", SMALL)
    assert (code, err) == (0, "")
    assert out == circuitc.source(small_circuit())


def test_show_prints_every_circuit_of_a_file(capsys):
    code, out, _ = run(capsys, "show", LOGREG)
    assert code == 0
    assert "from the circuit 'logistic_regression'." in out
    assert "from the circuit 'logistic_regression_cross_entropy'." in out


def test_check_passes_with_exit_0_and_prints_the_report(capsys):
    code, out, err = run(capsys, "check", SMALL, "--at", "x=0.5")
    assert (code, err) == (0, "")
    assert out == str(circuitc.check(small_circuit(), at={"x": 0.5}))
    assert "passed" in out and "x=0.5" in out


def test_check_markdown_format(capsys):
    code, out, _ = run(capsys, "check", SMALL, "--format", "markdown", "--seed", "3")
    assert code == 0
    assert out == circuitc.check(small_circuit(), seed=3).format("markdown")


def test_check_at_is_split_among_the_circuits_of_a_file(capsys):
    code, out, _ = run(capsys, "check", LOGREG, "--at", "theta_0=0.25", "--at", "y_star=1")
    assert code == 0
    assert out.count("theta_0=0.25") == 2 and out.count("y_star=1,") + out.count("y_star=1\n") == 2


#: a circuit file whose registered op has a deliberately wrong derivative (cos(x) + 0.001)
WRONG_OP = """
import sympy as sp
import circuitc

class wrong_sin_{tag}(sp.Function):
    nargs = 1

circuitc.register(
    wrong_sin_{tag}, derivative=lambda g, ans, x: g * (sp.cos(x) + sp.Rational(1, 1000)), numpy="sin"
)
x, y = sp.symbols("x y")
circuit = circuitc.Circuit("wrong", wrong_sin_{tag}(x) + y**2, [x, y])
"""


def test_check_fails_with_exit_1_on_a_wrong_derivative(capsys, tmp_path):
    path = write(tmp_path, WRONG_OP.format(tag="cli"))
    code, out, err = run(capsys, "check", path)
    assert (code, err) == (1, "")
    rows = {
        line.split()[0]: line.split()[-1] for line in out.splitlines() if line[:2] in ("x ", "y ")
    }
    assert rows == {"x": "FAILED", "y": "ok"}
    assert "FAILED" in out.splitlines()[0]


def test_table_subcommand_prints_the_api_report(capsys):
    report = pytest.importorskip("circuitc.views.table")
    circuit = small_circuit()
    code, out, err = run(capsys, "table", SMALL)
    assert (code, err) == (0, "")
    assert out == str(report.table(circuit))
    code, out, _ = run(capsys, "table", SMALL, "--format", "markdown", "--at", "x=0.5")
    assert code == 0
    assert out == report.table(circuit, at={"x": 0.5}).format("markdown")


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"circuitc {circuitc.__version__}"


def test_parser_is_one_dispatch_table(capsys):
    parser = cli.build_parser()
    for name in ("compile", "show", "table", "check"):
        args = parser.parse_args([name, "f.py"])
        assert args.run is cli.COMMANDS[name][1]
    # every entry of COMMANDS is a subcommand with its own --help
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0
        assert f"circuitc {name}" in capsys.readouterr().out


def test_every_option_of_every_subcommand_has_a_help_text():
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, sub in subparsers.choices.items()
        for action in sub._actions
        if not action.help
    ]
    assert missing == []


# -- bad input: exit 2, exactly one line on stderr, no traceback --------------------------

BAD_FILES = {
    "no_circuit": ("x = 1\n", "neither 'circuit' nor 'circuits'"),
    "raises": ("raise RuntimeError('boom\\nsecond line')\n", "RuntimeError: boom second line"),
    "syntax": ("def (:\n", "SyntaxError"),
    "typo": ("import sympy as sp\nx = sp.Symbol('x')\ncircuit = sp.sin(y)\n", ", line 3: "),
    "raises_in_a_function": ("def f():\n    return 1 / 0\n\ncircuit = f()\n", ", line 2: "),
    "exits": ("import sys\nsys.exit(3)\n", "SystemExit"),
    "not_a_circuit": ("circuit = 42\n", "int object is not a circuitc.Circuit"),
    "circuits_not_list": ("circuits = 'abc'\n", "must be a list"),
    "empty": ("circuits = []\n", "is empty"),
    "unsupported": (
        "import sympy as sp\nfrom circuitc import Circuit\nx = sp.Symbol('x')\n"
        "circuit = Circuit('c', sp.gamma(x), [x])\n",
        "gamma",
    ),
    "bad_name": (
        "import sympy as sp\nfrom circuitc import Circuit\nx = sp.Symbol('import')\n"
        "circuit = Circuit('c', sp.sin(x), [x])\n",
        "'import'",
    ),
}


def assert_one_line_error(code: int, out: str, err: str, needle: str = "") -> None:
    assert code == 2, (code, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("circuitc: error: ")
    assert "Traceback" not in err
    assert needle in err, err


@pytest.mark.parametrize("command", ["compile", "show", "table", "check"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_circuit_files(capsys, tmp_path, case, command):
    text, needle = BAD_FILES[case]
    path = write(tmp_path, text)
    args = [command, path] + (["-o", tmp_path / "out"] if command == "compile" else [])
    assert_one_line_error(*run(capsys, *args), needle)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["compile", "show", "table", "check"])
def test_missing_file(capsys, tmp_path, command):
    assert_one_line_error(*run(capsys, command, tmp_path / "nope.py"), "no such file")


@pytest.mark.parametrize(
    "at, needle",
    [
        ("x", "expected NAME=NUMBER"),
        ("x=", "is not a number"),
        ("x=abc", "'abc' is not a number"),
        ("x=__import__('os')", "is not a number"),
        ("1x=0.5", "expected NAME=NUMBER"),
        ("x.y=1", "expected NAME=NUMBER"),
        ("z=1", "z: no such argument"),
    ],
)
@pytest.mark.parametrize("command", ["check", "table"])
def test_bad_at(capsys, command, at, needle):
    assert_one_line_error(*run(capsys, command, SMALL, "--at", at), needle)


@pytest.mark.parametrize("command", ["table", "graph"])
def test_at_cannot_fill_a_batch_matrix(capsys, command):
    # X is N×31 with a symbolic N: --at gives numbers, so the message says what to do instead
    argv = [command, ROOT / "examples" / "logistic_regression_batch.py", "--at", "theta=1"]
    assert_one_line_error(*run(capsys, *argv), "'X', a Nx31 matrix: give it as an array")


def test_at_given_twice(capsys):
    assert_one_line_error(*run(capsys, "check", SMALL, "--at", "x=1", "--at", "x=2"), "twice")


def test_unknown_circuit_name(capsys):
    assert_one_line_error(*run(capsys, "show", LOGREG, "--circuit", "nope"), "no circuit named")


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert_one_line_error(*run(capsys, "compile", SMALL, "-o", blocker), "not a folder")
    assert_one_line_error(*run(capsys, "compile", SMALL, "-o", blocker / "sub"), "cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        ([], "required"),
        (["frobnicate"], "invalid choice"),
        (["show"], "required"),
        (["compile", str(SMALL), "--backend", "fortran"], "invalid choice"),
        (["check", str(SMALL), "--seed", "abc"], "invalid int"),
        (["show", str(SMALL), "--no-such-option"], "unrecognized"),
    ],
)
def test_usage_errors_are_one_line(capsys, argv, needle):
    assert_one_line_error(*run(capsys, *argv), needle)


def test_no_point_in_the_domain_is_exit_2(capsys, tmp_path):
    path = write(
        tmp_path,
        """
        import sympy as sp
        from circuitc import Circuit
        x = sp.Symbol("x")
        circuit = Circuit("nowhere", sp.log(-x**2 - 1), [x])
        """,
    )
    assert_one_line_error(*run(capsys, "check", path), "found no point")


# -- the real entry points, in a fresh process --------------------------------------------


def _subprocess(*argv, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120)


def test_python_dash_m_in_a_fresh_process(tmp_path):
    ok = _subprocess(sys.executable, "-m", "circuitc", "compile", str(SMALL), "-o", str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "small_example.py").read_text(encoding="utf-8") == circuitc.source(
        small_circuit()
    )
    bad = _subprocess(sys.executable, "-m", "circuitc", "show", str(tmp_path / "missing.py"))
    assert_one_line_error(bad.returncode, bad.stdout, bad.stderr, "no such file")


def test_check_exit_1_in_a_fresh_process(tmp_path):
    path = write(tmp_path, WRONG_OP.format(tag="proc"))
    done = _subprocess(sys.executable, "-m", "circuitc", "check", str(path))
    assert done.returncode == 1, done.stderr
    assert "FAILED" in done.stdout and done.stderr == ""


def test_console_script(tmp_path):
    script = Path(sys.executable).with_name("circuitc")
    if not script.exists():
        pytest.skip("the circuitc console script is not installed next to this Python")
    done = _subprocess(str(script), "check", str(SMALL), "--at", "x=0.5")
    assert done.returncode == 0, done.stderr
    assert "gradient check of 'small_example': passed" in done.stdout


def test_a_circuit_file_can_import_its_sibling_modules(capsys, tmp_path):
    write(tmp_path, "import sympy as sp\nx = sp.Symbol('x')\n", name="shared_symbols_b.py")
    path = write(
        tmp_path,
        """
        import sympy as sp
        from shared_symbols_b import x
        from circuitc import Circuit
        circuit = Circuit("sib", sp.sin(x), [x])
        """,
    )
    before = list(sys.path)
    code, out, err = run(capsys, "show", path)
    assert (code, err) == (0, "") and "from the circuit 'sib'" in out
    assert sys.path == before


def test_check_tolerances_are_options(capsys, tmp_path):
    # (a circuit file that registers an op can be run once per process: one file per run)
    loose = write(tmp_path, WRONG_OP.format(tag="tol1"), name="loose.py")
    strict = write(tmp_path, WRONG_OP.format(tag="tol2"), name="strict.py")
    # the wrong rule is off by 1e-3 relative: a loose rtol lets it through
    code, out, _ = run(capsys, "check", loose, "--at", "x=0.3", "--rtol", "1e-2")
    assert code == 0 and "0.01*|dJ|" in out
    code, _, _ = run(capsys, "check", strict, "--at", "x=0.3", "--rtol", "1e-4")
    assert code == 1


def test_check_a_generated_module(capsys, tmp_path):
    code, _, _ = run(capsys, "compile", SMALL, "-o", tmp_path)
    assert code == 0
    code, out, err = run(capsys, "check", tmp_path / "small_example.py", "--at", "x=0.5")
    assert (code, err) == (0, "")
    assert out == str(circuitc.check(small_circuit(), at={"x": 0.5}))
    broken = tmp_path / "broken.py"
    broken.write_text("# Generated by circuitc, then damaged\ndef (:\n", encoding="utf-8")
    assert_one_line_error(*run(capsys, "check", broken), "SyntaxError")
