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
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence

from .._version import __version__
from ..errors import CircuitError

__all__ = ["COMMANDS", "CliError", "build_parser", "load_circuits", "main"]

# Nothing heavy is imported until a subcommand needs it: `circuitc --version` answers without
# SymPy or NumPy (0.05 s instead of 0.56 s). COMMANDS, CliError and load_circuits load on
# first use (PEP 562).


def _commands() -> dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[..., int]]]:
    """subcommand -> (add its arguments, run it); the run function's docstring is its help."""
    from . import compile as compile_cmds
    from . import predict as predict_cmds
    from . import train as train_cmds
    from . import views as view_cmds

    return {
        "compile": (compile_cmds.add_compile, compile_cmds.cmd_compile),
        "show": (compile_cmds.add_show, compile_cmds.cmd_show),
        "table": (compile_cmds.add_table, compile_cmds.cmd_table),
        "check": (compile_cmds.add_check, compile_cmds.cmd_check),
        "train": (train_cmds.add_train, train_cmds.cmd_train),
        "predict": (predict_cmds.add_predict, predict_cmds.cmd_predict),
        "graph": (view_cmds.add_graph, view_cmds.cmd_graph),
        "cost": (view_cmds.add_cost, view_cmds.cmd_cost),
    }


def __getattr__(name: str):
    if name == "COMMANDS":
        globals()["COMMANDS"] = commands = _commands()
        return commands
    if name in ("CliError", "load_circuits"):
        from . import common

        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- the parser and main ------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``circuitc`` parser, one subparser per entry of ``COMMANDS``."""
    from .common import _Parser

    parser = _Parser(
        prog="circuitc",
        description="Compile SymPy computational circuits into forward/backward NumPy code.",
    )
    parser.add_argument("--version", action="version", version=f"circuitc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    table = globals().get("COMMANDS") or __getattr__("COMMANDS")
    for name, (add, run) in table.items():
        doc = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None
        p = sub.add_parser(name, help=doc, description=doc)
        add(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 check failed, 2 bad input).

    While it runs, SIGTERM raises ``SystemExit(143)`` (so an atomic write in progress removes
    its temporary file) and a closed stdout (``circuitc train ... | head -1``) silences the
    output instead of stopping the work.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--version"]:  # answered before anything heavy is imported
        print(f"circuitc {__version__}")
        raise SystemExit(0)
    from .common import CliError, describe

    with _terminate_cleanly(), _pipe_safe_stdout():
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
                    f"circuitc: internal error: {describe(exc)} "
                    "(set CIRCUITC_TRACEBACK=1 for the traceback; please report it)",
                    file=sys.stderr,
                )
            return 3


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """SIGTERM raises ``SystemExit(128 + 15)`` while the command runs (main thread only):
    every ``finally`` and the atomic writes' cleanup run, no hidden temporary file stays."""

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, AttributeError):  # not the main thread, or no SIGTERM here
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _PipeSafe:
    """``sys.stdout`` while a command runs: once the reader has gone (``| head -1``), output is
    dropped instead of raising ``BrokenPipeError``, so training finishes and writes its file."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._break()

    def _break(self) -> None:
        self.broken = True
        # the interpreter flushes stdout at exit: send its descriptor to devnull, quietly
        with contextlib.suppress(AttributeError, OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _pipe_safe_stdout() -> Iterator[None]:
    saved = sys.stdout
    sys.stdout = _PipeSafe(saved)
    try:
        yield
    finally:
        sys.stdout = saved


def _describe_message(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
