"""The LightningModule that trains a :class:`~rnnlab.models.RecurrentNet` on any classification task.

One step serves train, val and test. Batches are dicts: ``input`` (N, T, I), ``target`` (N, ...) class ids,
optional ``mask`` (same shape as target; False = padding) and optional ``lengths`` (N,) for right-padded
sequences. Padding counts in neither the loss nor the metrics. Per stage it reports:

- ``loss``: mean cross-entropy over the valid positions (``p = softmax(o)``, as on the slides);
- ``acc``: accuracy over valid positions (per bit, per token);
- ``seq_acc``: the share of examples whose every valid position is right (whole-sequence exact match);
- ``val/acc_best``, ``val/seq_acc_best``: the best validation ``acc`` and ``seq_acc`` so far;
- with ``per_class=True`` (tagging, sentiment): ``f1``, the macro-F1 over classes, and the stage's confusion
  matrix, kept in ``confusion[stage]`` for reports (per-class F1 table, figure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torchmetrics import MaxMetric, Metric
from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassF1Score

from rnnlab.data.batches import IGNORE
from rnnlab.models import RecurrentNet

STAGES = ("train", "val", "test")
GRADIENTS = ("autograd", "manual")


def ignore_padding(target: Tensor, mask: Tensor | None) -> Tensor:
    """The targets with IGNORE wherever ``mask`` marks padding."""
    return target if mask is None else target.masked_fill(~mask, IGNORE)


def masked_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy of softmax(logits) over the positions whose target is not IGNORE."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=IGNORE)


class Totals(Metric):
    """Sums behind loss, accuracy and whole-sequence accuracy, summed across processes and divided once per
    epoch."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("loss_sum", torch.tensor(0.0), dist_reduce_fx="sum")
        for name in ("positions", "correct", "sequences", "sequences_correct"):
            self.add_state(name, torch.tensor(0), dist_reduce_fx="sum")

    def update(self, losses: Tensor, positions: Tensor, preds: Tensor, target: Tensor) -> None:
        """Batches of one shape: their mean losses and valid positions (B,), and their predictions and targets
        concatenated along the first dimension (IGNORE marks padding)."""
        valid = target != IGNORE
        right = preds == target  # never at a padded position: predictions are class ids, IGNORE is not
        self.loss_sum += (losses * positions).sum()
        self.positions += positions.sum()
        self.correct += right.sum()
        self.sequences += len(target)
        self.sequences_correct += len(target) - (valid ^ right).reshape(len(target), -1).any(dim=1).sum()

    def compute(self) -> dict[str, Tensor]:
        return {
            "loss": self.loss_sum / self.positions,
            "acc": self.correct / self.positions,
            "seq_acc": self.sequences_correct / self.sequences,
        }


class StageMetrics(nn.Module):
    """Running loss, accuracy and whole-sequence accuracy of one stage (train, val or test), and with
    ``per_class`` the macro-F1 and confusion matrix.

    A step only keeps its loss, predictions and targets (no tensor op, no device sync); they are folded into the
    metrics when the epoch's values are asked for, all batches of one shape in one go. Computed (and, under DDP,
    synced) once per epoch.
    """

    def __init__(self, num_classes: int, per_class: bool = False) -> None:
        super().__init__()
        self.totals = Totals()
        self.per_class = per_class
        if per_class:
            self.f1 = MulticlassF1Score(num_classes, average="macro", ignore_index=IGNORE, validate_args=False)
            self.confusion = MulticlassConfusionMatrix(num_classes, ignore_index=IGNORE, validate_args=False)
        self.pending: list[tuple[Tensor, Tensor, Tensor]] = []

    def update(self, loss: Tensor, preds: Tensor, target: Tensor) -> None:
        """``target`` holds IGNORE at padded positions; the loss is weighted by the valid positions."""
        self.pending.append((loss.detach(), preds, target))

    def flush(self) -> None:
        by_shape: dict[tuple[int, ...], list[tuple[Tensor, Tensor, Tensor]]] = {}
        for step in self.pending:
            by_shape.setdefault(tuple(step[2].shape[1:]), []).append(step)
        self.pending = []
        for steps in by_shape.values():
            losses = torch.stack([loss for loss, _, _ in steps])
            positions = torch.stack([(target != IGNORE).sum() for _, _, target in steps])
            preds, target = torch.cat([p for _, p, _ in steps]), torch.cat([t for _, _, t in steps])
            self.totals.update(losses, positions, preds, target)
            if self.per_class:
                self.f1.update(preds.reshape(-1), target.reshape(-1))
                self.confusion.update(preds.reshape(-1), target.reshape(-1))

    def compute(self) -> dict[str, Tensor]:
        self.flush()
        values = self.totals.compute()
        if self.per_class:
            values["f1"] = self.f1.compute()
        return values

    def reset(self) -> None:
        self.pending = []
        for metric in self.children():
            metric.reset()


