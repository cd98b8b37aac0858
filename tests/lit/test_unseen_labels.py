"""Scoring labels the model has no output for (a treebank's tags never seen in training): wrong wherever they occur,
no loss, a class of their own in the macro-F1 and the confusion matrix, exactly as torchmetrics computes them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassF1Score

from rnnlab.data.batches import IGNORE
from rnnlab.lit.metrics import StageMetrics, masked_cross_entropy

OUTPUTS = 3  # classes 0-2 have outputs; 3 and 4 are labels only the data has


def batch(targets: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that predict class (position mod 3) and the padded targets."""
    target = torch.tensor(targets)
    logits = F.one_hot(torch.arange(target.numel()).view_as(target) % OUTPUTS, OUTPUTS).float() * 4
    return logits, target


def test_the_loss_skips_labels_beyond_the_outputs():
    logits, target = batch([[0, 4, 2, IGNORE]])
    expected = F.cross_entropy(logits[0, [0, 2]], target[0, [0, 2]])
    assert masked_cross_entropy(logits, target) == pytest.approx(expected.item())
    assert masked_cross_entropy(*batch([[3, 4]])).isnan()  # nothing to score: a NaN the metrics leave out


def test_a_split_without_labels_beyond_the_outputs_has_the_same_loss_unmasked():
    logits, target = batch([[0, 1, 2, IGNORE], [2, 2, 0, 1]])
    assert torch.equal(masked_cross_entropy(logits, target, beyond_outputs=False), masked_cross_entropy(logits, target))


def test_labels_beyond_the_outputs_are_errors_and_classes_of_the_macro_f1():
    metrics = StageMetrics(OUTPUTS, per_class=True)
    metrics.score_classes(5)
    steps = [batch([[0, 4, 2], [0, 1, IGNORE]]), batch([[3, 4, IGNORE]])]  # the second batch: unseen labels only
    for logits, target in steps:
        metrics.update(masked_cross_entropy(logits, target), logits.argmax(-1), target)
    values, confusion = metrics.compute(), metrics.confusion.compute()
    # 7 words, 4 right (0, 2, 0, 1): the 3 with labels 3 and 4 are wrong.
    assert values["acc"].item() == pytest.approx(4 / 7)
    assert values["seq_acc"].item() == pytest.approx(1 / 3)
    # The loss is the first batch's: the second one has no word it can score.
    assert values["loss"].item() == pytest.approx(masked_cross_entropy(*steps[0]).item())
    preds = torch.cat([logits.argmax(-1).flatten() for logits, _ in steps])
    target = torch.cat([target.flatten() for _, target in steps])
    reference = MulticlassF1Score(5, average="macro", ignore_index=IGNORE)(preds, target)
    assert values["f1"].item() == pytest.approx(reference.item())
    assert confusion.shape == (5, 5) and confusion[4].sum() == 2 and confusion[:, 3:].sum() == 0


def test_without_room_the_per_class_metrics_keep_the_outputs_size():
    metrics = StageMetrics(OUTPUTS, per_class=True)
    metrics.score_classes(2)  # never fewer than the outputs
    assert metrics.f1.num_classes == metrics.confusion.num_classes == OUTPUTS
