"""``circuitc train``: SGD over a circuit file (``cli/predict.py`` predicts with the result).

``circuitc train FILE`` compiles the circuit, loads the data (``--data``: a built-in name, a
``.csv`` or an ``.npz``; ``breast_cancer`` by default), trains, prints one line per epoch and
writes the parameters to ``--out`` after every epoch (atomically, so an interrupted or
diverging run leaves the last good epoch on disk). Settings come from the flags, else (with
``--resume``) from the parameter file, else from the circuit file's ``TRAIN = dict(...)``
(which may also name the default ``data``), else from ``DEFAULTS``. Ctrl-C stops after the
current step, writes that exact state and exits with status 130; ``--resume`` then continues
as if never interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import (
    add_data_arguments,
    check_writable,
    mentions,
    non_negative_int,
    one_circuit,
    positive_float,
    positive_int,
    starts_with,
    training_errors,
    unit_interval,
)
from .device import add_device, dask_train
from .progress import Reporter, data_notes, final_lines, header_line, plot
from .scipy_train import SCIPY_OPTIMIZERS, add_optimizer, check_l2, train_scipy

#: settings when neither the flags, the parameter file nor the circuit file's TRAIN give one
DEFAULTS = dict(
    epochs=20,
    lr=0.1,
    batch_size=1,
    optimizer="sgd",
    schedule="constant",
    momentum=0.0,
    seed=0,
    standardize=True,
    validation=0.0,
    early_stopping=None,
)


def add_train(p: argparse.ArgumentParser) -> None:
    add_data_arguments(p, "the circuit file's TRAIN data, else breast_cancer")
    add_device(p)
    p.add_argument(
        "--epochs",
        type=positive_int,
        help=f"total passes over the train part (default {DEFAULTS['epochs']})",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        help=f"step size η, the schedule's start (default {DEFAULTS['lr']})",
    )
    p.add_argument(
        "--batch-size", type=positive_int, help="instances per step (default 1: per-instance)"
    )
    add_optimizer(p)  # --optimizer (SGD's rules and SciPy's) and --l2-C
    p.add_argument(
        "--schedule",
        choices=("constant", "1/t", "step", "cosine"),
        help="how the step size changes over the run (default constant)",
    )
    p.add_argument("--momentum", type=unit_interval, help="SGD momentum in [0, 1) (default 0)")
    p.add_argument(
        "--seed",
        type=non_negative_int,
        help="seeds the split, initialisation and order (an integer >= 0; default 0)",
    )
    p.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        help="scale every feature column that is not constant to mean 0 and standard deviation 1, "
        "fitted on the train rows; a constant column (a bias input x0 = 1) is kept as it is "
        "(default: --standardize)",
    )
    p.add_argument(
        "--validation",
        type=unit_interval,
        metavar="FRACTION",
        help="hold out this fraction of the train rows to report a validation loss (default 0)",
    )
    p.add_argument(
        "--early-stopping",
        type=positive_int,
        metavar="EPOCHS",
        help="stop when the validation loss has not improved for this many epochs and keep the "
        "best epoch's parameters (holds out --validation 0.1 unless given)",
    )
    p.add_argument(
        "--missing",
        choices=("error", "drop"),
        default="error",
        help="a CSV row with a missing cell (empty, NA, NaN, ?): an error naming it (default) or "
        "left out",
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        help="parameter file to write (default: the --resume file, else <circuit name>.npz)",
    )
    p.add_argument(
        "--resume", metavar="PATH", help="continue from this parameter file (and write it)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="let --out, --log and --plot replace files circuitc did not write",
    )
    p.add_argument("--log", metavar="CSV", help="write the per-epoch metrics to this CSV")
    p.add_argument("--plot", metavar="PNG", help="draw the loss and accuracy curves (matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no epoch lines")
    p.epilog = "A circuit file's TRAIN = dict(...) changes the defaults; the flags win."


def _compile(circuit, args):
    from .device import compile_for  # --backend array-api: the module of --array-lib

    return compile_for(circuit, args)


def _settings(args, file_train: dict, saved: dict) -> dict:
    """Flags, else the parameter file's settings, else the circuit file's TRAIN, else DEFAULTS."""
    from .common import CliError

    if not isinstance(file_train, dict):
        raise CliError(f"{args.file}: TRAIN must be a dict, e.g. TRAIN = dict(epochs=30, lr=0.5)")
    unknown = sorted(set(file_train) - set(DEFAULTS))
    if unknown:
        raise CliError(f"{args.file}: TRAIN has an unknown setting {unknown[0]!r}")
    out = dict(DEFAULTS)
    out.update(file_train)
    out.update({k: v for k, v in saved.items() if k in DEFAULTS})
    for k in DEFAULTS:
        flag = getattr(args, k, None)
        if flag is not None:
            out[k] = flag
    return out


def cmd_train(args: argparse.Namespace) -> int:
    """Train a circuit's parameters with SGD on a data set and write them to an .npz."""
    CliError, bad_input = training_errors()
    from ..training import sgd

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CliError("--plot needs matplotlib: pip install 'circuitc[plot]'") from None
    namespace: dict = {}
    circuit = one_circuit(args, namespace)
    module = _compile(circuit, args)
    if args.dask:  # out of core, on a cluster
        return dask_train(args, circuit.name, module, _check_outputs)
    # resuming goes on writing the file it resumed from, unless --out says otherwise
    out = Path(args.out or args.resume or f"{circuit.name}.npz")
    _check_outputs(args, out)
    run = _prepare(args, namespace, module)
    if not _announce(args, circuit, run, out):
        return 0
    reporter = Reporter(args, module, run, out)
    try:
        params, history = _train(module, run, reporter)
    except sgd.TrainingDiverged as e:
        reporter.close()
        state = run.state
        kept = f"; {out} keeps epoch {state.epoch}" if out.exists() and state.epoch else ""
        print(f"circuitc: error: {e}{kept}", file=sys.stderr)
        return 1
    except bad_input as e:
        raise CliError(str(e)) from None
    except OSError as e:  # the disk filled up, or the folder went away, during training
        raise CliError(f"cannot write {e.filename or out}: {e.strerror or e}") from None
    finally:
        reporter.close()
    if reporter.interrupted:
        return _interrupted(module, run, params, out)
    _finish(args, circuit, module, params, run, history, out)
    return 0


