"""The subcommands that read a circuit file and print or write what circuitc makes of it:
``compile``, ``show``, ``table`` and ``check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..api import ALIASES, BACKENDS, source
from ..pipeline import JACOBIAN_MODES
from .common import (
    CliError,
    add_at,
    add_file,
    at_for,
    describe,
    load_circuits,
    non_negative_float,
    non_negative_int,
    parse_at,
)

# -- compile ------------------------------------------------------------------------------


#: what --backend takes: every backend, and the spellings of the command line (array-api)
BACKEND_CHOICES = sorted({*BACKENDS, *ALIASES})
BACKEND_HELP = (
    "numpy (default); numba: one @njit loop per element (elementwise circuits); array-api: "
    "the array API namespace of the arguments (NumPy, PyTorch, JAX, CuPy; jax.jit traces it)"
)


#: ``--second-order``'s values and what ``circuitc.compile``'s ``second_order`` they mean
SECOND_ORDER = {"auto": "auto", "yes": True, "no": False}


def add_second_order(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--second-order",
        choices=tuple(SECOND_ORDER),
        default="auto",
        help="emit jvp, hvp and jacobian: auto (the default) for circuits of at most 5000 IR "
        "nodes, yes always, no never (without them, they raise an error naming this option)",
    )


def add_emit_options(p: argparse.ArgumentParser) -> None:
    """--backend, --jacobian-mode and --second-order: what ``compile`` and ``show`` emit."""
    p.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default="numpy",
        help=BACKEND_HELP,
    )
    p.add_argument(
        "--jacobian-mode",
        choices=JACOBIAN_MODES,
        default="auto",
        help="how jacobian() of a matrix output is emitted: auto (reverse mode when the output "
        "has fewer entries than the parameters and no size is symbolic, else forward), "
        "forward (one tangent pass per parameter entry) or reverse (one backward pass per "
        "output entry)",
    )
    add_second_order(p)


def emit_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``circuitc.source`` that ``add_emit_options`` parsed."""
    return {
        "backend": args.backend,
        "jacobian_mode": args.jacobian_mode,
        "second_order": SECOND_ORDER[args.second_order],
    }


def add_compile(p: argparse.ArgumentParser) -> None:
    add_file(p)
    p.add_argument(
        "-o",
        "--out",
        metavar="DIR",
        default=DEFAULT_OUT,
        help=f"folder to write DIR/<circuit name>.py into (default: {DEFAULT_OUT}/ of the "
        "current folder, so that the output never meets the circuit file)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite DIR/<circuit name>.py even if circuitc did not generate it "
        "(never the circuit file itself)",
    )
    add_emit_options(p)


#: where ``compile FILE`` writes without ``-o``: a folder of its own, never beside the user's
#: circuit files (the examples name their circuits after their files)
DEFAULT_OUT = "generated"


def cmd_compile(args: argparse.Namespace) -> int:
    """Write each circuit of FILE as a module DIR/<circuit name>.py (default DIR: generated/)."""
    from ..loader import check_target, is_generated_module, write_atomic

    circuits = load_circuits(args.file, args.circuit)
    # every circuit compiles, and every target is checked, before anything is written
    options = emit_options(args)
    texts = [(c.name, source(c, **options)) for c in circuits]
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"-o {args.out}: not a folder")
    paths = [
        check_target(out / f"{name}.py", is_generated_module, force=args.force, reading=[args.file])
        for name, _ in texts
    ]
    for path, (_, text) in zip(paths, texts, strict=True):
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc
        print(f"wrote {path}")
    return 0


# -- show ---------------------------------------------------------------------------------


def add_show(p: argparse.ArgumentParser) -> None:
    add_file(p)
    add_emit_options(p)


def cmd_show(args: argparse.Namespace) -> int:
    """Print the module emitted for each circuit of FILE."""
    circuits = load_circuits(args.file, args.circuit)
    options = emit_options(args)
    texts = [source(c, **options) for c in circuits]
    sys.stdout.write("\n\n".join(texts))
    return 0


