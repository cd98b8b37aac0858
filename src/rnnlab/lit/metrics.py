"""What the LightningModules measure per stage (train, val, test): running sums on the device, no sync per step,
computed once per epoch.

- :class:`StageMetrics` (classifiers): loss, accuracy, whole-sequence accuracy, and optionally macro-F1 and the
  confusion matrix;
- :class:`TextMetrics` (language model): character-weighted loss, bits per character, perplexity, accuracy;
- :class:`GenerationMetrics` (generators): teacher-forced loss and accuracy, and for decoding stages exact match,
  generated-character accuracy and, for captions, word accuracy (:func:`word_matches`).
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


def scored_by_outputs(target: Tensor, num_outputs: int) -> Tensor:
    """The targets with IGNORE also where the class has no output: a label the data holds beyond the model's
    (a tag never seen in training, numbered after the outputs) counts in accuracy and F1 but has no loss."""
    return target.masked_fill(target >= num_outputs, IGNORE)


def masked_cross_entropy(logits: Tensor, target: Tensor, beyond_outputs: bool = True) -> Tensor:
    """Mean cross-entropy of softmax(logits) over the positions whose target is one of the logits' classes (not
    IGNORE, not a label beyond the outputs). ``beyond_outputs=False``: the caller knows that no target is beyond the
    outputs, and the per-step masking is skipped (a target beyond them is then cross_entropy's error)."""
    if beyond_outputs:
        target = scored_by_outputs(target, logits.size(-1))
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=IGNORE)


