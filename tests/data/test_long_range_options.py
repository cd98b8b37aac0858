"""task=long_range options: task.cue=distinct (cues never distractors) and task.data.resample (fresh training
sequences every epoch, a pure function of seed and epoch, never a held-out one); the defaults keep today's data."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from rnnlab.data.long_range import LongRangeDataModule, chance_level, generate_tokens
from rnnlab.data.splits import SPLITS
from rnnlab.errors import ConfigError
from rnnlab.lit.data import LightningData
from rnnlab.run.build import build_module
from rnnlab.run.datamodule import build_datamodule

SIZES = {"train": 512, "val": 256, "test": 256}


def rows(tokens: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(row) for row in tokens.tolist()}


def tokens_of(examples: dict[str, torch.Tensor]) -> torch.Tensor:
    return examples["input"].argmax(dim=-1)


def test_the_defaults_give_the_data_of_before_the_options():
    # The first rows as the code before task.cue and task.data.resample generated them (sampled and enumerated).
    sampled = LongRangeDataModule(9, 8, SIZES, cue="shared", resample=False).split("train")
    assert tokens_of(sampled)[:2].tolist() == [[5, 3, 4, 0, 7, 1, 3, 5, 7, 8], [0, 0, 1, 4, 7, 5, 4, 6, 1, 8]]
    enumerated = LongRangeDataModule(3, 8, SIZES).split("val")
    assert tokens_of(enumerated)[:2].tolist() == [[7, 3, 0, 8], [2, 6, 6, 8]] and len(enumerated["target"]) == 49


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(("gap", "num_symbols", "num_cues"), [(3, 8, None), (9, 8, None), (9, 8, 2), (50, 6, 3)])
def test_distinct_cues_are_the_first_symbols_and_never_distractors(gap, num_symbols, num_cues, split):
    cues = num_symbols // 2 if num_cues is None else num_cues
    data = LongRangeDataModule(gap, num_symbols, SIZES, cue="distinct", num_cues=num_cues).split(split)
    tokens = tokens_of(data)
    assert data["input"].shape[1:] == (gap + 1, num_symbols + 1)
    assert torch.equal(tokens[:, 0], data["target"]) and (data["target"] < cues).all()
    assert ((tokens[:, 1:gap] >= cues) & (tokens[:, 1:gap] < num_symbols)).all()
    assert (tokens[:, gap] == num_symbols).all()


def test_distinct_cues_and_distractors_are_uniform_so_chance_is_one_over_num_cues():
    assert chance_level(8) == chance_level(8, "shared") == 0.125  # the old signature still works
    assert chance_level(8, "distinct") == 0.25 and chance_level(8, "distinct", num_cues=2) == 0.5
    tokens = tokens_of(LongRangeDataModule(9, 8, {**SIZES, "train": 8192}, cue="distinct").split("train"))
    for symbols, kinds in ((tokens[:, 0], range(4)), (tokens[:, 1:9].flatten() - 4, range(4))):
        shares = torch.bincount(symbols, minlength=len(kinds)) / len(symbols)
        assert (shares - 1 / len(kinds)).abs().max() < 0.03  # ±5 standard errors of the cue shares


def test_distinct_splits_are_disjoint_and_an_enumerated_space_is_split_whole():
    # 4 cues × 4^3 distractor fillings = 256 sequences, each in exactly one split.
    splits = [generate_tokens(s, gap=4, num_symbols=8, size=10**6, seed=0, cue="distinct") for s in SPLITS]
    assert sum(len(t) for t in splits) == len(rows(torch.cat(splits))) == 4 * 4**3


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"num_symbols": 3, "cue": "distinct"}, "task.cue=distinct with task.num_symbols=3 splits them into 1 cues"),
        (
            {"num_symbols": 8, "cue": "distinct", "num_cues": 7},
            "splits them into 7 cues and 1 distractors; it needs at least 2 of each",
        ),
        ({"num_symbols": 8, "cue": "separate"}, "task.cue='separate' is not one of shared, distinct"),
        ({"num_symbols": 8, "num_cues": 4}, "task.num_cues=4 applies to task.cue=distinct"),
        ({"num_symbols": 4, "cue": "distinct", "gap": 2}, "gap=2 with num_symbols=4 and 2 distinct cues gives only 4"),
    ],
)
def test_cue_layouts_that_cannot_work_are_refused_in_one_line(settings, message):
    settings = {"gap": 9, **settings}
    with pytest.raises(ConfigError, match=message) as error:
        LongRangeDataModule(sizes=SIZES, **settings).setup()
    assert "\n" not in str(error.value)


def epoch_rows(data: LongRangeDataModule, epoch: int) -> set[tuple[int, ...]]:
    return rows(tokens_of(data.generate_train_epoch(epoch)))


@pytest.mark.parametrize("cue", ["shared", "distinct"])
def test_resampled_training_sets_are_fresh_each_epoch_pure_and_never_held_out(cue):
    data = LongRangeDataModule(9, 8, SIZES, cue=cue, resample=True)
    epochs = [epoch_rows(data, e) for e in range(3)]
    assert epochs[0] == rows(tokens_of(data.split("train")))  # epoch 0 is the fixed split's data
    assert len(data.generate_train_epoch(1)["target"]) == SIZES["train"]  # as many every epoch
    assert len(epochs[1] & epochs[2]) < len(epochs[1]) // 10
    assert epoch_rows(LongRangeDataModule(9, 8, SIZES, cue=cue, resample=True), 2) == epochs[2]  # (seed, epoch)
    held_out = rows(tokens_of(data.split("val"))) | rows(tokens_of(data.split("test")))
    assert not any(epoch & held_out for epoch in epochs)
    # A larger draw from the held-out shares shares nothing with them either (split_of decides, not luck).
    val_share = rows(generate_tokens("val", gap=9, num_symbols=8, size=8192, seed=0, cue=cue))
    assert not any(epoch & val_share for epoch in epochs)


def test_resampling_changes_neither_the_held_out_splits_nor_the_first_epoch():
    fixed, fresh = LongRangeDataModule(9, 8, SIZES), LongRangeDataModule(9, 8, SIZES, resample=True)
    for split in SPLITS:
        assert torch.equal(fixed.split(split)["input"], fresh.split(split)["input"])


def test_the_train_loader_serves_the_epoch_its_sampler_is_at():
    data = LongRangeDataModule(9, 8, SIZES, resample=True, batches_per_step=1)
    loader = data.train_dataloader()
    for epoch in (0, 2, 1):  # what Lightning's set_epoch does at every epoch start, and at a resume
        loader.sampler.set_epoch(epoch)
        served = torch.cat([tokens_of(batch) for batch in loader])
        assert len(served) == SIZES["train"] and rows(served) == epoch_rows(data, epoch)


class _RecordTrainingRows(L.Callback):
    def __init__(self) -> None:
        self.by_epoch: dict[int, set[tuple[int, ...]]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        seen = self.by_epoch.setdefault(trainer.current_epoch, set())
        for part in batch if isinstance(batch, list) else [batch]:
            seen |= rows(tokens_of(part))


def test_lightning_trains_each_epoch_on_that_epochs_fresh_sequences(make_cfg):
    cfg = make_cfg("long_range", "lstm", "task.data.resample=true", "task.data.sizes.train=64", "task.cue=distinct")
    data = build_datamodule(cfg)
    assert (data.cue, data.resample_train) == ("distinct", True)
    recorder = _RecordTrainingRows()
    trainer = L.Trainer(
        max_epochs=3,
        limit_val_batches=0,
        callbacks=[recorder],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(build_module(cfg), datamodule=LightningData(data))
    assert recorder.by_epoch == {epoch: epoch_rows(data, epoch) for epoch in range(3)}
