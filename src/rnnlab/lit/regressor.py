"""The regression family (head ``regression``): a many-to-one :class:`~rnnlab.models.RecurrentNet` with one real
output, trained on the mean squared error of its final output (the adding problem, :mod:`rnnlab.data.adding`).

Per stage it reports ``mse``, the mean squared error over the epoch's examples, and ``val/mse_best``, the lowest
validation ``mse`` so far. Batches are dicts: ``input`` (N, T, I) float, ``target`` (N,) float.
"""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor
from torchmetrics import MeanMetric, MinMetric

from rnnlab.lit.base import RecurrentModule, TrainingSetup
from rnnlab.lit.metrics import STAGES
from rnnlab.lit.nets import build_backbone
from rnnlab.models import RecurrentNet


class SequenceRegressor(RecurrentModule):
    """Manual optimization, one optimizer step per batch, so that a Lightning step may carry several batches
    (``task.data.batches_per_step``), as for the classifiers."""

    heads = ("regression",)
    stage_metrics: ClassVar[dict[str, tuple[str, ...]]] = {stage: ("mse",) for stage in STAGES}
    best_metrics = ("mse",)
    lower_is_better = ("loss", "mse")
    groups_batches = True

    def __init__(self, net: RecurrentNet, setup: TrainingSetup) -> None:
        super().__init__(net, setup)
        self.automatic_optimization = False
        self.train_metrics, self.val_metrics, self.test_metrics = (MeanMetric() for _ in STAGES)
        self.best.update({"mse": MinMetric()})

    @classmethod
    def build_net(cls, model: DictConfig, task: DictConfig, vocab: None = None) -> RecurrentNet:
        return RecurrentNet(
            build_backbone(model, task.input_size, task),
            head="many_to_one",
            num_classes=1,
            dropout=model.get("output_dropout", 0.0),
        )

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(x, lengths).squeeze(-1)

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        prediction = self(batch["input"], batch.get("lengths"))
        getattr(self, f"{stage}_metrics").update((prediction.detach() - batch["target"]) ** 2)
        return F.mse_loss(prediction, batch["target"])

    def training_step(self, batch: dict[str, Tensor] | list[dict[str, Tensor]], batch_idx: int) -> None:
        for one in self.step_batches(batch):
            self.optimize(self.step(one, "train"))

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        metric = getattr(self, f"{stage}_metrics")
        values = {"mse": metric.compute()}
        metric.reset()
        return values
