"""Batches sliced straight from in-memory tensors, shuffled as a pure function of (seed, epoch).

Small generated data sets live in memory as a dict of tensors; a batch is one fancy-indexing per tensor,
with no per-sample Python collate. Workers would only add process start-up and IPC, so loaders use
``num_workers=0``. The order of epoch e depends only on (seed, e), and Lightning calls ``set_epoch`` at every
epoch start, so a run resumed at epoch e sees the same batches as one never interrupted. A run resumed inside an epoch
(from a checkpoint written at a mid-epoch validation) continues that epoch after the batches already trained
on: the loader keeps its position (:class:`ResumableLoader`) through Lightning's checkpoints.

Under DDP (``trainer=ddp``/``ddp_cpu``) ``batch_size`` is the global batch: every rank draws the same global
batches and keeps its share of each (:func:`shard`), so a step sees the samples a one-process step would.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler, SequentialSampler

IGNORE = -100  # the target at padded positions: cross_entropy's ignore_index, skipped by every metric


class IndexedBatches(Dataset):
    """A dataset whose items are whole batches: indexed by a 1-D index tensor, or by a list of them (a group of
    batches trained in one Lightning step, see :class:`EpochBatchSampler`), giving a list of batches."""

    def __getitem__(self, index: Tensor | list[Tensor]) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        return [self.batch(i) for i in index] if isinstance(index, list) else self.batch(index)

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError


class TensorBatches(IndexedBatches):
    """Indexable by a 1-D index tensor; returns the rows of every tensor at once."""

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        sizes = {len(t) for t in tensors.values()}
        if len(sizes) != 1:
            raise ValueError(f"all tensors need the same first dimension, got {sizes}")
        self.tensors, self.size = tensors, sizes.pop()

    def __len__(self) -> int:
        return self.size

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        return {key: value[index] for key, value in self.tensors.items()}


class EpochTensorBatches(IndexedBatches):
    """Tensors drawn afresh every epoch: ``make(epoch)`` gives epoch e's dict of equal-length tensors, as many
    rows every epoch (``first``: epoch 0's, when already made). Only the current epoch's are kept.

    The epoch is that of the sampler drawing the indices (:meth:`follow`; :func:`tensor_loader` attaches it), read
    when a batch is taken: Lightning calls the sampler's ``set_epoch`` before an epoch's first batch, though not
    always before the loader is iterated, so a batch's rows and its place in the order come from the same epoch.
    A run resumed in epoch e therefore trains on ``make(e)``, as an uninterrupted one did."""

    def __init__(self, make: Callable[[int], dict[str, Tensor]], first: dict[str, Tensor] | None = None) -> None:
        self.make, self.epoch, self.sampler = make, 0, None
        self.current = TensorBatches(make(0) if first is None else first)

    def follow(self, sampler: EpochBatchSampler) -> None:
        """Take the epoch from ``sampler`` (epoch 0 until one is followed)."""
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.current)

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        epoch = 0 if self.sampler is None else self.sampler.epoch
        if epoch != self.epoch:
            tensors = TensorBatches(self.make(epoch))
            if len(tensors) != len(self.current):
                raise ValueError(
                    f"epoch {epoch} made {len(tensors)} examples, epoch {self.epoch} {len(self.current)}: the sampler "
                    "needs as many every epoch"
                )
            self.epoch, self.current = epoch, tensors
        return self.current.batch(index)


class RaggedBatches(IndexedBatches):
    """Variable-length sequences stored end to end; a batch comes back right-padded, with ``lengths``.

    ``tokens`` hold one row per token of every sequence, concatenated (``lengths`` says where each ends);
    ``sequences`` hold one row per sequence. A batch pads each token tensor to its longest member with
    ``pad_values[key]`` (default 0) in one gather, and adds ``mask`` (N, T) when ``target`` is per token.
    """

    def __init__(
        self,
        tokens: dict[str, Tensor],
        lengths: Tensor,
        sequences: dict[str, Tensor] | None = None,
        pad_values: dict[str, int] | None = None,
    ) -> None:
        if any(len(t) != int(lengths.sum()) for t in tokens.values()):
            raise ValueError("every token tensor needs one row per token (sum of lengths)")
        self.tokens, self.lengths, self.sequences = tokens, lengths, sequences or {}
        self.pad_values = pad_values or {}
        self.starts = torch.cumsum(lengths, 0) - lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, index: Tensor) -> dict[str, Tensor]:
        lengths = self.lengths[index]
        steps = torch.arange(int(lengths.max()))
        valid = steps < lengths.unsqueeze(1)
        rows = torch.where(valid, self.starts[index].unsqueeze(1) + steps, 0)
        batch = {key: value[index] for key, value in self.sequences.items()}
        for key, value in self.tokens.items():
            pad = torch.tensor(self.pad_values.get(key, 0), dtype=value.dtype)
            mask = valid.view(*valid.shape, *([1] * (value.dim() - 1)))
            batch[key] = torch.where(mask, value[rows], pad)
        batch["lengths"] = lengths
        if "target" in self.tokens:
            batch["mask"] = valid
        return batch


class EpochBatchSampler(Sampler[Tensor]):
    """Yields index tensors of ``batch_size``; shuffled by (seed, epoch) when ``shuffle``.

    With ``lengths`` (variable-length sequences), a shuffled epoch is cut into buckets of ``bucket`` batches,
    each sorted by length and split into as many batches as before; then the batches are shuffled. Little of a
    batch is padding. With ``equal_tokens`` (a loss averaged over tokens, as in tagging) a bucket's batches hold
    about the same number of tokens (many short sequences or a few long ones), so every token weighs about the
    same, as with random batches: equal-count batches of short sentences would give each of their few tokens
    many times the weight. Without it (a loss averaged over sequences) they hold equal numbers of sequences.

    With ``group`` > 1 it yields lists of up to ``group`` consecutive batches of that same order, each list one
    Lightning step (one optimizer step per batch): small models spend less time in the framework's per-step
    machinery, and train exactly as with one batch per step.

    With ``distributed`` it reads the rank and world size from ``torch.distributed`` when iterated (Lightning
    starts the process group before any loader is), and each rank gets its share of every global batch
    (:func:`shard`); the position in ``state_dict`` then counts these shares, as many on every rank.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        lengths: Tensor | None = None,
        equal_tokens: bool = False,
        bucket: int = 50,
        group: int = 1,
        distributed: bool = False,
    ) -> None:
        self.size, self.batch_size, self.shuffle, self.seed, self.group = size, batch_size, shuffle, seed, group
        self.lengths, self.equal_tokens, self.bucket = lengths, equal_tokens, bucket
        self.distributed = distributed
        self.epoch = 0
        self.served = 0  # batches handed out in the current pass
        self.resume_at: dict[str, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        rank, world = self.rank_and_world()
        batches = math.ceil(self.size / self.batch_size) if world == 1 else sum(1 for _ in self.shares(rank, world))
        return math.ceil(batches / self.group)

    def rank_and_world(self) -> tuple[int, int]:
        """This process's rank and the number of processes sharing the data ((0, 1) when not sharded)."""
        if self.distributed and dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def shares(self, rank: int, world: int) -> Iterator[Tensor]:
        """This rank's part of each of the epoch's batches."""
        return self.epoch_batches() if world == 1 else shard(self.epoch_batches(), rank, world)

    def state_dict(self) -> dict[str, int]:
        """The position: the epoch and how many of its batches (not groups) were handed out."""
        return {"epoch": self.epoch, "batches": self.served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """The next pass over ``state["epoch"]`` starts after its first ``state["batches"]`` batches."""
        self.resume_at = dict(state)

    def __iter__(self) -> Iterator[Tensor]:
        skip = 0
        if self.resume_at is not None and self.resume_at["epoch"] == self.epoch:
            skip = self.resume_at["batches"]
        self.resume_at, self.served = None, skip
        # The order is recomputed whole, so the batches after the skipped ones are those of an uninterrupted pass.
        batches = itertools.islice(self.shares(*self.rank_and_world()), skip, None)
        if self.group == 1:
            for batch in batches:
                self.served += 1
                yield batch
            return
        while group := list(itertools.islice(batches, self.group)):
            self.served += len(group)
            yield group

    def epoch_batches(self) -> Iterator[Tensor]:
        if not self.shuffle:
            yield from torch.arange(self.size).split(self.batch_size)
            return
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        if self.lengths is None:
            yield from order.split(self.batch_size)
            return
        batches = []
        for chunk in order.split(self.bucket * self.batch_size):
            by_length = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            parts = math.ceil(len(chunk) / self.batch_size)
            sizes = equal_token_sizes(self.lengths[by_length], parts) if self.equal_tokens else self.batch_size
            batches += by_length.split(sizes)
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[i]


def shard(batches: Iterator[Tensor], rank: int, world: int) -> Iterator[Tensor]:
    """Rank ``rank``'s share of each global batch: every ``world``-th index (sizes differ by at most one, and
    length-sorted batches give every rank a like mix of lengths). A batch smaller than ``world`` would leave a rank
    with nothing to train on (DDP needs every rank in every step), so it joins its neighbour. Over the ranks each
    index comes exactly once; every rank gets as many batches."""
    held = None
    for batch in batches:
        if held is not None and (len(held) < world or len(batch) < world):
            held = torch.cat([held, batch])
            continue
        if held is not None:
            yield held[rank::world]
        held = batch
    if held is not None:
        if len(held) < world:
            raise ValueError(f"{len(held)} samples cannot be shared by {world} processes; use fewer processes")
        yield held[rank::world]


class InOrderBatchSampler(EpochBatchSampler, SequentialSampler):
    """An :class:`EpochBatchSampler` without shuffling. To Lightning it is a ``SequentialSampler``, which it then
    leaves in place (``trainer.overfit_batches`` would otherwise try to swap in one of its own)."""


def batch_sampler(size: int, batch_size: int, shuffle: bool, **settings) -> EpochBatchSampler:
    """An :class:`EpochBatchSampler`, or an :class:`InOrderBatchSampler` when not shuffling."""
    return (EpochBatchSampler if shuffle else InOrderBatchSampler)(size, batch_size, shuffle, **settings)


def equal_token_sizes(lengths: Tensor, parts: int) -> list[int]:
    """Sizes of ``parts`` consecutive, non-empty groups of ``lengths`` holding about equal sums."""
    cumulative = torch.cumsum(lengths, 0)
    targets = cumulative[-1] * torch.arange(1, parts) / parts
    ends = torch.searchsorted(cumulative, targets, right=True).tolist()
    bounds = [0]
    for i, end in enumerate(ends):  # at least one sequence per group, and room left for the groups after
        bounds.append(min(max(end, bounds[-1] + 1), len(lengths) - (parts - 1 - i)))
    bounds.append(len(lengths))
    return [b - a for a, b in itertools.pairwise(bounds)]


class ResumableLoader(DataLoader):
    """A loader of whole batches (``batch_size=None``) drawn by an :class:`EpochBatchSampler`, resumable inside
    an epoch through Lightning's loader protocol (``state_dict`` / ``load_state_dict``).

    Lightning stores the state in every checkpoint and, when a run restarts inside an epoch, loads it before
    iterating again. Lightning fetches no batch ahead from a loader with a length, so the count saved is the
    number of batches the model has trained on.

    Its own (unused) generator: a DataLoader without one draws a seed for its workers from the global generator
    every time it is iterated, so each validation would shift the dropout masks of the training after it, and a
    resumed run, which iterates its train loader one extra time, would not replay an uninterrupted one.
    """

    def __init__(self, dataset: Dataset, sampler: EpochBatchSampler) -> None:
        super().__init__(dataset, sampler=sampler, batch_size=None, num_workers=0, generator=torch.Generator())

    def state_dict(self) -> dict[str, int]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)


def tensor_loader(
    tensors: dict[str, Tensor] | IndexedBatches, batch_size: int, shuffle: bool, seed: int = 0, group: int = 1
) -> ResumableLoader:
    """Batches of a dict of equal-length tensors, or of an :class:`IndexedBatches` (an :class:`EpochTensorBatches`
    follows the loader's epoch); ``group`` batches per item; under DDP each rank's share of every global batch of
    ``batch_size``."""
    dataset = TensorBatches(tensors) if isinstance(tensors, dict) else tensors
    lengths = getattr(dataset, "lengths", None)
    per_token_target = "target" in getattr(dataset, "tokens", {})
    sampler = batch_sampler(
        len(dataset),
        batch_size,
        shuffle,
        seed=seed,
        lengths=lengths,
        equal_tokens=per_token_target,
        group=group,
        distributed=True,
    )
    if isinstance(dataset, EpochTensorBatches):
        dataset.follow(sampler)
    return ResumableLoader(dataset, sampler)
