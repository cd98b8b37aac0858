"""Batches sliced straight from in-memory tensors, shuffled as a pure function of (seed, epoch).

Small generated data sets live in memory as a dict of tensors; a batch is one fancy-indexing per tensor,
with no per-sample Python collate. Workers would only add process start-up and IPC, so loaders use
``num_workers=0``. The order of epoch e depends only on (seed, e), and Lightning calls ``set_epoch`` at every
epoch start, so a run resumed at epoch e sees the same batches as one never interrupted.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler


class TensorBatches(Dataset):
    """Indexable by a 1-D index tensor; returns the rows of every tensor at once."""

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        sizes = {len(t) for t in tensors.values()}
        if len(sizes) != 1:
            raise ValueError(f"all tensors need the same first dimension, got {sizes}")
        self.tensors, self.size = tensors, sizes.pop()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: Tensor) -> dict[str, Tensor]:
        return {key: value[index] for key, value in self.tensors.items()}


class EpochBatchSampler(Sampler[Tensor]):
    """Yields index tensors of ``batch_size``; shuffled by (seed, epoch) when ``shuffle``."""

    def __init__(self, size: int, batch_size: int, shuffle: bool, seed: int = 0) -> None:
        self.size, self.batch_size, self.shuffle, self.seed = size, batch_size, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        yield from order.split(self.batch_size)


def tensor_loader(tensors: dict[str, Tensor], batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    dataset = TensorBatches(tensors)
    sampler = EpochBatchSampler(len(dataset), batch_size, shuffle, seed)
    # batch_size=None: the sampler already yields whole batches of indices.
    return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=0)