# -- table --------------------------------------------------------------------------------


def add_table(p: argparse.ArgumentParser) -> None:
    add_file(p)
    p.add_argument(
        "--format",
        choices=("text", "markdown", "latex", "html"),
        default="text",
        help="how to print the table (default text)",
    )
    add_at(p, "evaluate the table at these argument values; the others are drawn at random")
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the values --at does not give (default 0)",
    )
    p.add_argument(
        "--mode",
        choices=("reverse", "forward"),
        default="reverse",
        help="reverse: the notes' Forward | Backward table (default); forward: each value "
        "beside its tangent along --direction (forward mode)",
    )
    p.add_argument(
        "--direction",
        action="append",
        metavar="NAME=VALUE",
        help="forward mode: a parameter's tangent (repeatable; a number fills a matrix; "
        "default: the first parameter's first coordinate)",
    )


def cmd_table(args: argparse.Namespace) -> int:
    """Print the notes' Forward | Backward table of each circuit of FILE (or, with
    ``--mode forward``, its forward-mode table)."""
    from ..views.table import table

    circuits = load_circuits(args.file, args.circuit)
    ats = at_for(circuits, parse_at(args.at))
    if args.mode == "forward":
        return _forward_tables(args, circuits, ats)
    if args.direction:
        raise CliError("--direction is an option of --mode forward")
    given = args.at is not None
    reports = [
        table(c, at=at if given else None, seed=args.seed)
        for c, at in zip(circuits, ats, strict=True)
    ]
    sys.stdout.write("\n".join(r.format(args.format) for r in reports))
    return 0


def _forward_tables(args, circuits, ats) -> int:
    from ..views.tangent_table import forward_table

    if args.format not in ("text", "markdown"):
        raise CliError(f"--mode forward prints text or markdown, not {args.format}")
    direction = parse_at([d if "=" in d else d + "=" for d in args.direction or ()])
    reports = []
    for c, at in zip(circuits, ats, strict=True):
        params = [w.name for w in c.wrt]
        mine = {k: v for k, v in direction.items() if k in params}
        reports.append(forward_table(c, at=at or None, direction=mine or None))
    unknown = sorted(set(direction) - {w.name for c in circuits for w in c.wrt})
    if unknown:
        raise CliError(f"--direction {unknown[0]!r} is not a parameter of the circuit")
    sys.stdout.write("\n".join(r.format(args.format) for r in reports))
    return 0


# -- check --------------------------------------------------------------------------------


def add_check(p: argparse.ArgumentParser) -> None:
    add_file(p)
    add_at(p, "check at these argument values; the others are drawn at random")
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the random point (default 0)"
    )
    p.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="report format (default text)",
    )
    p.add_argument(
        "--rtol",
        type=non_negative_float,
        default=1e-5,
        help="relative tolerance of a probe (default 1e-5)",
    )
    p.add_argument(
        "--atol",
        type=non_negative_float,
        default=1e-7,
        help="absolute tolerance, times max(1,|J|)/max(1,|argument|) (default 1e-7)",
    )


def cmd_check(args: argparse.Namespace) -> int:
    """Check each circuit's gradient against central differences; exit 1 on a failure.

    FILE is a circuit file, or a module that ``circuitc compile`` generated.
    """
    from ..views.gradcheck import check

    at = parse_at(args.at)
    if _is_generated(args.file):
        # a module circuitc generated: checked as it is, by the shapes it states
        from ..loader import import_file

        try:
            targets, ats = [import_file(args.file)], [at]
        except Exception as exc:
            raise CliError(f"{args.file}: importing the module raised {describe(exc)}") from exc
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
    from ..loader import is_generated_module

    return is_generated_module(path)  # False for a missing file: load_circuits reports it
