"""Lightning's view of a task's data.

rnnlab's data modules (:mod:`rnnlab.data`) are plain classes with the hooks of Lightning's ``LightningDataModule``,
so that reading a task's examples does not import Lightning. Training, validation and testing hand one to the
Trainer in a :class:`LightningData`; callbacks and modules reach the task's own object with :func:`task_data`.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader


class LightningData(L.LightningDataModule):
    """``data``'s setup and loaders as a LightningDataModule; ``trainer.overfit_batches`` turns shuffling off."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self.data = data

    def setup(self, stage: str) -> None:
        self.data.setup(stage)

    def train_dataloader(self) -> DataLoader:
        return self.data.train_dataloader(shuffle=not (self.trainer is not None and self.trainer.overfit_batches))

    def val_dataloader(self) -> DataLoader:
        return self.data.val_dataloader()

    def test_dataloader(self) -> DataLoader:
        return self.data.test_dataloader()

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """rnnlab's data modules keep their tensors on the CPU, so on a CPU there is nothing to move: this skips
        Lightning's walk over every batch of a step (a list of dicts under ``batches_per_step``). Here, not in the
        LightningModule, where Lightning would warn that a data module was passed too."""
        if device.type == "cpu":
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)


def task_data(trainer: L.Trainer) -> Any | None:
    """The task's data module of the trainer's run (None without one)."""
    datamodule = trainer.datamodule
    return datamodule.data if isinstance(datamodule, LightningData) else datamodule
