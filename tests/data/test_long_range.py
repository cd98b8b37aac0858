"""task=long_range: the cue at step 0, the query at step gap; splits pure, disjoint, uniform and learnable."""

from __future__ import annotations

import logging

import pytest
import torch

from rnnlab.data.long_range import LongRangeDataModule, chance_level, generate_tokens
from rnnlab.data.splits import SPLITS
from rnnlab.run.build import build_module
from rnnlab.run.config import validate
from rnnlab.run.datamodule import build_datamodule
from rnnlab.run.train import train

logging.getLogger("lightning").setLevel(logging.WARNING)

SIZES = {"train": 512, "val": 256, "test": 256}
ALL = {split: 10**6 for split in SPLITS}  # more than any enumerated space holds: each split gets its whole share
# Gaps 2 and 3 are enumerated, 9 and 50 sampled.
SHAPES = [(2, 8), (3, 8), (9, 8), (50, 4)]


def rows(tokens: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(row) for row in tokens.tolist()}


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(("gap", "num_symbols"), SHAPES)
def test_the_cue_is_at_step_0_the_query_at_step_gap_and_distractors_between(gap, num_symbols, split):
    data = LongRangeDataModule(gap, num_symbols, SIZES).split(split)
    inputs, target = data["input"], data["target"]
    assert inputs.shape == (len(target), gap + 1, num_symbols + 1)
    assert (inputs.dtype, target.dtype) == (torch.float32, torch.long)
    assert (inputs.sum(dim=-1) == 1).all()  # one-hot
    tokens = inputs.argmax(dim=-1)
    assert torch.equal(tokens[:, 0], target)
    assert (tokens[:, gap] == num_symbols).all()  # the query marker, there and nowhere else
    assert (tokens[:, :gap] < num_symbols).all()


@pytest.mark.parametrize(("gap", "num_symbols"), SHAPES)
def test_splits_are_a_pure_function_of_seed_and_split(gap, num_symbols):
    def tokens(split: str, seed: int) -> torch.Tensor:
        return generate_tokens(split, gap=gap, num_symbols=num_symbols, size=256, seed=seed)

    assert torch.equal(tokens("train", 0), tokens("train", 0))
    assert not torch.equal(tokens("train", 0), tokens("train", 1))


@pytest.mark.parametrize(("gap", "num_symbols"), SHAPES)
def test_splits_are_disjoint(gap, num_symbols):
    train, val, test = (rows(generate_tokens(s, gap=gap, num_symbols=num_symbols, size=2048, seed=0)) for s in SPLITS)
    assert not (train & val or train & test or val & test)


def test_a_small_space_is_enumerated_whole_and_a_large_one_gives_the_sizes_asked():
    enumerated = [generate_tokens(s, gap=3, num_symbols=8, size=ALL[s], seed=0) for s in SPLITS]
    assert sum(len(t) for t in enumerated) == len(rows(torch.cat(enumerated))) == 8**3
    sampled = LongRangeDataModule(9, 8, SIZES)
    assert {s: len(sampled.split(s)["target"]) for s in SPLITS} == SIZES


def test_cues_and_distractors_are_uniform_so_chance_is_one_over_num_symbols():
    assert chance_level(8) == 0.125
    tokens = LongRangeDataModule(9, 8, {**SIZES, "train": 8192}).split("train")["input"].argmax(dim=-1)
    for symbols in (tokens[:, 0], tokens[:, 1:9].flatten()):  # the cues (the targets), the distractors
        shares = torch.bincount(symbols, minlength=8) / len(symbols)
        # Even the best constant guess, the most frequent cue, scores chance (±5 standard errors).
        assert (shares - chance_level(8)).abs().max() < 0.02


@pytest.mark.parametrize(
    ("gap", "num_symbols", "message"),
    [
        (0, 8, "gap=0 must be at least 1"),
        (9, 1, "num_symbols=1 must be at least 2"),
        (1, 8, "gap=1 with num_symbols=8 gives only 8 possible sequences, too few"),
    ],
)
def test_impossible_shapes_are_refused(gap, num_symbols, message):
    with pytest.raises(ValueError, match=message):
        LongRangeDataModule(gap, num_symbols, SIZES).setup()


def test_config_composes_and_builds(make_cfg):
    cfg = make_cfg("long_range", "rnn", "task.data.sizes.train=64")
    validate(cfg)
    assert (cfg.task.gap, cfg.task.input_size, cfg.task.num_classes) == (9, 9, 8)
    assert cfg.trainer.max_steps > 0 and cfg.trainer.gradient_clip_val == 1.0  # the budget is stated
    batch = next(iter(build_datamodule(cfg).train_dataloader()))[0]  # the first of a step's batches
    assert batch["input"].shape == (32, 10, 9)
    assert build_module(cfg)(batch["input"]).shape == (32, 8)


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_a_gated_network_recalls_the_cue_three_steps_back(make_cfg, model):
    metrics, objects = train(make_cfg("long_range", model, "task.gap=3"))
    assert metrics["test/acc"] >= 0.95
    assert objects["trainer"].global_step < objects["cfg"].trainer.max_steps  # stopped early: solved
