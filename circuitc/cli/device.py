"""``circuitc train --backend array-api --array-lib LIB --device DEV``: where training runs.

The options, the module they compile (``backend="array_api"`` when an array library is asked
for) and the training function they choose (``training.device.train`` on that library, else
``training.sgd.train``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import signal
import sys
from pathlib import Path

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
        "gradient descent (full batch unless --chunks-per-step) or --optimizer lbfgs on a Dask "
        "cluster: a LocalCluster of N worker processes, or the scheduler at ADDRESS (needs the "
        "dask extra)",
    )
    p.add_argument(
        "--chunks-per-step",
        type=_positive,
        metavar="K",
        help="with --dask: minibatch SGD, one step per K row chunks (a file is a chunk), the "
        "chunks shuffled every epoch by --seed (default: full batch, one step an epoch)",
    )


def _positive(text: str) -> int:
    from .common import positive_int

    return positive_int(text)


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
    from ..api import NEWTON
    from ..api import compile as compile_circuit

    # --optimizer newton-cg/trust-ncg run on hvp: emitted whatever the circuit's size
    second_order = True if getattr(args, "optimizer", None) in NEWTON else "auto"
    if not on_arrays(args):
        return compile_circuit(circuit, second_order=second_order)
    _checked_library(args)
    return compile_circuit(circuit, backend="array_api", second_order=second_order)


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


#: --dask's settings when neither the flags nor the --resume file give one
DASK_DEFAULTS = dict(epochs=20, lr=0.1, seed=0, chunks_per_step=None, optimizer="sgd")


def dask_train(args, name: str, module, check_outputs) -> int:
    """``--dask``: gradient descent (full batch, or minibatch over row chunks) or L-BFGS over
    --data's rows on a cluster. After every epoch the parameters, the fitted preprocessing and
    the run's state go to the parameter file (as ``train`` writes them, atomically) and the
    epoch line is printed; ``--resume`` continues a run where its file stopped."""
    from ..training import outofcore
    from .common import CliError

    out = Path(args.out or args.resume or f"{name}.npz")
    ck = _resumed(args, module)
    s = _dask_settings(args, ck.config if ck is not None else {})
    data = args.data or (ck.config.get("data") if ck is not None else None)
    if not data:
        raise CliError("--dask needs --data PATH (a Zarr group, Parquet or CSV files)")
    args.data = data
    if ck is not None and not args.target_column:
        args.target_column = ck.config.get("target_column")
    check_outputs(args, out)
    state = ck.state if ck is not None and ck.state is not None else None
    if state is not None and state.epoch >= s["epochs"]:
        print(f"{args.resume} has already trained {state.epoch} epochs; pass --epochs N to go on")
        return 0
    config = dict(s, data=str(data), dask=args.dask, target_column=args.target_column)
    with _cluster(args.dask):
        try:
            rows = outofcore.open_rows(data, args.target_column)
            if ck is not None and ck.n_features not in (None, rows.X.shape[1]):
                raise CliError(
                    f"--data has {rows.X.shape[1]} feature columns; {args.resume} was trained "
                    f"on {ck.n_features}"
                )
            if not args.quiet:
                print(_header(name, rows, s, args.dask))
                if state is not None and state.epoch:
                    print(f"resuming {args.resume} at epoch {state.epoch + 1}; writing {out}")
            fitted = outofcore.fit(module, rows)
            if s["optimizer"] == "lbfgs":
                return _dask_lbfgs(args, module, rows, fitted, ck, config, out)
            saver = _Saver(args, module, out, config, s["epochs"], fitted[0])
            with saver.catching_sigint():
                params, pre, state = outofcore.gradient_descent(
                    module, rows, epochs=s["epochs"], lr=s["lr"], seed=s["seed"],
                    chunks_per_step=s["chunks_per_step"],
                    params=ck.params if ck is not None else None, state=state, fitted=fitted,
                    callback=saver,
                )  # fmt: skip
        except (ValueError, OSError) as e:
            raise CliError(str(e)) from None
    if saver.interrupted:
        print(f"interrupted after epoch {state.epoch}: wrote {out} (continue with --resume {out})",
              file=sys.stderr)  # fmt: skip
        return 130
    if args.plot and len(state.history):
        from .progress import plot

        plot(args.plot, state.history, f"{name} on {data}")
    if not args.quiet:
        print(f"wrote {out} (loss {state.history.loss[-1]:.6g} after {state.epoch} epochs)")
    return 0


def _dask_lbfgs(args, module, rows, fitted, ck, config: dict, out: Path) -> int:
    """``--dask --optimizer lbfgs``: SciPy's L-BFGS from the start (or the --resume file's
    parameters) to the optimum, each gradient over all rows on the cluster; the parameter file
    written once, as ``train --optimizer lbfgs`` writes it."""
    from ..training import checkpoint, outofcore, scipy_opt
    from .common import CliError

    try:
        r, pre = outofcore.lbfgs(
            module, rows, fitted=fitted, params=ck.params if ck is not None else None,
            seed=config["seed"], l2_C=args.l2_C,
        )  # fmt: skip
    except scipy_opt.ScipyMissing as e:
        raise CliError(str(e)) from None
    if not args.quiet:
        penalty = f", C {args.l2_C:g}" if args.l2_C is not None else ""
        print(
            f"lbfgs (full batch{penalty}): {r.iterations} iterations, {r.evaluations} gradients; "
            f"objective {r.objective:.10g}, |gradient| {r.gradient_norm:.3g}"
            + ("" if r.success else f" ({r.message})")
        )
    config = dict(config, l2_C=args.l2_C)
    checkpoint.save(out, module, r.params, preprocessing=pre, config=config)
    if not args.quiet:
        print(f"wrote {out}")
    return 0


def _resumed(args, module):
    """The --resume file's checkpoint (None without --resume); a bad file is a CliError."""
    from ..training import checkpoint
    from .common import CliError

    if not args.resume:
        return None
    try:
        return checkpoint.load(args.resume, module)
    except (ValueError, OSError) as e:
        raise CliError(str(e)) from None


