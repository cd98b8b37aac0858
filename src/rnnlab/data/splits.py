"""The three splits every data module serves, and how generated data is kept apart between them: a pure function
of (seed, split), and, for data that could repeat, a content hash that puts equal inputs in the same split."""

from __future__ import annotations

import torch
from torch import Tensor

SPLITS = ("train", "val", "test")
# Input spaces up to this size are enumerated and partitioned; larger ones are sampled and filtered by the hash.
ENUMERATE_LIMIT = 2**16
_HASH_BUCKETS = 10_000


def seeded(seed: int, *salt: int) -> torch.Generator:
    """A generator for ``seed`` mixed with ``salt`` (a split id, a purpose), unrelated to ``seed``'s own stream."""
    mixed = seed
    for s in salt:
        mixed = (mixed * 1_000_003 + s + 1) % 2**62
    return torch.Generator().manual_seed(mixed)


def split_generator(seed: int, split_id: int, epoch: int = 0) -> torch.Generator:
    """The stream of one split (and, for a training split drawn afresh, one epoch). Offset from ``seed`` alone,
    which seeds the model's initial weights: the streams stay unrelated. Epoch e of a resampled training split takes
    the stream 3e past epoch 0's: never a held-out split's, nor (for fewer than 333,334 epochs) another seed's.
    (torch keeps only a seed's low 32 bits: no room for a wide offset.)"""
    return torch.Generator().manual_seed(seed * 1_000_003 + split_id + 1 + len(SPLITS) * epoch)


def split_of(bits: Tensor, seed: int, fractions: tuple[float, float, float]) -> Tensor:
    """The split index (0 train, 1 val, 2 test) of each input row: a seeded hash of its content, so equal
    inputs always land in the same split."""
    weights = torch.randint(1, 2**31, (bits.size(1),), generator=seeded(seed, 7919))
    bucket = ((bits + 1) * weights).sum(dim=1).remainder(_HASH_BUCKETS)  # + 1: PAD = −1 counts too
    bounds = torch.tensor(fractions).cumsum(0) * _HASH_BUCKETS
    return torch.bucketize(bucket, bounds[:-1].round().long(), right=True)
