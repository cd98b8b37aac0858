"""Training speed per epoch: wall time, sequences and tokens per second."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
from torch import Tensor

from rnnlab.callbacks.writers import log_straight
from rnnlab.data.batches import IGNORE


def batch_counts(batch: dict[str, Tensor] | list[dict[str, Tensor]]) -> tuple[int, Tensor | int]:
    """(sequences, tokens) of one batch, or of a step's group of batches, from shapes and masks only (no device
    sync). Tokens are the time steps the recurrent layers read, padding excluded: the input's steps (``lengths``
    where padded; a classifier's or the language model's ``input``), or for a generator the source's symbols
    (``source_lengths``; an image counts none) plus the decoder's valid target positions."""
    if isinstance(batch, list):
        counts = [batch_counts(one) for one in batch]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)
    if "source" in batch:  # captioning, translation
        tokens = (batch["target"] != IGNORE).sum()
        if (lengths := batch.get("source_lengths")) is not None:
            tokens = tokens + lengths.sum()
        return len(batch["source"]), tokens
    x = batch["input"]
    if (lengths := batch.get("lengths")) is not None:
        return len(x), lengths.sum()
    return len(x), x.shape[0] * x.shape[1]


class Throughput(L.Callback):
    """Logs, after every training epoch, ``train/epoch_time_s`` (from the epoch's start to its last batch, any
    validation inside it excluded), ``train/sequences_per_s`` and ``train/tokens_per_s`` (see
    :func:`batch_counts`). Counts accumulate on the device; the one sync is at the epoch's end. Written to the
    loggers only, not to ``metrics.json``: timings differ from run to run."""

    def __init__(self) -> None:
        self._start = self._last_batch_end = self._val_start = 0.0
        # Validation time inside the epoch (counted once a training batch follows it), and not yet counted.
        self._val_time = self._pending_val = 0.0
        self._sequences = 0
        self._tokens = torch.zeros((), dtype=torch.long)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = self._last_batch_end = time.perf_counter()
        self._val_time, self._pending_val = 0.0, 0.0
        self._sequences, self._tokens = 0, torch.zeros((), dtype=torch.long)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._val_time, self._pending_val = self._val_time + self._pending_val, 0.0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        sequences, tokens = batch_counts(batch)
        if isinstance(tokens, Tensor) and tokens.device != self._tokens.device:
            self._tokens = self._tokens.to(tokens.device)
        self._sequences += sequences
        self._tokens = self._tokens + tokens
        self._last_batch_end = time.perf_counter()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._pending_val += time.perf_counter() - self._val_start

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._sequences:
            return
        seconds = max(self._last_batch_end - self._start - self._val_time, 1e-9)
        tokens = int(self._tokens)
        values = {
            "train/epoch_time_s": seconds,
            "train/sequences_per_s": self._sequences / seconds,
            "train/tokens_per_s": tokens / seconds,
        }
        log_straight(trainer, values)
