"""What ``circuitc train`` shows and writes while it runs: the progress bar, the epoch lines,
the per-epoch log and the loss/accuracy plot."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np


def progress_bar(total: int, quiet: bool):
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


def epoch_line(h, epochs: int) -> str:
    i = len(h) - 1
    parts = [f"epoch {h.epoch[i]:>{len(str(epochs))}}/{epochs}", f"loss {loss_text(h.loss[i])}"]
    if h.train_accuracy[i] is not None:
        parts.append(f"train acc {h.train_accuracy[i]:.4f}")
    if h.test_accuracy[i] is not None:
        parts.append(f"test acc {h.test_accuracy[i]:.4f}")
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
