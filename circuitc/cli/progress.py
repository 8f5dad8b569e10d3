"""What ``circuitc train`` shows and writes while it runs: the progress bar, the epoch lines,
the per-epoch log, the loss/accuracy plot, and the callback (``Reporter``) that drives them."""

from __future__ import annotations

import csv
import io
import math
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
                    f"epoch {p.epoch} loss {loss_text(self.running)}", refresh=False
                )

    def _epoch(self, p) -> None:
        from ..training import checkpoint

        run = self.run
        checkpoint.save(
            self.out, self.module, p.params, state=p.state, data=run.dataset, config=run.config
        )
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
