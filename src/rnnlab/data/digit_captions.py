"""One-to-many data: images composed of scikit-learn's bundled 8×8 handwritten digits (1,797 images, no download)
set side by side, each captioned with its digits' English names ("three one four").

Nothing a test image holds was seen in training, so the decoder has to compose its caption rather than recall it:

- the digit images are split stratified by digit and shuffled by ``split_seed`` alone, so every training seed is
  tested on the same held-out handwriting, and an image is only ever composed from its own split's digit images;
- every combination of ``min_digits`` … ``max_digits`` digits (an ordered tuple: "3 1 4" ≠ "1 3 4") belongs to
  exactly one split, also shuffled by ``split_seed``, so no test caption is ever a training caption. Single digits
  are the exception: with nothing to compose, all ten are in every split (only their images are held out).

A split's examples draw a number of digits uniformly, then a combination of that many from the split, then for each
digit one of the split's images of it; the validation and test examples are a pure function of ``split_seed``, the
training examples of (``seed``, epoch), drawn afresh every epoch when ``resample``. Images are laid left to right on
a blank canvas as wide as ``max_digits`` digits (8 × 8·``max_digits`` pixels), the width the image encoder reads.

``max_digits=1`` is the single-digit variant: each image of a split once, captioned "zero" … "nine" (``sizes`` and
``resample`` do not apply).
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from rnnlab.data.alphabet import Alphabet, Alphabets, teacher_forcing
from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.data.splits import SPLITS, seeded, split_generator
from rnnlab.errors import ConfigError

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SIDE = 8  # pixels: each bundled digit image is SIDE × SIDE
NO_DIGIT = -1  # in ``digits``: past the image's last digit
_COMBINATIONS_SALT = 271  # split_seed's stream for the combinations, apart from the images' one


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


def split_combinations(count: int, fractions: tuple[float, ...], seed: int) -> dict[str, Tensor]:
    """Every ordered combination of ``count`` digits, (10**count, count), dealt to the splits: shuffled by ``seed``
    and cut by ``fractions``. A single digit is in every split: there is nothing to hold out but its images."""
    every = torch.tensor(list(itertools.product(range(len(NAMES)), repeat=count)), dtype=torch.long)
    if count == 1:
        return dict.fromkeys(SPLITS, every)
    every = every[torch.randperm(len(every), generator=seeded(seed, _COMBINATIONS_SALT, count))]
    cuts = torch.tensor([0.0, *fractions]).cumsum(0).mul(len(every)).round().long().tolist()
    return {name: every[cuts[i] : cuts[i + 1]] for i, name in enumerate(SPLITS)}


def caption_of(digits: list[int]) -> str:
    """ "three one four" for [3, 1, 4] (``NO_DIGIT`` padding skipped)."""
    return " ".join(NAMES[d] for d in digits if d != NO_DIGIT)


def compose(images: Tensor, chosen: Tensor, width: int) -> Tensor:
    """(N, SIDE, width) canvases, each holding the images ``chosen`` (N, K) indices (NO_DIGIT: blank) side by side
    from the left."""
    canvas = torch.zeros(len(chosen), SIDE, width)
    for position in range(chosen.size(1)):
        present = chosen[:, position] != NO_DIGIT
        columns = slice(position * SIDE, (position + 1) * SIDE)
        canvas[present, :, columns] = images[chosen[present, position]]
    return canvas


class DigitCaptionDataModule(InMemoryDataModule):
    def __init__(
        self,
        min_digits: int = 2,
        max_digits: int = 4,
        sizes: dict[str, int] | None = None,
        resample: bool = True,
        fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
        split_seed: int = 0,
        vocab: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if len(fractions) != 3:
            raise ConfigError(f"task.data.fractions={list(fractions)} must be three shares (train, val, test)")
        if not (isinstance(min_digits, int) and isinstance(max_digits, int) and 1 <= min_digits <= max_digits):
            raise ConfigError(
                f"task.data.min_digits={min_digits!r}, task.data.max_digits={max_digits!r}: digits per image must be "
                "whole numbers with 1 <= min_digits <= max_digits (e.g. 2 and 4; 1 and 1 for single digits)"
            )
        sizes = dict(sizes or {"train": 10_000, "val": 1_000, "test": 2_000})
        if max_digits > 1:
            for split in SPLITS:
                size = sizes.get(split)
                if not (isinstance(size, int) and size > 0):
                    raise ConfigError(f"task.data.sizes.{split}={size!r} must be a positive integer, e.g. 1000")
        self.fractions, self.split_seed = tuple(fractions), split_seed
        self.min_digits, self.max_digits, self.sizes = min_digits, max_digits, sizes
        self.resample_train = resample and max_digits > 1
        # The space between words only where captions have several.
        texts = [*NAMES, " "] if max_digits > 1 else NAMES
        self.vocab = Alphabets.from_dict(vocab) if vocab is not None else Alphabets(Alphabet.of(texts, markers=True))
        self._images: Tensor | None = None
        self._combinations: dict[int, dict[str, Tensor]] = {}

    @property
    def width(self) -> int:
        """The canvas width in pixels: ``max_digits`` digits side by side."""
        return SIDE * self.max_digits

    def images(self) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """(digit images (1797, 8, 8) in [0, 1], their digits (1797,), each split's image indices)."""
        if self._images is None:
            from sklearn.datasets import load_digits  # ships with scikit-learn: no download

            digits = load_digits()
            self._images = torch.tensor(digits.images, dtype=torch.float32) / 16.0
            self._digits = torch.tensor(digits.target)
            self._index = stratified_split(self._digits, self.fractions, self.split_seed)
        return self._images, self._digits, self._index

    def combinations(self, count: int) -> dict[str, Tensor]:
        """Each split's combinations of ``count`` digits, (C, count): disjoint across splits when count > 1."""
        if count not in self._combinations:
            self._combinations[count] = split_combinations(count, self.fractions, self.split_seed)
        return self._combinations[count]

    def generate(self, name: str) -> dict[str, Tensor]:
        if self.max_digits == 1:
            return self._single_digits(name)
        generator = seeded(self.split_seed, SPLITS.index(name)) if name != "train" else split_generator(self.seed, 0)
        return self._examples(name, generator)

    def generate_train_epoch(self, epoch: int) -> dict[str, Tensor]:
        return self._examples("train", split_generator(self.seed, 0, epoch))

    def _single_digits(self, name: str) -> dict[str, Tensor]:
        """Every digit image of the split once, captioned with its name."""
        images, digits, index = self.images()
        rows = index[name]
        return self._batch(images[rows], digits[rows].unsqueeze(1))

    def _examples(self, name: str, generator: torch.Generator) -> dict[str, Tensor]:
        """``sizes[name]`` composed images of the split, drawn with ``generator``."""
        images, digit_of_image, index = self.images()
        size = self.sizes[name]
        counts = torch.randint(self.min_digits, self.max_digits + 1, (size,), generator=generator)
        digits = torch.full((size, self.max_digits), NO_DIGIT, dtype=torch.long)
        for count in range(self.min_digits, self.max_digits + 1):
            rows = (counts == count).nonzero().squeeze(1)
            pool = self.combinations(count)[name]
            digits[rows, :count] = pool[torch.randint(len(pool), (len(rows),), generator=generator)]
        # Each digit drawn as one of the split's images of it.
        chosen = torch.full_like(digits, NO_DIGIT)
        split_images = index[name]
        for digit in range(len(NAMES)):
            where = digits == digit
            of_digit = split_images[digit_of_image[split_images] == digit]
            chosen[where] = of_digit[torch.randint(len(of_digit), (int(where.sum()),), generator=generator)]
        return self._batch(compose(images, chosen, self.width), digits)

    def _batch(self, source: Tensor, digits: Tensor) -> dict[str, Tensor]:
        captions = [caption_of(row) for row in digits.tolist()]
        decoder_input, target = teacher_forcing(self.vocab.target, captions)
        return {"source": source, "decoder_input": decoder_input, "target": target, "digits": digits}