class RecurrentModule(L.LightningModule):
    """What every rnnlab LightningModule shares: optimizer and scheduler injected as partials (Hydra
    ``_partial_: true``) and completed with the parameters; ``config`` (the plain-dict run configuration) and
    ``vocab`` (plain lists) stored in every checkpoint, so predictions need neither the config files nor the
    training data; ``monitor``, the metric a plateau scheduler watches."""

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        config: dict | None = None,
        vocab: dict | None = None,
        monitor: str = "val/loss",
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
    ) -> None:
        super().__init__()
        # Collects the subclass's own arguments too (Lightning walks the __init__ frames). Not logged: the
        # HParamsSession callback writes TensorBoard's hparams once per fit; Lightning's would reset them at test.
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net, self.optimizer_factory, self.scheduler_factory = net, optimizer, scheduler
        self.clip_val, self.clip_algorithm = gradient_clip_val, gradient_clip_algorithm
        # Best-so-far validation metrics during fit, by name (a MaxMetric or MinMetric each; the subclass says
        # which), logged as val/<name>_best.
        self.best = nn.ModuleDict()

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        """The stage's metrics over the epoch (``<stage>_metrics``), which then start again."""
        metrics = getattr(self, f"{stage}_metrics")
        values = metrics.compute()
        metrics.reset()
        return values

    def _log_epoch(self, stage: str) -> dict[str, Tensor]:
        # Logged once per epoch: Lightning's per-step self.log costs more than the step itself on small models.
        values = self.epoch_values(stage)
        self.log_dict({f"{stage}/{name}": value for name, value in values.items()}, prog_bar=stage != "test")
        return values

    def fitting(self) -> bool:
        """Validating inside fit, past the sanity check: a validation whose score is a result of training."""
        return self.trainer.state.fn == "fit" and not self.trainer.sanity_checking

    def on_train_start(self) -> None:
        for best in self.best.values():
            best.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val")
        if self.fitting():
            for name, best in self.best.items():
                best.update(values[name])
                self.log(f"val/{name}_best", best.compute())

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def optimize(self, loss: Tensor | None = None, grads: dict[str, Tensor] | None = None) -> None:
        """One optimizer step under manual optimization: zero, backward on ``loss`` (or the given ``grads`` by
        parameter name of ``net``), clip, step. Gradient clipping, which Lightning leaves to the module in manual
        mode, comes from the same key as in automatic mode (``trainer.gradient_clip_val``, given to the module by
        :func:`rnnlab.run.build.build_module`)."""
        optimizer = self.optimizers()
        optimizer.zero_grad()
        if grads is None:
            self.manual_backward(loss)
        else:
            for name, parameter in self.net.named_parameters():
                parameter.grad = grads[name]
        if self.clip_val:
            self.clip_gradients(optimizer, self.clip_val, self.clip_algorithm)
        optimizer.step()

    def step_scheduler(self) -> None:
        """Manual optimization leaves the scheduler to the module: a plateau scheduler reads ``monitor``."""
        if (scheduler := self.lr_schedulers()) is None:
            return
        if isinstance(scheduler, ReduceLROnPlateau):
            if (metric := self.trainer.callback_metrics.get(self.hparams.monitor)) is not None:
                scheduler.step(metric)
        else:
            scheduler.step()

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        if not self.automatic_optimization:  # stepped by the module itself (step_scheduler)
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.hparams.monitor, "interval": "epoch"},
        }


class SequenceClassifier(RecurrentModule):
    """Trains under manual optimization, one optimizer step per batch, so that a Lightning step may carry
    several batches (``task.data.batches_per_step``): for small models Lightning's per-step machinery costs as
    much as the step itself, and a group of batches pays it once. The steps, and so the weights, are those of
    one batch per Lightning step."""

    def __init__(
        self,
        net: RecurrentNet,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        config: dict | None = None,
        gradients: str = "autograd",
        vocab: dict | None = None,
        per_class: bool = False,
        monitor: str = "val/loss",
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
    ) -> None:
        """See :class:`RecurrentModule`. ``gradients="manual"`` trains with the hand-written BPTT of
        :mod:`rnnlab.analysis.bptt` instead of autograd (slow; for teaching). ``per_class`` adds macro-F1 and
        confusion matrices to the metrics."""
        if gradients not in GRADIENTS:
            raise ValueError(f"gradients must be one of {list(GRADIENTS)}, got {gradients!r}")
        super().__init__(net, optimizer, scheduler, config, vocab, monitor, gradient_clip_val, gradient_clip_algorithm)
        self.gradients = gradients
        self.automatic_optimization = False
        # One set per stage, so train, val and test never mix their running states.
        self.train_metrics, self.val_metrics, self.test_metrics = (
            StageMetrics(net.output.num_classes, per_class) for _ in STAGES
        )
        self.best.update({"acc": MaxMetric(), "seq_acc": MaxMetric()})
        # The last epoch's confusion matrix per stage (rows: true class, columns: predicted), for reports.
        self.confusion: dict[str, Tensor] = {}

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(x, lengths)

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        logits = self(batch["input"], batch.get("lengths"))
        target = ignore_padding(batch["target"], batch.get("mask"))
        loss = masked_cross_entropy(logits, target)
        getattr(self, f"{stage}_metrics").update(loss, logits.argmax(-1), target)
        return loss

    def training_step(self, batch: dict[str, Tensor] | list[dict[str, Tensor]], batch_idx: int) -> None:
        for one in batch if isinstance(batch, list) else [batch]:
            if self.gradients == "manual":
                self.manual_step(one)
            else:
                self.optimize(self.step(one, "train"))

    def manual_step(self, batch: dict[str, Tensor]) -> None:
        """One optimizer step with gradients from the lecture's backward pass, no autograd involved."""
        from rnnlab.analysis.bptt import manual_gradients

        loss, grads = manual_gradients(self.net, batch["input"], batch["target"], batch.get("mask"))
        self.optimize(grads=grads)
        with torch.no_grad():
            target = ignore_padding(batch["target"], batch.get("mask"))
            self.train_metrics.update(loss, self(batch["input"]).argmax(-1), target)

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.step_scheduler()  # where Lightning steps an epoch-interval scheduler in automatic mode

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "test")

    def epoch_values(self, stage: str) -> dict[str, Tensor]:
        metrics = getattr(self, f"{stage}_metrics")
        if metrics.per_class:
            metrics.flush()
            self.confusion[stage] = metrics.confusion.compute()
        return super().epoch_values(stage)
