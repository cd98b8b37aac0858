"""LightningDataModule for the bit problems of :mod:`rnnlab.data.bits`."""

from __future__ import annotations

import lightning as L
from torch import Tensor
from torch.utils.data import DataLoader

from rnnlab.data.batches import tensor_loader
from rnnlab.data.bits import PROBLEMS, SPLITS, generate_bits, make_examples


class BitsDataModule(L.LightningDataModule):
    def __init__(
        self,
        problem: str,
        length: int,
        sizes: dict[str, int],
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        disjoint: bool = True,
        initial_output: int = 0,
        batch_size: int = 32,
        eval_batch_size: int = 1024,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if problem not in PROBLEMS:
            raise ValueError(f"unknown bit problem {problem!r}; available: {', '.join(PROBLEMS)}")
        self.problem = PROBLEMS[problem]
        self.length, self.sizes, self.fractions = length, dict(sizes), tuple(fractions)
        self.disjoint, self.initial_output, self.seed = disjoint, initial_output, seed
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self._splits: dict[str, dict[str, Tensor]] = {}

    def split(self, name: str) -> dict[str, Tensor]:
        """All examples of one split (generated once, then cached)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {name!r}")
        if name not in self._splits:
            bits = generate_bits(
                self.problem,
                name,
                length=self.length,
                size=self.sizes[name],
                seed=self.seed,
                fractions=self.fractions,
                disjoint=self.disjoint,
            )
            self._splits[name] = make_examples(self.problem, bits, self.initial_output)
        return self._splits[name]

    def setup(self, stage: str | None = None) -> None:
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, SPLITS)
        for name in needed:
            self.split(name)

    def train_dataloader(self) -> DataLoader:
        return tensor_loader(self.split("train"), self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> DataLoader:
        return tensor_loader(self.split("val"), self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return tensor_loader(self.split("test"), self.eval_batch_size, shuffle=False)
