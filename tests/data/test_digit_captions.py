"""Captions that are sentences: images of 2–4 bundled digits side by side, captioned "three one four", with the digit
combinations and the handwriting of validation and test never seen in training; and the single-digit variant."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data.alphabet import END_ID
from rnnlab.data.digit_captions import NAMES, NO_DIGIT, SIDE, DigitCaptionDataModule, caption_of
from rnnlab.data.splits import SPLITS
from rnnlab.errors import ConfigError

SIZES = {"train": 600, "val": 300, "test": 300}


@pytest.fixture(scope="module")
def data() -> DigitCaptionDataModule:
    return DigitCaptionDataModule(sizes=SIZES)


def combinations_of(digits: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(d for d in row if d != NO_DIGIT) for row in digits.tolist()}


@pytest.mark.parametrize("count", [2, 3, 4])
def test_every_combination_of_digits_is_in_exactly_one_split(data, count):
    split = {name: {tuple(row) for row in data.combinations(count)[name].tolist()} for name in SPLITS}
    assert sum(len(s) for s in split.values()) == 10**count  # all of them, none twice
    assert not split["train"] & split["val"] and not split["train"] & split["test"] and not split["val"] & split["test"]
    # Composable: every digit stands at every position of some training caption.
    for position in range(count):
        assert {combination[position] for combination in split["train"]} == set(range(10))


@pytest.mark.parametrize("held_out", ["val", "test"])
def test_no_held_out_caption_is_a_training_caption_in_any_epoch(data, held_out):
    trained = combinations_of(data.split("train")["digits"]) | combinations_of(data.generate_train_epoch(3)["digits"])
    seen = combinations_of(data.split(held_out)["digits"])
    assert len(seen) > 100 and not seen & trained
    lengths = {len(c) for c in seen}
    assert lengths == {2, 3, 4}


@pytest.mark.parametrize("name", SPLITS)
def test_each_image_shows_its_caption_digits_drawn_from_its_own_split_left_to_right(data, name):
    images, digit_of_image, index = data.images()
    examples = data.split(name)
    source, digits = examples["source"], examples["digits"]
    assert source.shape == (SIZES[name], SIDE, 4 * SIDE)
    captions = [data.vocab.target.decode(row) for row in examples["target"].clamp(min=END_ID).tolist()]
    assert captions == [caption_of(row) for row in digits.tolist()]
    assert captions[0].count(" ") == (digits[0] != NO_DIGIT).sum() - 1
    own = {name: images[index[name]].flatten(1) for name in SPLITS}
    for row in range(0, SIZES[name], 7):
        for position, digit in enumerate(digits[row].tolist()):
            slot = source[row, :, position * SIDE : (position + 1) * SIDE].flatten()
            if digit == NO_DIGIT:
                assert not slot.any()  # blank to the right of the last digit
                continue
            matches = (own[name] == slot).all(1)
            assert matches.any(), "not an image of its own split"
            assert (digit_of_image[index[name][matches]] == digit).all()
    assert not set(index[name].tolist()) & {i for other in SPLITS if other != name for i in index[other].tolist()}


def test_held_out_examples_depend_on_split_seed_alone_and_training_ones_are_fresh_each_epoch():
    first, second = DigitCaptionDataModule(sizes=SIZES, seed=1), DigitCaptionDataModule(sizes=SIZES, seed=2)
    assert torch.equal(first.split("test")["source"], second.split("test")["source"])
    assert not torch.equal(first.split("train")["digits"], second.split("train")["digits"])
    assert torch.equal(first.generate_train_epoch(0)["source"], first.split("train")["source"])
    assert not torch.equal(first.generate_train_epoch(1)["digits"], first.generate_train_epoch(2)["digits"])
    again = DigitCaptionDataModule(sizes=SIZES, seed=1)
    assert torch.equal(again.generate_train_epoch(2)["source"], first.generate_train_epoch(2)["source"])
    other = DigitCaptionDataModule(sizes=SIZES, split_seed=1)
    assert combinations_of(other.split("test")["digits"]) != combinations_of(first.split("test")["digits"])


@pytest.mark.parametrize(("low", "high"), [(2, 2), (1, 3), (3, 4)])
def test_min_and_max_digits_bound_the_caption_lengths(low, high):
    data = DigitCaptionDataModule(min_digits=low, max_digits=high, sizes=SIZES)
    digits = data.split("val")["digits"]
    assert digits.shape == (SIZES["val"], high)
    assert set((digits != NO_DIGIT).sum(1).tolist()) == set(range(low, high + 1))
    assert data.split("val")["source"].shape[2] == SIDE * high == data.width


def test_the_single_digit_variant_captions_each_held_out_image_once_with_its_name():
    data = DigitCaptionDataModule(min_digits=1, max_digits=1)
    images, digit_of_image, index = data.images()
    test = data.split("test")
    assert len(test["source"]) == len(index["test"]) == 269
    assert torch.equal(test["source"], images[index["test"]])
    assert test["digits"].squeeze(1).tolist() == digit_of_image[index["test"]].tolist()
    assert " " not in data.vocab.target.symbols
    decoded = {data.vocab.target.decode(row) for row in test["target"].clamp(min=END_ID).tolist()}
    assert decoded == set(NAMES)
    assert sum(len(index[name]) for name in SPLITS) == 1797


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"min_digits": 0}, "1 <= min_digits <= max_digits"),
        ({"min_digits": 3, "max_digits": 2}, "1 <= min_digits <= max_digits"),
        ({"max_digits": 2.5}, "whole numbers"),
        ({"sizes": {"train": 10, "val": 0, "test": 10}}, r"task.data.sizes.val=0 must be a positive integer"),
        ({"fractions": (0.5, 0.5)}, "must be three shares"),
    ],
)
def test_bad_settings_are_refused_with_the_key_to_change(settings, message):
    with pytest.raises(ConfigError, match=message):
        DigitCaptionDataModule(**settings)
