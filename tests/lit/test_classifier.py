"""The LightningModule's loss and metrics: padding never counts, sequences count only when wholly right."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from rnnlab.data.batches import IGNORE
from rnnlab.lit import SequenceClassifier, TrainingSetup
from rnnlab.lit.metrics import StageMetrics
from rnnlab.models import RecurrentBackbone, RecurrentNet


def make_module(head="many_to_one", num_outputs=10, input_size=10):
    net = RecurrentNet(RecurrentBackbone(input_size, 8), head=head, num_classes=2, num_outputs=num_outputs)
    return SequenceClassifier(net, TrainingSetup(functools.partial(torch.optim.Adam, lr=0.01)))


def padded_batch(n=6, width=10):
    torch.manual_seed(0)
    lengths = torch.randint(1, width + 1, (n, 1))
    mask = torch.arange(width) < lengths
    bits = torch.randint(0, 2, (n, width))
    x = torch.where(mask, bits, -1).float().unsqueeze(1)
    return {"input": x, "target": torch.where(mask, 1 - bits, -1), "mask": mask}


def test_loss_is_cross_entropy_over_valid_positions_only():
    module, batch = make_module(), padded_batch()
    logits = module(batch["input"])
    mask = batch["mask"]
    expected = F.cross_entropy(logits[mask], batch["target"][mask])
    assert torch.allclose(module.step(batch, "train"), expected)


def test_padding_targets_cannot_change_the_loss():
    module, batch = make_module(), padded_batch()
    loss = module.step(batch, "val")
    flipped = dict(batch, target=torch.where(batch["mask"], batch["target"], 1))
    assert torch.equal(module.step(flipped, "val"), loss)


def test_stage_metrics_accuracy_and_whole_sequence_accuracy():
    metrics = StageMetrics(num_classes=2)
    target = torch.tensor([[1, 0, IGNORE], [1, 1, 1]])
    preds = torch.tensor([[1, 0, 0], [1, 0, 1]])  # row 0 right where valid; row 1 has one error
    metrics.update(torch.tensor(0.5), preds, target)
    values = metrics.compute()
    assert values["acc"] == pytest.approx(4 / 5)
    assert values["seq_acc"] == pytest.approx(1 / 2)
    assert values["loss"] == pytest.approx(0.5)
    metrics.reset()
    metrics.update(torch.tensor(1.0), preds[:1], target[:1])
    assert metrics.compute()["seq_acc"] == 1.0


def test_epoch_loss_is_weighted_by_valid_positions():
    metrics = StageMetrics(num_classes=2)
    metrics.update(torch.tensor(1.0), torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long))
    metrics.update(torch.tensor(4.0), torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
    assert metrics.compute()["loss"] == pytest.approx((1.0 * 1 + 4.0 * 3) / 4)


def test_optimizer_and_scheduler_are_injected():
    net = RecurrentNet(RecurrentBackbone(1, 4), head="many_to_many", num_classes=2)
    setup = TrainingSetup(
        optimizer=functools.partial(torch.optim.SGD, lr=0.5),
        scheduler=functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=1),
    )
    module = SequenceClassifier(net, setup)
    configured = module.configure_optimizers()
    assert isinstance(configured["optimizer"], torch.optim.SGD)
    assert configured["optimizer"].param_groups[0]["lr"] == 0.5
    assert isinstance(configured["lr_scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
