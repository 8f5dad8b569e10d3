"""``circuitc train --backend array-api --array-lib LIB --device DEV``: where training runs.

The options, the module they compile (``backend="array_api"`` when an array library is asked
for) and the training function they choose (``training.device.train`` on that library, else
``training.sgd.train``).
"""

from __future__ import annotations

import argparse
import functools

LIBS = ("numpy", "torch", "jax", "cupy")
DEVICES = ("cpu", "cuda")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=("numpy", "array-api"),
        default="numpy",
        help="the module trained: numpy (default), or array-api, which computes on the arrays "
        "of --array-lib (needs the backends extra)",
    )
    p.add_argument(
        "--array-lib",
        choices=LIBS,
        help="with --backend array-api: keep the parameters and the data in this library's "
        "arrays (default numpy)",
    )
    p.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="with --array-lib: where the arrays live (default cpu)",
    )


def on_arrays(args) -> bool:
    """True when the run computes on an array library's arrays (--backend array-api)."""
    from .common import CliError

    asked = getattr(args, "backend", "numpy") == "array-api"
    if not asked and (getattr(args, "array_lib", None) or getattr(args, "device", "cpu") != "cpu"):
        raise CliError("--array-lib and --device need --backend array-api")
    return asked


def compile_for(circuit, args):
    """The module to train: the array-API module when the run is on an array library (whose
    library and device are checked first, before anything is announced or written)."""
    from ..api import compile as compile_circuit

    if not on_arrays(args):
        return compile_circuit(circuit)
    _checked_library(args)
    return compile_circuit(circuit, backend="array_api")


def _checked_library(args) -> str:
    """The library asked for, usable on the device asked for (else a one-line CliError)."""
    from ..training import device
    from .common import CliError

    lib = args.array_lib or "numpy"
    try:
        device.library(lib, args.device)
    except ValueError as e:
        raise CliError(str(e)) from None
    return lib


def trainer(args):
    """``sgd.train``, or ``device.train`` bound to the library and device asked for (a bad
    pair, a missing package or GPU is a one-line CliError)."""
    from ..training import device, sgd

    if not on_arrays(args):
        return sgd.train
    return functools.partial(device.train, lib=_checked_library(args), device=args.device)