def _check_outputs(args, out: Path) -> None:
    """Every file train will write can be written, and --out is not a file circuitc did not
    write (nor the circuit file), before any work."""
    from ..loader import check_target
    from ..training import checkpoint

    read = [args.file, args.data]
    own = {"--log": starts_with(b"epoch,"), "--plot": mentions(b"Software\x00circuitc")}
    for path, flag in ((out, "--out"), (args.log, "--log"), (args.plot, "--plot")):
        if path:
            # --out may be the --resume file (it goes on writing it); the others may not;
            # --out's own test (a parameter file) is check_target's below
            check_writable(
                path,
                flag,
                read + ([] if flag == "--out" else [args.resume]),
                force=args.force or flag == "--out",
                ours=own.get(flag),
            )
    check_target(out, checkpoint.is_parameter_file, force=args.force, reading=[args.file])


@dataclass
class _Run:
    """What a training run starts from: its settings, data, parameters and optimizer state."""

    settings: dict
    dataset: Any
    binding: Any
    params: dict
    state: Any
    config: dict  # what the parameter file records: the settings, the data and its target
    resume: str | None
    raw: Any = None  # the rows as read (data.RawData)
    pre: Any = None  # the fitted preprocessing saved with the parameters


def _prepare(args, namespace: dict, module) -> _Run:
    """The run's settings (flags, the resumed file, the circuit file's TRAIN, DEFAULTS), its
    data set, starting parameters and optimizer state; bad input is a one-line CliError."""
    CliError, bad_input = training_errors()
    from ..training import checkpoint, data, sgd

    file_train = namespace.get("TRAIN", {})
    file_data = None
    if isinstance(file_train, dict) and "data" in file_train:
        file_train = dict(file_train)
        file_data = file_train.pop("data")
    try:
        ck = checkpoint.load(args.resume, module) if args.resume else None
        saved = ck.config if ck is not None else {}
        s = _settings(args, file_train, saved)
        check_l2(args, s)
        config = _config(args, s, saved, file_data or data.DEFAULT)
        raw = data.raw(
            config["data"],
            config["target_column"],
            encoding=config["encoding"],
            delimiter=config["delimiter"],
            decimal=config["decimal"],
            missing=args.missing,
        )
        if ck is None:
            raw = sgd.align(module, raw)
        else:
            names = ck.feature_names if ck.named and ck.feature_names else None
            raw = data.in_trained_order(raw, names, ck.n_features)
        dataset = data.split(
            raw, seed=s["seed"], standardize=s["standardize"], validation=config["validation"]
        )
        if ck is not None:
            checkpoint.check_data(ck, dataset, args.resume)
        binding = sgd.bind(module, dataset)
        params = ck.params if ck is not None else sgd.init(module, s["seed"], dataset)
        params = sgd.check_params(module, params, dataset)
    except bad_input as e:
        raise CliError(str(e)) from None
    state = ck.state if ck is not None and ck.state is not None else sgd.State()
    if state.optimizer is not None and state.optimizer.kind != s["optimizer"]:
        raise CliError(
            f"{args.resume} was trained with {state.optimizer.kind}; "
            f"it cannot continue with --optimizer {s['optimizer']}"
        )
    pre = dataset.preprocessing(binding)
    return _Run(s, dataset, binding, params, state, config, args.resume, raw, pre)


