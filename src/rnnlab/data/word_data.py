"""The data module shared by word-level tasks: files per split, a vocabulary from train only."""

from __future__ import annotations

from typing import Any

from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.data.words import Vocabulary


class WordDataModule(InMemoryDataModule):
    """Subclasses build the vocabulary from their training split (:meth:`build_vocab`), encode a split
    (:meth:`generate`) and show raw examples (:meth:`examples`, read by the class-report callback).

    ``vocab`` (a :meth:`Vocabulary.to_dict`) replaces the one built from the training data: evaluation and
    prediction pass the checkpoint's, so they need no training file and see exactly the training ids.
    """

    def __init__(
        self,
        max_word_chars: int = 16,
        vocab: dict | None = None,
        **loader: Any,
    ) -> None:
        super().__init__(**{"eval_batch_size": 256, **loader})
        self.max_word_chars = max_word_chars
        self._vocab = Vocabulary.from_dict(vocab) if vocab else None

    def build_vocab(self) -> Vocabulary:
        raise NotImplementedError

    def examples(self, name: str, n: int) -> list[tuple[list[str], list[str] | str]]:
        """The first ``n`` examples of a split as (words, gold labels per word or one label)."""
        raise NotImplementedError

    def split_labels(self, name: str) -> list[str]:
        """The classes split ``name`` is scored on, by id: the vocabulary's labels (the model's outputs), then any
        label the split holds beyond them (tagging: a tag the training files never had)."""
        return list(self.vocab.labels)

    @property
    def vocab(self) -> Vocabulary:
        if self._vocab is None:
            self._vocab = self.build_vocab()
        return self._vocab
