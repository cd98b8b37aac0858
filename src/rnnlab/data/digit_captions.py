"""One-to-many data: scikit-learn's bundled 8×8 handwritten digits (1,797 images, no download), each captioned
with its digit's English name ("seven"). The split is stratified by digit and shuffled by ``split_seed`` alone,
so every training seed is tested on the same held-out images."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.data.alphabet import Alphabet, Alphabets, teacher_forcing
from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.data.splits import SPLITS
from rnnlab.errors import ConfigError

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def stratified_split(labels: Tensor, fractions: tuple[float, ...], seed: int) -> dict[str, Tensor]:
    """Indices of each split: every label's examples shuffled by ``seed`` and cut by ``fractions``."""
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[Tensor]] = {name: [] for name in SPLITS}
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        cuts = torch.tensor([0.0, *fractions]).cumsum(0).mul(len(members)).round().long().tolist()
        for i, name in enumerate(SPLITS):
            parts[name].append(members[cuts[i] : cuts[i + 1]])
    return {name: torch.cat(p).sort().values for name, p in parts.items()}


class DigitCaptionDataModule(InMemoryDataModule):
    def __init__(
        self,
        fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
        split_seed: int = 0,
        vocab: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if len(fractions) != 3:
            raise ConfigError(f"task.data.fractions={list(fractions)} must be three shares (train, val, test)")
        self.fractions, self.split_seed = tuple(fractions), split_seed
        self.vocab = Alphabets.from_dict(vocab) if vocab is not None else Alphabets(Alphabet.of(NAMES, markers=True))
        self._images: Tensor | None = None

    def images(self) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """(images (N, 8, 8) in [0, 1], digits (N,), split indices)."""
        if self._images is None:
            from sklearn.datasets import load_digits  # ships with scikit-learn: no download

            digits = load_digits()
            self._images = torch.tensor(digits.images, dtype=torch.float32) / 16.0
            self._digits = torch.tensor(digits.target)
            self._index = stratified_split(self._digits, self.fractions, self.split_seed)
        return self._images, self._digits, self._index

    def generate(self, name: str) -> dict[str, Tensor]:
        images, digits, index = self.images()
        rows = index[name]
        captions = [NAMES[d] for d in digits[rows].tolist()]
        decoder_input, target = teacher_forcing(self.vocab.target, captions)
        return {"source": images[rows], "decoder_input": decoder_input, "target": target, "digit": digits[rows]}
