"""Lightning's Rich progress bar, redrawn at most a few times a second while training."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """:class:`~lightning.pytorch.callbacks.RichProgressBar` that, during training, redraws its bar and metrics at
    most ``redraws_per_second`` times a second, and always at an epoch's last batch. Lightning's redraws after
    every step, gathering the metrics each time, for changes faster than an eye can follow. On the bit problems,
    whose Lightning steps carry 32 batches, the two bars cost the same within the overhead benchmark's spread
    (docs/performance.md). Validation and test bars are Lightning's."""

    def __init__(self, redraws_per_second: float = 10.0, **kwargs: Any) -> None:
        if not redraws_per_second > 0:
            raise ValueError(f"redraws_per_second must be > 0, got {redraws_per_second}")
        super().__init__(**kwargs)
        self.interval_s = 1.0 / redraws_per_second
        self._drawn_at = -math.inf

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.monotonic()
        if now - self._drawn_at < self.interval_s and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return
        self._drawn_at = now
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
