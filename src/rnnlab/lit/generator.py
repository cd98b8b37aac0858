"""The LightningModule of captioning (one-to-many) and translation (unaligned many-to-many).

Batches are dicts: ``source`` (an image (N, ...) or symbol ids (N, S) with ``source_lengths``),
``decoder_input`` (N, T): START then the target's symbols, and ``target`` (N, T): the symbols then END, IGNORE
where padded. Training minimises the cross-entropy of each next symbol given the true previous ones (teacher
forcing). Validation and test also decode greedily from the source alone, as at inference, and score that:

- ``loss``, ``char_acc`` (teacher-forced next-symbol accuracy; the only metrics in training);
- ``exact``: the share of generated outputs equal to their target, END included;
- ``gen_char_acc``: the share of target positions the generated output gets right.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric

from rnnlab.analysis.captions import caption_grid
from rnnlab.data.alphabet import END_ID, START_ID, Alphabets
from rnnlab.data.batches import IGNORE
from rnnlab.lit.classifier import STAGES, RecurrentModule, masked_cross_entropy
from rnnlab.models.generators import ConditionalGenerator


class GenerationMetrics(nn.Module):
    """``generated``: the stage decodes (val, test), so ``exact`` and ``gen_char_acc`` are computed too."""

    def __init__(self, generated: bool = True) -> None:
        super().__init__()
        self.generated = generated
        self.loss, self.char_acc, self.exact, self.gen_char_acc = (MeanMetric() for _ in range(4))

    def update(self, loss: Tensor, logits: Tensor, target: Tensor, generated: Tensor | None) -> None:
        valid = target != IGNORE
        self.loss.update(loss.detach(), weight=valid.sum())
        self.char_acc.update((logits.detach().argmax(-1) == target)[valid].float())
        if generated is not None:
            self.gen_char_acc.update((generated == target)[valid].float())
            # Positions past END must be END too (generate() pads with it), so "sevenn" ≠ "seven".
            self.exact.update((generated == target.masked_fill(~valid, END_ID)).all(1).float())

    def compute(self) -> dict[str, Tensor]:
        values = {"loss": self.loss.compute(), "char_acc": self.char_acc.compute()}
        if self.generated:
            values |= {"exact": self.exact.compute(), "gen_char_acc": self.gen_char_acc.compute()}
        return values

    def reset(self) -> None:
        for metric in self.children():
            metric.reset()


class SequenceGenerator(RecurrentModule):
    def __init__(
        self,
        net: ConditionalGenerator,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        config: dict | None = None,
        vocab: dict | None = None,
        monitor: str = "val/exact",
    ) -> None:
        """``vocab``: ``{"target": alphabet dict, "source": alphabet dict or None (images)}``."""
        super().__init__(net, optimizer, scheduler, config, vocab, monitor)
        self.train_metrics, self.val_metrics, self.test_metrics = (GenerationMetrics(s != "train") for s in STAGES)
        self.best.update({"exact": MaxMetric()})

    def forward(self, source: Tensor, decoder_input: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.net(source, decoder_input, lengths)

    def generate(self, source: Tensor, steps: int, lengths: Tensor | None = None, **sampling) -> Tensor:
        return self.net.generate(source, start=START_ID, end=END_ID, steps=steps, lengths=lengths, **sampling)

    def step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        source, lengths, target = batch["source"], batch.get("source_lengths"), batch["target"]
        logits = self(source, batch["decoder_input"], lengths)
        loss = masked_cross_entropy(logits, target)
        generated = None if stage == "train" else self.generate(source, target.size(1), lengths)
        getattr(self, f"{stage}_metrics").update(loss, logits, target, generated)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "test")

    @property
    def alphabets(self) -> Alphabets:
        return Alphabets.from_dict(self.hparams.vocab)

    @torch.no_grad()
    def samples(self, datamodule, stage: str, n: int) -> tuple[str, Figure | None]:
        """The first ``n`` examples of ``stage`` decoded greedily: a markdown list (and, for images, a grid)."""
        batch = {k: v[:n].to(self.device) for k, v in datamodule.split(stage).items()}
        alphabets, target = self.alphabets, batch["target"]
        was_training = self.training
        self.eval()
        generated = self.generate(batch["source"], target.size(1), batch.get("source_lengths")).tolist()
        self.train(was_training)
        written = [alphabets.target.decode(ids) for ids in generated]
        truths = [alphabets.target.decode(ids) for ids in target.clamp(min=END_ID).tolist()]
        if alphabets.source is not None:
            lengths = batch["source_lengths"].tolist()
            sources = [
                alphabets.source.decode(ids[:n]) for ids, n in zip(batch["source"].tolist(), lengths, strict=True)
            ]
        else:
            sources = [f"image {i}" for i in range(len(written))]
        lines = [
            f"- `{source}` → `{out}`" + ("" if out == truth else f" ✗ (expected `{truth}`)")
            for source, out, truth in zip(sources, written, truths, strict=True)
        ]
        figure = caption_grid(batch["source"], written, truths) if alphabets.source is None else None
        return "\n".join(lines), figure
