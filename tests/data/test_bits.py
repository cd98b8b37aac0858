"""The four bit problems: the rules, the tensors a model sees, and the train/val/test split guarantees."""

from __future__ import annotations

import random
from functools import cache

import pytest
import torch

from rnnlab.data import BitsDataModule
from rnnlab.data.bits import PAD, PROBLEMS, flip_if_same, flip_if_same_closed_form, generate_bits
from rnnlab.data.splits import SPLITS

SIZES = {"train": 4096, "val": 512, "test": 512}
SIZES_50 = {"train": 1024, "val": 256, "test": 256}
FLIP_TASKS = ["flip_bit", "flip_vector", "flip_vector_padded", "flip_stream"]
DISJOINT_TASKS = ["flip_vector", "flip_vector_padded", "flip_stream", "flip_if_same"]
ALL_TASKS = [*FLIP_TASKS, "flip_if_same"]


def make(problem: str, length: int | None = None, seed: int = 0, initial_output: int = 0) -> BitsDataModule:
    """As conf/task configures them: flip_bit is one bit sampled freely, the others 10 bits split disjointly.
    Length 50 is sampled rather than enumerated; smaller sizes there keep the suite fast."""
    length = length or (1 if problem == "flip_bit" else 10)
    sizes = SIZES if length <= 10 else SIZES_50
    dm = BitsDataModule(
        problem, length, sizes, disjoint=problem != "flip_bit", seed=seed, initial_output=initial_output
    )
    dm.setup()
    return dm


_cached = cache(make)


def module(problem: str, length: int | None = None, seed: int = 0, initial_output: int = 0) -> BitsDataModule:
    # Generation is a pure function of the arguments, so tests may share one module (keyed positionally).
    return _cached(problem, length, seed, initial_output)


def rows(dm: BitsDataModule, split: str) -> set[tuple[float, ...]]:
    return {tuple(r) for r in dm.split(split)["input"].flatten(1).tolist()}


def literal_flip_if_same(bits: list[int], previous: int) -> list[int]:
    # Problem 4 exactly as stated in the lecture, independent of the tensor implementation.
    out = []
    for x in bits:
        previous = 1 - x if x == previous else x
        out.append(previous)
    return out


@pytest.mark.parametrize("problem", FLIP_TASKS)
@pytest.mark.parametrize("split", SPLITS)
def test_problems_1_to_3_flip_every_valid_bit(problem, split):
    data = module(problem).split(split)
    bits = data["input"].flatten(1).long()
    target = data["target"].reshape(bits.shape)
    valid = data.get("mask", bits != PAD)
    assert torch.equal(target[valid], 1 - bits[valid])
    assert set(bits[valid].unique().tolist()) <= {0, 1}


@pytest.mark.parametrize("initial_output", [0, 1])
def test_flip_if_same_matches_literal_rule_and_closed_form(initial_output):
    rng = random.Random(initial_output)
    lists = [[rng.randint(0, 1) for _ in range(12)] for _ in range(200)]
    expected = torch.tensor([literal_flip_if_same(b, initial_output) for b in lists])
    assert torch.equal(flip_if_same(torch.tensor(lists), initial_output), expected)
    # For bits either branch gives o_t = 1 − o_{t−1}: the output alternates whatever the input.
    assert torch.equal(expected, flip_if_same_closed_form(12, initial_output).expand_as(expected))
    assert flip_if_same_closed_form(4, initial_output).tolist() == [(t + 1 + initial_output) % 2 for t in range(4)]


@pytest.mark.parametrize("initial_output", [0, 1])
@pytest.mark.parametrize("length", [10, 50])
def test_flip_if_same_datamodule_targets_are_the_closed_form(length, initial_output):
    dm = module("flip_if_same", length, initial_output=initial_output)
    for split in SPLITS:
        target = dm.split(split)["target"]
        assert torch.equal(target, flip_if_same_closed_form(length, initial_output).expand_as(target))


# problem → (input shape per example, target shape per example)
SHAPES = {
    "flip_bit": ((1, 1), ()),
    "flip_vector": ((1, 10), (10,)),
    "flip_vector_padded": ((1, 10), (10,)),
    "flip_stream": ((10, 1), (10,)),
    "flip_if_same": ((10, 1), (10,)),
}


