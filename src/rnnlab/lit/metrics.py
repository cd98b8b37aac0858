"""What the LightningModules measure per stage (train, val, test): running sums on the device, no sync per step,
computed once per epoch.

- :class:`StageMetrics` (classifiers): loss, accuracy, whole-sequence accuracy, and optionally macro-F1 and the
  confusion matrix;
- :class:`TextMetrics` (language model): character-weighted loss, bits per character, perplexity, accuracy;
- :class:`GenerationMetrics` (generators): teacher-forced loss and accuracy, and for decoding stages exact match and
  generated-character accuracy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric, Metric
from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassF1Score

from rnnlab.data.alphabet import END_ID
from rnnlab.data.batches import IGNORE
from rnnlab.data.splits import SPLITS

STAGES = SPLITS  # Lightning's stages are the data's splits


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


class TextMetrics(nn.Module):
    """Running character-weighted loss and accuracy of one stage; no device sync until ``compute``."""

    def __init__(self) -> None:
        super().__init__()
        self.loss, self.acc = MeanMetric(), MeanMetric()

    def update(self, loss: Tensor, logits: Tensor, target: Tensor) -> None:
        self.loss.update(loss.detach(), weight=target.numel())
        self.acc.update((logits.detach().argmax(-1) == target).float())

    def compute(self) -> dict[str, Tensor]:
        loss = self.loss.compute()
        return {"loss": loss, "bpc": loss / math.log(2), "ppl": loss.exp(), "acc": self.acc.compute()}

    def reset(self) -> None:
        self.loss.reset()
        self.acc.reset()


class GenerationMetrics(nn.Module):
    """``generated``: the stage decodes (val, test), so ``exact`` and ``gen_char_acc`` are computed too."""

    def __init__(self, generated: bool = True) -> None:
        super().__init__()
        self.generated = generated
        self.loss, self.char_acc, self.exact, self.gen_char_acc = (MeanMetric() for _ in range(4))

    def update(self, loss: Tensor, logits: Tensor, target: Tensor, generated: Tensor | None) -> None:
        valid = target != IGNORE
        self.loss.update(loss.detach(), weight=valid.sum())
        self.char_acc.update((logits.detach().argmax(-1) == target)[valid].float())
        if generated is not None:
            self.gen_char_acc.update((generated == target)[valid].float())
            # Positions past END must be END too (generate() pads with it), so "sevenn" ≠ "seven".
            self.exact.update((generated == target.masked_fill(~valid, END_ID)).all(1).float())

    def compute(self) -> dict[str, Tensor]:
        values = {"loss": self.loss.compute(), "char_acc": self.char_acc.compute()}
        if self.generated:
            values |= {"exact": self.exact.compute(), "gen_char_acc": self.gen_char_acc.compute()}
        return values

    def reset(self) -> None:
        for metric in self.children():
            metric.reset()
