"""A task's examples as JSON lines, so a learner sees exactly what a task asks: the tensors of the bit, cue and
adding problems, the text of captions and translations, words with their gold tags or label, and stretches of
text for a character LM."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from omegaconf import DictConfig
from torch import Tensor

from rnnlab.data.digit_captions import NO_DIGIT
from rnnlab.errors import ConfigError
from rnnlab.run.datamodule import build_datamodule


def _plain(value: Tensor) -> list | int | float:
    """Drop singleton axes (T = 1 or one bit per step) so a stream reads as a flat list of bits."""
    value = value.squeeze()
    if value.dtype.is_floating_point and bool((value == value.round()).all()):
        value = value.long()
    return value.tolist()


def _tensor_records(data: dict[str, Tensor], n: int) -> list[dict]:
    keys = [k for k in ("input", "target", "mask") if k in data]
    return [{k: _plain(data[k][i]) for k in keys} for i in range(min(n, len(data["target"])))]


def _word_records(datamodule, split: str, n: int) -> list[dict]:
    return [
        {"words": words, "tags" if isinstance(gold, list) else "label": gold}
        for words, gold in datamodule.examples(split, n)
    ]


def _text_records(datamodule, split: str, n: int) -> list[dict]:
    """The split's first ``n`` windows of characters, each with its target: the same text one character on."""
    text, window = datamodule.vocab.decode(datamodule.split_ids(split).tolist()), datamodule.window
    starts = range(0, min(n * window, len(text) - 1), window)
    return [{"input": text[i : i + window], "target": text[i + 1 : i + window + 1]} for i in starts]


def _generator_records(datamodule, data: dict[str, Tensor], n: int) -> list[dict]:
    """A generator's examples as text: the source (the dates' text, or the digits an image shows) and the
    caption or translation the decoder is taught to write."""
    alphabets, first = datamodule.vocab, {key: value[:n] for key, value in data.items()}
    if alphabets.source is not None:
        sources = alphabets.source_texts(first["source"], first["source_lengths"])
    else:
        sources = [[d for d in digits if d != NO_DIGIT] for digits in first["digits"].tolist()]
    targets = alphabets.target_texts(first["target"])
    return [{"source": source, "target": target} for source, target in zip(sources, targets, strict=True)]


def example_records(cfg: DictConfig) -> list[dict]:
    if cfg.n < 0:
        raise ConfigError(f"n={cfg.n} must be zero or more")
    datamodule = build_datamodule(cfg)
    if not datamodule.has_split(cfg.split):
        raise ConfigError(f"split={cfg.split}: this task's data has no {cfg.split} split (no file configured or found)")
    if hasattr(datamodule, "examples"):
        return _word_records(datamodule, cfg.split, cfg.n)
    if hasattr(datamodule, "split_ids"):
        return _text_records(datamodule, cfg.split, cfg.n)
    data = datamodule.split(cfg.split)
    if "decoder_input" in data:
        return _generator_records(datamodule, data, cfg.n)
    return _tensor_records(data, cfg.n)


def print_examples(cfg: DictConfig, out: TextIO = sys.stdout) -> None:
    for record in example_records(cfg):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
