"""The ``circuitc`` command line: ``compile``, ``show``, ``table``, ``check`` (and more).

Every subcommand is a pair in ``COMMANDS``: a function that adds its arguments to its
subparser and a function that runs it and returns the exit status. To add one, write the
two functions and add one line to ``COMMANDS``.

Exit status: 0 success, 1 a check that failed, 2 bad input (one line on stderr, never a
traceback), 3 an internal error of circuitc (one line; set ``CIRCUITC_TRACEBACK=1`` to see
the traceback).

Circuit files are the user's own trusted Python (like a ``conftest.py``): they are run and
must define ``circuit = Circuit(...)`` or ``circuits = [...]``. Every other text from the
command line is data: ``--at x=0.5`` is parsed with ``float`` only.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, cli_inspect, cli_train
from .circuit import Circuit
from .errors import CircuitError


class CliError(Exception):
    """Bad input on the command line: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line, like every other CLI error."""

    def error(self, message: str):
        raise CliError(f"{message} (try '{self.prog} --help')")


# -- shared helpers (other subcommands use them too) --------------------------------------


def load_circuits(path: str, only: str | None = None, keep: dict | None = None) -> list[Circuit]:
    """Run the circuit file ``path`` and return its ``circuit``/``circuits``.

    Args:
        path: a Python file defining ``circuit = Circuit(...)`` or ``circuits = [...]``.
        only: keep just the circuit of this name.
        keep: when given, receives the file's namespace (``train`` reads its ``TRAIN``).

    Raises:
        CliError: a missing file, a file that raises, or one without circuits.
    """
    file = Path(path)
    if not file.is_file():
        raise CliError(f"{path}: no such file")
    # like ``python FILE``: the file's folder is importable while it runs (sibling modules)
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)
    try:
        namespace = runpy.run_path(str(file), run_name="__circuitc__")
    except CircuitError:
        raise
    except (Exception, SystemExit) as exc:
        where = f"{path}, line {line}" if (line := _line_in(exc, file)) else str(path)
        raise CliError(f"{where}: running the circuit file raised {_describe(exc)}") from exc
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    if keep is not None:
        keep.update(namespace)
    if "circuits" in namespace:
        found = namespace["circuits"]
        if isinstance(found, Circuit) or not isinstance(found, (list, tuple)):
            raise CliError(f"{path}: 'circuits' must be a list of circuitc.Circuit")
        circuits = list(found)
    elif "circuit" in namespace:
        circuits = [namespace["circuit"]]
    else:
        raise CliError(f"{path}: defines neither 'circuit' nor 'circuits'")
    for c in circuits:
        if not isinstance(c, Circuit):
            raise CliError(f"{path}: {type(c).__name__} object is not a circuitc.Circuit")
    if not circuits:
        raise CliError(f"{path}: 'circuits' is empty")
    names = [c.name for c in circuits]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise CliError(f"{path}: two circuits are named {dup[0]!r}")
    if only is not None:
        circuits = [c for c in circuits if c.name == only]
        if not circuits:
            raise CliError(f"{path}: no circuit named {only!r} (it has {', '.join(names)})")
    return circuits


def _line_in(exc: BaseException, file: Path) -> int | None:
    """The line of ``file`` that was running when ``exc`` was raised (its innermost frame)."""
    if isinstance(exc, SyntaxError):
        return None  # its message already names the line
    target, line = os.path.realpath(file), None
    tb = exc.__traceback__
    while tb is not None:
        if os.path.realpath(tb.tb_frame.f_code.co_filename) == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def parse_at(items: Sequence[str] | None) -> dict[str, float]:
    """``["x=0.5", "y=-1e3"]`` → ``{"x": 0.5, "y": -1000.0}``; names must be identifiers."""
    values: dict[str, float] = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise CliError(f"--at {item!r}: expected NAME=NUMBER, e.g. --at x=0.5")
        try:
            value = float(text)
        except ValueError:
            raise CliError(f"--at {item!r}: {text.strip()!r} is not a number") from None
        if name in values:
            raise CliError(f"--at gives {name!r} twice")
        values[name] = value
    return values


def circuit_arguments(circuit: Circuit) -> list[str]:
    """The names a circuit's module takes as keyword arguments (``WRT`` then ``INPUTS``)."""
    from .compiler import build

    compiled = build(circuit)
    return [name for name, _ in compiled.wrt] + list(compiled.inputs)


def at_for(circuits: Sequence[Circuit], at: dict[str, float]) -> list[dict[str, float]]:
    """Split ``--at`` values among circuits; a name no circuit takes is an error."""
    if not at:
        return [{} for _ in circuits]
    per = []
    known: set[str] = set()
    for c in circuits:
        args = set(circuit_arguments(c))
        known |= args
        per.append({k: v for k, v in at.items() if k in args})
    unknown = sorted(set(at) - known)
    if unknown:
        taken = ", ".join(sorted(known))
        raise CliError(f"--at {unknown[0]}: no such argument (the circuit takes {taken})")
    return per


