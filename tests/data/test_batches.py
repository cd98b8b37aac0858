"""In-memory batching (reproducible per-epoch shuffles, whole-batch slicing) and the show_data examples."""

from __future__ import annotations

import io
import json
import math
import re

import pytest
import torch
from hydra import compose, initialize_config_dir

from rnnlab.data import BitsDataModule, batches
from rnnlab.data.batches import EpochBatchSampler, RaggedBatches, TensorBatches, tensor_loader
from rnnlab.data.digit_captions import NAMES
from rnnlab.run.config import CONFIG_DIR, ConfigError
from rnnlab.run.show_data import example_records, print_examples


def epoch(sampler: EpochBatchSampler, e: int | None = None) -> list[list[int]]:
    if e is not None:
        sampler.set_epoch(e)
    return [batch.tolist() for batch in sampler]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize(("size", "batch_size"), [(10, 3), (64, 16), (1, 4), (100, 7)])
def test_each_epoch_is_a_permutation_in_batches(size, batch_size, shuffle):
    sampler = EpochBatchSampler(size, batch_size, shuffle, seed=5)
    for e in range(3):
        batches = epoch(sampler, e)
        assert len(batches) == len(sampler) == math.ceil(size / batch_size)
        assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size
        assert sorted(i for b in batches for i in b) == list(range(size))


def test_shuffle_is_a_pure_function_of_seed_and_epoch():
    sampler = EpochBatchSampler(50, 8, shuffle=True, seed=3)
    orders = [epoch(sampler, e) for e in range(4)]
    assert epoch(sampler) == orders[3]  # iterating again without set_epoch repeats the epoch
    assert orders[0] != orders[1] != orders[2]  # set_epoch reshuffles
    assert epoch(EpochBatchSampler(50, 8, shuffle=True, seed=3), 1) == orders[1]
    assert epoch(EpochBatchSampler(50, 8, shuffle=True, seed=4), 1) != orders[1]
    # Resuming: a fresh sampler set straight to epoch 3 sees what an uninterrupted run saw at epoch 3.
    resumed = EpochBatchSampler(50, 8, shuffle=True, seed=3)
    resumed.set_epoch(3)
    assert epoch(resumed) == orders[3]


def test_no_shuffle_is_index_order_at_every_epoch():
    sampler = EpochBatchSampler(20, 6, shuffle=False, seed=9)
    for e in (0, 7):
        assert epoch(sampler, e) == [list(range(i, min(i + 6, 20))) for i in range(0, 20, 6)]


@pytest.mark.parametrize("shuffle", [True, False])
def test_tensor_loader_slices_whole_batches(shuffle, monkeypatch):
    g = torch.Generator().manual_seed(0)
    tensors = {
        "input": torch.randn(37, 5, 1, generator=g),
        "target": torch.randint(0, 2, (37, 5), generator=g),
        "mask": torch.rand(37, 5, generator=g) > 0.3,
    }
    calls = []
    original = TensorBatches.__getitem__
    monkeypatch.setattr(TensorBatches, "__getitem__", lambda self, i: calls.append(i) or original(self, i))
    loader = tensor_loader(tensors, batch_size=8, shuffle=shuffle, seed=2)
    loader.sampler.set_epoch(1)  # what Lightning does at every epoch start
    expected = EpochBatchSampler(37, 8, shuffle, seed=2)
    expected.set_epoch(1)
    batches = list(loader)
    assert len(batches) == len(loader) == 5
    for batch, index in zip(batches, expected, strict=True):
        assert batch.keys() == tensors.keys()
        for key, value in tensors.items():
            assert batch[key].shape == (len(index), *value.shape[1:]) and batch[key].dtype == value.dtype
            assert torch.equal(batch[key], value[index])
    # One dataset call per batch, with all its indices: no per-sample fetch and collate.
    assert len(calls) == 5 and all(c.ndim == 1 for c in calls)


