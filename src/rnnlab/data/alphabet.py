"""Characters as ids, for character-level models: the language model, and the captioning/translation decoders.

An alphabet is a plain list of symbols, so it travels inside checkpoints that load with
``torch.load(weights_only=True)``. Decoder alphabets start with two markers, ``START`` (fed before the first
character) and ``END`` (generated after the last), at ids 0 and 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnlab.data.batches import IGNORE
from rnnlab.errors import DataError

START, END = "<s>", "</s>"
START_ID, END_ID = 0, 1  # their ids in a decoder alphabet


@dataclass
class Alphabet:
    symbols: list[str]

    @classmethod
    def of(cls, texts: Iterable[str], markers: bool = False) -> Alphabet:
        """The sorted characters of ``texts``, after the START/END markers when ``markers``."""
        chars = sorted(set().union(*map(set, texts)))
        return cls([START, END, *chars] if markers else chars)

    @classmethod
    def from_dict(cls, data: dict) -> Alphabet:
        return cls(list(data["symbols"]))

    def to_dict(self) -> dict[str, list[str]]:
        return {"symbols": list(self.symbols)}

    def __post_init__(self) -> None:
        self._index = {s: i for i, s in enumerate(self.symbols)}

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def chars(self) -> str:
        """The characters a text may hold (markers excluded)."""
        return "".join(s for s in self.symbols if s not in (START, END))

    def id(self, symbol: str) -> int:
        return self._index[symbol]

    def encode(self, text: str, where: str = "text") -> Tensor:
        """int64 ids of ``text``'s characters; a character outside the alphabet is a :class:`DataError` that
        says where it is (``where``: a file name or what the text is)."""
        try:
            return torch.tensor([self._index[c] for c in text], dtype=torch.long)
        except KeyError:
            position = next(i for i, c in enumerate(text) if c not in self._index)
            line = text.count("\n", 0, position) + 1
            raise DataError(
                f"{where}:{line}: character {text[position]!r} is not in the model's alphabet {self.chars!r}"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``, stopping at END; START markers are dropped."""
        out = []
        for i in ids:
            symbol = self.symbols[i]
            if symbol == END:
                break
            if symbol != START:
                out.append(symbol)
        return "".join(out)


@dataclass
class Alphabets:
    """A generator's symbols: what its decoder writes (``target``, with markers) and, for text sources, what
    its encoder reads (``source``; None for images)."""

    target: Alphabet
    source: Alphabet | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Alphabets:
        source = data.get("source")
        return cls(Alphabet.from_dict(data["target"]), Alphabet.from_dict(source) if source else None)

    def to_dict(self) -> dict:
        return {"target": self.target.to_dict(), "source": self.source.to_dict() if self.source else None}

    def source_texts(self, source: Tensor, lengths: Tensor) -> list[str]:
        """The text of each source of a batch (N, T), up to its length."""
        return [self.source.decode(ids[:n]) for ids, n in zip(source.tolist(), lengths.tolist(), strict=True)]

    def target_texts(self, target: Tensor) -> list[str]:
        """The text of each target of a batch (N, T), up to its END (the padding after it reads as END)."""
        return [self.target.decode(ids) for ids in target.clamp(min=END_ID).tolist()]


def pad_ids(rows: list[Tensor], value: int, width: int | None = None) -> Tensor:
    """(len(rows), width) int64: the rows right-padded with ``value`` (width: the longest row by default)."""
    width = width or max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def teacher_forcing(alphabet: Alphabet, texts: list[str], where: str = "target") -> tuple[Tensor, Tensor]:
    """(decoder_input, target), each (N, longest + 1): START + text, and text + END with IGNORE after it."""
    encoded = [alphabet.encode(text, where) for text in texts]
    start, end = torch.tensor([START_ID]), torch.tensor([END_ID])
    decoder_input = pad_ids([torch.cat([start, ids]) for ids in encoded], END_ID)
    target = pad_ids([torch.cat([ids, end]) for ids in encoded], IGNORE)
    return decoder_input, target