def _describe(exc: BaseException) -> str:
    """``ValueError: message`` on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _add_file(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a Python file defining circuit or circuits")
    p.add_argument("--circuit", metavar="NAME", help="only the circuit of this name")


def _add_at(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--at",
        action="append",
        metavar="NAME=VALUE",
        help=f"{what} (repeatable; a number, parsed with float)",
    )


# -- compile ------------------------------------------------------------------------------

#: backend name -> circuit -> module source text (numba will add itself here)
BACKENDS: dict[str, Callable[[Circuit], str]] = {}


def _numpy_source(circuit: Circuit) -> str:
    from .api import source

    return source(circuit)


BACKENDS["numpy"] = _numpy_source


def _numba_source(circuit: Circuit) -> str:
    from .api import source

    return source(circuit, backend="numba")


BACKENDS["numba"] = _numba_source


def _add_compile(p: argparse.ArgumentParser) -> None:
    _add_file(p)
    p.add_argument(
        "-o",
        "--out",
        metavar="DIR",
        default=".",
        help="folder to write DIR/<circuit name>.py into (default: the current folder)",
    )
    p.add_argument(
        "--backend",
        choices=sorted(BACKENDS),
        default="numpy",
        help="numpy (default), or numba: one @njit loop per element (elementwise circuits)",
    )


def cmd_compile(args: argparse.Namespace) -> int:
    """Write each circuit of FILE as a module DIR/<circuit name>.py."""
    circuits = load_circuits(args.file, args.circuit)
    render = BACKENDS[args.backend]
    texts = [(c.name, render(c)) for c in circuits]  # every circuit compiles before any write
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"-o {args.out}: not a folder")
    from .loader import write_atomic

    for name, text in texts:
        path = out / f"{name}.py"
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc
        print(f"wrote {path}")
    return 0


# -- show ---------------------------------------------------------------------------------


def _add_show(p: argparse.ArgumentParser) -> None:
    _add_file(p)
    p.add_argument(
        "--backend",
        choices=sorted(BACKENDS),
        default="numpy",
        help="numpy (default), or numba: one @njit loop per element (elementwise circuits)",
    )


def cmd_show(args: argparse.Namespace) -> int:
    """Print the module emitted for each circuit of FILE."""
    circuits = load_circuits(args.file, args.circuit)
    render = BACKENDS[args.backend]
    texts = [render(c) for c in circuits]
    sys.stdout.write("\n\n".join(texts))
    return 0


# -- table --------------------------------------------------------------------------------


def _add_table(p: argparse.ArgumentParser) -> None:
    _add_file(p)
    p.add_argument(
        "--format",
        choices=("text", "markdown", "latex", "html"),
        default="text",
        help="how to print the table (default text)",
    )
    _add_at(p, "evaluate the table at these argument values")


def cmd_table(args: argparse.Namespace) -> int:
    """Print the notes' Forward | Backward table of each circuit of FILE."""
    from .report import table

    circuits = load_circuits(args.file, args.circuit)
    ats = at_for(circuits, parse_at(args.at))
    reports = [table(c, at=at or None) for c, at in zip(circuits, ats, strict=True)]
    sys.stdout.write("\n".join(r.format(args.format) for r in reports))
    return 0


# -- check --------------------------------------------------------------------------------


def _add_check(p: argparse.ArgumentParser) -> None:
    _add_file(p)
    _add_at(p, "check at these argument values; the others are drawn at random")
    p.add_argument("--seed", type=int, default=0, help="seed of the random point (default 0)")
    p.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="report format (default text)",
    )
    p.add_argument(
        "--rtol", type=float, default=1e-5, help="relative tolerance of a probe (default 1e-5)"
    )
    p.add_argument(
        "--atol",
        type=float,
        default=1e-7,
        help="absolute tolerance, times max(1,|J|)/max(1,|argument|) (default 1e-7)",
    )


def cmd_check(args: argparse.Namespace) -> int:
    """Check each circuit's gradient against central differences; exit 1 on a failure.

    FILE is a circuit file, or a module that ``circuitc compile`` generated.
    """
    from .gradcheck import check

    at = parse_at(args.at)
    if _is_generated(args.file):
        # a module circuitc generated: checked as it is, by the shapes it states
        from .loader import import_file

        try:
            targets, ats = [import_file(args.file)], [at]
        except Exception as exc:
            raise CliError(f"{args.file}: importing the module raised {_describe(exc)}") from exc
    else:
        targets = load_circuits(args.file, args.circuit)
        ats = at_for(targets, at)
    reports = [
        check(c, at=a, seed=args.seed, rtol=args.rtol, atol=args.atol)
        for c, a in zip(targets, ats, strict=True)
    ]
    sys.stdout.write("\n".join(r.format(args.format) for r in reports))
    return 0 if all(r.passed for r in reports) else 1


def _is_generated(path: str) -> bool:
    """True for a module circuitc wrote (its first line says so)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().startswith("# Generated by circuitc")
    except (OSError, UnicodeDecodeError):
        return False  # load_circuits reports the problem


# -- the parser and main ------------------------------------------------------------------

#: subcommand -> (add its arguments, run it); the run function's docstring is its help
COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[..., int]]] = {
    "compile": (_add_compile, cmd_compile),
    "show": (_add_show, cmd_show),
    "table": (_add_table, cmd_table),
    "check": (_add_check, cmd_check),
    "train": (cli_train.add_train, cli_train.cmd_train),
    "predict": (cli_train.add_predict, cli_train.cmd_predict),
    "graph": (cli_inspect.add_graph, cli_inspect.cmd_graph),
    "cost": (cli_inspect.add_cost, cli_inspect.cmd_cost),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``circuitc`` parser, one subparser per entry of ``COMMANDS``."""
    parser = _Parser(
        prog="circuitc",
        description="Compile SymPy computational circuits into forward/backward NumPy code.",
    )
    parser.add_argument("--version", action="version", version=f"circuitc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (add, run) in COMMANDS.items():
        doc = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None
        p = sub.add_parser(name, help=doc, description=doc)
        add(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 check failed, 2 bad input)."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (CliError, CircuitError) as exc:
        print(f"circuitc: error: {_describe_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("CIRCUITC_TRACEBACK"):
            traceback.print_exc()
        else:
            print(
                f"circuitc: internal error: {_describe(exc)} "
                "(set CIRCUITC_TRACEBACK=1 for the traceback; please report it)",
                file=sys.stderr,
            )
        return 3


def _describe_message(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
