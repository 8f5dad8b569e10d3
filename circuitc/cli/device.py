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
    p.add_argument(
        "--dask",
        nargs="?",
        const="local",
        metavar="local[:N]|ADDRESS",
        help="out of core: read --data (Parquet, Zarr or CSV files) chunk by chunk and run "
        "full-batch gradient descent on a Dask cluster: a LocalCluster of N worker processes, "
        "or the scheduler at ADDRESS (needs the dask extra)",
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


def dask_train(args, module, out, check_outputs) -> int:
    """``--dask``: gradient descent over --data's rows on a cluster, the parameters and the
    fitted preprocessing written to ``out`` (as ``train`` writes them)."""
    from ..training import checkpoint, outofcore
    from .common import CliError

    if not args.data:
        raise CliError("--dask needs --data PATH (a Zarr group, Parquet or CSV files)")
    check_outputs(args, out)
    epochs, lr = args.epochs or 20, args.lr or 0.1
    with _cluster(args.dask):
        try:
            rows = outofcore.open_rows(args.data, args.target_column)
            params, pre, state = outofcore.gradient_descent(
                module, rows, epochs=epochs, lr=lr, seed=args.seed or 0,
                callback=None if args.quiet else _epoch_line,
            )  # fmt: skip
        except (ValueError, OSError) as e:
            raise CliError(str(e)) from None
    config = {"data": str(args.data), "epochs": epochs, "lr": lr, "dask": args.dask}
    checkpoint.save(out, module, params, state=state, preprocessing=pre, config=config)
    print(f"wrote {out} (loss {state.history.loss[-1]:.6g} after {state.epoch} epochs)")
    return 0


def _epoch_line(progress) -> None:
    print(f"epoch {progress.epoch}: loss {progress.loss:.6g}", flush=True)


def _cluster(spec: str):
    """A Client of a LocalCluster (``local``, ``local:N`` worker processes) or of the scheduler
    at an address; closed when the run ends."""
    import contextlib

    from .common import CliError

    try:
        import distributed
    except ImportError:
        raise CliError("--dask needs dask: pip install 'circuitc[dask]'") from None
    stack = contextlib.ExitStack()
    if spec == "local" or spec.startswith("local:"):
        workers = spec.partition(":")[2]
        if workers and not workers.isdigit():
            raise CliError(f"--dask {spec}: expected local or local:N with N a number of workers")
        cluster = stack.enter_context(
            distributed.LocalCluster(
                n_workers=int(workers) if workers else None, threads_per_worker=1,
                processes=True, dashboard_address=None,
            )
        )  # fmt: skip
        stack.enter_context(distributed.Client(cluster))
    else:
        stack.enter_context(distributed.Client(spec))
    return stack
