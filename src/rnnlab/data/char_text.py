"""A text as contiguous character streams, for language models trained with truncated BPTT.

The text (a file, or a literal such as the lecture's "hello") becomes ids over its own alphabet. Each split is
a contiguous stretch of it (train, then val, then test, by position), laid out as B parallel streams
(``batchify``): stream b holds characters ``[b·L, (b+1)·L)`` of the split, and the target of each character is
the next one. A batch is the next ``window`` characters of every stream, in order, so the hidden state left by
one batch is the right state to start the next; the model carries it across batches and resets it when an
epoch starts again at the beginning. Data are read once and kept in memory; no workers, no shuffling.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset

from rnnlab.data.alphabet import Alphabet
from rnnlab.data.batches import ResumableLoader, batch_sampler
from rnnlab.data.splits import SPLITS
from rnnlab.data.text_files import read_text
from rnnlab.errors import ConfigError, DataError


def batchify(ids: Tensor, streams: int) -> tuple[Tensor, Tensor]:
    """(inputs, targets), each (streams, L) with L = (len(ids) − 1) // streams: B contiguous streams, the
    targets shifted one character ahead. The few characters that do not fill a stream are dropped."""
    length = (len(ids) - 1) // streams
    used = streams * length
    return ids[:used].view(streams, length), ids[1 : used + 1].view(streams, length)


class StreamWindows(Dataset):
    """Batch j: the characters ``[j·window, (j+1)·window)`` of every stream (the last batch may be shorter)."""

    def __init__(self, inputs: Tensor, targets: Tensor, window: int) -> None:
        self.inputs, self.targets, self.window = inputs, targets, window

    def __len__(self) -> int:
        return -(-self.inputs.size(1) // self.window)

    def __getitem__(self, j: int | Tensor) -> dict[str, Tensor]:
        j = int(j)  # the sampler hands out one-element index tensors
        if not 0 <= j < len(self):
            raise IndexError(j)
        cut = slice(j * self.window, (j + 1) * self.window)
        return {"input": self.inputs[:, cut], "target": self.targets[:, cut]}


class CharTextDataModule:
    """A plain class with Lightning's data hooks, like :class:`~rnnlab.data.in_memory.InMemoryDataModule`."""

    def __init__(
        self,
        text: str | None = None,
        path: str | None = None,
        fractions: list[float] | None = (0.9, 0.05, 0.05),
        batch_size: int = 32,
        eval_batch_size: int = 32,
        window: int = 100,
        vocab: dict | None = None,
    ) -> None:
        """Read ``path`` (UTF-8), cut by position into ``fractions`` (train, val, test; null: every split reads
        the whole text). Without a path, the literal ``text`` (the lecture's "hello") is a memorising demo: one
        stream, and every split reads it whole.
        ``batch_size``/``eval_batch_size``: streams per batch; ``window``: characters per stream per batch.
        ``vocab``: a checkpoint's alphabet (otherwise the text's own)."""
        if path is None and not text:
            raise ConfigError("task.data needs a path (a UTF-8 text file) or a literal text, e.g. task.data.text=hello")
        if path is not None:
            self.where, self.text = str(path), read_text(path)
        else:
            self.where, self.text = "task.data.text", str(text)
            fractions, batch_size, eval_batch_size = None, 1, 1
        self.fractions, self.window = fractions, window
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.vocab = Alphabet.from_dict(vocab) if vocab is not None else Alphabet.of([self.text])
        self._ids: Tensor | None = None

    def has_split(self, name: str) -> bool:
        return name in SPLITS

    def split_ids(self, name: str) -> Tensor:
        """The ids of one split's stretch of the text."""
        if self._ids is None:
            self._ids = self.vocab.encode(self.text, self.where)
        if self.fractions is None:
            return self._ids
        n = len(self._ids)
        bounds = torch.tensor([0.0, *self.fractions]).cumsum(0).mul(n).round().long().tolist()
        i = SPLITS.index(name)
        return self._ids[bounds[i] : bounds[i + 1]]

    def streams(self, name: str) -> tuple[Tensor, Tensor]:
        streams = self.batch_size if name == "train" else self.eval_batch_size
        ids = self.split_ids(name)
        if len(ids) - 1 < streams:
            key = "batch_size" if name == "train" else "eval_batch_size"
            raise DataError(
                f"{self.where}: the {name} split holds {len(ids)} characters, too few for {streams} streams "
                f"(one batch needs at least {streams + 1}); lower task.data.{key} or use a longer text"
            )
        return batchify(ids, streams)

    def loader(self, name: str) -> ResumableLoader:
        # Each item already is a whole batch; in order, so streams continue across batches.
        windows = StreamWindows(*self.streams(name), self.window)
        return ResumableLoader(windows, batch_sampler(len(windows), batch_size=1, shuffle=False))

    def setup(self, stage: str | None = None) -> None:
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, SPLITS)
        for name in needed:
            self.streams(name)  # fail before training, not after the first epoch

    def train_dataloader(self, shuffle: bool = True) -> ResumableLoader:
        # Never shuffled: the streams must continue across batches.
        return self.loader("train")

    def val_dataloader(self) -> ResumableLoader:
        return self.loader("val")

    def test_dataloader(self) -> ResumableLoader:
        return self.loader("test")
