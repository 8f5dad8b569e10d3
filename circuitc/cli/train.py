"""``circuitc train`` and ``circuitc predict``: SGD over a circuit file, and its predictions.

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
import csv
import io
import math
import signal
import sys
from pathlib import Path

import numpy as np

from .common import non_negative_int, unit_interval

#: settings when neither the flags, the parameter file nor the circuit file's TRAIN give one
DEFAULTS = dict(
    epochs=20,
    lr=0.1,
    batch_size=1,
    optimizer="sgd",
    schedule="constant",
    momentum=0.0,
    seed=0,
)


def _errors():
    from ..training.checkpoint import CheckpointError
    from ..training.data import DataError
    from .common import CliError

    return CliError, (DataError, CheckpointError)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _add_common(p: argparse.ArgumentParser, data_default: str) -> None:
    p.add_argument("file", metavar="FILE", help="a Python file defining circuit or circuits")
    p.add_argument("--circuit", metavar="NAME", help="the circuit of this name (if several)")
    p.add_argument(
        "--data",
        metavar="NAME|PATH",
        help="breast_cancer, digits, iris, a .csv with a header row, or an .npz "
        f"(default: {data_default})",
    )
    p.add_argument("--target-column", metavar="COL", help="the CSV column holding the target")


def add_train(p: argparse.ArgumentParser) -> None:
    _add_common(p, "the circuit file's TRAIN data, else breast_cancer")
    p.add_argument(
        "--epochs",
        type=_positive_int,
        help=f"total passes over the train part (default {DEFAULTS['epochs']})",
    )
    p.add_argument(
        "--lr",
        type=_positive_float,
        help=f"step size η, the schedule's start (default {DEFAULTS['lr']})",
    )
    p.add_argument(
        "--batch-size", type=_positive_int, help="instances per step (default 1: per-instance)"
    )
    p.add_argument("--optimizer", choices=("sgd", "adam"), help="update rule (default sgd)")
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
        help="let --out replace a file that is not a circuitc parameter file",
    )
    p.add_argument("--log", metavar="CSV", help="write the per-epoch metrics to this CSV")
    p.add_argument("--plot", metavar="PNG", help="draw the loss and accuracy curves (matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no epoch lines")
    p.epilog = "A circuit file's TRAIN = dict(...) changes the defaults; the flags win."


def add_predict(p: argparse.ArgumentParser) -> None:
    _add_common(p, "the data the parameters were trained on")
    p.add_argument("--params", metavar="PATH", required=True, help="a file written by train")
    p.add_argument("-o", "--out", metavar="CSV", help="write the predictions here (default stdout)")


def _one_circuit(args, keep: dict):
    from .common import CliError, load_circuits

    circuits = load_circuits(args.file, args.circuit, keep)
    if len(circuits) > 1:
        names = ", ".join(c.name for c in circuits)
        raise CliError(f"{args.file} defines several circuits ({names}); pick one with --circuit")
    return circuits[0]


def _compile(circuit):
    from ..api import compile as compile_circuit

    return compile_circuit(circuit)


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


def _check_writable(path, flag: str) -> None:
    """Refuse an output path that cannot be written, before any work (CliError)."""
    import os
    import tempfile

    from .common import CliError

    p = Path(path)
    if p.is_dir():
        raise CliError(f"{flag} {path}: is a folder; give a file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        os.close(fd)
        os.unlink(tmp)
    except FileExistsError as e:  # a file stands where a folder of the path should be
        raise CliError(f"{flag} {path}: {e.filename} is a file, not a folder") from None
    except OSError as e:
        raise CliError(f"{flag} {path}: cannot write there ({e.strerror or e})") from None


def _progress_bar(total: int, quiet: bool):
    """A tqdm bar on stderr (when tqdm is installed and stderr is a terminal), else None."""
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="step", leave=False, disable=None, file=sys.stderr)


def loss_text(loss: float) -> str:
    """A loss as the epoch lines show it: 4 decimals, or 4 significant digits in scientific
    notation once it is large (a diverging loss of 5e159 is not printed as 165 digits)."""
    return f"{loss:.4f}" if abs(loss) < 1e6 else f"{loss:.4e}"


def _epoch_line(h, epochs: int) -> str:
    i = len(h) - 1
    parts = [f"epoch {h.epoch[i]:>{len(str(epochs))}}/{epochs}", f"loss {loss_text(h.loss[i])}"]
    if h.train_accuracy[i] is not None:
        parts.append(f"train acc {h.train_accuracy[i]:.4f}")
    if h.test_accuracy[i] is not None:
        parts.append(f"test acc {h.test_accuracy[i]:.4f}")
    return "  ".join(parts)


def _write_log(path: str, history) -> None:
    from ..loader import write_atomic

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(history.FIELDS)
    for row in history.rows():
        w.writerow(["" if row[k] is None else repr(row[k]) for k in history.FIELDS])
    write_atomic(path, buf.getvalue())


def _plot(path: str, history, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(history.epoch, history.loss, marker=".")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("train loss")
    for key, label in (("train_accuracy", "train"), ("test_accuracy", "test")):
        values = getattr(history, key)
        if any(v is not None for v in values):
            ax2.plot(
                history.epoch, [np.nan if v is None else v for v in values], marker=".", label=label
            )
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def cmd_train(args: argparse.Namespace) -> int:
    """Train a circuit's parameters with SGD on a data set and write them to an .npz."""
    CliError, bad_input = _errors()
    from ..training import checkpoint, data, sgd

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CliError("--plot needs matplotlib: pip install 'circuitc[plot]'") from None
    namespace: dict = {}
    circuit = _one_circuit(args, namespace)
    module = _compile(circuit)
    # resuming goes on writing the file it resumed from, unless --out says otherwise
    out = Path(args.out or args.resume or f"{circuit.name}.npz")
    for path, flag in ((out, "--out"), (args.log, "--log"), (args.plot, "--plot")):
        if path:
            _check_writable(path, flag)
    from ..loader import check_target

    check_target(out, checkpoint.is_parameter_file, force=args.force, reading=[args.file])
    file_train = namespace.get("TRAIN", {})
    file_data = None
    if isinstance(file_train, dict) and "data" in file_train:
        file_train = dict(file_train)
        file_data = file_train.pop("data")
    try:
        ck = checkpoint.load(args.resume, module) if args.resume else None
        saved = ck.config if ck is not None else {}
        s = _settings(args, file_train, saved)
        source = args.data or saved.get("data") or file_data or data.DEFAULT
        target_column = args.target_column or saved.get("target_column")
        dataset = data.load(source, target_column=target_column, seed=s["seed"])
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
    config = dict(s, data=str(source), target_column=target_column)
    n = dataset.X_train.shape[0]
    steps_per_epoch = -(-n // s["batch_size"])
    epochs = s["epochs"]
    quiet = args.quiet
    if not quiet:
        task = binding.task or "loss only"
        print(
            f"{circuit.name} on {dataset.name}: {n} train / {dataset.X_test.shape[0]} test rows, "
            f"{dataset.n_features} features ({task}); {s['optimizer']}, lr {s['lr']:g}"
            + (f" ({s['schedule']})" if s["schedule"] != "constant" else "")
            + (f", momentum {s['momentum']:g}" if s["momentum"] else "")
            + f", batch {s['batch_size']}, {epochs} epochs"
        )
    if state.epoch >= epochs:
        print(f"{args.resume} has already trained {state.epoch} epochs; pass --epochs N to go on")
        return 0
    if not quiet and (state.epoch or state.step):
        print(
            f"resuming {args.resume} at epoch {state.epoch + 1}, step {state.step + 1}; "
            f"writing {out}"
        )

    interrupted = []
    bar = _progress_bar((epochs - state.epoch) * steps_per_epoch - state.step, quiet)
    running = [math.nan]

    def on_progress(p) -> bool:
        if p.kind == "step":
            r = running[0]
            running[0] = p.loss if r != r else 0.98 * r + 0.02 * p.loss
            if bar is not None:
                bar.update(1)
                if p.step % 20 == 0 or p.step == p.steps_per_epoch:
                    bar.set_postfix_str(
                        f"epoch {p.epoch} loss {loss_text(running[0])}", refresh=False
                    )
        else:
            checkpoint.save(out, module, p.params, state=p.state, data=dataset, config=config)
            if args.log:
                _write_log(args.log, p.history)
            if not quiet:
                line = _epoch_line(p.history, epochs)
                if bar is not None:
                    bar.write(line)
                else:
                    print(line, flush=True)
        return bool(interrupted)

    def on_sigint(signum, frame):
        interrupted.append(True)

    installed = True
    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: Ctrl-C cannot be caught here
        installed = False
    try:
        params, history = sgd.train(
            module,
            dataset,
            params=params,
            epochs=epochs,
            lr=s["lr"],
            batch_size=s["batch_size"],
            seed=s["seed"],
            schedule=None if s["schedule"] == "constant" else s["schedule"],
            momentum=s["momentum"],
            optimizer=s["optimizer"],
            callback=on_progress,
            state=state,
        )
    except sgd.TrainingDiverged as e:
        if bar is not None:
            bar.close()
        kept = f"; {out} keeps epoch {state.epoch}" if out.exists() and state.epoch else ""
        print(f"circuitc: error: {e}{kept}", file=sys.stderr)
        return 1
    except bad_input as e:
        raise CliError(str(e)) from None
    except OSError as e:  # the disk filled up, or the folder went away, during training
        raise CliError(f"cannot write {e.filename or out}: {e.strerror or e}") from None
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    if interrupted:
        checkpoint.save(out, module, params, state=state, data=dataset, config=config)
        print(
            f"interrupted at epoch {state.epoch + 1}, step {state.step}: wrote {out} "
            f"(continue with --resume {out})",
            file=sys.stderr,
        )
        return 130
    if args.plot and len(history):
        _plot(args.plot, history, f"{circuit.name} on {dataset.name}")
    if not quiet:
        final = history.test_accuracy[-1] if len(history) else None
        if final is not None:
            print(f"test accuracy {final:.4f} ({dataset.X_test.shape[0]} rows)")
        print(f"wrote {out}")
    return 0


def _predict_data(args, ck, module):
    """(raw features, labels or None, name) for predict: every row of the data, no split."""
    from ..training import data

    source = args.data or ck.config.get("data") or data.DEFAULT
    target_column = args.target_column or ck.config.get("target_column")
    text = str(source)
    if text.lower().endswith((".csv", ".txt")) and ck.n_features is not None:
        with open(text, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
        if len(header) == ck.n_features and target_column is None:
            # features only: no target column to drop
            X, _, _, _ = data.read_csv(text, has_target=False)
            return X, None, Path(text).name
        if target_column is None and ck.target_name in [h.strip() for h in header]:
            target_column = ck.target_name
    X, y, _, _ = data.raw(source, target_column)
    return X, y, Path(text).name if text not in data.BUILTIN else text


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict with trained parameters: one CSV row per data row (and the accuracy, if labelled)."""
    CliError, bad_input = _errors()
    from ..loader import write_atomic
    from ..training import checkpoint, data, sgd

    circuit = _one_circuit(args, {})
    module = _compile(circuit)
    if not hasattr(module, "predict"):
        raise CliError(f"circuit {circuit.name!r} has no prediction= to predict with")
    if args.out:
        _check_writable(args.out, "-o")
    try:
        ck = checkpoint.load(args.params, module)
        X, y, name = _predict_data(args, ck, module)
        X = data.check_features(X, name)
        if ck.n_features is not None and X.shape[1] != ck.n_features:
            raise data.DataError(
                f"{name} has {X.shape[1]} feature columns; {args.params} was trained on "
                f"{ck.n_features}"
            )
        if ck.mean is not None:
            X = (X - ck.mean) / ck.scale
        labels = np.zeros(X.shape[0]) if y is None else np.asarray(y, dtype=np.float64)
        if y is not None:
            data.check_features(labels, name)
        ds = data.Dataset(name, X, labels, X[:0], labels[:0], target_name=ck.target_name)
        binding = sgd.bind(module, ds)
        params = sgd.check_params(module, ck.params, ds)
        Xe, _ = binding.encode(X, None)
        probs = sgd.predictions(module, binding, params, Xe)
    except bad_input as e:
        raise CliError(str(e)) from None
    except OSError as e:  # the data file is missing or unreadable
        raise CliError(f"cannot read {e.filename or 'the data'}: {e.strerror or e}") from None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if binding.task in ("binary", "multiclass"):
        classes = sgd.classify(binding, probs).astype(int)
        if binding.task == "binary":
            w.writerow(["prediction", "probability"])
            rows = ([int(c), repr(float(p))] for c, p in zip(classes, probs[:, 0], strict=True))
        else:
            w.writerow(["prediction"] + [f"p_{k}" for k in range(probs.shape[1])])
            rows = (
                [int(c)] + [repr(float(v)) for v in row]
                for c, row in zip(classes, probs, strict=True)
            )
    else:
        classes = None
        w.writerow(
            ["prediction"]
            if probs.shape[1] == 1
            else [f"prediction_{k}" for k in range(probs.shape[1])]
        )
        rows = ([repr(float(v)) for v in row] for row in probs)
    w.writerows(rows)
    if args.out:
        write_atomic(args.out, buf.getvalue())
        print(f"wrote {args.out} ({X.shape[0]} rows)")
    else:
        sys.stdout.write(buf.getvalue())
    if y is not None and classes is not None:
        acc = float(np.mean(classes == labels))
        print(
            f"accuracy {acc:.4f} on {X.shape[0]} rows of {name}",
            file=sys.stderr if not args.out else sys.stdout,
        )
    return 0
