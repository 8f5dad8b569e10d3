"""What a training run records and resumes from: the per-epoch ``History``, the resumable
``State`` and the ``Progress`` a callback receives."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class History:
    """Per epoch: losses (mean J), accuracies or RMSEs, and the step size.

    ``loss`` is the train part's mean J after the epoch; ``test_loss``/``val_loss`` the test and
    validation parts' (``None`` for an empty part). Accuracies are ``None`` when the circuit has
    no ``predict`` or does regression; RMSEs (root mean squared error of ``predict``) only for
    regression. ``stopped`` is ``None`` after a full run, ``"callback"`` when a callback asked
    to stop, ``"early_stopping"`` when the validation loss stopped improving (``best_epoch``).
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float | None] = field(default_factory=list)
    test_accuracy: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    train_rmse: list[float | None] = field(default_factory=list)
    test_rmse: list[float | None] = field(default_factory=list)
    stopped: str | None = None
    best_epoch: int | None = None

    FIELDS = (
        "epoch",
        "loss",
        "train_accuracy",
        "test_accuracy",
        "lr",
        "test_loss",
        "val_loss",
        "val_accuracy",
        "train_rmse",
        "test_rmse",
    )

    def __getitem__(self, key: str) -> list:
        if key not in self.FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __len__(self) -> int:
        return len(self.epoch)

    def rows(self) -> list[dict]:
        """One dict per epoch, keyed by ``FIELDS``."""
        return [{k: getattr(self, k)[i] for k in self.FIELDS} for i in range(len(self))]

    def append(self, **row) -> None:
        """Add one epoch's values (a field not given is ``None``)."""
        for k in self.FIELDS:
            getattr(self, k).append(row.get(k))


@dataclass
class State:
    """Where a run is: the next ``(epoch, step)`` (0-based), the optimizer and the history.

    ``train(..., state=s)`` continues from ``s`` and keeps it up to date, so a caller can save
    it at any step (``circuitc.training.checkpoint.save``) and a resumed run equals an
    uninterrupted one. With early stopping, ``best`` holds the parameters of the epoch with the
    lowest validation loss so far (``best_loss``, ``history.best_epoch``).
    """

    epoch: int = 0
    step: int = 0
    optimizer: Any = None  # an sgd.Optimizer
    history: History = field(default_factory=History)
    best: dict | None = None
    best_loss: float = math.inf


@dataclass
class Progress:
    """What ``callback`` receives after every step (``kind="step"``) and epoch (``"epoch"``)."""

    kind: str
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps_per_epoch: int
    loss: float  # the batch's loss, or the epoch's train loss
    lr: float
    params: dict
    state: State
    history: History
