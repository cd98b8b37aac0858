"""Eval mode for a block: dropout off inside it, the module's own mode back after it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnlab.models.modes import evaluating


@pytest.mark.parametrize("training", [True, False])
def test_a_block_runs_without_dropout_and_leaves_the_mode_as_it_found_it(training):
    net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train(training)
    x = torch.ones(2, 4)
    with evaluating(net):
        assert not net.training and not net[1].training
        assert torch.equal(net(x), net(x))  # no dropout
    assert net.training is training and net[1].training is training


def test_the_mode_comes_back_after_an_error():
    net = nn.Dropout(0.5).train()
    with pytest.raises(RuntimeError), evaluating(net):
        raise RuntimeError("drawing failed")
    assert net.training
