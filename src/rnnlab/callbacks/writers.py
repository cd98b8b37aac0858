"""The TensorBoard writers of a trainer's loggers: where callbacks put text, figures and hparams."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter


def tensorboard_writers(trainer: L.Trainer) -> list[SummaryWriter]:
    """One SummaryWriter per TensorBoardLogger of the run (none without one; only rank 0 writes)."""
    if not trainer.is_global_zero:
        return []
    return [logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
