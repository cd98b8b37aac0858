"""POS tagging data (many-to-many aligned): CoNLL-U files → batches of word ids with one tag id per word."""

from __future__ import annotations

from pathlib import Path

import torch

from rnnlab.data.batches import IGNORE, RaggedBatches
from rnnlab.data.conllu_reader import TAG_SETS, TaggedSentence, read_conllu
from rnnlab.data.download import ensure_file
from rnnlab.data.word_data import WordDataModule
from rnnlab.data.words import Vocabulary
from rnnlab.errors import DataError

FILE_KEYS = {"train": "train_file", "val": "dev_file", "test": "test_file"}


class TaggingDataModule(WordDataModule):
    """Train/dev/test CoNLL-U files (any UD treebank); ``tag_set`` upos or xpos.

    ``download`` (``base_url`` and a ``sha256`` per file name) fetches listed files that are missing.
    """

    def __init__(
        self,
        train_file: str,
        dev_file: str,
        test_file: str | None = None,
        tag_set: str = "upos",
        download: dict | None = None,
        max_words: int = 300,
        **kwargs,
    ) -> None:
        """``max_words``: longer sentences are an error naming where they start (a runaway "sentence" is usually a
        file without blank lines between sentences)."""
        super().__init__(**kwargs)
        if tag_set not in TAG_SETS:
            raise DataError(f"task.data.tag_set={tag_set!r} is not one of {', '.join(TAG_SETS)}")
        self.files = {"train": train_file, "val": dev_file, "test": test_file}
        self.tag_set, self.download, self.max_words = tag_set, download, max_words
        self._sentences: dict[str, list[TaggedSentence]] = {}

    def has_split(self, name: str) -> bool:
        """Whether ``name``'s file is configured and present (the EWT test file usually is not)."""
        return name in self.files and self.files[name] is not None and Path(self.files[name]).is_file()

    def sentences(self, name: str) -> list[TaggedSentence]:
        if name not in self._sentences:
            key = f"task.data.{FILE_KEYS[name]}"
            if self.files[name] is None:
                raise DataError(f"{key} is not set; pass a CoNLL-U file, e.g. {key}=path/to/file.conllu")
            path = ensure_file(self.files[name], key, self.download)
            sentences = read_conllu(path, self.tag_set)
            for sentence in sentences:
                if len(sentence.words) > self.max_words:
                    raise DataError(
                        f"{path}:{sentence.lines[0]}: sentence of {len(sentence.words)} words is longer than "
                        f"task.data.max_words={self.max_words}; raise the limit or split the sentence"
                    )
            self._sentences[name] = sentences
        return self._sentences[name]

    def examples(self, name: str, n: int) -> list[tuple[list[str], list[str]]]:
        """The first ``n`` sentences of a split as (words, tags)."""
        return [(list(s.words), list(s.tags)) for s in self.sentences(name)[:n]]

    def build_vocab(self) -> Vocabulary:
        train = self.sentences("train")
        return Vocabulary.build((s.words for s in train), (tag for s in train for tag in s.tags))

    def generate(self, name: str) -> RaggedBatches:
        sentences, vocab = self.sentences(name), self.vocab
        words = [word for s in sentences for word in s.words]
        tags = [tag for s in sentences for tag in s.tags]
        lines = [line for s in sentences for line in s.lines]
        path = self.files[name]
        ids = vocab.encode_words(words, self.max_word_chars)
        target = vocab.encode_labels(tags, lambda i: f"{path}:{lines[i]}")
        lengths = [len(s.words) for s in sentences]
        return RaggedBatches({"input": ids, "target": target}, torch.tensor(lengths), pad_values={"target": IGNORE})
