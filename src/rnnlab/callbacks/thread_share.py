"""Keeps a ``threads=auto`` run at its share of the cores while other rnnlab runs start and stop beside it."""

from __future__ import annotations

import atexit
import logging
import time
from typing import Any

import lightning as L
import torch

from rnnlab.callbacks.writers import log_straight
from rnnlab.machine import RunRegistry, share

log = logging.getLogger("rnnlab")


class ThreadShare(L.Callback):
    """Registers the run in the machine's :class:`~rnnlab.machine.RunRegistry` while it trains, validates or tests,
    so that the auto runs beside it count it. With ``shares`` (``threads=auto``) it also sets torch's intra-op
    threads, every ``every_s`` seconds (looked at when a batch starts, so no step is cut), to the run's share: the
    cores divided by the live runs, at most ``ceiling`` (what auto chose for the model alone), at least 1. A change
    is logged as a line and as ``train/threads``; ``fewest`` is the fewest threads the run has used."""

    def __init__(
        self, ceiling: int, shares: bool = True, registry: RunRegistry | None = None, every_s: float = 2.0
    ) -> None:
        self.ceiling, self.shares, self.every_s = ceiling, shares, every_s
        self.registry = registry or RunRegistry()
        self.fewest = torch.get_num_threads()
        self._next_check = 0.0
        atexit.register(self.registry.leave)  # an exit mid-run, past Lightning's teardown

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.registry.join()
        self._next_check = 0.0  # take the share at the first batch

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.registry.leave()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.registry.leave()

    def _check(self, trainer: L.Trainer) -> None:
        if not self.shares or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.every_s
        others = self.registry.others()
        threads, before = share(self.ceiling, others), torch.get_num_threads()
        if threads == before:
            return
        torch.set_num_threads(threads)
        self.fewest = min(self.fewest, threads)
        beside = f"{others} other rnnlab run(s)" if others else "no other rnnlab run"
        log.info("Threads: %d (was %d; %s on this machine)", threads, before, beside)
        log_straight(trainer, {"train/threads": threads})

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int):
        self._check(trainer)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self._check(trainer)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        self._check(trainer)