def _dask_settings(args, saved: dict) -> dict:
    """The flags, else the --resume file's settings, else ``DASK_DEFAULTS``; the in-memory
    path's options that mean nothing here are one-line errors."""
    from .common import CliError

    if getattr(args, "batch_size", None) is not None:
        raise CliError("--batch-size counts rows; with --dask a step reads --chunks-per-step K")
    for flag in ("schedule", "momentum", "validation", "early_stopping"):
        if getattr(args, flag, None) not in (None, 0, 0.0, "constant"):
            raise CliError(f"--{flag.replace('_', '-')} is not available with --dask")
    out = dict(DASK_DEFAULTS)
    out.update({k: saved[k] for k in DASK_DEFAULTS if k in saved})
    for k in DASK_DEFAULTS:
        if getattr(args, k, None) is not None:
            out[k] = getattr(args, k)
    if out["optimizer"] not in ("sgd", "lbfgs"):
        raise CliError(f"--optimizer {out['optimizer']} is not available with --dask (sgd, lbfgs)")
    if getattr(args, "l2_C", None) is not None and out["optimizer"] != "lbfgs":
        raise CliError("--l2-C is an option of the SciPy optimizers (--optimizer lbfgs)")
    if out["optimizer"] == "lbfgs" and out["chunks_per_step"] is not None:
        raise CliError("--chunks-per-step is a minibatch option; lbfgs is full batch")
    return out


def _header(name: str, rows, s: dict, spec: str) -> str:
    chunks = len(rows.X.chunks[0])
    what = f"{name} on {rows.X.shape[0]} rows in {chunks} chunks, {rows.X.shape[1]} features"
    if s["optimizer"] == "lbfgs":
        return f"{what}; lbfgs (SciPy, full batch) on dask {spec}"
    batch = (
        "full batch" if s["chunks_per_step"] is None else f"{s['chunks_per_step']} chunks a step"
    )
    return f"{what}; sgd, lr {s['lr']:g}, {batch}, {s['epochs']} epochs on dask {spec}"


class _Saver:
    """The epoch callback of a --dask run: the parameter file (atomically, with the state that
    --resume continues from), the --log CSV and the epoch line, as ``train``'s Reporter; after
    Ctrl-C it asks the run to stop once the current epoch is written."""

    interrupted = False

    def __init__(self, args, module, out: Path, config: dict, epochs: int, pre):
        self.args, self.module, self.out, self.config, self.epochs, self.pre = (
            args, module, out, config, epochs, pre,
        )  # fmt: skip

    def __call__(self, p) -> bool:
        from ..training import checkpoint
        from .progress import epoch_line, write_log

        checkpoint.save(
            self.out, self.module, p.params, state=p.state, preprocessing=self.pre,
            config=self.config,
        )  # fmt: skip
        if self.args.log:
            write_log(self.args.log, p.history)
        if not self.args.quiet:
            print(epoch_line(p.history, self.epochs), flush=True)
        return self.interrupted

    @contextlib.contextmanager
    def catching_sigint(self):
        """Ctrl-C sets ``interrupted`` instead of raising (in the main thread only)."""
        try:
            previous = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread: Ctrl-C cannot be caught here
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _on_sigint(self, signum, frame) -> None:
        self.interrupted = True


def _cluster(spec: str):
    """A Client of a LocalCluster (``local``, ``local:N`` worker processes) or of the scheduler
    at an address; closed when the run ends."""
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
