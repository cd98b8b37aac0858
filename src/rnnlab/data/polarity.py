"""Sentence classification data (many-to-one): one text file of sentences per label, e.g. the Pang & Lee
sentence polarity corpus (``rt-polarity.pos`` / ``rt-polarity.neg``, one pre-tokenised sentence per line).

There is no official split: each label's sentences are shuffled by ``split_seed`` and cut into train/val/test
shares (stratified, so every split keeps the corpus's label balance). The split depends on ``split_seed`` alone,
not on the training seed, so a seed sweep evaluates every run on the same test sentences.
"""

from __future__ import annotations

import torch

from rnnlab.data.batches import RaggedBatches
from rnnlab.data.splits import SPLITS
from rnnlab.data.text_files import read_text
from rnnlab.data.word_data import WordDataModule
from rnnlab.data.words import Vocabulary
from rnnlab.errors import ConfigError, DataError


class SentenceDataModule(WordDataModule):
    """``files`` maps each label to its file (one sentence per line, words separated by whitespace)."""

    def __init__(
        self,
        files: dict[str, str],
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
        split_seed: int = 0,
        max_words: int = 200,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if len(files) < 2:
            raise ConfigError(f"task.data.files needs a file for each of at least two labels, got {dict(files)}")
        self.files, self.fractions, self.split_seed, self.max_words = (
            dict(files),
            tuple(fractions),
            split_seed,
            max_words,
        )
        self._examples: dict[str, list[tuple[list[str], str]]] | None = None

    def read(self) -> dict[str, list[tuple[list[str], str]]]:
        """Every split as (words, label) pairs."""
        if self._examples is None:
            self._examples = {name: [] for name in SPLITS}
            for label, path in self.files.items():
                sentences = self._read_file(path, f"task.data.files.{label}")
                order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(self.split_seed))
                cuts = [round(len(sentences) * share) for share in self.fractions[:2]]
                bounds = {"train": (0, cuts[0]), "val": (cuts[0], cuts[0] + cuts[1]), "test": (cuts[0] + cuts[1], None)}
                for name, (start, stop) in bounds.items():
                    self._examples[name] += [(sentences[i], label) for i in order[start:stop].tolist()]
        return self._examples

    def _read_file(self, path: str, key: str) -> list[list[str]]:
        sentences = []
        for number, line in enumerate(read_text(path, f"{key} file").splitlines(), start=1):
            words = line.split()
            if not words:
                continue
            if len(words) > self.max_words:
                raise DataError(
                    f"{path}:{number}: sentence of {len(words)} words is longer than task.data.max_words="
                    f"{self.max_words}; raise the limit or shorten the line"
                )
            sentences.append(words)
        return sentences

    def examples(self, name: str, n: int) -> list[tuple[list[str], str]]:
        return self.read()[name][:n]

    def build_vocab(self) -> Vocabulary:
        train = self.read()["train"]
        return Vocabulary.build((words for words, _ in train), (label for _, label in train))

    def generate(self, name: str) -> RaggedBatches:
        examples, vocab = self.read()[name], self.vocab
        ids = vocab.encode_words([word for words, _ in examples for word in words], self.max_word_chars)
        labels = [label for _, label in examples]
        target = vocab.encode_labels(labels, lambda i: f"task.data.files.{labels[i]}")
        lengths = torch.tensor([len(words) for words, _ in examples])
        return RaggedBatches({"input": ids}, lengths, sequences={"target": target})