@pytest.mark.parametrize("bucketed", [False, True])
def test_a_loader_resumed_inside_an_epoch_continues_where_it_stopped(bucketed):
    def loader():
        if not bucketed:
            return tensor_loader({"input": torch.arange(50)}, batch_size=4, shuffle=True, seed=3)
        lengths = torch.randint(1, 9, (50,), generator=torch.Generator().manual_seed(0))
        return tensor_loader(RaggedBatches({"input": torch.arange(int(lengths.sum()))}, lengths), 4, True, seed=3)

    interrupted = loader()
    interrupted.sampler.set_epoch(2)
    whole_epoch = [b["input"] for b in interrupted]
    interrupted.sampler.set_epoch(2)
    first = [b["input"] for _, b in zip(range(5), interrupted, strict=False)]
    state = interrupted.state_dict()
    assert state == {"epoch": 2, "batches": 5}

    resumed = loader()
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(2)
    rest = [b["input"] for b in resumed]
    assert [b.tolist() for b in first + rest] == [b.tolist() for b in whole_epoch]
    assert resumed.state_dict() == {"epoch": 2, "batches": len(whole_epoch)}
    # The position belongs to its epoch: the next epoch is whole, and so is a pass over another epoch.
    resumed.sampler.set_epoch(3)
    assert len(list(resumed)) == len(whole_epoch)
    other = loader()
    other.load_state_dict(state)
    other.sampler.set_epoch(4)
    assert len(list(other)) == len(whole_epoch)


