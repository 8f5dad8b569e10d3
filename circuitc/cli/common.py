"""What the subcommands share: the one-line error, the parser, loading circuit files and ``--at``.

Circuit files are the user's own trusted Python (like a ``conftest.py``): they are run and
must define ``circuit = Circuit(...)`` or ``circuits = [...]``. Every other text from the
command line is data: ``--at x=0.5`` is parsed with ``float`` only.
"""

from __future__ import annotations

import argparse
import math
import os
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import CircuitError
from ..front.circuit import Circuit


class CliError(Exception):
    """Bad input on the command line: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line, like every other CLI error."""

    def error(self, message: str):
        raise CliError(f"{message} (try '{self.prog} --help')")


# -- numbers on the command line (argparse types: a bad one is a one-line usage error) --------


def non_negative_int(text: str) -> int:
    """A seed: an integer >= 0 (NumPy's generators refuse negative seeds)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A step size: a finite number > 0."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A tolerance: a finite number >= 0 (nan would make every comparison pass or fail)."""
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def unit_interval(text: str) -> float:
    """A momentum: a number in [0, 1) (1 or more never forgets a step and diverges)."""
    value = float(text)
    if not (0 <= value < 1):
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text}")
    return value


# argparse words a value it cannot convert as "invalid <name> value": keep "int" and "float"
for _type, _name in (
    (non_negative_int, "int"),
    (positive_int, "int"),
    (non_negative_float, "float"),
    (unit_interval, "float"),
):
    _type.__name__ = _name


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
        raise CliError(f"{where}: running the circuit file raised {describe(exc)}") from exc
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
    from ..pipeline import build

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


def describe(exc: BaseException) -> str:
    """``ValueError: message`` on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def add_file(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="a Python file defining circuit or circuits")
    p.add_argument("--circuit", metavar="NAME", help="only the circuit of this name")


def add_at(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--at",
        action="append",
        metavar="NAME=VALUE",
        help=f"{what} (repeatable; a number, parsed with float)",
    )


def check_writable(path, flag: str, reading=(), *, force: bool = False, ours=None) -> None:
    """Refuse an output path that cannot be written, that is a file the command reads (the
    circuit file, the data, the parameters), or that holds a file of the user's: an existing,
    non-empty file that ``ours(path)`` does not recognise as this command's own output, unless
    ``force`` (``--force``). Checked before any work (CliError)."""
    import os
    import tempfile

    from ..loader import same_file

    p = Path(path)
    if p.is_dir():
        raise CliError(f"{flag} {path}: is a folder; give a file name")
    for source in reading:
        if source and Path(source).is_file() and same_file(p, source):
            raise CliError(
                f"{flag} {path}: is a file this command reads (the circuit file, the data or "
                "the parameters); write somewhere else"
            )
    if p.is_file() and p.stat().st_size and not force and not (ours and ours(p)):
        raise CliError(
            f"{flag} {path}: exists and was not written by circuitc; not overwriting it "
            "(--force overwrites it)"
        )
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        os.close(fd)
        os.unlink(tmp)
    except FileExistsError as e:  # a file stands where a folder of the path should be
        raise CliError(f"{flag} {path}: {e.filename} is a file, not a folder") from None
    except OSError as e:
        raise CliError(f"{flag} {path}: cannot write there ({e.strerror or e})") from None


# -- shared by train and predict ------------------------------------------------------------
def training_errors():
    """The CLI's one-line error class, and the library errors train/predict report with it."""
    from ..training.checkpoint import CheckpointError
    from ..training.data import DataError

    return CliError, (DataError, CheckpointError)


def add_data_arguments(p: argparse.ArgumentParser, data_default: str) -> None:
    """FILE, --circuit and the data options train and predict share."""
    p.add_argument("file", metavar="FILE", help="a Python file defining circuit or circuits")
    p.add_argument("--circuit", metavar="NAME", help="the circuit of this name (if several)")
    p.add_argument(
        "--data",
        metavar="NAME|PATH",
        help="breast_cancer, digits, iris, a .csv (any of , ; TAB |; a header row names the "
        f"columns) or an .npz (default: {data_default})",
    )
    p.add_argument(
        "--target-column",
        metavar="COL",
        help="the CSV column holding the target (default: 'target', else the last column)",
    )
    p.add_argument(
        "--encoding",
        metavar="NAME",
        help="the CSV file's text encoding (default UTF-8, BOM or not)",
    )
    p.add_argument(
        "--delimiter", metavar="CHAR", help="the CSV delimiter (default: found from the file)"
    )
    p.add_argument(
        "--decimal",
        choices=(".", ","),
        help="the CSV numbers' decimal mark: , for 1,5 (default .)",
    )


def one_circuit(args, keep: dict):
    """The one circuit of ``args.file`` (``--circuit`` picks among several)."""
    circuits = load_circuits(args.file, args.circuit, keep)
    if len(circuits) > 1:
        names = ", ".join(c.name for c in circuits)
        raise CliError(f"{args.file} defines several circuits ({names}); pick one with --circuit")
    return circuits[0]


def starts_with(*heads: bytes):
    """A recogniser for ``check_writable``: the file's first bytes are one of ``heads``."""

    def ours(path: Path) -> bool:
        with open(path, "rb") as f:
            first = f.read(4096)
        return any(first.startswith(h) for h in heads)

    return ours


def mentions(mark: bytes):
    """A recogniser for ``check_writable``: ``mark`` stands in the file's first 4 KiB."""

    def ours(path: Path) -> bool:
        with open(path, "rb") as f:
            return mark in f.read(4096)

    return ours
