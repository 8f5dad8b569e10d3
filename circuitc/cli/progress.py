"""What ``circuitc train`` shows and writes while it runs: the progress bar, the epoch lines,
the per-epoch log, the loss/accuracy plot, and the callback (``Reporter``) that drives them."""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

import numpy as np

from .scipy_train import SCIPY_OPTIMIZERS


def progress_bar(total: int, quiet: bool):
    """A tqdm bar on stderr (when tqdm is installed and stderr is a terminal), else None."""
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="step", leave=False, disable=None, file=sys.stderr)


def number_text(value: float) -> str:
    """A metric for an epoch line: 4 decimals, or 4 significant digits with an exponent when
    it is large or tiny (a diverging loss of 1e165 prints as 1.0000e+165, not 166 digits)."""
    if value != 0 and not 1e-3 <= abs(value) < 1e5:
        return f"{value:.4e}"
    return f"{value:.4f}"


#: the epoch line's columns: (History field, label), each shown when it has a value
_COLUMNS = (
    ("loss", "loss"),
    ("test_loss", "test loss"),
    ("val_loss", "val loss"),
    ("train_accuracy", "train acc"),
    ("test_accuracy", "test acc"),
    ("val_accuracy", "val acc"),
    ("train_rmse", "train rmse"),
    ("test_rmse", "test rmse"),
)


def epoch_line(h, epochs: int) -> str:
    i = len(h) - 1
    parts = [f"epoch {h.epoch[i]:>{len(str(epochs))}}/{epochs}"]
    for key, label in _COLUMNS:
        value = h[key][i]
        if value is not None:
            parts.append(f"{label} {number_text(value)}")
    return "  ".join(parts)


def write_log(path: str, history) -> None:
    from ..loader import write_atomic

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(history.FIELDS)
    for row in history.rows():
        w.writerow(["" if row[k] is None else repr(row[k]) for k in history.FIELDS])
    write_atomic(path, buf.getvalue())