def as_rank(monkeypatch, rank: int, world: int) -> None:
    """What torch.distributed answers inside a DDP process of rank ``rank`` among ``world``."""
    monkeypatch.setattr(batches.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(batches.dist, "get_rank", lambda: rank)
    monkeypatch.setattr(batches.dist, "get_world_size", lambda: world)


def ranks_epoch(monkeypatch, make_sampler, world: int, e: int) -> list[list[list[int]]]:
    """Each rank's batches of epoch ``e``: ranks_epoch(...)[rank][step] is a list of indices."""
    per_rank = []
    for rank in range(world):
        as_rank(monkeypatch, rank, world)
        sampler = make_sampler()
        per_rank.append(epoch(sampler, e))
        assert len(sampler) == len(per_rank[-1])
    return per_rank


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("bucketed", [False, True])
@pytest.mark.parametrize(("size", "batch_size"), [(64, 16), (37, 8), (33, 8), (10, 3), (5, 16), (3, 4)])
def test_ddp_shards_cover_every_sample_once_in_equal_step_counts(monkeypatch, size, batch_size, world, bucketed):
    lengths = torch.randint(1, 9, (size,), generator=torch.Generator().manual_seed(size)) if bucketed else None

    def make_sampler():
        return EpochBatchSampler(
            size, batch_size, True, seed=1, lengths=lengths, equal_tokens=bucketed, bucket=2, distributed=True
        )

    for e in range(2):
        per_rank = ranks_epoch(monkeypatch, make_sampler, world, e)
        assert len({len(steps) for steps in per_rank}) == 1  # DDP needs every rank at every step
        indices = [i for steps in per_rank for step in steps for i in step]
        assert sorted(indices) == list(range(size))  # nothing duplicated, nothing dropped
        global_batches = epoch(
            EpochBatchSampler(size, batch_size, True, seed=1, lengths=lengths, equal_tokens=bucketed, bucket=2), e
        )
        for step, shares in enumerate(zip(*per_rank, strict=True)):
            assert all(share for share in shares)  # no rank without samples
            assert max(map(len, shares)) - min(map(len, shares)) <= 1
            if len(per_rank[0]) == len(global_batches):  # no batch was too small to share: the 1-process steps
                assert sorted(i for share in shares for i in share) == sorted(global_batches[step])


def test_ddp_needs_a_sample_for_every_rank(monkeypatch):
    as_rank(monkeypatch, 0, 4)
    with pytest.raises(ValueError, match="3 samples cannot be shared by 4 processes"):
        epoch(EpochBatchSampler(3, 8, shuffle=False, distributed=True))


def test_ddp_shards_resume_inside_an_epoch(monkeypatch):
    as_rank(monkeypatch, 1, 2)
    loader = tensor_loader({"input": torch.arange(50)}, batch_size=8, shuffle=True, seed=3)
    whole = [b["input"].tolist() for b in loader]
    first = [b["input"].tolist() for _, b in zip(range(2), loader, strict=False)]
    resumed = tensor_loader({"input": torch.arange(50)}, batch_size=8, shuffle=True, seed=3)
    resumed.load_state_dict(loader.state_dict())
    assert first + [b["input"].tolist() for b in resumed] == whole


def test_single_process_loaders_ignore_the_process_group(monkeypatch):
    as_rank(monkeypatch, 1, 2)  # e.g. the character LM's own sampler, built without distributed=True
    assert epoch(EpochBatchSampler(10, 3, shuffle=False)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_mismatched_first_dimensions_raise():
    with pytest.raises(ValueError, match="first dimension"):
        TensorBatches({"input": torch.zeros(4, 2), "target": torch.zeros(5)})


def test_datamodule_loaders_cover_their_splits():
    dm = BitsDataModule("flip_stream", 10, {"train": 4096, "val": 512, "test": 512}, batch_size=32)
    val = dm.split("val")
    batches = list(dm.val_dataloader())
    assert torch.equal(torch.cat([b["input"] for b in batches]), val["input"])  # evaluation: in order
    train, source = torch.cat([b["input"] for b in dm.train_dataloader()]), dm.split("train")["input"]
    assert not torch.equal(train, source)  # training: shuffled, but every example exactly once
    assert sorted(train.flatten(1).tolist()) == sorted(source.flatten(1).tolist())


def show_data_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="show_data", overrides=list(overrides))


# task → (length of each list; None for one bit shown as a plain int)
LENGTHS = {"flip_bit": None, "flip_vector": 10, "flip_vector_padded": 10, "flip_stream": 10, "flip_if_same": 10}


@pytest.mark.parametrize("task", LENGTHS)
def test_example_records_are_flat_and_complete(task):
    records = example_records(show_data_cfg(f"task={task}", "n=5"))
    assert len(records) == 5
    for record in records:
        assert list(record) == (["input", "target", "mask"] if task == "flip_vector_padded" else ["input", "target"])
        for key, value in record.items():
            if LENGTHS[task] is None:
                assert isinstance(value, int)
            else:
                kind = bool if key == "mask" else int
                assert len(value) == LENGTHS[task] and all(type(v) is kind for v in value)


def test_example_records_follow_seq_len_and_split():
    records = example_records(
        show_data_cfg("task=flip_stream", "task.seq_len=50", "task.data.sizes.test=64", "split=test", "n=3")
    )
    assert [len(r["input"]) for r in records] == [50, 50, 50]
    assert all(t == 1 - x for r in records for x, t in zip(r["input"], r["target"], strict=True))
    # n beyond the split's size gives the whole split (flip_vector's val share of 2^10 is ~100 vectors).
    assert 50 < len(example_records(show_data_cfg("task=flip_vector", "split=val", "n=100000"))) < 200


def test_negative_n_is_a_config_error():
    with pytest.raises(ConfigError, match="n=-1"):
        example_records(show_data_cfg("task=flip_vector_padded", "n=-1"))


def test_print_examples_writes_json_lines():
    cfg = show_data_cfg("task=flip_vector_padded", "n=4")
    out = io.StringIO()
    print_examples(cfg, out)
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == example_records(cfg)
    assert len(lines) == 4


def shows_words_and_their_tags(record):
    return len(record["words"]) == len(record["tags"]) and all(tag.isupper() for tag in record["tags"])


def shows_text_and_the_next_characters(record):
    return record["input"][1:] == record["target"][:-1] and len(record["target"]) == len(record["input"])


SHAKESPEARE = "task.data.path=${paths.data_dir}/tinyshakespeare/input.txt"


@pytest.mark.parametrize(
    ("overrides", "readable"),
    [
        (["task=pos"], shows_words_and_their_tags),
        (["task=sentiment"], lambda r: r["label"] in {"positive", "negative"} and all(map(str.isascii, r["words"]))),
        (["task=char_lm", SHAKESPEARE], shows_text_and_the_next_characters),
        (["task=translate"], lambda r: re.fullmatch(r"\d{4}-\d\d-\d\d", r["target"]) and isinstance(r["source"], str)),
        (["task=caption"], lambda r: r["target"] == " ".join(NAMES[d] for d in r["source"])),
    ],
    ids=["pos", "sentiment", "shakespeare", "translate", "caption"],
)
def test_every_kind_of_task_shows_readable_examples(overrides, readable):
    records = example_records(show_data_cfg(*overrides, "n=3"))
    assert len(records) == 3 and all(readable(record) for record in records)


def test_a_split_the_data_lacks_is_one_line():
    with pytest.raises(ConfigError, match="split=test: this task's data has no test split"):
        example_records(show_data_cfg("task=pos", "split=test"))
