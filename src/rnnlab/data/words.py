"""Words as model input: vocabularies built from training data only, and the id features of each word.

A word becomes one row of ids, ``[word, shape, char_1 … char_C]``:

- ``word``: the lower-cased form's id in the training vocabulary (``UNK`` for unseen words);
- ``shape``: capitalisation/digit class (``shape_id``), which lower-casing removes;
- ``char_i``: the form's characters (case kept), so a character RNN can read suffixes, prefixes and shape of
  words never seen in training. Words longer than C keep their first and last C/2 characters.

Vocabularies are plain lists of strings and ints, so they travel inside checkpoints that load with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from rnnlab.errors import DataError

PAD, UNK = 0, 1  # ids shared by the word and character vocabularies
RESERVED = ["<pad>", "<unk>"]
NUM_SHAPES = 7  # 0 is padding


def shape_id(word: str) -> int:
    """1 lower-case or caseless · 2 Capitalised · 3 ALL-CAPS · 4 has a digit · 5 no letter or digit · 6 other.

    Scripts without case (Devanagari, Arabic, Chinese, …) have no capitals to show: their words are class 1, as
    "not capitalised", rather than 6 with mixed-case words such as "iPhone"."""
    if any(c.isdigit() for c in word):
        return 4
    if not any(c.isalpha() for c in word):
        return 5
    if word.islower() or not any(c.isupper() or c.istitle() for c in word):
        return 1
    if word.isupper():
        return 3 if len(word) > 1 else 2
    if word[0].isupper() and word[1:].islower():
        return 2
    return 6


@dataclass
class Vocabulary:
    """Words (lower-cased) with their training counts, characters, and the label set, from training data."""

    words: list[str]
    word_counts: list[int]
    chars: list[str]
    labels: list[str]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], labels: Iterable[str]) -> Vocabulary:
        forms = Counter(word for words in sentences for word in words)
        counts = Counter()
        for form, count in forms.items():
            counts[form.lower()] += count
        chars = sorted({char for form in forms for char in form})
        words = sorted(counts)
        return cls(
            words=[*RESERVED, *words],
            word_counts=[0, 0, *(counts[w] for w in words)],
            chars=[*RESERVED, *chars],
            labels=sorted(set(labels)),
        )

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(**{key: list(data[key]) for key in ("words", "word_counts", "chars", "labels")})

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    def __post_init__(self) -> None:
        self._word_index = {w: i for i, w in enumerate(self.words)}
        self._char_index = {c: i for i, c in enumerate(self.chars)}
        self._label_index = {label: i for i, label in enumerate(self.labels)}
        self._rows: dict[tuple[str, int], list[int]] = {}  # encode_words' cache: corpora repeat their words

    def encode_words(self, words: Sequence[str], max_chars: int) -> Tensor:
        """(len(words), 2 + max_chars) int64 ids; see the module's docstring for the columns."""
        return torch.tensor([self._word_row(word, max_chars) for word in words], dtype=torch.long).view(
            -1, 2 + max_chars
        )

    def _word_row(self, word: str, max_chars: int) -> list[int]:
        row = self._rows.get((word, max_chars))
        if row is None:
            half = max_chars // 2
            chars = word if len(word) <= max_chars else word[:half] + word[len(word) - (max_chars - half) :]
            row = [
                self._word_index.get(word.lower(), UNK),
                shape_id(word),
                *(self._char_index.get(c, UNK) for c in chars),
            ]
            row += [PAD] * (2 + max_chars - len(row))
            self._rows[(word, max_chars)] = row
        return row

    def encode_labels_with_unseen(self, labels: Sequence[str]) -> tuple[Tensor, list[str]]:
        """Label ids for scoring a file that may hold labels the training data never had (a treebank's rare tags):
        those unseen labels, sorted, get the ids after the known ones, ``len(self.labels) + i``. No output of a
        model over ``self.labels`` takes such an id, so every word that carries one counts as an error. Returns the
        ids and the unseen labels."""
        unseen = sorted(set(labels) - self._label_index.keys())
        index = self._label_index | {label: len(self.labels) + i for i, label in enumerate(unseen)}
        return torch.tensor([index[label] for label in labels], dtype=torch.long), unseen

    def encode_labels(self, labels: Sequence[str], locate: Callable[[int], str]) -> Tensor:
        """Label ids; a label the training data never had is an error naming where it occurs
        (``locate(i)`` says where ``labels[i]`` came from, e.g. ``"dev.conllu:17"``)."""
        ids, unseen = self.encode_labels_with_unseen(labels)
        if unseen:
            i = next(i for i, label in enumerate(labels) if label not in self._label_index)
            raise DataError(
                f"{locate(i)}: label {labels[i]!r} is not in the training label set ({', '.join(self.labels)})"
            )
        return ids
