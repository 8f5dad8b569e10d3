"""The inspection subcommands of the CLI: ``graph`` and ``cost`` (``table`` lives in ``cli.py``).

``circuitc graph FILE [-o OUT] [--format dot|svg|png] [--backward] [--at NAME=VALUE]``
prints or writes the circuit's DAG; SVG and PNG need Graphviz's ``dot`` program, and without
it the command says in one line how to install it (DOT text always works).
``circuitc cost FILE [--time-limit S] [--no-naive]`` prints the op counts of the emitted
passes beside the naive ``sympy.diff`` route.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..views.cost import DEFAULT_TIME_LIMIT


def add_graph(p: argparse.ArgumentParser) -> None:
    from .common import add_at, add_file

    add_file(p)
    p.add_argument("-o", "--out", metavar="OUT", help="write the graph here (default: print DOT)")
    p.add_argument(
        "--format",
        choices=("dot", "svg", "png"),
        help="dot (always), svg or png (need Graphviz's dot); default: from OUT's suffix, else dot",
    )
    p.add_argument("--backward", action="store_true", help="also draw the adjoint edges (red)")
    p.add_argument(
        "--max-size",
        type=int,
        default=None,
        metavar="N",
        help="the most nodes + edges handed to Graphviz for svg/png (default 300; dot has none)",
    )
    add_at(p, "show each node's value and adjoint at these argument values")


def cmd_graph(args: argparse.Namespace) -> int:
    """Draw each circuit of FILE as a graph (DOT text; SVG/PNG with Graphviz)."""
    from ..views.graph import graph
    from .common import CliError, at_for, check_writable, load_circuits, parse_at

    circuits = load_circuits(args.file, args.circuit)
    ats = at_for(circuits, parse_at(args.at))
    fmt = args.format
    if fmt is None:
        suffix = Path(args.out).suffix.lstrip(".").lower() if args.out else ""
        if suffix not in ("", "dot", "gv", "svg", "png"):
            raise CliError(
                f"-o {args.out}: no graph format for .{suffix}; "
                "use .dot, .gv, .svg or .png, or give --format"
            )
        fmt = {"svg": "svg", "png": "png"}.get(suffix, "dot")
    if args.out is not None:
        check_writable(args.out, "-o", [args.file])
    if args.out is None and fmt == "png":
        raise CliError("--format png needs -o OUT (PNG is not text)")
    if args.out is not None and len(circuits) > 1:
        names = ", ".join(c.name for c in circuits)
        raise CliError(
            f"{args.file} has {len(circuits)} circuits ({names}): pick one with --circuit"
        )
    from ..views.graph import MAX_SIZE

    limit = MAX_SIZE if args.max_size is None else args.max_size
    if limit < 1:
        raise CliError(f"--max-size {args.max_size}: must be at least 1")
    views = [
        graph(c, at=at or None, backward=args.backward, max_size=limit)
        for c, at in zip(circuits, ats, strict=True)
    ]
    if args.out is None:
        sys.stdout.write("\n".join(v.render(fmt).decode("utf-8") for v in views))
        return 0
    try:
        path = views[0].save(args.out, fmt)
    except FileExistsError as exc:  # a file stands where a folder of the path should be
        raise CliError(f"cannot write {args.out}: {exc.filename} is a file, not a folder") from exc
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    print(f"wrote {path}")
    return 0


def add_cost(p: argparse.ArgumentParser) -> None:
    from .common import add_file

    add_file(p)
    p.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT,
        metavar="SECONDS",
        help=f"stop the naive sympy.diff route after this long (default {DEFAULT_TIME_LIMIT:g})",
    )
    p.add_argument("--no-naive", action="store_true", help="skip the naive sympy.diff route")
    p.add_argument(
        "--dims",
        default="",
        metavar="N=128,...",
        help="sizes of the matrix dimensions: the report adds the peak bytes value_and_grad"
        " holds at those sizes, beside a hand-written estimate",
    )
    p.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="report format (default text)",
    )


def cmd_cost(args: argparse.Namespace) -> int:
    """Op counts of the forward and backward passes, beside the naive sympy.diff route."""
    from ..views.cost import cost
    from .common import CliError, load_circuits

    if not args.time_limit >= 0:
        raise CliError(f"--time-limit {args.time_limit:g}: must be a number of seconds >= 0")
    dims = parse_dims(args.dims)
    circuits = load_circuits(args.file, args.circuit)
    reports = [
        cost(c, naive=not args.no_naive, time_limit=args.time_limit, dims=dims) for c in circuits
    ]
    sys.stdout.write("\n".join(r.format(args.format) for r in reports))
    return 0


def parse_dims(text: str) -> dict[str, int]:
    """``N=128,M=3`` as ``{"N": 128, "M": 3}``; anything else is a one-line CLI error."""
    from .common import CliError

    out: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, eq, value = item.partition("=")
        if not eq or not name.strip().isidentifier() or not value.strip().isdigit():
            raise CliError(f"--dims {item!r}: expected NAME=SIZE with a whole number (N=128)")
        out[name.strip()] = int(value)
    return out
