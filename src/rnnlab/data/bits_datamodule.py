"""The data module of the bit problems of :mod:`rnnlab.data.bits`."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from rnnlab.data.bits import PROBLEMS, generate_bits, make_examples
from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.errors import ConfigError


class BitsDataModule(InMemoryDataModule):
    def __init__(
        self,
        problem: str,
        length: int,
        sizes: dict[str, int],
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        disjoint: bool = True,
        initial_output: int = 0,
        **loader: Any,
    ) -> None:
        super().__init__(**loader)
        if problem not in PROBLEMS:
            raise ConfigError(f"unknown bit problem {problem!r}; available: {', '.join(PROBLEMS)}")
        self.problem = PROBLEMS[problem]
        self.length, self.sizes, self.fractions = length, dict(sizes), tuple(fractions)
        self.disjoint, self.initial_output = disjoint, initial_output

    def generate(self, name: str) -> dict[str, Tensor]:
        bits = generate_bits(
            self.problem,
            name,
            length=self.length,
            size=self.sizes[name],
            seed=self.seed,
            fractions=self.fractions,
            disjoint=self.disjoint,
        )
        return make_examples(self.problem, bits, self.initial_output)
