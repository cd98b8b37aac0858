"""POS tagging data (many-to-many aligned): CoNLL-U files → batches of word ids with one tag id per word.

Each split is one CoNLL-U file or a list of them, read in order and concatenated (EWT + GUM, or a treebank with
extra data of its own). The words' vocabulary comes from the training files only.

The label set is the model's output layer. With ``tag_set=upos`` it is the 17 universal tags of the UD
specification, whatever the training files hold, so a tag that a small training split lacks (SYM, X, INTJ) still
has an output. With ``tag_set=xpos`` it is the training files' tags: a dev or test tag the training files never
had cannot be predicted, so each of its words counts as an error. Such tags are numbered after the label set
(:meth:`Vocabulary.encode_labels_with_unseen`), reported once per split with their count and first ``file:line``,
and scored as classes of their own (:meth:`TaggingDataModule.split_labels`).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import torch

from rnnlab.data.batches import IGNORE, RaggedBatches
from rnnlab.data.conllu_reader import TAG_SETS, UPOS_TAGS, TaggedSentence, read_conllu
from rnnlab.data.download import ensure_file
from rnnlab.data.word_data import WordDataModule
from rnnlab.data.words import Vocabulary
from rnnlab.errors import DataError

log = logging.getLogger("rnnlab")

FILE_KEYS = {"train": "train_file", "val": "dev_file", "test": "test_file"}


def file_list(files: str | Path | list | tuple | None) -> list[str]:
    """One file or a list of files (``task.data.train_file=[a.conllu,b.conllu]``) as a list; None as none."""
    if files is None:
        return []
    return [str(f) for f in files] if isinstance(files, list | tuple) else [str(files)]


class TaggingDataModule(WordDataModule):
    """Train/dev/test CoNLL-U files (any UD treebank; each a path or a list of paths); ``tag_set`` upos or xpos.

    ``download`` (``base_url`` and a ``sha256`` per file name) fetches listed files that are missing.
    """

    def __init__(
        self,
        train_file: str | list[str],
        dev_file: str | list[str],
        test_file: str | list[str] | None = None,
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
        self.files = {"train": file_list(train_file), "val": file_list(dev_file), "test": file_list(test_file)}
        self.tag_set, self.download, self.max_words = tag_set, download, max_words
        self._sentences: dict[str, list[TaggedSentence]] = {}
        # Per split: the tags its files hold beyond the label set, in the order of their ids after it.
        self._unseen: dict[str, list[str]] = {}

    def has_split(self, name: str) -> bool:
        """Whether ``name`` has a file configured that is present or that ``download`` fetches when it is read (the
        EWT test file is neither, usually). With a list, one such file is enough: reading the split then names any
        missing one."""
        fetched = (self.download or {}).get("sha256") or {}
        return any(Path(path).is_file() or fetched.get(Path(path).name) for path in self.files.get(name, []))

    def sentences(self, name: str) -> list[TaggedSentence]:
        """Every sentence of a split's files, in order."""
        if name not in self._sentences:
            key = f"task.data.{FILE_KEYS[name]}"
            if not self.files[name]:
                raise DataError(f"{key} is not set; pass a CoNLL-U file, e.g. {key}=path/to/file.conllu")
            sentences = []
            for path in self.files[name]:
                sentences += read_conllu(ensure_file(path, key, self.download), self.tag_set)
            for sentence in sentences:
                if len(sentence.words) > self.max_words:
                    raise DataError(
                        f"{sentence.location(0)}: sentence of {len(sentence.words)} words is longer than "
                        f"task.data.max_words={self.max_words}; raise the limit or split the sentence"
                    )
            self._sentences[name] = sentences
        return self._sentences[name]

    def examples(self, name: str, n: int) -> list[tuple[list[str], list[str]]]:
        """The first ``n`` sentences of a split as (words, tags)."""
        return [(list(s.words), list(s.tags)) for s in self.sentences(name)[:n]]

    def build_vocab(self) -> Vocabulary:
        train = self.sentences("train")
        labels = UPOS_TAGS if self.tag_set == "upos" else (tag for s in train for tag in s.tags)
        return Vocabulary.build((s.words for s in train), labels)

    def split_labels(self, name: str) -> list[str]:
        """The classes a split is scored on: the label set, then the split's tags beyond it (ids in that order)."""
        self.split(name)
        return [*self.vocab.labels, *self._unseen.get(name, [])]

    def generate(self, name: str) -> RaggedBatches:
        sentences, vocab = self.sentences(name), self.vocab
        words = [word for s in sentences for word in s.words]
        tags = [tag for s in sentences for tag in s.tags]
        ids = vocab.encode_words(words, self.max_word_chars)
        target, unseen = vocab.encode_labels_with_unseen(tags)
        self._unseen[name] = unseen
        if unseen:
            self._report_unseen(name, sentences, set(unseen), len(tags))
        lengths = [len(s.words) for s in sentences]
        return RaggedBatches({"input": ids, "target": target}, torch.tensor(lengths), pad_values={"target": IGNORE})

    def _report_unseen(self, name: str, sentences: list[TaggedSentence], unseen: set[str], total: int) -> None:
        """One warning per split: each tag beyond the label set, its count and where it first occurs."""
        counts, first = Counter(), {}
        for sentence in sentences:
            for i, tag in enumerate(sentence.tags):
                if tag in unseen:
                    counts[tag] += 1
                    first.setdefault(tag, sentence.location(i))
        listed = ", ".join(f"{tag} ×{counts[tag]} (first at {first[tag]})" for tag in sorted(counts))
        log.warning(
            "task.data.%s: %d of %d words have %s tags outside the model's label set (never in the training "
            "files); no output can predict them, so they count as errors in acc and f1: %s",
            FILE_KEYS[name],
            sum(counts.values()),
            total,
            self.tag_set.upper(),
            listed,
        )
