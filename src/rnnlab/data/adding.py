"""The adding problem (Hochreiter & Schmidhuber 1997; in this form Arjovsky et al. 2016): a regression over time.

Each step carries two numbers: a value drawn from U[0, 1], and a marker, 1.0 at exactly two steps (one in the
first half of the sequence, one in the second) and 0 elsewhere::

    channel 0   0.71  0.12  0.93  0.40  0.05  0.66      values, U[0, 1]
    channel 1   0     1     0     0     1     0         markers: one per half
    target      0.12 + 0.05 = 0.17                      the sum of the two marked values

The network must hold the first marked value from somewhere in the first half until the end: about 3T/4 steps
on average, up to T − 1. Input (N, T, 2) float, target (N,) float.

A network that ignores the input does best by predicting the mean, 1: the sum of two independent U[0, 1] has
variance 2 · 1/12, so that constant scores :data:`ADDING_BASELINE_MSE` = 1/6. A model learns the task only where its
mean squared error falls well below that.

Training examples are drawn afresh every epoch (``resample``), a pure function of (seed, epoch); validation and
test are fixed by the seed. The values are continuous, so two splits share an example with probability 0: no
content hash is needed to keep them apart.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.data.splits import SPLITS, split_generator
from rnnlab.errors import ConfigError

ADDING_BASELINE_MSE = 1 / 6  # the MSE of always predicting 1, the mean target


def generate_adding(generator: torch.Generator, count: int, seq_len: int) -> dict[str, Tensor]:
    """``count`` examples: ``input`` (count, seq_len, 2) (values, markers) and ``target`` (count,) the sum of the
    two marked values; one marker at a uniform step of [0, T // 2), the other of [T // 2, T)."""
    half = seq_len // 2
    values = torch.rand(count, seq_len, generator=generator)
    first = torch.randint(0, half, (count,), generator=generator)
    second = torch.randint(half, seq_len, (count,), generator=generator)
    markers = torch.zeros(count, seq_len)
    rows = torch.arange(count)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return {"input": torch.stack([values, markers], dim=-1), "target": values[rows, first] + values[rows, second]}


class AddingDataModule(InMemoryDataModule):
    """The adding problem's splits (module docstring): ``sizes`` examples per split of ``seq_len`` steps.

    ``resample`` (default true): fresh training examples every epoch, ``generate_train_epoch(e)``, a pure function
    of (seed, e), so a resumed run trains on what an uninterrupted one did; false trains on epoch 0's throughout.
    """

    def __init__(
        self,
        seq_len: int,
        sizes: dict[str, int],
        resample: bool = True,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)
        if not seq_len >= 2:
            raise ConfigError(f"task.seq_len={seq_len} must be at least 2: one marker in each half of the sequence")
        for split in SPLITS:
            size = sizes.get(split)
            if not (isinstance(size, int) and size > 0):
                raise ConfigError(
                    f"task.data.sizes.{split}={size!r} must be a positive integer, e.g. task.data.sizes.{split}=1000"
                )
        self.seq_len, self.sizes, self.resample_train = seq_len, dict(sizes), resample

    def generate(self, name: str) -> dict[str, Tensor]:
        return self._examples(name, epoch=0)

    def generate_train_epoch(self, epoch: int) -> dict[str, Tensor]:
        return self._examples("train", epoch)

    def _examples(self, name: str, epoch: int) -> dict[str, Tensor]:
        generator = split_generator(self.seed, SPLITS.index(name), epoch)
        return generate_adding(generator, self.sizes[name], self.seq_len)
