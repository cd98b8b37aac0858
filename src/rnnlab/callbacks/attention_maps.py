"""Where a translation decoder with attention looks: heat maps of a few dates after every validation and the test."""

from __future__ import annotations

import lightning as L

from rnnlab.analysis.attention import attention_grid
from rnnlab.callbacks.writers import EvaluationReport, tensorboard_writers
from rnnlab.lit.data import task_data


class AttentionMaps(EvaluationReport):
    """For modules with an ``attention_maps(datamodule, stage, n)`` method that returns maps (a generator whose
    decoder attends; nothing otherwise): TensorBoard gets ``<stage>/attention``, the first ``n`` examples of the
    validation split after each validation epoch and of the test split after the test, each written greedily; the
    run directory gets the latest as ``attention_<stage>.png``."""

    def __init__(self, n: int = 4) -> None:
        super().__init__(n)

    def report(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.n < 1 or not hasattr(pl_module, "attention_maps") or (data := task_data(trainer)) is None:
            return
        maps = pl_module.attention_maps(data, stage, self.n)
        if not maps or not trainer.is_global_zero:
            return
        figure = attention_grid(maps)
        figure.savefig(self.run_dir(trainer) / f"attention_{stage}.png", dpi=120)
        for writer in tensorboard_writers(trainer):
            writer.add_figure(f"{stage}/attention", figure, trainer.global_step)
