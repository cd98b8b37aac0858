"""Where callbacks put what they show: the trainer's loggers (:func:`log_straight`), their TensorBoard writers, and
the run directory after each validation and the test (:class:`EvaluationReport`)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter


def log_straight(trainer: L.Trainer, values: dict[str, float], step: int | None = None) -> None:
    """``values`` to every logger of the run at ``step`` (default: the current step), not through ``self.log``:
    Lightning's logging machinery costs more than a small model's whole step."""
    for logger in trainer.loggers:
        logger.log_metrics(values, step=trainer.global_step if step is None else step)


def tensorboard_writers(trainer: L.Trainer) -> list[SummaryWriter]:
    """One SummaryWriter per TensorBoardLogger of the run (none without one; only rank 0 writes)."""
    if not trainer.is_global_zero:
        return []
    return [logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]


class EvaluationReport(L.Callback):
    """Calls :meth:`report` after every validation past the sanity check (``stage="val"``) and after the test
    (``"test"``), with ``n`` examples; :meth:`run_dir` is where its files go (made on first use)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.report(trainer, pl_module, "val")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.report(trainer, pl_module, "test")

    def report(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        raise NotImplementedError

    @staticmethod
    def run_dir(trainer: L.Trainer) -> Path:
        out = Path(trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        return out