def _config(args, s: dict, saved: dict, default_data) -> dict:
    """What the parameter file records: the settings and where the data came from."""
    return dict(
        s,
        data=str(args.data or saved.get("data") or default_data),
        target_column=args.target_column or saved.get("target_column"),
        encoding=args.encoding or saved.get("encoding"),
        delimiter=args.delimiter or saved.get("delimiter"),
        decimal=args.decimal or saved.get("decimal") or ".",
        validation=s["validation"] or (0.1 if s["early_stopping"] else 0.0),
    )


def _announce(args, circuit, run: _Run, out: Path) -> bool:
    """The run's first lines (what trains on what, how); False when the resumed file has
    already trained the epochs asked for (nothing to do)."""
    s, dataset, state = run.settings, run.dataset, run.state
    epochs = s["epochs"]
    if not args.quiet:
        print(header_line(circuit.name, dataset, run.binding, s))
        for note in data_notes(dataset, run.raw):
            print(note)
    if state.history.stopped == "early_stopping":
        print(
            f"{args.resume} stopped early at epoch {state.epoch} (best epoch "
            f"{state.history.best_epoch}); train again without --resume to go on"
        )
        return False
    if state.epoch >= epochs:
        print(f"{args.resume} has already trained {state.epoch} epochs; pass --epochs N to go on")
        return False
    if not args.quiet and (state.epoch or state.step):
        print(
            f"resuming {args.resume} at epoch {state.epoch + 1}, step {state.step + 1}; "
            f"writing {out}"
        )
    return True


def _train(module, run: _Run, reporter: Reporter):
    """``sgd.train`` with Ctrl-C caught by the reporter (the loop stops after the step)."""
    from .device import trainer  # sgd.train, or device.train on --array-lib

    s = run.settings
    if s["optimizer"] in SCIPY_OPTIMIZERS:
        return train_scipy(module, run, reporter)
    installed = True
    try:
        previous = signal.signal(signal.SIGINT, reporter.on_sigint)
    except ValueError:  # not the main thread: Ctrl-C cannot be caught here
        installed = False
    try:
        return trainer(reporter.args)(
            module,
            run.dataset,
            params=run.params,
            epochs=s["epochs"],
            lr=s["lr"],
            batch_size=s["batch_size"],
            seed=s["seed"],
            schedule=None if s["schedule"] == "constant" else s["schedule"],
            momentum=s["momentum"],
            optimizer=s["optimizer"],
            callback=reporter,
            state=run.state,
            early_stopping=s["early_stopping"],
        )
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)


def _interrupted(module, run: _Run, params, out: Path) -> int:
    """After Ctrl-C: the exact state written, and how to go on (exit status 130)."""
    from ..training import checkpoint

    state = run.state
    checkpoint.save(
        out, module, params, state=state, preprocessing=run.pre, data=run.dataset,
        config=run.config,
    )  # fmt: skip
    print(
        f"interrupted at epoch {state.epoch + 1}, step {state.step}: wrote {out} "
        f"(continue with --resume {out})",
        file=sys.stderr,
    )
    return 130


def _finish(args, circuit, module, params, run: _Run, history, out: Path) -> None:
    """The plot, where early stopping stopped, the held-out score and where the parameters are."""
    if args.plot and len(history):
        plot(args.plot, history, f"{circuit.name} on {run.dataset.name}")
    if not args.quiet:
        for line in final_lines(module, run.binding, params, run.dataset, history):
            print(line)
        print(f"wrote {out}")
