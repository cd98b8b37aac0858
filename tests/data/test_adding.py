"""The adding problem's data: one marker per half, the target their values' sum, fresh training examples every
epoch (a pure function of seed and epoch), fixed held-out splits, and the constant-1 baseline at MSE 1/6."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data import ADDING_BASELINE_MSE, AddingDataModule
from rnnlab.data.splits import SPLITS
from rnnlab.errors import ConfigError

SIZES = {"train": 256, "val": 128, "test": 128}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("seq_len", [2, 7, 50])
def test_one_marker_per_half_and_the_target_is_the_sum_of_the_marked_values(seq_len, split):
    data = AddingDataModule(seq_len, SIZES).split(split)
    inputs, target = data["input"], data["target"]
    assert inputs.shape == (SIZES[split], seq_len, 2) and target.shape == (SIZES[split],)
    assert (inputs.dtype, target.dtype) == (torch.float32, torch.float32)
    values, markers = inputs.unbind(-1)
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    half = seq_len // 2
    assert (markers[:, :half].sum(1) == 1).all() and (markers[:, half:].sum(1) == 1).all()
    torch.testing.assert_close(target, (values * markers).sum(1))


def test_the_marked_steps_cover_each_half():
    markers = AddingDataModule(10, {**SIZES, "train": 4096}).split("train")["input"][..., 1]
    assert (markers.sum(0) > 0).all()  # every step is marked somewhere: uniform within its half


def test_splits_are_reproducible_by_seed():
    def examples(seed: int) -> dict[str, torch.Tensor]:
        return AddingDataModule(20, SIZES, seed=seed).split("test")

    assert all(torch.equal(examples(0)[k], examples(0)[k]) for k in ("input", "target"))
    assert not torch.equal(examples(0)["input"], examples(1)["input"])
    splits = AddingDataModule(20, SIZES).split
    assert not torch.equal(splits("val")["input"], splits("test")["input"][: SIZES["val"]])


def test_training_examples_are_fresh_every_epoch_and_val_test_stay_fixed():
    data = AddingDataModule(20, SIZES)
    val, test = data.split("val"), data.split("test")
    epochs = [data.generate_train_epoch(e)["input"] for e in range(3)]
    assert torch.equal(epochs[0], data.split("train")["input"])  # epoch 0 is the cached split
    assert not torch.equal(epochs[1], epochs[0]) and not torch.equal(epochs[2], epochs[1])
    assert torch.equal(AddingDataModule(20, SIZES).generate_train_epoch(2)["input"], epochs[2])  # (seed, epoch)
    loader = data.train_dataloader()
    for epoch in (2, 1):  # Lightning's set_epoch at each epoch start
        loader.sampler.set_epoch(epoch)
        served = torch.cat([batch["input"] for batch in loader])
        assert torch.equal(served[served[:, 0, 0].argsort()], epochs[epoch][epochs[epoch][:, 0, 0].argsort()])
    assert data.split("val") is val and data.split("test") is test


def test_without_resample_every_epoch_trains_on_the_same_examples():
    data = AddingDataModule(20, SIZES, resample=False)
    loader = data.train_dataloader()
    loader.sampler.set_epoch(3)
    served = torch.cat([batch["input"] for batch in loader])
    first = data.split("train")["input"]
    assert torch.equal(served[served[:, 0, 0].argsort()], first[first[:, 0, 0].argsort()])


def test_predicting_one_always_scores_the_baseline_mse():
    target = AddingDataModule(100, {**SIZES, "test": 20_000}).split("test")["target"]
    assert target.mean().item() == pytest.approx(1.0, abs=0.01)
    # One standard error of this estimate is about 0.8 % of 1/6; 4 % is five of them.
    assert ((target - 1.0) ** 2).mean().item() == pytest.approx(ADDING_BASELINE_MSE, rel=0.04)


@pytest.mark.parametrize(
    ("seq_len", "sizes", "message"),
    [
        (1, SIZES, "seq_len=1 must be at least 2"),
        (10, {**SIZES, "val": 0}, "sizes.val=0 must be a positive integer"),
        (10, {"train": 8, "val": 8}, "sizes.test=None must be a positive integer"),
    ],
)
def test_impossible_settings_are_refused(seq_len, sizes, message):
    with pytest.raises(ConfigError, match=message):
        AddingDataModule(seq_len, sizes)