class Totals(Metric):
    """Sums behind loss, accuracy and whole-sequence accuracy, summed across processes and divided once per
    epoch. Accuracy counts every valid position; the loss only those it scores: a target beyond the outputs has
    no loss (``unscored`` counts them), but it is a position the model got wrong."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("loss_sum", torch.tensor(0.0), dist_reduce_fx="sum")
        for name in ("positions", "unscored", "correct", "sequences", "sequences_correct"):
            self.add_state(name, torch.tensor(0), dist_reduce_fx="sum")

    def update(self, losses: Tensor, scored: Tensor, preds: Tensor, target: Tensor) -> None:
        """Batches of one shape: their mean losses and the positions each loss averages (B,), and their
        predictions and targets concatenated along the first dimension (IGNORE marks padding)."""
        valid = target != IGNORE
        right = preds == target  # never at a padded position: predictions are class ids, IGNORE is not
        # A batch whose every target is beyond the outputs has a NaN mean loss over zero positions: it adds none.
        self.loss_sum += torch.where(scored > 0, losses * scored, 0.0).sum()
        self.positions += valid.sum()
        self.unscored += valid.sum() - scored.sum()
        self.correct += right.sum()
        self.sequences += len(target)
        self.sequences_correct += len(target) - (valid ^ right).reshape(len(target), -1).any(dim=1).sum()

    def compute(self) -> dict[str, Tensor]:
        return {
            "loss": self.loss_sum / (self.positions - self.unscored),
            "acc": self.correct / self.positions,
            "seq_acc": self.sequences_correct / self.sequences,
        }


class StageMetrics(nn.Module):
    """Running loss, accuracy and whole-sequence accuracy of one stage (train, val or test), and with
    ``per_class`` the macro-F1 and confusion matrix.

    A step only keeps its loss, predictions and targets (no tensor op, no device sync); they are folded into the
    metrics when the epoch's values are asked for, all batches of one shape in one go. Computed (and, under DDP,
    synced) once per epoch.

    Targets may name classes beyond the ``num_classes`` outputs (a tag the training data never had): they are
    wrong wherever they occur, have no loss, and with ``per_class`` are classes of the F1 and the confusion matrix
    once :meth:`score_classes` has made room for them. The macro-F1 is torchmetrics': the mean F1 over the classes
    that occur in the targets or the predictions; a class with neither is left out.
    """

    def __init__(self, num_classes: int, per_class: bool = False) -> None:
        super().__init__()
        self.totals = Totals()
        self.num_classes, self.per_class = num_classes, per_class
        if per_class:
            self.score_classes(num_classes)
        self.pending: list[tuple[Tensor, Tensor, Tensor]] = []

    def score_classes(self, count: int) -> None:
        """Score ``count`` classes per class: the outputs, then the labels a split holds beyond them."""
        count = max(count, self.num_classes)
        if not self.per_class or (hasattr(self, "f1") and self.f1.num_classes == count):
            return
        device = self.totals.device
        self.f1 = MulticlassF1Score(count, average="macro", ignore_index=IGNORE, validate_args=False).to(device)
        self.confusion = MulticlassConfusionMatrix(count, ignore_index=IGNORE, validate_args=False).to(device)

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
            scored = torch.stack([(scored_by_outputs(t, self.num_classes) != IGNORE).sum() for _, _, t in steps])
            preds, target = torch.cat([p for _, p, _ in steps]), torch.cat([t for _, _, t in steps])
            self.totals.update(losses, scored, preds, target)
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


def _words(ids: Tensor, text: Tensor, separator: int | None) -> Tensor:
    """(N, T + 1, T): the symbols of each word of ``ids`` (N, T) within its ``text`` mask, word k in row k from the
    left, −1 after its last symbol and in rows of no word."""
    n, t = ids.shape
    between = text & (ids == separator) if separator is not None else torch.zeros_like(text)
    word = between.long().cumsum(1)  # a separator counts towards the word after it (and is no symbol of it)
    position = torch.arange(t, device=ids.device).expand(n, t)
    offset = position - torch.where(between, position, -1).cummax(1).values - 1
    symbols = text & ~between
    row = torch.arange(n, device=ids.device).unsqueeze(1).expand(n, t)
    words = torch.full((n, t + 1, t), -1, dtype=torch.long, device=ids.device)
    words[row[symbols], word[symbols], offset[symbols]] = ids[symbols]
    return words


def word_matches(generated: Tensor, target: Tensor, separator: int | None) -> tuple[Tensor, Tensor]:
    """Word k of each generated text (up to its first END) against word k of its target (up to END, IGNORE after),
    words split at ``separator`` (None: the text is one word). (right, words), each (N, T + 1): whether word k is
    right, and which k are words of the target. A misspelt word costs itself only (compared character by character,
    a word one letter short would shift every word after it); a word left out shifts the words after it."""
    target_text = (target != IGNORE) & (target != END_ID)
    generated_text = (generated == END_ID).cumsum(1) == 0
    between = target_text & (target == separator) if separator is not None else torch.zeros_like(target_text)
    words = torch.arange(target.size(1) + 1, device=target.device) <= between.sum(1, keepdim=True)
    same = (_words(generated, generated_text, separator) == _words(target, target_text, separator)).all(-1)
    return same & words, words


class GenerationMetrics(nn.Module):
    """``generated``: the stage decodes (val, test), so ``exact`` and ``gen_char_acc`` are computed too, and with
    ``by_words`` (captions) ``word_acc``, the share of target words written right (:func:`word_matches`; words
    split at ``separator``)."""

    def __init__(self, generated: bool = True, by_words: bool = False, separator: int | None = None) -> None:
        super().__init__()
        self.generated, self.by_words, self.separator = generated, by_words, separator
        self.loss, self.char_acc, self.exact, self.gen_char_acc, self.word_acc = (MeanMetric() for _ in range(5))

    def update(self, loss: Tensor, logits: Tensor, target: Tensor, generated: Tensor | None) -> None:
        valid = target != IGNORE
        self.loss.update(loss.detach(), weight=valid.sum())
        self.char_acc.update((logits.detach().argmax(-1) == target)[valid].float())
        if generated is not None:
            self.gen_char_acc.update((generated == target)[valid].float())
            # Positions past END must be END too (generate() pads with it), so "sevenn" ≠ "seven".
            self.exact.update((generated == target.masked_fill(~valid, END_ID)).all(1).float())
            if self.by_words:
                right, words = word_matches(generated, target, self.separator)
                self.word_acc.update(right[words].float())

    def compute(self) -> dict[str, Tensor]:
        values = {"loss": self.loss.compute(), "char_acc": self.char_acc.compute()}
        if self.generated:
            values |= {"exact": self.exact.compute(), "gen_char_acc": self.gen_char_acc.compute()}
            if self.by_words:
                values["word_acc"] = self.word_acc.compute()
        return values

    def reset(self) -> None:
        for metric in self.children():
            metric.reset()
