"""Manual BPTT as a training method: the hand-written gradients of a RecurrentNet equal autograd's of the module's
loss, and training with them follows autograd step for step."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers.bptt import assert_rel_close, make_net, random_batch

from rnnlab.data import BitsDataModule
from rnnlab.lit import SequenceClassifier, TrainingSetup
from rnnlab.lit.manual_bptt import manual_gradients


@pytest.mark.parametrize("masked", [False, True], ids=["full", "mask"])
@pytest.mark.parametrize("shape", ["uni", "deep-bi"])
@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_manual_gradients_equal_autograd_of_the_modules_loss(impl, shape, masked):
    net, batch = make_net(shape, impl), random_batch(masked)
    expected_loss = SequenceClassifier(net, TrainingSetup(torch.optim.SGD)).step(batch, "train")
    expected_loss.backward()
    loss, grads = manual_gradients(net, batch["input"], batch["target"], batch.get("mask"))
    assert_rel_close(loss, expected_loss.detach(), "loss")
    assert_rel_close(grads, {name: p.grad for name, p in net.named_parameters()}, "grads")


@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_training_with_manual_gradients_follows_autograd(impl):
    bits = BitsDataModule("flip_stream", 10, {"train": 64, "val": 16, "test": 16}).split("train")
    x, targets = bits["input"].double(), bits["target"]
    autograd_net = make_net("deep-bi", impl, input_size=1, num_classes=2)
    manual_net, start = copy.deepcopy(autograd_net), copy.deepcopy(autograd_net.state_dict())
    module = SequenceClassifier(autograd_net, TrainingSetup(torch.optim.SGD))
    autograd_sgd = torch.optim.SGD(autograd_net.parameters(), lr=0.1)
    manual_sgd = torch.optim.SGD(manual_net.parameters(), lr=0.1)
    for _ in range(5):
        autograd_sgd.zero_grad()
        module.step({"input": x, "target": targets}, "train").backward()
        autograd_sgd.step()
        _, grads = manual_gradients(manual_net, x, targets)
        for name, p in manual_net.named_parameters():
            p.grad = grads[name]
        manual_sgd.step()
    torch.testing.assert_close(manual_net.state_dict(), autograd_net.state_dict(), rtol=0, atol=1e-10)
    assert not torch.equal(manual_net.output.V, start["output.V"])  # the weights did move


@pytest.mark.parametrize(
    "options, message",
    [
        ({"cell": "lstm"}, "cell='lstm'"),
        ({"cell": "gru"}, "cell='gru'"),
        ({"head": "many_to_one"}, "many_to_many"),
        ({"shape": "deep", "dropout": 0.5}, "dropout"),
    ],
)
def test_unsupported_nets_raise_value_error(options, message):
    net, batch = make_net(**options), random_batch(masked=False)
    with pytest.raises(ValueError, match=message):
        manual_gradients(net, batch["input"], batch["target"])