def plot(path: str, history, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    _curves(ax1, history, (("loss", "train"), ("test_loss", "test"), ("val_loss", "validation")))
    ax1.set_ylabel("loss")
    if any(v is not None for v in history.train_rmse):  # regression: the RMSE
        _curves(ax2, history, (("train_rmse", "train"), ("test_rmse", "test")))
        ax2.set_ylabel("RMSE")
    else:
        keys = (
            ("train_accuracy", "train"),
            ("test_accuracy", "test"),
            ("val_accuracy", "validation"),
        )
        _curves(ax2, history, keys)
        ax2.set_ylabel("accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    fig.savefig(tmp, dpi=100, metadata={"Software": "circuitc"})  # the mark --plot checks
    plt.close(fig)
    tmp.replace(path)


def _curves(ax, history, keys) -> None:
    """One line per History field that has values, labelled, over the epochs."""
    for key, label in keys:
        values = history[key]
        if any(v is not None for v in values):
            ax.plot(history.epoch, [np.nan if v is None else v for v in values], ".-", label=label)
    ax.set_xlabel("epoch")
    if ax.get_lines():
        ax.legend()


class Reporter:
    """The training callback: the progress bar with a running loss, and at each epoch's end
    the parameter file, the log and the epoch line; it asks the loop to stop after Ctrl-C."""

    def __init__(self, args, module, run, out: Path):
        """``run`` is train's ``_Run``: settings, data set, state and the config to save."""
        self.args, self.module, self.run, self.out = args, module, run, out
        n = run.dataset.X_train.shape[0]
        steps_per_epoch = -(-n // run.settings["batch_size"])
        todo = (run.settings["epochs"] - run.state.epoch) * steps_per_epoch - run.state.step
        self.bar = progress_bar(todo, args.quiet)
        self.running = math.nan  # the running (exponentially averaged) step loss
        self.interrupted = False

    def __call__(self, p) -> bool:
        if p.kind == "step":
            self._step(p)
        else:
            self._epoch(p)
        return self.interrupted

    def _step(self, p) -> None:
        r = self.running
        self.running = p.loss if r != r else 0.98 * r + 0.02 * p.loss
        if self.bar is not None:
            self.bar.update(1)
            if p.step % 20 == 0 or p.step == p.steps_per_epoch:
                self.bar.set_postfix_str(
                    f"epoch {p.epoch} loss {number_text(self.running)}", refresh=False
                )

    def _epoch(self, p) -> None:
        from ..training import checkpoint

        run = self.run
        checkpoint.save(
            self.out, self.module, p.params, state=p.state, preprocessing=run.pre,
            data=run.dataset, config=run.config,
        )  # fmt: skip
        if self.args.log:
            write_log(self.args.log, p.history)
        if not self.args.quiet:
            line = epoch_line(p.history, run.settings["epochs"])
            if self.bar is not None:
                self.bar.write(line)
            else:
                print(line, flush=True)

    def on_sigint(self, signum, frame) -> None:
        self.interrupted = True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def header_line(name: str, dataset, binding, s: dict) -> str:
    n_val = dataset.X_val.shape[0]
    rows = f"{dataset.X_train.shape[0]} train / " + (f"{n_val} validation / " if n_val else "")
    rows += f"{dataset.X_test.shape[0]} test rows"
    if s["optimizer"] in SCIPY_OPTIMIZERS:
        how = f"{s['optimizer']} (SciPy, full batch)"
    else:
        how = (
            f"{s['optimizer']}, lr {s['lr']:g}"
            + (f" ({s['schedule']})" if s["schedule"] != "constant" else "")
            + (f", momentum {s['momentum']:g}" if s["momentum"] else "")
            + f", batch {s['batch_size']}, {s['epochs']} epochs"
        )
    return (
        f"{name} on {dataset.name}: {rows}, "
        f"{dataset.n_features} features ({binding.task or 'loss only'}); {how}"
    )


def data_notes(dataset, raw) -> list[str]:
    """What was done to the data that a user should know (a line each)."""
    notes = []
    if raw.feature_names is None and Path(str(raw.name)).suffix.lower() in (".csv", ".tsv", ".txt"):
        notes.append(
            f"{raw.name} has no header (its first row is numbers): columns are taken by "
            "position, the target is the last unless --target-column names 'column N'"
        )
    if raw.dropped:
        shown = ", ".join(str(n) for n in raw.dropped[:5]) + (", …" if len(raw.dropped) > 5 else "")
        rows = "row" if len(raw.dropped) == 1 else "rows"
        notes.append(f"dropped {len(raw.dropped)} {rows} with a missing value (lines {shown})")
    if dataset.classes is not None:
        labels = ", ".join(f"{k} = {c}" for k, c in enumerate(dataset.classes[:10]))
        notes.append(f"labels: {labels}" + (", …" if len(dataset.classes) > 10 else ""))
    kept = np.flatnonzero((dataset.mean == 0) & (dataset.scale == 1))
    if 0 < kept.size < dataset.n_features and not np.all(dataset.scale == 1):
        names = dataset.column_names
        cols = ", ".join(names[j] for j in kept[:5]) + (", …" if kept.size > 5 else "")
        notes.append(f"not standardised (constant on the train rows): {cols}")
    return notes


def final_lines(module, binding, params, dataset, history) -> list[str]:
    """Where early stopping stopped, and the held-out test rows' score."""
    lines = []
    if history.stopped == "early_stopping":
        lines.append(
            f"early stopping at epoch {len(history)}: validation loss best at epoch "
            f"{history.best_epoch} (its parameters kept)"
        )
    score = _final_line(module, binding, params, dataset)
    return lines + ([score] if score else [])


def _final_line(module, binding, params, dataset) -> str | None:
    """The held-out test rows' accuracy (a classifier) or R² and RMSE (regression)."""
    from ..training import sgd

    rows = dataset.X_test.shape[0]
    if rows == 0 or binding.task is None:
        return None
    X, Y = binding.encode(dataset.X_test, dataset.y_test)
    with np.errstate(all="ignore"):
        pred = sgd.predictions(module, binding, params, X)
    if binding.task == "regression":
        y = np.asarray(Y).reshape(pred.shape)
        r2, err = sgd.r2(y, pred), sgd.rmse(y, pred)
        return f"test R² {r2:.4f}, RMSE {number_text(err)} ({rows} rows)"
    acc = float(np.mean(sgd.classify(binding, pred) == dataset.y_test))
    return f"test accuracy {acc:.4f} ({rows} rows)"