@pytest.mark.parametrize("problem", ALL_TASKS)
def test_example_shapes_and_dtypes(problem):
    data = module(problem).split("train")
    n = len(data["input"])
    assert data["input"].dtype == torch.float32 and data["input"].shape == (n, *SHAPES[problem][0])
    assert data["target"].dtype == torch.long and data["target"].shape == (n, *SHAPES[problem][1])
    assert ("mask" in data) == PROBLEMS[problem].padded
    assert PROBLEMS[problem].head == ("many_to_many" if PROBLEMS[problem].over_time else "many_to_one")


def test_flip_bit_splits_each_hold_both_bits():
    # Problem 1 has two inputs, too few to split disjointly: every split samples both, at the requested size.
    for split in SPLITS:
        bits = module("flip_bit").split(split)["input"]
        assert len(bits) == SIZES[split] and set(bits.flatten().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("length", [10, 50])
def test_padded_rows_are_a_bit_prefix_then_padding(length):
    data = module("flip_vector_padded", length).split("train")
    bits = data["input"].squeeze(1).long()
    lengths = (bits != PAD).sum(1)
    assert lengths.min() >= 1 and lengths.max() <= length
    prefix = torch.arange(length) < lengths.unsqueeze(1)
    assert torch.equal(bits != PAD, prefix)  # bits first, then only -1s
    assert torch.equal(data["mask"], bits != PAD)
    assert torch.equal(data["target"] == PAD, ~prefix)
    assert data["mask"].dtype == torch.bool


@pytest.mark.parametrize("problem", DISJOINT_TASKS)
def test_enumerated_splits_are_disjoint_and_cover_the_space(problem):
    dm = module(problem)
    parts = [rows(dm, s) for s in SPLITS]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    # Every row of a split is distinct, and together they are the whole space (train's 4096 > its share).
    assert [len(p) for p in parts] == [len(dm.split(s)["input"]) for s in SPLITS]
    space = 2046 if PROBLEMS[problem].padded else 2**10
    assert sum(len(p) for p in parts) == space
    for part, fraction in zip(parts, (0.8, 0.1, 0.1), strict=True):
        assert len(part) / space == pytest.approx(fraction, abs=0.03)


@pytest.mark.parametrize("problem", DISJOINT_TASKS)
def test_sampled_splits_are_disjoint_with_requested_sizes(problem):
    dm = module(problem, 50)
    parts = [rows(dm, s) for s in SPLITS]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert {s: len(dm.split(s)["input"]) for s in SPLITS} == SIZES_50


# Length 50 (conf/experiment/long_stream.yaml) takes the sampled path rather than the enumerated one.
@pytest.mark.parametrize(("problem", "length"), [(p, None) for p in ALL_TASKS] + [("flip_stream", 50)])
def test_same_seed_same_data_other_seed_other_train_set(problem, length):
    # A fresh module rebuilds everything: generation itself, not a cache, must be deterministic.
    first, second = module(problem, length), make(problem, length)
    for split in SPLITS:
        a, b = first.split(split), second.split(split)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    other = make(problem, length, seed=1).split("train")["input"]
    assert not torch.equal(other, first.split("train")["input"])


def test_unknown_problem_names_the_available_ones():
    with pytest.raises(ValueError, match="flip_bits") as info:
        BitsDataModule("flip_bits", 10, SIZES)
    assert all(name in str(info.value) for name in PROBLEMS)


def test_unknown_split_names_the_available_ones():
    with pytest.raises(ValueError, match="dev") as info:
        module("flip_stream").split("dev")
    assert all(name in str(info.value) for name in SPLITS)


@pytest.mark.parametrize("length", [10, 50])
def test_a_split_without_a_share_is_refused_not_hung(length):
    with pytest.raises(ValueError, match=r"the test split has share 0\.0"):
        generate_bits(PROBLEMS["flip_stream"], "test", length=length, size=10, seed=0, fractions=(0.9, 0.1, 0.0))


def test_a_space_too_small_to_split_disjointly_is_refused():
    with pytest.raises(ValueError, match="too few to split into disjoint"):
        generate_bits(PROBLEMS["flip_bit"], "val", length=1, size=10, seed=0)
