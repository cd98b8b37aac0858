"""Ragged sequences stored end to end: batches come back right-padded (targets with IGNORE), with lengths and a
mask, and a shuffled loader visits every sequence exactly once per epoch."""

from __future__ import annotations

import pytest
import torch

from rnnlab.data.batches import IGNORE, EpochBatchSampler, RaggedBatches, equal_token_sizes, tensor_loader

LENGTHS = [3, 1, 4, 2, 5]


def sequences(lengths=LENGTHS, seed: int = 0):
    """Per-sequence lists of token rows: word-id rows (T, 3), a target (T,) and a float feature (T,)."""
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "input": torch.randint(1, 50, (n, 3), generator=g),
            "target": torch.randint(0, 7, (n,), generator=g),
            "weight": torch.rand(n, generator=g) + 1,
        }
        for n in lengths
    ]


def ragged(seqs, **kwargs) -> RaggedBatches:
    tokens = {key: torch.cat([s[key] for s in seqs]) for key in seqs[0]}
    return RaggedBatches(tokens, torch.tensor([len(s["target"]) for s in seqs]), **kwargs)


@pytest.mark.parametrize("index", [[0], [1], [2, 0, 3], [4, 1], [3, 2, 1, 0, 4], [2, 2]])
def test_batches_are_right_padded_copies_of_the_stored_sequences(index):
    seqs = sequences()
    pad_values = {"target": IGNORE, "input": 0, "weight": -1}
    batch = ragged(seqs, pad_values=pad_values)[torch.tensor(index)]
    longest = max(LENGTHS[i] for i in index)
    assert set(batch) == {"input", "target", "weight", "lengths", "mask"}
    assert batch["lengths"].tolist() == [LENGTHS[i] for i in index]
    assert batch["input"].shape == (len(index), longest, 3) and batch["input"].dtype == torch.long
    assert batch["target"].shape == batch["mask"].shape == (len(index), longest)
    assert batch["weight"].dtype == torch.float32 and batch["mask"].dtype == torch.bool
    for row, i in enumerate(index):
        n = LENGTHS[i]
        assert batch["mask"][row].tolist() == [True] * n + [False] * (longest - n)
        for key, pad in pad_values.items():
            assert torch.equal(batch[key][row, :n], seqs[i][key])
            assert (batch[key][row, n:] == pad).all()


def test_padding_defaults_to_zero():
    batch = ragged(sequences())[torch.tensor([1, 4])]
    assert (batch["target"][0, 1:] == 0).all() and (batch["input"][0, 1:] == 0).all()


@pytest.mark.parametrize("per_sequence_target", [False, True])
def test_mask_only_for_a_per_token_target(per_sequence_target):
    seqs = [{"input": s["input"]} for s in sequences()]
    labels = torch.arange(len(seqs)) * 10
    extra = {"target": labels} if per_sequence_target else {"id": labels}
    data = RaggedBatches({"input": torch.cat([s["input"] for s in seqs])}, torch.tensor(LENGTHS), sequences=extra)
    batch = data[torch.tensor([3, 0])]
    assert "mask" not in batch
    key = "target" if per_sequence_target else "id"
    assert batch[key].tolist() == [30, 0]  # one value per sequence, not padded
    assert batch["input"].shape == (2, 3, 3)


def test_tokens_must_add_up_to_the_lengths():
    with pytest.raises(ValueError, match="one row per token"):
        RaggedBatches({"input": torch.zeros(9, 3), "target": torch.zeros(10)}, torch.tensor(LENGTHS))


@pytest.mark.parametrize("shuffle", [True, False])
def test_loader_visits_every_sequence_exactly_once_per_epoch(shuffle):
    lengths = [(i * 7) % 5 + 1 for i in range(23)]
    seqs = sequences(lengths, seed=1)
    data = ragged(seqs, sequences={"id": torch.arange(len(seqs))}, pad_values={"target": IGNORE})
    loader = tensor_loader(data, batch_size=4, shuffle=shuffle, seed=3)
    orders = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)  # what Lightning does at every epoch start
        batches = list(loader)
        assert len(batches) == len(loader) == 6
        order = []
        for batch in batches:
            assert batch["target"].shape[1] == int(batch["lengths"].max())  # padded to the batch's longest only
            for row, i in enumerate(batch["id"].tolist()):
                assert torch.equal(batch["target"][row][batch["mask"][row]], seqs[i]["target"])
                assert torch.equal(batch["input"][row, : lengths[i]], seqs[i]["input"])
                order.append(i)
        assert sorted(order) == list(range(len(seqs)))
        orders.append(order)
    if shuffle:
        assert orders[0] != orders[1] and orders[0] != list(range(len(seqs)))
    else:
        assert orders[0] == orders[1] == list(range(len(seqs)))


def zipf_lengths(size: int, seed: int = 0) -> torch.Tensor:
    """Sentence-like lengths: mostly short, a long tail."""
    generator = torch.Generator().manual_seed(seed)
    uniform = torch.rand(size, generator=generator)
    return (2 * uniform.pow(-1 / 1.5)).clamp(max=150).long()  # Pareto tail, minimum 2


@pytest.mark.parametrize("equal_tokens", [True, False])
@pytest.mark.parametrize(("size", "batch_size", "bucket"), [(1000, 32, 50), (1000, 32, 3), (70, 8, 2), (5, 8, 50)])
def test_length_buckets_cover_the_epoch_with_the_usual_number_of_batches(size, batch_size, bucket, equal_tokens):
    lengths = zipf_lengths(size)
    sampler = EpochBatchSampler(
        size, batch_size, shuffle=True, seed=3, lengths=lengths, equal_tokens=equal_tokens, bucket=bucket
    )
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler) == -(-size // batch_size)
        assert sorted(torch.cat(batches).tolist()) == list(range(size))


def test_length_buckets_cut_padding_and_balance_tokens_per_batch():
    lengths = zipf_lengths(3200)
    bucketed = list(EpochBatchSampler(3200, 32, shuffle=True, seed=0, lengths=lengths, equal_tokens=True))
    shuffled = list(EpochBatchSampler(3200, 32, shuffle=True, seed=0))

    def padding(batches):
        return 1 - sum(int(lengths[b].sum()) for b in batches) / sum(len(b) * int(lengths[b].max()) for b in batches)

    assert padding(bucketed) < 0.2 < padding(shuffled)
    tokens = torch.tensor([int(lengths[b].sum()) for b in bucketed if lengths[b].max() < 100]).float()
    # Batches of short sentences hold more of them: tokens (the loss's weights) stay even.
    assert tokens.std() / tokens.mean() < 0.25


def test_sequence_level_buckets_hold_batch_size_sequences():
    lengths = zipf_lengths(3200)
    batches = list(EpochBatchSampler(3200, 32, shuffle=True, seed=0, lengths=lengths))
    assert {len(b) for b in batches} == {32}
    assert all(lengths[b].max() - lengths[b].min() <= 0.5 * lengths[b].max() for b in batches if lengths[b].max() < 20)


@pytest.mark.parametrize(
    ("lengths", "parts", "sizes"),
    [([1, 1, 2, 2, 4, 4, 8, 8], 2, [6, 2]), ([1] * 8, 4, [2, 2, 2, 2]), ([1, 1, 1, 1, 200], 4, [2, 1, 1, 1])],
)
def test_equal_token_sizes(lengths, parts, sizes):
    assert equal_token_sizes(torch.tensor(lengths), parts) == sizes
