"""What a classifier of generated sequences (the bit problems, the long-range cue) predicts for a few validation
examples: inputs, targets and predictions as TensorBoard text."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor

from rnnlab.callbacks.writers import tensorboard_writers
from rnnlab.data.in_memory import InMemoryDataModule
from rnnlab.lit import SequenceClassifier
from rnnlab.lit.data import task_data
from rnnlab.models.modes import evaluating

PADDED = "·"


def _digits(values: Tensor, valid: Tensor | None = None) -> str:
    values = values.reshape(-1).round().long().tolist()
    valid = [True] * len(values) if valid is None else valid.reshape(-1).tolist()
    separator = "" if all(0 <= v <= 9 for v, ok in zip(values, valid, strict=True) if ok) else " "
    return separator.join(str(v) if ok else PADDED for v, ok in zip(values, valid, strict=True))


def describe_input(x: Tensor) -> str:
    """One input (T, I): a bit stream (I = 1) or one vector (T = 1) as its digits, one-hot steps as the index of
    each step's 1; padding (−1) as "·"."""
    if x.size(-1) == 1 or x.size(0) == 1:
        return _digits(x, x.reshape(-1) >= 0)
    return _digits(x.argmax(-1).float())


class BitSamples(L.Callback):
    """After each validation, TensorBoard gets ``val/samples``: the first ``n`` validation examples as
    "`input` → target `…`, predicted `…`" with ✓ or ✗ (padding shown as "·"). For classifiers of numeric
    inputs held in memory; the word tasks get theirs from ClassReport, the generators from GeneratedSamples."""

    def __init__(self, n: int = 4) -> None:
        self.n = n

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        net, datamodule = getattr(pl_module, "net", None), task_data(trainer)
        if trainer.sanity_checking or not isinstance(pl_module, SequenceClassifier) or net.encoder is not None:
            return
        if not isinstance(datamodule, InMemoryDataModule) or not (writers := tensorboard_writers(trainer)):
            return
        split = datamodule.split("val")
        if not isinstance(split, dict):
            return
        text = "\n\n".join(self.lines(pl_module, {key: value[: self.n] for key, value in split.items()}))
        for writer in writers:
            writer.add_text("val/samples", text, trainer.global_step)

    @staticmethod
    @torch.no_grad()
    def lines(pl_module: L.LightningModule, batch: dict[str, Tensor]) -> list[str]:
        with evaluating(pl_module):
            predicted = pl_module.net(batch["input"].to(pl_module.device), batch.get("lengths")).argmax(-1).cpu()
        mask = batch.get("mask")
        lines = []
        for i, (x, target, guess) in enumerate(zip(batch["input"], batch["target"], predicted, strict=True)):
            valid = None if mask is None else mask[i]
            right = guess == target if valid is None else (guess == target) | ~valid.bool()
            mark = "✓" if bool(right.all()) else "✗"
            lines.append(
                f"`{describe_input(x)}` → target `{_digits(target, valid)}`, predicted `{_digits(guess, valid)}` {mark}"
            )
        return lines
